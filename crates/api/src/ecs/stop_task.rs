//! StopTask.

use berth_control::{Caller, Control};
use berth_model::task::Task;
use serde::{Deserialize, Serialize};

use super::{decode, reply, required};
use crate::error::ApiError;

#[derive(Deserialize)]
struct Request {
    cluster: Option<String>,
    task: Option<String>,
    reason: Option<String>,
}

#[derive(Serialize)]
struct Response {
    task: Task,
}

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let task = control.stop_task(caller, r.cluster, required(r.task, "task")?, r.reason).await?;
    reply(&Response { task })
}
