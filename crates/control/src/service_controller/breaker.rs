//! The deployment circuit breaker: it watches the PRIMARY deployment while it rolls out,
//! fails it once enough of its tasks failed, and (with rollback) starts a deployment of the
//! last one that completed.

use berth_model::{
    service::{circuit_breaker_threshold, Service},
    status::{DeploymentStatus, RolloutState},
};

use super::pass::{failed, Pass};
use crate::services::{new_deployment, push_event};

pub(super) fn check(pass: &Pass, svc: &mut Service, last_completed: &mut Option<(String, String)>, desired: i64) {
    let name = svc.service_name.clone();
    let primary_id = svc.deployments[0].id.clone();
    let primary_tasks = pass.of(&primary_id);
    let primary_failed = primary_tasks.iter().filter(|t| failed(t)).count() as i64
        + primary_tasks.iter().filter(|t| pass.unhealthy_stopped.contains(&t.task.task_arn)).count() as i64;
    svc.deployments[0].failed_tasks = primary_failed;
    let breaker = svc.deployment_configuration.deployment_circuit_breaker.unwrap_or_default();
    if !breaker.enable
        || svc.deployments[0].rollout_state != Some(RolloutState::InProgress)
        || primary_failed < circuit_breaker_threshold(desired)
    {
        return;
    }
    let d = &mut svc.deployments[0];
    d.rollout_state = Some(RolloutState::Failed);
    d.rollout_state_reason = Some("ECS deployment circuit breaker: tasks failed to start.".into());
    push_event(svc, format!("(service {name}) (deployment {primary_id}) deployment failed: tasks failed to start."));
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
        let launch = svc.launch.clone();
        svc.deployments.insert(0, new_deployment(&launch, &good_td, desired, Some(&reason)));
        svc.task_definition = good_td;
        push_event(svc, format!("(service {name}) rolling back to deployment {good_id}."));
    }
}
