//! Property tests of the service controller's promises, over random histories: agents
//! that start, run and fail tasks in any order, deployments and scaling at any moment.
//! After every controller pass:
//! - it never starts tasks beyond maximumPercent of the desired count;
//! - its own stops never take the healthy tasks below minimumHealthyPercent (tasks that
//!   fail on their own may);
//! - once a rolling-out deployment has as many failed tasks as ECS's breaker threshold,
//!   the breaker has tripped it.

use std::{collections::HashSet, sync::Arc};

use berth_model::{
    service::{circuit_breaker_threshold, maximum_tasks, minimum_healthy, Service},
    status::{DesiredStatus, RolloutState},
    task::TaskStatus,
    time,
};
use proptest::prelude::*;

use super::*;
use crate::test_support::*;
use berth_model::ecs::{CreateServiceRequest, UpdateServiceRequest};
use berth_model::service::{DeploymentCircuitBreaker, DeploymentConfiguration};

#[derive(Debug, Clone)]
enum Step {
    /// A controller pass, `millis` after the previous one.
    Pass {
        millis: u16,
    },
    /// The agent reports these tasks (by position among the live ones) RUNNING.
    Run {
        pick: u8,
    },
    /// The agent reports a live task as failed to start.
    Fail {
        pick: u8,
    },
    /// The agent finishes every stop the controller asked for.
    Stopped,
    /// A new deployment (the other task definition revision).
    Deploy,
    Scale {
        desired: u8,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u16..3000).prop_map(|millis| Step::Pass { millis }),
        3 => any::<u8>().prop_map(|pick| Step::Run { pick }),
        1 => any::<u8>().prop_map(|pick| Step::Fail { pick }),
        2 => Just(Step::Stopped),
        1 => Just(Step::Deploy),
        1 => (0u8..7).prop_map(|desired| Step::Scale { desired }),
    ]
}

struct World {
    control: Control,
    _dir: tempfile::TempDir,
    arn: String,
    config: ServiceControllerConfig,
    now: f64,
}

const SETTLE: f64 = 1.0;

impl World {
    async fn new(desired: i64, maximum: i64, minimum: i64) -> World {
        let dir = tempfile::tempdir().unwrap();
        let control = open(dir.path());
        cluster_with_instances(&control, &["a", "b"], 4096, 2).await;
        let deployment_configuration = DeploymentConfiguration {
            maximum_percent: Some(maximum),
            minimum_healthy_percent: Some(minimum),
            deployment_circuit_breaker: Some(DeploymentCircuitBreaker { enable: true, rollback: false }),
        };
        let create = CreateServiceRequest {
            cluster: Some("c".into()),
            service_name: Some("web".into()),
            task_definition: Some("web:1".into()),
            desired_count: Some(desired),
            deployment_configuration: Some(deployment_configuration),
            ..Default::default()
        };
        let svc = control.create_service(&caller(), create).await.unwrap();
        let config =
            ServiceControllerConfig { settle: std::time::Duration::from_secs_f64(SETTLE), ..Default::default() };
        World { control, _dir: dir, arn: svc.service.service_arn, config, now: time::now() }
    }

    fn service(&self) -> Service {
        self.control.read(|s| s.region("us-east-1").services[&self.arn].service.clone())
    }

    fn tasks(&self) -> Vec<Arc<TaskRecord>> {
        self.control.read(|s| s.region("us-east-1").tasks.values().cloned().collect())
    }

    fn live(&self) -> Vec<Arc<TaskRecord>> {
        let mut live: Vec<_> = self
            .tasks()
            .into_iter()
            .filter(|t| t.task.last() != TaskStatus::Stopped && t.task.desired_status == DesiredStatus::Running)
            .collect();
        live.sort_by(|a, b| a.task.task_arn.cmp(&b.task.task_arn));
        live
    }

    fn healthy(&self, now: f64) -> HashSet<String> {
        self.live()
            .into_iter()
            .filter(|t| t.task.last() == TaskStatus::Running && t.task.started_at.is_some_and(|s| s + SETTLE <= now))
            .map(|t| t.task.task_arn.clone())
            .collect()
    }

    async fn report(&self, arn: &str, status: TaskStatus, stop_code: Option<&str>) {
        let change = berth_model::task::TaskStateChange {
            task: Some(arn.to_string()),
            status: Some(status),
            stop_code: stop_code.map(String::from),
            reason: stop_code.map(|_| "CannotStartContainerError: boom".to_string()),
            containers: vec![berth_model::task::ContainerStateChange {
                container_name: Some("app".into()),
                status: Some(status),
                ..Default::default()
            }],
            ..Default::default()
        };
        // A report about a task that already stopped is refused; that is fine here.
        let _ = self.control.submit_task_state_change("us-east-1".into(), None, change).await;
    }

