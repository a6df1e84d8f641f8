//! `berth task run`: run one task, optionally wait for it to stop and exit with its
//! essential container's exit code, as a CI step expects of `docker run`.

use std::time::{Duration, Instant};

use std::sync::Arc;

use anyhow::Context;
use berth_client::ServerClient;
use berth_model::{
    ecs::{op, DescribeTaskDefinitionRequest, DescribeTasksRequest, RunTaskRequest, StopTaskRequest},
    task::{ContainerOverride, Task, TaskOverride, TaskStatus},
    task_definition::TaskDefinition,
    KeyValuePair,
};
use clap::Args;
use serde_json::json;

use crate::{
    calls::{request, request_retrying, Connection},
    ui::OutputArgs,
};

/// Exit code when the task stopped without its essential container exiting (it never
/// started, or was stopped from outside), like `docker run`'s 125.
pub const DID_NOT_RUN: i32 = 125;
/// Exit code when `--wait` gave up (`timeout`'s 124).
pub const TIMED_OUT: i32 = 124;
/// Exit code when the server could not be reached until the deadline.
pub const UNREACHABLE: i32 = 6;

#[derive(Args)]
pub struct RunArgs {
    #[arg(long, default_value = "default")]
    cluster: String,
    /// family, family:revision or ARN.
    #[arg(long)]
    task_definition: String,
    /// Wait for the task to stop and exit with its essential container's exit code.
    #[arg(long)]
    wait: bool,
    /// Show the containers' output: from berth's logs for containers that use the awslogs
    /// driver, else from the local Docker engine (so the task must run on this host, as
    /// with `berth up`).
    #[arg(long)]
    logs: bool,
    /// With --wait: give up after this many seconds (exit 124). The task keeps running
    /// unless --stop-on-timeout.
    #[arg(long, default_value_t = 3600)]
    timeout: u64,
    /// With --wait: stop the task when the timeout is reached.
    #[arg(long)]
    stop_on_timeout: bool,
    #[arg(long)]
    started_by: Option<String>,
    /// Override the command of the container (`--container`, default the first essential
    /// one): one argument per `--command`, e.g. `--command sh --command -c --command 'make test'`.
    #[arg(long = "command", value_name = "ARG", allow_hyphen_values = true)]
    command: Vec<String>,
    /// Set an environment variable in that container; repeat for more.
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// The container `--command` and `--env` apply to.
    #[arg(long)]
    container: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    connection: Connection,
}

/// The exit code a stopped task stands for: its first essential container's, else 125.
pub fn exit_code(task: &Task, essential: &[String]) -> i32 {
    task.containers
        .iter()
        .filter(|c| essential.is_empty() || essential.contains(&c.name))
        .find_map(|c| c.exit_code)
        .map(|c| c as i32)
        .unwrap_or(DID_NOT_RUN)
}

pub async fn run(args: RunArgs) -> anyhow::Result<i32> {
    let client = args.connection.client()?;
    let mut run = RunTaskRequest {
        cluster: Some(args.cluster.clone()),
        task_definition: Some(args.task_definition.clone()),
        count: Some(1),
        started_by: args.started_by.clone(),
        ..Default::default()
    };
    if !args.command.is_empty() || !args.env.is_empty() {
        run.overrides = Some(overrides(&client, &args).await?);
    }
    let answer = request::<op::RunTask>(&client, &run).await?;
    let Some(task) = answer.tasks.into_iter().next() else {
        let reasons: Vec<String> = answer
            .failures
            .iter()
            .map(|f| format!("{} {}", f.reason.as_deref().unwrap_or(""), f.detail.as_deref().unwrap_or("")))
            .collect();
        anyhow::bail!("RunTask placed no task: {}", reasons.join("; "));
    };
    let (arn, td) = (task.task_arn.clone(), task.task_definition_arn.clone());
    let progress = args.output.progress();
    progress.line(&format!("started {arn}"));
    if !args.wait {
        progress.finish();
        args.output.emit(
            &arn,
            &json!({"taskArn": arn, "taskDefinitionArn": td, "state": task.last_status}),
            &[("BERTH_TASK_ARN", arn.clone()), ("BERTH_TASK_DEFINITION_ARN", td.clone())],
        )?;
        return Ok(0);
    }
    let (stopped, code) = match wait_stopped(
        &client,
        &args.cluster,
        &arn,
        &td,
        args.logs,
        Duration::from_secs(args.timeout),
        &progress,
    )
    .await?
    {
        Waited::Stopped(task, code) => (task, code),
        Waited::Unreachable => return Ok(UNREACHABLE),
        Waited::TimedOut if args.stop_on_timeout => {
            let reason = format!("berth task run: timed out after {} s", args.timeout);
            let stop =
                StopTaskRequest { cluster: Some(args.cluster.clone()), task: Some(arn.clone()), reason: Some(reason) };
            request::<op::StopTask>(&client, &stop).await?;
            progress.line(&format!("{arn}: timed out after {} s; asked it to stop", args.timeout));
            progress.finish();
            return Ok(TIMED_OUT);
        }
        Waited::TimedOut => {
            progress.line(&format!(
                    "{arn}: timed out after {} s; the task is still running (stop it with `aws ecs stop-task --cluster {} --task {arn}`, or pass --stop-on-timeout)",
                    args.timeout, args.cluster
                ));
            progress.finish();
            return Ok(TIMED_OUT);
        }
    };
    let reason = stopped.stopped_reason.as_deref().unwrap_or("");
    let state = stopped.last_status;
    progress.line(&format!("{arn}: {state} ({reason}), exit code {code}"));
    progress.finish();
    args.output.emit(
        "",
        &json!({"taskArn": arn, "taskDefinitionArn": td, "state": state, "stoppedReason": reason, "exitCode": code}),
        &[
            ("BERTH_TASK_ARN", arn.clone()),
            ("BERTH_TASK_DEFINITION_ARN", td.clone()),
            ("BERTH_STATE", state.to_string()),
            ("BERTH_EXIT_CODE", code.to_string()),
        ],
    )?;
    Ok(code)
}

