//! UpdateCapacityProvider.

use berth_control::{Caller, Control};
use berth_model::capacity_provider::UpdateCapacityProviderRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: UpdateCapacityProviderRequest = decode(body)?;
    reply(&control.update_capacity_provider(caller, request).await?)
}
