//! The service controller: level-triggered. Every pass looks at each service afresh and
//! moves its tasks one step toward what the service wants — start tasks for the PRIMARY
//! deployment within maximumPercent, stop old deployments' tasks within
//! minimumHealthyPercent, replace tasks that stopped or turned unhealthy, trip the
//! circuit breaker (and roll back) when a deployment's tasks keep failing — then records
//! counts, rollout states and events. A pass that finds nothing to do writes nothing, so
//! running it twice is harmless. It runs inside the writer, so it decides over exactly the
//! state it changes.

use std::{collections::HashMap, sync::Arc, time::Duration};

use berth_model::{
    ecs::RunTaskRequest,
    placement::PlacementStrategy,
    service::{circuit_breaker_threshold, maximum_tasks, minimum_healthy, Service},
    status::{DeploymentStatus, DesiredStatus, HealthStatus, InstanceStatus, RolloutState, ServiceStatus},
    task::TaskStatus,
    time, Arn, EcsError,
};

use crate::{
    services::{new_deployment, push_event},
    state::Change,
    task_definitions::TaskDefinitionRef,
    tasks::{place_in, stop_in},
    Caller, Control, State, TaskRecord,
};

#[derive(Debug, Clone, Copy)]
pub struct ServiceControllerConfig {
    /// How long a RUNNING task without a health check must stay up before it counts as
    /// healthy (ECS waits a fixed 40 s; berth's default is short).
    pub settle: Duration,
    /// The resync period; passes also run after every commit.
    pub interval: Duration,
}

impl Default for ServiceControllerConfig {
    fn default() -> Self {
        ServiceControllerConfig { settle: Duration::from_secs(1), interval: Duration::from_millis(500) }
    }
}

const HEALTH_STOP_REASON: &str = "Task failed container health checks";
/// The most tasks one pass places for one service. A pass runs inside the writer, so its
/// work must stay small whatever the stored desired count says; the next pass (right after
/// this one commits) places the next batch.
pub(crate) const PLACEMENT_BATCH: i64 = 100;
/// ECS's cap on the delay between attempts to start tasks that keep failing.
const MAX_BACKOFF_SECS: f64 = 27.0 * 60.0;

impl Control {
    /// Runs the controller until the returned handle is aborted.
    pub fn spawn_service_controller(&self, config: ServiceControllerConfig) -> tokio::task::JoinHandle<()> {
        let control = self.clone();
        tokio::spawn(async move {
            let mut commits = control.inner.commits.clone();
            loop {
                let services: Vec<(String, String)> = control.read(|s| {
                    s.regions()
                        .flat_map(|(region, r)| {
                            r.services
                                .values()
                                .filter(|svc| svc.service.status != ServiceStatus::Inactive)
                                .map(move |svc| (region.clone(), svc.service.service_arn.clone()))
                        })
                        .collect()
                });
                for (region, arn) in services {
                    let result = control
                        .write(move |state, changes| reconcile(state, &region, &arn, &config, time::now(), changes))
                        .await;
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "service reconcile failed");
                    }
                }
                // A task that settles needs no commit to count as healthy: wake when the next one does.
                let pause = control
                    .read(|s| until_next_settle(s, &config, time::now()))
                    .map_or(config.interval, |d| d.min(config.interval));
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = commits.changed() => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        })
    }
}

/// How long until the next RUNNING service task has been up for the settle time, if any
/// task is still settling.
fn until_next_settle(state: &State, config: &ServiceControllerConfig, now: f64) -> Option<Duration> {
    let settle = config.settle.as_secs_f64();
    state
        .regions()
        .flat_map(|(_, r)| {
            r.services.values().flat_map(|s| r.tasks_in_group(&s.cluster, &service_group(&s.service.service_name)))
        })
        .filter(|t| t.task.last() == TaskStatus::Running)
        .filter_map(|t| t.task.started_at.map(|at| at + settle - now))
        .filter(|left| *left > 0.0)
        .min_by(f64::total_cmp)
        .map(|left| Duration::from_secs_f64(left + 0.005))
}

