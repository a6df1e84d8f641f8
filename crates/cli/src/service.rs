//! `berth service wait`: follow a service's rollout live and say how it ended. Unlike
//! `aws ecs wait services-stable`, a rollback is never reported as success.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::task::Connection;

#[derive(Subcommand)]
pub enum ServiceCommand {
    /// Show a service's rollout as it happens; exit 0 when it COMPLETED, 2 when it FAILED,
    /// 3 when the circuit breaker rolled it back, 4 when the service is missing or being
    /// deleted, 5 on timeout.
    Wait(WaitArgs),
}

#[derive(Args)]
pub struct WaitArgs {
    #[arg(long, default_value = "default")]
    cluster: String,
    #[arg(long)]
    service: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    #[command(flatten)]
    connection: Connection,
}

/// How a wait ended; the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed = 0,
    Failed = 2,
    RolledBack = 3,
    Gone = 4,
    TimedOut = 5,
}

pub async fn run(command: ServiceCommand) -> anyhow::Result<Outcome> {
    match command {
        ServiceCommand::Wait(args) => wait(args).await,
    }
}

/// Whether the service shows a deployment the circuit breaker failed.
fn shows_failure(service: &Value) -> bool {
    service["deployments"].as_array().into_iter().flatten().any(|d| d["rolloutState"].as_str() == Some("FAILED"))
}

/// What the service's state says about the rollout, if it is over. `rolled_back`: a
/// failed deployment was seen while waiting, so completing means a rollback completed.
fn verdict(service: &Value, rolled_back: bool) -> Option<Outcome> {
    let status = service["status"].as_str().unwrap_or("");
    if status != "ACTIVE" {
        return Some(Outcome::Gone);
    }
    let deployments = service["deployments"].as_array()?;
    let primary = deployments.first()?;
    let reason = primary["rolloutStateReason"].as_str().unwrap_or("");
    let rollback = rolled_back || reason.starts_with("ECS deployment circuit breaker: rolling back");
    match primary["rolloutState"].as_str() {
        Some("FAILED") => Some(Outcome::Failed),
        Some("COMPLETED") if deployments.len() == 1 => {
            Some(if rollback { Outcome::RolledBack } else { Outcome::Completed })
        }
        _ => None,
    }
}

fn progress(service: &Value) -> String {
    let deployments = service["deployments"].as_array().cloned().unwrap_or_default();
    deployments
        .iter()
        .map(|d| {
            format!(
                "  {} {} {} {}: running {}/{} pending {} failed {}",
                d["status"].as_str().unwrap_or(""),
                d["id"].as_str().unwrap_or(""),
                d["taskDefinition"].as_str().unwrap_or("").rsplit('/').next().unwrap_or(""),
                d["rolloutState"].as_str().unwrap_or(""),
                d["runningCount"],
                d["desiredCount"],
                d["pendingCount"],
                d["failedTasks"],
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn wait(args: WaitArgs) -> anyhow::Result<Outcome> {
    let client = args.connection.client()?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut seen_events: Option<Vec<String>> = None;
    let mut last_progress = String::new();
    let mut rolled_back = false;
    let mut failure_event = false;
    loop {
        let body = json!({"cluster": args.cluster, "services": [args.service]});
        let (answer, _): (Value, _) =
            client.ecs("DescribeServices", &body).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let Some(service) = answer["services"].as_array().and_then(|s| s.first()).cloned() else {
            println!("service {} not found in cluster {}", args.service, args.cluster);
            return Ok(Outcome::Gone);
        };
        let ids: Vec<String> = service["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["id"].as_str().map(String::from))
            .collect();
        match &seen_events {
            // Only events that arrive while waiting are shown, oldest first.
            None => seen_events = Some(ids),
            Some(seen) => {
                let fresh: Vec<&Value> = service["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|e| e["id"].as_str().is_some_and(|id| !seen.contains(&id.to_string())))
                    .collect();
                for e in fresh.iter().rev() {
                    let message = e["message"].as_str().unwrap_or("");
                    println!("event: {message}");
                    // Events are kept, so a failure between two polls is still seen here.
                    failure_event |= message.contains(") deployment failed:");
                }
                seen_events = Some(ids);
            }
        }
        let now = progress(&service);
        if now != last_progress {
            println!("{}", now);
            last_progress = now;
        }
        // A rollback is recognised by a failed deployment next to the new one, or by the new
        // one's reason while it rolls out: either may be all a poll gets to see.
        let primary_reason = service["deployments"][0]["rolloutStateReason"].as_str().unwrap_or("");
        rolled_back |= (shows_failure(&service)
            && service["deployments"][0]["rolloutState"].as_str() != Some("FAILED"))
            || primary_reason.starts_with("ECS deployment circuit breaker: rolling back")
            || failure_event;
        if let Some(outcome) = verdict(&service, rolled_back) {
            let word = match outcome {
                Outcome::Completed => "deployment completed",
                Outcome::Failed => "deployment FAILED",
                Outcome::RolledBack => "deployment FAILED and was rolled back",
                Outcome::Gone => "service is not ACTIVE",
                Outcome::TimedOut => "timed out",
            };
            println!("{}: {word}", args.service);
            return Ok(outcome);
        }
        if Instant::now() > deadline {
            println!("{}: timed out after {} s", args.service, args.timeout);
            return Ok(Outcome::TimedOut);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let svc = |state: &str, reason: &str, n: usize| {
            let d = json!({"rolloutState": state, "rolloutStateReason": reason});
            json!({"status": "ACTIVE", "deployments": vec![d; n]})
        };
        assert_eq!(
            verdict(&svc("COMPLETED", "ECS deployment ecs-svc/1 completed.", 1), false),
            Some(Outcome::Completed)
        );
        assert_eq!(verdict(&svc("COMPLETED", "", 1), true), Some(Outcome::RolledBack), "a failure was seen earlier");
        assert_eq!(verdict(&svc("COMPLETED", "", 2), false), None, "an old deployment is still draining");
        assert_eq!(verdict(&svc("IN_PROGRESS", "", 1), false), None);
        assert_eq!(verdict(&svc("FAILED", "", 1), false), Some(Outcome::Failed));
        let rolled = svc("COMPLETED", "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.", 1);
        assert_eq!(verdict(&rolled, false), Some(Outcome::RolledBack));
        assert_eq!(verdict(&json!({"status": "DRAINING"}), false), Some(Outcome::Gone));
        let failed_then_rolling =
            json!({"status": "ACTIVE", "deployments": [{"rolloutState": "IN_PROGRESS"}, {"rolloutState": "FAILED"}]});
        assert!(shows_failure(&failed_then_rolling));
    }
}
