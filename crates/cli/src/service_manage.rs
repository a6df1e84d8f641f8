//! `berth service create | scale | delete`: the service calls a deploy script needs, with
//! the same `--wait` and exit codes as `berth service wait`.

use std::time::Duration;

use berth_model::{
    ecs::{op, CreateServiceRequest, DeleteServiceRequest, UpdateServiceRequest},
    service::Service,
    status::RolloutState,
};
use clap::Args;
use serde_json::json;

use crate::{
    calls::{request, Connection},
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
    let req = CreateServiceRequest {
        cluster: Some(args.cluster.clone()),
        service_name: Some(args.service.clone()),
        task_definition: Some(args.task_definition.clone()),
        desired_count: Some(args.desired_count),
        ..Default::default()
    };
    let service = request::<op::CreateService>(&client, &req).await?.service;
    finish(&client, &args.cluster, &args.service, &service, &args.follow, &args.output, "created").await
}

pub async fn scale(args: ScaleArgs) -> anyhow::Result<Outcome> {
    let client = args.connection.client()?;
    let req = UpdateServiceRequest {
        cluster: Some(args.cluster.clone()),
        service: Some(args.service.clone()),
        desired_count: Some(args.count),
        ..Default::default()
    };
    let service = request::<op::UpdateService>(&client, &req).await?.service;
    let word = format!("desired count set to {}", args.count);
    finish(&client, &args.cluster, &args.service, &service, &args.follow, &args.output, &word).await
}

pub async fn delete(args: DeleteArgs) -> anyhow::Result<Outcome> {
    let client = args.connection.client()?;
    let req = DeleteServiceRequest {
        cluster: Some(args.cluster.clone()),
        service: Some(args.service.clone()),
        force: Some(args.force),
    };
    let service = request::<op::DeleteService>(&client, &req).await?.service;
    let (arn, status) = (service.service_arn, service.status.to_string());
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
    service: &Service,
    wait: &FollowArgs,
    output: &OutputArgs,
    done: &str,
) -> anyhow::Result<Outcome> {
    let arn = service.service_arn.clone();
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
