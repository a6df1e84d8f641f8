//! Placing new tasks: RunTask's engine, shared by StartTask and the service controller,
//! and the capacity controller's placement of tasks that waited for a host.
//!
//! A task goes to a host of its pool (the cluster's container instances, the hosts of a
//! capacity provider, or the hosts offering Fargate capacity). A task whose pool has no
//! room waits in PROVISIONING without a host when it came through a capacity provider or
//! Fargate (as ECS does); on EC2 it is a placement failure.

use std::sync::Arc;

use berth_model::{
    capacity_provider::{LaunchType, FARGATE_PLATFORM_FAMILY, FARGATE_PLATFORM_VERSION},
    container_instance::{Attribute, AVAILABILITY_ZONE_ATTRIBUTE},
    ecs::RunTaskRequest,
    status::{DesiredStatus, HealthStatus, InstanceStatus, TaskStatus},
    tag::Tag,
    task::{Container, EphemeralStorage, Task},
    task_definition::TaskDefinition,
    time, Arn, EcsError, Failure,
};
use berth_scheduler::{Demand, Placement, Request};

use crate::{
    capacity::{self, Launch, Pool},
    instances::{candidate, find_instance, random_id},
    placement::{prepare, Prepared},
    state::Change,
    task_network::{self, Addresses},
    Caller, InstanceRecord, RegionState, State, TaskRecord,
};

/// What every task of one request shares.
struct NewTask<'a> {
    caller: &'a Caller,
    cluster: &'a str,
    td: &'a TaskDefinition,
    req: &'a RunTaskRequest,
    demand: &'a Demand,
}

/// A task of `spec` in `pool`, not yet on a host (PROVISIONING).
fn new_task(spec: &NewTask<'_>, pool: &Pool) -> TaskRecord {
    let NewTask { caller, cluster, td, req, demand } = *spec;
    let id = random_id();
    let task_arn = Arn::ecs(&caller.region, &caller.account, "task", &format!("{cluster}/{id}")).to_string();
    let cluster_arn = Arn::ecs(&caller.region, &caller.account, "cluster", cluster).to_string();
    let containers = td
        .container_definitions
        .iter()
        .map(|c| Container {
            container_arn: Arn::ecs(
                &caller.region,
                &caller.account,
                "container",
                &format!("{cluster}/{id}/{}", random_id()),
            )
            .to_string(),
            task_arn: task_arn.clone(),
            name: c.name.clone().unwrap_or_default(),
            image: c.image.clone().unwrap_or_default(),
            last_status: TaskStatus::Pending,
            health_status: HealthStatus::Unknown,
            cpu: Some(c.cpu.to_string()),
            memory: c.memory.map(|m| m.to_string()),
            memory_reservation: c.memory_reservation.map(|m| m.to_string()),
            ..Default::default()
        })
        .collect();
    let mut task = Task {
        cluster_arn,
        capacity_provider_name: pool.provider.clone(),
        connectivity: Some("CONNECTED".into()),
        connectivity_at: Some(time::now()),
        containers,
        cpu: Some(demand.cpu.to_string()),
        created_at: time::now(),
        desired_status: DesiredStatus::Running,
        group: req.group.clone().unwrap_or_else(|| format!("family:{}", td.family)),
        health_status: HealthStatus::Unknown,
        last_status: TaskStatus::Provisioning,
        launch_type: LaunchType::of(pool.fargate).as_str().into(),
        memory: Some(demand.memory.to_string()),
        overrides: req.overrides.clone().unwrap_or_default(),
        started_by: req.started_by.clone(),
        task_arn,
        task_definition_arn: td.task_definition_arn.clone(),
        version: 1,
        ..Default::default()
    };
    if td.is_awsvpc() {
        let subnet = subnets_of(req).into_iter().next().unwrap_or_default();
        task.attachments.push(task_network::attachment(&subnet));
    }
    if pool.fargate {
        task.platform_version = Some(FARGATE_PLATFORM_VERSION.into());
        task.platform_family = Some(FARGATE_PLATFORM_FAMILY.into());
        task.ephemeral_storage = Some(EphemeralStorage { size_in_gib: 20 });
        task.attributes = vec![Attribute::new("ecs.cpu-architecture", fargate_architecture())];
    }
    TaskRecord {
        task,
        cluster: cluster.to_string(),
        cpu: demand.cpu,
        memory: demand.memory,
        host_ports: demand.host_ports.clone(),
        fargate_host: None,
        protected_until: None,
    }
}

