//! DescribeTaskDefinition: the hot read path.

use berth_control::{Caller, Control};
use berth_model::EcsError;
use serde::Deserialize;

use super::{decode, register_task_definition::Response, reply, required};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    task_definition: Option<String>,
    #[serde(default)]
    include: Vec<String>,
}

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    if let Some(bad) = r.include.iter().find(|i| *i != "TAGS") {
        return Err(EcsError::invalid(format!("Invalid include value '{bad}': the only value is TAGS.")).into());
    }
    let reference = required(r.task_definition, "taskDefinition")?;
    let d = control.describe_task_definition(caller, &reference, !r.include.is_empty())?;
    reply(&Response { task_definition: &d.task_definition, tags: d.tags })
}
