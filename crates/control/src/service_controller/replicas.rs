//! REPLICA services: start the PRIMARY deployment's tasks within maximumPercent, then stop
//! old deployments' tasks (and PRIMARY tasks above the desired count) without going below
//! minimumHealthyPercent; tasks that are not healthy go first and freely.

use berth_model::{
    placement::PlacementStrategy,
    service::{maximum_tasks, minimum_healthy, Service},
    status::{RolloutState, ServiceStatus},
};

use super::pass::{failure_words, push_event_once, Pass, Step, PLACEMENT_BATCH};
use crate::{launch::place_in, state::Change, RegionState, TaskRecord};

pub(super) fn step(pass: &mut Pass, step: &Step, svc: &mut Service, changes: &mut Vec<Change>) {
    let (primary, desired) = (step.primary, step.desired);
    let max_percent = svc.deployment_configuration.maximum_percent.unwrap_or(200);
    let min_percent = svc.deployment_configuration.minimum_healthy_percent.unwrap_or(100);
    let max_total = maximum_tasks(desired, max_percent).max(desired.min(1));
    let min_healthy = minimum_healthy(desired, min_percent);
    let primary_live: Vec<&TaskRecord> =
        pass.of(&primary.id).into_iter().filter(|t| pass.live(t) && !pass.draining(t)).collect();
    let total_live = pass.tasks.iter().filter(|t| pass.live(t)).count() as i64;

    // Start PRIMARY tasks within maximumPercent, unless the rollout failed or starts are throttled.
    let want = desired - primary_live.len() as i64;
    let room = max_total - total_live;
    if want > 0
        && room > 0
        && primary.rollout_state != Some(RolloutState::Failed)
        && svc.status == ServiceStatus::Active
    {
        if step.throttled {
            let name = &svc.service_name;
            push_event_once(svc, format!("(service {name}) is unable to consistently start tasks successfully."));
        } else {
            let batch = want.min(room).min(PLACEMENT_BATCH).min(cluster_room(pass.r, step.cluster));
            start(pass, step, svc, batch.max(1) as usize, changes);
        }
    }

    // Stop old deployments' tasks (and PRIMARY tasks above the desired count).
    let scaling_reason = format!("Scaling activity initiated by (deployment {})", primary.id);
    let mut healthy_live = pass.tasks.iter().filter(|t| pass.live(t) && pass.healthy(t)).count() as i64;
    let mut excess: Vec<&TaskRecord> = pass
        .tasks
        .iter()
        .copied()
        .filter(|t| pass.live(t) && (t.task.started_by.as_deref() != Some(primary.id.as_str()) || pass.draining(t)))
        .map(|t| t.as_ref())
        .collect();
    // Tasks under scale-in protection stay while the service is active (a deployment waits
    // for their protection to end); the pass looks again when it does.
    let protecting = svc.status == ServiceStatus::Active;
    let primary_excess = primary_live.len() as i64 - desired;
    if primary_excess > 0 {
        // Unprotected tasks go first, unhealthy before healthy.
        let mut extra: Vec<&TaskRecord> = primary_live.clone();
        extra.sort_by_key(|t| (protecting && t.protected_at(pass.now), pass.healthy(t)));
        excess.extend(extra.into_iter().take(primary_excess as usize));
    }
    excess.sort_by_key(|t| pass.healthy(t));
    let mut protected = 0;
    for t in excess {
        if protecting && t.protected_at(pass.now) {
            protected += 1;
            let left = t.protected_until.unwrap_or(pass.now) - pass.now;
            let again = std::time::Duration::from_secs_f64(left.max(0.0) + 0.05);
            pass.requeue = Some(pass.requeue.map_or(again, |r| r.min(again)));
            continue;
        }
        let is_healthy = pass.healthy(t);
        let scale_in = t.task.started_by.as_deref() == Some(primary.id.as_str()) && !pass.draining(t);
        if is_healthy && !scale_in && healthy_live - 1 < min_healthy {
            continue;
        }
        pass.stop(t, &scaling_reason, changes);
        if is_healthy {
            healthy_live -= 1;
        }
    }
    if protected > 0 {
        let name = &svc.service_name;
        push_event_once(
            svc,
            format!("(service {name}) was unable to scale in due to (reason: {protected} tasks under protection)."),
        );
    }
}

/// Places `count` PRIMARY tasks, spread over zones and instances unless the service says
/// otherwise; a placement that finds no room says why in an event.
fn start(pass: &mut Pass, step: &Step, svc: &mut Service, count: usize, changes: &mut Vec<Change>) {
    let name = svc.service_name.clone();
    // Fargate places its tasks itself (over zones, then hosts).
    let strategy = if svc.launch.is_fargate() {
        Vec::new()
    } else if svc.placement_strategy.is_empty() {
        vec![PlacementStrategy::spread("attribute:ecs.availability-zone"), PlacementStrategy::spread("instanceId")]
    } else {
        svc.placement_strategy.clone()
    };
    let req = berth_model::ecs::RunTaskRequest {
        placement_constraints: svc.placement_constraints.clone(),
        placement_strategy: strategy,
        ..step.run_request(svc)
    };
    match place_in(step.state, step.caller, &req, count, changes) {
        Ok((placed, failures)) => {
            pass.started.extend(placed.iter().map(|t| t.task_arn.clone()));
            if let (true, Some(f)) = (placed.is_empty(), failures.first()) {
                let (instance, lacks) = failure_words(f);
                let message = format!(
                    "(service {name}) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance {instance}) has {lacks}."
                );
                push_event_once(svc, message);
            }
        }
        Err(e) => push_event_once(svc, format!("(service {name}) cannot start tasks: {e}")),
    }
}

/// An upper bound on the tasks `cluster` could still take: one per task slot left on its
/// ACTIVE, connected instances (ECS's limit of tasks per instance is far above any real
/// host's memory, so free memory at 4 MiB a task bounds it generously).
fn cluster_room(r: &RegionState, cluster: &str) -> i64 {
    r.instances
        .values()
        .filter(|i| crate::instances::schedulable(i, cluster))
        .map(|i| crate::instances::free_memory(r, i).max(0) / 4 + 1)
        .sum()
}
