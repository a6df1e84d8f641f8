//! RegisterTaskDefinition.

use berth_control::{Caller, Control};
use berth_model::{
    tag::Tag,
    task_definition::{check_registration_size, Registration, TaskDefinition},
};
use serde::Serialize;

use super::{decode, reply};
use crate::error::ApiError;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Response<'a> {
    pub task_definition: &'a TaskDefinition,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
}

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    check_registration_size(body.len())?;
    let registration: Registration = decode(body)?;
    let d = control.register_task_definition(caller, registration).await?;
    reply(&Response { task_definition: &d.task_definition, tags: d.tags })
}
