//! UpdateTaskProtection.

use berth_control::{Caller, Control};
use berth_model::ecs::UpdateTaskProtectionRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: UpdateTaskProtectionRequest = decode(body)?;
    reply(&control.update_task_protection(caller, request).await?)
}
