//! Choosing a target: the targets of a group that may take a request (healthy and not
//! draining, or — when none is healthy — every one that is not draining, as ELB fails
//! open), then round robin or least outstanding requests, slow start, and stickiness.
//! Each target counts what it has in flight, which is how draining knows it is done.

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Instant,
};

use berth_model::elb::{
    plane::{Algorithm, Observation, TargetGroupPlan, TargetKey},
    TargetHealthState,
};

const INITIAL: u8 = 0;
const HEALTHY: u8 = 1;
const UNHEALTHY: u8 = 2;

/// One registered target as the data plane tracks it.
#[derive(Debug)]
pub struct TargetState {
    pub key: TargetKey,
    pub addr: Option<SocketAddr>,
    health: AtomicU8,
    draining: AtomicBool,
    in_flight: AtomicUsize,
    /// When it last turned healthy (slow start counts from there).
    healthy_since: Mutex<Option<Instant>>,
    /// Whether it reported idle since it began draining.
    idle_reported: AtomicBool,
}

impl TargetState {
    pub fn new(key: TargetKey, addr: Option<SocketAddr>, draining: bool) -> TargetState {
        TargetState {
            key,
            addr,
            health: AtomicU8::new(INITIAL),
            draining: AtomicBool::new(draining),
            in_flight: AtomicUsize::new(0),
            healthy_since: Mutex::new(None),
            idle_reported: AtomicBool::new(false),
        }
    }

    pub fn set_health(&self, state: TargetHealthState) {
        let v = match state {
            TargetHealthState::Healthy => HEALTHY,
            TargetHealthState::Initial => INITIAL,
            _ => UNHEALTHY,
        };
        if self.health.swap(v, Ordering::SeqCst) != HEALTHY && v == HEALTHY {
            *self.healthy_since.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.health.load(Ordering::SeqCst) == HEALTHY
    }

    fn is_unhealthy(&self) -> bool {
        self.health.load(Ordering::SeqCst) == UNHEALTHY
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Marks the target draining (or not); a draining target with nothing in flight is
    /// reported idle at once.
    pub fn set_draining(&self, draining: bool, report: &crate::Reporter) {
        let was = self.draining.swap(draining, Ordering::SeqCst);
        if !draining {
            self.idle_reported.store(false, Ordering::SeqCst);
        } else if !was || !self.idle_reported.load(Ordering::SeqCst) {
            self.report_if_idle(report);
        }
    }

    fn report_if_idle(&self, report: &crate::Reporter) {
        if self.is_draining() && self.in_flight() == 0 && !self.idle_reported.swap(true, Ordering::SeqCst) {
            report(vec![Observation::Idle { key: self.key.clone() }]);
        }
    }

    /// Counts a request or connection until the guard drops.
    pub fn begin(self: &Arc<Self>, report: crate::Reporter) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight { target: self.clone(), report }
    }

    /// The share of traffic slow start gives it now (1 when not in slow start).
    fn slow_start_share(&self, slow_start_seconds: u64, now: Instant) -> f64 {
        if slow_start_seconds == 0 {
            return 1.0;
        }
        let since = *self.healthy_since.lock().unwrap_or_else(|p| p.into_inner());
        match since {
            Some(t) => (now.duration_since(t).as_secs_f64() / slow_start_seconds as f64).clamp(0.05, 1.0),
            None => 1.0,
        }
    }
}

/// A request or connection in flight on a target.
pub struct InFlight {
    pub target: Arc<TargetState>,
    report: crate::Reporter,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.target.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.target.report_if_idle(&self.report);
    }
}

/// A target group's targets and its choice rule.
pub struct Group {
    pub plan: TargetGroupPlan,
    pub targets: Vec<Arc<TargetState>>,
    next: AtomicUsize,
}

impl Group {
    pub fn new(plan: TargetGroupPlan, targets: Vec<Arc<TargetState>>) -> Group {
        Group { plan, targets, next: AtomicUsize::new(rand::random::<usize>() % 1024) }
    }

    /// Targets that may take a new request: healthy ones (all when health checks are
    /// off); when none is healthy, every target not draining that has failed its checks
    /// (ELB fails open rather than drop everything).
    fn candidates(&self) -> Vec<&Arc<TargetState>> {
        let live = self.targets.iter().filter(|t| !t.is_draining() && t.addr.is_some());
        if !self.plan.health_check.enabled {
            return live.collect();
        }
        let healthy: Vec<_> = live.clone().filter(|t| t.is_healthy()).collect();
        if !healthy.is_empty() {
            return healthy;
        }
        live.filter(|t| t.is_unhealthy()).collect()
    }

    /// Whether any target could take a request.
    pub fn has_candidates(&self) -> bool {
        !self.candidates().is_empty()
    }

