//! UpdateService.

use berth_control::{Caller, Control, UpdateService};
use berth_model::service::{DeploymentConfiguration, Service};
use serde::{Deserialize, Serialize};

use super::{decode, reply, required};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    cluster: Option<String>,
    service: Option<String>,
    desired_count: Option<i64>,
    task_definition: Option<String>,
    #[serde(default)]
    force_new_deployment: bool,
    deployment_configuration: Option<DeploymentConfiguration>,
    placement_constraints: Option<Vec<serde_json::Value>>,
    placement_strategy: Option<Vec<serde_json::Value>>,
    health_check_grace_period_seconds: Option<i64>,
}

#[derive(Serialize)]
struct Response {
    service: Service,
}

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let req = UpdateService {
        cluster: r.cluster,
        service: required(r.service, "service")?,
        desired_count: r.desired_count,
        task_definition: r.task_definition,
        force_new_deployment: r.force_new_deployment,
        deployment_configuration: r.deployment_configuration,
        placement_constraints: r.placement_constraints,
        placement_strategy: r.placement_strategy,
        health_check_grace_period_seconds: r.health_check_grace_period_seconds,
    };
    reply(&Response { service: control.update_service(caller, req).await? })
}
