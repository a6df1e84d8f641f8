//! DeregisterTaskDefinition.

use berth_control::{Caller, Control};
use berth_model::ecs::DeregisterTaskDefinitionRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: DeregisterTaskDefinitionRequest = decode(body)?;
    reply(&control.deregister_task_definition(caller, request).await?)
}
