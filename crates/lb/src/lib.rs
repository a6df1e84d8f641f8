//! berth-lb: the load balancer's data plane. It runs from an [`LbPlan`] (listeners with
//! their rules, target groups with their targets), handed to [`DataPlane::apply`] as
//! desired state whenever it changes, and reports [`Observation`]s — target health, and
//! draining targets that went idle — through a [`Reporter`]. It knows nothing of ECS or
//! of the store, so it can run beside the control plane or on hosts of its own.
//!
//! ```text
//!  plan ──► apply ──► listeners (http.rs, tcp.rs) ──► routing.rs ──► balancer.rs ──► pool.rs ──► target
//!                └──► one health checker per target (health.rs) ──► Reporter ──► control
//! ```

pub mod balancer;
pub mod health;
mod http;
mod pool;
pub mod routing;
mod tcp;
mod workers;

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr, ToSocketAddrs},
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use balancer::{Group, TargetState};
use berth_model::elb::{
    plane::{HealthCheckPlan, LbPlan, ListenerPlan, Observation, TargetKey},
    Protocol,
};
use tokio::task::JoinHandle;

/// Where the data plane's observations go.
pub type Reporter = Arc<dyn Fn(Vec<Observation>) + Send + Sync>;

/// How the data plane runs.
#[derive(Debug, Clone)]
pub struct LbConfig {
    /// The address listeners bind (their port comes from the plan).
    pub listen: IpAddr,
    /// How often a new target is checked until it is first healthy (ELB: the interval).
    pub initial_check_interval: Duration,
    /// Threads serving the listeners, each with its own event loop and its own socket on
    /// every listener port (the kernel spreads connections over them).
    pub threads: usize,
}

impl Default for LbConfig {
    fn default() -> Self {
        LbConfig { listen: IpAddr::from([0, 0, 0, 0]), initial_check_interval: Duration::from_secs(1), threads: 1 }
    }
}

/// The running data plane. Dropping it stops every listener and health checker.
pub struct DataPlane {
    config: LbConfig,
    shared: Arc<Shared>,
    running: Mutex<Running>,
    workers: workers::Workers,
}

/// What listeners read on every request.
pub(crate) struct Shared {
    pub(crate) groups: RwLock<Arc<HashMap<String, Arc<Group>>>>,
    pub(crate) report: Reporter,
    pub(crate) pool: pool::Pool,
    /// Requests routed to each target group since the data plane started.
    requests: RwLock<HashMap<String, Arc<std::sync::atomic::AtomicU64>>>,
}

impl Shared {
    pub(crate) fn group(&self, arn: &str) -> Option<Arc<Group>> {
        self.groups.read().unwrap_or_else(|p| p.into_inner()).get(arn).cloned()
    }

    /// Counts one request routed to target group `arn`.
    pub(crate) fn count_request(&self, arn: &str) {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some(n) = self.requests.read().unwrap_or_else(|p| p.into_inner()).get(arn) {
            n.fetch_add(1, Relaxed);
            return;
        }
        self.requests
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(arn.to_string())
            .or_default()
            .fetch_add(1, Relaxed);
    }
}

/// One target group's traffic: the requests routed to it so far, and its healthy targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTraffic {
    pub target_group_arn: String,
    pub requests: u64,
    pub healthy_targets: usize,
}

#[derive(Default)]
struct Running {
    listeners: HashMap<u16, RunningListener>,
    checkers: HashMap<TargetKey, Checker>,
}

struct RunningListener {
    protocol: Protocol,
    plan: Arc<RwLock<Arc<ListenerPlan>>>,
    /// One accept loop per worker thread.
    tasks: Vec<JoinHandle<()>>,
}

impl RunningListener {
    fn stop(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }

    fn is_finished(&self) -> bool {
        self.tasks.iter().any(|t| t.is_finished())
    }
}

struct Checker {
    target: Arc<TargetState>,
    plan: HealthCheckPlan,
    registered_at_ms: u64,
    task: Option<JoinHandle<()>>,
}

impl Drop for Checker {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

impl Drop for DataPlane {
    fn drop(&mut self) {
        let running = self.running.get_mut().unwrap_or_else(|p| p.into_inner());
        for l in running.listeners.values() {
            l.stop();
        }
        running.checkers.clear();
    }
}

fn resolve(host: &Option<String>, port: u16) -> Option<SocketAddr> {
    let host = host.as_deref()?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    (host, port).to_socket_addrs().ok()?.next()
}

impl DataPlane {
    pub fn new(config: LbConfig, report: Reporter) -> DataPlane {
        let shared = Arc::new(Shared {
            groups: RwLock::new(Arc::new(HashMap::new())),
            report,
            pool: pool::Pool::default(),
            requests: Default::default(),
        });
        let workers = workers::Workers::start(config.threads.max(1));
        DataPlane { config, shared, running: Mutex::new(Running::default()), workers }
    }

