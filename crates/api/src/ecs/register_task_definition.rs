//! RegisterTaskDefinition.

use berth_control::{Caller, Control};
use berth_model::task_definition::{check_registration_size, Registration};

use super::codec::{decode, reply};
use crate::error::ApiError;

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    check_registration_size(body.len())?;
    let registration: Registration = decode(body)?;
    reply(&control.register_task_definition(caller, registration).await?)
}
