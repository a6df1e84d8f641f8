//! RunTask → RUNNING latency on the real Docker engine, against `docker run -d` of the
//! same image, measured in the same run; then the agent's resident memory with 50 tasks
//! running.
//!
//! Both sides start the same busybox container (`sleep 300`) one at a time. For berth the
//! clock runs from sending RunTask until DescribeTasks (polled every 2 ms) shows RUNNING:
//! scheduling, the agent's long-poll wake-up, container create and start through the
//! Docker API, and the report back. For Docker it is the wall time of `docker run -d`.
//!
//! Run: `cargo bench -p berth-cli --bench task_latency` (BERTH_BENCH_TASKS=N to change 50).

use std::{
    path::Path,
    time::{Duration, Instant},
};

use aws_sdk_ecs::types::ContainerDefinition;
use berth_testkit::{sdk_client, AgentProcess, BerthProcess, TestImage};

fn main() {
    let n: usize = std::env::var("BERTH_BENCH_TASKS").ok().and_then(|s| s.parse().ok()).unwrap_or(50);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let cluster = format!("bench-{}", std::process::id());
    let image = TestImage::build(&cluster, &cluster);
    let dir = tempfile::tempdir().unwrap();
    let berth = Path::new(env!("CARGO_BIN_EXE_berth"));
    let server = BerthProcess::start(berth, &dir.path().join("server"), 0);
    let credential = server.credential();
    runtime.block_on(async {
        let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
        ecs.create_cluster().cluster_name(&cluster).send().await.unwrap();
    });
    let agent = AgentProcess::start(berth, &server.endpoint, &cluster, &dir.path().join("agent"), &credential, &[]);

    // Baseline first: docker run -d of the same image and command.
    let label = format!("com.amazonaws.ecs.cluster={cluster}");
    let docker_ms = berth_testkit::docker_run_times(&image.reference, &label, n);

    let (berth_ms, rss_kib) = runtime.block_on(async {
        let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
        let container = ContainerDefinition::builder()
            .name("app")
            .image(&image.reference)
            .memory(16)
            .stop_timeout(1)
            .command("sleep")
            .command("300")
            .build();
        ecs.register_task_definition().family("bench").container_definitions(container).send().await.unwrap();
        // Wait for the agent to register.
        let until = Instant::now() + Duration::from_secs(30);
        while ecs
            .list_container_instances()
            .cluster(&cluster)
            .send()
            .await
            .unwrap()
            .container_instance_arns()
            .is_empty()
        {
            assert!(Instant::now() < until, "the agent did not register");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut latencies = Vec::new();
        let mut arns = Vec::new();
        for _ in 0..n {
            let started = Instant::now();
            let out = ecs.run_task().cluster(&cluster).task_definition("bench").send().await.unwrap();
            let arn = out.tasks()[0].task_arn().unwrap().to_string();
            loop {
                let d = ecs.describe_tasks().cluster(&cluster).tasks(&arn).send().await.unwrap();
                match d.tasks()[0].last_status() {
                    Some("RUNNING") => break,
                    Some("STOPPED") => panic!("task stopped: {:?}", d.tasks()[0].stopped_reason()),
                    _ => tokio::time::sleep(Duration::from_millis(2)).await,
                }
            }
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            arns.push(arn);
        }
        let rss = resident_kib(agent.pid());
        for arn in &arns {
            ecs.stop_task().cluster(&cluster).task(arn).send().await.unwrap();
        }
        for arn in &arns {
            let until = Instant::now() + Duration::from_secs(60);
            loop {
                let d = ecs.describe_tasks().cluster(&cluster).tasks(arn).send().await.unwrap();
                if d.tasks()[0].last_status() == Some("STOPPED") {
                    break;
                }
                assert!(Instant::now() < until, "task did not stop");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        (latencies, rss)
    });
    drop(agent);

    let (b50, b99) = (percentile(&berth_ms, 50.0), percentile(&berth_ms, 99.0));
    let (d50, d99) = (percentile(&docker_ms, 50.0), percentile(&docker_ms, 99.0));
    println!("task start latency, {n} busybox containers started one at a time");
    println!("{:<38} {:>9} {:>9}", "", "p50 ms", "p99 ms");
    println!("{:<38} {:>9.1} {:>9.1}", "berth: RunTask -> RUNNING", b50, b99);
    println!("{:<38} {:>9.1} {:>9.1}", "baseline: docker run -d", d50, d99);
    let ratio = b50 / d50;
    println!("p50 ratio berth/docker: {ratio:.2} (target <= 1.2: {})", if ratio <= 1.2 { "met" } else { "NOT met" });
    let mib = rss_kib as f64 / 1024.0;
    println!(
        "agent resident memory with {n} tasks running: {mib:.1} MiB (target <= 20 MB: {})",
        if mib * 1.048_576 <= 20.0 { "met" } else { "NOT met" }
    );
}

fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[((p / 100.0) * (s.len() - 1) as f64).round() as usize]
}

/// VmRSS of a process, KiB.
fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("agent process status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}
