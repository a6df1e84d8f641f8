//! RunTask and StartTask.

use berth_control::{Caller, Control, RunTask};
use berth_model::{
    tag::Tag,
    task::{Task, TaskOverride},
    Failure,
};
use serde::{Deserialize, Serialize};

use super::{decode, reply, required};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    cluster: Option<String>,
    task_definition: Option<String>,
    count: Option<i64>,
    launch_type: Option<String>,
    group: Option<String>,
    started_by: Option<String>,
    overrides: Option<TaskOverride>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    placement_constraints: Vec<serde_json::Value>,
    #[serde(default)]
    placement_strategy: Vec<serde_json::Value>,
    container_instances: Option<Vec<String>>,
    propagate_tags: Option<String>,
    #[serde(default, rename = "enableECSManagedTags")]
    enable_ecs_managed_tags: bool,
}

#[derive(Serialize)]
struct Response {
    tasks: Vec<Task>,
    failures: Vec<Failure>,
}

/// `start` selects StartTask, which requires `containerInstances`.
pub async fn handle(control: &Control, caller: &Caller, body: &[u8], start: bool) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let container_instances = if start {
        Some(berth_model::json::required(&r.container_instances, "containerInstances")?.clone())
    } else {
        None
    };
    let req = RunTask {
        cluster: r.cluster,
        task_definition: required(r.task_definition, "taskDefinition")?,
        count: if start { None } else { r.count },
        launch_type: r.launch_type,
        group: r.group,
        started_by: r.started_by,
        overrides: r.overrides,
        tags: r.tags,
        placement_constraints: r.placement_constraints,
        placement_strategy: r.placement_strategy,
        container_instances,
        propagate_tags: r.propagate_tags,
        enable_ecs_managed_tags: r.enable_ecs_managed_tags,
    };
    let (tasks, failures) = control.run_task(caller, req).await?;
    reply(&Response { tasks, failures })
}
