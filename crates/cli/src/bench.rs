//! `berth bench placement`: the whole control plane at scale, in one process. Container
//! instances register through the control plane as agents register them (no agent
//! processes run, so tasks stay PROVISIONING); then tasks are placed in groups through
//! the same path RunTask takes — placement over the indexed snapshot, commit to SQLite
//! with fsync, publish — and the run ends with one line:
//! `placed M tasks on N instances in S s (R placements/s), peak RSS X MiB`.

use std::{sync::Arc, time::Instant};

use anyhow::{bail, Context};
use berth_control::{Caller, Control};
use berth_model::container_instance::{Attribute, Resource};
use berth_model::{
    ecs::{CreateClusterRequest, RegisterContainerInstanceRequest, RunTaskRequest},
    placement::{PlacementConstraint, PlacementStrategy},
};
use berth_store::SqliteStore;
use clap::{Args, Subcommand};
use serde_json::json;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Register N instances, place M tasks, report time, rate and peak memory.
    Placement(PlacementArgs),
}

#[derive(Args)]
pub struct PlacementArgs {
    #[arg(long, default_value_t = 5_000)]
    instances: usize,
    #[arg(long, default_value_t = 1_000_000)]
    tasks: usize,
    /// Tasks per placement request (one task group each, like a service of that size).
    #[arg(long, default_value_t = 1_000)]
    group_size: usize,
    /// Requests in flight at once (they share commits).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Placement(args) => placement(args).await,
    }
}

fn caller() -> Caller {
    Caller { region: "us-east-1".into(), account: crate::DEFAULT_ACCOUNT_ID.into() }
}

async fn placement(args: PlacementArgs) -> anyhow::Result<()> {
    if args.group_size == 0 || args.tasks == 0 || args.instances == 0 {
        bail!("--instances, --tasks and --group-size must be above 0");
    }
    let dir = tempfile::tempdir().context("temporary data directory")?;
    let control = Control::open(Arc::new(SqliteStore::open(dir.path())?)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let c = caller();
    control
        .create_cluster(&c, CreateClusterRequest { cluster_name: Some("bench".into()), ..Default::default() })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let definition = json!({"family": "bench", "containerDefinitions": [{"name": "app", "image": "busybox", "cpu": 10, "memory": 32}]});
    control
        .register_task_definition(&c, serde_json::from_value(definition)?)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    let started = Instant::now();
    register_instances(&control, args.instances, args.concurrency.max(1) * 16).await?;
    eprintln!("registered {} instances in {:.1} s", args.instances, started.elapsed().as_secs_f64());

    let started = Instant::now();
    let groups = args.tasks.div_ceil(args.group_size);
    let mut placed = 0usize;
    let mut next = 0usize;
    let mut in_flight = tokio::task::JoinSet::new();
    while next < groups || !in_flight.is_empty() {
        while next < groups && in_flight.len() < args.concurrency.max(1) {
            let count = args.group_size.min(args.tasks - next * args.group_size);
            let request = RunTaskRequest {
                cluster: Some("bench".into()),
                task_definition: Some("bench".into()),
                group: Some(format!("service:bench-{next}")),
                placement_constraints: vec![PlacementConstraint::member_of("attribute:stack == prod")],
                placement_strategy: vec![
                    PlacementStrategy::spread("attribute:ecs.availability-zone"),
                    PlacementStrategy::binpack("memory"),
                ],
                ..Default::default()
            };
            let control = control.clone();
            in_flight.spawn(async move { control.place_tasks(&caller(), request, count).await.map(|(t, _)| t.len()) });
            next += 1;
        }
        if let Some(done) = in_flight.join_next().await {
            placed += done?.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    if placed < args.tasks {
        bail!("only {placed} of {} tasks fit on {} instances", args.tasks, args.instances);
    }
    println!(
        "placed {placed} tasks on {} instances in {seconds:.1} s ({:.0} placements/s), peak RSS {:.0} MiB",
        args.instances,
        placed as f64 / seconds,
        peak_rss_mib()
    );
    Ok(())
}

/// Registers `n` instances of mixed sizes in three zones, `parallel` at a time.
async fn register_instances(control: &Control, n: usize, parallel: usize) -> anyhow::Result<()> {
    let sizes = [(8 * 1024, 16 * 1024), (16 * 1024, 32 * 1024), (32 * 1024, 64 * 1024)];
    let mut set: tokio::task::JoinSet<Result<(), berth_model::EcsError>> = tokio::task::JoinSet::new();
    for i in 0..n {
        if set.len() >= parallel {
            set.join_next().await.expect("a registration in flight")?.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let (cpu, memory) = sizes[i % sizes.len()];
        let req = RegisterContainerInstanceRequest {
            cluster: Some("bench".into()),
            total_resources: vec![Resource::integer("CPU", cpu), Resource::integer("MEMORY", memory)],
            attributes: vec![
                Attribute::new("ecs.availability-zone", ["us-east-1a", "us-east-1b", "us-east-1c"][i % 3]),
                Attribute::new("ecs.instance-type", ["m5.2xlarge", "m5.4xlarge", "m5.8xlarge"][i % 3]),
                Attribute::new("stack", "prod"),
            ],
            ..Default::default()
        };
        let control = control.clone();
        set.spawn(async move { control.register_container_instance(&caller(), req).await.map(|_| ()) });
    }
    while let Some(done) = set.join_next().await {
        done?.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}

/// VmHWM: the most resident memory this process has held.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}
