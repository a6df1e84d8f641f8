//! End to end on the real Docker engine: `berth server` plus `berth agent` processes,
//! driven with the AWS SDK for Rust. Each test has its own cluster, image tag and data
//! directory, and removes what it created.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use aws_sdk_ecs::types::{
    ContainerCondition, ContainerDefinition, ContainerDependency, DeploymentConfiguration, HealthCheck, KeyValuePair,
    PortMapping, Task,
};
use berth_testkit::{docker_cli, sdk_client, wait_for, AgentProcess, BerthProcess, TestImage};

const DEADLINE: Duration = Duration::from_secs(60);

fn berth() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_berth"))
}

/// Fields drop in order: agents first, then the server, then the image and containers.
struct Env {
    agents: Vec<Option<AgentProcess>>,
    server: Option<BerthProcess>,
    credential: berth_api::sigv4::Credential,
    ecs: aws_sdk_ecs::Client,
    cluster: String,
    image: TestImage,
    dir: tempfile::TempDir,
}

impl Env {
    /// A server (short heartbeat timeout and grace, for the failure tests), a cluster
    /// named after the test and an image for it.
    async fn start(name: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let server = BerthProcess::start_with(
            berth(),
            &dir.path().join("server"),
            0,
            &["--heartbeat-timeout", "3", "--disconnected-grace", "3"],
        );
        let credential = server.credential();
        let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
        let cluster = format!("{name}-{}", std::process::id());
        ecs.create_cluster().cluster_name(&cluster).send().await.unwrap();
        let image = TestImage::build(&cluster, &cluster);
        Env { agents: Vec::new(), server: Some(server), credential, ecs, cluster, image, dir }
    }

    fn server(&self) -> &BerthProcess {
        self.server.as_ref().unwrap()
    }

    /// Starts agent `n` (its own data directory) and waits until it is registered.
    async fn agent(&mut self, n: usize, args: &[&str]) -> String {
        let data = self.dir.path().join(format!("agent{n}"));
        let saved = data.join("agent.json");
        let before = match std::fs::read_to_string(&saved) {
            Ok(text) => {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap();
                self.version(v["containerInstanceArn"].as_str().unwrap()).await
            }
            Err(_) => -1,
        };
        let agent = AgentProcess::start(berth(), &self.server().endpoint, &self.cluster, &data, &self.credential, args);
        if self.agents.len() <= n {
            self.agents.resize_with(n + 1, || None);
        }
        self.agents[n] = Some(agent);
        wait_for(&format!("agent {n} to register"), DEADLINE, async || {
            let text = std::fs::read_to_string(&saved).map_err(|e| e.to_string())?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            let arn = v["containerInstanceArn"].as_str().unwrap_or_default().to_string();
            // A restarted agent re-registers under its saved ARN, which bumps the
            // instance's version: wait for that, not for the old registration.
            let version = self.version(&arn).await;
            if version > before {
                Ok(arn)
            } else {
                Err(format!("{arn} at version {version}"))
            }
        })
        .await
    }

    /// The instance's version (-1 when unknown).
    async fn version(&self, arn: &str) -> i64 {
        let out = self
            .ecs
            .describe_container_instances()
            .cluster(&self.cluster)
            .container_instances(arn)
            .send()
            .await
            .unwrap();
        out.container_instances().first().map_or(-1, |c| c.version())
    }

    async fn register(&self, family: &str, containers: Vec<ContainerDefinition>) -> String {
        let out = self
            .ecs
            .register_task_definition()
            .family(family)
            .set_container_definitions(Some(containers))
            .send()
            .await
            .unwrap();
        out.task_definition.unwrap().task_definition_arn.unwrap()
    }

    fn container(&self, name: &str, command: &str) -> aws_sdk_ecs::types::builders::ContainerDefinitionBuilder {
        ContainerDefinition::builder()
            .name(name)
            .image(&self.image.reference)
            .memory(32)
            .stop_timeout(1)
            .command("sh")
            .command("-c")
            .command(command)
    }

    async fn run(&self, td: &str) -> String {
        let out = self.ecs.run_task().cluster(&self.cluster).task_definition(td).send().await.unwrap();
        assert!(out.failures().is_empty(), "{:?}", out.failures());
        out.tasks()[0].task_arn().unwrap().to_string()
    }

    async fn describe(&self, arn: &str) -> Task {
        let out = self.ecs.describe_tasks().cluster(&self.cluster).tasks(arn).send().await.unwrap();
        out.tasks()[0].clone()
    }

