//! End to end on the real Docker engine: a two-service compose project brought up with
//! `berth compose up`, reached on its published port, redeployed with a new image by
//! `berth service deploy --wait`, a failing deploy that exits with the rollback code, a
//! one-off task whose exit code becomes `berth task run`'s, and `compose down`.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use berth_testkit::{docker_cli, sdk_client, wait_for, AgentProcess, BerthProcess, TestImage};

const DEADLINE: Duration = Duration::from_secs(90);

fn berth() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_berth"))
}

struct Cli<'a> {
    server: &'a BerthProcess,
    credential: berth_api::sigv4::Credential,
    dir: PathBuf,
}

impl Cli<'_> {
    /// Runs `berth ARGS --endpoint-url …` in the project directory: (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(berth())
            .args(args)
            .args(["--endpoint-url", &self.server.endpoint])
            .current_dir(&self.dir)
            .env("AWS_ACCESS_KEY_ID", &self.credential.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.credential.secret_access_key)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// A server, a cluster named after the test with one registered agent, and an image.
/// Fields drop in order: the agent, then the server, then the image and its containers.
struct Env {
    _agent: AgentProcess,
    server: BerthProcess,
    credential: berth_api::sigv4::Credential,
    ecs: aws_sdk_ecs::Client,
    cluster: String,
    image: TestImage,
    dir: tempfile::TempDir,
}

impl Env {
    async fn start(name: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let server = BerthProcess::start(berth(), &dir.path().join("server"), 0);
        let credential = server.credential();
        let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
        let cluster = format!("{name}-{}", std::process::id());
        let image = TestImage::build(&cluster, &cluster);
        ecs.create_cluster().cluster_name(&cluster).send().await.unwrap();
        let agent =
            AgentProcess::start_registered(berth(), &server.endpoint, &cluster, &dir.path().join("agent"), &credential)
                .await;
        Env { _agent: agent, server, credential, ecs, cluster, image, dir }
    }
}

/// Removes an image reference when the test ends, whether it passed or not.
struct RemoveOnDrop(String);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["rmi", &self.0]).output();
    }
}

