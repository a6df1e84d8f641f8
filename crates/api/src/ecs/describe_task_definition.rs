//! DescribeTaskDefinition: the hot read path.

use berth_control::{Caller, Control};
use berth_model::ecs::DescribeTaskDefinitionRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: DescribeTaskDefinitionRequest = decode(body)?;
    reply(&control.describe_task_definition(caller, &request)?)
}
