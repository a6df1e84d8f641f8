//! DescribeClusters.

use berth_control::{Caller, ClusterInclude, Control};
use berth_model::{cluster::Cluster, EcsError, Failure};
use serde::{Deserialize, Serialize};

use super::{decode, reply};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    #[serde(default)]
    clusters: Vec<String>,
    #[serde(default)]
    include: Vec<String>,
}

#[derive(Serialize)]
struct Response {
    clusters: Vec<Cluster>,
    failures: Vec<Failure>,
}

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let mut include = ClusterInclude::default();
    for field in &r.include {
        match field.as_str() {
            "SETTINGS" => include.settings = true,
            "STATISTICS" => include.statistics = true,
            "TAGS" => include.tags = true,
            "CONFIGURATIONS" => include.configurations = true,
            "ATTACHMENTS" => {}
            other => {
                return Err(EcsError::invalid(format!(
                    "Invalid include value '{other}': use ATTACHMENTS, CONFIGURATIONS, SETTINGS, STATISTICS or TAGS."
                ))
                .into())
            }
        }
    }
    let (clusters, failures) = control.describe_clusters(caller, &r.clusters, include)?;
    reply(&Response { clusters, failures })
}
