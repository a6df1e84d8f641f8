//! The service controller: level-triggered. Every pass looks at one service afresh and
//! moves its tasks one step toward what the service wants — replace tasks that turned
//! unhealthy, trip the circuit breaker (and roll back) when a deployment's tasks keep
//! failing ([`breaker`]), start the PRIMARY deployment's tasks within maximumPercent and
//! stop old ones within minimumHealthyPercent ([`replicas`]; one task per instance for a
//! DAEMON service, [`daemon`]), then record counts, rollout states and events
//! ([`progress`]). A pass that finds nothing to do writes nothing, so running it twice is
//! harmless. It runs inside the writer, so it decides over exactly the state it changes.

mod breaker;
mod daemon;
mod pass;
mod progress;
mod registries;
mod replicas;
mod targets;

#[cfg(test)]
use pass::PLACEMENT_BATCH;
use pass::{failed, seconds, Pass, Step, HEALTH_STOP_REASON};

use std::{sync::Arc, time::Duration};

use berth_model::{
    status::{HealthStatus, ServiceStatus},
    task::TaskStatus,
    Arn, EcsError,
};

use crate::{
    controller::{region_keys, Action, Clock, Reconciler, SystemClock},
    state::Change,
    task_definitions::TaskDefinitionRef,
    Caller, Control, State, TaskRecord,
};

#[derive(Debug, Clone, Copy)]
pub struct ServiceControllerConfig {
    /// How long a RUNNING task without a health check must stay up before it counts as
    /// healthy (ECS waits a fixed 40 s; berth's default is short).
    pub settle: Duration,
    /// The resync period; passes also run after every commit.
    pub interval: Duration,
    /// The longest a task deregistered from Cloud Map waits (for its records' TTL) before
    /// it is stopped.
    pub dns_drain_max: Duration,
}

impl Default for ServiceControllerConfig {
    fn default() -> Self {
        ServiceControllerConfig {
            settle: Duration::from_secs(1),
            interval: Duration::from_millis(500),
            dns_drain_max: Duration::from_secs(10),
        }
    }
}

/// ECS's cap on the delay between attempts to start tasks that keep failing.
const MAX_BACKOFF_SECS: f64 = 27.0 * 60.0;

/// The service controller as a [`Reconciler`]: its keys are (region, service ARN).
pub struct ServiceController {
    pub config: ServiceControllerConfig,
}

impl Reconciler for ServiceController {
    type Key = (String, String);
    const NAME: &'static str = "service";

    fn keys(&self, state: &State, _now: f64) -> Vec<(String, String)> {
        region_keys(state, |r| {
            let live = r.services.values().filter(|svc| svc.service.status != ServiceStatus::Inactive);
            live.map(|svc| svc.service.service_arn.clone())
        })
    }

    fn reconcile(
        &self,
        state: &State,
        (region, arn): &(String, String),
        now: f64,
        changes: &mut Vec<Change>,
    ) -> Result<Action, EcsError> {
        reconcile(state, region, arn, &self.config, now, changes)
    }
}

impl Control {
    /// Runs the service controller on the wall clock until the returned handle is aborted.
    pub fn spawn_service_controller(&self, config: ServiceControllerConfig) -> tokio::task::JoinHandle<()> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        self.spawn_controller(ServiceController { config }, clock, config.interval)
    }
}

/// How long until the next RUNNING task of the service has been up for the settle time,
/// if one is still settling: a task that settles needs no commit to count as healthy.
fn until_next_settle(tasks: &[&Arc<TaskRecord>], config: &ServiceControllerConfig, now: f64) -> Option<Duration> {
    let settle = config.settle.as_secs_f64();
    tasks
        .iter()
        .filter(|t| t.task.last() == TaskStatus::Running)
        .filter_map(|t| t.task.started_at.map(|at| at + settle - now))
        .filter(|left| *left > 0.0)
        .min_by(f64::total_cmp)
        .map(|left| Duration::from_secs_f64(left + 0.005))
}

