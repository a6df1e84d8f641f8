//! UpdateContainerInstancesState.

use berth_control::{Caller, Control};
use berth_model::{container_instance::ContainerInstance, Failure};
use serde::{Deserialize, Serialize};

use super::{decode, reply, required};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    cluster: Option<String>,
    container_instances: Option<Vec<String>>,
    status: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    container_instances: Vec<ContainerInstance>,
    failures: Vec<Failure>,
}

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let refs = berth_model::json::required(&r.container_instances, "containerInstances")?.clone();
    let status = required(r.status, "status")?;
    let (container_instances, failures) =
        control.update_container_instances_state(caller, r.cluster, refs, status).await?;
    reply(&Response { container_instances, failures })
}
