//! A service's tasks in its Cloud Map registry: a task is registered once it is RUNNING
//! and, where its definition checks health, HEALTHY; its custom health follows the task's;
//! it is deregistered when it stops being wanted (StopTask, a crash, a DRAINING instance)
//! and, when the service stops it, before it is stopped: the task stays DEACTIVATING
//! until resolvers had the records' TTL (bounded by the configured wait) to forget it.

use std::time::Duration;

use berth_model::{discovery::CustomHealthStatus, service::Service, status::HealthStatus, task::TaskStatus};

use super::pass::Pass;
use crate::{
    discovery::ecs::{record_ttl, registrations_of, registry_service, task_instance},
    state::Change,
    Caller, TaskRecord,
};

/// The caller registrations are made as: the service's account in its region.
fn caller(pass: &Pass) -> Caller {
    Caller { region: pass.region.to_string(), account: pass.account.clone() }
}

pub(super) fn sync(pass: &mut Pass, svc: &Service, cluster: &str, changes: &mut Vec<Change>) {
    let caller = caller(pass);
    let registry = svc.service_registries.first();
    let service = registry.and_then(|r| registry_service(pass.r, r));
    let d = &pass.r.discovery;
    if service.is_none() && d.instances.is_empty() {
        // Nothing to register, and no registration any task could hold.
        return;
    }
    for t in pass.tasks.clone() {
        let held = registrations_of(pass.r, &t.task);
        let wanted = pass.active(t) && t.task.last() == TaskStatus::Running && ready(pass, t) && !pass.draining(t);
        for (s, r) in &held {
            let current = service.is_some_and(|cur| cur.service.id == s.service.id);
            if !wanted || !current {
                crate::discovery::deregister(d, &caller, s, &r.instance.id, changes);
            } else if s.service.custom_health() {
                let status = match t.task.health_status {
                    HealthStatus::Unhealthy => CustomHealthStatus::Unhealthy,
                    _ => CustomHealthStatus::Healthy,
                };
                crate::discovery::set_health(s, r, status, &caller, changes);
            }
        }
        let (Some(registry), Some(service)) = (registry, service) else { continue };
        if wanted && !held.iter().any(|(s, _)| s.service.id == service.service.id) {
            if let Some(instance) = task_instance(pass.region, pass.r, svc, cluster, registry, service, t) {
                if let Err(e) =
                    crate::discovery::register(d, &caller, service, instance, Some(t.task.task_arn.clone()), changes)
                {
                    tracing::warn!(task = %t.task.task_arn, error = %e, "registering the task in Cloud Map failed");
                }
            }
        }
    }
}

/// RUNNING and, where its definition checks health, HEALTHY.
fn ready(pass: &Pass, t: &TaskRecord) -> bool {
    let checked = pass.has_health_check.get(t.task.started_by.as_deref().unwrap_or_default()).copied().unwrap_or(false);
    !checked || t.task.health_status == HealthStatus::Healthy
}

/// Deregisters every registration of a task being stopped; true if there was one.
pub(super) fn release(pass: &Pass, t: &TaskRecord, changes: &mut Vec<Change>) -> bool {
    let held = registrations_of(pass.r, &t.task);
    let caller = caller(pass);
    for (s, r) in &held {
        crate::discovery::deregister(&pass.r.discovery, &caller, s, &r.instance.id, changes);
    }
    !held.is_empty()
}

/// For a DEACTIVATING task: `None` once its registrations are gone and resolvers had the
/// records' TTL (at most `max_wait`) since it was stopped; else how long to wait.
pub(super) fn released(pass: &Pass, t: &TaskRecord) -> Option<Duration> {
    if !registrations_of(pass.r, &t.task).is_empty() {
        return Some(Duration::from_millis(50));
    }
    let wait = record_ttl(pass.r, &pass.registries).min(pass.dns_drain_max.as_secs_f64());
    let since = t.task.stopping_at.unwrap_or(pass.now);
    let left = since + wait - pass.now;
    (left > 0.0).then(|| Duration::from_secs_f64(left))
}
