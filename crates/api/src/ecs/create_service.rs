//! CreateService.

use berth_control::{Caller, Control, CreateService};
use berth_model::{
    service::{DeploymentConfiguration, Service},
    tag::Tag,
};
use serde::{Deserialize, Serialize};

use super::{decode, reply, required};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    cluster: Option<String>,
    service_name: Option<String>,
    task_definition: Option<String>,
    desired_count: Option<i64>,
    launch_type: Option<String>,
    scheduling_strategy: Option<String>,
    deployment_configuration: Option<DeploymentConfiguration>,
    #[serde(default)]
    placement_constraints: Vec<serde_json::Value>,
    #[serde(default)]
    placement_strategy: Vec<serde_json::Value>,
    health_check_grace_period_seconds: Option<i64>,
    #[serde(default)]
    tags: Vec<Tag>,
    propagate_tags: Option<String>,
    #[serde(default, rename = "enableECSManagedTags")]
    enable_ecs_managed_tags: bool,
}

#[derive(Serialize)]
struct Response {
    service: Service,
}

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let req = CreateService {
        cluster: r.cluster,
        service_name: required(r.service_name, "serviceName")?,
        task_definition: r.task_definition,
        desired_count: r.desired_count,
        launch_type: r.launch_type,
        scheduling_strategy: r.scheduling_strategy,
        deployment_configuration: r.deployment_configuration,
        placement_constraints: r.placement_constraints,
        placement_strategy: r.placement_strategy,
        health_check_grace_period_seconds: r.health_check_grace_period_seconds,
        tags: r.tags,
        propagate_tags: r.propagate_tags,
        enable_ecs_managed_tags: r.enable_ecs_managed_tags,
    };
    reply(&Response { service: control.create_service(caller, req).await? })
}
