//! berth-runtime: the container runtime behind the agent. [`ContainerRuntime`] is what
//! the agent needs from an engine; [`docker::DockerRuntime`] talks to the Docker Engine
//! API (every call with a timeout) and [`sim::SimRuntime`] keeps containers in memory,
//! for tests and scale runs that need no Docker.

pub mod cgroup;
pub mod docker;
pub mod routes;
pub mod sim;

use std::{collections::BTreeMap, future::Future, time::Duration};

/// Everything needed to create one container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerSpec {
    /// The engine-level container name.
    pub name: String,
    pub image: String,
    pub entry_point: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    /// CPU shares (relative weight).
    pub cpu_shares: Option<i64>,
    /// Hard memory limit, MiB.
    pub memory_mib: Option<i64>,
    /// Soft memory limit, MiB.
    pub memory_reservation_mib: Option<i64>,
    /// `bridge`, `host`, `none`, a network's name, or `container:NAME` (join the network
    /// namespace of container NAME, as an awsvpc task's containers join its pause container).
    pub network_mode: String,
    /// The address on the `network_mode` network (a user-defined network), if fixed.
    pub ipv4_address: Option<String>,
    pub ports: Vec<PortSpec>,
    pub labels: BTreeMap<String, String>,
    /// (name, soft, hard).
    pub ulimits: Vec<(String, i64, i64)>,
    /// `container-name:alias`.
    pub links: Vec<String>,
    /// `source:target[:ro]` (host paths or volume names).
    pub binds: Vec<String>,
    pub health_check: Option<HealthCheckSpec>,
    /// Log driver and its options.
    pub log: Option<(String, BTreeMap<String, String>)>,
    pub privileged: bool,
    pub readonly_rootfs: bool,
    pub init: bool,
    pub extra_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub stop_timeout: Option<Duration>,
    /// tmpfs mounts: (container path, mount options such as `size=64m,noexec`).
    pub tmpfs: Vec<(String, String)>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// `/dev/shm` size, MiB.
    pub shm_size_mib: Option<i64>,
    pub security_opt: Vec<String>,
    pub sysctls: BTreeMap<String, String>,
    pub tty: bool,
    pub open_stdin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub container_port: u32,
    /// `None` lets the engine pick a free host port.
    pub host_port: Option<u32>,
    pub protocol: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckSpec {
    /// Docker's form: `["CMD", ...]` or `["CMD-SHELL", "..."]`.
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
}

/// What the engine says about a container.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerStatus {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub state: RunState,
    pub health: Health,
    /// Bound host ports.
    pub ports: Vec<BoundPort>,
    pub image_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunState {
    #[default]
    Created,
    Running,
    Exited(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Health {
    /// No health check configured.
    #[default]
    None,
    Starting,
    Healthy,
    Unhealthy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundPort {
    pub container_port: u32,
    pub host_port: u32,
    pub protocol: String,
    pub host_ip: String,
}

/// Credentials for pulling from a registry that needs them (berth's own, for one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
    /// `host:port` of the registry these credentials are for.
    pub server: String,
}

/// A bridge network with a fixed subnet (the host's awsvpc task subnet).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkSpec {
    pub name: String,
    /// CIDR, e.g. `10.201.0.0/24`.
    pub subnet: String,
    /// The host's address on it.
    pub gateway: String,
    pub labels: BTreeMap<String, String>,
}

/// Facts about the engine and the host it runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeInfo {
    pub version: String,
    pub cpus: i64,
    pub memory_mib: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    #[error("no such container or image: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("{op} timed out after {secs}s")]
    Timeout { op: &'static str, secs: u64 },
    #[error("{0}")]
    Engine(String),
}

type Result<T> = std::result::Result<T, RuntimeError>;

/// What the agent needs from a container engine. Every method is bounded in time.
pub trait ContainerRuntime: Send + Sync + 'static {
    fn info(&self) -> impl Future<Output = Result<RuntimeInfo>> + Send;
    /// Whether `image` is present locally.
    fn has_image(&self, image: &str) -> impl Future<Output = Result<bool>> + Send;
    /// Pulls `image`, with `auth` when its registry needs credentials.
    fn pull_image(&self, image: &str, auth: Option<&RegistryAuth>) -> impl Future<Output = Result<()>> + Send;
    /// Creates a container; returns its id.
    fn create(&self, spec: &ContainerSpec) -> impl Future<Output = Result<String>> + Send;
    fn start(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    /// SIGTERM, then SIGKILL after `grace`.
    fn stop(&self, id: &str, grace: Duration) -> impl Future<Output = Result<()>> + Send;
    fn remove(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    /// `None` when the container no longer exists.
    fn inspect(&self, id: &str) -> impl Future<Output = Result<Option<ContainerStatus>>> + Send;
    /// Removes a named volume; a missing one is not an error.
    fn remove_volume(&self, name: &str) -> impl Future<Output = Result<()>> + Send;
    /// All containers (running or not) carrying label `key=value`.
    fn list(&self, key: &str, value: &str) -> impl Future<Output = Result<Vec<ContainerStatus>>> + Send;
    /// Creates a network; one of that name already there is [`RuntimeError::Conflict`].
    fn create_network(&self, spec: &NetworkSpec) -> impl Future<Output = Result<()>> + Send;
    /// Removes a network; a missing one is not an error, one still in use is a
    /// [`RuntimeError::Conflict`].
    fn remove_network(&self, name: &str) -> impl Future<Output = Result<()>> + Send;
    /// The names of the networks carrying label `key=value` (any value when `value` is empty).
    fn list_networks(&self, key: &str, value: &str) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// The host's address on network `name` (its IPv4 gateway), if it has one.
    fn network_gateway(&self, name: &str) -> impl Future<Output = Result<Option<String>>> + Send;
    /// Makes image `name` (`repo:tag`) from a tar archive of its root file system.
    fn import_image(&self, name: &str, rootfs_tar: Vec<u8>) -> impl Future<Output = Result<()>> + Send;
    /// A container's output (stdout and stderr) from `since_secs` (0: from the start),
    /// following it while the container runs; the stream ends when it has stopped.
    fn logs(&self, id: &str, since_secs: i64) -> LogStream;
    /// A running container's CPU time and memory from its cgroup; `None` when they cannot
    /// be read (the container is gone, or the runtime has no cgroups to read).
    fn usage(&self, id: &str) -> impl Future<Output = Option<cgroup::Usage>> + Send {
        let _ = id;
        async { None }
    }
}

/// Output chunks of a container, each one log entry of the engine as it stored it:
/// `TIMESTAMP MESSAGE` with an RFC 3339 UTC timestamp of up to nanosecond precision.
pub type LogStream = futures_util::stream::BoxStream<'static, Result<LogChunk>>;

#[derive(Debug, Clone, PartialEq)]
pub struct LogChunk {
    pub stderr: bool,
    pub bytes: bytes::Bytes,
}

/// Runs `f` with a deadline, turning an expiry into [`RuntimeError::Timeout`].
pub(crate) async fn bounded<T>(op: &'static str, limit: Duration, f: impl Future<Output = Result<T>>) -> Result<T> {
    match tokio::time::timeout(limit, f).await {
        Ok(r) => r,
        Err(_) => Err(RuntimeError::Timeout { op, secs: limit.as_secs() }),
    }
}
