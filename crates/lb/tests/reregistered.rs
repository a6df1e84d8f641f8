//! A target registered again under the same key (same instance and port, a new task) is
//! checked afresh even when this data plane never saw it drain in between: control forgets
//! what it knew of the old registration's health, so the data plane must report again.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use berth_lb::{DataPlane, LbConfig, Reporter};
use berth_model::elb::{
    plane::{Algorithm, HealthCheckPlan, LbPlan, Observation, TargetGroupPlan, TargetKey, TargetPlan},
    Protocol, TargetHealthState,
};

fn plan(port: u16, registered_at_ms: u64) -> LbPlan {
    let key = TargetKey { target_group_arn: "tg".into(), id: "i-1".into(), port };
    let tg = TargetGroupPlan {
        arn: "tg".into(),
        protocol: Protocol::Tcp,
        health_check: HealthCheckPlan {
            enabled: true,
            protocol: Protocol::Tcp,
            port: None,
            path: "/".into(),
            matcher: "200".into(),
            interval_seconds: 30,
            timeout_seconds: 2,
            healthy_threshold: 1,
            unhealthy_threshold: 2,
        },
        algorithm: Algorithm::RoundRobin,
        slow_start_seconds: 0,
        stickiness_seconds: None,
        targets: vec![TargetPlan { key, host: Some("127.0.0.1".into()), draining: false, registered_at_ms }],
    };
    LbPlan { listeners: Vec::new(), target_groups: [("tg".to_string(), tg)].into() }
}

/// Waits until `seen` holds more than `after` health reports, the last one healthy; how
/// many it holds.
fn healthy_beyond(seen: &Mutex<Vec<Observation>>, after: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reports: Vec<TargetHealthState> = seen
            .lock()
            .unwrap()
            .iter()
            .filter_map(|o| match o {
                Observation::Health { health, .. } => Some(health.state),
                _ => None,
            })
            .collect();
        if reports.len() > after && reports.last() == Some(&TargetHealthState::Healthy) {
            return reports.len();
        }
        assert!(Instant::now() < deadline, "no health report after {after}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_target_registered_again_is_checked_afresh() {
    let backend = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = backend.local_addr().unwrap().port();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let _guard = runtime.enter();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let report: Reporter = Arc::new(move |o| sink.lock().unwrap().extend(o));
    let first_check = Duration::from_millis(50);
    let config = LbConfig { initial_check_interval: first_check, ..LbConfig::default() };
    let plane = DataPlane::new(config, report);

    plane.apply(&plan(port, 1_000));
    let first = healthy_beyond(&seen, 0);
    // The same plan again: the target keeps its checker and says nothing new.
    plane.apply(&plan(port, 1_000));
    // An absence has no state to poll for: watch for six first-check intervals (a checker
    // started afresh would have reported within one) and fail as soon as a report comes.
    let window = Instant::now() + first_check * 6;
    while Instant::now() < window {
        let reports = seen.lock().unwrap().iter().filter(|o| matches!(o, Observation::Health { .. })).count();
        assert_eq!(reports, first, "an unchanged target was checked afresh");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Registered again (a new registration time): checked afresh, so it reports again.
    plane.apply(&plan(port, 2_000));
    healthy_beyond(&seen, first);
    plane.apply(&LbPlan::default());
}
