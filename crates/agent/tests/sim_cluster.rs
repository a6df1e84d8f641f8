//! The agent against a real in-process server, on the simulated engine: the container
//! instance and task API end to end without Docker.

mod common;

use common::*;

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
