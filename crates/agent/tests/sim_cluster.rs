//! The agent against a real in-process server, on the simulated engine: the container
//! instance and task API end to end without Docker.

use std::{sync::Arc, time::Duration};

use aws_sdk_ecs::types::{
    Attribute, ContainerDefinition, ContainerInstanceStatus, ContainerOverride, DesiredStatus, KeyValuePair,
    PortMapping, Tag, TargetType, Task, TaskOverride,
};
use berth_agent::AgentConfig;
use berth_runtime::sim::SimRuntime;
use berth_testkit::{wait_for, TestServer};

const DEADLINE: Duration = Duration::from_secs(20);

struct Sim {
    server: TestServer,
    ecs: aws_sdk_ecs::Client,
    sim: SimRuntime,
    instance: String,
    agent: tokio::task::JoinHandle<Result<(), berth_agent::AgentError>>,
    _agent_dir: tempfile::TempDir,
}

async fn start() -> Sim {
    start_with(SimRuntime::new(), berth_agent::ImagePullBehavior::Default).await
}

async fn start_with(sim: SimRuntime, image_pull_behavior: berth_agent::ImagePullBehavior) -> Sim {
    let server = TestServer::start().await;
    let ecs = server.sdk("us-east-1");
    ecs.create_cluster().cluster_name("sim").send().await.unwrap();
    let agent_dir = tempfile::tempdir().unwrap();
    let config = AgentConfig {
        server: server.endpoint(),
        cluster: "sim".into(),
        data_dir: agent_dir.path().to_path_buf(),
        credential: server.credential.clone(),
        region: "us-east-1".into(),
        attributes: vec![("stack".into(), "blue".into())],
        availability_zone: Some("az-1".into()),
        instance_type: Some("sim.large".into()),
        cpu: Some(1024),
        memory: Some(2048),
        heartbeat_interval: Duration::from_millis(200),
        poll_wait: Duration::from_secs(5),
        image_pull_behavior,
    };
    let agent = tokio::spawn(berth_agent::run(config, Arc::new(sim.clone())));
    let instance = wait_for("the agent to register", DEADLINE, async || {
        let out = ecs.list_container_instances().cluster("sim").send().await.map_err(|e| format!("{e:?}"))?;
        out.container_instance_arns().first().cloned().ok_or_else(|| "no instance yet".to_string())
    })
    .await;
    Sim { server, ecs, sim, instance, agent, _agent_dir: agent_dir }
}

impl Sim {
    async fn register(&self, family: &str, container: ContainerDefinition) -> String {
        let out =
            self.ecs.register_task_definition().family(family).container_definitions(container).send().await.unwrap();
        out.task_definition.unwrap().task_definition_arn.unwrap()
    }

    async fn wait(&self, arn: &str, what: &str, done: impl Fn(&Task) -> bool) -> Task {
        wait_for(&format!("the task to become {what}"), DEADLINE, async || {
            let out = self.ecs.describe_tasks().cluster("sim").tasks(arn).send().await.unwrap();
            let task = out.tasks()[0].clone();
            if done(&task) {
                Ok(task)
            } else {
                Err(format!("{task:#?}"))
            }
        })
        .await
    }

    /// The simulated container of `task`.
    fn container_id(&self, task: &Task) -> String {
        task.containers()[0].runtime_id().unwrap().to_string()
    }
}

fn app(memory: i32) -> ContainerDefinition {
    ContainerDefinition::builder().name("app").image("busybox").memory(memory).command("sleep").command("60").build()
}

