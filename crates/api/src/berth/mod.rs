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

use berth_control::{Caller, Control};
use berth_model::{
    berth::{PlanTaskResponse, PlannedInstance},
    ecs::RunTaskRequest,
    placement::PlacementStrategy,
    EcsError,
};

use crate::error::ApiError;

pub const TARGET_PREFIX: &str = "BerthV1.";

pub fn dispatch(control: &Control, caller: &Caller, operation: &str, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    match operation {
        "PlanTask" => plan_task(control, caller, body),
        "DescribeServiceStats" => {
            let req: berth_model::berth::DescribeServiceStatsRequest = berth_model::json::decode(body)?;
            let response = control.describe_service_stats(caller, &req)?;
            serde_json::to_vec(&response).map_err(|e| ApiError::Ecs(EcsError::Server(e.to_string())))
        }
        "DescribeCapacityReservations" => {
            let reservations = control.capacity_reservations(&caller.region);
            let response = berth_model::berth::CapacityReservationsResponse { reservations };
            serde_json::to_vec(&response).map_err(|e| ApiError::Ecs(EcsError::Server(e.to_string())))
        }
        other => Err(ApiError::UnknownOperation(format!("{TARGET_PREFIX}{other}"))),
    }
}

fn plan_task(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: RunTaskRequest = berth_model::json::decode(body)?;
    let outcome = control.plan_task(caller, &request)?;
    let response = PlanTaskResponse {
        strategies: outcome
            .strategies
            .iter()
            .map(|s| {
                let (kind, field) = s.spelling();
                PlacementStrategy::new(kind, field.as_deref())
            })
            .collect(),
        placements: outcome.placements,
        instances: outcome
            .entries
            .into_iter()
            .map(|e| PlannedInstance {
                container_instance_arn: e.arn,
                rank: e.rank,
                bucket: e.bucket,
                key: if e.rank.is_some() { e.key } else { Vec::new() },
                reason: e.rejection.as_ref().map(|r| r.reason().to_string()),
                detail: e.rejection.as_ref().map(|r| r.detail()),
            })
            .collect(),
    };
    serde_json::to_vec(&response).map_err(|e| EcsError::Server(e.to_string()).into())
}
