//! StopTask.

use berth_control::{Caller, Control};
use berth_model::ecs::StopTaskRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: StopTaskRequest = decode(body)?;
    reply(&control.stop_task(caller, request).await?)
}
