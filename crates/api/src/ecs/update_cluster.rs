//! UpdateCluster and UpdateClusterSettings.

use berth_control::{Caller, Control};
use berth_model::ecs::UpdateClusterRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

/// `settings_only` selects UpdateClusterSettings, which requires `settings`.
pub async fn handle(control: &Control, caller: &Caller, body: &[u8], settings_only: bool) -> Result<Vec<u8>, ApiError> {
    let request: UpdateClusterRequest = decode(body)?;
    if settings_only {
        reply(&control.update_cluster_settings(caller, request).await?)
    } else {
        reply(&control.update_cluster(caller, request).await?)
    }
}
