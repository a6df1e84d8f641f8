//! berth-control: the control plane's in-memory state and its single writer.
//!
//! Reads go straight to an indexed in-memory [`State`] behind a read lock and never wait
//! for the disk. Every change goes through one writer thread ([`writer`]): it runs the
//! operation against its own copy of the state, gathers the changes of every operation
//! queued meanwhile into one batch, commits that batch to the store (one fsync for many
//! requests: group commit), then publishes the batch to the readers and answers. So an
//! answer always means "durable", and readers never see a change that could be lost.

mod agent_channel;
mod agent_operations;
mod attributes;
mod capacity;
mod capacity_controller;
mod capacity_providers;
mod change;
mod clusters;
pub mod controller;
pub mod discovery;
pub mod elb;
mod health;
mod instances;
mod launch;
pub mod managed_scaling;
pub mod monitoring;
mod paginate;
mod placement;
mod service_controller;
mod services;
mod settings;
mod state;
mod tags;
mod task_definitions;
mod task_network;
mod task_protection;
mod task_state;
mod tasks;
mod writer;

use std::sync::{Arc, RwLock};

use berth_model::EcsError;
use berth_store::Store;

pub use agent_channel::{AgentIdentity, DesiredTask, DesiredTasks};
pub use clusters::ClusterInclude;
pub use health::HealthConfig;
pub use instances::RegisteredInstance;
pub use paginate::{Page, PageRequest};
pub use placement::PlanOutcome;
pub use service_controller::ServiceControllerConfig;
pub use state::{Change, InstanceRecord, RegionState, ServiceRecord, State, TaskRecord, Usage, FARGATE_POOL};
pub use task_definitions::TaskDefinitionRef;

/// Who is calling and where: the region comes from the request's SigV4 scope.
#[derive(Debug, Clone)]
pub struct Caller {
    pub region: String,
    pub account: String,
}

impl Caller {
    /// The IAM principal berth attributes requests to (its one credential is the account root).
    pub fn principal_arn(&self) -> String {
        format!("arn:aws:iam::{}:root", self.account)
    }
}

/// The control plane: shared by every request handler.
#[derive(Clone)]
pub struct Control {
    inner: Arc<Inner>,
}

struct Inner {
    read: Arc<RwLock<State>>,
    writer: writer::WriterHandle,
    commits: tokio::sync::watch::Receiver<u64>,
    heartbeats: Arc<agent_channel::Heartbeats>,
    elb_settings: RwLock<Arc<elb::ElbSettings>>,
    /// Where hosts' task subnets come from.
    task_pool: RwLock<berth_model::network::SubnetPool>,
    /// What managed scaling remembers between decisions.
    scaler: managed_scaling::Scaler,
    /// Bumped when something outside the store changed (the data plane's observations),
    /// so controllers look again.
    nudges: tokio::sync::watch::Sender<u64>,
    /// How containers reach berth's DNS server (`None`: they cannot).
    container_dns: RwLock<Option<discovery::ContainerDns>>,
    /// The URL agents reach this server at (DiscoverPollEndpoint's answer).
    endpoint: RwLock<String>,
    /// CloudWatch's metric store (set once at start).
    metrics: RwLock<Option<berth_metrics::Metrics>>,
    /// The latest CPU and memory measurement of each running task.
    stats: monitoring::StatsBook,
    /// The load balancer's request counts.
    traffic: monitoring::TrafficBook,
}

impl Control {
    /// Loads the state from `store` and starts the writer thread.
    pub fn open(store: Arc<dyn Store>) -> Result<Control, EcsError> {
        let (records, revision) = store.load().map_err(|e| EcsError::Server(e.to_string()))?;
        Control::open_loaded(store, &records, revision)
    }

    /// Like [`Control::open`], from records already loaded from `store` (so a server that
    /// also hands them to the registry reads the store once).
    pub fn open_loaded(
        store: Arc<dyn Store>,
        records: &[berth_store::Record],
        revision: u64,
    ) -> Result<Control, EcsError> {
        let state = State::from_records(records, revision).map_err(EcsError::Server)?;
        tracing::info!(records = records.len(), revision, "loaded state");
        let heartbeats = Arc::new(agent_channel::Heartbeats::new());
        let read = Arc::new(RwLock::new(state.clone()));
        let (commits_tx, commits) = tokio::sync::watch::channel(0);
        let writer = writer::spawn(store, state, read.clone(), commits_tx);
        let elb_settings = RwLock::new(Arc::new(elb::ElbSettings::default()));
        let nudges = tokio::sync::watch::Sender::new(0);
        let task_pool = RwLock::new(berth_model::network::SubnetPool::default());
        let scaler = Default::default();
        let container_dns = RwLock::new(None);
        let endpoint = RwLock::new(String::new());
        let inner = Inner {
            read,
            writer,
            commits,
            heartbeats,
            elb_settings,
            task_pool,
            scaler,
            nudges,
            container_dns,
            endpoint,
            metrics: RwLock::new(None),
            stats: Default::default(),
            traffic: Default::default(),
        };
        Ok(Control { inner: Arc::new(inner) })
    }

