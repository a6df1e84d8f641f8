//! UpdateService.

use berth_control::{Caller, Control};
use berth_model::ecs::UpdateServiceRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: UpdateServiceRequest = decode(body)?;
    reply(&control.update_service(caller, request).await?)
}
