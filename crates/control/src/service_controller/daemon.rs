//! DAEMON services: one task per eligible instance. Old deployments' tasks stop first
//! (maximumPercent is 100), then the PRIMARY's task starts on the instance; instances that
//! are no longer eligible (DRAINING, or a constraint no longer holds) lose theirs.

use berth_model::{
    service::Service,
    status::{RolloutState, ServiceStatus},
    task::TaskStatus,
};

use super::pass::{failure_words, push_event_once, Pass, Step};
use crate::{launch::place_in, services::push_event, state::Change, task_definitions::TaskDefinitionRef, RegionState};

pub(super) fn step(pass: &mut Pass, step: &Step, svc: &mut Service, eligible: &[String], changes: &mut Vec<Change>) {
    let name = svc.service_name.clone();
    let primary = step.primary;
    let scaling_reason = format!("Scaling activity initiated by (deployment {})", primary.id);
    let tasks = pass.tasks.clone();
    let live: Vec<_> = tasks.iter().copied().filter(|t| pass.live(t)).collect();
    for t in live {
        let on = t.task.container_instance_arn.clone().unwrap_or_default();
        let keep = eligible.contains(&on) && svc.status == ServiceStatus::Active;
        let superseded = t.task.started_by.as_deref() != Some(primary.id.as_str());
        if !keep || superseded {
            pass.stop(t, &scaling_reason, changes);
        }
    }
    let mut starts: Vec<String> = Vec::new();
    for instance in eligible {
        let on_it = |t: &&&std::sync::Arc<crate::TaskRecord>| {
            t.task.container_instance_arn.as_deref() == Some(instance.as_str()) && t.task.last() != TaskStatus::Stopped
        };
        let occupied = tasks.iter().filter(on_it).any(|t| !pass.stopped.contains(&t.task.task_arn));
        let stopping = tasks.iter().any(|t| on_it(&t));
        if !occupied && !stopping {
            starts.push(instance.clone());
        }
    }
    if starts.is_empty()
        || svc.status != ServiceStatus::Active
        || primary.rollout_state == Some(RolloutState::Failed)
        || step.throttled
    {
        return;
    }
    let req = berth_model::ecs::RunTaskRequest { container_instances: Some(starts), ..step.run_request(svc) };
    match place_in(step.state, step.caller, &req, 1, changes) {
        Ok((placed, failures)) => {
            pass.started.extend(placed.iter().map(|t| t.task_arn.clone()));
            if let Some(f) = failures.first() {
                let (instance, lacks) = failure_words(f);
                let message =
                    format!("(service {name}) was unable to place a task on (container-instance {instance}): {lacks}.");
                push_event_once(svc, message);
            }
        }
        Err(e) => push_event(svc, format!("(service {name}) cannot start tasks: {e}")),
    }
}

/// The instances a DAEMON service runs on: ACTIVE instances of its cluster whose agent is
/// connected and that satisfy the service's and the task definition's constraints.
pub(super) fn instances(r: &RegionState, cluster: &str, svc: &Service) -> Vec<String> {
    let td = TaskDefinitionRef::parse(&svc.task_definition).ok().and_then(|x| x.resolve(r).cloned());
    let Some(td) = td else { return Vec::new() };
    let Ok((constraints, _)) = crate::placement::placement_rules(&td, &svc.placement_constraints, &[], Vec::new())
    else {
        return Vec::new();
    };
    let request = berth_scheduler::Request {
        constraints,
        group: berth_model::service::service_group(&svc.service_name),
        ..Default::default()
    };
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