/// The task group of a service's tasks (ECS: `service:NAME`).
pub(crate) fn service_group(service_name: &str) -> String {
    format!("service:{service_name}")
}

fn seconds(t: Option<f64>) -> f64 {
    t.unwrap_or(0.0)
}

/// Whether a task counts as failed for the circuit breaker and the start throttle.
fn failed(t: &TaskRecord) -> bool {
    t.task.last() == TaskStatus::Stopped
        && (matches!(t.task.stop_code.as_deref(), Some("TaskFailedToStart" | "EssentialContainerExited"))
            || t.task.stopped_reason.as_deref() == Some(HEALTH_STOP_REASON))
}

fn short_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// One pass over one service, as of `now` (epoch seconds): a pure decision over `state`,
/// expressed as the changes it pushes.
pub(crate) fn reconcile(
    state: &State,
    region: &str,
    arn: &str,
    config: &ServiceControllerConfig,
    now: f64,
    changes: &mut Vec<Change>,
) -> Result<(), EcsError> {
    let r = state.region(region);
    let Some(rec) = r.services.get(arn) else { return Ok(()) };
    if rec.service.status == ServiceStatus::Inactive {
        return Ok(());
    }
    let account = Arn::parse(arn).map(|a| a.account).unwrap_or_default();
    let caller = Caller { region: region.to_string(), account };
    let mut svc = rec.service.clone();
    let mut last_completed = rec.last_completed.clone();
    let name = svc.service_name.clone();
    let group = service_group(&name);
    let tasks: Vec<&Arc<TaskRecord>> = r.tasks_in_group(&rec.cluster, &group).collect();
    let has_health_check: HashMap<String, bool> = svc
        .deployments
        .iter()
        .map(|d| {
            let td = TaskDefinitionRef::parse(&d.task_definition).ok().and_then(|x| x.resolve(r).cloned());
            let hc = td.is_some_and(|td| {
                td.container_definitions.iter().any(|c| c.is_essential() && c.health_check.is_some())
            });
            (d.id.clone(), hc)
        })
        .collect();
    let grace = svc.health_check_grace_period_seconds.unwrap_or(0) as f64;
    let active =
        |t: &TaskRecord| t.task.last() != TaskStatus::Stopped && t.task.desired_status == DesiredStatus::Running;
    let healthy = |t: &TaskRecord| {
        t.task.last() == TaskStatus::Running
            && if has_health_check.get(t.task.started_by.as_deref().unwrap_or_default()).copied().unwrap_or(false) {
                t.task.health_status == HealthStatus::Healthy
            } else {
                seconds(t.task.started_at) + config.settle.as_secs_f64() <= now
            }
    };

    let mut started: Vec<String> = Vec::new();

    // Unhealthy tasks are replaced (after the grace period).
    let mut unhealthy_stopped: Vec<String> = Vec::new();
    for t in tasks.iter().filter(|t| active(t) && t.task.health_status == HealthStatus::Unhealthy) {
        if seconds(t.task.started_at) + grace <= now {
            stop_in(region, t, "ServiceSchedulerInitiated", HEALTH_STOP_REASON, changes);
            unhealthy_stopped.push(t.task.task_arn.clone());
        }
    }
    let live = |t: &TaskRecord| active(t) && !unhealthy_stopped.contains(&t.task.task_arn);
    let of = |id: &str| -> Vec<&TaskRecord> {
        tasks.iter().filter(|t| t.task.started_by.as_deref() == Some(id)).map(|t| t.as_ref()).collect()
    };

    // The circuit breaker watches the PRIMARY deployment while it rolls out.
    let daemon = svc.scheduling_strategy == "DAEMON";
    let eligible = if daemon { daemon_instances(r, &rec.cluster, &svc) } else { Vec::new() };
    if daemon {
        svc.desired_count = eligible.len() as i64;
    }
    let desired = if svc.status == ServiceStatus::Active { svc.desired_count } else { 0 };
    let primary_id = svc.deployments[0].id.clone();
    let primary_tasks = of(&primary_id);
    let primary_failed = primary_tasks.iter().filter(|t| failed(t)).count() as i64
        + primary_tasks.iter().filter(|t| unhealthy_stopped.contains(&t.task.task_arn)).count() as i64;
    svc.deployments[0].failed_tasks = primary_failed;
    let breaker = svc.deployment_configuration.deployment_circuit_breaker.unwrap_or_default();
    if breaker.enable
        && svc.deployments[0].rollout_state == Some(RolloutState::InProgress)
        && primary_failed >= circuit_breaker_threshold(desired)
    {
        let d = &mut svc.deployments[0];
        d.rollout_state = Some(RolloutState::Failed);
        d.rollout_state_reason = Some("ECS deployment circuit breaker: tasks failed to start.".into());
        push_event(
            &mut svc,
            format!("(service {name}) (deployment {primary_id}) deployment failed: tasks failed to start."),
        );
        // The last COMPLETED deployment: still listed, or remembered after it drained.
        let good = svc.deployments[1..]
            .iter()
            .find(|d| d.rollout_state == Some(RolloutState::Completed))
            .map(|d| (d.id.clone(), d.task_definition.clone()))
            .or_else(|| last_completed.clone().filter(|(id, _)| *id != primary_id));
        if let (true, Some((good_id, good_td))) = (breaker.rollback, good) {
            for d in &mut svc.deployments {
                d.status = DeploymentStatus::Active;
            }
            let reason = format!("ECS deployment circuit breaker: rolling back to deploymentId {good_id}.");
            svc.deployments.insert(0, new_deployment(&good_td, desired, Some(&reason)));
            svc.task_definition = good_td;
            push_event(&mut svc, format!("(service {name}) rolling back to deployment {good_id}."));
        }
    }

    let primary = svc.deployments[0].clone();
    let max_percent = svc.deployment_configuration.maximum_percent.unwrap_or(200);
    let min_percent = svc.deployment_configuration.minimum_healthy_percent.unwrap_or(100);
    let max_total = maximum_tasks(desired, max_percent).max(desired.min(1));
    let min_healthy = minimum_healthy(desired, min_percent);
    // Tasks on DRAINING instances are replaced elsewhere, like an old deployment's.
    let draining = |t: &TaskRecord| {
        t.task
            .container_instance_arn
            .as_ref()
            .and_then(|i| r.instances.get(i))
            .is_some_and(|i| i.instance.status == InstanceStatus::Draining)
    };
    let primary_live: Vec<&TaskRecord> = of(&primary.id).into_iter().filter(|t| live(t) && !draining(t)).collect();
    let total_live = tasks.iter().filter(|t| live(t)).count() as i64;

    let throttled = throttle(&primary.id, &tasks, now, &healthy);
    let mut stopped: Vec<String> = unhealthy_stopped.clone();
    if daemon {
        // One task per eligible instance: old deployments' tasks stop first (maximumPercent
        // is 100), then the PRIMARY's task starts on the instance; instances that are no
        // longer eligible (DRAINING, or a constraint no longer holds) lose theirs.
        let scaling_reason = format!("Scaling activity initiated by (deployment {})", primary.id);
        let mut starts: Vec<String> = Vec::new();
        for t in tasks.iter().filter(|t| live(t)) {
            let on = t.task.container_instance_arn.clone().unwrap_or_default();
            let keep = eligible.contains(&on) && svc.status == ServiceStatus::Active;
            let superseded = t.task.started_by.as_deref() != Some(primary.id.as_str());
            if !keep || superseded {
                stop_in(region, t, "ServiceSchedulerInitiated", &scaling_reason, changes);
                stopped.push(t.task.task_arn.clone());
            }
        }
        for instance in &eligible {
            let occupied = tasks.iter().any(|t| {
                t.task.container_instance_arn.as_deref() == Some(instance.as_str())
                    && t.task.last() != TaskStatus::Stopped
                    && !stopped.contains(&t.task.task_arn)
            });
            let stopping = tasks.iter().any(|t| {
                t.task.container_instance_arn.as_deref() == Some(instance.as_str())
                    && t.task.last() != TaskStatus::Stopped
            });
            if !occupied && !stopping {
                starts.push(instance.clone());
            }
        }
        if !starts.is_empty()
            && svc.status == ServiceStatus::Active
            && primary.rollout_state != Some(RolloutState::Failed)
            && !throttled
        {
            let req = RunTaskRequest {
                cluster: Some(rec.cluster.clone()),
                task_definition: Some(primary.task_definition.clone()),
                group: Some(group.clone()),
                started_by: Some(primary.id.clone()),
                container_instances: Some(starts),
                ..task_labels(state, &caller, &svc)
            };
            match place_in(state, &caller, &req, 1, changes) {
                Ok((placed, failures)) => {
                    started.extend(placed.iter().map(|t| t.task_arn.clone()));
                    if let Some(f) = failures.first() {
                        let message = format!(
                            "(service {name}) was unable to place a task on (container-instance {}): {}.",
                            short_id(f.arn.as_deref().unwrap_or_default()),
                            f.detail.clone().unwrap_or_else(|| f.reason.clone().unwrap_or_default())
                        );
                        if svc.events.first().map(|e| &e.message) != Some(&message) {
                            push_event(&mut svc, message);
                        }
                    }
                }
                Err(e) => push_event(&mut svc, format!("(service {name}) cannot start tasks: {e}")),
            }
        }
    } else {
        // Start PRIMARY tasks within maximumPercent, unless the rollout failed or starts are throttled.
        let want = desired - primary_live.len() as i64;
        let room = max_total - total_live;
        if want > 0
            && room > 0
            && primary.rollout_state != Some(RolloutState::Failed)
            && svc.status == ServiceStatus::Active
        {
            if throttled {
                let message = format!("(service {name}) is unable to consistently start tasks successfully.");
                if svc.events.first().map(|e| &e.message) != Some(&message) {
                    push_event(&mut svc, message);
                }
            } else {
                let strategy = if svc.placement_strategy.is_empty() {
                    vec![
                        PlacementStrategy::spread("attribute:ecs.availability-zone"),
                        PlacementStrategy::spread("instanceId"),
                    ]
                } else {
                    svc.placement_strategy.clone()
                };
                let req = RunTaskRequest {
                    cluster: Some(rec.cluster.clone()),
                    task_definition: Some(primary.task_definition.clone()),
                    group: Some(group.clone()),
                    started_by: Some(primary.id.clone()),
                    placement_constraints: svc.placement_constraints.clone(),
                    placement_strategy: strategy,
                    ..task_labels(state, &caller, &svc)
                };
                let batch = want.min(room).min(PLACEMENT_BATCH).min(cluster_room(r, &rec.cluster));
                match place_in(state, &caller, &req, batch.max(1) as usize, changes) {
                    Ok((placed, failures)) => {
                        started.extend(placed.iter().map(|t| t.task_arn.clone()));
                        if placed.is_empty() {
                            if let Some(f) = failures.first() {
                                let message = format!(
                                    "(service {name}) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance {}) has {}.",
                                    short_id(f.arn.as_deref().unwrap_or_default()),
                                    f.detail.clone().unwrap_or_else(|| f.reason.clone().unwrap_or_default())
                                );
                                if svc.events.first().map(|e| &e.message) != Some(&message) {
                                    push_event(&mut svc, message);
                                }
                            }
                        }
                    }
                    Err(e) => {
                        let message = format!("(service {name}) cannot start tasks: {e}");
                        if svc.events.first().map(|e| &e.message) != Some(&message) {
                            push_event(&mut svc, message);
                        }
                    }
                }
            }
        }

        // Stop old deployments' tasks (and PRIMARY tasks above the desired count) without going
        // below minimumHealthyPercent: tasks that are not healthy go first and freely.
        let scaling_reason = format!("Scaling activity initiated by (deployment {})", primary.id);
        let mut healthy_live = tasks.iter().filter(|t| live(t) && healthy(t)).count() as i64;
        let mut excess: Vec<&TaskRecord> = tasks
            .iter()
            .filter(|t| live(t) && (t.task.started_by.as_deref() != Some(primary.id.as_str()) || draining(t)))
            .map(|t| t.as_ref())
            .collect();
        let primary_excess = primary_live.len() as i64 - desired;
        if primary_excess > 0 {
            let mut extra: Vec<&TaskRecord> = primary_live.clone();
            extra.sort_by_key(|t| healthy(t));
            excess.extend(extra.into_iter().take(primary_excess as usize));
        }
        excess.sort_by_key(|t| healthy(t));
        for t in excess {
            let is_healthy = healthy(t);
            let scale_in = t.task.started_by.as_deref() == Some(primary.id.as_str()) && !draining(t);
            if is_healthy && !scale_in && healthy_live - 1 < min_healthy {
                continue;
            }
            stop_in(region, t, "ServiceSchedulerInitiated", &scaling_reason, changes);
            stopped.push(t.task.task_arn.clone());
            if is_healthy {
                healthy_live -= 1;
            }
        }
    }

    // Counts, retired deployments, completion.
    let now_live = |id: &str| {
        tasks
            .iter()
            .filter(|t| t.task.started_by.as_deref() == Some(id) && t.task.last() != TaskStatus::Stopped)
            .count()
    };
    for (i, d) in svc.deployments.iter_mut().enumerate() {
        let mine: Vec<&TaskRecord> = of(&d.id).into_iter().filter(|t| live(t)).collect();
        d.running_count = mine.iter().filter(|t| t.task.last() == TaskStatus::Running).count() as i64;
        d.pending_count = mine.len() as i64 - d.running_count;
        if i == 0 {
            d.pending_count += started.len() as i64;
            d.desired_count = desired;
        } else {
            d.desired_count = 0;
        }
    }
    svc.deployments = svc
        .deployments
        .iter()
        .enumerate()
        .filter(|(i, d)| *i == 0 || now_live(&d.id) > 0)
        .map(|(_, d)| d.clone())
        .collect();
    let primary_healthy = of(&primary.id).into_iter().filter(|t| live(t) && healthy(t)).count() as i64;
    let steady = svc.deployments.len() == 1 && primary_healthy == desired && started.is_empty() && stopped.is_empty();
    if steady && svc.deployments[0].rollout_state == Some(RolloutState::InProgress) {
        let id = svc.deployments[0].id.clone();
        svc.deployments[0].rollout_state = Some(RolloutState::Completed);
        svc.deployments[0].rollout_state_reason = Some(format!("ECS deployment {id} completed."));
        last_completed = Some((id.clone(), svc.deployments[0].task_definition.clone()));
        push_event(&mut svc, format!("(service {name}) (deployment {id}) deployment completed."));
    }
    if steady
        && svc.events.first().map(|e| e.message.as_str())
            != Some(&format!("(service {name}) has reached a steady state."))
    {
        push_event(&mut svc, format!("(service {name}) has reached a steady state."));
    }
    if !started.is_empty() {
        let ids: Vec<String> = started.iter().map(|a| format!("(task {})", short_id(a))).collect();
        push_event(&mut svc, format!("(service {name}) has started {} tasks: {}.", started.len(), ids.join(" ")));
    }
    if !stopped.is_empty() {
        let ids: Vec<String> = stopped.iter().map(|a| format!("(task {})", short_id(a))).collect();
        push_event(
            &mut svc,
            format!("(service {name}) has stopped {} running tasks: {}.", stopped.len(), ids.join(" ")),
        );
    }
    svc.running_count = svc.deployments.iter().map(|d| d.running_count).sum();
    svc.pending_count = svc.deployments.iter().map(|d| d.pending_count).sum();
    if svc.status == ServiceStatus::Draining
        && tasks.iter().all(|t| t.task.last() == TaskStatus::Stopped || stopped.contains(&t.task.task_arn))
        && started.is_empty()
        && now_live(&primary.id) == 0
    {
        svc.status = ServiceStatus::Inactive;
    }
    if svc != rec.service || last_completed != rec.last_completed {
        for d in &mut svc.deployments {
            if d != rec.service.deployments.iter().find(|x| x.id == d.id).unwrap_or(d) {
                d.updated_at = now;
            }
        }
        changes.push(Change::Service {
            region: region.to_string(),
            record: Arc::new(crate::ServiceRecord { service: svc, cluster: rec.cluster.clone(), last_completed }),
        });
    }
    Ok(())
}

