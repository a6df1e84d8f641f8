//! ListNamespaces.

use berth_control::{Caller, Control};
use berth_model::discovery::DiscoveryError;

use super::{decode, reply};

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, DiscoveryError> {
    reply(&control.list_namespaces(caller, decode(body)?)?)
}
