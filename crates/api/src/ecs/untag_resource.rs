//! UntagResource.

use berth_control::{Caller, Control};
use berth_model::ecs::UntagResourceRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: UntagResourceRequest = decode(body)?;
    reply(&control.untag_resource(caller, request).await?)
}
