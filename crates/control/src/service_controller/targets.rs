//! A service's tasks in its target groups: RUNNING tasks are registered; a task being
//! stopped elsewhere (StopTask, a crash) is deregistered; a DEACTIVATING task whose
//! targets have drained moves on to STOPPING so its agent stops it; and a task that
//! fails its target group's health checks (after the grace period) is replaced.

use std::{collections::HashSet, sync::Arc};

use berth_model::{
    elb::{plane::TargetKey, TargetHealthState},
    service::Service,
    task::TaskStatus,
};

use super::pass::{seconds, short_id, Pass, ELB_STOP_REASON};
use crate::{
    elb::ecs::{registered_targets_of, target_state, task_targets},
    services::push_event,
    state::Change,
    tasks::bump_instance,
    TaskRecord,
};

pub(super) fn sync(pass: &mut Pass, svc: &mut Service, changes: &mut Vec<Change>) {
    let tasks: Vec<Arc<TaskRecord>> = pass.tasks.iter().map(|t| (*t).clone()).collect();
    // RUNNING tasks are registered. What they stand for stays registered: a task that
    // stopped may have held the same host port on the same instance (the engine hands
    // freed ports out again), and its leaving must not take its successor out.
    let running = |pass: &Pass, t: &TaskRecord| pass.active(t) && t.task.last() == TaskStatus::Running;
    let mut live: HashSet<TargetKey> = HashSet::new();
    for t in &tasks {
        if !running(pass, t) {
            continue;
        }
        for key in task_targets(pass.r, &pass.load_balancers, &t.task) {
            if pass.edits.register(pass.state, pass.r, &key, None, pass.now) {
                *pass.registered.entry(key.target_group_arn.clone()).or_default() += 1;
            }
            live.insert(key);
        }
    }
    for t in &tasks {
        let last = t.task.last();
        if running(pass, t) {
            continue;
        }
        if last == TaskStatus::Deactivating {
            // Drained once none of its registrations is left and DNS had its time.
            let dns_wait = super::registries::released(pass, t);
            if let Some(wait) = dns_wait {
                pass.requeue_within(wait);
            }
            if registered_targets_of(pass.r, &t.task).is_empty() && dns_wait.is_none() {
                let mut next = t.as_ref().clone();
                next.task.last_status = TaskStatus::Stopping;
                next.task.version += 1;
                bump_instance(pass.region, &next, changes);
                changes.push(Change::Task { region: pass.region.to_string(), record: Arc::new(next) });
            }
        } else if !pass.active(t) {
            for (key, draining) in registered_targets_of(pass.r, &t.task) {
                if !draining && !live.contains(&key) && pass.edits.deregister(pass.r, &key, pass.now) {
                    *pass.deregistered.entry(key.target_group_arn.clone()).or_default() += 1;
                }
            }
        }
    }
    replace_unhealthy(pass, svc, &tasks, changes);
}

/// Stops RUNNING tasks past the grace period that a target group found unhealthy.
fn replace_unhealthy(pass: &mut Pass, svc: &mut Service, tasks: &[Arc<TaskRecord>], changes: &mut Vec<Change>) {
    let grace = svc.health_check_grace_period_seconds.unwrap_or(0) as f64;
    for t in tasks {
        if !pass.active(t) || t.task.last() != TaskStatus::Running || seconds(t.task.started_at) + grace > pass.now {
            continue;
        }
        let failing = task_targets(pass.r, &pass.load_balancers, &t.task)
            .into_iter()
            .find(|k| target_state(pass.state, k) == TargetHealthState::Unhealthy);
        if let Some(key) = failing {
            let tg = &key.target_group_arn;
            push_event(
                svc,
                format!(
                    "(service {}) (task {}) failed ELB health checks in (target-group {tg}).",
                    svc.service_name,
                    short_id(&t.task.task_arn)
                ),
            );
            pass.stop(t, &format!("{ELB_STOP_REASON} (target-group {tg})"), changes);
            pass.unhealthy_stopped.push(t.task.task_arn.clone());
        }
    }
}

/// The events of this pass's target group changes, in ECS's words.
pub(super) fn events(pass: &Pass, svc: &mut Service) {
    let name = svc.service_name.clone();
    for (tg, n) in &pass.registered {
        push_event(svc, format!("(service {name}) registered {n} targets in (target-group {tg})"));
    }
    if pass.draining > 0 {
        push_event(svc, format!("(service {name}) has begun draining connections on {} tasks.", pass.draining));
    }
    for (tg, n) in &pass.deregistered {
        push_event(svc, format!("(service {name}) deregistered {n} targets in (target-group {tg})"));
    }
}
