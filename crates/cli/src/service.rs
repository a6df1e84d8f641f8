//! `berth service wait` follows a service's rollout live and says how it ended (unlike
//! `aws ecs wait services-stable`, a rollback is never reported as success);
//! `berth service deploy` swaps images into a new task-definition revision, updates the
//! service and, with `--wait`, follows the rollout the same way.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use berth_client::ServerClient;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use berth_model::status::RolloutState;

use crate::{
    task::Connection,
    ui::{OutputArgs, Progress},
};

#[derive(Subcommand)]
pub enum ServiceCommand {
    /// Show a service's rollout as it happens; exit 0 when it COMPLETED with every task
    /// running, 2 when it FAILED, 3 when the circuit breaker rolled it back, 4 when the
    /// service is missing or being deleted, 5 on timeout, 6 when the server could not be
    /// reached until the timeout.
    Wait(WaitArgs),
    /// Register a new revision of the service's task definition with images swapped
    /// (`--image CONTAINER=IMAGE`), or use `--task-definition`, and update the service.
    /// With `--wait`, exit as `service wait` does.
    Deploy(DeployArgs),
    /// Create a REPLICA service of a task definition; with `--wait`, exit as `service wait`.
    Create(crate::service_manage::CreateArgs),
    /// Set a service's desired count; with `--wait`, exit as `service wait`.
    Scale(crate::service_manage::ScaleArgs),
    /// Delete a service (scaled to 0 first with `--force`).
    Delete(crate::service_manage::DeleteArgs),
}

#[derive(Args)]
pub struct DeployArgs {
    #[arg(long, default_value = "default")]
    cluster: String,
    #[arg(long)]
    service: String,
    /// CONTAINER=IMAGE; repeat for several containers.
    #[arg(long = "image", value_name = "CONTAINER=IMAGE")]
    images: Vec<String>,
    /// The task definition to deploy (family, family:revision or ARN). With --image, the
    /// base the images are swapped into; without, deployed as it is.
    #[arg(long)]
    task_definition: Option<String>,
    #[command(flatten)]
    follow: FollowArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    connection: Connection,
}

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
    output: OutputArgs,
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
    Unreachable = 6,
}

impl Outcome {
    /// The final state as `--output json` and `--output-env` report it.
    pub fn state(self) -> &'static str {
        match self {
            Outcome::Completed => "COMPLETED",
            Outcome::Failed => "FAILED",
            Outcome::RolledBack => "ROLLED_BACK",
            Outcome::Gone => "GONE",
            Outcome::TimedOut => "TIMED_OUT",
            Outcome::Unreachable => "UNREACHABLE",
        }
    }
}

pub async fn run(command: ServiceCommand) -> anyhow::Result<Outcome> {
    match command {
        ServiceCommand::Wait(args) => {
            let client = args.connection.client()?;
            let progress = args.output.progress();
            let (outcome, service) =
                follow(&client, &args.cluster, &args.service, Duration::from_secs(args.timeout), &progress).await?;
            progress.finish();
            let deployment = service["deployments"][0]["id"].as_str().unwrap_or_default().to_string();
            let arn = service["serviceArn"].as_str().unwrap_or_default().to_string();
            args.output.emit(
                "",
                &json!({"serviceArn": arn, "deploymentId": deployment, "state": outcome.state(), "deployments": service["deployments"]}),
                &[("BERTH_SERVICE_ARN", arn.clone()), ("BERTH_DEPLOYMENT_ID", deployment.clone()), ("BERTH_STATE", outcome.state().into())],
            )?;
            Ok(outcome)
        }
        ServiceCommand::Deploy(args) => deploy(args).await,
        ServiceCommand::Create(args) => crate::service_manage::create(args).await,
        ServiceCommand::Scale(args) => crate::service_manage::scale(args).await,
        ServiceCommand::Delete(args) => crate::service_manage::delete(args).await,
    }
}

/// Fails with the server's words.
pub async fn call(client: &ServerClient, operation: &str, body: &Value) -> anyhow::Result<Value> {
    match client.ecs::<Value>(operation, body).await {
        Ok((v, _)) => Ok(v),
        Err(e) => {
            let transient = e.is_transient();
            let message = crate::explain::explain(client, operation, body, &e).await;
            Err(CallError { message, transient }.into())
        }
    }
}