    /// Whether a listener could bind `port` on this host now.
    pub fn check_port(listen: IpAddr, port: u16) -> Result<(), String> {
        std::net::TcpListener::bind(SocketAddr::new(listen, port)).map(drop).map_err(|e| e.to_string())
    }

    /// Serves `plan` from now on: keeps what did not change (a target's health and its
    /// requests in flight, a listener's socket), starts and stops the rest.
    /// Every target group's requests so far and healthy targets now (the
    /// `AWS/ApplicationELB` request metrics come from this).
    pub fn traffic(&self) -> Vec<GroupTraffic> {
        let groups = self.shared.groups.read().unwrap_or_else(|p| p.into_inner()).clone();
        let requests = self.shared.requests.read().unwrap_or_else(|p| p.into_inner());
        groups
            .iter()
            .map(|(arn, g)| GroupTraffic {
                target_group_arn: arn.clone(),
                requests: requests.get(arn).map(|n| n.load(std::sync::atomic::Ordering::Relaxed)).unwrap_or(0),
                healthy_targets: g.targets.iter().filter(|t| t.is_healthy() && !t.is_draining()).count(),
            })
            .collect()
    }

    pub fn apply(&self, plan: &LbPlan) {
        let config = self.config.clone();
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let mut groups = HashMap::new();
        let mut checkers = HashMap::new();
        for tg in plan.target_groups.values() {
            let mut targets = Vec::new();
            for t in &tg.targets {
                let addr = resolve(&t.host, t.key.port);
                let reuse = running
                    .checkers
                    .remove(&t.key)
                    // A draining target registered again starts its checks afresh, as ELB's does.
                    // So does one registered again whose draining this plane never saw.
                    .filter(|c| {
                        c.target.addr == addr
                            && c.plan == tg.health_check
                            && c.registered_at_ms == t.registered_at_ms
                            && (t.draining || !c.target.is_draining())
                    });
                let checker = reuse.unwrap_or_else(|| {
                    let target = Arc::new(TargetState::new(t.key.clone(), addr, t.draining));
                    let task = tg.health_check.enabled.then(|| {
                        self.workers.next().spawn(health::run(
                            target.clone(),
                            tg.health_check.clone(),
                            config.initial_check_interval,
                            self.shared.report.clone(),
                        ))
                    });
                    Checker { target, plan: tg.health_check.clone(), registered_at_ms: t.registered_at_ms, task }
                });
                checker.target.set_draining(t.draining, &self.shared.report);
                targets.push(checker.target.clone());
                checkers.insert(t.key.clone(), checker);
            }
            groups.insert(tg.arn.clone(), Arc::new(Group::new(tg.clone(), targets)));
        }
        // What is left in `running.checkers` was deregistered: dropping it stops its checks.
        running.checkers = checkers;
        *self.shared.groups.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(groups);
        let mut wanted: HashMap<u16, &ListenerPlan> = plan.listeners.iter().map(|l| (l.port, l)).collect();
        running.listeners.retain(|port, l| {
            let keep = wanted.get(port).is_some_and(|p| p.protocol == l.protocol) && !l.is_finished();
            if keep {
                *l.plan.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(wanted[port].clone());
                wanted.remove(port);
            } else {
                l.stop();
            }
            keep
        });
        for (port, lp) in wanted {
            match self.bind(config.listen, lp) {
                Ok(l) => {
                    tracing::info!(port, protocol = %lp.protocol, listener = %lp.arn, "load balancer listener started");
                    running.listeners.insert(port, l);
                }
                Err(e) => {
                    tracing::error!(port, listener = %lp.arn, error = %e, "load balancer listener could not bind its port")
                }
            }
        }
    }

    fn bind(&self, ip: IpAddr, plan: &ListenerPlan) -> std::io::Result<RunningListener> {
        let routes = Arc::new(RwLock::new(Arc::new(plan.clone())));
        let addr = SocketAddr::new(ip, plan.port);
        // Bind every worker's socket before starting any, so a port in use fails whole.
        let listeners = self.workers.bind_all(addr)?;
        let tasks = listeners
            .into_iter()
            .map(|(handle, listener)| {
                let (routes, shared) = (routes.clone(), self.shared.clone());
                match plan.protocol {
                    Protocol::Tcp => handle.spawn(tcp::serve(listener, routes, shared)),
                    _ => handle.spawn(http::serve(listener, routes, shared)),
                }
            })
            .collect();
        Ok(RunningListener { protocol: plan.protocol, plan: routes, tasks })
    }
}
