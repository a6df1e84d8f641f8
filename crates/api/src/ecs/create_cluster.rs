//! CreateCluster.

use berth_control::{Caller, Control, CreateCluster};
use berth_model::{
    cluster::{Cluster, ClusterSetting},
    tag::Tag,
};
use serde::{Deserialize, Serialize};

use super::{decode, reply};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    cluster_name: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    settings: Vec<ClusterSetting>,
    configuration: Option<serde_json::Value>,
    #[serde(default)]
    capacity_providers: Vec<String>,
    #[serde(default)]
    default_capacity_provider_strategy: Vec<serde_json::Value>,
    service_connect_defaults: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct Response {
    cluster: Cluster,
}

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let cluster = control
        .create_cluster(
            caller,
            CreateCluster {
                cluster_name: r.cluster_name,
                tags: r.tags,
                settings: r.settings,
                configuration: r.configuration,
                capacity_providers: r.capacity_providers,
                default_capacity_provider_strategy: r.default_capacity_provider_strategy,
                service_connect_defaults: r.service_connect_defaults,
            },
        )
        .await?;
    reply(&Response { cluster })
}
