//! ListTasks.

use berth_control::{Caller, Control};
use berth_model::ecs::ListTasksRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: ListTasksRequest = decode(body)?;
    reply(&control.list_tasks(caller, &request)?)
}
