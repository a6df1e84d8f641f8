//! UpdateCluster and UpdateClusterSettings.

use berth_control::{Caller, Control, UpdateCluster};
use berth_model::cluster::{Cluster, ClusterSetting};
use serde::{Deserialize, Serialize};

use super::{decode, reply, required};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    cluster: Option<String>,
    settings: Option<Vec<ClusterSetting>>,
    configuration: Option<serde_json::Value>,
    service_connect_defaults: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct Response {
    cluster: Cluster,
}

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let update = UpdateCluster {
        cluster: required(r.cluster, "cluster")?,
        settings: r.settings,
        configuration: r.configuration,
        service_connect_defaults: r.service_connect_defaults,
    };
    reply(&Response { cluster: control.update_cluster(caller, update).await? })
}

/// UpdateClusterSettings: `settings` is required.
pub async fn handle_settings(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let settings = berth_model::json::required(&r.settings, "settings")?.clone();
    let update =
        UpdateCluster { cluster: required(r.cluster, "cluster")?, settings: Some(settings), ..Default::default() };
    reply(&Response { cluster: control.update_cluster(caller, update).await? })
}