    /// Polls the task until `done` holds, or fails with what it last saw.
    async fn wait_task(&self, arn: &str, what: &str, done: impl Fn(&Task) -> bool) -> Task {
        wait_for(&format!("the task to become {what}"), DEADLINE, async || {
            let task = self.describe(arn).await;
            if done(&task) {
                Ok(task)
            } else {
                Err(format!("{task:#?}"))
            }
        })
        .await
    }
}

/// RUNNING tasks of `service` on `instance`.
async fn running_on(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str, instance: &str) -> usize {
    let out =
        ecs.list_tasks().cluster(cluster).service_name(service).container_instance(instance).send().await.unwrap();
    let arns = out.task_arns().to_vec();
    if arns.is_empty() {
        return 0;
    }
    let tasks = ecs.describe_tasks().cluster(cluster).set_tasks(Some(arns)).send().await.unwrap();
    tasks.tasks().iter().filter(|t| t.last_status() == Some("RUNNING")).count()
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
    let mut env = Env::start("serve").await;
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
    wait_for("the stopped task's container to be removed", DEADLINE, async || {
        let left = env.image.containers();
        if left.is_empty() {
            Ok(())
        } else {
            Err(format!("{left:?}"))
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_essential_container_exit_stops_the_task() {
    let mut env = Env::start("essential").await;
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
    let mut env = Env::start("depends").await;
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
    let mut env = Env::start("health").await;
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
    let mut env = Env::start("badstart").await;
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
    let mut env = Env::start("fit").await;
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
    let mut env = Env::start("adopt").await;
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
    let mut env = Env::start("lost").await;
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
    let mut env = Env::start("restart").await;
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
    let mut env = Env::start("placement").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_scales_and_replaces_a_killed_container() {
    let mut env = Env::start("service").await;
    env.agent(0, &[]).await;
    env.agent(1, &[]).await;
    let td = env.register("svc", vec![env.container("app", "exec sleep 300").build()]).await;
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("svc")
        .task_definition(&td)
        .desired_count(0)
        .send()
        .await
        .unwrap();

    let stable = |desired: i32| {
        let env = &env;
        async move {
            wait_for(&format!("the service to be stable at {desired}"), DEADLINE, async || {
                let out = env.ecs.describe_services().cluster(&env.cluster).services("svc").send().await.unwrap();
                let svc = out.services()[0].clone();
                let running = env.image.containers().len() as i32;
                if svc.deployments().len() == 1 && svc.running_count() == desired && running == desired {
                    Ok(svc)
                } else {
                    Err(format!(
                        "running {} (containers {running}), deployments {}",
                        svc.running_count(),
                        svc.deployments().len()
                    ))
                }
            })
            .await
        }
    };
    env.ecs.update_service().cluster(&env.cluster).service("svc").desired_count(3).send().await.unwrap();
    stable(3).await;

    // docker kill one of its containers: the service replaces the task.
    let victim = env.image.containers()[0].clone();
    docker_cli(&["kill", &victim]);
    wait_for("a replacement container", DEADLINE, async || {
        let running =
            docker_cli(&["ps", "-q", "--filter", &format!("label=com.amazonaws.ecs.cluster={}", env.cluster)]);
        let ids: Vec<&str> = running.lines().collect();
        if ids.len() == 3 && !ids.contains(&victim.as_str()) {
            Ok(())
        } else {
            Err(format!("{ids:?}"))
        }
    })
    .await;
    let svc = stable(3).await;
    let events: Vec<&str> = svc.events().iter().filter_map(|e| e.message()).collect();
    assert!(events.iter().any(|m| m.starts_with("(service svc) has started 1 tasks:")), "{events:?}");

    env.ecs.update_service().cluster(&env.cluster).service("svc").desired_count(1).send().await.unwrap();
    stable(1).await;
    env.ecs.delete_service().cluster(&env.cluster).service("svc").force(true).send().await.unwrap();
    stable(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_tasks_of_a_lost_agent_reappear_on_the_other_one() {
    let mut env = Env::start("failover").await;
    let first = env.agent(0, &[]).await;
    let td = env.register("failover", vec![env.container("app", "exec sleep 300").build()]).await;
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("svc")
        .task_definition(&td)
        .desired_count(2)
        .send()
        .await
        .unwrap();
    let (ecs, cluster) = (env.ecs.clone(), env.cluster.clone());
    let running_on = async |instance: &str| running_on(&ecs, &cluster, "svc", instance).await;
    wait_for("2 tasks on the first agent", DEADLINE, async || match running_on(&first).await {
        2 => Ok(()),
        n => Err(format!("{n} running")),
    })
    .await;
    let second = env.agent(1, &[]).await;
    env.agents[0].take().unwrap().kill9();
    // The first instance disconnects, its tasks are given up after the grace, and the
    // service starts replacements on the second.
    wait_for("2 tasks on the second agent", DEADLINE, async || match running_on(&second).await {
        2 => Ok(()),
        n => Err(format!("{n} running")),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_an_instance_moves_its_service_tasks() {
    let mut env = Env::start("drain").await;
    let first = env.agent(0, &[]).await;
    let td = env.register("drain", vec![env.container("app", "exec sleep 300").build()]).await;
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("svc")
        .task_definition(&td)
        .desired_count(2)
        .deployment_configuration(
            DeploymentConfiguration::builder().minimum_healthy_percent(50).maximum_percent(200).build(),
        )
        .send()
        .await
        .unwrap();
    let (ecs, cluster) = (env.ecs.clone(), env.cluster.clone());
    let running_on = async |instance: &str| running_on(&ecs, &cluster, "svc", instance).await;
    wait_for("2 tasks on the first agent", DEADLINE, async || match running_on(&first).await {
        2 => Ok(()),
        n => Err(format!("{n} running")),
    })
    .await;
    let second = env.agent(1, &[]).await;
    ecs.update_container_instances_state()
        .cluster(&cluster)
        .container_instances(&first)
        .status(aws_sdk_ecs::types::ContainerInstanceStatus::Draining)
        .send()
        .await
        .unwrap();
    wait_for("the tasks to move to the second agent", DEADLINE, async || {
        match (running_on(&first).await, running_on(&second).await) {
            (0, 2) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
}

/// Runs `berth service wait` against the test's server; returns (exit code, output).
fn service_wait(env: &Env, service: &str) -> (i32, String) {
    let out = std::process::Command::new(berth())
        .args(["service", "wait", "--cluster", &env.cluster, "--service", service, "--timeout", "60"])
        .args(["--endpoint-url", &env.server().endpoint])
        .env("AWS_ACCESS_KEY_ID", &env.credential.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &env.credential.secret_access_key)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_breaker_rolls_back_tasks_that_exit_and_service_wait_says_so() {
    let mut env = Env::start("breaker").await;
    env.agent(0, &[]).await;
    let good = env.register("brk", vec![env.container("app", "exec sleep 300").build()]).await;
    create_breaker_service(&env, &good, 2).await;
    let (code, output) = service_wait(&env, "svc");
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("svc: deployment completed"), "{output}");

    // A revision whose container exits at once.
    let bad = env.register("brk", vec![env.container("app", "exit 1").build()]).await;
    env.ecs.update_service().cluster(&env.cluster).service("svc").task_definition(&bad).send().await.unwrap();
    let (code, output) = service_wait(&env, "svc");
    assert_eq!(code, 3, "rolled back, never success: {output}");
    assert!(output.contains("deployment failed: tasks failed to start."), "{output}");
    assert!(output.contains("svc: deployment FAILED and was rolled back"), "{output}");
    let svc =
        env.ecs.describe_services().cluster(&env.cluster).services("svc").send().await.unwrap().services()[0].clone();
    assert_eq!(svc.task_definition(), Some(good.as_str()));
    assert_eq!(svc.running_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_service_runs_one_task_per_instance() {
    let mut env = Env::start("daemon").await;
    env.agent(0, &[]).await;
    env.agent(1, &[]).await;
    let td = env.register("daemon", vec![env.container("app", "exec sleep 300").build()]).await;
    let err = env
        .ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("d")
        .task_definition(&td)
        .scheduling_strategy(aws_sdk_ecs::types::SchedulingStrategy::Daemon)
        .desired_count(2)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.meta().message().unwrap().contains("does not support a desired count"), "{err:?}");
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("d")
        .task_definition(&td)
        .scheduling_strategy(aws_sdk_ecs::types::SchedulingStrategy::Daemon)
        .send()
        .await
        .unwrap();
    let (ecs, cluster) = (env.ecs.clone(), env.cluster.clone());
    let per_instance = async || -> Vec<(String, usize)> {
        let mut out = Vec::new();
        for i in ecs.list_container_instances().cluster(&cluster).send().await.unwrap().container_instance_arns() {
            out.push((i.clone(), running_on(&ecs, &cluster, "d", i).await));
        }
        out.sort();
        out
    };
    let one_each = |n: usize| {
        let per_instance = &per_instance;
        async move {
            wait_for(&format!("one task on each of {n} instances"), DEADLINE, async || {
                let now = per_instance().await;
                if now.len() == n && now.iter().all(|(_, c)| *c == 1) {
                    Ok(())
                } else {
                    Err(format!("{now:?}"))
                }
            })
            .await
        }
    };
    one_each(2).await;
    // A third instance gets one too.
    let c = env.agent(2, &[]).await;
    one_each(3).await;
    // A DRAINING instance loses its task.
    ecs.update_container_instances_state()
        .cluster(&cluster)
        .container_instances(&c)
        .status(aws_sdk_ecs::types::ContainerInstanceStatus::Draining)
        .send()
        .await
        .unwrap();
    wait_for("the draining instance's daemon task to stop", DEADLINE, async || {
        let now = per_instance().await;
        let expected: Vec<usize> = now.iter().map(|(i, _)| if *i == c { 0 } else { 1 }).collect();
        let got: Vec<usize> = now.iter().map(|(_, n)| *n).collect();
        if got == expected && now.len() == 3 {
            Ok(())
        } else {
            Err(format!("{now:?}"))
        }
    })
    .await;
    let svc = ecs.describe_services().cluster(&cluster).services("d").send().await.unwrap().services()[0].clone();
    assert_eq!(svc.desired_count(), 2);
}

fn checked(env: &Env, check: &str) -> ContainerDefinition {
    env.container("app", "exec sleep 300")
        .health_check(
            HealthCheck::builder()
                .command("CMD-SHELL")
                .command(check)
                .interval(5)
                .timeout(2)
                .retries(1)
                .build()
                .unwrap(),
        )
        .build()
}

async fn create_breaker_service(env: &Env, td: &str, desired: i32) {
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name("svc")
        .task_definition(td)
        .desired_count(desired)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .minimum_healthy_percent(50)
                .maximum_percent(200)
                .deployment_circuit_breaker(
                    aws_sdk_ecs::types::DeploymentCircuitBreaker::builder().enable(true).rollback(true).build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_checked_rollout_never_drops_below_the_minimum() {
    let mut env = Env::start("healthroll").await;
    env.agent(0, &[]).await;
    let v1 = env.register("hr", vec![checked(&env, "true")]).await;
    create_breaker_service(&env, &v1, 2).await;
    assert_eq!(service_wait(&env, "svc").0, 0);

    let v2 = env.register("hr", vec![checked(&env, "true")]).await;
    env.ecs.update_service().cluster(&env.cluster).service("svc").task_definition(&v2).send().await.unwrap();
    // Watch the rollout: at every observation at least 1 (50 % of 2) task is HEALTHY.
    let until = Instant::now() + DEADLINE;
    let mut lowest = usize::MAX;
    loop {
        let arns =
            env.ecs.list_tasks().cluster(&env.cluster).service_name("svc").send().await.unwrap().task_arns().to_vec();
        let tasks = env.ecs.describe_tasks().cluster(&env.cluster).set_tasks(Some(arns)).send().await.unwrap();
        let healthy = tasks
            .tasks()
            .iter()
            .filter(|t| t.last_status() == Some("RUNNING") && t.health_status().map(|h| h.as_str()) == Some("HEALTHY"))
            .count();
        lowest = lowest.min(healthy);
        assert!(healthy >= 1, "below the minimum healthy count during the rollout: {:#?}", tasks.tasks());
        let svc = env.ecs.describe_services().cluster(&env.cluster).services("svc").send().await.unwrap().services()[0]
            .clone();
        let d = &svc.deployments()[0];
        if svc.deployments().len() == 1
            && d.task_definition() == Some(v2.as_str())
            && d.rollout_state().map(|r| r.as_str()) == Some("COMPLETED")
        {
            break;
        }
        assert!(Instant::now() < until, "the rollout did not complete: {svc:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(lowest >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_but_running_deployment_trips_the_breaker() {
    let mut env = Env::start("unhealthy").await;
    env.agent(0, &[]).await;
    let good = env.register("uh", vec![env.container("app", "exec sleep 300").build()]).await;
    create_breaker_service(&env, &good, 2).await;
    assert_eq!(service_wait(&env, "svc").0, 0);
    let sick = env.register("uh", vec![checked(&env, "false")]).await;
    env.ecs.update_service().cluster(&env.cluster).service("svc").task_definition(&sick).send().await.unwrap();
    let (code, output) = service_wait(&env, "svc");
    assert_eq!(code, 3, "{output}");
    assert!(output.contains("deployment failed: tasks failed to start."), "{output}");
    let stopped = env
        .ecs
        .list_tasks()
        .cluster(&env.cluster)
        .service_name("svc")
        .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
        .send()
        .await
        .unwrap();
    let tasks = env
        .ecs
        .describe_tasks()
        .cluster(&env.cluster)
        .set_tasks(Some(stopped.task_arns().to_vec()))
        .send()
        .await
        .unwrap();
    assert!(
        tasks.tasks().iter().any(|t| t.stopped_reason() == Some("Task failed container health checks")),
        "{:#?}",
        tasks.tasks()
    );
}