/// `docker ps` of the test cluster's running containers (optionally one container name),
/// one line per container in `format`.
fn containers_of(cluster: &str, container: Option<&str>, format: &str) -> String {
    let cluster_filter = format!("label=com.amazonaws.ecs.cluster={cluster}");
    let mut args = vec!["ps", "--filter", cluster_filter.as_str(), "--format", format];
    let name_filter = container.map(|c| format!("label=com.amazonaws.ecs.container-name={c}"));
    if let Some(f) = &name_filter {
        args.extend(["--filter", f.as_str()]);
    }
    docker_cli(&args)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn http_get(port: u16) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").map_err(|e| e.to_string())?;
    let mut body = String::new();
    s.read_to_string(&mut body).map_err(|e| e.to_string())?;
    Ok(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compose_project_goes_up_is_redeployed_and_comes_down() {
    let env = Env::start("compose").await;
    let (dir, server, credential, ecs, cluster, image) =
        (&env.dir, &env.server, &env.credential, &env.ecs, env.cluster.clone(), &env.image);
    let v2 = format!("{}-v2", image.reference);
    docker_cli(&["tag", &image.reference, &v2]);
    let _v2 = RemoveOnDrop(v2.clone());

    let project = dir.path().join("shop");
    std::fs::create_dir_all(&project).unwrap();
    let port = free_port();
    std::fs::write(project.join(".env"), format!("IMAGE={}\nPORT={port}\n", image.reference)).unwrap();
    std::fs::write(
        project.join("docker-compose.yml"),
        r#"
services:
  web:
    image: ${IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo hello from compose > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["${PORT}:80"]
    mem_limit: 32m
    stop_grace_period: 2s
  worker:
    image: ${IMAGE}
    command: ["sh", "-c", "echo worker ready; trap 'exit 0' TERM; sleep 600 & wait"]
    mem_limit: 16m
    stop_grace_period: 2s
    tmpfs: ["/scratch:size=8m"]
    cap_drop: [NET_RAW]
    shm_size: 16m
    sysctls: {net.core.somaxconn: "1024"}
x-ecs:
  deploymentConfiguration:
    maximumPercent: 100
    minimumHealthyPercent: 0
    deploymentCircuitBreaker: {enable: true, rollback: true}
"#,
    )
    .unwrap();
    let cli = Cli { server, credential: credential.clone(), dir: project.clone() };
    let env_file = project.join("outputs.env");
    let env_path = env_file.to_str().unwrap();

    let (code, out, err) =
        cli.run(&["compose", "up", "--cluster", &cluster, "--wait", "--output", "json", "--output-env", env_path]);
    assert_eq!(code, 0, "compose up: {out}\n{err}");
    let result: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(result["project"], "shop");
    assert_eq!(result["services"][0]["state"], "COMPLETED");
    let outputs = std::fs::read_to_string(&env_file).unwrap();
    assert!(outputs.contains("BERTH_SERVICE_ARN=arn:aws:ecs:us-east-1:"), "{outputs}");
    assert!(outputs.contains("BERTH_STATE=COMPLETED"), "{outputs}");
    let page = wait_for("the published port to answer", DEADLINE, async || http_get(port)).await;
    assert!(page.contains("hello from compose"), "{page}");
    // Unchanged: a second `up` deploys nothing and says so.
    let (code, out, err) = cli.run(&["compose", "up", "--cluster", &cluster, "--wait"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(format!("{out}{err}").contains("unchanged: nothing to deploy"), "{out}\n{err}");
    let revisions = ecs.list_task_definitions().family_prefix("shop").send().await.unwrap();
    assert_eq!(revisions.task_definition_arns().len(), 1, "no new revision");

    // Linux settings reach the engine.
    let worker = containers_of(&cluster, Some("worker"), "{{.ID}}");
    let host_config = docker_cli(&["inspect", "--format", "{{json .HostConfig}}", worker.lines().next().unwrap()]);
    let host_config: serde_json::Value = serde_json::from_str(&host_config).unwrap();
    assert_eq!(host_config["Tmpfs"]["/scratch"], "size=8m");
    assert_eq!(host_config["CapDrop"], serde_json::json!(["NET_RAW"]));
    assert_eq!(host_config["ShmSize"], 16 << 20);
    assert_eq!(host_config["Sysctls"]["net.core.somaxconn"], "1024");
    let (code, ps, _) = cli.run(&["compose", "ps", "--cluster", &cluster]);
    assert_eq!(code, 0);
    // One row per compose service, each with its own ports.
    let web_row = ps.lines().find(|l| l.starts_with("web ")).unwrap_or_else(|| panic!("{ps}"));
    let worker_row = ps.lines().find(|l| l.starts_with("worker ")).unwrap_or_else(|| panic!("{ps}"));
    assert!(web_row.contains("RUNNING") && web_row.contains(&format!("{port}->80/tcp")), "{ps}");
    assert!(!worker_row.contains("->"), "{ps}");
    // Output reaches berth's logs (compose gives containers the awslogs driver).
    let logs = wait_for("the worker's line in compose logs", DEADLINE, async || {
        let (code, out, err) = cli.run(&["compose", "logs", "--cluster", &cluster]);
        if code == 0 && out.contains("worker ready") {
            Ok(out)
        } else {
            Err(format!("{code}: {out}{err}"))
        }
    })
    .await;
    assert!(logs.lines().any(|l| l.starts_with("worker ") && l.ends_with("| worker ready")), "{logs}");
    let (code, web_only, err) = cli.run(&["compose", "logs", "--cluster", &cluster, "web"]);
    assert!(code == 0 && !web_only.contains("worker ready"), "{web_only}{err}");
    let (_, listed, _) = cli.run(&["ls", "services", "--cluster", &cluster, "--output", "json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["serviceName"], "shop");
    let (_, tasks, _) = cli.run(&["ls", "tasks", "--cluster", &cluster]);
    assert!(tasks.starts_with("TASK") && tasks.contains("RUNNING") && tasks.contains("service:shop"), "{tasks}");
    let (_, instances, _) = cli.run(&["ls", "instances", "--cluster", &cluster]);
    assert!(instances.contains("ACTIVE") && instances.contains("true"), "{instances}");
    let (_, clusters, _) = cli.run(&["ls", "clusters"]);
    assert!(clusters.lines().any(|l| l.starts_with(&cluster) && l.contains("ACTIVE")), "{clusters}");

    // A new image, deployed and followed to the end.
    let (code, out, err) = cli.run(&[
        "service",
        "deploy",
        "--cluster",
        &cluster,
        "--service",
        "shop",
        "--image",
        &format!("web={v2}"),
        "--wait",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "deploy: {out}\n{err}");
    let deployed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(deployed["state"], "COMPLETED");
    assert!(deployed["taskDefinitionArn"].as_str().unwrap().ends_with("task-definition/shop:2"));
    assert_eq!(containers_of(&cluster, Some("web"), "{{.Image}}").trim(), v2);
    let page = wait_for("the new task to answer", DEADLINE, async || http_get(port)).await;
    assert!(page.contains("hello from compose"));

    // An image that cannot be pulled: the breaker rolls back, and the exit code says so.
    let (code, out, err) = cli.run(&[
        "service",
        "deploy",
        "--cluster",
        &cluster,
        "--service",
        "shop",
        "--image",
        "web=berth-test/does-not-exist:1",
        "--wait",
        "--timeout",
        "120",
    ]);
    assert_eq!(code, 3, "a rolled-back deploy exits 3: {out}\n{err}");
    assert!(out.contains("rolled back"), "{out}");

    let (_, events, _) = cli.run(&["events", "--cluster", &cluster, "--service", "shop"]);
    assert!(events.contains("(service shop) has reached a steady state."), "{events}");
    assert!(events.contains("deployment failed"), "{events}");
    let (_, lines, _) = cli.run(&["events", "--cluster", &cluster, "--service", "shop", "--output", "json"]);
    let parsed: Vec<serde_json::Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(parsed.iter().all(|e| e["serviceName"] == "shop" && e["message"].is_string()), "{lines}");
    assert_eq!(parsed.len(), events.lines().count());

    // A one-off task: its container's exit code is the command's.
    let td = ecs
        .register_task_definition()
        .family(format!("{cluster}-job"))
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("job")
                .image(&image.reference)
                .memory(16)
                .command("sh")
                .command("-c")
                .command("echo working on it; sleep 1; exit 7")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let td_arn = td.task_definition().unwrap().task_definition_arn().unwrap().to_string();
    let (code, out, err) = cli.run(&[
        "task",
        "run",
        "--cluster",
        &cluster,
        "--task-definition",
        &td_arn,
        "--wait",
        "--logs",
        "--output-env",
        env_path,
    ]);
    assert_eq!(code, 7, "task run exits with the container's code: {out}\n{err}");
    assert!(out.contains("working on it"), "--logs shows the container's output: {out}");
    let outputs = std::fs::read_to_string(&env_file).unwrap();
    assert!(outputs.contains("BERTH_EXIT_CODE=7") && outputs.contains("BERTH_TASK_ARN=arn:aws:ecs:"), "{outputs}");

    let (code, out, err) = cli.run(&["compose", "down", "--cluster", &cluster]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("deleted shop") && !out.contains("still stopping"), "{out}\n{err}");
    // `down` returned once the tasks stopped.
    let tasks = ecs.list_tasks().cluster(&cluster).service_name("shop").send().await.unwrap();
    assert!(tasks.task_arns().is_empty(), "no task left running: {:?}", tasks.task_arns());
    wait_for("the project's containers to go", DEADLINE, async || {
        let left = containers_of(&cluster, Some("web"), "{{.ID}}");
        if left.is_empty() {
            Ok(())
        } else {
            Err(left)
        }
    })
    .await;
    let d = ecs.describe_services().cluster(&cluster).services("shop").send().await.unwrap();
    assert_ne!(d.services()[0].status(), Some("ACTIVE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_up_task_mode_returns_the_exit_code() {
    let env = Env::start("composetask").await;
    let (dir, server, credential, cluster, image) =
        (&env.dir, &env.server, &env.credential, env.cluster.clone(), &env.image);
    let project = dir.path().join("job");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("compose.yaml"),
        format!("services:\n  job:\n    image: {}\n    command: sh -c 'exit 4'\n    mem_limit: 16m\n", image.reference),
    )
    .unwrap();
    let cli = Cli { server, credential: credential.clone(), dir: project };
    let (code, out, err) = cli.run(&["compose", "up", "--cluster", &cluster, "--task", "--wait", "--output", "json"]);
    assert_eq!(code, 4, "{out}\n{err}");
    let result: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(result["tasks"][0]["exitCode"], 4);
    assert_eq!(result["tasks"][0]["state"], "STOPPED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compose_build_pushes_to_the_registry_and_up_runs_it() {
    let env = Env::start("composebuild").await;
    let (dir, server, credential, cluster, base) =
        (&env.dir, &env.server, &env.credential, env.cluster.clone(), &env.image);
    let ecs = &env.ecs;
    let project = dir.path().join("built");
    std::fs::create_dir_all(project.join("app")).unwrap();
    std::fs::write(
        project.join("app/Dockerfile"),
        format!(
            "FROM {}\nRUN echo built-by-berth > /message\nCMD [\"sh\", \"-c\", \"cat /message; sleep 600\"]\n",
            base.reference
        ),
    )
    .unwrap();
    std::fs::write(project.join("compose.yaml"), "services:\n  app:\n    build: ./app\n    mem_limit: 16m\n").unwrap();
    let cli = Cli { server, credential: credential.clone(), dir: project };
    let host = format!("127.0.0.1:{}", server.port());
    let image = format!("{host}/built/app:latest");
    let _built = RemoveOnDrop(image.clone());

    let (code, out, err) = cli.run(&["compose", "up", "--cluster", &cluster]);
    assert_ne!(code, 0, "up before build must say the image is missing");
    assert!(err.contains("run `berth compose build` first"), "{out}\n{err}");

    let (code, out, err) = cli.run(&["compose", "build", "--output", "json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let built: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(built["images"][0]["image"], image.as_str());
    assert!(built["images"][0]["digest"].as_str().unwrap().starts_with("sha256:"));
    // The engine must pull it from the registry, with the agent's own credentials.
    docker_cli(&["rmi", &image]);

    let (code, out, err) = cli.run(&["compose", "up", "--cluster", &cluster, "--wait"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let running = wait_for("the built image to run", DEADLINE, async || {
        let ids = containers_of(&cluster, None, "{{.ID}}");
        if ids.is_empty() {
            Err("nothing running".to_string())
        } else {
            Ok(ids)
        }
    })
    .await;
    // The agent pulled it by digest: an image with no tag, removed when the test ends.
    let pulled = docker_cli(&["inspect", "--format", "{{.Image}}", running.lines().next().unwrap()]);
    let _pulled = RemoveOnDrop(pulled);
    let logs = docker_cli(&["logs", running.lines().next().unwrap()]);
    assert!(logs.contains("built-by-berth"), "{logs}");
    // The deploy runs the image by the digest it was pushed with, not by its movable tag.
    let services = ecs.list_services().cluster(&cluster).send().await.unwrap();
    let described =
        ecs.describe_services().cluster(&cluster).services(&services.service_arns()[0]).send().await.unwrap();
    let td = described.services()[0].task_definition().unwrap().to_string();
    let td = ecs.describe_task_definition().task_definition(td).send().await.unwrap().task_definition.unwrap();
    let pinned = td.container_definitions()[0].image().unwrap();
    assert!(
        pinned.contains("@sha256:") && pinned.contains(&built["images"][0]["digest"].as_str().unwrap()[..20]),
        "{pinned}"
    );
    let (code, _, _) = cli.run(&["compose", "down", "--cluster", &cluster]);
    assert_eq!(code, 0);
    wait_for("the containers to go", DEADLINE, async || {
        let ids = containers_of(&cluster, None, "{{.ID}}");
        if ids.is_empty() {
            Ok(())
        } else {
            Err(ids)
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_with_a_published_port_redeploys_and_finishes() {
    let env = Env::start("composeport").await;
    let project = env.dir.path().join("site");
    std::fs::create_dir_all(&project).unwrap();
    let port = free_port();
    let write = |greeting: &str| {
        let file = format!(
            "services:\n  web:\n    image: {}\n    command: [\"sh\", \"-c\", \"mkdir -p /www && echo {greeting} > /www/index.html && exec httpd -f -p 80 -h /www\"]\n    ports: [\"{port}:80\"]\n    mem_limit: 16m\n    stop_grace_period: 1s\n",
            env.image.reference
        );
        std::fs::write(project.join("compose.yaml"), file).unwrap();
    };
    let cli = Cli { server: &env.server, credential: env.credential.clone(), dir: project.clone() };
    write("first");
    let (code, out, err) = cli.run(&["compose", "up", "--cluster", &env.cluster, "--wait", "--timeout", "80"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(err.contains("publishes a fixed host port"), "the deployment settings are explained: {err}");
    // The new task needs the port the old one holds: the redeploy must still finish.
    write("second");
    let (code, out, err) = cli.run(&["compose", "up", "--cluster", &env.cluster, "--wait", "--timeout", "80"]);
    assert_eq!(code, 0, "a redeploy with a fixed port finishes: {out}\n{err}");
    let page = wait_for("the new page", DEADLINE, async || match http_get(port) {
        Ok(p) if p.contains("second") => Ok(p),
        other => Err(format!("{other:?}")),
    })
    .await;
    assert!(page.contains("second"));
    let (code, _, _) = cli.run(&["compose", "down", "--cluster", &env.cluster]);
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_with_a_published_port_are_served_by_a_load_balancer() {
    let env = Env::start("compose-lb").await;
    let project = env.dir.path().join("shop");
    std::fs::create_dir_all(&project).unwrap();
    let port = free_port();
    std::fs::write(project.join(".env"), format!("IMAGE={}\nPORT={port}\n", env.image.reference)).unwrap();
    std::fs::write(
        project.join("docker-compose.yml"),
        r#"
services:
  web:
    image: ${IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo replica-$$HOSTNAME > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["${PORT}:80"]
    deploy: {replicas: 2}
    mem_limit: 32m
    stop_grace_period: 2s
"#,
    )
    .unwrap();
    let cli = Cli { server: &env.server, credential: env.credential.clone(), dir: project.clone() };
    let (code, out, err) = cli.run(&["compose", "up", "--cluster", &env.cluster, "--wait"]);
    assert_eq!(code, 0, "compose up: {out}\n{err}");
    assert!(format!("{out}{err}").contains(&format!("load balancer listener on port {port}")), "{out}\n{err}");
    // Both replicas answer on the one published port.
    let replicas = wait_for("both replicas answering on the published port", DEADLINE, async || {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..8 {
            let page = http_get(port)?;
            if let Some(line) = page.lines().find(|l| l.starts_with("replica-")) {
                seen.insert(line.to_string());
            }
        }
        if seen.len() == 2 {
            Ok(seen)
        } else {
            Err(format!("{seen:?}"))
        }
    })
    .await;
    assert_eq!(replicas.len(), 2);
    let (code, out, err) = cli.run(&["compose", "down", "--cluster", &env.cluster]);
    assert_eq!(code, 0, "compose down: {out}\n{err}");
    wait_for("the listener closed", DEADLINE, async || match http_get(port) {
        Err(_) => Ok(()),
        Ok(page) => Err(page),
    })
    .await;
    wait_for("the containers gone", DEADLINE, async || {
        let left = containers_of(&env.cluster, None, "{{.ID}}");
        if left.trim().is_empty() {
            Ok(())
        } else {
            Err(left)
        }
    })
    .await;
}
