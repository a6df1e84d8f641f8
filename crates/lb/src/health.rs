//! Health checks as ELB runs them: a target turns healthy after `healthy_threshold`
//! consecutive passing checks and unhealthy after `unhealthy_threshold` failing ones.
//! [`HealthMachine`] is that rule, pure; [`run`] probes one target on a schedule (at once,
//! then on the fast initial cadence until it is first healthy, then at the interval).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use berth_model::elb::{
    plane::{HealthCheckPlan, Observation, TargetKey},
    Protocol, TargetHealth, TargetHealthReason, TargetHealthState,
};
use http_body_util::Empty;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::balancer::TargetState;

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Passed,
    /// The target answered with a code the matcher refuses.
    Code(u16),
    TimedOut,
    Failed,
}

/// Consecutive results and the state they add up to.
#[derive(Debug, Clone)]
pub struct HealthMachine {
    healthy_threshold: u32,
    unhealthy_threshold: u32,
    passes: u32,
    failures: u32,
    health: TargetHealth,
    been_healthy: bool,
}

impl HealthMachine {
    pub fn new(healthy_threshold: u32, unhealthy_threshold: u32) -> HealthMachine {
        HealthMachine {
            healthy_threshold: healthy_threshold.max(1),
            unhealthy_threshold: unhealthy_threshold.max(1),
            passes: 0,
            failures: 0,
            health: TargetHealth::initial(),
            been_healthy: false,
        }
    }

    pub fn health(&self) -> &TargetHealth {
        &self.health
    }

    /// Whether the target has passed its first checks (the fast cadence ends then).
    pub fn settled(&self) -> bool {
        self.been_healthy
    }

    /// Takes one result; returns the new health when the state changed.
    pub fn observe(&mut self, probe: &Probe) -> Option<TargetHealth> {
        let state = self.health.state;
        if *probe == Probe::Passed {
            self.passes += 1;
            self.failures = 0;
            if state != TargetHealthState::Healthy && self.passes >= self.healthy_threshold {
                self.been_healthy = true;
                self.health = TargetHealth::healthy();
                return Some(self.health.clone());
            }
            return None;
        }
        self.failures += 1;
        self.passes = 0;
        let failed = match probe {
            Probe::Code(code) => TargetHealth::new(
                TargetHealthState::Unhealthy,
                Some(TargetHealthReason::ResponseCodeMismatch),
                &format!("Health checks failed with these codes: [{code}]"),
            ),
            Probe::TimedOut => {
                TargetHealth::new(TargetHealthState::Unhealthy, Some(TargetHealthReason::Timeout), "Request timed out")
            }
            _ => TargetHealth::new(
                TargetHealthState::Unhealthy,
                Some(TargetHealthReason::FailedHealthChecks),
                "Health checks failed",
            ),
        };
        if self.failures >= self.unhealthy_threshold && self.health != failed {
            self.health = failed;
            return Some(self.health.clone());
        }
        None
    }
}

/// One check of `addr` as `plan` says.
pub async fn probe(addr: SocketAddr, plan: &HealthCheckPlan) -> Probe {
    let timeout = Duration::from_secs(plan.timeout_seconds);
    match tokio::time::timeout(timeout, probe_once(addr, plan)).await {
        Ok(p) => p,
        Err(_) => Probe::TimedOut,
    }
}

async fn probe_once(addr: SocketAddr, plan: &HealthCheckPlan) -> Probe {
    let Ok(stream) = TcpStream::connect(addr).await else { return Probe::Failed };
    if plan.protocol == Protocol::Tcp {
        return Probe::Passed;
    }
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await else {
        return Probe::Failed;
    };
    tokio::spawn(conn);
    let request = Request::get(plan.path.as_str())
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::USER_AGENT, "ELB-HealthChecker/2.0")
        .header(hyper::header::CONNECTION, "close")
        .body(Empty::<bytes::Bytes>::new());
    let Ok(request) = request else { return Probe::Failed };
    match sender.send_request(request).await {
        Ok(response) if plan.accepts(response.status().as_u16()) => Probe::Passed,
        Ok(response) => Probe::Code(response.status().as_u16()),
        Err(_) => Probe::Failed,
    }
}

