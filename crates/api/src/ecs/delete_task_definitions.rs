//! DeleteTaskDefinitions.

use std::sync::Arc;

use berth_control::{Caller, Control};
use berth_model::{task_definition::TaskDefinition, Failure};
use serde::{Deserialize, Serialize};

use super::{decode, reply};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    task_definitions: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    task_definitions: Vec<Arc<TaskDefinition>>,
    failures: Vec<Failure>,
}

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let refs = berth_model::json::required(&r.task_definitions, "taskDefinitions")?.clone();
    let (task_definitions, failures) = control.delete_task_definitions(caller, refs).await?;
    reply(&Response { task_definitions, failures })
}
