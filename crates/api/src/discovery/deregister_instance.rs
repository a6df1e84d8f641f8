//! DeregisterInstance.

use berth_control::{Caller, Control};
use berth_model::discovery::DiscoveryError;

use super::{decode, reply};

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, DiscoveryError> {
    reply(&control.deregister_instance(caller, decode(body)?).await?)
}
