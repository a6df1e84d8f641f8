//! What a pass records: counts per deployment, deployments that have drained, completion of
//! the rollout, the service's events, and a DRAINING service going INACTIVE.

use berth_model::{
    service::Service,
    status::{RolloutState, ServiceStatus},
    task::TaskStatus,
};

use super::pass::{short_id, Pass, Step};
use crate::services::push_event;

pub(super) fn record(pass: &Pass, step: &Step, svc: &mut Service, last_completed: &mut Option<(String, String)>) {
    let (primary, desired) = (step.primary, step.desired);
    let name = svc.service_name.clone();
    let now_live = |id: &str| {
        pass.tasks
            .iter()
            .filter(|t| t.task.started_by.as_deref() == Some(id) && t.task.last() != TaskStatus::Stopped)
            .count()
    };
    for (i, d) in svc.deployments.iter_mut().enumerate() {
        let mine: Vec<_> = pass.of(&d.id).into_iter().filter(|t| pass.live(t)).collect();
        d.running_count = mine.iter().filter(|t| t.task.last() == TaskStatus::Running).count() as i64;
        d.pending_count = mine.len() as i64 - d.running_count;
        if i == 0 {
            d.pending_count += pass.started.len() as i64;
            d.desired_count = desired;
        } else {
            d.desired_count = 0;
        }
    }
    let kept: Vec<_> = svc
        .deployments
        .iter()
        .enumerate()
        .filter(|(i, d)| *i == 0 || now_live(&d.id) > 0)
        .map(|(_, d)| d.clone())
        .collect();
    svc.deployments = kept;
    let primary_healthy = pass.of(&primary.id).into_iter().filter(|t| pass.live(t) && pass.healthy(t)).count() as i64;
    let steady =
        svc.deployments.len() == 1 && primary_healthy == desired && pass.started.is_empty() && pass.stopped.is_empty();
    if steady && svc.deployments[0].rollout_state == Some(RolloutState::InProgress) {
        let id = svc.deployments[0].id.clone();
        svc.deployments[0].rollout_state = Some(RolloutState::Completed);
        svc.deployments[0].rollout_state_reason = Some(format!("ECS deployment {id} completed."));
        *last_completed = Some((id.clone(), svc.deployments[0].task_definition.clone()));
        push_event(svc, format!("(service {name}) (deployment {id}) deployment completed."));
    }
    let steady_message = format!("(service {name}) has reached a steady state.");
    if steady && svc.events.first().map(|e| &e.message) != Some(&steady_message) {
        push_event(svc, steady_message);
    }
    if !pass.started.is_empty() {
        let ids: Vec<String> = pass.started.iter().map(|a| format!("(task {})", short_id(a))).collect();
        push_event(svc, format!("(service {name}) has started {} tasks: {}.", pass.started.len(), ids.join(" ")));
    }
    if !pass.stopped.is_empty() {
        let ids: Vec<String> = pass.stopped.iter().map(|a| format!("(task {})", short_id(a))).collect();
        push_event(
            svc,
            format!("(service {name}) has stopped {} running tasks: {}.", pass.stopped.len(), ids.join(" ")),
        );
    }
    svc.running_count = svc.deployments.iter().map(|d| d.running_count).sum();
    svc.pending_count = svc.deployments.iter().map(|d| d.pending_count).sum();
    if svc.status == ServiceStatus::Draining
        && pass.tasks.iter().all(|t| t.task.last() == TaskStatus::Stopped || pass.stopped.contains(&t.task.task_arn))
        && pass.started.is_empty()
        && now_live(&primary.id) == 0
    {
        svc.status = ServiceStatus::Inactive;
    }
}
