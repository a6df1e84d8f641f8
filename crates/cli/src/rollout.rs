//! What a rollout is waiting for, and why it failed, in words a person can act on: read
//! from the deployment's own tasks (their status, health, stop reasons and exit codes).

use berth_client::ServerClient;
use berth_model::{status::HealthStatus, task::TaskStatus};
use serde_json::{json, Value};

use crate::service::call;

/// The stop reason the service controller gives a task whose health check failed.
const HEALTH_STOP_REASON: &str = "Task failed container health checks";

fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The tasks a deployment started (`desired`: RUNNING or STOPPED).
async fn deployment_tasks(
    client: &ServerClient,
    cluster: &str,
    deployment: &str,
    desired: TaskStatus,
) -> anyhow::Result<Vec<Value>> {
    let listed = call(
        client,
        "ListTasks",
        &json!({"cluster": cluster, "startedBy": deployment, "desiredStatus": desired.as_str()}),
    )
    .await?;
    let arns: Vec<Value> = listed["taskArns"].as_array().cloned().unwrap_or_default();
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let arns: Vec<Value> = arns.into_iter().take(100).collect();
    let described = call(client, "DescribeTasks", &json!({"cluster": cluster, "tasks": arns})).await?;
    Ok(described["tasks"].as_array().cloned().unwrap_or_default())
}

/// Why the deployment's running tasks do not count yet, one line per task.
pub async fn waiting_for(client: &ServerClient, cluster: &str, service: &Value) -> anyhow::Result<Vec<String>> {
    let primary = &service["deployments"][0];
    let Some(id) = primary["id"].as_str() else { return Ok(Vec::new()) };
    let td = primary["taskDefinition"].as_str().unwrap_or_default();
    let described = call(client, "DescribeTaskDefinition", &json!({"taskDefinition": td})).await?;
    let definitions = described["taskDefinition"]["containerDefinitions"].as_array().cloned().unwrap_or_default();
    let checked =
        |name: &str| definitions.iter().any(|c| c["name"].as_str() == Some(name) && !c["healthCheck"].is_null());
    let essential = |name: &str| {
        definitions.iter().any(|c| c["name"].as_str() == Some(name) && c["essential"].as_bool() != Some(false))
    };
    let any_checked =
        definitions.iter().any(|c| c["essential"].as_bool() != Some(false) && !c["healthCheck"].is_null());
    let mut lines = Vec::new();
    for t in deployment_tasks(client, cluster, id, TaskStatus::Running).await? {
        let task = short(t["taskArn"].as_str().unwrap_or_default());
        let status = t["lastStatus"].as_str().unwrap_or_default();
        if status != TaskStatus::Running.as_str() {
            lines.push(format!("task {task} is {status}"));
            continue;
        }
        let health = t["healthStatus"].as_str().unwrap_or(HealthStatus::Unknown.as_str());
        if !any_checked || health == HealthStatus::Healthy.as_str() {
            continue;
        }
        for c in t["containers"].as_array().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or_default();
            let container_health = c["healthStatus"].as_str().unwrap_or(HealthStatus::Unknown.as_str());
            if !essential(name) || container_health == HealthStatus::Healthy.as_str() {
                continue;
            }
            if checked(name) {
                lines.push(format!("task {task} health {health}: container {name} is {container_health}"));
            } else {
                lines.push(format!("task {task} health {health}: container {name} has no health check"));
            }
        }
    }
    Ok(lines)
}

/// Why a deployment's tasks failed: the distinct causes among its stopped tasks, and
/// whether they were health-check failures rather than failures to start.
pub async fn failure_causes(
    client: &ServerClient,
    cluster: &str,
    deployment: &str,
) -> anyhow::Result<(Vec<String>, bool)> {
    let mut causes: Vec<String> = Vec::new();
    let mut health = false;
    for t in deployment_tasks(client, cluster, deployment, TaskStatus::Stopped).await? {
        let reason = t["stoppedReason"].as_str().unwrap_or_default().to_string();
        health |= reason == HEALTH_STOP_REASON;
        let mut details: Vec<String> = Vec::new();
        for c in t["containers"].as_array().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or_default();
            if reason == HEALTH_STOP_REASON {
                // Stopped for its health: the exit code is only the stop's.
                if c["healthStatus"].as_str() == Some(HealthStatus::Unhealthy.as_str()) {
                    details.push(format!("{name} failed its health check"));
                }
            } else if let Some(r) = c["reason"].as_str().filter(|r| !reason.contains(*r)) {
                details.push(format!("{name}: {r}"));
            } else if let Some(code) = c["exitCode"].as_i64().filter(|c| *c != 0) {
                details.push(format!("{name} exited with code {code}"));
            }
        }
        let cause = if details.is_empty() { reason } else { format!("{reason} ({})", details.join("; ")) };
        if !cause.is_empty() && !causes.contains(&cause) {
            causes.push(cause);
        }
    }
    Ok((causes, health))
}
