//! `berth compose up`: register the project's task definitions, create or update its
//! services, run its one-off tasks, and follow them with `--wait`.

use std::time::Duration;

use anyhow::bail;
use berth_client::ServerClient;
use clap::Args;
use serde_json::{json, Value};

use super::project::*;
use crate::{
    calls::{request, Connection},
    follow::{follow, FollowArgs, Outcome},
    ui::OutputArgs,
};
use berth_compose::{convert::Converted, load};
use berth_model::{
    ecs::{
        op, CreateServiceRequest, DescribeServicesRequest, DescribeTaskDefinitionRequest, RunTaskRequest,
        UpdateServiceRequest,
    },
    service::ServiceRegistry,
    status::{DeploymentStatus, RolloutState, ServiceStatus},
    tag::Tag,
    task::TaskStatus,
};

#[derive(Args)]
pub struct UpArgs {
    #[command(flatten)]
    project: ProjectArgs,
    #[arg(long, default_value = "default")]
    cluster: String,
    /// The ECS service's name (default: the project name).
    #[arg(long)]
    service_name: Option<String>,
    /// Run the task definition once as a task instead of as a service.
    #[arg(long)]
    task: bool,
    #[command(flatten)]
    follow: FollowArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    connection: Connection,
}

pub(super) async fn up(args: UpArgs) -> anyhow::Result<i32> {
    let (client, project, mut converted) = prepare(&args.project, &args.connection).await?;
    let progress = args.output.progress();
    pin_built_images(&client, &mut converted).await?;
    if !args.task {
        return up_services(args, client, project, converted, progress).await;
    }
    let mut td_arns = Vec::new();
    for td in &converted.task_definitions {
        let arn = request::<op::RegisterTaskDefinition>(&client, td).await?.task_definition.task_definition_arn.clone();
        progress.line(&format!("registered {arn}"));
        td_arns.push(arn);
    }
    let mut results = Vec::new();
    let mut code = 0;
    for td in &td_arns {
        let run = RunTaskRequest {
            cluster: Some(args.cluster.clone()),
            task_definition: Some(td.clone()),
            started_by: Some(format!("compose/{}", project.name)),
            ..Default::default()
        };
        let r = request::<op::RunTask>(&client, &run).await?;
        let Some(arn) = r.tasks.first().map(|t| t.task_arn.clone()) else {
            bail!("RunTask placed no task: {}", serde_json::to_string(&r.failures)?);
        };
        progress.line(&format!("started {arn}"));
        let mut state = TaskStatus::Provisioning.as_str().to_string();
        let mut exit = Value::Null;
        if args.follow.wait {
            match crate::run_task::wait_stopped(
                &client,
                &args.cluster,
                &arn,
                td,
                false,
                Duration::from_secs(args.follow.timeout),
                &progress,
            )
            .await?
            {
                crate::run_task::Waited::Stopped(_, c) => {
                    state = TaskStatus::Stopped.as_str().into();
                    exit = json!(c);
                    code = if code == 0 { c } else { code };
                }
                crate::run_task::Waited::TimedOut => {
                    progress.line(&format!("{arn}: timed out; the task is still running"));
                    state = "TIMED_OUT".into();
                    code = crate::run_task::TIMED_OUT;
                }
                crate::run_task::Waited::Unreachable => {
                    state = "UNREACHABLE".into();
                    code = crate::run_task::UNREACHABLE;
                }
            }
        }
        results.push(json!({"taskArn": arn, "taskDefinitionArn": td, "state": state, "exitCode": exit}));
    }
    progress.finish();
    let first = &results[0];
    let mut env = vec![
        ("BERTH_TASK_ARN", first["taskArn"].as_str().unwrap_or("").to_string()),
        ("BERTH_TASK_DEFINITION_ARN", td_arns[0].clone()),
        ("BERTH_STATE", first["state"].as_str().unwrap_or("").to_string()),
    ];
    if let Some(c) = first["exitCode"].as_i64() {
        env.push(("BERTH_EXIT_CODE", c.to_string()));
    }
    let text = results.iter().map(|r| r["taskArn"].as_str().unwrap_or("").to_string()).collect::<Vec<_>>().join("\n");
    args.output.emit(&text, &json!({"project": project.name, "tasks": results}), &env)?;
    Ok(code)
}

