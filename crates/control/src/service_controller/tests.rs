//! The controller's decisions, driven step by step: time is an input (`now`), agents are
//! played by reports, so every step is deterministic and nothing sleeps.

use std::sync::Arc;

use berth_model::{
    service::{DeploymentCircuitBreaker, DeploymentConfiguration, Service},
    status::{DesiredStatus, RolloutState, TaskStatus},
    task::{ContainerStateChange, TaskStateChange},
    time,
};

use super::*;
use crate::{
    controller::{Clock, ManualClock},
    test_support::*,
};
use berth_model::ecs::{CreateServiceRequest, UpdateServiceRequest};

struct Harness {
    control: Control,
    _dir: tempfile::TempDir,
    arn: String,
    config: ServiceControllerConfig,
}

impl Harness {
    async fn new(desired: i64, breaker: bool) -> Harness {
        Harness::with_percents(desired, breaker, 200, 100).await
    }

    async fn with_percents(desired: i64, breaker: bool, maximum: i64, minimum: i64) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let control = open(dir.path());
        let c = caller();
        cluster_with_instances(&control, &["a", "b"], 4096, 3).await;
        let config = DeploymentConfiguration {
            maximum_percent: Some(maximum),
            minimum_healthy_percent: Some(minimum),
            deployment_circuit_breaker: breaker.then_some(DeploymentCircuitBreaker { enable: true, rollback: true }),
        };
        let svc = control
            .create_service(&c, CreateServiceRequest { deployment_configuration: Some(config), ..web_service(desired) })
            .await
            .unwrap();
        let config = ServiceControllerConfig { settle: std::time::Duration::from_secs(2), ..Default::default() };
        Harness { control, _dir: dir, arn: svc.service.service_arn, config }
    }

    /// One controller pass as of `at` seconds from now.
    async fn pass(&self, at: f64) -> Service {
        let (arn, config) = (self.arn.clone(), self.config);
        let now = time::now() + at;
        self.control
            .write(move |state, changes| reconcile(state, "us-east-1", &arn, &config, now, changes))
            .await
            .unwrap();
        self.service()
    }

    fn service(&self) -> Service {
        self.control.read(|s| s.region("us-east-1").services[&self.arn].service.clone())
    }

    /// The service's tasks that are not STOPPED, by deployment id.
    fn live(&self, deployment: &str) -> Vec<String> {
        self.control.read(|s| {
            s.region("us-east-1")
                .tasks
                .values()
                .filter(|t| {
                    t.task.started_by.as_deref() == Some(deployment) && t.task.desired_status == DesiredStatus::Running
                })
                .map(|t| t.task.task_arn.clone())
                .collect()
        })
    }

    /// Plays the agent: reports `status` for `tasks`.
    async fn report(&self, tasks: &[String], status: &str, stop_code: Option<&str>) {
        for t in tasks {
            let change = TaskStateChange {
                task: Some(t.clone()),
                status: TaskStatus::parse(status),
                stop_code: stop_code.map(String::from),
                reason: stop_code.map(|_| "CannotStartContainerError: boom".to_string()),
                containers: vec![ContainerStateChange {
                    container_name: Some("app".into()),
                    status: TaskStatus::parse(status),
                    ..Default::default()
                }],
                ..Default::default()
            };
            self.control.submit_task_state_change("us-east-1".into(), None, change).await.unwrap();
        }
    }

    /// Makes `tasks` look as if they started `seconds` earlier.
    async fn age(&self, tasks: &[String], seconds: f64) {
        let tasks = tasks.to_vec();
        self.control
            .write(move |state, changes| {
                for arn in &tasks {
                    let mut t = (*state.region("us-east-1").tasks[arn]).clone();
                    t.task.started_at = t.task.started_at.map(|s| s - seconds);
                    changes.push(Change::Task { region: "us-east-1".into(), record: Arc::new(t) });
                }
                Ok::<(), berth_model::EcsError>(())
            })
            .await
            .unwrap();
    }

    /// Plays the agent stopping every task the service asked to stop.
    async fn stop_requested(&self) {
        let stopping: Vec<String> = self.control.read(|s| {
            s.region("us-east-1")
                .tasks
                .values()
                .filter(|t| {
                    t.task.desired_status == DesiredStatus::Stopped && t.task.last_status != TaskStatus::Stopped
                })
                .map(|t| t.task.task_arn.clone())
                .collect()
        });
        self.report(&stopping, "STOPPED", None).await;
    }
}

