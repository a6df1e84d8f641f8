//! DeleteCluster.

use berth_control::{Caller, Control};
use berth_model::ecs::DeleteClusterRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: DeleteClusterRequest = decode(body)?;
    reply(&control.delete_cluster(caller, request).await?)
}