/// One pass over one service, as of `now` (epoch seconds): a pure decision over `state`,
/// expressed as the changes it pushes, and when the service needs another look.
pub(crate) fn reconcile(
    state: &State,
    region: &str,
    arn: &str,
    config: &ServiceControllerConfig,
    now: f64,
    changes: &mut Vec<Change>,
) -> Result<Action, EcsError> {
    let r = state.region(region);
    let Some(rec) = r.services.get(arn) else { return Ok(Action::Done) };
    if rec.service.status == ServiceStatus::Inactive {
        return Ok(Action::Done);
    }
    let account = Arn::parse(arn).map(|a| a.account).unwrap_or_default();
    let caller = Caller { region: region.to_string(), account };
    let mut svc = rec.service.clone();
    let mut last_completed = rec.last_completed.clone();
    let has_health_check = svc
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
    let mut pass = Pass {
        state,
        r,
        region,
        tasks: r.tasks_in_group(&rec.cluster, &berth_model::service::service_group(&svc.service_name)).collect(),
        has_health_check,
        settle: config.settle.as_secs_f64(),
        now,
        unhealthy_stopped: Vec::new(),
        started: Vec::new(),
        stopped: Vec::new(),
        load_balancers: svc.load_balancers.clone(),
        edits: Default::default(),
        registered: Default::default(),
        deregistered: Default::default(),
        draining: 0,
        account: caller.account.clone(),
        registries: svc.service_registries.clone(),
        dns_drain_max: config.dns_drain_max,
        requeue: None,
    };
    targets::sync(&mut pass, &mut svc, changes);
    registries::sync(&mut pass, &svc, &rec.cluster, changes);

    // Unhealthy tasks are replaced (after the grace period).
    let grace = svc.health_check_grace_period_seconds.unwrap_or(0) as f64;
    let unhealthy: Vec<&Arc<TaskRecord>> = pass
        .tasks
        .iter()
        .filter(|t| pass.active(t) && t.task.health_status == HealthStatus::Unhealthy)
        .filter(|t| !pass.unhealthy_stopped.contains(&t.task.task_arn))
        .filter(|t| seconds(t.task.started_at) + grace <= now)
        .copied()
        .collect();
    for t in unhealthy {
        pass.stop(t, HEALTH_STOP_REASON, changes);
        pass.unhealthy_stopped.push(t.task.task_arn.clone());
    }

    let daemon = svc.scheduling_strategy == "DAEMON";
    let eligible = if daemon { daemon::instances(r, &rec.cluster, &svc) } else { Vec::new() };
    if daemon {
        svc.desired_count = eligible.len() as i64;
    }
    let desired = if svc.status == ServiceStatus::Active { svc.desired_count } else { 0 };
    breaker::check(&pass, &mut svc, &mut last_completed, desired);

    let primary = svc.deployments[0].clone();
    let throttled = throttle(&pass, &primary.id);
    let step = Step { state, caller: &caller, cluster: &rec.cluster, primary: &primary, desired, throttled };
    if daemon {
        daemon::step(&mut pass, &step, &mut svc, &eligible, changes);
    } else {
        replicas::step(&mut pass, &step, &mut svc, changes);
    }
    progress::record(&pass, &step, &mut svc, &mut last_completed);
    targets::events(&pass, &mut svc);
    let edits = std::mem::take(&mut pass.edits);
    edits.flush(region, changes);

    let settle = until_next_settle(&pass.tasks, config, now);
    let next = match (settle, pass.requeue) {
        (Some(a), Some(b)) => Action::RequeueAfter(a.min(b)),
        (Some(a), None) | (None, Some(a)) => Action::RequeueAfter(a),
        (None, None) => Action::Done,
    };
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
    Ok(next)
}

/// ECS's start throttle: once three or more of the deployment's tasks failed and none is
/// healthy, wait 2^(failures-3) seconds (at most 27 minutes) after the last failure.
fn throttle(pass: &Pass, deployment: &str) -> bool {
    let mine = pass.of(deployment);
    let failures: Vec<f64> = mine.iter().filter(|t| failed(t)).map(|t| seconds(t.task.stopped_at)).collect();
    if failures.len() < 3 || mine.iter().any(|t| pass.healthy(t)) {
        return false;
    }
    let last = failures.iter().cloned().fold(0.0, f64::max);
    let delay = 2f64.powi(failures.len() as i32 - 3).min(MAX_BACKOFF_SECS);
    pass.now < last + delay
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod lb_tests;

#[cfg(test)]
mod props;

#[cfg(test)]
mod discovery_tests;
