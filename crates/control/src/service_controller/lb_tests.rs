//! A service behind a target group, driven step by step: agents are played by reports
//! (with the host ports they bound), the data plane by observations, time is an input.

use berth_model::{
    ecs::CreateServiceRequest,
    elb::{
        plane::{Observation, TargetKey},
        requests::{CreateListenerRequest, CreateLoadBalancerRequest, CreateTargetGroupRequest},
        Action, ActionType, TargetHealth, TargetHealthReason, TargetHealthState,
    },
    service::{LoadBalancer, Service},
    status::{DesiredStatus, RolloutState, TaskStatus},
    task::{ContainerStateChange, NetworkBinding, TaskStateChange},
    time,
};

use super::*;
use crate::{
    controller::Reconciler,
    elb::{drain::DrainController, ecs::task_targets},
    test_support::*,
};

struct Harness {
    control: Control,
    _dir: tempfile::TempDir,
    arn: String,
    tg: String,
    config: ServiceControllerConfig,
    next_port: std::sync::atomic::AtomicU32,
}

impl Harness {
    async fn new(desired: i64, grace: i64) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let control = open(dir.path());
        let c = caller();
        cluster_with_instances(&control, &["a"], 4096, 0).await;
        for v in ["v1", "v2"] {
            let td = serde_json::json!({"family": "web", "containerDefinitions": [{
                "name": "app", "image": v, "memory": 64, "portMappings": [{"containerPort": 8080, "hostPort": 0}]}]});
            control.register_task_definition(&c, serde_json::from_value(td).unwrap()).await.unwrap();
        }
        let lb = control
            .create_load_balancer(&c, CreateLoadBalancerRequest { name: Some("web".into()), ..Default::default() })
            .await
            .unwrap()
            .load_balancers[0]
            .load_balancer_arn
            .clone();
        let tg = control
            .create_target_group(
                &c,
                CreateTargetGroupRequest {
                    name: Some("web".into()),
                    protocol: Some("HTTP".into()),
                    port: Some(8080),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .target_groups[0]
            .target_group_arn
            .clone();
        let forward =
            Action { kind: Some(ActionType::Forward), target_group_arn: Some(tg.clone()), ..Default::default() };
        let listener = CreateListenerRequest {
            load_balancer_arn: Some(lb),
            protocol: Some("HTTP".into()),
            port: Some(8000),
            default_actions: vec![forward],
            ..Default::default()
        };
        control.create_listener(&c, listener).await.unwrap();
        let svc = control
            .create_service(
                &c,
                CreateServiceRequest {
                    health_check_grace_period_seconds: Some(grace),
                    load_balancers: vec![LoadBalancer {
                        target_group_arn: Some(tg.clone()),
                        container_name: Some("app".into()),
                        container_port: Some(8080),
                        ..Default::default()
                    }],
                    ..web_service(desired)
                },
            )
            .await
            .unwrap();
        let config = ServiceControllerConfig { settle: std::time::Duration::from_secs(0), ..Default::default() };
        let next_port = std::sync::atomic::AtomicU32::new(32000);
        Harness { control, _dir: dir, arn: svc.service.service_arn, tg, config, next_port }
    }

    async fn pass(&self, at: f64) -> Service {
        let (arn, config) = (self.arn.clone(), self.config);
        let now = time::now() + at;
        self.control
            .write(move |state, changes| reconcile(state, "us-east-1", &arn, &config, now, changes))
            .await
            .unwrap();
        self.control.read(|s| s.region("us-east-1").services[&self.arn].service.clone())
    }

    async fn drain(&self, at: f64) {
        let now = time::now() + at;
        let keys = self.control.read(|s| DrainController.keys(s, now));
        for key in keys {
            self.control
                .write(move |state, changes| DrainController.reconcile(state, &key, now, changes))
                .await
                .unwrap();
        }
    }

    fn tasks(&self, image_revision: u32) -> Vec<berth_model::task::Task> {
        self.control.read(|s| {
            s.region("us-east-1")
                .tasks
                .values()
                .filter(|t| t.task.task_definition_arn.ends_with(&format!(":{image_revision}")))
                .map(|t| t.task.clone())
                .collect()
        })
    }

    /// Plays the agent: the task runs with its container port bound to a fresh host port.
    async fn run(&self, task: &str) {
        let port = self.next_port.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.report(task, TaskStatus::Running, port).await;
    }

    /// Plays the agent: the task is in `status` with its container port bound to `port`.
    async fn report(&self, task: &str, status: TaskStatus, port: u32) {
        let change = TaskStateChange {
            task: Some(task.to_string()),
            status: Some(status),
            containers: vec![ContainerStateChange {
                container_name: Some("app".into()),
                status: Some(status),
                network_bindings: vec![NetworkBinding {
                    container_port: Some(8080),
                    host_port: Some(port),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        self.control.submit_task_state_change("us-east-1".into(), None, change).await.unwrap();
    }

    /// The targets a task stands for now (its current host ports).
    fn targets_of(&self, task: &berth_model::task::Task) -> Vec<TargetKey> {
        let task = self.control.read(|s| s.region("us-east-1").tasks[&task.task_arn].task.clone());
        let task = &task;
        let lbs = vec![LoadBalancer {
            target_group_arn: Some(self.tg.clone()),
            container_name: Some("app".into()),
            container_port: Some(8080),
            ..Default::default()
        }];
        self.control.read(|s| task_targets(s.region("us-east-1"), &lbs, task))
    }

    fn registered(&self) -> Vec<(u16, bool)> {
        self.control.read(|s| {
            s.region("us-east-1").elb.target_groups[&self.tg]
                .targets
                .iter()
                .map(|t| (t.port, t.draining_since.is_some()))
                .collect()
        })
    }

    fn observe(&self, task: &berth_model::task::Task, health: TargetHealth) {
        let obs: Vec<Observation> =
            self.targets_of(task).into_iter().map(|key| Observation::Health { key, health: health.clone() }).collect();
        self.control.observe_lb(&obs);
    }
}

fn events(svc: &Service) -> Vec<String> {
    svc.events.iter().map(|e| e.message.clone()).collect()
}

#[tokio::test]
async fn tasks_are_registered_when_running_and_the_rollout_waits_for_healthy_targets() {
    let h = Harness::new(2, 0).await;
    h.pass(0.0).await;
    let v1 = h.tasks(1);
    assert_eq!(v1.len(), 2);
    assert!(h.registered().is_empty(), "nothing is registered before it runs");
    for t in &v1 {
        h.run(&t.task_arn).await;
    }
    let svc = h.pass(1.0).await;
    assert_eq!(h.registered(), vec![(32000, false), (32001, false)]);
    assert!(
        events(&svc).iter().any(|e| e == &format!("(service web) registered 2 targets in (target-group {})", h.tg)),
        "{:?}",
        events(&svc)
    );
    // Initial targets: RUNNING is not enough to complete the rollout.
    let svc = h.pass(5.0).await;
    assert_eq!(svc.deployments[0].rollout_state, Some(RolloutState::InProgress));
    for t in &v1 {
        h.observe(t, TargetHealth::healthy());
    }
    let svc = h.pass(6.0).await;
    assert_eq!(svc.deployments[0].rollout_state, Some(RolloutState::Completed));
}

#[tokio::test]
async fn a_deploy_drains_old_tasks_before_they_stop() {
    let h = Harness::new(1, 0).await;
    h.pass(0.0).await;
    let old = h.tasks(1).remove(0);
    h.run(&old.task_arn).await;
    h.pass(1.0).await;
    h.observe(&old, TargetHealth::healthy());
    h.pass(2.0).await;
    let c = caller();
    let update = web_update("web:2");
    h.control.update_service(&c, update).await.unwrap();
    h.pass(3.0).await;
    let new = h.tasks(2).remove(0);
    h.run(&new.task_arn).await;
    h.pass(4.0).await;
    // The old task keeps serving until the new one is healthy in the target group.
    assert_eq!(h.tasks(1)[0].desired_status, DesiredStatus::Running);
    h.observe(&new, TargetHealth::healthy());
    let svc = h.pass(5.0).await;
    let old_now = h.tasks(1).remove(0);
    assert_eq!((old_now.last_status, old_now.desired_status), (TaskStatus::Deactivating, DesiredStatus::Stopped));
    assert_eq!(h.registered(), vec![(32000, true), (32001, false)]);
    let ev = events(&svc);
    assert!(ev.iter().any(|e| e == "(service web) has begun draining connections on 1 tasks."), "{ev:?}");
    assert!(
        ev.iter().any(|e| e == &format!("(service web) deregistered 1 targets in (target-group {})", h.tg)),
        "{ev:?}"
    );
    // Its agent is still told to run it.
    let instance = old_now.container_instance_arn.clone().unwrap();
    let id = crate::AgentIdentity { region: "us-east-1".into(), instance_arn: instance };
    let desired = h.control.poll_desired_tasks(&id, u64::MAX, std::time::Duration::ZERO).await.unwrap();
    let seen = desired.tasks.iter().find(|t| t.task_arn == old.task_arn).unwrap();
    assert_eq!(seen.desired_status, DesiredStatus::Running);
    // Passes before the drain finished change nothing.
    h.pass(6.0).await;
    assert_eq!(h.tasks(1)[0].last_status, TaskStatus::Deactivating);
    // The data plane reports it idle: the target leaves, and the task moves on to stop.
    for key in h.targets_of(&old_now) {
        h.control.observe_lb(&[Observation::Idle { key }]);
    }
    h.drain(7.0).await;
    assert_eq!(h.registered(), vec![(32001, false)]);
    h.pass(8.0).await;
    assert_eq!(h.tasks(1)[0].last_status, TaskStatus::Stopping);
    let desired = h.control.poll_desired_tasks(&id, 0, std::time::Duration::ZERO).await.unwrap();
    assert_eq!(
        desired.tasks.iter().find(|t| t.task_arn == old.task_arn).unwrap().desired_status,
        DesiredStatus::Stopped
    );
}

#[tokio::test]
async fn draining_ends_when_the_deregistration_delay_runs_out() {
    let h = Harness::new(1, 0).await;
    h.pass(0.0).await;
    let t = h.tasks(1).remove(0);
    h.run(&t.task_arn).await;
    h.pass(1.0).await;
    let c = caller();
    let keys = h.targets_of(&t);
    let targets = keys
        .iter()
        .map(|k| berth_model::elb::TargetDescription {
            id: Some(k.id.clone()),
            port: Some(k.port as i64),
            availability_zone: None,
        })
        .collect();
    h.control
        .deregister_targets(
            &c,
            berth_model::elb::requests::TargetsRequest { target_group_arn: Some(h.tg.clone()), targets },
        )
        .await
        .unwrap();
    h.drain(299.0).await;
    assert_eq!(h.registered(), vec![(32000, true)], "still draining before the 300 s delay");
    h.drain(301.0).await;
    assert!(h.registered().is_empty());
}

#[tokio::test]
async fn a_task_failing_elb_health_checks_is_replaced_after_the_grace_period() {
    let h = Harness::new(1, 30).await;
    h.pass(0.0).await;
    let t = h.tasks(1).remove(0);
    h.run(&t.task_arn).await;
    h.pass(1.0).await;
    let sick = TargetHealth::new(
        TargetHealthState::Unhealthy,
        Some(TargetHealthReason::ResponseCodeMismatch),
        "Health checks failed with these codes: [500]",
    );
    h.observe(&t, sick);
    h.pass(10.0).await;
    assert_eq!(h.tasks(1)[0].desired_status, DesiredStatus::Running, "inside the grace period");
    let svc = h.pass(40.0).await;
    let stopped = h.tasks(1).into_iter().find(|x| x.task_arn == t.task_arn).unwrap();
    assert_eq!(stopped.desired_status, DesiredStatus::Stopped);
    let reason = format!("Task failed ELB health checks in (target-group {})", h.tg);
    assert_eq!(stopped.stopped_reason.as_deref(), Some(reason.as_str()));
    let event = format!("(service web) (task {}) failed ELB health checks in (target-group {}).", t.id(), h.tg);
    assert!(events(&svc).contains(&event), "{:?}", events(&svc));
    assert_eq!(h.tasks(1).len(), 2, "a replacement was started");
}

/// The engine hands a freed host port out again: a crashed task's replacement on the same
/// instance gets its port, so both stand for the same target. The crashed one leaving must
/// not drain its successor.
#[tokio::test]
async fn a_replacement_on_the_port_of_the_task_it_replaces_stays_registered() {
    let h = Harness::new(1, 0).await;
    h.pass(0.0).await;
    let first = h.tasks(1).remove(0);
    h.report(&first.task_arn, TaskStatus::Running, 32500).await;
    h.pass(0.1).await;
    assert_eq!(h.registered(), vec![(32500, false)]);
    h.report(&first.task_arn, TaskStatus::Stopped, 32500).await;
    h.pass(0.2).await;
    let second = h.tasks(1).into_iter().find(|t| t.task_arn != first.task_arn).expect("a replacement");
    h.report(&second.task_arn, TaskStatus::Running, 32500).await;
    for at in [0.3, 0.4, 0.5] {
        h.pass(at).await;
        assert_eq!(h.registered(), vec![(32500, false)], "the replacement's target was drained");
    }
}
