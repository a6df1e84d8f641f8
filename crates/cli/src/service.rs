//! `berth service wait` follows a service's rollout live and says how it ended (unlike
//! `aws ecs wait services-stable`, a rollback is never reported as success);
//! `berth service deploy` swaps images into a new task-definition revision, updates the
//! service and, with `--wait`, follows the rollout the same way.

use std::time::Duration;

use anyhow::{bail, Context};
use berth_client::ServerClient;
use clap::{Args, Subcommand};
use serde_json::json;

use berth_model::{
    ecr::{DescribeImagesResponse, ImageIdentifier},
    ecs::{op, DescribeServicesRequest, DescribeTaskDefinitionRequest, UpdateServiceRequest},
    status::{DeploymentStatus, ServiceStatus},
    task_definition::{Registration, TaskDefinition},
};

use crate::{
    calls::{request, Connection},
    compose::describe_images,
    follow::{follow, FollowArgs, Outcome},
    ui::OutputArgs,
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
    /// Live CPU and memory of the service's tasks, as `docker stats` shows containers
    /// (`--no-stream` prints once).
    Stats(crate::service_stats::StatsArgs),
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

pub async fn run(command: ServiceCommand) -> anyhow::Result<Outcome> {
    match command {
        ServiceCommand::Wait(args) => {
            let client = args.connection.client()?;
            let progress = args.output.progress();
            let (outcome, service) =
                follow(&client, &args.cluster, &args.service, Duration::from_secs(args.timeout), &progress).await?;
            progress.finish();
            let service = service.unwrap_or_default();
            let deployment = service.deployments.first().map(|d| d.id.clone()).unwrap_or_default();
            let arn = service.service_arn;
            args.output.emit(
                "",
                &json!({"serviceArn": arn, "deploymentId": deployment, "state": outcome.state(), "deployments": service.deployments}),
                &[("BERTH_SERVICE_ARN", arn.clone()), ("BERTH_DEPLOYMENT_ID", deployment.clone()), ("BERTH_STATE", outcome.state().into())],
            )?;
            Ok(outcome)
        }
        ServiceCommand::Deploy(args) => deploy(args).await,
        ServiceCommand::Create(args) => crate::service_manage::create(args).await,
        ServiceCommand::Scale(args) => crate::service_manage::scale(args).await,
        ServiceCommand::Delete(args) => crate::service_manage::delete(args).await,
        ServiceCommand::Stats(args) => crate::service_stats::run(args).await.map(|()| Outcome::Completed),
    }
}

/// A RegisterTaskDefinition request for `described` with `images` (container → image) swapped in.
pub fn with_images(described: &TaskDefinition, images: &[(String, String)]) -> anyhow::Result<Registration> {
    let mut request = described.registration();
    let containers = request.container_definitions.get_or_insert_with(Vec::new);
    let names: Vec<&str> = described.container_definitions.iter().filter_map(|c| c.name.as_deref()).collect();
    for (name, image) in images {
        let c = containers
            .iter_mut()
            .find(|c| c.name.as_deref() == Some(name))
            .with_context(|| format!("the task definition has no container '{name}' (it has: {})", names.join(", ")))?;
        c.image = Some(image.clone());
    }
    Ok(request)
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
            Some((repo, digest)) => (repo, ImageIdentifier::digest(digest)),
            None => match rest.rsplit_once(':') {
                Some((repo, tag)) => (repo, ImageIdentifier::tag(tag)),
                None => (rest, ImageIdentifier::tag("latest")),
            },
        };
        let found = client.ecr::<DescribeImagesResponse>("DescribeImages", &describe_images(repository, id)).await;
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
    let describe = DescribeServicesRequest {
        cluster: Some(args.cluster.clone()),
        services: Some(vec![args.service.clone()]),
        include: Vec::new(),
    };
    let service = request::<op::DescribeServices>(&client, &describe)
        .await?
        .services
        .into_iter()
        .next()
        .with_context(|| format!("service '{}' not found in cluster '{}'", args.service, args.cluster))?;
    if service.status != ServiceStatus::Active {
        bail!("service '{}' is {}, not ACTIVE", args.service, service.status);
    }
    let base = args.task_definition.clone().unwrap_or_else(|| service.task_definition.clone());
    let describe = DescribeTaskDefinitionRequest { task_definition: Some(base), include: vec!["TAGS".into()] };
    let described = request::<op::DescribeTaskDefinition>(&client, &describe).await?;
    let td_arn = if images.is_empty() {
        described.task_definition.task_definition_arn.clone()
    } else {
        let mut registration = with_images(&described.task_definition, &images)?;
        // The copy is no longer what `compose up` deployed: its fingerprint stays behind.
        registration.tags = described
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.key.as_deref() != Some(crate::compose::FINGERPRINT_TAG))
            .collect();
        let registered = request::<op::RegisterTaskDefinition>(&client, &registration).await?;
        registered.task_definition.task_definition_arn.clone()
    };
    let update = UpdateServiceRequest {
        cluster: Some(args.cluster.clone()),
        service: Some(args.service.clone()),
        task_definition: Some(td_arn.clone()),
        ..Default::default()
    };
    let updated = request::<op::UpdateService>(&client, &update).await?.service;
    let service_arn = updated.service_arn.clone();
    let deployment = updated
        .deployments
        .iter()
        .find(|d| d.status == DeploymentStatus::Primary)
        .map(|d| d.id.clone())
        .unwrap_or_default();
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
    fn images_are_swapped_into_a_registerable_request() {
        let described: TaskDefinition = serde_json::from_value(json!({
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:0:task-definition/web:3", "revision": 3, "status": "ACTIVE",
            "family": "web", "networkMode": "bridge", "requiresAttributes": [], "compatibilities": ["EC2"],
            "registeredAt": 0,
            "containerDefinitions": [{"name": "app", "image": "old:1"}, {"name": "side", "image": "side:1"}]
        }))
        .unwrap();
        let r = serde_json::to_value(with_images(&described, &[("app".into(), "new:2".into())]).unwrap()).unwrap();
        assert_eq!(r["containerDefinitions"][0]["image"], "new:2");
        assert_eq!(r["containerDefinitions"][1]["image"], "side:1");
        assert_eq!(r["family"], "web");
        assert!(r.get("revision").is_none() && r.get("status").is_none() && r.get("requiresAttributes").is_none());
        let e = with_images(&described, &[("nope".into(), "x".into())]).unwrap_err();
        assert!(e.to_string().contains("has: app, side"), "{e}");
        assert!(parse_images(&["bad".into()]).is_err());
    }
}
