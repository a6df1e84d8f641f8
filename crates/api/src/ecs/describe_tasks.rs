//! DescribeTasks.

use berth_control::{Caller, Control};
use berth_model::ecs::DescribeTasksRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: DescribeTasksRequest = decode(body)?;
    reply(&control.describe_tasks(caller, &request)?)
}
