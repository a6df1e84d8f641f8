//! Services on the real Docker engine, in one run:
//! 1. `docker kill` of a service task's container → its replacement RUNNING, 20 times;
//! 2. a rolling deployment of 10 tasks (maximumPercent 200, no health check), from
//!    UpdateService to the new deployment COMPLETED, against the time to start one task
//!    with RunTask (the baseline, measured in the same run).
//!
//! 3. the engine's floor, through the same Docker API the agent uses: one container created
//!    and started, then ten at once, then those ten stopped at once — what any
//!    orchestrator on this engine pays for a 10-task rollout.
//!
//! Run: `cargo bench -p berth-cli --bench service_speed`

use std::{
    path::Path,
    time::{Duration, Instant},
};

use aws_sdk_ecs::types::{ContainerDefinition, DeploymentConfiguration};
use berth_testkit::{docker_cli, sdk_client, wait_for, AgentProcess, BerthProcess, TestImage};

const DEADLINE: Duration = Duration::from_secs(120);

fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[((p / 100.0) * (s.len() - 1) as f64).round() as usize]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let cluster = format!("svcbench-{}", std::process::id());
    let image = TestImage::build(&cluster, &cluster);
    let dir = tempfile::tempdir().unwrap();
    let berth = Path::new(env!("CARGO_BIN_EXE_berth"));
    // BERTH_BENCH_SETTLE_MS runs the server with another --task-settle-ms (default: the
    // server's default), to see how much of the rollout the settle time is.
    let settle = std::env::var("BERTH_BENCH_SETTLE_MS").ok();
    // BERTH_BENCH_NETWORK=host runs the tasks (and the floor's containers) with host
    // networking instead of bridge: no network namespace per container.
    let network = std::env::var("BERTH_BENCH_NETWORK").unwrap_or_else(|_| "bridge".to_string());
    let extra: Vec<&str> = match &settle {
        Some(ms) => vec!["--task-settle-ms", ms.as_str()],
        None => Vec::new(),
    };
    let server = BerthProcess::start_with(berth, &dir.path().join("server"), 0, &extra);
    let credential = server.credential();
    let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
    runtime.block_on(async { ecs.create_cluster().cluster_name(&cluster).send().await.unwrap() });
    let agent = AgentProcess::start(berth, &server.endpoint, &cluster, &dir.path().join("agent"), &credential, &[]);

    let (kill_ms, one_task_ms, rollout_ms) = runtime.block_on(async {
        let container = |command: &str| {
            ContainerDefinition::builder()
                .name("app")
                .image(&image.reference)
                .memory(16)
                .stop_timeout(1)
                .command("sh")
                .command("-c")
                .command(command)
                .build()
        };
        // The app exits on SIGTERM, as a well-behaved service does.
        for revision in ["trap \"exit 0\" TERM; sleep 300 & wait", "trap \"exit 0\" TERM; sleep 301 & wait"] {
            ecs.register_task_definition()
                .family("svc")
                .network_mode(aws_sdk_ecs::types::NetworkMode::from(network.as_str()))
                .container_definitions(container(revision))
                .send()
                .await
                .unwrap();
        }
        wait_for("the agent", DEADLINE, async || {
            let n =
                ecs.list_container_instances().cluster(&cluster).send().await.unwrap().container_instance_arns().len();
            if n == 1 {
                Ok(())
            } else {
                Err(format!("{n} instances"))
            }
        })
        .await;
        let running_tasks = async || -> Vec<String> {
            ecs.list_tasks().cluster(&cluster).service_name("kill").send().await.unwrap().task_arns().to_vec()
        };
        let all_running = async |arns: &[String]| -> bool {
            let out = ecs.describe_tasks().cluster(&cluster).set_tasks(Some(arns.to_vec())).send().await.unwrap();
            out.tasks().iter().all(|t| t.last_status() == Some("RUNNING"))
        };

        // 1. Kill → replacement RUNNING.
        ecs.create_service()
            .cluster(&cluster)
            .service_name("kill")
            .task_definition("svc:1")
            .desired_count(3)
            .send()
            .await
            .unwrap();
        wait_for("3 running tasks", DEADLINE, async || {
            let t = running_tasks().await;
            if t.len() == 3 && all_running(&t).await {
                Ok(())
            } else {
                Err(format!("{t:?}"))
            }
        })
        .await;
        let mut kill_ms = Vec::new();
        for _ in 0..20 {
            let before = running_tasks().await;
            let victim = before[0].clone();
            let filter = format!("label=com.amazonaws.ecs.task-arn={victim}");
            let container = docker_cli(&["ps", "-q", "--filter", &filter]);
            let started = Instant::now();
            docker_cli(&["kill", container.trim()]);
            wait_for("the replacement", DEADLINE, async || {
                let now = running_tasks().await;
                let fresh: Vec<String> = now.iter().filter(|a| !before.contains(a)).cloned().collect();
                if now.len() == 3 && !now.contains(&victim) && !fresh.is_empty() && all_running(&fresh).await {
                    Ok(())
                } else {
                    Err(format!("{now:?}"))
                }
            })
            .await;
            kill_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        ecs.delete_service().cluster(&cluster).service("kill").force(true).send().await.unwrap();

        // 2a. Baseline: one task from RunTask to RUNNING (median of 5).
        let mut one = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let arn = ecs.run_task().cluster(&cluster).task_definition("svc:1").send().await.unwrap().tasks()[0]
                .task_arn()
                .unwrap()
                .to_string();
            wait_for("one task", DEADLINE, async || {
                if all_running(std::slice::from_ref(&arn)).await {
                    Ok(())
                } else {
                    Err(arn.clone())
                }
            })
            .await;
            one.push(started.elapsed().as_secs_f64() * 1000.0);
            ecs.stop_task().cluster(&cluster).task(&arn).send().await.unwrap();
        }

        // 2b. Rolling deployment of 10 tasks.
        ecs.create_service()
            .cluster(&cluster)
            .service_name("roll")
            .task_definition("svc:1")
            .desired_count(10)
            .deployment_configuration(
                DeploymentConfiguration::builder().maximum_percent(200).minimum_healthy_percent(100).build(),
            )
            .send()
            .await
            .unwrap();
        let completed = async |td: &str| {
            wait_for(&format!("roll on {td} to complete"), DEADLINE, async || {
                let out = ecs.describe_services().cluster(&cluster).services("roll").send().await.unwrap();
                let svc = out.services()[0].clone();
                let d = &svc.deployments()[0];
                if svc.deployments().len() == 1
                    && d.task_definition().is_some_and(|t| t.ends_with(td))
                    && d.rollout_state().map(|r| r.as_str()) == Some("COMPLETED")
                {
                    Ok(())
                } else {
                    Err(format!("{} deployments, running {}", svc.deployments().len(), svc.running_count()))
                }
            })
            .await
        };
        completed("svc:1").await;
        let started = Instant::now();
        let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        ecs.update_service().cluster(&cluster).service("roll").task_definition("svc:2").send().await.unwrap();
        completed("svc:2").await;
        let rollout = started.elapsed().as_secs_f64() * 1000.0;
        if std::env::var_os("BERTH_BENCH_TIMELINE").is_some() {
            timeline(&ecs, &cluster, wall).await;
        }
        ecs.delete_service().cluster(&cluster).service("roll").force(true).send().await.unwrap();
        (kill_ms, percentile(&one, 50.0), rollout)
    });
    drop(agent);
    let (floor_one, floor_ten, floor_stop) = runtime.block_on(engine_floor(&image.reference, &cluster, &network));

    let p50 = percentile(&kill_ms, 50.0);
    println!(
        "services on Docker, one agent, busybox tasks, {network} networking; task settle: {}",
        settle.as_deref().map_or("default".to_string(), |ms| format!("{ms} ms"))
    );
    println!(
        "docker kill -> replacement RUNNING, 20 kills: p50 {p50:.0} ms, p99 {:.0} ms (target p50 <= 2000 ms: {})",
        percentile(&kill_ms, 99.0),
        if p50 <= 2000.0 { "met" } else { "NOT met" }
    );
    let ratio = rollout_ms / one_task_ms;
    println!("one task RunTask -> RUNNING (baseline, median of 5): {one_task_ms:.0} ms");
    println!("rolling deployment of 10 tasks (max 200%, no health check): {rollout_ms:.0} ms = {ratio:.1}x one task (target <= 3x: {})", if ratio <= 3.0 { "met" } else { "NOT met" });
    println!(
        "engine floor (Docker API, no orchestrator): one create+start {floor_one:.0} ms; 10 at once {floor_ten:.0} ms = {:.1}x one; stopping 10 at once {floor_stop:.0} ms; start+stop of 10 = {:.1}x one task through berth",
        floor_ten / floor_one,
        (floor_ten + floor_stop) / one_task_ms
    );
}

