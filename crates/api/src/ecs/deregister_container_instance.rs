//! DeregisterContainerInstance.

use berth_control::{Caller, Control};
use berth_model::container_instance::ContainerInstance;
use serde::{Deserialize, Serialize};

use super::{decode, reply, required};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    cluster: Option<String>,
    container_instance: Option<String>,
    force: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    container_instance: ContainerInstance,
}

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let instance = required(r.container_instance, "containerInstance")?;
    let ci = control.deregister_container_instance(caller, r.cluster, instance, r.force.unwrap_or(false)).await?;
    reply(&Response { container_instance: ci })
}
