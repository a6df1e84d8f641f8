//! Load held: a real `berth server` process under a mixed load for BERTH_BENCH_SECS
//! (default 600) — reads, writes that leave no lasting state (task definitions registered,
//! deregistered and deleted; tags set and removed), RunTask/StopTask on two simulated
//! agents, and registry pushes whose previous image is deleted — while its resident memory
//! is sampled every 5 s. Prints the samples, the read latency under that load, and whether
//! the memory stayed within the bound.
//!
//! Run: `cargo bench -p berth-cli --bench load_held`   (BERTH_BENCH_SECS=60 for a short run)

use std::{
    path::Path,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use aws_sdk_ecs::types::{ContainerDefinition, Tag};
use berth_agent::AgentConfig;
use berth_runtime::sim::SimRuntime;
use berth_testkit::{ecr_client, sdk_client, BerthProcess, RegistryClient};

/// The resident memory the server must stay under for the whole run.
const RSS_BOUND_MIB: u64 = 256;
const READERS: usize = 6;

fn main() {
    let secs: u64 = std::env::var("BERTH_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    let duration = Duration::from_secs(secs);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = BerthProcess::start_with(
        Path::new(env!("CARGO_BIN_EXE_berth")),
        &dir.path().join("server"),
        0,
        &["--registry-gc-grace-secs", "0"],
    );
    let pid = server.pid();
    let credential = server.credential();
    let endpoint = server.endpoint.clone();
    println!("berth under mixed load for {secs} s: {READERS} readers, 1 writer, RunTask/StopTask on 2 simulated agents, registry pushes");
    runtime.block_on(async {
        let ecs = sdk_client(&endpoint, &credential, "us-east-1");
        ecs.create_cluster().cluster_name("load").send().await.unwrap();
        let app = ContainerDefinition::builder().name("app").image("busybox").memory(16).build();
        ecs.register_task_definition().family("app").container_definitions(app.clone()).send().await.unwrap();
        let mut agents = Vec::new();
        for n in 0..2 {
            let data = dir.path().join(format!("agent{n}"));
            let config = AgentConfig {
                availability_zone: Some(format!("az-{n}")),
                cpu: Some(4096),
                memory: Some(8192),
                ..AgentConfig::new(&endpoint, "load", data, credential.clone())
            };
            agents.push(tokio::spawn(berth_agent::run(config, Arc::new(SimRuntime::new()))));
        }
        berth_testkit::wait_for("both agents to register", Duration::from_secs(60), async || {
            let n =
                ecs.list_container_instances().cluster("load").send().await.unwrap().container_instance_arns().len();
            if n == 2 {
                Ok(())
            } else {
                Err(format!("{n} registered"))
            }
        })
        .await;
        let ecr = ecr_client(&endpoint, &credential, "us-east-1");
        ecr.create_repository().repository_name("load").send().await.unwrap();
        let addr = endpoint.trim_start_matches("http://").parse().unwrap();
        let registry = RegistryClient::login(addr, &ecr).await;

        let stop = Arc::new(AtomicBool::new(false));
        let counts: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
        let latencies = Arc::new(Mutex::new(Vec::<u32>::new()));
        let mut load = Vec::new();
        for _ in 0..READERS {
            let (ecs, stop, counts, latencies) = (ecs.clone(), stop.clone(), counts.clone(), latencies.clone());
            load.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let at = Instant::now();
                    ecs.describe_task_definition().task_definition("app:1").send().await.unwrap();
                    mine.push(at.elapsed().as_micros() as u32);
                    counts[0].fetch_add(1, Ordering::Relaxed);
                }
                latencies.lock().unwrap().extend(mine);
            }));
        }
        {
            let (ecs, stop, counts) = (ecs.clone(), stop.clone(), counts.clone());
            let app = app.clone();
            load.push(tokio::spawn(async move {
                let cluster = ecs.describe_clusters().clusters("load").send().await.unwrap().clusters()[0]
                    .cluster_arn()
                    .unwrap()
                    .to_string();
                while !stop.load(Ordering::Relaxed) {
                    let td = ecs
                        .register_task_definition()
                        .family("churn")
                        .container_definitions(app.clone())
                        .send()
                        .await
                        .unwrap();
                    let arn = td.task_definition.unwrap().task_definition_arn.unwrap();
                    ecs.deregister_task_definition().task_definition(&arn).send().await.unwrap();
                    ecs.delete_task_definitions().task_definitions(&arn).send().await.unwrap();
                    ecs.tag_resource()
                        .resource_arn(&cluster)
                        .tags(Tag::builder().key("k").value("v").build())
                        .send()
                        .await
                        .unwrap();
                    ecs.untag_resource().resource_arn(&cluster).tag_keys("k").send().await.unwrap();
                    counts[1].fetch_add(5, Ordering::Relaxed);
                }
            }));
        }
        {
            let (ecs, stop, counts) = (ecs.clone(), stop.clone(), counts.clone());
            load.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let out = ecs.run_task().cluster("load").task_definition("app:1").count(5).send().await.unwrap();
                    for t in out.tasks() {
                        ecs.stop_task().cluster("load").task(t.task_arn().unwrap()).send().await.unwrap();
                    }
                    counts[2].fetch_add(out.tasks().len() as u64, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await; // a steady rate, not a wait for a state
                }
            }));
        }
        {
            let (stop, counts, ecr) = (stop.clone(), counts.clone(), ecr.clone());
            load.push(tokio::spawn(async move {
                let mut previous: Option<String> = None;
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let layer = format!("layer {n} {}", "x".repeat(64 * 1024));
                    let (digest, _) = registry.push_image("load", "latest", layer.as_bytes()).await;
                    if let Some(old) = previous.replace(digest) {
                        let id = aws_sdk_ecr::types::ImageIdentifier::builder().image_digest(old).build();
                        ecr.batch_delete_image().repository_name("load").image_ids(id).send().await.unwrap();
                    }
                    counts[3].fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await; // a steady rate
                }
            }));
        }

        let started = Instant::now();
        let mut samples = Vec::new();
        println!("{:>6} {:>9} {:>10} {:>10} {:>9} {:>7}", "s", "RSS MiB", "reads", "writes", "tasks", "pushes");
        while started.elapsed() < duration {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let rss = rss_mib(pid);
            samples.push(rss);
            let c: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
            println!("{:>6} {:>9} {:>10} {:>10} {:>9} {:>7}", started.elapsed().as_secs(), rss, c[0], c[1], c[2], c[3]);
        }
        stop.store(true, Ordering::Relaxed);
        for l in load {
            l.await.unwrap();
        }
        for a in agents {
            a.abort();
        }
        let mut lat = latencies.lock().unwrap().clone();
        lat.sort_unstable();
        let pct = |p: f64| lat[((p / 100.0) * (lat.len() - 1) as f64).round() as usize] as f64 / 1000.0;
        let elapsed = started.elapsed().as_secs_f64();
        let c: Vec<u64> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        println!(
            "rates: {:.0} reads/s, {:.0} writes/s, {:.1} tasks/s, {:.1} pushes/s",
            c[0] as f64 / elapsed,
            c[1] as f64 / elapsed,
            c[2] as f64 / elapsed,
            c[3] as f64 / elapsed
        );
        println!("reads under load: p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms", pct(50.0), pct(99.0), pct(99.9));
        let (first, peak, last) = (samples[0], *samples.iter().max().unwrap(), *samples.last().unwrap());
        println!(
            "server RSS: first {first} MiB, peak {peak} MiB, last {last} MiB; bound {RSS_BOUND_MIB} MiB: {}",
            if peak <= RSS_BOUND_MIB { "held" } else { "NOT held" }
        );
    });
    drop(server);
}

fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}