fn messages(s: &Service) -> Vec<&str> {
    s.events.iter().map(|e| e.message.as_str()).collect()
}

#[tokio::test]
async fn starts_the_count_and_completes_after_the_settle_time() {
    let h = Harness::new(3, false).await;
    let s = h.pass(0.0).await;
    let d = s.deployments[0].id.clone();
    assert_eq!((s.deployments[0].pending_count, h.live(&d).len()), (3, 3));
    assert!(messages(&s)[0].starts_with("(service web) has started 3 tasks:"), "{:?}", messages(&s));
    h.report(&h.live(&d), "RUNNING", None).await;
    // Running, but not yet for the settle time: not complete.
    let s = h.pass(0.5).await;
    assert_eq!(s.deployments[0].rollout_state, Some(RolloutState::InProgress));
    assert_eq!(s.running_count, 3);
    let s = h.pass(3.0).await;
    assert_eq!(s.deployments[0].rollout_state, Some(RolloutState::Completed));
    assert_eq!(messages(&s)[0], "(service web) has reached a steady state.");
    // A second pass changes nothing (level-triggered, idempotent).
    let before = h.service();
    assert_eq!(h.pass(3.5).await, before);
}

#[tokio::test]
async fn the_controller_wakes_when_the_next_task_settles() {
    let h = Harness::new(2, false).await;
    let d = h.pass(0.0).await.deployments[0].id.clone();
    // The pass's own answer: when to look again. Decided without writing anything.
    let settling = |now: f64| {
        let action = h.control.read(|s| reconcile(s, "us-east-1", &h.arn, &h.config, now, &mut Vec::new()).unwrap());
        match action {
            Action::RequeueAfter(d) => Some(d),
            Action::Done => None,
        }
    };
    assert_eq!(settling(time::now()), None, "nothing is RUNNING yet");
    let tasks = h.live(&d);
    h.report(&tasks, "RUNNING", None).await;
    h.age(&tasks[..1], 1.5).await;
    // settle is 2 s: the older task settles in about 0.5 s, the other in about 2 s.
    let left = settling(time::now()).expect("two tasks are settling").as_secs_f64();
    assert!((0.3..=0.55).contains(&left), "{left}");
    let left = settling(time::now() + 1.0).expect("one task is still settling").as_secs_f64();
    assert!((0.8..=1.05).contains(&left), "{left}");
    assert_eq!(settling(time::now() + 2.5), None, "both have settled");
}