    /// Runs one pass and checks the invariants around it.
    async fn pass(&mut self, millis: u16) -> Result<(), TestCaseError> {
        self.now += f64::from(millis) / 1000.0;
        let now = self.now;
        let before = self.service();
        let live_before = self.live().len() as i64;
        let healthy_before = self.healthy(now);
        let (arn, config) = (self.arn.clone(), self.config);
        self.control
            .write(move |state, changes| reconcile(state, "us-east-1", &arn, &config, now, changes))
            .await
            .map_err(|e| TestCaseError::fail(format!("pass failed: {e}")))?;
        let after = self.service();
        let desired = before.desired_count;
        let max_total =
            maximum_tasks(desired, before.deployment_configuration.maximum_percent.unwrap_or(200)).max(desired.min(1));
        let live_after = self.live().len() as i64;
        prop_assert!(
            live_after <= max_total.max(live_before),
            "{live_after} tasks live after a pass, maximum {max_total} (before: {live_before})"
        );
        let minimum = minimum_healthy(desired, before.deployment_configuration.minimum_healthy_percent.unwrap_or(100));
        let still_healthy = healthy_before.iter().filter(|arn| self.live().iter().any(|t| &t.task.task_arn == *arn));
        let kept = still_healthy.count() as i64;
        prop_assert!(
            kept >= minimum.min(healthy_before.len() as i64),
            "the pass stopped healthy tasks down to {kept}; minimum {minimum}, healthy before {}",
            healthy_before.len()
        );
        // The breaker: a rolling-out deployment with threshold failures has tripped.
        if before.deployment_configuration.deployment_circuit_breaker.is_some_and(|b| b.enable) {
            for d in &after.deployments {
                let failed = self
                    .tasks()
                    .iter()
                    .filter(|t| t.task.started_by.as_deref() == Some(d.id.as_str()))
                    .filter(|t| t.task.stop_code.as_deref() == Some("TaskFailedToStart"))
                    .filter(|t| t.task.last() == TaskStatus::Stopped)
                    .count() as i64;
                if d.id == after.deployments[0].id && failed >= circuit_breaker_threshold(d.desired_count) {
                    prop_assert!(
                        d.rollout_state != Some(RolloutState::InProgress),
                        "deployment {} has {failed} failed tasks and is still IN_PROGRESS",
                        d.id
                    );
                }
            }
        }
        Ok(())
    }

    async fn apply(&mut self, step: &Step) -> Result<(), TestCaseError> {
        match step {
            Step::Pass { millis } => self.pass(*millis).await?,
            Step::Run { pick } => {
                let pending: Vec<_> =
                    self.live().into_iter().filter(|t| t.task.last() != TaskStatus::Running).collect();
                if let Some(t) = pending.get(*pick as usize % pending.len().max(1)) {
                    self.report(&t.task.task_arn, TaskStatus::Running, None).await;
                    // Reports carry the agent's clock: make the start time this world's now.
                    let (arn, now) = (t.task.task_arn.clone(), self.now);
                    self.control
                        .write(move |state, changes| {
                            let mut rec = (*state.region("us-east-1").tasks[&arn]).clone();
                            rec.task.started_at = Some(now);
                            changes.push(Change::Task { region: "us-east-1".into(), record: Arc::new(rec) });
                            Ok::<(), berth_model::EcsError>(())
                        })
                        .await
                        .unwrap();
                }
            }
            Step::Fail { pick } => {
                let live = self.live();
                if let Some(t) = live.get(*pick as usize % live.len().max(1)) {
                    self.report(&t.task.task_arn, TaskStatus::Stopped, Some("TaskFailedToStart")).await;
                }
            }
            Step::Stopped => {
                let stopping: Vec<String> = self
                    .tasks()
                    .into_iter()
                    .filter(|t| t.task.desired_status == DesiredStatus::Stopped && t.task.last() != TaskStatus::Stopped)
                    .map(|t| t.task.task_arn.clone())
                    .collect();
                for arn in stopping {
                    self.report(&arn, TaskStatus::Stopped, None).await;
                }
            }
            Step::Deploy => {
                let next = if self.service().task_definition.ends_with(":1") { "web:2" } else { "web:1" };
                let update = UpdateServiceRequest {
                    cluster: Some("c".into()),
                    service: Some("web".into()),
                    task_definition: Some(next.into()),
                    ..Default::default()
                };
                self.control.update_service(&caller(), update).await.unwrap();
            }
            Step::Scale { desired } => {
                let update = UpdateServiceRequest {
                    cluster: Some("c".into()),
                    service: Some("web".into()),
                    desired_count: Some(i64::from(*desired)),
                    ..Default::default()
                };
                self.control.update_service(&caller(), update).await.unwrap();
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn rollouts_keep_within_their_bounds_and_the_breaker_trips(
        desired in 1i64..6,
        maximum in prop::sample::select(vec![100i64, 125, 150, 200]),
        minimum in prop::sample::select(vec![0i64, 50, 75, 100]),
        steps in prop::collection::vec(step(), 1..40),
    ) {
        // 100 % / 100 % cannot roll out: ECS refuses it too, so skip it.
        prop_assume!(!(maximum == 100 && minimum == 100));
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let mut world = World::new(desired, maximum, minimum).await;
            for s in &steps {
                world.apply(s).await?;
            }
            world.pass(10).await
        })?;
    }
}