    /// How the server runs its load balancers (set once at start).
    pub fn configure_elb(&self, settings: elb::ElbSettings) {
        *self.inner.elb_settings.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(settings);
    }

    /// The block hosts' task subnets are carved from (set once at start; hosts keep the
    /// subnet they were given).
    pub fn configure_task_pool(&self, pool: berth_model::network::SubnetPool) {
        *self.inner.task_pool.write().unwrap_or_else(|p| p.into_inner()) = pool;
    }

    /// The URL agents reach this server at (set once at start).
    pub fn configure_endpoint(&self, url: &str) {
        *self.inner.endpoint.write().unwrap_or_else(|p| p.into_inner()) = url.to_string();
    }

    pub(crate) fn endpoint(&self) -> String {
        self.inner.endpoint.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How containers reach berth's DNS server (set once at start).
    pub fn configure_container_dns(&self, dns: Option<discovery::ContainerDns>) {
        *self.inner.container_dns.write().unwrap_or_else(|p| p.into_inner()) = dns;
    }

    pub(crate) fn container_dns(&self) -> Option<discovery::ContainerDns> {
        self.inner.container_dns.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn task_pool(&self) -> berth_model::network::SubnetPool {
        *self.inner.task_pool.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn elb_settings(&self) -> Arc<elb::ElbSettings> {
        self.inner.elb_settings.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Wakes the controllers as a commit would.
    pub fn nudge(&self) {
        self.inner.nudges.send_modify(|n| *n += 1);
    }

    /// Changes with each published commit: for parts that follow the state.
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.commits.clone()
    }

    /// Runs `f` against the committed state. Keep `f` short: it holds the read lock.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        let guard = self.inner.read.read().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    /// Runs `op` on the writer against the latest state (including changes not yet
    /// durable); the changes it pushes are committed, then published, then `R` is returned.
    pub async fn write<R: Send + 'static, E: From<EcsError> + Send + 'static>(
        &self,
        op: impl FnOnce(&State, &mut Vec<Change>) -> Result<R, E> + Send + 'static,
    ) -> Result<R, E> {
        self.inner.writer.submit(op).await
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub fn caller() -> Caller {
        Caller { region: "us-east-1".into(), account: "000000000000".into() }
    }

    pub fn open(dir: &std::path::Path) -> Control {
        let store = berth_store::SqliteStore::open(dir).unwrap();
        Control::open(Arc::new(store)).unwrap()
    }

    /// CreateService of `web` in cluster `c`, running `web:1` (other members as given).
    pub fn web_service(desired: i64) -> berth_model::ecs::CreateServiceRequest {
        berth_model::ecs::CreateServiceRequest {
            cluster: Some("c".into()),
            service_name: Some("web".into()),
            task_definition: Some("web:1".into()),
            desired_count: Some(desired),
            ..Default::default()
        }
    }

    /// UpdateService of `web` in cluster `c` to `task_definition`.
    pub fn web_update(task_definition: &str) -> berth_model::ecs::UpdateServiceRequest {
        berth_model::ecs::UpdateServiceRequest {
            cluster: Some("c".into()),
            service: Some("web".into()),
            task_definition: Some(task_definition.into()),
            ..Default::default()
        }
    }

    /// DescribeTasks of `arns` in `cluster`.
    pub fn tasks_in(cluster: &str, arns: &[String]) -> berth_model::ecs::DescribeTasksRequest {
        berth_model::ecs::DescribeTasksRequest {
            cluster: Some(cluster.into()),
            tasks: Some(arns.to_vec()),
            include: Vec::new(),
        }
    }

    /// Cluster `c` with one registered instance per zone in `zones` (no agents), and
    /// `revisions` revisions of the task definition `web` (one 64 MiB container `app`).
    pub async fn cluster_with_instances(control: &Control, zones: &[&str], memory: i64, revisions: usize) {
        use berth_model::{
            container_instance::{Attribute, Resource},
            ecs::{CreateClusterRequest, RegisterContainerInstanceRequest},
        };
        let c = caller();
        control
            .create_cluster(&c, CreateClusterRequest { cluster_name: Some("c".into()), ..Default::default() })
            .await
            .unwrap();
        for az in zones {
            let req = RegisterContainerInstanceRequest {
                cluster: Some("c".into()),
                total_resources: vec![Resource::integer("CPU", 4096), Resource::integer("MEMORY", memory)],
                attributes: vec![Attribute::new("ecs.availability-zone", az)],
                ..Default::default()
            };
            control.register_container_instance(&c, req).await.unwrap();
        }
        for _ in 0..revisions {
            let td = serde_json::json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "x", "memory": 64}]});
            control.register_task_definition(&c, serde_json::from_value(td).unwrap()).await.unwrap();
        }
    }
}
