//! RunTask and StartTask.

use berth_control::{Caller, Control};
use berth_model::ecs::RunTaskRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

/// `start` selects StartTask, which requires `containerInstances`.
pub async fn handle(control: &Control, caller: &Caller, body: &[u8], start: bool) -> Result<Vec<u8>, ApiError> {
    let request: RunTaskRequest = decode(body)?;
    if start {
        reply(&control.start_task(caller, request).await?)
    } else {
        reply(&control.run_task(caller, request).await?)
    }
}
