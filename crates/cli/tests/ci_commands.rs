//! berth's commands as a CI job uses them. `service wait`: success only when the service is
//! stable (deployment COMPLETED and every desired task running), the events that explain a
//! stall even when they came before the wait began, a server restart in the middle
//! survived. `service create/scale/delete`, `task run` with overrides and timeouts,
//! `task plan`'s exit code, `ls tasks`. The agent is the real one on the simulated engine,
//! in this process.

use std::{path::Path, sync::Arc, time::Duration};

use aws_sdk_ecs::types::ContainerDefinition;
use berth_agent::AgentConfig;
use berth_runtime::sim::SimRuntime;
use berth_testkit::{sdk_client, wait_for, BerthProcess};

fn berth() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_berth"))
}

struct World {
    server: Option<BerthProcess>,
    dir: tempfile::TempDir,
    credential: berth_api::sigv4::Credential,
    ecs: aws_sdk_ecs::Client,
    sim: SimRuntime,
    _agent: tokio::task::JoinHandle<Result<(), berth_agent::AgentError>>,
}

impl World {
    /// A server and one simulated agent with room for exactly one task of `app` (96 MiB).
    async fn start() -> World {
        let dir = tempfile::tempdir().unwrap();
        let server = BerthProcess::start_with(berth(), &dir.path().join("server"), 0, &["--task-settle-ms", "100"]);
        let credential = server.credential();
        let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
        ecs.create_cluster().cluster_name("ci").send().await.unwrap();
        let config = AgentConfig {
            cpu: Some(1024),
            memory: Some(128),
            heartbeat_interval: Duration::from_millis(500),
            poll_wait: Duration::from_secs(5),
            ..AgentConfig::new(&server.endpoint, "ci", dir.path().join("agent"), credential.clone())
        };
        let sim = SimRuntime::new();
        let agent = tokio::spawn(berth_agent::run(config, Arc::new(sim.clone())));
        let app = ContainerDefinition::builder().name("app").image("busybox").memory(96).build();
        ecs.register_task_definition().family("app").container_definitions(app).send().await.unwrap();
        let small = ContainerDefinition::builder().name("job").image("busybox").memory(6).command("true").build();
        ecs.register_task_definition().family("job").container_definitions(small).send().await.unwrap();
        let huge = ContainerDefinition::builder().name("big").image("busybox").memory(4096).build();
        ecs.register_task_definition().family("huge").container_definitions(huge).send().await.unwrap();
        World { server: Some(server), dir, credential, ecs, sim, _agent: agent }
    }

    fn endpoint(&self) -> String {
        self.server.as_ref().unwrap().endpoint.clone()
    }

    /// Runs `berth service wait` to the end; returns (exit code, stdout + stderr).
    fn wait(&self, endpoint: &str, timeout: u64) -> (i32, String) {
        let timeout = timeout.to_string();
        self.berth_at(endpoint, &["service", "wait", "--cluster", "ci", "--service", "web", "--timeout", &timeout])
    }

    /// Runs `berth ARGS --endpoint-url …` against this server.
    fn berth(&self, args: &[&str]) -> (i32, String) {
        self.berth_at(&self.endpoint(), args)
    }

    fn berth_at(&self, endpoint: &str, args: &[&str]) -> (i32, String) {
        let out = std::process::Command::new(berth())
            .args(args)
            .args(["--endpoint-url", endpoint])
            // A user's mistake stays one line even when backtraces are asked for.
            .env("RUST_BACKTRACE", "1")
            .env("AWS_ACCESS_KEY_ID", &self.credential.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.credential.secret_access_key)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    async fn create_service(&self, desired: i32) {
        self.ecs
            .create_service()
            .cluster("ci")
            .service_name("web")
            .task_definition("app")
            .desired_count(desired)
            .send()
            .await
            .unwrap();
    }
}

/// Starts `berth ARGS --endpoint-url ENDPOINT` with the world's credentials; its stdout and
/// stderr lines arrive on the receiver as they are printed.
fn spawn_berth(
    world: &World,
    endpoint: &str,
    args: &[&str],
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = std::process::Command::new(berth())
        .args(args)
        .args(["--endpoint-url", endpoint])
        .env("AWS_ACCESS_KEY_ID", &world.credential.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &world.credential.secret_access_key)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stream)).map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    (child, rx)
}