#[tokio::test]
async fn the_running_controller_decides_on_the_time_its_clock_gives() {
    let h = Harness::new(1, false).await;
    let d = h.pass(0.0).await.deployments[0].id.clone();
    h.report(&h.live(&d), "RUNNING", None).await;
    // The clock stands still: the task never settles, so the rollout stays IN_PROGRESS.
    let clock = ManualClock::at(time::now());
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let config = ServiceControllerConfig { interval: std::time::Duration::from_millis(20), ..h.config };
    let running = h.control.spawn_controller(ServiceController { config }, shared, config.interval);
    // A round has run once the RUNNING report is counted.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while h.service().running_count != 1 {
        assert!(std::time::Instant::now() < deadline, "the controller never ran");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(h.service().deployments[0].rollout_state, Some(RolloutState::InProgress), "time did not move");
    // Past the settle time the next round completes it.
    clock.advance(std::time::Duration::from_secs(3));
    while h.service().deployments[0].rollout_state != Some(RolloutState::Completed) {
        assert!(std::time::Instant::now() < deadline, "the rollout did not complete after the clock moved");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    running.abort();
}

#[tokio::test]
async fn a_rollout_never_drops_below_the_minimum() {
    let h = Harness::new(2, false).await;
    h.pass(0.0).await;
    let old = h.service().deployments[0].id.clone();
    h.report(&h.live(&old), "RUNNING", None).await;
    h.age(&h.live(&old), 60.0).await;
    h.pass(0.0).await;

    let c = caller();
    let update = web_update("web:2");
    h.control.update_service(&c, update).await.unwrap();
    let s = h.pass(0.0).await;
    let new = s.deployments[0].id.clone();
    // maximumPercent 200: both new tasks start; minimumHealthyPercent 100: no old one stops yet.
    assert_eq!((h.live(&new).len(), h.live(&old).len()), (2, 2));
    h.report(&h.live(&new), "RUNNING", None).await;
    let s = h.pass(0.0).await;
    assert_eq!(h.live(&old).len(), 2, "the new tasks have not settled: the old ones stay");
    assert_eq!(s.deployments.len(), 2);
    h.age(&h.live(&new), 60.0).await;
    let s = h.pass(0.0).await;
    assert!(h.live(&old).is_empty(), "the new tasks are healthy: the old ones stop");
    assert!(messages(&s)[0].starts_with("(service web) has stopped 2 running tasks:"), "{:?}", messages(&s));
    h.stop_requested().await;
    let s = h.pass(0.0).await;
    assert_eq!(s.deployments.len(), 1);
    assert_eq!(s.deployments[0].rollout_state, Some(RolloutState::Completed));
}

#[tokio::test]
async fn the_breaker_fails_a_deployment_and_rolls_back() {
    let h = Harness::new(2, true).await;
    h.pass(0.0).await;
    let good = h.service().deployments[0].id.clone();
    h.report(&h.live(&good), "RUNNING", None).await;
    h.age(&h.live(&good), 60.0).await;
    h.pass(0.0).await;
    let c = caller();
    h.control.update_service(&c, web_update("web:3")).await.unwrap();
    // Each pass starts replacements for the tasks that failed; three failures trip it.
    let mut at = 3.0;
    let bad = h.service().deployments[0].id.clone();
    for _ in 0..3 {
        let s = h.pass(at).await;
        if s.deployments[0].id != bad {
            break;
        }
        let failing: Vec<String> = h.live(&bad).into_iter().take(1).collect();
        h.report(&failing, "STOPPED", Some("TaskFailedToStart")).await;
        at += 0.1;
    }
    let s = h.pass(at).await;
    let failed =
        s.deployments.iter().find(|d| d.id == bad).expect("the failed deployment is listed while its tasks stop");
    assert_eq!(failed.rollout_state, Some(RolloutState::Failed));
    assert_eq!(s.deployments[0].task_definition, h.service().task_definition);
    assert!(s.task_definition.ends_with("web:1"), "{}", s.task_definition);
    assert_eq!(
        s.deployments[0].rollout_state_reason.as_deref(),
        Some(format!("ECS deployment circuit breaker: rolling back to deploymentId {good}.").as_str())
    );
    assert!(messages(&s)
        .iter()
        .any(|m| *m == format!("(service web) (deployment {bad}) deployment failed: tasks failed to start.")));
}

#[tokio::test]
async fn the_breaker_rolls_back_to_a_deployment_that_already_drained() {
    // With minimumHealthyPercent 0 the old task stops before the new one starts, so the
    // old deployment leaves the list before the new one fails.
    let h = Harness::with_percents(1, true, 100, 0).await;
    h.pass(0.0).await;
    let good = h.service().deployments[0].id.clone();
    h.report(&h.live(&good), "RUNNING", None).await;
    h.age(&h.live(&good), 60.0).await;
    assert_eq!(h.pass(0.0).await.deployments[0].rollout_state, Some(RolloutState::Completed));
    let c = caller();
    let update = web_update("web:3");
    h.control.update_service(&c, update).await.unwrap();
    let old = h.live(&good);
    h.pass(3.0).await;
    h.report(&old, "STOPPED", None).await;
    let s = h.pass(3.1).await;
    assert_eq!(s.deployments.len(), 1, "the drained deployment is gone: {:?}", s.deployments);
    let bad = s.deployments[0].id.clone();
    let mut at = 3.2;
    for _ in 0..4 {
        let s = h.pass(at).await;
        if s.deployments[0].id != bad {
            break;
        }
        h.report(&h.live(&bad), "STOPPED", Some("TaskFailedToStart")).await;
        at += 0.1;
    }
    let s = h.pass(at).await;
    assert!(
        s.task_definition.ends_with("web:1"),
        "rolled back to the drained deployment's revision: {}",
        s.task_definition
    );
    assert_eq!(
        s.deployments[0].rollout_state_reason.as_deref(),
        Some(format!("ECS deployment circuit breaker: rolling back to deploymentId {good}.").as_str())
    );
}

#[tokio::test]
async fn desired_counts_above_the_quota_are_refused_and_change_nothing() {
    let h = Harness::new(2, false).await;
    let c = caller();
    let create = CreateServiceRequest {
        cluster: Some("c".into()),
        service_name: Some("huge".into()),
        task_definition: Some("web:1".into()),
        desired_count: Some(1_000_000_000),
        ..Default::default()
    };
    let err = h.control.create_service(&c, create).await.unwrap_err();
    assert_eq!(err.code(), "InvalidParameterException");
    assert!(err.to_string().contains("5000"), "{err}");
    assert!(h.control.read(|s| s.region("us-east-1").services.values().all(|s| s.service.service_name != "huge")));
    for bad in [5001, i64::MAX, -1] {
        let update = UpdateServiceRequest {
            cluster: Some("c".into()),
            service: Some("web".into()),
            desired_count: Some(bad),
            ..Default::default()
        };
        assert_eq!(h.control.update_service(&c, update).await.unwrap_err().code(), "InvalidParameterException");
    }
    assert_eq!(h.service().desired_count, 2);
}

#[tokio::test]
async fn a_stored_huge_desired_count_is_worked_in_small_batches_and_can_be_fixed() {
    // A record written before the quota was checked (or by hand) must not stall the writer.
    let h = Harness::new(1, false).await;
    let arn = h.arn.clone();
    h.control
        .write(move |state, changes| {
            let mut rec = (*state.region("us-east-1").services[&arn]).clone();
            rec.service.desired_count = i64::MAX;
            rec.service.deployments[0].desired_count = i64::MAX;
            rec.service.deployment_configuration.maximum_percent = Some(2000);
            changes.push(Change::Service { region: "us-east-1".into(), record: Arc::new(rec) });
            Ok::<(), berth_model::EcsError>(())
        })
        .await
        .unwrap();
    let d = h.service().deployments[0].id.clone();
    h.pass(0.0).await;
    let first = h.live(&d).len() as i64;
    assert!((1..=PLACEMENT_BATCH).contains(&first), "one pass placed {first} tasks");
    h.pass(0.0).await;
    // 2 instances × 4096 MiB hold 128 tasks of 64 MiB: never more, however often it runs.
    h.pass(0.0).await;
    assert_eq!(h.live(&d).len(), 128);
    let update = UpdateServiceRequest {
        cluster: Some("c".into()),
        service: Some("web".into()),
        desired_count: Some(1),
        ..Default::default()
    };
    h.control.update_service(&caller(), update).await.unwrap();
    assert_eq!(h.service().desired_count, 1);
}

#[tokio::test]
async fn negative_grace_periods_and_overrides_are_refused() {
    let h = Harness::new(1, false).await;
    let c = caller();
    let update = UpdateServiceRequest {
        cluster: Some("c".into()),
        service: Some("web".into()),
        health_check_grace_period_seconds: Some(-1),
        ..Default::default()
    };
    assert_eq!(h.control.update_service(&c, update).await.unwrap_err().code(), "InvalidParameterException");
    assert_eq!(h.service().health_check_grace_period_seconds, None, "nothing changed");
    for (memory, cpu) in [(Some(-64), None), (Some(2), None), (None, Some(-1))] {
        let overrides = berth_model::task::TaskOverride {
            container_overrides: vec![berth_model::task::ContainerOverride {
                name: Some("app".into()),
                memory,
                cpu,
                ..Default::default()
            }],
            ..Default::default()
        };
        let run = berth_model::ecs::RunTaskRequest {
            cluster: Some("c".into()),
            task_definition: Some("web:1".into()),
            overrides: Some(overrides),
            ..Default::default()
        };
        let err = h.control.run_task(&c, run).await.unwrap_err();
        assert_eq!(err.code(), "InvalidParameterException", "{memory:?} {cpu:?}: {err}");
    }
}
