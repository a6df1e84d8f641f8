//! UpdateContainerInstancesState.

use berth_control::{Caller, Control};
use berth_model::ecs::UpdateContainerInstancesStateRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: UpdateContainerInstancesStateRequest = decode(body)?;
    reply(&control.update_container_instances_state(caller, request).await?)
}