/// A failed call, in words; `transient` when trying again later may work (the server
/// could not be reached, or failed inside).
#[derive(Debug)]
pub struct CallError {
    pub message: String,
    pub transient: bool,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallError {}

/// Whether `error` is a call worth trying again.
pub fn is_transient(error: &anyhow::Error) -> bool {
    error.downcast_ref::<CallError>().is_some_and(|c| c.transient)
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
    // As `services-stable`: one deployment, COMPLETED, and every desired task running.
    let all_running = service["runningCount"] == service["desiredCount"] && service["pendingCount"].as_i64() == Some(0);
    match primary["rolloutState"].as_str() {
        Some("FAILED") => Some(Outcome::Failed),
        Some(s) if s == RolloutState::Completed.as_str() && deployments.len() == 1 && all_running => {
            Some(if rollback { Outcome::RolledBack } else { Outcome::Completed })
        }
        _ => None,
    }
}

/// `operation`, retried with back-off while the server cannot be reached or fails inside
/// (a restart), until `deadline`. `None` when the deadline passed first.
pub async fn call_retrying(
    client: &ServerClient,
    operation: &str,
    body: &Value,
    deadline: Instant,
    progress: &Progress,
) -> anyhow::Result<Option<Value>> {
    let mut pause = Duration::from_millis(250);
    let mut said = false;
    loop {
        match client.ecs::<Value>(operation, body).await {
            Ok((answer, _)) => {
                if said {
                    progress.line(&format!("reached {} again", client.endpoint()));
                }
                return Ok(Some(answer));
            }
            Err(e) if e.is_transient() => {
                if !said {
                    progress.line(&format!("cannot reach the server ({e}); retrying until the timeout"));
                    said = true;
                }
                if Instant::now() + pause > deadline {
                    return Ok(None);
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(e) => bail!(crate::explain::explain(client, operation, body, &e).await),
        }
    }
}

/// The events to show first: those since the followed deployment was created (a redeploy
/// that cannot place its tasks says why in an event that may predate the first poll).
fn events_since_deployment(service: &Value) -> Vec<&Value> {
    let since = service["deployments"][0]["createdAt"].as_f64().unwrap_or(f64::MAX) - 0.001;
    service["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["createdAt"].as_f64().is_some_and(|t| t >= since))
        .collect()
}

fn progress_text(service: &Value) -> String {
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

/// Follows a service until its rollout is over (or `timeout`), reporting counts per
/// deployment and new events as they come.
pub async fn follow(
    client: &ServerClient,
    cluster: &str,
    service_name: &str,
    timeout: Duration,
    progress: &Progress,
) -> anyhow::Result<(Outcome, Value)> {
    let deadline = Instant::now() + timeout;
    let mut seen_events: Option<Vec<String>> = None;
    let mut last_progress = String::new();
    let mut rolled_back = false;
    let mut failure_event = false;
    // The deployment the breaker failed, once seen; and when the counts last moved.
    let mut failed_deployment: Option<String> = None;
    let mut last_change = Instant::now();
    let mut said_waiting: Vec<String> = Vec::new();
    loop {
        let body = json!({"cluster": cluster, "services": [service_name]});
        let Some(answer) = call_retrying(client, "DescribeServices", &body, deadline, progress).await? else {
            progress.line(&format!("{service_name}: could not reach {} before the timeout", client.endpoint()));
            return Ok((Outcome::Unreachable, Value::Null));
        };
        let Some(service) = answer["services"].as_array().and_then(|s| s.first()).cloned() else {
            progress.line(&format!("service {service_name} not found in cluster {cluster}"));
            return Ok((Outcome::Gone, Value::Null));
        };
        let ids: Vec<String> = service["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["id"].as_str().map(String::from))
            .collect();
        match &seen_events {
            // First the events since the deployment began, then those that arrive, oldest first.
            None => {
                for e in events_since_deployment(&service).iter().rev() {
                    let message = e["message"].as_str().unwrap_or("");
                    progress.line(&format!("event: {message}"));
                    failure_event |= message.contains(") deployment failed:");
                }
                seen_events = Some(ids)
            }
            Some(seen) => {
                let fresh: Vec<&Value> = service["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|e| e["id"].as_str().is_some_and(|id| !seen.contains(&id.to_string())))
                    .collect();
                for e in fresh.iter().rev() {
                    let message = e["message"].as_str().unwrap_or("");
                    progress.line(&format!("event: {message}"));
                    // Events are kept, so a failure between two polls is still seen here.
                    failure_event |= message.contains(") deployment failed:");
                }
                seen_events = Some(ids);
            }
        }
        let now = progress_text(&service);
        if let Some(d) = service["deployments"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["rolloutState"].as_str() == Some(RolloutState::Failed.as_str()))
            .and_then(|d| d["id"].as_str())
        {
            failed_deployment.get_or_insert_with(|| d.to_string());
        }
        if now != last_progress {
            last_change = Instant::now();
        } else if last_change.elapsed() >= STALL_REPORT
            && service["deployments"][0]["rolloutState"] == RolloutState::InProgress.as_str()
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
                Outcome::Unreachable => "server unreachable",
            };
            progress.line(&format!("{service_name}: {word}"));
            if matches!(outcome, Outcome::Failed | Outcome::RolledBack) {
                let failed =
                    failed_deployment.clone().or_else(|| service["deployments"][0]["id"].as_str().map(String::from));
                if let Some(id) = failed {
                    report_failure(client, cluster, &id, progress).await;
                }
            }
            return Ok((outcome, service));
        }
        if Instant::now() > deadline {
            progress.line(&format!("{service_name}: timed out after {} s", timeout.as_secs()));
            return Ok((Outcome::TimedOut, service));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// How long the counts may stand still before `follow` says what the rollout waits for.
const STALL_REPORT: Duration = Duration::from_secs(5);

/// Prints why a failed deployment's tasks failed.
async fn report_failure(client: &ServerClient, cluster: &str, deployment: &str, progress: &Progress) {
    let Ok((causes, health)) = crate::rollout::failure_causes(client, cluster, deployment).await else { return };
    let what = if health { "its tasks failed their health checks" } else { "its tasks failed to start" };
    progress.line(&format!("deployment {deployment}: {what}"));
    for cause in causes.iter().take(5) {
        progress.line(&format!("  cause: {cause}"));
    }
}

/// Members of a described task definition that RegisterTaskDefinition takes back.
const REGISTERABLE: [&str; 16] = [
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
];

/// A RegisterTaskDefinition request for `described` with `images` (container → image) swapped in.
pub fn with_images(described: &Value, images: &[(String, String)]) -> anyhow::Result<Value> {
    let mut request = serde_json::Map::new();
    for key in REGISTERABLE {
        if let Some(v) = described.get(key).filter(|v| !v.is_null()) {
            request.insert(key.to_string(), v.clone());
        }
    }
    let containers = request
        .get_mut("containerDefinitions")
        .and_then(Value::as_array_mut)
        .context("the task definition has no containerDefinitions")?;
    for (name, image) in images {
        let names: Vec<String> = containers.iter().filter_map(|c| c["name"].as_str().map(String::from)).collect();
        let c = containers
            .iter_mut()
            .find(|c| c["name"].as_str() == Some(name))
            .with_context(|| format!("the task definition has no container '{name}' (it has: {})", names.join(", ")))?;
        c["image"] = json!(image);
    }
    Ok(Value::Object(request))
}

/// Refuses, before anything changes, an image of berth's own registry that is not there:
/// the rollout could only fail to pull it.
async fn check_images_in_registry(client: &ServerClient, images: &[(String, String)]) -> anyhow::Result<()> {
    if images.is_empty() {
        return Ok(());
    }
    let host = crate::compose::registry_host(client).await?;
    for (_, image) in images {
        let Some(rest) = image.strip_prefix(&format!("{host}/")) else { continue };
        let (repository, id) = match rest.split_once('@') {
            Some((repo, digest)) => (repo, json!({"imageDigest": digest})),
            None => match rest.rsplit_once(':') {
                Some((repo, tag)) => (repo, json!({"imageTag": tag})),
                None => (rest, json!({"imageTag": "latest"})),
            },
        };
        let found =
            client.ecr::<Value>("DescribeImages", &json!({"repositoryName": repository, "imageIds": [id]})).await;
        if found.is_err() {
            bail!("{image} is not in berth's registry: push it first (docker push {image}); nothing was deployed");
        }
    }
    Ok(())
}

fn parse_images(raw: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    raw.iter()
        .map(|s| match s.split_once('=') {
            Some((c, i)) if !c.is_empty() && !i.is_empty() => Ok((c.to_string(), i.to_string())),
            _ => bail!("--image takes CONTAINER=IMAGE, not '{s}'"),
        })
        .collect()
}

async fn deploy(args: DeployArgs) -> anyhow::Result<Outcome> {
    let images = parse_images(&args.images)?;
    if images.is_empty() && args.task_definition.is_none() {
        bail!("give --image CONTAINER=IMAGE (one or more), --task-definition, or both");
    }
    let client = args.connection.client()?;
    check_images_in_registry(&client, &images).await?;
    let described =
        call(&client, "DescribeServices", &json!({"cluster": args.cluster, "services": [args.service]})).await?;
    let service = described["services"]
        .as_array()
        .and_then(|s| s.first())
        .cloned()
        .with_context(|| format!("service '{}' not found in cluster '{}'", args.service, args.cluster))?;
    if service["status"].as_str() != Some("ACTIVE") {
        bail!("service '{}' is {}, not ACTIVE", args.service, service["status"].as_str().unwrap_or("?"));
    }
    let base = args.task_definition.clone().or_else(|| service["taskDefinition"].as_str().map(String::from));
    let base = base.context("the service has no task definition")?;
    let td_arn = if images.is_empty() {
        let d = call(&client, "DescribeTaskDefinition", &json!({"taskDefinition": base})).await?;
        d["taskDefinition"]["taskDefinitionArn"].as_str().context("no task definition ARN")?.to_string()
    } else {
        let d = call(&client, "DescribeTaskDefinition", &json!({"taskDefinition": base, "include": ["TAGS"]})).await?;
        let mut request = with_images(&d["taskDefinition"], &images)?;
        // The copy is no longer what `compose up` deployed: its fingerprint stays behind.
        let tags: Vec<&Value> = d["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["key"].as_str() != Some(crate::compose::FINGERPRINT_TAG))
            .collect();
        if !tags.is_empty() {
            request["tags"] = json!(tags);
        }
        let registered = call(&client, "RegisterTaskDefinition", &request).await?;
        registered["taskDefinition"]["taskDefinitionArn"].as_str().context("no task definition ARN")?.to_string()
    };
    let updated = call(
        &client,
        "UpdateService",
        &json!({"cluster": args.cluster, "service": args.service, "taskDefinition": td_arn}),
    )
    .await?;
    let service_arn = updated["service"]["serviceArn"].as_str().unwrap_or_default().to_string();
    let deployment = updated["service"]["deployments"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["status"].as_str() == Some("PRIMARY"))
        .and_then(|d| d["id"].as_str())
        .unwrap_or_default()
        .to_string();
    let progress = args.output.progress();
    progress.line(&format!("{}: deploying {td_arn} ({deployment})", args.service));
    let outcome = if args.follow.wait {
        follow(&client, &args.cluster, &args.service, Duration::from_secs(args.follow.timeout), &progress).await?.0
    } else {
        Outcome::Completed
    };
    progress.finish();
    let state = if args.follow.wait { outcome.state() } else { "IN_PROGRESS" };
    args.output.emit(
        &format!("{td_arn}\n{deployment} {state}"),
        &json!({"taskDefinitionArn": td_arn, "serviceArn": service_arn, "deploymentId": deployment, "state": state}),
        &[
            ("BERTH_TASK_DEFINITION_ARN", td_arn.clone()),
            ("BERTH_SERVICE_ARN", service_arn.clone()),
            ("BERTH_DEPLOYMENT_ID", deployment.clone()),
            ("BERTH_STATE", state.to_string()),
        ],
    )?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let svc = |state: &str, reason: &str, n: usize| {
            let d = json!({"rolloutState": state, "rolloutStateReason": reason});
            json!({"status": "ACTIVE", "deployments": vec![d; n], "desiredCount": 2, "runningCount": 2, "pendingCount": 0})
        };
        let mut scaling = svc("COMPLETED", "ECS deployment ecs-svc/1 completed.", 1);
        scaling["desiredCount"] = json!(3);
        scaling["pendingCount"] = json!(1);
        assert_eq!(verdict(&scaling, false), None, "a scale-out still pending is not stable");
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

    #[test]
    fn images_are_swapped_into_a_registerable_request() {
        let described = json!({
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:0:task-definition/web:3", "revision": 3, "status": "ACTIVE",
            "family": "web", "networkMode": "bridge", "requiresAttributes": [], "compatibilities": ["EC2"],
            "containerDefinitions": [{"name": "app", "image": "old:1"}, {"name": "side", "image": "side:1"}]
        });
        let r = with_images(&described, &[("app".into(), "new:2".into())]).unwrap();
        assert_eq!(r["containerDefinitions"][0]["image"], "new:2");
        assert_eq!(r["containerDefinitions"][1]["image"], "side:1");
        assert!(r.get("revision").is_none() && r.get("status").is_none() && r.get("requiresAttributes").is_none());
        let e = with_images(&described, &[("nope".into(), "x".into())]).unwrap_err();
        assert!(e.to_string().contains("has: app, side"), "{e}");
        assert!(parse_images(&["bad".into()]).is_err());
    }
}
