//! What a pass over one service works with: the service's tasks and how to judge them
//! (`Pass`), what the start and stop steps share (`Step`), and the words of its events.

use std::{collections::HashMap, sync::Arc};

use berth_model::{
    ecs::RunTaskRequest,
    service::{service_group, Deployment, Service},
    status::{DesiredStatus, HealthStatus, InstanceStatus},
    task::TaskStatus,
    Failure,
};

use crate::{
    elb::ecs::{registered_targets_of, target_state, task_targets, TargetGroupEdits},
    state::Change,
    tasks::{deactivate_in, stop_in},
    Caller, RegionState, State, TaskRecord,
};

pub(super) const HEALTH_STOP_REASON: &str = "Task failed container health checks";
/// The start of the stop reason of a task that failed its target group's health checks.
pub(super) const ELB_STOP_REASON: &str = "Task failed ELB health checks in";

/// The most tasks one pass places for one service. A pass runs inside the writer, so its
/// work must stay small whatever the stored desired count says; the next pass (right after
/// this one commits) places the next batch.
pub(crate) const PLACEMENT_BATCH: i64 = 100;

pub(super) fn seconds(t: Option<f64>) -> f64 {
    t.unwrap_or(0.0)
}

/// Whether a task counts as failed for the circuit breaker and the start throttle.
pub(super) fn failed(t: &TaskRecord) -> bool {
    t.task.last() == TaskStatus::Stopped
        && (matches!(t.task.stop_code.as_deref(), Some("TaskFailedToStart" | "EssentialContainerExited"))
            || t.task.stopped_reason.as_deref() == Some(HEALTH_STOP_REASON)
            || t.task.stopped_reason.as_deref().is_some_and(|r| r.starts_with(ELB_STOP_REASON)))
}

pub(super) fn short_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The instance a placement failure names (short id) and what it lacked, for an event.
pub(super) fn failure_words(f: &Failure) -> (&str, String) {
    (
        short_id(f.arn.as_deref().unwrap_or_default()),
        f.detail.clone().unwrap_or_else(|| f.reason.clone().unwrap_or_default()),
    )
}

/// Adds `message` to the service's events unless it is already the newest.
pub(super) fn push_event_once(svc: &mut Service, message: String) {
    if svc.events.first().map(|e| &e.message) != Some(&message) {
        crate::services::push_event(svc, message);
    }
}

/// What one pass over one service sees: its tasks, and how to judge them at `now`.
pub(super) struct Pass<'a> {
    pub(super) state: &'a State,
    pub(super) r: &'a RegionState,
    pub(super) region: &'a str,
    pub(super) tasks: Vec<&'a Arc<TaskRecord>>,
    /// Per deployment id: whether its task definition health-checks an essential container.
    pub(super) has_health_check: HashMap<String, bool>,
    pub(super) settle: f64,
    pub(super) now: f64,
    /// Tasks this pass stopped for failing their health checks.
    pub(super) unhealthy_stopped: Vec<String>,
    /// Tasks this pass started and stopped.
    pub(super) started: Vec<String>,
    pub(super) stopped: Vec<String>,
    /// The service's target groups, and the changes this pass makes to them.
    pub(super) load_balancers: Vec<berth_model::service::LoadBalancer>,
    pub(super) edits: TargetGroupEdits,
    /// Targets registered and deregistered by this pass, per target group.
    pub(super) registered: HashMap<String, usize>,
    pub(super) deregistered: HashMap<String, usize>,
    /// Tasks this pass began draining.
    pub(super) draining: usize,
    /// The service's account, its Cloud Map registries, and the longest a stopped task
    /// waits for resolvers to forget it.
    pub(super) account: String,
    pub(super) registries: Vec<berth_model::service::ServiceRegistry>,
    pub(super) dns_drain_max: std::time::Duration,
    /// When the service needs another look (a DEACTIVATING task's DNS wait).
    pub(super) requeue: Option<std::time::Duration>,
}

impl<'a> Pass<'a> {
    /// Wanted and not yet STOPPED.
    pub(super) fn active(&self, t: &TaskRecord) -> bool {
        t.task.last() != TaskStatus::Stopped && t.task.desired_status == DesiredStatus::Running
    }

