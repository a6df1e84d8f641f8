//! UpdateContainerAgent.

use berth_control::{Caller, Control};
use berth_model::ecs::UpdateContainerAgentRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: UpdateContainerAgentRequest = decode(body)?;
    reply(&control.update_container_agent(caller, &request)?)
}