/// Creates and starts containers straight through the Docker API: one alone (median of 3),
/// then ten concurrently, then stops those ten concurrently. Returns the three times in ms.
async fn engine_floor(image: &str, cluster: &str, network: &str) -> (f64, f64, f64) {
    use berth_runtime::{docker::DockerRuntime, ContainerRuntime, ContainerSpec};
    let docker = std::sync::Arc::new(DockerRuntime::connect().await.expect("docker"));
    let spec = |n: usize| ContainerSpec {
        name: format!("{cluster}-floor-{n}"),
        image: image.to_string(),
        command: Some(vec!["sh".into(), "-c".into(), "trap \"exit 0\" TERM; sleep 300 & wait".into()]),
        network_mode: network.into(),
        labels: [("com.amazonaws.ecs.cluster".to_string(), cluster.to_string())].into(),
        memory_mib: Some(16),
        ..Default::default()
    };
    let start = |n: usize| {
        let docker = docker.clone();
        let spec = spec(n);
        async move {
            let id = docker.create(&spec).await.expect("create");
            docker.start(&id).await.expect("start");
            id
        }
    };
    let mut ones = Vec::new();
    for n in 0..3 {
        let t = Instant::now();
        let id = start(100 + n).await;
        ones.push(t.elapsed().as_secs_f64() * 1000.0);
        docker.stop(&id, Duration::from_secs(1)).await.unwrap();
        docker.remove(&id).await.unwrap();
    }
    let t = Instant::now();
    let handles: Vec<_> = (0..10).map(|n| tokio::spawn(start(n))).collect();
    let mut ids = Vec::new();
    for h in handles {
        ids.push(h.await.unwrap());
    }
    let ten = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let stops: Vec<_> = ids
        .iter()
        .map(|id| {
            let (docker, id) = (docker.clone(), id.clone());
            tokio::spawn(async move { docker.stop(&id, Duration::from_secs(1)).await })
        })
        .collect();
    for s in stops {
        s.await.unwrap().unwrap();
    }
    let stop = t.elapsed().as_secs_f64() * 1000.0;
    for id in ids {
        let _ = docker.remove(&id).await;
    }
    (percentile(&ones, 50.0), ten, stop)
}

