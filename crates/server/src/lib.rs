//! berth-server — one running berth server: the state store, the control plane and its
//! controllers, the registry and its maintenance, and the API listener, assembled in one
//! place. `berth server`, `berth up` and the test kit all start it through
//! [`Server::start`], so tests run exactly the controllers production runs.
//!
//! ```text
//!  data dir ─lock─► SqliteStore ─load─► Control (writer, service + instance-health controllers)
//!                         │                 ▲
//!                         └──────────► Registry (maintenance)
//!  data dir/logs.db ─────────────────► Logs (writer thread, retention sweep)
//!  TcpListener ───────────────────────► Api ─┘
//! ```

mod data_dir;

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use berth_api::{sigv4::Credential, Api, ApiConfig, ConnectionLimits};
use berth_control::{Control, HealthConfig, ServiceControllerConfig};
use berth_registry::{Registry, RegistryConfig, TokenKey};
use berth_store::SqliteStore;
use tokio::{sync::oneshot, task::JoinHandle};

pub use data_dir::DataDirLock;

/// Everything a server needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub account_id: String,
    /// The credentials requests are verified against; the first one also derives the
    /// registry's token key.
    pub credentials: Vec<Credential>,
    pub accept_any_credentials: bool,
    /// `host:port` in repository URIs; `None` uses the listen address.
    pub registry_host: Option<String>,
    pub registry_gc_grace: Duration,
    pub registry_maintenance_interval: Duration,
    pub health: HealthConfig,
    pub service_controller: ServiceControllerConfig,
    pub connections: ConnectionLimits,
    /// The load balancer data plane: the address listeners bind and the first checks' cadence.
    pub lb: berth_lb::LbConfig,
    /// The DNS name every load balancer reports; `None`: `localhost` when listeners bind a
    /// loopback address, else this host's name (both resolve to this host here).
    pub lb_dns_name: Option<String>,
    /// Where hosts' awsvpc task subnets (a /24 each) are carved from.
    pub task_pool: berth_model::network::SubnetPool,
    /// Managed scaling of EC2 capacity providers: the groups' scale commands.
    pub managed_scaling: berth_control::managed_scaling::ManagedScalingConfig,
    /// Route every host's awsvpc task subnet to the host (so `ip` targets of the load
    /// balancer on this host reach tasks on other hosts).
    pub task_routes: bool,
    /// Where the DNS server for Cloud Map namespaces listens (UDP and TCP); `None` runs none.
    pub dns_listen: Option<SocketAddr>,
    /// When `dns_listen` cannot be bound: run the DNS server on a free loopback port
    /// instead (the default address) or fail (an address the operator chose).
    pub dns_fallback: bool,
    /// How often the log retention sweep deletes events older than their group's retention.
    pub log_retention_sweep: Duration,
    /// How often the monitoring engine runs: writes the AWS/ECS metrics, evaluates alarms,
    /// runs scaling policies and scheduled actions.
    pub monitoring_interval: Duration,
}