fn last(t: &Task) -> &str {
    t.last_status().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_instance_shows_its_resources_and_attributes() {
    let s = start().await;
    let out =
        s.ecs.describe_container_instances().cluster("sim").container_instances(&s.instance).send().await.unwrap();
    let ci = &out.container_instances()[0];
    assert_eq!(ci.status(), Some("ACTIVE"));
    assert!(ci.agent_connected());
    assert!(ci.ec2_instance_id().unwrap().starts_with("i-"));
    assert_eq!(ci.version_info().unwrap().docker_version(), Some("sim"));
    let resource = |name: &str| ci.registered_resources().iter().find(|r| r.name() == Some(name)).unwrap().clone();
    assert_eq!(resource("CPU").integer_value(), 1024);
    assert_eq!(resource("MEMORY").integer_value(), 2048);
    assert!(resource("PORTS").string_set_value().contains(&"22".to_string()));
    let attr = |name: &str| ci.attributes().iter().find(|a| a.name() == name).and_then(|a| a.value().map(String::from));
    assert_eq!(attr("ecs.os-type").as_deref(), Some("linux"));
    assert_eq!(attr("ecs.availability-zone").as_deref(), Some("az-1"));
    assert_eq!(attr("ecs.instance-type").as_deref(), Some("sim.large"));
    assert_eq!(attr("stack").as_deref(), Some("blue"));
    assert!(ci.attributes().iter().any(|a| a.name() == "ecs.capability.container-health-check"));

    // Custom attributes.
    let custom = |name: &str, value: &str| {
        Attribute::builder()
            .name(name)
            .value(value)
            .target_type(TargetType::ContainerInstance)
            .target_id(&s.instance)
            .build()
            .unwrap()
    };
    let racks = async || {
        let out =
            s.ecs.list_attributes().cluster("sim").target_type(TargetType::ContainerInstance).attribute_name("rack");
        out.send().await.unwrap().attributes().to_vec()
    };
    s.ecs.put_attributes().cluster("sim").attributes(custom("rack", "r1")).send().await.unwrap();
    let listed = racks().await;
    assert_eq!(listed[0].value(), Some("r1"));
    assert_eq!(listed[0].target_id(), Some(s.instance.as_str()));
    s.ecs.delete_attributes().cluster("sim").attributes(custom("rack", "r1")).send().await.unwrap();
    assert!(racks().await.is_empty());
    let too_many: Vec<Attribute> = (0..10).map(|i| custom(&format!("k{i}"), "v")).collect();
    let err = s
        .ecs
        .put_attributes()
        .cluster("sim")
        .set_attributes(Some(too_many))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_attribute_limit_exceeded_exception(), "{err:?}");

    // DRAINING instances take no new tasks.
    s.ecs
        .update_container_instances_state()
        .cluster("sim")
        .container_instances(&s.instance)
        .status(ContainerInstanceStatus::Draining)
        .send()
        .await
        .unwrap();
    let draining =
        s.ecs.list_container_instances().cluster("sim").status(ContainerInstanceStatus::Draining).send().await.unwrap();
    assert_eq!(draining.container_instance_arns().len(), 1);
    let td = s.register("web", app(64)).await;
    let out = s.ecs.run_task().cluster("sim").task_definition(&td).send().await.unwrap();
    assert!(out.tasks().is_empty());
    assert_eq!(out.failures()[0].arn(), Some(s.instance.as_str()));
    s.ecs
        .update_container_instances_state()
        .cluster("sim")
        .container_instances(&s.instance)
        .status(ContainerInstanceStatus::Active)
        .send()
        .await
        .unwrap();
    assert_eq!(s.ecs.run_task().cluster("sim").task_definition(&td).send().await.unwrap().tasks().len(), 1);

    // A cluster with instances cannot be deleted.
    let err = s.ecs.delete_cluster().cluster("sim").send().await.unwrap_err().into_service_error();
    assert!(err.is_cluster_contains_container_instances_exception(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_run_report_and_stop_through_the_agent() {
    let s = start().await;
    let td = s.register("web", app(64)).await;
    let out = s
        .ecs
        .run_task()
        .cluster("sim")
        .task_definition("web")
        .count(2)
        .started_by("tester")
        .tags(Tag::builder().key("purpose").value("test").build())
        .overrides(
            TaskOverride::builder()
                .container_overrides(
                    ContainerOverride::builder()
                        .name("app")
                        .command("sleep")
                        .command("99")
                        .environment(KeyValuePair::builder().name("MODE").value("override").build())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(out.tasks().len(), 2);
    let task = &out.tasks()[0];
    assert_eq!(task.last_status(), Some("PROVISIONING"));
    assert_eq!(task.desired_status(), Some("RUNNING"));
    assert_eq!(task.group(), Some("family:web"));
    assert_eq!(task.task_definition_arn(), Some(td.as_str()));
    assert!(task.task_arn().unwrap().starts_with("arn:aws:ecs:us-east-1:123456789012:task/sim/"));
    let arns: Vec<String> = out.tasks().iter().map(|t| t.task_arn().unwrap().to_string()).collect();

    let first = s.wait(&arns[0], "RUNNING", |t| last(t) == "RUNNING").await;
    let second = s.wait(&arns[1], "RUNNING", |t| last(t) == "RUNNING").await;
    assert!(first.started_at().is_some());
    // The override reached the engine.
    let (_, spec, _) = s.sim.containers().into_iter().find(|(_, _, st)| st.id == s.container_id(&first)).unwrap();
    assert_eq!(spec.command, Some(vec!["sleep".to_string(), "99".to_string()]));
    assert!(spec.env.contains(&("MODE".to_string(), "override".to_string())));
    assert_eq!(spec.labels["com.amazonaws.ecs.task-arn"], arns[0]);

    let tagged = s
        .ecs
        .describe_tasks()
        .cluster("sim")
        .tasks(&arns[0])
        .include(aws_sdk_ecs::types::TaskField::Tags)
        .send()
        .await
        .unwrap();
    assert_eq!(tagged.tasks()[0].tags()[0].value(), Some("test"));
    let missing = s.ecs.describe_tasks().cluster("sim").tasks("nope").send().await.unwrap();
    assert_eq!(missing.failures()[0].reason(), Some("MISSING"));

    // ListTasks filters.
    let list = |b: aws_sdk_ecs::operation::list_tasks::builders::ListTasksFluentBuilder| async move {
        let mut v = b.send().await.unwrap().task_arns().to_vec();
        v.sort();
        v
    };
    let mut all = arns.clone();
    all.sort();
    assert_eq!(list(s.ecs.list_tasks().cluster("sim")).await, all);
    assert_eq!(list(s.ecs.list_tasks().cluster("sim").family("web")).await, all);
    assert_eq!(list(s.ecs.list_tasks().cluster("sim").started_by("tester")).await, all);
    assert_eq!(list(s.ecs.list_tasks().cluster("sim").container_instance(&s.instance)).await, all);
    assert!(list(s.ecs.list_tasks().cluster("sim").family("other")).await.is_empty());
    assert!(list(s.ecs.list_tasks().cluster("sim").desired_status(DesiredStatus::Stopped)).await.is_empty());

    // The process of the first task exits: its essential container stops the task.
    s.sim.exit(&s.container_id(&first), 0);
    let stopped = s.wait(&arns[0], "STOPPED", |t| last(t) == "STOPPED").await;
    assert_eq!(stopped.stop_code().map(|c| c.as_str()), Some("EssentialContainerExited"));
    assert_eq!(stopped.containers()[0].exit_code(), Some(0));

    // StopTask on the second.
    let stop = s.ecs.stop_task().cluster("sim").task(&arns[1]).send().await.unwrap().task.unwrap();
    assert_eq!(stop.stopped_reason(), Some("Task stopped by user"));
    let stopped = s.wait(&arns[1], "STOPPED", |t| last(t) == "STOPPED").await;
    assert_eq!(stopped.containers()[0].exit_code(), Some(143));
    assert_eq!(stopped.containers()[0].runtime_id(), Some(s.container_id(&second).as_str()));
    assert_eq!(list(s.ecs.list_tasks().cluster("sim").desired_status(DesiredStatus::Stopped)).await, all);

    // Stopped tasks' containers are removed by the agent.
    wait_for("the stopped tasks' containers to be removed", DEADLINE, async || {
        let left = s.sim.containers().len();
        if left == 0 {
            Ok(())
        } else {
            Err(format!("{left} containers left"))
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placement_failures_explain_themselves() {
    let s = start().await;
    let fixed = ContainerDefinition::builder()
        .name("app")
        .image("busybox")
        .memory(64)
        .port_mappings(PortMapping::builder().container_port(80).host_port(8080).build())
        .build();
    s.register("fixed", fixed).await;
    let first = s.ecs.run_task().cluster("sim").task_definition("fixed").send().await.unwrap();
    assert_eq!(first.tasks().len(), 1);
    let second = s.ecs.run_task().cluster("sim").task_definition("fixed").send().await.unwrap();
    assert!(second.tasks().is_empty());
    assert_eq!(second.failures()[0].reason(), Some("RESOURCE:PORTS"));
    assert!(second.failures()[0].detail().unwrap().contains("8080"));

    s.register("huge", app(4096)).await;
    let huge = s.ecs.run_task().cluster("sim").task_definition("huge").send().await.unwrap();
    assert_eq!(huge.failures()[0].reason(), Some("RESOURCE:MEMORY"));
    assert_eq!(huge.failures()[0].detail(), Some("memory: needs 4096 MiB, 1984 free"));

    let err = s
        .ecs
        .run_task()
        .cluster("sim")
        .task_definition("fixed")
        .count(11)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    let err = s.ecs.run_task().cluster("sim").task_definition("ghost").send().await.unwrap_err().into_service_error();
    assert!(err.is_client_exception(), "{err:?}");
    s.ecs.create_cluster().cluster_name("empty").send().await.unwrap();
    let err = s.ecs.run_task().cluster("empty").task_definition("fixed").send().await.unwrap_err().into_service_error();
    assert_eq!(err.meta().message(), Some("No Container Instances were found in your cluster."));

    // StartTask names the instance.
    s.register("small", app(32)).await;
    let started = s
        .ecs
        .start_task()
        .cluster("sim")
        .task_definition("small")
        .container_instances(&s.instance)
        .send()
        .await
        .unwrap();
    assert_eq!(started.tasks()[0].container_instance_arn(), Some(s.instance.as_str()));
    let ghost =
        s.ecs.start_task().cluster("sim").task_definition("small").container_instances("ghost").send().await.unwrap();
    assert_eq!(ghost.failures()[0].reason(), Some("MISSING"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deregistration_refuses_busy_instances_unless_forced() {
    let s = start().await;
    s.register("web", app(64)).await;
    let out = s.ecs.run_task().cluster("sim").task_definition("web").send().await.unwrap();
    s.wait(out.tasks()[0].task_arn().unwrap(), "RUNNING", |t| last(t) == "RUNNING").await;
    let err = s
        .ecs
        .deregister_container_instance()
        .cluster("sim")
        .container_instance(&s.instance)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    let gone = s
        .ecs
        .deregister_container_instance()
        .cluster("sim")
        .container_instance(&s.instance)
        .force(true)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.container_instance().unwrap().status(), Some("INACTIVE"));
    assert!(s.ecs.list_container_instances().cluster("sim").send().await.unwrap().container_instance_arns().is_empty());
    // The agent learns it was deregistered and stops.
    let result = tokio::time::timeout(DEADLINE, s.agent).await.expect("the agent stopped").unwrap();
    assert!(matches!(result, Err(berth_agent::AgentError::Deregistered)), "{result:?}");
    drop(s.server);
}

async fn service(s: &Sim, name: &str) -> aws_sdk_ecs::types::Service {
    s.ecs.describe_services().cluster("sim").services(name).send().await.unwrap().services()[0].clone()
}

/// Waits until the service is stable: one deployment, COMPLETED, running == desired.
async fn wait_stable(s: &Sim, name: &str, desired: i32) -> aws_sdk_ecs::types::Service {
    wait_for(&format!("service {name} to be stable at {desired}"), DEADLINE, async || {
        let svc = service(s, name).await;
        let d = &svc.deployments()[0];
        if svc.deployments().len() == 1
            && svc.running_count() == desired
            && d.rollout_state().map(|r| r.as_str()) == Some("COMPLETED")
        {
            Ok(svc)
        } else {
            Err(format!("{svc:#?}"))
        }
    })
    .await
}

fn messages(svc: &aws_sdk_ecs::types::Service) -> Vec<String> {
    svc.events().iter().filter_map(|e| e.message().map(String::from)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_keeps_its_count_replaces_tasks_and_scales() {
    let s = start().await;
    s.register("web", app(64)).await;
    let created = s
        .ecs
        .create_service()
        .cluster("sim")
        .service_name("web")
        .task_definition("web")
        .desired_count(3)
        .send()
        .await
        .unwrap();
    let created = created.service.unwrap();
    assert_eq!(created.status(), Some("ACTIVE"));
    assert_eq!(created.deployments()[0].status(), Some("PRIMARY"));
    let svc = wait_stable(&s, "web", 3).await;
    let events = messages(&svc);
    assert!(events.iter().any(|m| m == "(service web) has reached a steady state."), "{events:?}");
    assert!(events.iter().any(|m| m.starts_with("(service web) has started 3 tasks: (task ")), "{events:?}");

    // A task's process dies: the service replaces it.
    let running = s.ecs.list_tasks().cluster("sim").service_name("web").send().await.unwrap().task_arns().to_vec();
    assert_eq!(running.len(), 3);
    let victim = s.wait(&running[0], "RUNNING", |t| last(t) == "RUNNING").await;
    s.sim.exit(&s.container_id(&victim), 1);
    wait_for("a replacement task", DEADLINE, async || {
        let now = s.ecs.list_tasks().cluster("sim").service_name("web").send().await.unwrap().task_arns().to_vec();
        if now.len() == 3 && !now.contains(&running[0]) {
            Ok(())
        } else {
            Err(format!("{now:?}"))
        }
    })
    .await;
    wait_stable(&s, "web", 3).await;

    // Scale in, then refuse a non-forced delete while scaled up.
    s.ecs.update_service().cluster("sim").service("web").desired_count(1).send().await.unwrap();
    wait_stable(&s, "web", 1).await;
    let err = s.ecs.delete_service().cluster("sim").service("web").send().await.unwrap_err().into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    let deleted = s.ecs.delete_service().cluster("sim").service("web").force(true).send().await.unwrap();
    assert_eq!(deleted.service.unwrap().status(), Some("DRAINING"));
    wait_for("the deleted service to go INACTIVE", DEADLINE, async || {
        let svc = service(&s, "web").await;
        if svc.status() == Some("INACTIVE") {
            Ok(())
        } else {
            Err(format!("{:?} running {}", svc.status(), svc.running_count()))
        }
    })
    .await;
    assert!(s.ecs.list_services().cluster("sim").send().await.unwrap().service_arns().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_updates_complete_and_a_failing_one_rolls_back() {
    let s = start().await;
    s.register("web", app(64)).await;
    s.ecs
        .create_service()
        .cluster("sim")
        .service_name("web")
        .task_definition("web:1")
        .desired_count(2)
        .deployment_configuration(
            aws_sdk_ecs::types::DeploymentConfiguration::builder()
                .maximum_percent(200)
                .minimum_healthy_percent(50)
                .deployment_circuit_breaker(
                    aws_sdk_ecs::types::DeploymentCircuitBreaker::builder().enable(true).rollback(true).build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    wait_stable(&s, "web", 2).await;

    // A good new revision rolls out and replaces the old one.
    s.register("web", app(64)).await;
    s.ecs.update_service().cluster("sim").service("web").task_definition("web:2").send().await.unwrap();
    let svc = wait_stable(&s, "web", 2).await;
    assert!(svc.task_definition().unwrap().ends_with("web:2"));
    assert!(svc.deployments()[0].task_definition().unwrap().ends_with("web:2"));

    // A revision whose containers cannot start trips the breaker and rolls back to web:2.
    let broken = ContainerDefinition::builder().name("app").image("busybox").memory(64).command("fail").build();
    s.register("web", broken).await;
    s.ecs.update_service().cluster("sim").service("web").task_definition("web:3").send().await.unwrap();
    let svc = wait_for("the rollback to complete", DEADLINE, async || {
        let svc = service(&s, "web").await;
        let d = &svc.deployments()[0];
        if svc.deployments().len() == 1
            && d.task_definition().is_some_and(|t| t.ends_with("web:2"))
            && d.rollout_state().map(|r| r.as_str()) == Some("COMPLETED")
            && svc.running_count() == 2
        {
            Ok(svc)
        } else {
            Err(format!("{svc:#?}"))
        }
    })
    .await;
    let events = messages(&svc);
    assert!(events.iter().any(|m| m.contains("deployment failed: tasks failed to start.")), "{events:?}");
    assert!(events.iter().any(|m| m.contains("rolling back to deployment")), "{events:?}");
    assert!(svc.task_definition().unwrap().ends_with("web:2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_tasks_carry_propagated_and_managed_tags() {
    let s = start().await;
    s.register("web", app(64)).await;
    s.ecs
        .create_service()
        .cluster("sim")
        .service_name("tagged")
        .task_definition("web")
        .desired_count(1)
        .tags(Tag::builder().key("team").value("blue").build())
        .propagate_tags(aws_sdk_ecs::types::PropagateTags::Service)
        .enable_ecs_managed_tags(true)
        .send()
        .await
        .unwrap();
    wait_stable(&s, "tagged", 1).await;
    let arn = s.ecs.list_tasks().cluster("sim").service_name("tagged").send().await.unwrap().task_arns()[0].clone();
    let out = s
        .ecs
        .describe_tasks()
        .cluster("sim")
        .tasks(&arn)
        .include(aws_sdk_ecs::types::TaskField::Tags)
        .send()
        .await
        .unwrap();
    let tags: Vec<(String, String)> = out.tasks()[0]
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
        .collect();
    for expected in [("team", "blue"), ("aws:ecs:serviceName", "tagged"), ("aws:ecs:clusterName", "sim")] {
        assert!(tags.contains(&(expected.0.to_string(), expected.1.to_string())), "{tags:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_are_pulled_as_the_pull_behavior_says() {
    use berth_agent::ImagePullBehavior::*;
    // `cached` is on the host and pulls fine; `stale` is on the host but its registry is gone.
    let (cached, stale) = ("registry.example/cached:latest", "registry.example/does-not-exist:latest");
    for (behavior, pulls_cached, stale_runs) in
        [(Default, 1, true), (Always, 1, false), (Once, 0, true), (PreferCached, 0, true)]
    {
        let sim = SimRuntime::new();
        sim.add_image(cached);
        sim.add_image(stale);
        let s = start_with(sim.clone(), behavior).await;
        let container = |image: &str| ContainerDefinition::builder().name("app").image(image).memory(16).build();
        let fresh = s.register("fresh", container(cached)).await;
        let old = s.register("old", container(stale)).await;
        let run = |td: String| {
            let ecs = s.ecs.clone();
            async move {
                let out = ecs.run_task().cluster("sim").task_definition(td).send().await.unwrap();
                out.tasks()[0].task_arn().unwrap().to_string()
            }
        };
        let a = run(fresh).await;
        s.wait(&a, "RUNNING", |t| t.last_status() == Some("RUNNING")).await;
        assert_eq!(
            sim.pulls(cached),
            pulls_cached,
            "{behavior:?}: a moved tag is pulled unless the cache is preferred"
        );
        let b = run(old).await;
        let t = s.wait(&b, "RUNNING or STOPPED", |t| matches!(t.last_status(), Some("RUNNING" | "STOPPED"))).await;
        if stale_runs {
            assert_eq!(t.last_status(), Some("RUNNING"), "{behavior:?}: the cached image runs when the pull fails");
        } else {
            assert_eq!(t.last_status(), Some("STOPPED"), "{behavior:?}");
            assert!(t.stopped_reason().unwrap_or_default().contains("CannotPullContainerError"), "{t:?}");
        }
    }
}
