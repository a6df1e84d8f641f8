use std::collections::HashMap;

use proptest::prelude::{any, prop, prop_assert, prop_assert_eq, proptest, Strategy as Generator};

use super::*;
use crate::types::{parse_constraint, parse_strategy, Demand};

fn instance(n: usize, az: &str, cpu: i64, memory: i64) -> Instance {
    Instance {
        arn: format!("i{n}"),
        active: true,
        agent_connected: true,
        cpu_free: cpu,
        memory_free: memory,
        attributes: std::sync::Arc::new(HashMap::from([("ecs.availability-zone".to_string(), Some(az.to_string()))])),
        ..Default::default()
    }
}

fn request(
    count: usize,
    memory: i64,
    strategies: &[(&str, Option<&str>)],
    constraints: &[(&str, Option<&str>)],
) -> Request {
    Request {
        demand: Demand { cpu: 0, memory, ..Default::default() },
        group: "family:web".into(),
        count,
        strategies: strategies.iter().map(|(k, f)| parse_strategy(k, *f).unwrap()).collect(),
        constraints: constraints.iter().map(|(k, e)| parse_constraint(k, *e).unwrap()).collect(),
        seed: 7,
    }
}

fn placed(out: &[Placement]) -> Vec<usize> {
    out.iter()
        .map(|p| match p {
            Placement::Placed(i) => *i,
            Placement::Unplaced(r) => panic!("unplaced: {r:?}"),
        })
        .collect()
}

#[test]
fn binpack_memory_fills_the_fullest_instance_that_fits() {
    let mut instances = vec![instance(0, "a", 0, 1000), instance(1, "a", 0, 300), instance(2, "a", 0, 600)];
    let out = place(&request(4, 250, &[("binpack", Some("memory"))], &[]), &mut instances);
    // 300 fits one (50 left), then 600 twice (100 left), then 1000.
    assert_eq!(placed(&out), vec![1, 2, 2, 0]);
}

#[test]
fn spread_over_zones_then_binpack_as_in_the_ecs_docs() {
    let mut instances = vec![
        instance(0, "us-east-1a", 0, 1000),
        instance(1, "us-east-1a", 0, 500),
        instance(2, "us-east-1b", 0, 1000),
        instance(3, "us-east-1c", 0, 800),
    ];
    let strategies = [("spread", Some("attribute:ecs.availability-zone")), ("binpack", Some("memory"))];
    let out = place(&request(6, 100, &strategies, &[]), &mut instances);
    let zones: Vec<&str> =
        placed(&out).iter().map(|i| instances[*i].attribute_value("ecs.availability-zone").unwrap()).collect();
    for z in ["us-east-1a", "us-east-1b", "us-east-1c"] {
        assert_eq!(zones.iter().filter(|x| **x == z).count(), 2, "{zones:?}");
    }
    // Inside us-east-1a, binpack chose the smaller instance both times.
    assert_eq!(instances[1].memory_free, 300);
    assert_eq!(instances[0].memory_free, 1000);
}

#[test]
fn existing_tasks_of_the_group_count_for_spread() {
    let mut instances = vec![instance(0, "a", 0, 1000), instance(1, "b", 0, 1000)];
    instances[0].task_groups = std::sync::Arc::new(HashMap::from([("family:web".to_string(), 3)]));
    let out = place(&request(2, 10, &[("spread", Some("attribute:ecs.availability-zone"))], &[]), &mut instances);
    assert_eq!(placed(&out), vec![1, 1]);
}

#[test]
fn member_of_and_distinct_instance_explain_themselves() {
    let mut instances = vec![instance(0, "a", 0, 1000), instance(1, "b", 0, 1000), instance(2, "c", 0, 1000)];
    let constraints = [("memberOf", Some("attribute:ecs.availability-zone != c")), ("distinctInstance", None)];
    let out = place(&request(3, 10, &[], &constraints), &mut instances);
    assert_eq!(placed(&out[..2]), vec![0, 1]);
    let Placement::Unplaced(reasons) = &out[2] else { panic!("{out:?}") };
    let reasons: Vec<&str> = reasons.iter().map(|(_, r)| r.reason()).collect();
    assert_eq!(
        reasons,
        [
            "DistinctInstance placement constraint unsatisfied.",
            "DistinctInstance placement constraint unsatisfied.",
            "MemberOf placement constraint unsatisfied."
        ]
    );
}

#[test]
fn dynamic_expressions_see_tasks_placed_earlier_in_the_request() {
    let mut instances = vec![instance(0, "a", 0, 1000), instance(1, "a", 0, 1000)];
    let out = place(&request(3, 10, &[], &[("memberOf", Some("runningTasksCount < 1"))]), &mut instances);
    assert_eq!(placed(&out[..2]), vec![0, 1]);
    assert!(matches!(out[2], Placement::Unplaced(_)));
}

