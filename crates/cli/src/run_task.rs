//! `berth task run`: run one task, optionally wait for it to stop and exit with its
//! essential container's exit code, as a CI step expects of `docker run`.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::{json, Value};

use crate::{service::call, task::Connection, ui::OutputArgs};

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
    /// Show the container's output (read from the local Docker engine, so the task must run
    /// on this host, as with `berth up`).
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
pub fn exit_code(task: &Value, essential: &[String]) -> i32 {
    let containers = task["containers"].as_array().cloned().unwrap_or_default();
    containers
        .iter()
        .filter(|c| essential.is_empty() || c["name"].as_str().is_some_and(|n| essential.iter().any(|e| e == n)))
        .find_map(|c| c["exitCode"].as_i64())
        .map(|c| c as i32)
        .unwrap_or(DID_NOT_RUN)
}

pub async fn run(args: RunArgs) -> anyhow::Result<i32> {
    let client = args.connection.client()?;
    let mut body = json!({"cluster": args.cluster, "taskDefinition": args.task_definition, "count": 1});
    if let Some(s) = &args.started_by {
        body["startedBy"] = json!(s);
    }
    if !args.command.is_empty() || !args.env.is_empty() {
        body["overrides"] = overrides(&client, &args).await?;
    }
    let answer = call(&client, "RunTask", &body).await?;
    let Some(task) = answer["tasks"].as_array().and_then(|t| t.first()).cloned() else {
        let reasons: Vec<String> = answer["failures"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| format!("{} {}", f["reason"].as_str().unwrap_or(""), f["detail"].as_str().unwrap_or("")))
            .collect();
        anyhow::bail!("RunTask placed no task: {}", reasons.join("; "));
    };
    let arn = task["taskArn"].as_str().context("no task ARN")?.to_string();
    let td = task["taskDefinitionArn"].as_str().unwrap_or_default().to_string();
    let progress = args.output.progress();
    progress.line(&format!("started {arn}"));
    if !args.wait {
        progress.finish();
        args.output.emit(
            &arn,
            &json!({"taskArn": arn, "taskDefinitionArn": td, "state": "PROVISIONING"}),
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
            call(&client, "StopTask", &json!({"cluster": args.cluster, "task": arn, "reason": reason})).await?;
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
    let reason = stopped["stoppedReason"].as_str().unwrap_or("");
    progress.line(&format!("{arn}: STOPPED ({reason}), exit code {code}"));
    progress.finish();
    args.output.emit(
        "",
        &json!({"taskArn": arn, "taskDefinitionArn": td, "state": "STOPPED", "stoppedReason": reason, "exitCode": code}),
        &[
            ("BERTH_TASK_ARN", arn.clone()),
            ("BERTH_TASK_DEFINITION_ARN", td.clone()),
            ("BERTH_STATE", "STOPPED".into()),
            ("BERTH_EXIT_CODE", code.to_string()),
        ],
    )?;
    Ok(code)
}

/// How waiting for a task ended.
pub enum Waited {
    /// The task, and the exit code it stands for.
    Stopped(Value, i32),
    TimedOut,
    Unreachable,
}

/// The RunTask `overrides` for `--command`/`--env`: on `--container`, else the task
/// definition's first essential container.
async fn overrides(client: &berth_client::ServerClient, args: &RunArgs) -> anyhow::Result<Value> {
    let described = call(client, "DescribeTaskDefinition", &json!({"taskDefinition": args.task_definition})).await?;
    let containers = described["taskDefinition"]["containerDefinitions"].as_array().cloned().unwrap_or_default();
    let name = match &args.container {
        Some(n) => n.clone(),
        None => containers
            .iter()
            .find(|c| c["essential"].as_bool() != Some(false))
            .and_then(|c| c["name"].as_str())
            .context("the task definition has no essential container")?
            .to_string(),
    };
    let mut o = json!({"name": name});
    if !args.command.is_empty() {
        o["command"] = json!(args.command);
    }
    let env: Vec<Value> = args
        .env
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok(json!({"name": k, "value": v})),
            _ => anyhow::bail!("--env takes KEY=VALUE, not '{kv}'"),
        })
        .collect::<anyhow::Result<_>>()?;
    if !env.is_empty() {
        o["environment"] = json!(env);
    }
    Ok(json!({"containerOverrides": [o]}))
}

/// Polls a task until it is STOPPED (riding out a server restart), or the timeout.
pub async fn wait_stopped(
    client: &berth_client::ServerClient,
    cluster: &str,
    arn: &str,
    td: &str,
    logs: bool,
    timeout: Duration,
    progress: &crate::ui::Progress,
) -> anyhow::Result<Waited> {
    let deadline = Instant::now() + timeout;
    let Some(described) = crate::service::call_retrying(
        client,
        "DescribeTaskDefinition",
        &json!({"taskDefinition": td}),
        deadline,
        progress,
    )
    .await?
    else {
        return Ok(Waited::Unreachable);
    };
    let essential: Vec<String> = described["taskDefinition"]["containerDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["essential"].as_bool() != Some(false))
        .filter_map(|c| c["name"].as_str().map(String::from))
        .collect();
    let mut last = String::new();
    let mut followed = Vec::new();
    let mut followed_children: Vec<std::process::Child> = Vec::new();
    let stopped = loop {
        let body = json!({"cluster": cluster, "tasks": [arn]});
        let Some(d) = crate::service::call_retrying(client, "DescribeTasks", &body, deadline, progress).await? else {
            return Ok(Waited::Unreachable);
        };
        let t = d["tasks"][0].clone();
        let status = t["lastStatus"].as_str().unwrap_or("").to_string();
        if status != last {
            progress.status(&format!("{arn}: {status}"));
            last = status.clone();
        }
        if logs {
            for c in t["containers"].as_array().into_iter().flatten() {
                if let Some(id) = c["runtimeId"].as_str().filter(|id| !followed.contains(&id.to_string())) {
                    followed.push(id.to_string());
                    // `docker logs --follow` streams until the container exits.
                    if let Ok(child) = std::process::Command::new("docker").args(["logs", "--follow", id]).spawn() {
                        followed_children.push(child);
                    }
                }
            }
        }
        if status == "STOPPED" {
            break t;
        }
        if Instant::now() > deadline {
            return Ok(Waited::TimedOut);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
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
    Ok(Waited::Stopped(stopped, code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        let t = json!({"containers": [{"name": "side", "exitCode": 0}, {"name": "app", "exitCode": 3}]});
        assert_eq!(exit_code(&t, &["app".into()]), 3);
        assert_eq!(exit_code(&json!({"containers": [{"name": "app"}]}), &["app".into()]), DID_NOT_RUN);
    }
}
