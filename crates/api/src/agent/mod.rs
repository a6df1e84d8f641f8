//! berth's own agent operations (`BerthAgentV1.<Operation>`), authenticated with the
//! per-instance token: the long-poll for desired tasks, the heartbeat, and the tasks'
//! CPU and memory measurements.

use std::time::Duration;

use berth_control::{AgentIdentity, Control};
pub use berth_model::agent::TARGET_PREFIX;
use berth_model::agent::{PollDesiredTasks, RegistryAuth};
use berth_registry::Registry;

use crate::error::ApiError;

/// Longest a poll may wait before answering with an unchanged set.
const MAX_WAIT_SECS: u64 = 30;

pub async fn dispatch(
    control: &Control,
    registry: &Registry,
    agent: &AgentIdentity,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    match operation {
        "PollDesiredTasks" => {
            let r: PollDesiredTasks = berth_model::json::decode(body)?;
            let wait = Duration::from_secs(r.wait_seconds.unwrap_or(20).min(MAX_WAIT_SECS));
            let mut desired = control.poll_desired_tasks(agent, r.known_version, wait).await?;
            if r.routes {
                desired.routes = control.task_routes(&agent.region);
                desired.routes.retain(|route| Some(&route.subnet) != desired.task_subnet.as_ref());
            }
            // Pull-only credentials for berth's registry, fresh on every poll (they last 12 h
            // and stop working once the instance is deregistered).
            let expires = berth_model::time::now() as u64 + berth_registry::token::LIFETIME_SECS;
            desired.registry_auth = Some(RegistryAuth {
                username: berth_registry::token::USER.to_string(),
                password: registry.token_key().issue_pull(&agent.region, &agent.instance_arn, expires),
                registry: registry.host().to_string(),
            });
            Ok(serde_json::to_vec(&desired).map_err(|e| berth_model::EcsError::Server(e.to_string()))?)
        }
        "ReportTaskStats" => {
            let report: berth_model::agent::TaskStatsReport = berth_model::json::decode(body)?;
            control.report_task_stats(agent, report);
            Ok(b"{}".to_vec())
        }
        "Heartbeat" => {
            control.agent_heartbeat(agent).await?;
            Ok(b"{}".to_vec())
        }
        other => Err(ApiError::UnknownOperation(format!("{TARGET_PREFIX}{other}"))),
    }
}
