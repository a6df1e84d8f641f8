//! Following a service's rollout live, as `berth service wait` and every `--wait` do:
//! counts per deployment and new events as they come, what a stalled rollout waits for,
//! and how it ended (unlike `aws ecs wait services-stable`, a rollback is never success).

use std::time::{Duration, Instant};

use berth_client::ServerClient;
use berth_model::{
    ecs::{op, DescribeServicesRequest},
    service::{Service, ServiceEvent},
    status::{RolloutState, ServiceStatus},
};
use clap::Args;

use crate::{calls::request_retrying, ui::Progress};

/// `--wait` and `--timeout`, for the commands that can follow what they started.
#[derive(Args)]
pub struct FollowArgs {
    /// Follow the rollout (for a one-off task, the task) until it ends.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
}

/// How a wait ended; the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed = 0,
    Failed = 2,
    RolledBack = 3,
    Gone = 4,
    TimedOut = 5,
    Unreachable = 6,
}

impl Outcome {
    /// The final state as `--output json` and `--output-env` report it.
    pub fn state(self) -> &'static str {
        match self {
            Outcome::Completed => RolloutState::Completed.as_str(),
            Outcome::Failed => RolloutState::Failed.as_str(),
            Outcome::RolledBack => "ROLLED_BACK",
            Outcome::Gone => "GONE",
            Outcome::TimedOut => "TIMED_OUT",
            Outcome::Unreachable => "UNREACHABLE",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Outcome::Completed => "deployment completed",
            Outcome::Failed => "deployment FAILED",
            Outcome::RolledBack => "deployment FAILED and was rolled back",
            Outcome::Gone => "service is not ACTIVE",
            Outcome::TimedOut => "timed out",
            Outcome::Unreachable => "server unreachable",
        }
    }
}

/// The reason the breaker gives the deployment it rolls back to.
const ROLLING_BACK: &str = "ECS deployment circuit breaker: rolling back";

/// Whether the service shows a deployment the circuit breaker failed.
fn shows_failure(service: &Service) -> bool {
    service.deployments.iter().any(|d| d.rollout_state == Some(RolloutState::Failed))
}

/// What the service's state says about the rollout, if it is over. `rolled_back`: a
/// failed deployment was seen while waiting, so completing means a rollback completed.
fn verdict(service: &Service, rolled_back: bool) -> Option<Outcome> {
    if service.status != ServiceStatus::Active {
        return Some(Outcome::Gone);
    }
    let primary = service.deployments.first()?;
    let reason = primary.rollout_state_reason.as_deref().unwrap_or("");
    let rollback = rolled_back || reason.starts_with(ROLLING_BACK);
    // As `services-stable`: one deployment, COMPLETED, and every desired task running.
    let all_running = service.running_count == service.desired_count && service.pending_count == 0;
    match primary.rollout_state {
        Some(RolloutState::Failed) => Some(Outcome::Failed),
        Some(RolloutState::Completed) if service.deployments.len() == 1 && all_running => {
            Some(if rollback { Outcome::RolledBack } else { Outcome::Completed })
        }
        _ => None,
    }
}

/// The events to show first: those since the followed deployment was created (a redeploy
/// that cannot place its tasks says why in an event that may predate the first poll).
fn events_since_deployment(service: &Service) -> Vec<&ServiceEvent> {
    let since = service.deployments.first().map_or(f64::MAX, |d| d.created_at) - 0.001;
    service.events.iter().filter(|e| e.created_at >= since).collect()
}

