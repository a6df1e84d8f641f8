//! GetTaskProtection.

use berth_control::{Caller, Control};
use berth_model::ecs::GetTaskProtectionRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: GetTaskProtectionRequest = decode(body)?;
    reply(&control.get_task_protection(caller, &request)?)
}
