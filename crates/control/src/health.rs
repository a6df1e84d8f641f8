//! The instance-health controller: an instance whose agent has not been heard from for
//! `heartbeat_timeout` is marked `agentConnected=false`; once it has been disconnected
//! for `disconnected_grace`, its tasks are given up (STOPPED, with a reason that says so).
//! Level-triggered: each tick looks at every instance afresh, so running it twice is safe.

use std::{sync::Arc, time::Duration};

use berth_model::{
    status::{DesiredStatus, InstanceStatus},
    task::TaskStatus,
    time, EcsError,
};

use crate::{
    agent_channel::Heartbeats,
    controller::{region_keys, Action, Clock, Reconciler, SystemClock},
    state::Change,
    tasks::bump_instance,
    Control, RegionState, State,
};

#[derive(Debug, Clone, Copy)]
pub struct HealthConfig {
    pub heartbeat_timeout: Duration,
    pub disconnected_grace: Duration,
    pub check_interval: Duration,
    /// STOPPED tasks stay describable this long, then are forgotten (ECS: at least 1 h).
    pub stopped_task_retention: Duration,
    /// At most this many STOPPED tasks are kept per region, the oldest forgotten first, so
    /// memory stays bounded however fast tasks come and go.
    pub max_stopped_tasks: usize,
}

/// The default cap on STOPPED tasks kept per region (each takes a few KiB).
pub const MAX_STOPPED_TASKS: usize = 10_000;

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            heartbeat_timeout: Duration::from_secs(30),
            disconnected_grace: Duration::from_secs(120),
            check_interval: Duration::from_secs(1),
            stopped_task_retention: Duration::from_secs(3600),
            max_stopped_tasks: MAX_STOPPED_TASKS,
        }
    }
}

/// The instance-health controller as a [`Reconciler`], keyed by (region, instance ARN).
/// An instance never heard from since the server started counts from `started`.
pub struct InstanceHealth {
    config: HealthConfig,
    heartbeats: Arc<Heartbeats>,
    started: f64,
}

/// What an instance's silence calls for.
enum Due {
    /// Silent past the heartbeat timeout while shown connected.
    Disconnect,
    /// Disconnected with tasks, silent past the timeout and the grace.
    GiveUp,
}

impl InstanceHealth {
    fn due(&self, r: &RegionState, rec: &crate::InstanceRecord, now: f64) -> Option<Due> {
        if rec.instance.status == InstanceStatus::Inactive {
            return None;
        }
        let arn = &rec.instance.container_instance_arn;
        let silent = now - self.heartbeats.last_seen(arn).unwrap_or(self.started);
        let timeout = self.config.heartbeat_timeout.as_secs_f64();
        let grace = self.config.disconnected_grace.as_secs_f64();
        if rec.instance.agent_connected {
            return (silent > timeout).then_some(Due::Disconnect);
        }
        // Disconnected since it went silent for the timeout: the grace counts from then.
        let has_tasks = r.tasks_on(arn).any(|t| t.task.last() != TaskStatus::Stopped);
        (has_tasks && silent > timeout + grace).then_some(Due::GiveUp)
    }
}

impl Reconciler for InstanceHealth {
    type Key = (String, String);
    const NAME: &'static str = "instance health";
    const WAKE_ON_COMMIT: bool = false;

    /// Only the instances whose silence calls for something now.
    fn keys(&self, state: &State, now: f64) -> Vec<(String, String)> {
        region_keys(state, |r| {
            let due = r.instances.values().filter(move |i| self.due(r, i, now).is_some());
            due.map(|i| i.instance.container_instance_arn.clone())
        })
    }

    fn reconcile(
        &self,
        state: &State,
        (region, arn): &(String, String),
        now: f64,
        changes: &mut Vec<Change>,
    ) -> Result<Action, EcsError> {
        let r = state.region(region);
        let Some(rec) = r.instances.get(arn) else { return Ok(Action::Done) };
        match self.due(r, rec, now) {
            Some(Due::Disconnect) => {
                tracing::warn!(instance = %arn, "agent stopped heartbeating: marking it disconnected");
                let mut next = (**rec).clone();
                next.instance.agent_connected = false;
                next.instance.version += 1;
                changes.push(Change::Instance { region: region.clone(), record: Arc::new(next) });
            }
            Some(Due::GiveUp) => {
                tracing::warn!(instance = %arn, "agent disconnected past the grace period: stopping its tasks");
                give_up_tasks(r, region, arn, self.config.disconnected_grace, now, changes);
            }
            None => {}
        }
        Ok(Action::Done)
    }
}

