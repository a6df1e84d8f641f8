//! CreateCluster.

use berth_control::{Caller, Control};
use berth_model::ecs::CreateClusterRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: CreateClusterRequest = decode(body)?;
    reply(&control.create_cluster(caller, request).await?)
}
