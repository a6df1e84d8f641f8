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
    status::{DesiredStatus, TaskStatus},
    task::Task,
    time, EcsError, Failure,
};
use berth_scheduler::Placement;

use crate::{
    clusters::active_cluster,
    instances::find_instance,
    launch::place_in,
    placement::{prepare, PlanOutcome, Prepared},
    state::Change,
    Caller, Control, Page, PageRequest, RegionState, State, TaskRecord,
};

/// Bumps the desired version of the host `rec` runs on.
pub(crate) fn bump_instance(caller_region: &str, rec: &TaskRecord, changes: &mut Vec<Change>) {
    if let Some(arn) = rec.host() {
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
            let Prepared { cluster, request, launch, .. } = prepare(state, caller, req, count as usize)?;
            let region = state.region(&caller.region);
            let pool = crate::capacity::pools(region, &cluster, &request.group, &launch, 1).pop();
            let pool = pool.unwrap_or(crate::capacity::Pool::EC2);
            let (records, mut instances) = crate::launch::pool_snapshot(region, &cluster, &pool, false);
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
        self.read(|state| {
            // ECS resolves the cluster before it looks at the list.
            let cluster = active_cluster(state, caller, cluster)?.cluster_name.clone();
            if references.is_empty() {
                return Err(EcsError::invalid("Tasks cannot be empty."));
            }
            if references.len() > 100 {
                return Err(EcsError::invalid("Tasks cannot have more than 100 elements."));
            }
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

/// Asks for a task to stop (desiredStatus STOPPED, with ECS's stop code and reason) and
/// pushes the change; the agent does the stopping.
pub(crate) fn stop_in(
    region: &str,
    rec: &TaskRecord,
    code: &str,
    reason: &str,
    changes: &mut Vec<Change>,
) -> Arc<TaskRecord> {
    let mut next = stopping(rec, code, reason);
    if next.host().is_none() {
        // It waited for capacity and never reached a host: nothing runs, so it is stopped.
        let now = time::now();
        next.task.last_status = TaskStatus::Stopped;
        next.task.stopped_at = Some(now);
        next.task.execution_stopped_at = Some(now);
        for c in &mut next.task.containers {
            c.last_status = TaskStatus::Stopped;
        }
        crate::task_network::advance(&mut next.task, berth_model::network::AttachmentStatus::Deleted);
    }
    bump_instance(region, &next, changes);
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