/// How a service's tasks are tagged: its own tags when it propagates SERVICE, the task
/// definition's when TASK_DEFINITION, and ECS's managed tags when enabled.
fn task_labels(state: &State, caller: &Caller, svc: &Service) -> RunTaskRequest {
    let tags =
        if svc.propagate_tags == "SERVICE" { state.tags_of(&caller.region, &svc.service_arn) } else { Vec::new() };
    RunTaskRequest {
        tags,
        propagate_tags: Some(svc.propagate_tags.clone()),
        enable_ecs_managed_tags: svc.enable_ecs_managed_tags,
        ..Default::default()
    }
}

/// An upper bound on the tasks `cluster` could still take: one per task slot left on its
/// ACTIVE, connected instances (ECS's limit of tasks per instance is far above any real
/// host's memory, so free memory at 4 MiB a task bounds it generously).
fn cluster_room(r: &crate::RegionState, cluster: &str) -> i64 {
    r.instances
        .values()
        .filter(|i| crate::instances::schedulable(i, cluster))
        .map(|i| crate::instances::free_memory(r, i).max(0) / 4 + 1)
        .sum()
}

/// The instances a DAEMON service runs on: ACTIVE instances of its cluster whose agent is
/// connected and that satisfy the service's and the task definition's constraints.
fn daemon_instances(r: &crate::RegionState, cluster: &str, svc: &Service) -> Vec<String> {
    let td = TaskDefinitionRef::parse(&svc.task_definition).ok().and_then(|x| x.resolve(r).cloned());
    let Some(td) = td else { return Vec::new() };
    let Ok((constraints, _)) = crate::placement::placement_rules(&td, &svc.placement_constraints, &[], Vec::new())
    else {
        return Vec::new();
    };
    let request =
        berth_scheduler::Request { constraints, group: service_group(&svc.service_name), ..Default::default() };
    r.instances
        .values()
        .filter(|i| crate::instances::schedulable(i, cluster))
        .filter(|i| {
            let facts = crate::instances::candidate(r, i);
            request.constraints.iter().all(|c| c.admits_instance(&facts, &request.group))
        })
        .map(|i| i.instance.container_instance_arn.clone())
        .collect()
}

/// ECS's start throttle: once three or more of the deployment's tasks failed and none is
/// healthy, wait 2^(failures-3) seconds (at most 27 minutes) after the last failure.
fn throttle(deployment: &str, tasks: &[&Arc<TaskRecord>], now: f64, healthy: &dyn Fn(&TaskRecord) -> bool) -> bool {
    let mine = tasks.iter().filter(|t| t.task.started_by.as_deref() == Some(deployment));
    let failures: Vec<f64> = mine.clone().filter(|t| failed(t)).map(|t| seconds(t.task.stopped_at)).collect();
    if failures.len() < 3 || mine.clone().any(|t| healthy(t)) {
        return false;
    }
    let last = failures.iter().cloned().fold(0.0, f64::max);
    let delay = 2f64.powi(failures.len() as i32 - 3).min(MAX_BACKOFF_SECS);
    now < last + delay
}

#[cfg(test)]
#[path = "service_controller_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "service_controller_props.rs"]
mod props;