impl Control {
    /// Runs the instance-health controller (every `check_interval`, on the wall clock) and,
    /// once a minute, forgets STOPPED tasks past their retention and deleted task
    /// definitions nothing uses. Until the returned handle is aborted.
    pub fn spawn_instance_health(&self, config: HealthConfig) -> tokio::task::JoinHandle<()> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let health = InstanceHealth { config, heartbeats: self.inner.heartbeats.clone(), started: clock.now() };
        let controller = AbortOnDrop(self.spawn_controller(health, clock, config.check_interval));
        let control = self.clone();
        tokio::spawn(async move {
            let _controller = controller;
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) =
                    control.forget_stopped_tasks(config.stopped_task_retention, config.max_stopped_tasks).await
                {
                    tracing::warn!(error = %e, "forgetting stopped tasks failed");
                }
                if let Err(e) = control.forget_deleted_task_definitions().await {
                    tracing::warn!(error = %e, "forgetting deleted task definitions failed");
                }
            }
        })
    }

    /// Removes STOPPED tasks whose `stoppedAt` is older than `retention`, and the oldest
    /// beyond `max_kept` per region.
    pub async fn forget_stopped_tasks(
        &self,
        retention: Duration,
        max_kept: usize,
    ) -> Result<usize, berth_model::EcsError> {
        let cutoff = time::now() - retention.as_secs_f64();
        self.write(move |state, changes| {
            let mut n = 0;
            for (region, r) in state.regions() {
                let mut stopped: Vec<(f64, &Arc<crate::TaskRecord>)> = r
                    .tasks
                    .values()
                    .filter(|t| t.task.last() == TaskStatus::Stopped)
                    .map(|t| (t.task.stopped_at.unwrap_or(0.0), t))
                    .collect();
                stopped.sort_by(|a, b| b.0.total_cmp(&a.0));
                for (i, (at, t)) in stopped.into_iter().enumerate() {
                    if at <= cutoff || i >= max_kept {
                        let arn = t.task.task_arn.clone();
                        changes.push(Change::Tags {
                            region: region.clone(),
                            arn: arn.clone(),
                            tags: Arc::new(Vec::new()),
                        });
                        changes.push(Change::ForgetTask { region: region.clone(), arn });
                        n += 1;
                    }
                }
            }
            Ok(n)
        })
        .await
    }
}

/// Aborts the task when dropped, so aborting the outer task stops the inner one too.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Gives up the tasks on a lost instance: STOPPED, with a reason that says so.
fn give_up_tasks(r: &RegionState, region: &str, arn: &str, grace: Duration, now: f64, changes: &mut Vec<Change>) {
    let id = arn.rsplit('/').next().unwrap_or_default().to_string();
    let reason = format!(
        "The agent on container instance {id} stopped responding and did not come back within {}s; the task was given up.",
        grace.as_secs()
    );
    let mut any = false;
    for t in r.tasks_on(arn).filter(|t| t.task.last() != TaskStatus::Stopped) {
        let mut next = (**t).clone();
        let task = &mut next.task;
        task.last_status = TaskStatus::Stopped;
        task.desired_status = DesiredStatus::Stopped;
        task.connectivity = Some("DISCONNECTED".into());
        task.stopped_at = Some(now);
        task.stopping_at.get_or_insert(now);
        task.stopped_reason.get_or_insert_with(|| reason.clone());
        for c in &mut task.containers {
            if c.last_status != TaskStatus::Stopped {
                c.last_status = TaskStatus::Stopped;
                c.reason.get_or_insert_with(|| "The container instance's agent stopped responding.".into());
            }
        }
        task.version += 1;
        changes.push(Change::Task { region: region.to_string(), record: Arc::new(next) });
        any = true;
    }
    if any {
        if let Some(t) = r.tasks_on(arn).next() {
            bump_instance(region, t, changes);
        }
    }
}

