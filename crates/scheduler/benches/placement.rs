//! The scheduler alone, on one core: 5,000 instances of mixed sizes in 3 availability
//! zones; tasks with a memberOf constraint and spread(attribute:ecs.availability-zone) +
//! binpack(memory), placed in requests of 1,000 (as a service of 1,000 would be).
//!
//! Baseline, in the same run: a naive placer that, for every task, checks every instance
//! and picks the best by the same strategies — what the index replaces.
//!
//! Run: `cargo bench -p berth-scheduler --bench placement`

use std::{collections::HashMap, time::Instant};

use berth_scheduler::{check, parse_constraint, parse_strategy, place, Demand, Instance, Placement, Request};

const INSTANCES: usize = 5_000;
const PER_REQUEST: usize = 1_000;

fn instances() -> Vec<Instance> {
    let zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
    let sizes = [(2048, 4096), (4096, 8192), (8192, 16384), (16384, 32768)];
    (0..INSTANCES)
        .map(|n| {
            let (cpu, memory) = sizes[n % sizes.len()];
            let attributes = HashMap::from([
                ("ecs.availability-zone".to_string(), Some(zones[n % 3].to_string())),
                (
                    "ecs.instance-type".to_string(),
                    Some(["m5.large", "m5.xlarge", "c5.2xlarge", "r5.4xlarge"][n % 4].to_string()),
                ),
                ("stack".to_string(), Some(if n % 10 == 0 { "canary" } else { "prod" }.to_string())),
            ]);
            Instance {
                arn: format!("arn:aws:ecs:us-east-1:123456789012:container-instance/bench/{n:032x}"),
                ec2_instance_id: format!("i-{n:017x}"),
                active: true,
                agent_connected: true,
                cpu_free: cpu,
                memory_free: memory,
                attributes: std::sync::Arc::new(attributes),
                ..Default::default()
            }
        })
        .collect()
}

fn request(group: usize) -> Request {
    Request {
        demand: Demand { cpu: 128, memory: 256, ..Default::default() },
        group: format!("service:bench-{group}"),
        count: PER_REQUEST,
        constraints: vec![parse_constraint(
            "memberOf",
            Some("attribute:stack == prod and attribute:ecs.instance-type =~ .*large"),
        )
        .unwrap()],
        strategies: vec![
            parse_strategy("spread", Some("attribute:ecs.availability-zone")).unwrap(),
            parse_strategy("binpack", Some("memory")).unwrap(),
        ],
        seed: 1,
    }
}

/// The naive placer: for each task, every instance through every filter, best by
/// (tasks of the group in its zone, free memory).
fn naive(req: &Request, instances: &mut [Instance]) -> usize {
    let mut placed = 0;
    let mut zone_counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..req.count {
        let mut best: Option<(usize, i64, usize)> = None;
        for (i, inst) in instances.iter().enumerate() {
            if check(req, inst).is_err() {
                continue;
            }
            let zone = inst.attribute_value("ecs.availability-zone").unwrap_or("");
            let key = (zone_counts.get(zone).copied().unwrap_or(0), inst.memory_free, i);
            if best.is_none_or(|b| key < b) {
                best = Some(key);
            }
        }
        let Some((_, _, i)) = best else { break };
        let inst = &mut instances[i];
        inst.cpu_free -= req.demand.cpu;
        inst.memory_free -= req.demand.memory;
        *inst.placed_groups.entry(req.group.clone()).or_default() += 1;
        *zone_counts.entry(inst.attribute_value("ecs.availability-zone").unwrap_or("").to_string()).or_default() += 1;
        placed += 1;
    }
    placed
}

fn main() {
    let target: usize = std::env::var("BERTH_BENCH_PLACEMENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(200_000);

    let mut snapshot = instances();
    let started = Instant::now();
    let mut placed = 0;
    let mut group = 0;
    while placed < target {
        let out = place(&request(group), &mut snapshot);
        let n = out.iter().filter(|p| matches!(p, Placement::Placed(_))).count();
        assert!(n > 0, "the cluster is full after {placed} placements");
        placed += n;
        group += 1;
    }
    let indexed = placed as f64 / started.elapsed().as_secs_f64();

    let mut snapshot = instances();
    let baseline_target = 5_000;
    let started = Instant::now();
    let mut baseline_placed = 0;
    let mut group = 0;
    while baseline_placed < baseline_target {
        baseline_placed += naive(&request(group), &mut snapshot);
        group += 1;
    }
    let baseline = baseline_placed as f64 / started.elapsed().as_secs_f64();

    println!("scheduler alone, one core: {INSTANCES} instances, 3 zones, memberOf + spread(az) + binpack(memory), requests of {PER_REQUEST}");
    println!("{:<44} {:>12}", "placer", "placements/s");
    println!("{:<44} {:>12.0}", format!("berth (indexed), {placed} placements"), indexed);
    println!("{:<44} {:>12.0}", format!("baseline (scan every instance), {baseline_placed}"), baseline);
    println!(
        "speed-up: {:.1}x; target >= 50000/s: {}",
        indexed / baseline,
        if indexed >= 50_000.0 { "met" } else { "NOT met" }
    );
}
