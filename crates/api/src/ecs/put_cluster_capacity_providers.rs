//! PutClusterCapacityProviders.

use berth_control::{Caller, Control};
use berth_model::capacity_provider::PutClusterCapacityProvidersRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: PutClusterCapacityProvidersRequest = decode(body)?;
    reply(&control.put_cluster_capacity_providers(caller, request).await?)
}
