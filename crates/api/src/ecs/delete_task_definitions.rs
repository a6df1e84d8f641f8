//! DeleteTaskDefinitions.

use berth_control::{Caller, Control};
use berth_model::ecs::DeleteTaskDefinitionsRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: DeleteTaskDefinitionsRequest = decode(body)?;
    reply(&control.delete_task_definitions(caller, request).await?)
}