impl ServerConfig {
    /// A configuration with berth's defaults for everything but what must be given.
    pub fn new(listen: SocketAddr, data_dir: PathBuf, credential: Credential) -> ServerConfig {
        ServerConfig {
            listen,
            data_dir,
            account_id: "000000000000".into(),
            credentials: vec![credential],
            accept_any_credentials: false,
            registry_host: None,
            registry_gc_grace: Duration::from_secs(3600),
            registry_maintenance_interval: Duration::from_secs(600),
            health: HealthConfig::default(),
            service_controller: ServiceControllerConfig::default(),
            connections: ConnectionLimits::default(),
            lb: berth_lb::LbConfig::default(),
            lb_dns_name: None,
            task_pool: berth_model::network::SubnetPool::default(),
            managed_scaling: Default::default(),
            task_routes: false,
            dns_listen: None,
            dns_fallback: false,
            log_retention_sweep: Duration::from_secs(60),
            monitoring_interval: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Locked(#[from] data_dir::LockError),
    #[error("opening the state store: {0}")]
    Store(String),
    #[error("loading the state: {0}")]
    State(String),
    #[error("opening the log database: {0}")]
    Logs(String),
    #[error("opening the metric database: {0}")]
    Metrics(String),
    #[error("loading the registry: {0}")]
    Registry(String),
    #[error("listening on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error("DNS server on {addr}: {source}")]
    Dns { addr: SocketAddr, source: std::io::Error },
    #[error("no credential configured")]
    NoCredential,
}

/// Raises this process's soft limit on open descriptors to its hard limit (a server holds
/// one per connection, upload and database file); returns the limit now in force.
pub fn raise_descriptor_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

/// How many connections fit under the descriptor limit, leaving room for the database,
/// registry files, agents' own sockets and the like.
fn descriptor_budget() -> usize {
    let soft = rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft);
    (soft.saturating_sub(256) as usize).max(16)
}

/// Keeps this machine's routes to every host's task subnet current (when `enabled`).
async fn follow_task_routes(control: Control, enabled: bool) {
    if !enabled {
        return;
    }
    let mut commits = control.commits();
    let mut last = None;
    loop {
        let wanted: std::collections::BTreeSet<(String, String)> =
            control.all_task_routes().into_iter().map(|r| (r.subnet, r.via)).collect();
        if last.as_ref() != Some(&wanted) {
            match berth_runtime::routes::sync(None, &wanted).await {
                Ok(()) => last = Some(wanted),
                Err(e) => tracing::warn!(error = %e, "setting up the routes to the hosts' task subnets failed"),
            }
        }
        tokio::select! {
            _ = commits.changed() => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
        }
    }
}

/// Starts the data plane, reporting into control, and tells control how to check a
/// listener's port and what DNS name load balancers have.
fn start_load_balancer(control: &Control, config: &ServerConfig) -> Arc<berth_lb::DataPlane> {
    let observer = control.clone();
    let report: berth_lb::Reporter = Arc::new(move |observations| observer.observe_lb(&observations));
    let lb = Arc::new(berth_lb::DataPlane::new(config.lb.clone(), report));
    let listen = config.lb.listen;
    control.configure_elb(berth_control::elb::ElbSettings {
        dns_suffix: Some(config.lb_dns_name.clone().unwrap_or_else(|| default_dns_name(listen))),
        port_check: Some(Arc::new(move |port| berth_lb::DataPlane::check_port(listen, port))),
    });
    // A weak handle: the traffic source must not keep the data plane alive.
    let weak = Arc::downgrade(&lb);
    control.configure_traffic(Arc::new(move || {
        let Some(lb) = weak.upgrade() else { return Vec::new() };
        lb.traffic().into_iter().map(|t| (t.target_group_arn, t.requests, t.healthy_targets)).collect()
    }));
    lb
}

/// A name that resolves to the host serving the load balancers: `localhost` when they
/// listen on loopback only, else the host's own name (the kernel's hostname, which the
/// host's resolver maps to itself).
fn default_dns_name(listen: std::net::IpAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    if listen.is_loopback() || host.is_empty() {
        "localhost".to_string()
    } else {
        host
    }
}

/// Hands `apply` the plan `derive` reads from the state whenever a commit changed it (the
/// load balancer's and the DNS server's desired state).
fn follow_plan<P: PartialEq + Send + 'static>(
    control: Control,
    derive: impl Fn(&Control) -> P + Send + 'static,
    apply: impl Fn(&P) + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut commits = control.commits();
        let mut last = None;
        loop {
            let plan = derive(&control);
            if last.as_ref() != Some(&plan) {
                apply(&plan);
                last = Some(plan);
            }
            if commits.changed().await.is_err() {
                return;
            }
        }
    })
}

/// Starts the DNS server and keeps its zones current with every commit.
async fn start_dns(
    control: &Control,
    config: &ServerConfig,
) -> Result<Option<(Arc<berth_dns::DnsServer>, JoinHandle<()>)>, ServerError> {
    let Some(listen) = config.dns_listen else { return Ok(None) };
    let upstreams = berth_dns::host_resolvers();
    let dns = match berth_dns::DnsServer::start(berth_dns::DnsConfig { listen, upstreams: upstreams.clone() }).await {
        Ok(dns) => dns,
        Err(e) if config.dns_fallback => {
            let fallback = SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), 0);
            tracing::warn!(%listen, error = %e, "cannot serve DNS there; serving it on a free loopback port instead");
            berth_dns::DnsServer::start(berth_dns::DnsConfig { listen: fallback, upstreams })
                .await
                .map_err(|source| ServerError::Dns { addr: fallback, source })?
        }
        Err(source) => return Err(ServerError::Dns { addr: listen, source }),
    };
    let dns = Arc::new(dns);
    let addr = dns.local_addr();
    // Containers' resolvers speak to port 53 only.
    control.configure_container_dns(match (addr.port(), addr.ip()) {
        (53, ip) if ip.is_unspecified() => Some(berth_control::discovery::ContainerDns::Gateway),
        (53, ip) if !ip.is_loopback() => Some(berth_control::discovery::ContainerDns::At(ip)),
        _ => {
            tracing::info!(%addr, "containers do not get berth's DNS: it does not answer on port 53 of an address they reach");
            None
        }
    });
    let server = dns.clone();
    let follower = follow_plan(control.clone(), Control::dns_plan, move |plan| server.apply(plan));
    Ok(Some((dns, follower)))
}

/// A started server.
pub struct Server {
    addr: SocketAddr,
    registry_host: String,
    data_dir: PathBuf,
    control: Control,
    registry: Registry,
    stop: Option<oneshot::Sender<()>>,
    lb: Arc<berth_lb::DataPlane>,
    dns: Option<Arc<berth_dns::DnsServer>>,
    logs: berth_logs::Logs,
    serving: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
    _lock: DataDirLock,
}