fn progress_text(service: &Service) -> String {
    service
        .deployments
        .iter()
        .map(|d| {
            format!(
                "  {} {} {} {}: running {}/{} pending {} failed {}",
                d.status,
                d.id,
                d.task_definition.rsplit('/').next().unwrap_or(""),
                d.rollout_state.map_or("", |s| s.as_str()),
                d.running_count,
                d.desired_count,
                d.pending_count,
                d.failed_tasks,
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// How long the counts may stand still before `follow` says what the rollout waits for.
const STALL_REPORT: Duration = Duration::from_secs(5);

/// Follows a service until its rollout is over (or `timeout`), reporting counts per
/// deployment and new events as they come. The service is `None` when it could not be
/// read (gone, or the server unreachable).
pub async fn follow(
    client: &ServerClient,
    cluster: &str,
    service_name: &str,
    timeout: Duration,
    progress: &Progress,
) -> anyhow::Result<(Outcome, Option<Service>)> {
    let deadline = Instant::now() + timeout;
    let mut seen_events: Option<Vec<String>> = None;
    let mut last_progress = String::new();
    let mut rolled_back = false;
    let mut failure_event = false;
    // The deployment the breaker failed, once seen; and when the counts last moved.
    let mut failed_deployment: Option<String> = None;
    let mut last_change = Instant::now();
    let mut said_waiting: Vec<String> = Vec::new();
    let describe = DescribeServicesRequest {
        cluster: Some(cluster.into()),
        services: Some(vec![service_name.into()]),
        include: Vec::new(),
    };
    loop {
        let Some(answer) = request_retrying::<op::DescribeServices>(client, &describe, deadline, progress).await?
        else {
            progress.line(&format!("{service_name}: could not reach {} before the timeout", client.endpoint()));
            return Ok((Outcome::Unreachable, None));
        };
        let Some(service) = answer.services.into_iter().next() else {
            progress.line(&format!("service {service_name} not found in cluster {cluster}"));
            return Ok((Outcome::Gone, None));
        };
        // First the events since the deployment began, then those that arrive, oldest first.
        let fresh: Vec<&ServiceEvent> = match &seen_events {
            None => events_since_deployment(&service),
            Some(seen) => service.events.iter().filter(|e| !seen.contains(&e.id)).collect(),
        };
        for e in fresh.iter().rev() {
            progress.line(&format!("event: {}", e.message));
            // Events are kept, so a failure between two polls is still seen here.
            failure_event |= e.message.contains(") deployment failed:");
        }
        seen_events = Some(service.events.iter().map(|e| e.id.clone()).collect());
        let now = progress_text(&service);
        if let Some(d) = service.deployments.iter().find(|d| d.rollout_state == Some(RolloutState::Failed)) {
            failed_deployment.get_or_insert_with(|| d.id.clone());
        }
        let primary = service.deployments.first();
        if now != last_progress {
            last_change = Instant::now();
        } else if last_change.elapsed() >= STALL_REPORT
            && primary.is_some_and(|d| d.rollout_state == Some(RolloutState::InProgress))
        {
            // Nothing moved for a while: say what the rollout is waiting for, once per reason.
            for line in crate::rollout::waiting_for(client, cluster, &service).await.unwrap_or_default() {
                if !said_waiting.contains(&line) {
                    progress.line(&format!("waiting: {line}"));
                    said_waiting.push(line);
                }
            }
            last_change = Instant::now();
        }
        if now != last_progress {
            progress.status(&now);
            last_progress = now;
        }
        // A rollback is recognised by a failed deployment next to the new one, or by the new
        // one's reason while it rolls out: either may be all a poll gets to see.
        let primary_reason = primary.and_then(|d| d.rollout_state_reason.as_deref()).unwrap_or("");
        rolled_back |= (shows_failure(&service)
            && primary.is_some_and(|d| d.rollout_state != Some(RolloutState::Failed)))
            || primary_reason.starts_with(ROLLING_BACK)
            || failure_event;
        if let Some(outcome) = verdict(&service, rolled_back) {
            progress.line(&format!("{service_name}: {}", outcome.words()));
            if matches!(outcome, Outcome::Failed | Outcome::RolledBack) {
                if let Some(id) = failed_deployment.clone().or_else(|| primary.map(|d| d.id.clone())) {
                    report_failure(client, cluster, &id, progress).await;
                }
            }
            return Ok((outcome, Some(service)));
        }
        if Instant::now() > deadline {
            progress.line(&format!("{service_name}: timed out after {} s", timeout.as_secs()));
            return Ok((Outcome::TimedOut, Some(service)));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Prints why a failed deployment's tasks failed.
async fn report_failure(client: &ServerClient, cluster: &str, deployment: &str, progress: &Progress) {
    let Ok((causes, health)) = crate::rollout::failure_causes(client, cluster, deployment).await else { return };
    let what = if health { "its tasks failed their health checks" } else { "its tasks failed to start" };
    progress.line(&format!("deployment {deployment}: {what}"));
    for cause in causes.iter().take(5) {
        progress.line(&format!("  cause: {cause}"));
    }
}

#[cfg(test)]
mod tests {
    use berth_model::service::Deployment;

    use super::*;

    fn deployment(state: RolloutState, reason: &str) -> Deployment {
        Deployment { rollout_state: Some(state), rollout_state_reason: Some(reason.into()), ..Default::default() }
    }

    fn service(state: RolloutState, reason: &str, n: usize) -> Service {
        Service {
            status: ServiceStatus::Active,
            deployments: vec![deployment(state, reason); n],
            desired_count: 2,
            running_count: 2,
            pending_count: 0,
            ..Default::default()
        }
    }

    #[test]
    fn verdicts() {
        use RolloutState::*;
        let scaling = Service { desired_count: 3, pending_count: 1, ..service(Completed, "done", 1) };
        assert_eq!(verdict(&scaling, false), None, "a scale-out still pending is not stable");
        assert_eq!(
            verdict(&service(Completed, "ECS deployment ecs-svc/1 completed.", 1), false),
            Some(Outcome::Completed)
        );
        assert_eq!(verdict(&service(Completed, "", 1), true), Some(Outcome::RolledBack), "a failure was seen earlier");
        assert_eq!(verdict(&service(Completed, "", 2), false), None, "an old deployment is still draining");
        assert_eq!(verdict(&service(InProgress, "", 1), false), None);
        assert_eq!(verdict(&service(Failed, "", 1), false), Some(Outcome::Failed));
        let rolled = service(Completed, "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.", 1);
        assert_eq!(verdict(&rolled, false), Some(Outcome::RolledBack));
        let draining = Service { status: ServiceStatus::Draining, ..Default::default() };
        assert_eq!(verdict(&draining, false), Some(Outcome::Gone));
        let failed_then_rolling = Service {
            deployments: vec![deployment(InProgress, ""), deployment(Failed, "")],
            ..service(InProgress, "", 0)
        };
        assert!(shows_failure(&failed_then_rolling));
    }
}
