//! DescribeContainerInstances.

use berth_control::{Caller, Control};
use berth_model::{container_instance::ContainerInstance, EcsError, Failure};
use serde::{Deserialize, Serialize};

use super::{decode, reply};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    cluster: Option<String>,
    container_instances: Option<Vec<String>>,
    #[serde(default)]
    include: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    container_instances: Vec<ContainerInstance>,
    failures: Vec<Failure>,
}

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    if let Some(bad) = r.include.iter().find(|i| *i != "TAGS" && *i != "CONTAINER_INSTANCE_HEALTH") {
        return Err(EcsError::invalid(format!(
            "Invalid include value '{bad}': use TAGS or CONTAINER_INSTANCE_HEALTH."
        ))
        .into());
    }
    let refs = berth_model::json::required(&r.container_instances, "containerInstances")?;
    let with_tags = r.include.iter().any(|i| i == "TAGS");
    let (container_instances, failures) =
        control.describe_container_instances(caller, r.cluster.as_deref(), refs, with_tags)?;
    reply(&Response { container_instances, failures })
}
