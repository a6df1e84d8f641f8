//! UpdateInstanceCustomHealthStatus.

use berth_control::{Caller, Control};
use berth_model::discovery::DiscoveryError;

use super::{decode, reply};

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, DiscoveryError> {
    reply(&control.update_instance_custom_health_status(caller, decode(body)?).await?)
}