#[test]
fn random_is_seeded() {
    let instances: Vec<Instance> = (0..20).map(|n| instance(n, "a", 0, 1000)).collect();
    let run = |seed| {
        let mut snapshot = instances.clone();
        let mut req = request(5, 10, &[("random", None)], &[]);
        req.seed = seed;
        placed(&place(&req, &mut snapshot))
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn plan_ranks_or_explains_every_instance() {
    let mut small = instance(1, "b", 0, 100);
    small.agent_connected = true;
    let mut gone = instance(2, "c", 0, 1000);
    gone.agent_connected = false;
    let instances = vec![instance(0, "a", 0, 1000), small, gone, instance(3, "d", 0, 600)];
    let entries = plan(&request(1, 512, &[("binpack", Some("memory"))], &[]), &instances);
    assert_eq!(entries[3].rank, Some(1));
    assert_eq!(entries[0].rank, Some(2));
    assert_eq!(entries[1].rejection.as_ref().unwrap().detail(), "memory: needs 512 MiB, 100 free");
    assert_eq!(entries[2].rejection, Some(Rejection::Agent));
}

fn arb_instances() -> impl Generator<Value = Vec<Instance>> {
    prop::collection::vec((0i64..4096, 0i64..4096, 0usize..3, prop::collection::vec(80u32..84, 0..2)), 1..12).prop_map(
        |v| {
            v.into_iter()
                .enumerate()
                .map(|(n, (cpu, mem, az, ports))| {
                    let mut i = instance(n, ["a", "b", "c"][az], cpu, mem);
                    i.ports_used = ports.into_iter().map(|p| (p, "tcp".to_string())).collect();
                    i
                })
                .collect()
        },
    )
}

fn arb_strategies() -> impl Generator<Value = Vec<(&'static str, Option<&'static str>)>> {
    prop::collection::vec(
        prop::sample::select(vec![
            ("binpack", Some("memory")),
            ("binpack", Some("cpu")),
            ("spread", Some("instanceId")),
            ("spread", Some("attribute:ecs.availability-zone")),
            ("random", None),
        ]),
        0..3,
    )
}

proptest! {
    #[test]
    fn never_overcommits_and_never_reuses_a_port(
        instances in arb_instances(),
        strategies in arb_strategies(),
        cpu in 0i64..1024,
        memory in 0i64..1024,
        port in prop::option::of(80u32..84),
        distinct in any::<bool>(),
        count in 1usize..20,
    ) {
        let mut req = request(count, memory, &strategies, if distinct { &[("distinctInstance", None)] } else { &[] });
        req.demand.cpu = cpu;
        req.demand.host_ports = port.map(|p| vec![(p, "tcp".to_string())]).unwrap_or_default();
        let before = instances.clone();
        let mut after = instances.clone();
        let out = place(&req, &mut after);
        let mut per_instance = vec![0usize; before.len()];
        for p in &out {
            if let Placement::Placed(i) = p {
                per_instance[*i] += 1;
            }
        }
        for (i, n) in per_instance.iter().enumerate() {
            prop_assert!(after[i].cpu_free >= 0 && after[i].memory_free >= 0);
            prop_assert_eq!(before[i].memory_free - after[i].memory_free, *n as i64 * memory);
            if port.is_some() {
                prop_assert!(*n <= 1, "a static port is used once per instance");
                prop_assert!(*n == 0 || !before[i].ports_used.contains(&req.demand.host_ports[0]));
            }
            if distinct {
                prop_assert!(*n <= 1);
            }
        }
        // Deterministic: the same snapshot and request give the same placements.
        let mut again = instances.clone();
        prop_assert_eq!(place(&req, &mut again), out);
    }

    #[test]
    fn spread_over_equal_instances_differs_by_at_most_one(n in 1usize..12, count in 1usize..60) {
        let mut instances: Vec<Instance> = (0..n).map(|i| instance(i, "a", 100_000, 100_000)).collect();
        let out = place(&request(count, 1, &[("spread", Some("instanceId"))], &[]), &mut instances);
        let mut per = vec![0usize; n];
        for i in placed(&out) { per[i] += 1; }
        prop_assert!(per.iter().max().unwrap() - per.iter().min().unwrap() <= 1, "{:?}", per);
    }

    #[test]
    fn binpack_never_opens_an_instance_while_one_fits(n in 1usize..8, fits_per_instance in 1i64..5, count in 1usize..30) {
        let mut instances: Vec<Instance> = (0..n).map(|i| instance(i, "a", 0, 100 * fits_per_instance)).collect();
        let out = place(&request(count, 100, &[("binpack", Some("memory"))], &[]), &mut instances);
        let used = instances.iter().filter(|i| i.memory_free < 100 * fits_per_instance).count();
        let placed_count = out.iter().filter(|p| matches!(p, Placement::Placed(_))).count() as i64;
        prop_assert_eq!(used as i64, (placed_count + fits_per_instance - 1) / fits_per_instance);
    }
}