impl Server {
    /// Locks the data directory, loads the store, starts the controllers, the registry's
    /// maintenance and the listener. Returns once the listener is bound.
    pub async fn start(config: ServerConfig) -> Result<Server, ServerError> {
        let lock = data_dir::prepare(&config.data_dir)?;
        let data_dir = config
            .data_dir
            .canonicalize()
            .map_err(|source| ServerError::DataDir { path: config.data_dir.clone(), source })?;
        let secret = config.credentials.first().ok_or(ServerError::NoCredential)?.secret_access_key.clone();
        let store: Arc<dyn berth_store::Store> =
            Arc::new(SqliteStore::open(&data_dir).map_err(|e| ServerError::Store(e.to_string()))?);
        let (records, revision) = store.load().map_err(|e| ServerError::Store(e.to_string()))?;
        let control =
            Control::open_loaded(store.clone(), &records, revision).map_err(|e| ServerError::State(e.to_string()))?;
        control.configure_task_pool(config.task_pool);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServerError::Listen { addr: config.listen, source })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Listen { addr: config.listen, source })?;
        // The listen address as a client names it (loopback for an unspecified address).
        let reachable = {
            let ip = if addr.ip().is_unspecified() { std::net::Ipv4Addr::LOCALHOST.into() } else { addr.ip() };
            SocketAddr::new(ip, addr.port())
        };
        control.configure_endpoint(&format!("http://{reachable}"));
        let registry_host = config.registry_host.clone().unwrap_or_else(|| reachable.to_string());
        let registry = Registry::open_loaded(
            RegistryConfig {
                data_dir: data_dir.clone(),
                account: config.account_id.clone(),
                host: registry_host.clone(),
                token_key: TokenKey::derive(secret.as_bytes()),
                gc_grace: config.registry_gc_grace,
            },
            store,
            &records,
        )
        .map_err(ServerError::Registry)?;
        drop(records);
        let logs = berth_logs::Logs::open(&data_dir, &config.account_id).map_err(ServerError::Logs)?;
        let metrics = berth_metrics::Metrics::open(&data_dir).map_err(|e| ServerError::Metrics(e.to_string()))?;
        control.configure_metrics(metrics.clone());
        let lb = start_load_balancer(&control, &config);
        let dns = start_dns(&control, &config).await?;
        let mut background = vec![
            registry.spawn_maintenance(config.registry_maintenance_interval),
            control.spawn_instance_health(config.health),
            control.spawn_service_controller(config.service_controller),
            control.spawn_drain_controller(),
            control.spawn_capacity_controller(Arc::new(berth_control::controller::SystemClock)),
            control.spawn_managed_scaling(config.managed_scaling.clone()),
            tokio::spawn(follow_task_routes(control.clone(), config.task_routes)),
            logs.spawn_retention_sweep(config.log_retention_sweep),
            metrics.spawn_sweep(Duration::from_secs(60)),
            control.spawn_monitoring(Arc::new(berth_control::controller::SystemClock), config.monitoring_interval),
            follow_plan(control.clone(), Control::lb_plan, {
                let lb = lb.clone();
                move |plan| lb.apply(plan)
            }),
        ];
        let dns = dns.map(|(server, follower)| {
            background.push(follower);
            server
        });
        if config.accept_any_credentials {
            tracing::warn!("accepting any well-formed signature, whatever its secret: do not expose this server");
        }
        let api = Api::new(
            control.clone(),
            registry.clone(),
            logs.clone(),
            ApiConfig {
                account_id: config.account_id.clone(),
                credentials: config.credentials.clone(),
                accept_any_credentials: config.accept_any_credentials,
            },
        );
        let mut connections = config.connections;
        connections.max_connections = connections.max_connections.min(descriptor_budget());
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(berth_api::serve_with(listener, api, connections, async move {
            let _ = stopped.await;
        }));
        Ok(Server {
            addr,
            registry_host,
            data_dir,
            control,
            registry,
            stop: Some(stop),
            lb,
            dns,
            logs,
            serving,
            background,
            _lock: lock,
        })
    }

    /// The address the API listens on (the bound port when the configuration said 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn registry_host(&self) -> &str {
        &self.registry_host
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    pub fn control(&self) -> &Control {
        &self.control
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Stops accepting connections and stops the controllers; the data directory stays
    /// locked until the server is dropped.
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for task in &self.background {
            task.abort();
        }
        // Close every load balancer listener and stop the health checks.
        self.lb.apply(&Default::default());
        self.dns = None;
    }

    /// Where the DNS server answers (UDP and TCP), if it runs.
    pub fn dns_addr(&self) -> Option<SocketAddr> {
        self.dns.as_ref().map(|d| d.local_addr())
    }

    /// CloudWatch Logs: the log database.
    pub fn logs(&self) -> &berth_logs::Logs {
        &self.logs
    }

    /// The load balancer data plane.
    pub fn load_balancer(&self) -> &berth_lb::DataPlane {
        &self.lb
    }

    /// Waits until the listener has stopped (after [`Server::shutdown`]).
    pub async fn join(&mut self) {
        let _ = (&mut self.serving).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}