/// Prints when each of the rollout's tasks was created, started, told to stop and stopped,
/// in ms after UpdateService (BERTH_BENCH_TIMELINE=1).
async fn timeline(ecs: &aws_sdk_ecs::Client, cluster: &str, since: f64) {
    let mut arns = Vec::new();
    for status in [aws_sdk_ecs::types::DesiredStatus::Running, aws_sdk_ecs::types::DesiredStatus::Stopped] {
        let out = ecs.list_tasks().cluster(cluster).service_name("roll").desired_status(status).send().await.unwrap();
        arns.extend(out.task_arns().iter().cloned());
    }
    let ms = |t: Option<&aws_sdk_ecs::primitives::DateTime>| {
        t.map_or("-".to_string(), |t| format!("{:.0}", (t.as_secs_f64() - since) * 1000.0))
    };
    let mut rows = Vec::new();
    for chunk in arns.chunks(100) {
        let out = ecs.describe_tasks().cluster(cluster).set_tasks(Some(chunk.to_vec())).send().await.unwrap();
        for t in out.tasks() {
            rows.push((
                t.task_definition_arn().unwrap_or_default().rsplit(':').next().unwrap_or_default().to_string(),
                ms(t.created_at()),
                ms(t.pull_started_at()),
                ms(t.started_at()),
                ms(t.stopping_at()),
                ms(t.stopped_at()),
            ));
        }
    }
    rows.sort_by(|a, b| (&a.0, a.3.parse::<f64>().ok()).partial_cmp(&(&b.0, b.3.parse::<f64>().ok())).unwrap());
    println!("revision  created  pull  started  stopping  stopped   (ms after UpdateService)");
    for (rev, created, pull, started, stopping, stopped) in rows {
        println!("{rev:>8} {created:>8} {pull:>5} {started:>8} {stopping:>9} {stopped:>8}");
    }
}