/// `compose up` of services: registers and deploys what changed since the last `up`; a
/// service whose task definition and settings are as last deployed is left alone.
async fn up_services(
    args: UpArgs,
    client: ServerClient,
    project: load::Project,
    converted: Converted,
    progress: crate::ui::Progress,
) -> anyhow::Result<i32> {
    let several = converted.services.len() > 1;
    let mut results = Vec::new();
    let mut td_arns = Vec::new();
    // The project's Cloud Map namespace, looked up (or made) once, when a service needs it.
    let mut namespace: Option<String> = None;
    for (plan, td_request) in converted.services.iter().zip(&converted.task_definitions) {
        let name = service_name(plan, &args.service_name, several);
        let describe = DescribeServicesRequest {
            cluster: Some(args.cluster.clone()),
            services: Some(vec![name.clone()]),
            include: Vec::new(),
        };
        let current = request::<op::DescribeServices>(&client, &describe)
            .await?
            .services
            .into_iter()
            .find(|s| s.status == ServiceStatus::Active);
        let active = current.is_some();
        let print = fingerprint(td_request, plan);
        if let Some(svc) = &current {
            let describe = DescribeTaskDefinitionRequest {
                task_definition: Some(svc.task_definition.clone()),
                include: vec!["TAGS".into()],
            };
            let described = request::<op::DescribeTaskDefinition>(&client, &describe).await?;
            let deployed = described
                .tags
                .iter()
                .flatten()
                .find(|t| t.key.as_deref() == Some(FINGERPRINT_TAG))
                .and_then(|t| t.value.as_deref());
            if deployed == Some(print.as_str()) {
                progress.line(&format!("service {name} is unchanged: nothing to deploy"));
                let deployment = svc.deployments.first().map(|d| d.id.clone()).unwrap_or_default();
                td_arns.push(svc.task_definition.clone());
                results.push((name, svc.service_arn.clone(), deployment, svc.task_definition.clone()));
                continue;
            }
        }
        let mut registration = td_request.clone();
        registration.tags.push(Tag::new(FINGERPRINT_TAG, &print));
        let registered = request::<op::RegisterTaskDefinition>(&client, &registration).await?;
        let td = registered.task_definition.task_definition_arn.clone();
        progress.line(&format!("registered {td}"));
        td_arns.push(td.clone());
        let load_balancers = super::balancer::ensure(&client, &name, &plan.published, plan.discovery.is_some()).await?;
        let service_registries = match &plan.discovery {
            Some(cm_name) => {
                if namespace.is_none() {
                    namespace = Some(super::discovery::ensure_namespace(&client, &project.name).await?);
                }
                let ns = namespace.as_deref().unwrap_or_default();
                let arn = super::discovery::ensure_service(&client, ns, cm_name).await?;
                progress.line(&format!(
                    "service {name} is found as {cm_name} ({cm_name}.{})",
                    super::discovery::namespace_name(&project.name)
                ));
                vec![ServiceRegistry { registry_arn: Some(arn), ..Default::default() }]
            }
            None => Vec::new(),
        };
        for p in &plan.published {
            progress.line(&format!("load balancer listener on port {} for service {name}", p.published));
        }
        let service = if active {
            let s = &plan.settings;
            let update = UpdateServiceRequest {
                cluster: Some(args.cluster.clone()),
                service: Some(name.clone()),
                task_definition: Some(td.clone()),
                desired_count: Some(plan.desired_count),
                deployment_configuration: s.deployment_configuration.clone(),
                placement_constraints: (!s.placement_constraints.is_empty()).then(|| s.placement_constraints.clone()),
                placement_strategy: (!s.placement_strategy.is_empty()).then(|| s.placement_strategy.clone()),
                health_check_grace_period_seconds: s.health_check_grace_period_seconds,
                load_balancers: (!load_balancers.is_empty()).then_some(load_balancers),
                service_registries: (!service_registries.is_empty()).then_some(service_registries),
                network_configuration: s.network_configuration.clone(),
                ..Default::default()
            };
            request::<op::UpdateService>(&client, &update).await?.service
        } else {
            let mut create =
                CreateServiceRequest { cluster: Some(args.cluster.clone()), ..plan.create_request(&name, &td) };
            create.load_balancers = load_balancers;
            create.service_registries = service_registries;
            request::<op::CreateService>(&client, &create).await?.service
        };
        let deployment = service
            .deployments
            .iter()
            .find(|d| d.status == DeploymentStatus::Primary)
            .map(|d| d.id.clone())
            .unwrap_or_default();
        progress
            .line(&format!("{} service {name} with {td} ({deployment})", if active { "updated" } else { "created" }));
        results.push((name, service.service_arn.clone(), deployment, td.clone()));
    }
    let mut worst = Outcome::Completed;
    let mut states = Vec::new();
    for (name, _, _, _) in &results {
        let state = if args.follow.wait {
            let (o, _) =
                follow(&client, &args.cluster, name, Duration::from_secs(args.follow.timeout), &progress).await?;
            if worst == Outcome::Completed {
                worst = o;
            }
            o.state()
        } else {
            RolloutState::InProgress.as_str()
        };
        states.push(state);
    }
    progress.finish();
    let services: Vec<Value> = results
        .iter()
        .zip(&states)
        .map(|((n, arn, d, td), s)| json!({"serviceName": n, "serviceArn": arn, "deploymentId": d, "taskDefinitionArn": td, "state": s}))
        .collect();
    let (_, arn, dep, td) = &results[0];
    let env = vec![
        ("BERTH_TASK_DEFINITION_ARN", td.clone()),
        ("BERTH_SERVICE_ARN", arn.clone()),
        ("BERTH_DEPLOYMENT_ID", dep.clone()),
        ("BERTH_STATE", states[0].to_string()),
    ];
    let text = services
        .iter()
        .map(|s| {
            format!(
                "{} {} {}",
                s["serviceName"].as_str().unwrap_or(""),
                s["deploymentId"].as_str().unwrap_or(""),
                s["state"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    args.output.emit(
        &text,
        &json!({"project": project.name, "taskDefinitionArns": td_arns, "services": services}),
        &env,
    )?;
    Ok(worst as i32)
}
