//! End to end on the real Docker engine: `berth server` plus `berth agent` processes,
//! driven with the AWS SDK for Rust. Each test has its own cluster, image tag and data
//! directory, and removes what it created.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use aws_sdk_ecs::types::{
    ContainerCondition, ContainerDefinition, ContainerDependency, HealthCheck, KeyValuePair, PortMapping, Task,
};
use berth_testkit::{docker_cli, sdk_client, wait_for, BerthProcess, DockerEnv, TestImage, DEADLINE};

fn berth() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_berth"))
}

fn status(t: &Task) -> &str {
    t.last_status().unwrap_or_default()
}

fn http_get(port: i32, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port as u16)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_runs_serves_on_its_dynamic_port_and_stops() {
    let mut env = DockerEnv::start(berth(), "serve").await;
    env.agent(0, &[]).await;
    let web = env
        .container(
            "web",
            "mkdir -p /www && echo \"$GREETING from $HOSTNAME\" > /www/index.html && exec httpd -f -p 8080 -h /www",
        )
        .port_mappings(PortMapping::builder().container_port(8080).build())
        .environment(KeyValuePair::builder().name("GREETING").value("hello").build())
        .build();
    let td = env.register("web", vec![web]).await;
    let arn = env.run(&td).await;
    let task = env.wait_task(&arn, "RUNNING", |t| status(t) == "RUNNING").await;
    assert!(task.started_at().is_some() && task.pull_started_at().is_some());
    let container = &task.containers()[0];
    assert!(container.runtime_id().is_some());
    let binding = &container.network_bindings()[0];
    assert_eq!(binding.container_port(), Some(8080));
    let port = binding.host_port().unwrap();
    assert!(port > 0);
    let page = http_get(port, "/index.html");
    assert!(page.contains("200 OK") && page.contains("hello from"), "{page}");

    // The container carries the labels that find it.
    let by_label = docker_cli(&["ps", "-q", "--filter", &format!("label=com.amazonaws.ecs.task-arn={arn}")]);
    assert_eq!(by_label.lines().count(), 1);

    let stopped = env.ecs.stop_task().cluster(&env.cluster).task(&arn).reason("done here").send().await.unwrap();
    assert_eq!(stopped.task.unwrap().desired_status(), Some("STOPPED"));
    let task = env.wait_task(&arn, "STOPPED", |t| status(t) == "STOPPED").await;
    assert_eq!(task.stop_code().map(|c| c.as_str()), Some("UserInitiated"));
    assert_eq!(task.stopped_reason(), Some("done here"));
    assert!(task.stopped_at().is_some() && task.stopping_at().is_some());
    let exit = task.containers()[0].exit_code().unwrap();
    assert!(exit == 137 || exit == 143, "killed by SIGTERM/SIGKILL: {exit}");
    // Once STOPPED is recorded the agent removes the container.
    env.wait_containers_removed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_essential_container_exit_stops_the_task() {
    let mut env = DockerEnv::start(berth(), "essential").await;
    env.agent(0, &[]).await;
    let main = env.container("main", "sleep 1; exit 3").build();
    let side = env.container("side", "exec sleep 300").essential(false).build();
    let td = env.register("essential", vec![main, side]).await;
    let arn = env.run(&td).await;
    let task = env.wait_task(&arn, "STOPPED", |t| status(t) == "STOPPED").await;
    assert_eq!(task.stop_code().map(|c| c.as_str()), Some("EssentialContainerExited"));
    assert_eq!(task.stopped_reason(), Some("Essential container in task exited"));
    let main = task.containers().iter().find(|c| c.name() == Some("main")).unwrap();
    assert_eq!(main.exit_code(), Some(3));
    let side = task.containers().iter().find(|c| c.name() == Some("side")).unwrap();
    assert_eq!(side.last_status(), Some("STOPPED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depends_on_orders_container_starts() {
    let mut env = DockerEnv::start(berth(), "depends").await;
    env.agent(0, &[]).await;
    let shared = env.dir.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let volume = aws_sdk_ecs::types::Volume::builder()
        .name("shared")
        .host(aws_sdk_ecs::types::HostVolumeProperties::builder().source_path(shared.to_str().unwrap()).build())
        .build();
    let mount = aws_sdk_ecs::types::MountPoint::builder().source_volume("shared").container_path("/shared").build();
    let init = env
        .container("init", "sleep 1; echo ready > /shared/marker")
        .essential(false)
        .mount_points(mount.clone())
        .build();
    // Fails at once if it starts before init has written the marker.
    let app = env
        .container("app", "test -f /shared/marker || exit 9; exec sleep 300")
        .mount_points(mount)
        .depends_on(
            ContainerDependency::builder()
                .container_name("init")
                .condition(ContainerCondition::Success)
                .build()
                .unwrap(),
        )
        .build();
    let out = env
        .ecs
        .register_task_definition()
        .family("depends")
        .container_definitions(init)
        .container_definitions(app)
        .volumes(volume)
        .send()
        .await
        .unwrap();
    let arn = env.run(out.task_definition().unwrap().task_definition_arn().unwrap()).await;
    let task = env.wait_task(&arn, "RUNNING", |t| status(t) == "RUNNING").await;
    let init = task.containers().iter().find(|c| c.name() == Some("init")).unwrap();
    assert_eq!((init.last_status(), init.exit_code()), (Some("STOPPED"), Some(0)));
    let app = task.containers().iter().find(|c| c.name() == Some("app")).unwrap();
    assert_eq!(app.last_status(), Some("RUNNING"));
    env.ecs.stop_task().cluster(&env.cluster).task(&arn).send().await.unwrap();
    env.wait_task(&arn, "STOPPED", |t| status(t) == "STOPPED").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_turn_healthy_and_unhealthy() {
    let mut env = DockerEnv::start(berth(), "health").await;
    env.agent(0, &[]).await;
    let check = |cmd: &str| {
        HealthCheck::builder().command("CMD-SHELL").command(cmd).interval(5).timeout(2).retries(1).build().unwrap()
    };
    let good = env
        .container("app", "mkdir -p /tmp && touch /tmp/ok; exec sleep 300")
        .health_check(check("test -f /tmp/ok"))
        .build();
    let bad = env.container("app", "exec sleep 300").health_check(check("test -f /tmp/ok")).build();
    let good_td = env.register("healthy", vec![good]).await;
    let bad_td = env.register("unhealthy", vec![bad]).await;
    let good = env.run(&good_td).await;
    let bad = env.run(&bad_td).await;
    let task = env.wait_task(&good, "HEALTHY", |t| t.health_status().map(|h| h.as_str()) == Some("HEALTHY")).await;
    assert_eq!(task.containers()[0].health_status().map(|h| h.as_str()), Some("HEALTHY"));
    let task = env.wait_task(&bad, "UNHEALTHY", |t| t.health_status().map(|h| h.as_str()) == Some("UNHEALTHY")).await;
    assert_eq!(status(&task), "RUNNING", "a standalone task keeps running when unhealthy");
    for arn in [good, bad] {
        env.ecs.stop_task().cluster(&env.cluster).task(&arn).send().await.unwrap();
        env.wait_task(&arn, "STOPPED", |t| status(t) == "STOPPED").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_cannot_start_says_why() {
    let mut env = DockerEnv::start(berth(), "badstart").await;
    env.agent(0, &[]).await;
    let missing = ContainerDefinition::builder().name("app").image("berth-test/does-not-exist:1").memory(32).build();
    let td = env.register("badimage", vec![missing]).await;
    let arn = env.run(&td).await;
    let task = env.wait_task(&arn, "STOPPED", |t| status(t) == "STOPPED").await;
    assert_eq!(task.stop_code().map(|c| c.as_str()), Some("TaskFailedToStart"));
    let reason = task.stopped_reason().unwrap();
    assert!(reason.starts_with("CannotPullContainerError") && reason.contains("does-not-exist"), "{reason}");
    assert!(task.started_at().is_none());

    let bad_command = ContainerDefinition::builder()
        .name("app")
        .image(&env.image.reference)
        .memory(32)
        .command("/no/such/program")
        .build();
    let td = env.register("badcommand", vec![bad_command]).await;
    let arn = env.run(&td).await;
    let task = env.wait_task(&arn, "STOPPED", |t| status(t) == "STOPPED").await;
    assert_eq!(task.stop_code().map(|c| c.as_str()), Some("TaskFailedToStart"));
    let reason = task.stopped_reason().unwrap();
    assert!(reason.starts_with("CannotStartContainerError") && reason.contains("/no/such/program"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placement_uses_the_instance_that_fits() {
    let mut env = DockerEnv::start(berth(), "fit").await;
    let small = env.agent(0, &["--cpu", "256", "--memory", "128"]).await;
    let big = env.agent(1, &["--cpu", "2048", "--memory", "1024"]).await;
    let app = env.container("app", "exec sleep 300").memory(512).build();
    let td = env.register("fit", vec![app]).await;
    let out = env.ecs.run_task().cluster(&env.cluster).task_definition(&td).count(3).send().await.unwrap();
    assert_eq!(out.tasks().len(), 2, "two fit on the big instance: {:?}", out.failures());
    for t in out.tasks() {
        assert_eq!(t.container_instance_arn(), Some(big.as_str()));
    }
    let reasons: Vec<(&str, &str)> = out.failures().iter().map(|f| (f.arn().unwrap(), f.reason().unwrap())).collect();
    assert!(reasons.contains(&(small.as_str(), "RESOURCE:MEMORY")), "{reasons:?}");
    assert!(reasons.contains(&(big.as_str(), "RESOURCE:MEMORY")), "{reasons:?}");
    // Remaining resources account for what was placed.
    let described =
        env.ecs.describe_container_instances().cluster(&env.cluster).container_instances(&big).send().await.unwrap();
    let remaining = described.container_instances()[0].remaining_resources();
    let memory = remaining.iter().find(|r| r.name() == Some("MEMORY")).unwrap().integer_value();
    assert_eq!(memory, 0);
    for t in out.tasks() {
        env.ecs.stop_task().cluster(&env.cluster).task(t.task_arn().unwrap()).send().await.unwrap();
    }
    for t in out.tasks() {
        env.wait_task(t.task_arn().unwrap(), "STOPPED", |t| status(t) == "STOPPED").await;
    }
    let described =
        env.ecs.describe_container_instances().cluster(&env.cluster).container_instances(&big).send().await.unwrap();
    let remaining = described.container_instances()[0].remaining_resources();
    assert_eq!(
        remaining.iter().find(|r| r.name() == Some("MEMORY")).unwrap().integer_value(),
        1024,
        "released on STOPPED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_adopts_its_containers() {
    let mut env = DockerEnv::start(berth(), "adopt").await;
    let instance = env.agent(0, &[]).await;
    let td = env.register("adopt", vec![env.container("app", "exec sleep 300").build()]).await;
    let arn = env.run(&td).await;
    let task = env.wait_task(&arn, "RUNNING", |t| status(t) == "RUNNING").await;
    let runtime_id = task.containers()[0].runtime_id().unwrap().to_string();

    env.agents[0].take().unwrap().kill9();
    let again = env.agent(0, &[]).await;
    assert_eq!(again, instance, "the restarted agent is the same container instance");
    // Give the new agent time to converge, then check nothing was duplicated or restarted.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let task = env.describe(&arn).await;
        assert_eq!(status(&task), "RUNNING");
        assert_eq!(task.containers()[0].runtime_id(), Some(runtime_id.as_str()));
        assert_eq!(env.image.containers(), vec![runtime_id[..12].to_string()]);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The adopted task is still under control.
    env.ecs.stop_task().cluster(&env.cluster).task(&arn).send().await.unwrap();
    env.wait_task(&arn, "STOPPED", |t| status(t) == "STOPPED").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_agent_disconnects_and_its_tasks_stop_after_the_grace() {
    let mut env = DockerEnv::start(berth(), "lost").await;
    let instance = env.agent(0, &[]).await;
    let td = env.register("lost", vec![env.container("app", "exec sleep 300").build()]).await;
    let arn = env.run(&td).await;
    env.wait_task(&arn, "RUNNING", |t| status(t) == "RUNNING").await;
    env.agents[0].take().unwrap().kill9();

    wait_for("the instance to show agentConnected=false", DEADLINE, async || {
        let out =
            env.ecs.describe_container_instances().cluster(&env.cluster).container_instances(&instance).send().await;
        match out.map(|o| o.container_instances()[0].agent_connected()) {
            Ok(false) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let task = env.wait_task(&arn, "STOPPED", |t| status(t) == "STOPPED").await;
    assert!(task.stopped_reason().unwrap().contains("stopped responding"), "{:?}", task.stopped_reason());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_with_sigkill_comes_back_with_its_tasks() {
    let mut env = DockerEnv::start(berth(), "restart").await;
    env.agent(0, &[]).await;
    let td = env.register("restart", vec![env.container("app", "exec sleep 300").build()]).await;
    let arn = env.run(&td).await;
    env.wait_task(&arn, "RUNNING", |t| status(t) == "RUNNING").await;

    let port = env.server().port();
    env.server.take().unwrap().kill9();
    env.server = Some(BerthProcess::start_with(
        berth(),
        &env.dir.path().join("server"),
        port,
        &["--heartbeat-timeout", "3", "--disconnected-grace", "3"],
    ));
    let task = env.describe(&arn).await;
    assert_eq!(status(&task), "RUNNING", "the task is known after the restart");
    // The agent reconnects: a stop reaches it and it reports back.
    env.ecs.stop_task().cluster(&env.cluster).task(&arn).send().await.unwrap();
    let task = env.wait_task(&arn, "STOPPED", |t| status(t) == "STOPPED").await;
    assert!(task.containers()[0].exit_code().is_some(), "the agent reported the exit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn berth_up_runs_tasks_in_the_default_cluster() {
    let dir = tempfile::tempdir().unwrap();
    // Containers of `berth up` are in the `default` cluster; this test alone uses it.
    let image = TestImage::build("up", "default");
    let up = BerthProcess::up(berth(), dir.path());
    let ecs = sdk_client(&up.endpoint, &up.credential(), "us-east-1");
    wait_for("berth up's agent to join the default cluster", DEADLINE, async || {
        match ecs.list_container_instances().send().await {
            Ok(o) if !o.container_instance_arns().is_empty() => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let app = ContainerDefinition::builder()
        .name("app")
        .image(&image.reference)
        .memory(32)
        .stop_timeout(1)
        .command("sleep")
        .command("300")
        .build();
    ecs.register_task_definition().family("up").container_definitions(app).send().await.unwrap();
    let arn = ecs.run_task().task_definition("up").send().await.unwrap().tasks()[0].task_arn().unwrap().to_string();
    for (action, want) in [(None, "RUNNING"), (Some("stop"), "STOPPED")] {
        if action.is_some() {
            ecs.stop_task().task(&arn).send().await.unwrap();
        }
        wait_for(&format!("the task to become {want}"), DEADLINE, async || {
            let t = ecs.describe_tasks().tasks(&arn).send().await.unwrap().tasks()[0].clone();
            if status(&t) == want {
                Ok(())
            } else {
                Err(format!("{t:#?}"))
            }
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_of_and_spread_decide_between_two_real_agents() {
    let mut env = DockerEnv::start(berth(), "placement").await;
    let blue = env.agent(0, &["--attribute", "stack=blue", "--availability-zone", "az-1"]).await;
    let green = env.agent(1, &["--attribute", "stack=green", "--availability-zone", "az-2"]).await;
    let td = env.register("placed", vec![env.container("app", "exec sleep 300").build()]).await;

    // memberOf sends every task to the green agent.
    let out = env
        .ecs
        .run_task()
        .cluster(&env.cluster)
        .task_definition(&td)
        .count(2)
        .placement_constraints(
            aws_sdk_ecs::types::PlacementConstraint::builder()
                .r#type(aws_sdk_ecs::types::PlacementConstraintType::MemberOf)
                .expression("attribute:stack == green")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.tasks().iter().all(|t| t.container_instance_arn() == Some(green.as_str())), "{out:?}");
    let mut arns: Vec<String> = out.tasks().iter().map(|t| t.task_arn().unwrap().to_string()).collect();

    // spread over zones evens the group out: both new tasks go to az-1 (blue).
    let out = env
        .ecs
        .run_task()
        .cluster(&env.cluster)
        .task_definition(&td)
        .count(2)
        .placement_strategy(
            aws_sdk_ecs::types::PlacementStrategy::builder()
                .r#type(aws_sdk_ecs::types::PlacementStrategyType::Spread)
                .field("attribute:ecs.availability-zone")
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(out.tasks().iter().all(|t| t.container_instance_arn() == Some(blue.as_str())), "{out:?}");
    arns.extend(out.tasks().iter().map(|t| t.task_arn().unwrap().to_string()));

    // They really run where they were placed.
    for arn in &arns {
        env.wait_task(arn, "RUNNING", |t| status(t) == "RUNNING").await;
    }
    let on_blue = docker_cli(&["ps", "-q", "--filter", &format!("label=com.berth.container-instance={blue}")]);
    assert_eq!(on_blue.lines().count(), 2);
    for arn in &arns {
        env.ecs.stop_task().cluster(&env.cluster).task(arn).send().await.unwrap();
    }
    for arn in &arns {
        env.wait_task(arn, "STOPPED", |t| status(t) == "STOPPED").await;
    }
}