    /// Counts toward minimumHealthyPercent: RUNNING, and HEALTHY when its definition checks
    /// health, else up for the settle time.
    pub(super) fn healthy(&self, t: &TaskRecord) -> bool {
        let checked = self.has_health_check.get(t.task.started_by.as_deref().unwrap_or_default()).copied();
        t.task.last() == TaskStatus::Running
            && if checked.unwrap_or(false) {
                t.task.health_status == HealthStatus::Healthy
            } else {
                seconds(t.task.started_at) + self.settle <= self.now
            }
            && self.healthy_in_target_groups(t)
    }

    /// Healthy in every target group of the service (true for a service without any).
    pub(super) fn healthy_in_target_groups(&self, t: &TaskRecord) -> bool {
        let targets = task_targets(self.r, &self.load_balancers, &t.task);
        targets.len() == self.load_balancers.len()
            && targets.iter().all(|k| target_state(self.state, k) == berth_model::elb::TargetHealthState::Healthy)
    }

    /// Active and not stopped by this pass for its health.
    pub(super) fn live(&self, t: &TaskRecord) -> bool {
        self.active(t) && !self.unhealthy_stopped.contains(&t.task.task_arn)
    }

    /// The tasks a deployment started.
    pub(super) fn of(&self, id: &str) -> Vec<&'a TaskRecord> {
        self.tasks.iter().copied().filter(|t| t.task.started_by.as_deref() == Some(id)).map(|t| t.as_ref()).collect()
    }

    /// On a DRAINING instance: replaced elsewhere, like an old deployment's task.
    pub(super) fn draining(&self, t: &TaskRecord) -> bool {
        t.task
            .container_instance_arn
            .as_ref()
            .and_then(|i| self.r.instances.get(i))
            .is_some_and(|i| i.instance.status == InstanceStatus::Draining)
    }

    /// Asks for another look at the service within `after`.
    pub(super) fn requeue_within(&mut self, after: std::time::Duration) {
        self.requeue = Some(self.requeue.map_or(after, |r| r.min(after)));
    }

    /// Stops a task; one registered in target groups or in Cloud Map is deregistered
    /// first and stays DEACTIVATING (running) until its targets drained and resolvers had
    /// time to forget it.
    pub(super) fn stop(&mut self, t: &TaskRecord, reason: &str, changes: &mut Vec<Change>) {
        let mut drained_now = super::registries::release(self, t, changes);
        for (key, draining) in registered_targets_of(self.r, &t.task) {
            if !draining && self.edits.deregister(self.r, &key, self.now) {
                *self.deregistered.entry(key.target_group_arn.clone()).or_default() += 1;
                drained_now = true;
            }
        }
        if drained_now && t.task.last() == TaskStatus::Running {
            deactivate_in(self.region, t, "ServiceSchedulerInitiated", reason, changes);
            self.draining += 1;
        } else {
            stop_in(self.region, t, "ServiceSchedulerInitiated", reason, changes);
        }
        self.stopped.push(t.task.task_arn.clone());
    }
}

/// What the start and stop steps share about the service being reconciled.
pub(super) struct Step<'s> {
    pub(super) state: &'s State,
    pub(super) caller: &'s Caller,
    pub(super) cluster: &'s str,
    /// The PRIMARY deployment (after the breaker had its say).
    pub(super) primary: &'s Deployment,
    pub(super) desired: i64,
    /// Starts are held back by ECS's backoff for tasks that keep failing.
    pub(super) throttled: bool,
}

impl Step<'_> {
    /// The RunTask a start of the PRIMARY deployment's tasks makes: its tags as the service
    /// propagates them (its own for SERVICE, the task definition's for TASK_DEFINITION)
    /// and ECS's managed tags when enabled.
    pub(super) fn run_request(&self, svc: &Service) -> RunTaskRequest {
        let tags = if svc.propagate_tags == "SERVICE" {
            self.state.tags_of(&self.caller.region, &svc.service_arn)
        } else {
            Vec::new()
        };
        RunTaskRequest {
            cluster: Some(self.cluster.to_string()),
            task_definition: Some(self.primary.task_definition.clone()),
            group: Some(service_group(&svc.service_name)),
            started_by: Some(self.primary.id.clone()),
            tags,
            propagate_tags: Some(svc.propagate_tags.clone()),
            enable_ecs_managed_tags: svc.enable_ecs_managed_tags,
            launch_type: (!svc.launch.launch_type.is_empty()).then(|| svc.launch.launch_type.clone()),
            capacity_provider_strategy: svc.launch.capacity_provider_strategy.clone(),
            network_configuration: svc.launch.network_configuration.clone(),
            platform_version: svc.launch.platform_version.clone(),
            ..Default::default()
        }
    }
}
