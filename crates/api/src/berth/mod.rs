//! berth's own user-facing operations (`BerthV1.<Operation>`), SigV4-signed like the ECS
//! API (credential scope service `ecs`).
//!
//! `PlanTask`: a dry run of RunTask. Same body as RunTask (`cluster`, `taskDefinition`,
//! `count` up to 10,000, `group`, `overrides`, `placementConstraints`,
//! `placementStrategy`); nothing is written. The answer:
//! ```json
//! {"strategies": [{"type": "random"}],
//!  "placements": ["arn:…:container-instance/…", null],
//!  "instances": [{"containerInstanceArn": "…", "rank": 1, "bucket": ["us-east-1a"], "key": [512]},
//!                {"containerInstanceArn": "…", "reason": "RESOURCE:MEMORY", "detail": "memory: needs 512 MiB, 300 free"}]}
//! ```
//! `placements` says where each of `count` tasks would go (`null`: nowhere). `instances`
//! ranks every instance for the first task (1 = chosen), with the spread bucket it is in and
//! its key under the other strategies, or names the first filter that rejects it.

use berth_control::{Caller, Control, RunTask};
use berth_model::{task::TaskOverride, EcsError};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub const TARGET_PREFIX: &str = "BerthV1.";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlanRequest {
    cluster: Option<String>,
    task_definition: Option<String>,
    count: Option<i64>,
    group: Option<String>,
    overrides: Option<TaskOverride>,
    #[serde(default)]
    placement_constraints: Vec<serde_json::Value>,
    #[serde(default)]
    placement_strategy: Vec<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PlanResponse {
    strategies: Vec<StrategyOut>,
    placements: Vec<Option<String>>,
    instances: Vec<InstanceOut>,
}

#[derive(Serialize)]
struct StrategyOut {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InstanceOut {
    container_instance_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rank: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    bucket: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    key: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

pub fn dispatch(control: &Control, caller: &Caller, operation: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    match operation {
        "PlanTask" => plan_task(control, caller, body),
        other => Err(ApiError::UnknownOperation(format!("{TARGET_PREFIX}{other}"))),
    }
}

fn plan_task(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: PlanRequest = berth_model::json::decode(body)?;
    let req = RunTask {
        cluster: r.cluster,
        task_definition: berth_model::json::required(&r.task_definition, "taskDefinition")?.clone(),
        count: r.count,
        group: r.group,
        overrides: r.overrides,
        placement_constraints: r.placement_constraints,
        placement_strategy: r.placement_strategy,
        ..Default::default()
    };
    let outcome = control.plan_task(caller, &req)?;
    let response = PlanResponse {
        strategies: outcome
            .strategies
            .iter()
            .map(|s| {
                let (kind, field) = s.spelling();
                StrategyOut { kind, field }
            })
            .collect(),
        placements: outcome.placements,
        instances: outcome
            .entries
            .into_iter()
            .map(|e| InstanceOut {
                container_instance_arn: e.arn,
                rank: e.rank,
                bucket: e.bucket,
                key: if e.rank.is_some() { e.key } else { Vec::new() },
                reason: e.rejection.as_ref().map(|r| r.reason()),
                detail: e.rejection.as_ref().map(|r| r.detail()),
            })
            .collect(),
    };
    serde_json::to_vec(&response).map_err(|e| EcsError::Server(e.to_string()).into())
}
