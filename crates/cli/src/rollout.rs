//! What a rollout is waiting for, and why it failed, in words a person can act on: read
//! from the deployment's own tasks (their status, health, stop reasons and exit codes).

use berth_client::ServerClient;
use berth_model::{
    ecs::{op, DescribeTaskDefinitionRequest, DescribeTasksRequest, ListTasksRequest},
    service::Service,
    status::{DesiredStatus, HealthStatus},
    task::{Task, TaskStatus},
};

use crate::calls::request;

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
    desired: DesiredStatus,
) -> anyhow::Result<Vec<Task>> {
    let list = ListTasksRequest {
        cluster: Some(cluster.into()),
        started_by: Some(deployment.into()),
        desired_status: Some(desired.as_str().into()),
        ..Default::default()
    };
    let mut arns = request::<op::ListTasks>(client, &list).await?.task_arns;
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    arns.truncate(100);
    let describe = DescribeTasksRequest { cluster: Some(cluster.into()), tasks: Some(arns), include: Vec::new() };
    Ok(request::<op::DescribeTasks>(client, &describe).await?.tasks)
}

/// Why the deployment's running tasks do not count yet, one line per task.
pub async fn waiting_for(client: &ServerClient, cluster: &str, service: &Service) -> anyhow::Result<Vec<String>> {
    let Some(primary) = service.deployments.first() else { return Ok(Vec::new()) };
    let describe =
        DescribeTaskDefinitionRequest { task_definition: Some(primary.task_definition.clone()), include: Vec::new() };
    let td = request::<op::DescribeTaskDefinition>(client, &describe).await?.task_definition;
    let definition = |name: &str| td.container_definitions.iter().find(|c| c.name.as_deref() == Some(name));
    let checked = |name: &str| definition(name).is_some_and(|c| c.health_check.is_some());
    let essential = |name: &str| definition(name).is_some_and(|c| c.is_essential());
    let any_checked = td.container_definitions.iter().any(|c| c.is_essential() && c.health_check.is_some());
    let mut lines = Vec::new();
    for t in deployment_tasks(client, cluster, &primary.id, DesiredStatus::Running).await? {
        let task = short(&t.task_arn);
        if t.last_status != TaskStatus::Running {
            lines.push(format!("task {task} is {}", t.last_status));
            continue;
        }
        let health = t.health_status;
        if !any_checked || health == HealthStatus::Healthy {
            continue;
        }
        for c in &t.containers {
            if !essential(&c.name) || c.health_status == HealthStatus::Healthy {
                continue;
            }
            let (name, container_health) = (&c.name, c.health_status);
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
    for t in deployment_tasks(client, cluster, deployment, DesiredStatus::Stopped).await? {
        let reason = t.stopped_reason.clone().unwrap_or_default();
        health |= reason == HEALTH_STOP_REASON;
        let mut details: Vec<String> = Vec::new();
        for c in &t.containers {
            let name = &c.name;
            if reason == HEALTH_STOP_REASON {
                // Stopped for its health: the exit code is only the stop's.
                if c.health_status == HealthStatus::Unhealthy {
                    details.push(format!("{name} failed its health check"));
                }
            } else if let Some(r) = c.reason.as_deref().filter(|r| !reason.contains(*r)) {
                details.push(format!("{name}: {r}"));
            } else if let Some(code) = c.exit_code.filter(|c| *c != 0) {
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
