//! Tasks: RunTask, StartTask, StopTask, DescribeTasks, ListTasks.
//!
//! Placing a task writes it with lastStatus PROVISIONING on its instance and bumps that
//! instance's desired version; the agent picks it up on its next poll. Resources are
//! held from placement until the task is STOPPED.

use std::sync::Arc;

use berth_model::{
    ecs::{
        include_tags, DescribeTasksRequest, ListTasksRequest, ListTasksResponse, RunTaskRequest, StopTaskRequest,
        TaskResponse, TasksResponse,
    },
    json,
    status::{DesiredStatus, HealthStatus, InstanceStatus, TaskStatus},
    tag::Tag,
    task::{Container, Task},
    task_definition::TaskDefinition,
    time, Arn, EcsError, Failure,
};
use berth_scheduler::{Demand, Placement};

use crate::{
    clusters::active_cluster,
    instances::{candidate, find_instance, random_id},
    placement::{prepare, snapshot, PlanOutcome, Prepared},
    state::Change,
    Caller, Control, InstanceRecord, Page, PageRequest, RegionState, State, TaskRecord,
};

fn new_task(
    caller: &Caller,
    cluster: &str,
    td: &TaskDefinition,
    req: &RunTaskRequest,
    instance: &InstanceRecord,
    demand: &Demand,
) -> TaskRecord {
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
    let az =
        instance.instance.attributes.iter().find(|a| a.name == "ecs.availability-zone").and_then(|a| a.value.clone());
    let task = Task {
        availability_zone: az,
        cluster_arn,
        connectivity: Some("CONNECTED".into()),
        connectivity_at: Some(time::now()),
        container_instance_arn: Some(instance.instance.container_instance_arn.clone()),
        containers,
        cpu: Some(demand.cpu.to_string()),
        created_at: time::now(),
        desired_status: DesiredStatus::Running,
        group: req.group.clone().unwrap_or_else(|| format!("family:{}", td.family)),
        health_status: HealthStatus::Unknown,
        last_status: TaskStatus::Provisioning,
        launch_type: "EC2".into(),
        memory: Some(demand.memory.to_string()),
        overrides: req.overrides.clone().unwrap_or_default(),
        started_by: req.started_by.clone(),
        task_arn,
        task_definition_arn: td.task_definition_arn.clone(),
        version: 1,
        ..Default::default()
    };
    TaskRecord {
        task,
        cluster: cluster.to_string(),
        cpu: demand.cpu,
        memory: demand.memory,
        host_ports: demand.host_ports.clone(),
    }
}

