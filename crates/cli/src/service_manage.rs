//! `berth service create | scale | delete`: the service calls a deploy script needs, with
//! the same `--wait` and exit codes as `berth service wait`.

use std::time::Duration;

use clap::Args;
use serde_json::{json, Value};

use berth_model::status::RolloutState;

use crate::{
    calls::{call, Connection},
    follow::{follow, FollowArgs, Outcome},
    ui::OutputArgs,
};

#[derive(Args)]
pub struct CreateArgs {
    #[arg(long, default_value = "default")]
    cluster: String,
    #[arg(long)]
    service: String,
    /// family, family:revision or ARN.
    #[arg(long)]
    task_definition: String,
    #[arg(long, default_value_t = 1)]
    desired_count: i64,
    #[command(flatten)]
    follow: FollowArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    connection: Connection,
}

#[derive(Args)]
pub struct ScaleArgs {
    #[arg(long, default_value = "default")]
    cluster: String,
    #[arg(long)]
    service: String,
    /// The new desired count.
    #[arg(long)]
    count: i64,
    #[command(flatten)]
    follow: FollowArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    connection: Connection,
}

#[derive(Args)]
pub struct DeleteArgs {
    #[arg(long, default_value = "default")]
    cluster: String,
    #[arg(long)]
    service: String,
    /// Delete even while the service has tasks (they are stopped).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    connection: Connection,
}

pub async fn create(args: CreateArgs) -> anyhow::Result<Outcome> {
    let client = args.connection.client()?;
    let body = json!({
        "cluster": args.cluster,
        "serviceName": args.service,
        "taskDefinition": args.task_definition,
        "desiredCount": args.desired_count,
    });
    let answer = call(&client, "CreateService", &body).await?;
    finish(&client, &args.cluster, &args.service, &answer["service"], &args.follow, &args.output, "created").await
}

pub async fn scale(args: ScaleArgs) -> anyhow::Result<Outcome> {
    let client = args.connection.client()?;
    let body = json!({"cluster": args.cluster, "service": args.service, "desiredCount": args.count});
    let answer = call(&client, "UpdateService", &body).await?;
    let word = format!("desired count set to {}", args.count);
    finish(&client, &args.cluster, &args.service, &answer["service"], &args.follow, &args.output, &word).await
}

pub async fn delete(args: DeleteArgs) -> anyhow::Result<Outcome> {
    let client = args.connection.client()?;
    let body = json!({"cluster": args.cluster, "service": args.service, "force": args.force});
    let answer = call(&client, "DeleteService", &body).await?;
    let arn = answer["service"]["serviceArn"].as_str().unwrap_or_default().to_string();
    let status = answer["service"]["status"].as_str().unwrap_or_default().to_string();
    args.output.emit(
        &format!("{arn} {status}"),
        &json!({"serviceArn": arn, "status": status}),
        &[("BERTH_SERVICE_ARN", arn.clone()), ("BERTH_STATE", status.clone())],
    )?;
    Ok(Outcome::Completed)
}

/// Reports what was done and, with `--wait`, follows the rollout to its end.
async fn finish(
    client: &berth_client::ServerClient,
    cluster: &str,
    service_name: &str,
    service: &Value,
    wait: &FollowArgs,
    output: &OutputArgs,
    done: &str,
) -> anyhow::Result<Outcome> {
    let arn = service["serviceArn"].as_str().unwrap_or_default().to_string();
    let progress = output.progress();
    progress.line(&format!("{service_name}: {done}"));
    let outcome = if wait.wait {
        follow(client, cluster, service_name, Duration::from_secs(wait.timeout), &progress).await?.0
    } else {
        Outcome::Completed
    };
    progress.finish();
    let state = if wait.wait { outcome.state() } else { RolloutState::InProgress.as_str() };
    output.emit(
        &format!("{arn} {state}"),
        &json!({"serviceArn": arn, "state": state}),
        &[("BERTH_SERVICE_ARN", arn.clone()), ("BERTH_STATE", state.to_string())],
    )?;
    Ok(outcome)
}
