//! DeregisterContainerInstance.

use berth_control::{Caller, Control};
use berth_model::ecs::DeregisterContainerInstanceRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: DeregisterContainerInstanceRequest = decode(body)?;
    reply(&control.deregister_container_instance(caller, request).await?)
}