/// Checks one target until the task is aborted, reporting each change of state.
pub async fn run(target: Arc<TargetState>, plan: HealthCheckPlan, initial_interval: Duration, report: crate::Reporter) {
    let key: TargetKey = target.key.clone();
    let mut machine = HealthMachine::new(plan.healthy_threshold, plan.unhealthy_threshold);
    report(vec![Observation::Health { key: key.clone(), health: machine.health().clone() }]);
    let Some(addr) = target.addr else {
        let health = TargetHealth::new(
            TargetHealthState::Unavailable,
            Some(TargetHealthReason::InvalidState),
            "The target's host address is not known",
        );
        report(vec![Observation::Health { key, health }]);
        return;
    };
    let check_addr = SocketAddr::new(addr.ip(), plan.port.unwrap_or(addr.port()));
    loop {
        let result = probe(check_addr, &plan).await;
        if let Some(health) = machine.observe(&result) {
            target.set_health(health.state);
            report(vec![Observation::Health { key: key.clone(), health }]);
        }
        let pause = if machine.settled() { Duration::from_secs(plan.interval_seconds) } else { initial_interval };
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_turns_healthy_after_the_threshold_and_unhealthy_after_its_own() {
        let mut m = HealthMachine::new(2, 3);
        assert_eq!(m.health().state, TargetHealthState::Initial);
        assert_eq!(m.observe(&Probe::Passed), None);
        assert!(!m.settled());
        assert_eq!(m.observe(&Probe::Passed).map(|h| h.state), Some(TargetHealthState::Healthy));
        assert!(m.settled());
        assert_eq!(m.observe(&Probe::Failed), None);
        assert_eq!(m.observe(&Probe::Failed), None);
        // A pass in between starts the count again.
        assert_eq!(m.observe(&Probe::Passed), None);
        assert_eq!(m.observe(&Probe::Failed), None);
        assert_eq!(m.observe(&Probe::Failed), None);
        let h = m.observe(&Probe::Code(500)).unwrap();
        assert_eq!((h.state, h.reason), (TargetHealthState::Unhealthy, Some(TargetHealthReason::ResponseCodeMismatch)));
        assert_eq!(h.description.as_deref(), Some("Health checks failed with these codes: [500]"));
        assert_eq!(m.observe(&Probe::Passed), None);
        assert_eq!(m.observe(&Probe::Passed).map(|h| h.state), Some(TargetHealthState::Healthy));
    }

    #[test]
    fn an_initial_target_that_fails_becomes_unhealthy_with_the_reason() {
        let mut m = HealthMachine::new(5, 2);
        assert_eq!(m.observe(&Probe::TimedOut), None);
        let h = m.observe(&Probe::TimedOut).unwrap();
        assert_eq!(h.reason, Some(TargetHealthReason::Timeout));
        // The same failure again changes nothing; another kind of failure is reported.
        assert_eq!(m.observe(&Probe::TimedOut), None);
        assert_eq!(m.observe(&Probe::Failed).map(|h| h.reason), Some(Some(TargetHealthReason::FailedHealthChecks)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_target_is_probed_at_once_then_on_the_fast_cadence_then_at_the_interval() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(s);
            }
        });
        let key = TargetKey { target_group_arn: "tg".into(), id: "t".into(), port: addr.port() };
        let target = Arc::new(TargetState::new(key, Some(addr), false));
        let plan = HealthCheckPlan {
            enabled: true,
            protocol: Protocol::Tcp,
            port: None,
            path: "/".into(),
            matcher: "200".into(),
            interval_seconds: 30,
            timeout_seconds: 5,
            healthy_threshold: 3,
            unhealthy_threshold: 2,
        };
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        let report: crate::Reporter = Arc::new(move |o: Vec<Observation>| sink.lock().unwrap().extend(o));
        let checker = tokio::spawn(run(target.clone(), plan, Duration::from_secs(1), report));
        let healthy = || {
            seen.lock()
                .unwrap()
                .iter()
                .any(|o| matches!(o, Observation::Health { health, .. } if health.state == TargetHealthState::Healthy))
        };
        let started = tokio::time::Instant::now();
        while !healthy() {
            assert!(started.elapsed() < Duration::from_secs(10), "the target never turned healthy");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Three passes: at once, after 1 s and after 2 s (not 60 s at a 30 s interval).
        let took = started.elapsed();
        assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(3), "took {took:?}");
        assert!(target.is_healthy());
        let before = accepted.load(std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(29)).await;
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), before, "settled targets wait the interval");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), before + 1);
        checker.abort();
    }
}