#[cfg(test)]
mod tests {
    use berth_model::task::{ContainerStateChange, TaskStateChange};

    use std::sync::Arc;

    use crate::test_support::*;
    use berth_model::ecs::{ListTasksRequest, RunTaskRequest, TasksResponse};

    /// The agent's report that task `arn` (its container `app`) stopped.
    fn stopped_report(arn: &str) -> TaskStateChange {
        let stopped = Some(berth_model::task::TaskStatus::Stopped);
        TaskStateChange {
            task: Some(arn.to_string()),
            status: stopped,
            containers: vec![ContainerStateChange {
                container_name: Some("app".into()),
                status: stopped,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn only_the_newest_stopped_tasks_are_kept_past_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let control = open(dir.path());
        let c = caller();
        cluster_with_instances(&control, &["a"], 1024, 1).await;
        let run = RunTaskRequest {
            cluster: Some("c".into()),
            task_definition: Some("web".into()),
            count: Some(5),
            ..Default::default()
        };
        let tasks = control.run_task(&c, run).await.unwrap().tasks;
        // Stopped one after another: the first is the oldest.
        for t in &tasks {
            control.submit_task_state_change("us-east-1".into(), None, stopped_report(&t.task_arn)).await.unwrap();
        }
        // The clock counts milliseconds: spread the stop times so their order is certain.
        let arns: Vec<String> = tasks.iter().map(|t| t.task_arn.clone()).collect();
        let spread = arns.clone();
        let base = berth_model::time::now() - 100.0;
        control
            .write(move |state, changes| {
                for (i, arn) in spread.iter().enumerate() {
                    let mut rec = (**state.region("us-east-1").tasks.get(arn).unwrap()).clone();
                    rec.task.stopped_at = Some(base + i as f64);
                    changes.push(crate::state::Change::Task { region: "us-east-1".into(), record: Arc::new(rec) });
                }
                Ok::<(), berth_model::EcsError>(())
            })
            .await
            .unwrap();
        assert_eq!(control.forget_stopped_tasks(std::time::Duration::from_secs(3600), 2).await.unwrap(), 3);
        let TasksResponse { tasks: found, .. } = control.describe_tasks(&c, &tasks_in("c", &arns)).unwrap();
        let mut kept: Vec<String> = found.iter().map(|t| t.task_arn.clone()).collect();
        kept.sort();
        let mut newest = arns[3..].to_vec();
        newest.sort();
        assert_eq!(kept, newest, "the two most recently stopped stay");
    }

    #[tokio::test]
    async fn stopped_tasks_are_forgotten_after_their_retention() {
        let dir = tempfile::tempdir().unwrap();
        let control = open(dir.path());
        let c = caller();
        cluster_with_instances(&control, &["a"], 1024, 1).await;
        let run = RunTaskRequest {
            cluster: Some("c".into()),
            task_definition: Some("web".into()),
            count: Some(2),
            ..Default::default()
        };
        let tasks = control.run_task(&c, run).await.unwrap().tasks;
        let stopped = tasks[0].task_arn.clone();
        control.submit_task_state_change("us-east-1".into(), None, stopped_report(&stopped)).await.unwrap();

        // Within the retention nothing goes; past it only the STOPPED task does.
        assert_eq!(control.forget_stopped_tasks(std::time::Duration::from_secs(3600), 10).await.unwrap(), 0);
        assert_eq!(control.forget_stopped_tasks(std::time::Duration::ZERO, 10).await.unwrap(), 1);
        let arns = [stopped.clone(), tasks[1].task_arn.clone()];
        let TasksResponse { tasks: found, failures: missing } =
            control.describe_tasks(&c, &tasks_in("c", &arns)).unwrap();
        assert_eq!((found.len(), missing.len()), (1, 1));
        let listed = control
            .list_tasks(
                &c,
                &ListTasksRequest {
                    cluster: Some("c".into()),
                    desired_status: Some("STOPPED".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert!(listed.task_arns.is_empty());
        // And it stays forgotten after a restart.
        drop(control);
        let control = open(dir.path());
        let TasksResponse { failures: missing, .. } = control.describe_tasks(&c, &tasks_in("c", &[stopped])).unwrap();
        assert_eq!(missing.len(), 1);
    }
}