    /// The next target, skipping those in `tried`.
    pub fn pick(&self, tried: &[TargetKey]) -> Option<Arc<TargetState>> {
        let candidates: Vec<_> = self.candidates().into_iter().filter(|t| !tried.contains(&t.key)).collect();
        if candidates.is_empty() {
            return None;
        }
        let n = candidates.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        match self.plan.algorithm {
            Algorithm::LeastOutstandingRequests => {
                (0..n).map(|i| candidates[(start + i) % n]).min_by_key(|t| t.in_flight()).cloned()
            }
            Algorithm::RoundRobin => {
                let now = Instant::now();
                for i in 0..n {
                    let t = candidates[(start + i) % n];
                    let share = t.slow_start_share(self.plan.slow_start_seconds, now);
                    if share >= 1.0 || rand::random::<f64>() < share {
                        return Some(t.clone());
                    }
                }
                Some(candidates[start % n].clone())
            }
        }
    }

    /// The target a stickiness cookie names, if it may still take requests.
    pub fn sticky(&self, token: &str) -> Option<Arc<TargetState>> {
        self.candidates().into_iter().find(|t| cookie_token(&t.key) == token).cloned()
    }
}

/// A stickiness cookie's value for what it pins (a target's key, a target group's ARN).
pub fn cookie_token(pinned: &impl std::hash::Hash) -> String {
    use std::hash::Hasher;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    pinned.hash(&mut h);
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use berth_model::elb::{plane::HealthCheckPlan, Protocol};

    use super::*;

    fn group(n: u16, algorithm: Algorithm) -> Group {
        let targets = (0..n)
            .map(|i| {
                let key = TargetKey { target_group_arn: "tg".into(), id: format!("t{i}"), port: 1000 + i };
                Arc::new(TargetState::new(key, Some(SocketAddr::from(([127, 0, 0, 1], 1000 + i))), false))
            })
            .collect();
        let plan = TargetGroupPlan {
            arn: "tg".into(),
            protocol: Protocol::Http,
            health_check: HealthCheckPlan {
                enabled: true,
                protocol: Protocol::Http,
                port: None,
                path: "/".into(),
                matcher: "200".into(),
                interval_seconds: 5,
                timeout_seconds: 2,
                healthy_threshold: 2,
                unhealthy_threshold: 2,
            },
            algorithm,
            slow_start_seconds: 0,
            stickiness_seconds: None,
            targets: Vec::new(),
        };
        Group::new(plan, targets)
    }

    fn noop() -> crate::Reporter {
        Arc::new(|_| {})
    }

    #[test]
    fn round_robin_visits_every_healthy_target_in_turn() {
        let g = group(3, Algorithm::RoundRobin);
        assert!(g.pick(&[]).is_none(), "initial targets take no traffic");
        for t in &g.targets {
            t.set_health(TargetHealthState::Healthy);
        }
        let picks: Vec<String> = (0..6).map(|_| g.pick(&[]).unwrap().key.id.clone()).collect();
        for id in ["t0", "t1", "t2"] {
            assert_eq!(picks.iter().filter(|p| *p == id).count(), 2, "{picks:?}");
        }
    }

    #[test]
    fn unhealthy_and_draining_targets_leave_the_rotation_and_all_unhealthy_fails_open() {
        let g = group(3, Algorithm::RoundRobin);
        g.targets[0].set_health(TargetHealthState::Healthy);
        g.targets[1].set_health(TargetHealthState::Unhealthy);
        g.targets[2].set_health(TargetHealthState::Healthy);
        g.targets[2].set_draining(true, &noop());
        for _ in 0..5 {
            assert_eq!(g.pick(&[]).unwrap().key.id, "t0");
        }
        assert!(g.pick(&[g.targets[0].key.clone()]).is_none(), "a tried target is not picked again");
        g.targets[0].set_health(TargetHealthState::Unhealthy);
        let open: Vec<String> = (0..4).map(|_| g.pick(&[]).unwrap().key.id.clone()).collect();
        assert!(open.iter().all(|id| id == "t0" || id == "t1"), "{open:?}");
    }

    #[test]
    fn least_outstanding_requests_prefers_the_idle_target() {
        let g = group(2, Algorithm::LeastOutstandingRequests);
        for t in &g.targets {
            t.set_health(TargetHealthState::Healthy);
        }
        let _busy = g.targets[0].begin(noop());
        for _ in 0..4 {
            assert_eq!(g.pick(&[]).unwrap().key.id, "t1");
        }
    }

    #[test]
    fn a_draining_target_reports_idle_when_its_last_request_ends() {
        let g = group(1, Algorithm::RoundRobin);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let report: crate::Reporter = Arc::new(move |o| sink.lock().unwrap().extend(o));
        let t = &g.targets[0];
        let request = t.begin(report.clone());
        t.set_draining(true, &report);
        assert!(seen.lock().unwrap().is_empty(), "a request is still in flight");
        drop(request);
        assert_eq!(*seen.lock().unwrap(), vec![Observation::Idle { key: t.key.clone() }]);
        // Taken back into service and drained again: idle once more.
        t.set_draining(false, &report);
        t.set_draining(true, &report);
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_sticky_cookie_finds_its_target_while_it_is_healthy() {
        let g = group(2, Algorithm::RoundRobin);
        for t in &g.targets {
            t.set_health(TargetHealthState::Healthy);
        }
        let token = cookie_token(&g.targets[1].key);
        assert_eq!(g.sticky(&token).unwrap().key.id, "t1");
        g.targets[1].set_health(TargetHealthState::Unhealthy);
        assert!(g.sticky(&token).is_none());
    }
}