/// Fargate's name for this machine's architecture.
fn fargate_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "ARM64",
        _ => "X86_64",
    }
}

/// Puts `rec` on `host`: its instance (or Fargate host), zone, and for awsvpc tasks an
/// address from the host's task subnet. `false` when the subnet has no address left.
pub(crate) fn place_on(
    region_name: &str,
    region: &RegionState,
    rec: &mut TaskRecord,
    host: &InstanceRecord,
    addresses: &mut Addresses,
) -> bool {
    if rec.task.eni().is_some() {
        let Some((_, ip)) = addresses.take(region, host) else { return false };
        task_network::set_address(&mut rec.task, region_name, ip);
    }
    let arn = host.instance.container_instance_arn.clone();
    if host.is_fargate() {
        rec.fargate_host = Some(arn);
    } else {
        rec.task.container_instance_arn = Some(arn);
    }
    let zone = host.instance.attributes.iter().find(|a| a.name == AVAILABILITY_ZONE_ATTRIBUTE);
    rec.task.availability_zone = zone.and_then(|a| a.value.clone());
    true
}

/// The subnets a request's awsvpc configuration names.
fn subnets_of(req: &RunTaskRequest) -> Vec<String> {
    req.network_configuration
        .as_ref()
        .and_then(|n| n.awsvpc_configuration.as_ref())
        .map(|v| v.subnets.clone())
        .unwrap_or_default()
}

/// The hosts of `pool` for tasks of `cluster` (ARN order) and their scheduler snapshot;
/// for `awsvpc` tasks only hosts that have a task subnet.
pub(crate) fn pool_snapshot<'s>(
    region: &'s RegionState,
    cluster: &str,
    pool: &Pool,
    awsvpc: bool,
) -> (Vec<&'s Arc<InstanceRecord>>, Vec<berth_scheduler::Instance>) {
    let records: Vec<&Arc<InstanceRecord>> = region
        .instances
        .values()
        .filter(|r| r.instance.status != InstanceStatus::Inactive && pool.offers(region, cluster, r))
        .filter(|r| !awsvpc || r.task_subnet.is_some())
        .collect();
    let instances = records.iter().map(|r| candidate(region, r)).collect();
    (records, instances)
}

fn failures_of(rejections: Vec<(String, berth_scheduler::Rejection)>) -> impl Iterator<Item = Failure> {
    rejections.into_iter().map(|(arn, r)| Failure { detail: Some(r.detail()), ..Failure::new(arn, r.reason()) })
}

fn no_address(host: &InstanceRecord) -> Failure {
    let detail = match host.task_subnet {
        Some(_) => "eni: the host's task subnet has no free address",
        None => "eni: the host has no task subnet (every subnet of the server's --task-cidr pool is taken)",
    };
    Failure {
        detail: Some(detail.into()),
        ..Failure::new(host.instance.container_instance_arn.clone(), "RESOURCE:ENI")
    }
}

