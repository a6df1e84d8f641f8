//! PutAttributes and DeleteAttributes.

use berth_control::{Caller, Control};
use berth_model::ecs::AttributesRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

/// `put` selects PutAttributes; otherwise DeleteAttributes.
pub async fn handle(control: &Control, caller: &Caller, body: &[u8], put: bool) -> Result<Vec<u8>, ApiError> {
    let request: AttributesRequest = decode(body)?;
    reply(&control.change_attributes(caller, request, put).await?)
}
