//! DeregisterTaskDefinition.

use berth_control::{Caller, Control};
use berth_model::task_definition::TaskDefinition;
use serde::{Deserialize, Serialize};

use super::{decode, reply, required};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    task_definition: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response<'a> {
    task_definition: &'a TaskDefinition,
}

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let td = control.deregister_task_definition(caller, required(r.task_definition, "taskDefinition")?).await?;
    reply(&Response { task_definition: &td })
}