/// Collects lines from `rx` into `output` until one contains `what` (true), or none comes
/// for 30 s or the command ended (false).
fn read_until(rx: &std::sync::mpsc::Receiver<String>, output: &mut String, what: &str) -> bool {
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        output.push_str(&line);
        output.push('\n');
        if line.contains(what) {
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scale_out_that_cannot_place_is_not_success_and_the_wait_says_why() {
    let world = World::start().await;
    world.create_service(1).await;
    assert_eq!(world.wait(&world.endpoint(), 60).0, 0, "one task fits: the service becomes stable");
    // A second task has no room: the deployment stays COMPLETED but the service is not stable.
    world.ecs.update_service().cluster("ci").service("web").desired_count(2).send().await.unwrap();
    wait_for("the placement failure event", Duration::from_secs(20), async || {
        let out = world.ecs.describe_services().cluster("ci").services("web").send().await.unwrap();
        let events = out.services()[0].events();
        match events.iter().find(|e| e.message().unwrap_or_default().contains("unable to place a task")) {
            Some(_) => Ok(()),
            None => Err(format!("{events:?}")),
        }
    })
    .await;
    let (code, output) = world.wait(&world.endpoint(), 3);
    assert_eq!(code, 5, "pending tasks are not success: {output}");
    assert!(output.contains("unable to place a task"), "the event from before the wait is shown: {output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_rides_out_a_server_restart() {
    let mut world = World::start().await;
    world.create_service(1).await;
    let endpoint = world.endpoint();
    let port = world.server.as_ref().unwrap().port();
    world.server.take().unwrap().kill9();
    let (mut child, rx) =
        spawn_berth(&world, &endpoint, &["service", "wait", "--cluster", "ci", "--service", "web", "--timeout", "60"]);
    // The wait meets a dead server first; once it says so, the server comes back.
    let mut output = String::new();
    read_until(&rx, &mut output, "cannot reach the server");
    assert!(output.contains("cannot reach the server") && output.contains(&endpoint), "{output}");
    world.server =
        Some(BerthProcess::start_with(berth(), &world.dir.path().join("server"), port, &["--task-settle-ms", "100"]));
    for line in rx.iter() {
        output.push_str(&line);
        output.push('\n');
    }
    let code = child.wait().unwrap().code().unwrap_or(-1);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("reached") && output.contains("again"), "{output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_is_its_own_exit_code() {
    let world = World::start().await;
    let (code, output) = world.wait("http://127.0.0.1:9", 2);
    assert_eq!(code, 6, "{output}");
    assert!(output.contains("http://127.0.0.1:9"), "the URL tried is named: {output}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_are_created_scaled_and_deleted_from_the_cli() {
    let world = World::start().await;
    let (code, out) = world.berth(&[
        "service",
        "create",
        "--cluster",
        "ci",
        "--service",
        "web",
        "--task-definition",
        "app",
        "--desired-count",
        "1",
        "--wait",
        "--timeout",
        "60",
    ]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = world.berth(&[
        "service",
        "scale",
        "--cluster",
        "ci",
        "--service",
        "web",
        "--count",
        "0",
        "--wait",
        "--timeout",
        "60",
    ]);
    assert_eq!(code, 0, "{out}");
    let described = world.ecs.describe_services().cluster("ci").services("web").send().await.unwrap();
    assert_eq!((described.services()[0].desired_count(), described.services()[0].running_count()), (0, 0));
    let (code, out) = world.berth(&["service", "delete", "--cluster", "ci", "--service", "web"]);
    assert_eq!(code, 0, "{out}");
    let described = world.ecs.describe_services().cluster("ci").services("web").send().await.unwrap();
    assert_ne!(described.services()[0].status(), Some("ACTIVE"));
}

/// The task ARN `berth task run` printed.
fn task_arn(output: &str) -> String {
    output
        .split_whitespace()
        .find(|w| w.starts_with("arn:aws:ecs:") && w.contains(":task/"))
        .expect(output)
        .trim_end_matches(':')
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_run_takes_overrides_and_says_when_it_left_a_task_running() {
    let world = World::start().await;
    let (code, out) = world.berth(&[
        "task",
        "run",
        "--cluster",
        "ci",
        "--task-definition",
        "job",
        "--command",
        "sh",
        "--command",
        "-c",
        "--command",
        "make test",
        "--env",
        "MODE=ci",
        "--wait",
        "--timeout",
        "1",
    ]);
    assert_eq!(code, 124, "the simulated task never exits: {out}");
    assert!(out.contains("still running") && out.contains("--stop-on-timeout"), "{out}");
    let arn = task_arn(&out);
    let task = world.ecs.describe_tasks().cluster("ci").tasks(&arn).send().await.unwrap().tasks()[0].clone();
    assert_eq!(task.desired_status(), Some("RUNNING"), "left running, as it said");
    let o = &task.overrides().unwrap().container_overrides()[0];
    assert_eq!((o.name(), o.command()), (Some("job"), &["sh".to_string(), "-c".into(), "make test".into()][..]));
    assert_eq!(o.environment()[0].name(), Some("MODE"));

    let (code, out) = world.berth(&[
        "task",
        "run",
        "--cluster",
        "ci",
        "--task-definition",
        "job",
        "--wait",
        "--timeout",
        "1",
        "--stop-on-timeout",
    ]);
    assert_eq!(code, 124, "{out}");
    let arn = task_arn(&out);
    let task = world.ecs.describe_tasks().cluster("ci").tasks(&arn).send().await.unwrap().tasks()[0].clone();
    assert_eq!(task.desired_status(), Some("STOPPED"), "--stop-on-timeout stopped it");
    assert!(task.stopped_reason().unwrap_or_default().contains("timed out"), "{task:?}");

    // `ls tasks` shows the running task only; `--all` the stopped one too.
    wait_for("the stopped task to be STOPPED", Duration::from_secs(20), async || {
        let t = world.ecs.describe_tasks().cluster("ci").tasks(&arn).send().await.unwrap().tasks()[0].clone();
        if t.last_status() == Some("STOPPED") {
            Ok(())
        } else {
            Err(format!("{:?}", t.last_status()))
        }
    })
    .await;
    let (_, listed) = world.berth(&["ls", "tasks", "--cluster", "ci"]);
    let (_, all) = world.berth(&["ls", "tasks", "--cluster", "ci", "--all"]);
    let id = arn.rsplit('/').next().unwrap();
    assert!(!listed.contains(id) && all.contains(id), "{listed}\n---\n{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_plan_exits_non_zero_when_a_task_fits_nowhere() {
    let world = World::start().await;
    let (code, out) = world.berth(&["task", "plan", "--cluster", "ci", "--task-definition", "job"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = world.berth(&["task", "plan", "--cluster", "ci", "--task-definition", "huge"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("nowhere"), "{out}");
}

/// Registers `family` with `containers` and creates service `web` of it with the breaker on.
async fn breaker_service(world: &World, family: &str, containers: Vec<ContainerDefinition>) {
    world
        .ecs
        .register_task_definition()
        .family(family)
        .set_container_definitions(Some(containers))
        .send()
        .await
        .unwrap();
    let breaker = aws_sdk_ecs::types::DeploymentCircuitBreaker::builder().enable(true).rollback(false).build();
    let config = aws_sdk_ecs::types::DeploymentConfiguration::builder().deployment_circuit_breaker(breaker).build();
    world
        .ecs
        .create_service()
        .cluster("ci")
        .service_name("web")
        .task_definition(family)
        .desired_count(1)
        .deployment_configuration(config)
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_rollout_says_what_its_tasks_failed_of() {
    let world = World::start().await;
    let unpullable = ContainerDefinition::builder().name("app").image("example/does-not-exist:1").memory(16).build();
    breaker_service(&world, "broken", vec![unpullable]).await;
    let (code, out) = world.wait(&world.endpoint(), 60);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("its tasks failed to start"), "{out}");
    assert!(out.contains("cause: CannotPullContainerError"), "the pull error is shown: {out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_failing_health_checks_says_so() {
    let world = World::start().await;
    let check = aws_sdk_ecs::types::HealthCheck::builder().command("CMD").command("true").interval(5).build().unwrap();
    let app = ContainerDefinition::builder().name("app").image("busybox").memory(16).health_check(check).build();
    breaker_service(&world, "sick", vec![app]).await;
    // Every container `app` the agent starts turns unhealthy.
    world.sim.set_health_of("-app", berth_runtime::Health::Unhealthy);
    let (code, out) = world.wait(&world.endpoint(), 60);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("its tasks failed their health checks"), "{out}");
    assert!(out.contains("app failed its health check"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_rollout_says_what_it_waits_for() {
    let world = World::start().await;
    let check = aws_sdk_ecs::types::HealthCheck::builder().command("CMD").command("true").interval(5).build().unwrap();
    let web = ContainerDefinition::builder().name("web").image("busybox").memory(16).health_check(check).build();
    let worker = ContainerDefinition::builder().name("worker").image("busybox").memory(16).build();
    breaker_service(&world, "mixed", vec![web, worker]).await;
    world.sim.set_health_of("-web", berth_runtime::Health::Healthy);
    let (code, out) = world.wait(&world.endpoint(), 9);
    assert_eq!(code, 5, "{out}");
    assert!(out.contains("waiting: task") && out.contains("container worker has no health check"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploying_an_image_the_registry_lacks_is_refused_before_anything_changes() {
    let world = World::start().await;
    world.create_service(1).await;
    let host = world.endpoint().trim_start_matches("http://").to_string();
    let (code, out) = world.berth(&[
        "service",
        "deploy",
        "--cluster",
        "ci",
        "--service",
        "web",
        "--image",
        &format!("app={host}/nothing:1"),
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("is not in berth's registry"), "{out}");
    let described = world.ecs.describe_services().cluster("ci").services("web").send().await.unwrap();
    assert_eq!(described.services()[0].deployments().len(), 1, "no deployment was started");
    assert!(described.services()[0].task_definition().unwrap().ends_with("app:1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_thing_and_what_to_do() {
    let world = World::start().await;
    let (code, out) = world.berth(&["ls", "services", "--cluster", "cii"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out.trim().lines().count(), 1, "one line, no backtrace: {out}");
    assert!(out.contains("cluster 'cii' not found — did you mean 'ci'?"), "{out}");

    world.ecs.create_cluster().cluster_name("empty").send().await.unwrap();
    let (code, out) = world.berth(&["task", "run", "--cluster", "empty", "--task-definition", "job"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("has no container instances") && out.contains("berth agent --server"), "{out}");

    let (code, out) = world.berth(&["task", "run", "--cluster", "ci", "--task-definition", "nope:3"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("task definition 'nope:3' not found"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_follow_rides_out_a_server_restart() {
    let mut world = World::start().await;
    world.create_service(1).await;
    let endpoint = world.endpoint();
    let port = world.server.as_ref().unwrap().port();
    let (mut child, rx) = spawn_berth(&world, &endpoint, &["events", "--cluster", "ci", "--follow"]);
    let mut output = String::new();
    let mut until = |what: &str| read_until(&rx, &mut output, what);
    assert!(until("has started 1 tasks"), "the service's first event is shown");
    world.server.take().unwrap().kill9();
    assert!(until("retrying"), "the follower says it lost the server");
    world.server =
        Some(BerthProcess::start_with(berth(), &world.dir.path().join("server"), port, &["--task-settle-ms", "100"]));
    assert!(until("reached"), "and carries on once it is back");
    world.ecs.update_service().cluster("ci").service("web").desired_count(0).send().await.unwrap();
    assert!(until("has stopped 1 running tasks"), "new events after the restart are shown");
    let _ = child.kill();
    let _ = child.wait();
}