/// How waiting for a task ended.
pub enum Waited {
    /// The task, and the exit code it stands for.
    Stopped(Box<Task>, i32),
    TimedOut,
    Unreachable,
}

async fn describe_definition(client: &ServerClient, reference: &str) -> anyhow::Result<Arc<TaskDefinition>> {
    let describe = DescribeTaskDefinitionRequest { task_definition: Some(reference.into()), include: Vec::new() };
    Ok(request::<op::DescribeTaskDefinition>(client, &describe).await?.task_definition)
}

/// The RunTask `overrides` for `--command`/`--env`: on `--container`, else the task
/// definition's first essential container.
async fn overrides(client: &ServerClient, args: &RunArgs) -> anyhow::Result<TaskOverride> {
    let td = describe_definition(client, &args.task_definition).await?;
    let name = match &args.container {
        Some(n) => n.clone(),
        None => td
            .container_definitions
            .iter()
            .find(|c| c.is_essential())
            .and_then(|c| c.name.clone())
            .context("the task definition has no essential container")?,
    };
    let environment: Vec<KeyValuePair> = args
        .env
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok(KeyValuePair { name: Some(k.into()), value: Some(v.into()) }),
            _ => anyhow::bail!("--env takes KEY=VALUE, not '{kv}'"),
        })
        .collect::<anyhow::Result<_>>()?;
    let container = ContainerOverride {
        name: Some(name),
        command: (!args.command.is_empty()).then(|| args.command.clone()),
        environment: (!environment.is_empty()).then_some(environment),
        ..Default::default()
    };
    Ok(TaskOverride { container_overrides: vec![container], ..Default::default() })
}

/// Polls a task until it is STOPPED (riding out a server restart), or the timeout.
pub async fn wait_stopped(
    client: &ServerClient,
    cluster: &str,
    arn: &str,
    td: &str,
    logs: bool,
    timeout: Duration,
    progress: &crate::ui::Progress,
) -> anyhow::Result<Waited> {
    let deadline = Instant::now() + timeout;
    let describe = DescribeTaskDefinitionRequest { task_definition: Some(td.into()), include: Vec::new() };
    let Some(described) = request_retrying::<op::DescribeTaskDefinition>(client, &describe, deadline, progress).await?
    else {
        return Ok(Waited::Unreachable);
    };
    let essential: Vec<String> = described
        .task_definition
        .container_definitions
        .iter()
        .filter(|c| c.is_essential())
        .filter_map(|c| c.name.clone())
        .collect();
    let mut last = None;
    let mut followed = Vec::new();
    let mut followed_children: Vec<std::process::Child> = Vec::new();
    let mut follower = crate::logs::LogFollower::new(client.clone(), None, false);
    let describe =
        DescribeTasksRequest { cluster: Some(cluster.into()), tasks: Some(vec![arn.into()]), include: Vec::new() };
    let stopped = loop {
        let Some(d) = request_retrying::<op::DescribeTasks>(client, &describe, deadline, progress).await? else {
            return Ok(Waited::Unreachable);
        };
        let Some(t) = d.tasks.into_iter().next() else {
            anyhow::bail!("task {arn} is not known in cluster '{cluster}' any more");
        };
        if last != Some(t.last_status) {
            progress.status(&format!("{arn}: {}", t.last_status));
            last = Some(t.last_status);
        }
        if logs {
            // awslogs containers' output comes from berth's logs; the others' from the
            // local engine (the task must run on this host, as with `berth up`).
            let elsewhere = follower.add_tasks(std::slice::from_ref(&t), None).await?;
            for (_, id) in elsewhere.iter().filter(|(_, id)| !id.is_empty()) {
                if !followed.contains(id) {
                    followed.push(id.clone());
                    // `docker logs --follow` streams until the container exits.
                    if let Ok(child) = std::process::Command::new("docker").args(["logs", "--follow", id]).spawn() {
                        followed_children.push(child);
                    }
                }
            }
        }
        if t.last_status == TaskStatus::Stopped {
            break t;
        }
        if Instant::now() > deadline {
            return Ok(Waited::TimedOut);
        }
        if logs {
            follower.poll(Duration::from_millis(250)).await?;
        } else {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    };
    if logs {
        // The agent reports STOPPED once the output has reached the server.
        follower.drain().await?;
    }
    // Each `docker logs --follow` ends once its container has stopped; let them finish
    // printing (within a few seconds) before reporting.
    let drained_by = Instant::now() + Duration::from_secs(5);
    for mut child in followed_children {
        while child.try_wait().ok().flatten().is_none() && Instant::now() < drained_by {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    let code = exit_code(&stopped, &essential);
    Ok(Waited::Stopped(Box::new(stopped), code))
}

#[cfg(test)]
mod tests {
    use berth_model::task::Container;

    use super::*;

    #[test]
    fn exit_codes() {
        let container =
            |name: &str, code: Option<i64>| Container { name: name.into(), exit_code: code, ..Default::default() };
        let t = Task { containers: vec![container("side", Some(0)), container("app", Some(3))], ..Default::default() };
        assert_eq!(exit_code(&t, &["app".into()]), 3);
        let never = Task { containers: vec![container("app", None)], ..Default::default() };
        assert_eq!(exit_code(&never, &["app".into()]), DID_NOT_RUN);
    }
}