/// Places `count` tasks of `req` against the writer's state and pushes the changes:
/// the engine of RunTask, StartTask and the service controller.
pub(crate) fn place_in(
    state: &State,
    caller: &Caller,
    req: &RunTaskRequest,
    count: usize,
    changes: &mut Vec<Change>,
) -> Result<(Vec<Task>, Vec<Failure>), EcsError> {
    let Prepared { cluster, td, mut request, launch } = prepare(state, caller, req, count)?;
    let region = state.region(&caller.region);
    let spec = NewTask { caller, cluster: &cluster, td: &td, req, demand: &request.demand };
    let mut addresses = Addresses::default();
    let (mut placed, mut failures) = (Vec::new(), Vec::new());
    match &req.container_instances {
        Some(list) => {
            // StartTask: the caller chose the instances; only resources are checked.
            request.constraints.clear();
            let pool = Pool::EC2;
            for reference in list {
                match find_instance(region, &cluster, reference) {
                    None => failures.push(Failure::new(reference.clone(), "MISSING")),
                    Some(rec) if rec.instance.status == InstanceStatus::Inactive => {
                        let reason = InstanceStatus::Inactive.as_str();
                        failures.push(Failure::new(rec.instance.container_instance_arn.clone(), reason))
                    }
                    Some(host) => match berth_scheduler::check(&request, &candidate(region, host)) {
                        Ok(()) => {
                            let mut t = new_task(&spec, &pool);
                            match place_on(&caller.region, region, &mut t, host, &mut addresses) {
                                true => placed.push(t),
                                false => failures.push(no_address(host)),
                            }
                        }
                        Err(r) => failures.extend(failures_of(vec![(host.instance.container_instance_arn.clone(), r)])),
                    },
                }
            }
        }
        None => {
            if launch == Launch::Ec2 && pool_snapshot(region, &cluster, &Pool::EC2, false).0.is_empty() {
                return Err(EcsError::invalid("No Container Instances were found in your cluster."));
            }
            let mut batches: Vec<(Pool, usize)> = Vec::new();
            for pool in capacity::pools(region, &cluster, &request.group, &launch, count) {
                match batches.iter_mut().find(|(p, _)| *p == pool) {
                    Some((_, n)) => *n += 1,
                    None => batches.push((pool, 1)),
                }
            }
            for (pool, n) in batches {
                let (hosts, mut snapshot) = pool_snapshot(region, &cluster, &pool, td.is_awsvpc());
                let batch = Request { count: n, ..request.clone() };
                for p in berth_scheduler::place(&batch, &mut snapshot) {
                    let mut t = new_task(&spec, &pool);
                    match p {
                        Placement::Placed(i) => {
                            match place_on(&caller.region, region, &mut t, hosts[i], &mut addresses) {
                                true => placed.push(t),
                                false => failures.push(no_address(hosts[i])),
                            }
                        }
                        // Waits in PROVISIONING until the capacity controller finds it a host.
                        Placement::Unplaced(_) if launch != Launch::Ec2 => placed.push(t),
                        Placement::Unplaced(rejections) => failures.extend(failures_of(rejections)),
                    }
                }
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    failures.retain(|f| seen.insert((f.arn.clone(), f.reason.clone())));
    let tags = task_tags(state, caller, req, &cluster, &td);
    commit_placed(caller, &placed, &tags, changes);
    let tasks = placed.into_iter().map(|t| Task { tags: tags.clone(), ..t.task }).collect();
    Ok((tasks, failures))
}

/// Records `tasks` as placed on their hosts, bumping each host's desired version.
fn commit_placed(caller: &Caller, tasks: &[TaskRecord], tags: &[Tag], changes: &mut Vec<Change>) {
    let mut bumped = std::collections::HashSet::new();
    for t in tasks {
        if let Some(host) = t.host() {
            if bumped.insert(host.clone()) {
                changes.push(Change::DesiredVersion { region: caller.region.clone(), arn: host.clone() });
            }
        }
        if !tags.is_empty() {
            changes.push(Change::Tags {
                region: caller.region.clone(),
                arn: t.task.task_arn.clone(),
                tags: Arc::new(tags.to_vec()),
            });
        }
        changes.push(Change::Task { region: caller.region.clone(), record: Arc::new(t.clone()) });
    }
}

/// The tags a new task gets: the request's, the task definition's when propagated, and
/// ECS's managed tags when enabled (added after validation: users may not set `aws:` keys).
fn task_tags(state: &State, caller: &Caller, req: &RunTaskRequest, cluster: &str, td: &TaskDefinition) -> Vec<Tag> {
    let mut tags = req.tags.clone();
    let mut add = |key: &str, value: &str| {
        if !tags.iter().any(|t| t.key.as_deref() == Some(key)) {
            tags.push(Tag::new(key, value));
        }
    };
    if req.propagate_tags.as_deref() == Some("TASK_DEFINITION") {
        for t in state.tags_of(&caller.region, &td.task_definition_arn) {
            add(t.key.as_deref().unwrap_or_default(), t.value.as_deref().unwrap_or_default());
        }
    }
    if req.enable_ecs_managed_tags {
        add("aws:ecs:clusterName", cluster);
        if let Some(service) = req.group.as_deref().and_then(|g| g.strip_prefix("service:")) {
            add("aws:ecs:serviceName", service);
        }
    }
    tags
}