/// Records `tasks` as placed on their instances, bumping each instance's desired version.
fn commit_placed(caller: &Caller, tasks: &[TaskRecord], tags: &[Tag], changes: &mut Vec<Change>) {
    let mut bumped = std::collections::HashSet::new();
    for t in tasks {
        if let Some(instance) = &t.task.container_instance_arn {
            if bumped.insert(instance.clone()) {
                changes.push(Change::DesiredVersion { region: caller.region.clone(), arn: instance.clone() });
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

/// Bumps the desired version of the instance `task` runs on.
pub(crate) fn bump_instance(caller_region: &str, task: &Task, changes: &mut Vec<Change>) {
    if let Some(arn) = &task.container_instance_arn {
        changes.push(Change::DesiredVersion { region: caller_region.to_string(), arn: arn.clone() });
    }
}

fn view(state: &State, caller: &Caller, t: &TaskRecord, with_tags: bool) -> Task {
    let mut task = t.task.clone();
    if with_tags {
        task.tags = state.tags_of(&caller.region, &task.task_arn);
    }
    task
}

fn dedup(failures: &mut Vec<Failure>) {
    let mut seen = std::collections::HashSet::new();
    failures.retain(|f| seen.insert((f.arn.clone(), f.reason.clone())));
}

impl Control {
    /// RunTask (or, with `container_instances`, StartTask).
    pub async fn run_task(&self, caller: &Caller, req: RunTaskRequest) -> Result<TasksResponse, EcsError> {
        let count = req.count.unwrap_or(1);
        if req.container_instances.is_none() && !(1..=10).contains(&count) {
            return Err(EcsError::invalid(format!("count must be between 1 and 10, not {count}.")));
        }
        if let Some(list) = &req.container_instances {
            if list.is_empty() || list.len() > 10 {
                return Err(EcsError::invalid("containerInstances must list 1 to 10 instances."));
            }
        }
        let (tasks, failures) = self.place_tasks(caller, req, count as usize).await?;
        Ok(TasksResponse { tasks, failures })
    }

    /// StartTask: RunTask on the instances `containerInstances` names, one task each.
    pub async fn start_task(&self, caller: &Caller, req: RunTaskRequest) -> Result<TasksResponse, EcsError> {
        json::required(&req.container_instances, "containerInstances")?;
        self.run_task(caller, RunTaskRequest { count: None, ..req }).await
    }

    /// Places and records `count` tasks of one request, with no per-call limit: RunTask's
    /// engine, and the path services and bulk placement take.
    pub async fn place_tasks(
        &self,
        caller: &Caller,
        req: RunTaskRequest,
        count: usize,
    ) -> Result<(Vec<Task>, Vec<Failure>), EcsError> {
        let caller = caller.clone();
        self.write(move |state, changes| place_in(state, &caller, &req, count, changes)).await
    }

    /// The dry run behind `berth task plan`: RunTask's validation and placement over the
    /// current state, with nothing written.
    pub fn plan_task(&self, caller: &Caller, req: &RunTaskRequest) -> Result<PlanOutcome, EcsError> {
        let count = req.count.unwrap_or(1);
        if !(1..=10_000).contains(&count) {
            return Err(EcsError::invalid(format!("count must be between 1 and 10000, not {count}.")));
        }
        self.read(|state| {
            let Prepared { cluster, request, .. } = prepare(state, caller, req, count as usize)?;
            let (records, mut instances) = snapshot(state.region(&caller.region), &cluster);
            let entries = berth_scheduler::plan(&request, &instances);
            let placements = berth_scheduler::place(&request, &mut instances)
                .into_iter()
                .map(|p| match p {
                    Placement::Placed(i) => Some(records[i].instance.container_instance_arn.clone()),
                    Placement::Unplaced(_) => None,
                })
                .collect();
            Ok(PlanOutcome { entries, placements, strategies: request.strategies })
        })
    }

    /// StopTask: desiredStatus STOPPED now; the agent stops the containers (SIGTERM, then
    /// SIGKILL after each container's stopTimeout) and reports STOPPED.
    pub async fn stop_task(&self, caller: &Caller, req: StopTaskRequest) -> Result<TaskResponse, EcsError> {
        let reference = json::required(&req.task, "task")?.clone();
        let StopTaskRequest { cluster, reason, .. } = req;
        if reason.as_deref().is_some_and(|r| r.len() > 255) {
            return Err(EcsError::invalid("reason can be at most 255 characters."));
        }
        let caller = caller.clone();
        self.write(move |state, changes| {
            let cluster = active_cluster(state, &caller, cluster.as_deref())?.cluster_name.clone();
            let region = state.region(&caller.region);
            let rec = find_task(region, &cluster, &reference)
                .ok_or_else(|| EcsError::invalid("The referenced task was not found."))?;
            if rec.task.desired_status == DesiredStatus::Stopped {
                return Ok(view(state, &caller, rec, false));
            }
            let reason = reason.unwrap_or_else(|| "Task stopped by user".into());
            let next = stop_in(&caller.region, rec, "UserInitiated", &reason, changes);
            Ok(view(state, &caller, &next, false))
        })
        .await
        .map(|task| TaskResponse { task })
    }

    /// DescribeTasks: by ARN or id; unknown ones are MISSING failures.
    pub fn describe_tasks(&self, caller: &Caller, req: &DescribeTasksRequest) -> Result<TasksResponse, EcsError> {
        let with_tags = include_tags(&req.include)?;
        let references = json::required(&req.tasks, "tasks")?;
        let cluster = req.cluster.as_deref();
        if references.is_empty() || references.len() > 100 {
            return Err(EcsError::invalid("tasks must list 1 to 100 tasks."));
        }
        self.read(|state| {
            let cluster = active_cluster(state, caller, cluster)?.cluster_name.clone();
            let region = state.region(&caller.region);
            let (mut found, mut failures) = (Vec::new(), Vec::new());
            for reference in references {
                match find_task(region, &cluster, reference) {
                    Some(t) => found.push(view(state, caller, t, with_tags)),
                    None => failures.push(Failure::new(reference.clone(), "MISSING")),
                }
            }
            Ok(TasksResponse { tasks: found, failures })
        })
    }

    /// ListTasks: task ARNs filtered as ECS filters them; desiredStatus defaults to RUNNING.
    pub fn list_tasks(&self, caller: &Caller, q: &ListTasksRequest) -> Result<ListTasksResponse, EcsError> {
        let requested = q.desired_status.as_deref().unwrap_or(DesiredStatus::Running.as_str());
        let Some(desired) = DesiredStatus::parse(requested) else {
            return Err(EcsError::invalid(format!(
                "Invalid desiredStatus '{requested}': use RUNNING, PENDING or STOPPED."
            )));
        };
        if q.family.is_some() && q.service_name.is_some() {
            return Err(EcsError::invalid("family and serviceName cannot be given together."));
        }
        self.read(|state| {
            let cluster = active_cluster(state, caller, q.cluster.as_deref())?.cluster_name.clone();
            let region = state.region(&caller.region);
            let instance = match &q.container_instance {
                Some(r) => Some(
                    find_instance(region, &cluster, r)
                        .ok_or_else(|| {
                            EcsError::invalid(format!("Container instance '{r}' is not in cluster '{cluster}'."))
                        })?
                        .instance
                        .container_instance_arn
                        .clone(),
                ),
                None => None,
            };
            let service_group = q
                .service_name
                .as_ref()
                .map(|s| berth_model::service::service_group(berth_model::arn::cluster_name_from(s)));
            let family_prefix = q.family.as_ref().map(|f| format!("/{f}:"));
            let items = region.tasks.values().filter(|t| {
                let task = &t.task;
                t.cluster == cluster
                    && task.desired_status == desired
                    && instance.as_ref().is_none_or(|i| task.container_instance_arn.as_ref() == Some(i))
                    && family_prefix.as_ref().is_none_or(|f| task.task_definition_arn.contains(f.as_str()))
                    && q.started_by.as_ref().is_none_or(|s| task.started_by.as_ref() == Some(s))
                    && service_group.as_ref().is_none_or(|g| &task.group == g)
                    && q.launch_type.as_ref().is_none_or(|l| &task.launch_type == l)
            });
            PageRequest::of(&q.next_token, q.max_results).page(
                100,
                true,
                items.map(|t| (t.task.task_arn.clone(), t.task.task_arn.clone())),
            )
        })
        .map(|Page { items, next_token }| ListTasksResponse { task_arns: items, next_token })
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
    let Prepared { cluster, td, mut request } = prepare(state, caller, req, count)?;
    let region = state.region(&caller.region);
    let mut placed = Vec::new();
    let mut failures = Vec::new();
    match &req.container_instances {
        Some(list) => {
            // StartTask: the caller chose the instances; only resources are checked.
            request.constraints.clear();
            for reference in list {
                match find_instance(region, &cluster, reference) {
                    None => failures.push(Failure::new(reference.clone(), "MISSING")),
                    Some(rec) if rec.instance.status == InstanceStatus::Inactive => {
                        failures.push(Failure::new(rec.instance.container_instance_arn.clone(), "INACTIVE"))
                    }
                    Some(rec) => match berth_scheduler::check(&request, &candidate(region, rec)) {
                        Ok(()) => placed.push(new_task(caller, &cluster, &td, req, rec, &request.demand)),
                        Err(r) => failures.push(Failure {
                            detail: Some(r.detail()),
                            ..Failure::new(rec.instance.container_instance_arn.clone(), r.reason())
                        }),
                    },
                }
            }
        }
        None => {
            let (instances, mut snapshot) = snapshot(region, &cluster);
            if instances.is_empty() {
                return Err(EcsError::invalid("No Container Instances were found in your cluster."));
            }
            for p in berth_scheduler::place(&request, &mut snapshot) {
                match p {
                    Placement::Placed(i) => {
                        placed.push(new_task(caller, &cluster, &td, req, instances[i], &request.demand))
                    }
                    Placement::Unplaced(rejections) => failures.extend(
                        rejections
                            .into_iter()
                            .map(|(arn, r)| Failure { detail: Some(r.detail()), ..Failure::new(arn, r.reason()) }),
                    ),
                }
            }
        }
    }
    dedup(&mut failures);
    let tags = task_tags(state, caller, req, &cluster, &td);
    commit_placed(caller, &placed, &tags, changes);
    let tasks = placed.into_iter().map(|t| Task { tags: tags.clone(), ..t.task }).collect();
    Ok((tasks, failures))
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

/// Asks for a task to stop (desiredStatus STOPPED, with ECS's stop code and reason) and
/// pushes the change; the agent does the stopping.
pub(crate) fn stop_in(
    region: &str,
    rec: &TaskRecord,
    code: &str,
    reason: &str,
    changes: &mut Vec<Change>,
) -> Arc<TaskRecord> {
    let next = stopping(rec, code, reason);
    bump_instance(region, &next.task, changes);
    let next = Arc::new(next);
    changes.push(Change::Task { region: region.to_string(), record: next.clone() });
    next
}

/// Like [`stop_in`] for a task that first leaves its target groups: it is DEACTIVATING
/// (its agent keeps it running) until its targets have drained.
pub(crate) fn deactivate_in(region: &str, rec: &TaskRecord, code: &str, reason: &str, changes: &mut Vec<Change>) {
    let mut next = stopping(rec, code, reason);
    next.task.last_status = next.task.last_status.max(berth_model::task::TaskStatus::Deactivating);
    changes.push(Change::Task { region: region.to_string(), record: Arc::new(next) });
}

fn stopping(rec: &TaskRecord, code: &str, reason: &str) -> TaskRecord {
    let mut next = rec.clone();
    let t = &mut next.task;
    t.desired_status = DesiredStatus::Stopped;
    t.stopping_at = Some(time::now());
    t.stop_code = Some(code.into());
    t.stopped_reason = Some(reason.into());
    t.version += 1;
    next
}

/// Finds a task of `cluster` by ARN or id.
pub(crate) fn find_task<'s>(region: &'s RegionState, cluster: &str, reference: &str) -> Option<&'s Arc<TaskRecord>> {
    if reference.starts_with("arn:") {
        return region.tasks.get(reference).filter(|t| t.cluster == cluster);
    }
    region.tasks.values().find(|t| t.cluster == cluster && t.task.id() == reference)
}
