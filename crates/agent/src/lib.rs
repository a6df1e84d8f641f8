//! berth-agent: the node agent. It registers its host as a container instance, then
//! long-polls the server for the versioned set of tasks the instance should run and
//! converges the container engine to it: one [`task_manager::TaskManager`] per task.
//! What it observes goes back through SubmitTaskStateChange; heartbeats keep the instance
//! connected. Restarting the agent re-adopts its containers by their labels.
//!
//! ```text
//! register ─▶ token ─┬─▶ heartbeat loop
//!                    ├─▶ poll loop ─▶ supervisor ─▶ task manager per task ─▶ engine
//!                    └─▶ reporter ◀─────────────────────────┘ (state changes)
//! ```

use berth_client as client;
pub mod logs;
mod managed;
pub mod network;
pub mod pause;
mod registration;
pub mod reporter;
pub mod spec;
pub mod stats;
pub mod task_manager;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, RwLock},
    time::Duration,
};

use berth_model::agent::{DesiredTask, DesiredTasks, PollDesiredTasks};
use berth_runtime::ContainerRuntime;
use berth_sigv4::Credential;
use tokio::sync::watch;

use berth_model::status::{DesiredStatus, InstanceStatus};

use crate::{
    client::{ClientError, ServerClient},
    reporter::Reporter,
    task_manager::{Desired, TaskManager},
};

/// How the agent joins a cluster.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub server: String,
    pub cluster: String,
    pub data_dir: PathBuf,
    pub credential: Credential,
    pub region: String,
    /// Custom attributes (KEY=VALUE).
    pub attributes: Vec<(String, String)>,
    pub availability_zone: Option<String>,
    pub instance_type: Option<String>,
    /// CPU units to offer (default: 1024 per core).
    pub cpu: Option<i64>,
    /// MiB to offer (default: host memory minus [`RESERVED_MEMORY_MIB`]).
    pub memory: Option<i64>,
    pub heartbeat_interval: Duration,
    pub poll_wait: Duration,
    /// When images are pulled (the ECS agent's `ECS_IMAGE_PULL_BEHAVIOR`).
    pub image_pull_behavior: ImagePullBehavior,
    /// Offer the host as Fargate capacity instead of joining `cluster`.
    pub fargate: bool,
    /// The Auto Scaling group (of an EC2 capacity provider) the instance joins.
    pub auto_scaling_group: Option<String>,
    /// Route to the other hosts' task subnets and accept forwarded traffic to this one's
    /// (needs root; see [`berth_runtime::routes`]).
    pub task_routes: bool,
    /// How often running tasks' CPU and memory are measured and reported (`None`: never).
    pub stats_interval: Option<Duration>,
}

impl AgentConfig {
    /// An agent of `cluster` talking to `server`, with berth's defaults for the rest:
    /// region us-east-1, the host's resources, a heartbeat every 5 s, 20 s polls.
    pub fn new(server: &str, cluster: &str, data_dir: PathBuf, credential: Credential) -> AgentConfig {
        AgentConfig {
            server: server.to_string(),
            cluster: cluster.to_string(),
            data_dir,
            credential,
            region: "us-east-1".into(),
            attributes: Vec::new(),
            availability_zone: None,
            instance_type: None,
            cpu: None,
            memory: None,
            heartbeat_interval: Duration::from_secs(5),
            stats_interval: Some(DEFAULT_STATS_INTERVAL),
            poll_wait: Duration::from_secs(20),
            image_pull_behavior: ImagePullBehavior::Default,
            fargate: false,
            auto_scaling_group: None,
            task_routes: false,
        }
    }
}

/// When the agent pulls a task's images, as the ECS agent's `ECS_IMAGE_PULL_BEHAVIOR`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ImagePullBehavior {
    /// Pull every time, so a moved tag (`:latest`) runs its new image; if the pull fails,
    /// run the cached image when there is one.
    #[default]
    Default,
    /// Pull every time; a failed pull fails the task.
    Always,
    /// Pull only when the image is not on the host yet.
    Once,
    /// Use the image on the host when there is one, else pull.
    PreferCached,
}

impl std::str::FromStr for ImagePullBehavior {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "default" => Ok(ImagePullBehavior::Default),
            "always" => Ok(ImagePullBehavior::Always),
            "once" => Ok(ImagePullBehavior::Once),
            "prefer-cached" => Ok(ImagePullBehavior::PreferCached),
            other => {
                Err(format!("'{other}' is not an image pull behavior: use default, always, once or prefer-cached"))
            }
        }
    }
}

/// Memory kept back for the host and the agent when `--memory` is not given.
pub const RESERVED_MEMORY_MIB: i64 = 256;

/// How often running tasks are measured by default.
pub const DEFAULT_STATS_INTERVAL: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("registration failed: {0}")]
    Registration(ClientError),
    #[error("the container engine: {0}")]
    Runtime(#[from] berth_runtime::RuntimeError),
    #[error("the data directory: {0}")]
    DataDir(#[from] std::io::Error),
    #[error("this container instance was deregistered; the agent stops")]
    Deregistered,
}

/// The agent's identity and current token, shared by its loops.
#[derive(Clone)]
pub struct Session {
    inner: Arc<RwLock<Identity>>,
}

#[derive(Debug, Clone)]
struct Identity {
    instance_arn: String,
    token: String,
}

impl Session {
    pub fn token(&self) -> String {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).token.clone()
    }

    pub fn instance_arn(&self) -> String {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).instance_arn.clone()
    }
}

/// The latest registry credentials from the server, shared by every task manager.
#[derive(Clone, Default)]
pub(crate) struct RegistryCredentials(Arc<std::sync::RwLock<Option<berth_runtime::RegistryAuth>>>);

impl RegistryCredentials {
    fn set(&self, auth: berth_runtime::RegistryAuth) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(auth);
    }

    /// The credentials for `image` when it lives in berth's registry (its first path
    /// component is the registry's `host:port`).
    pub(crate) fn for_image(&self, image: &str) -> Option<berth_runtime::RegistryAuth> {
        let guard = self.0.read().unwrap_or_else(|p| p.into_inner());
        let auth = guard.as_ref()?;
        let (host, _) = image.split_once('/')?;
        (host == auth.server).then(|| auth.clone())
    }
}

struct Running {
    desired: watch::Sender<Desired>,
    done: tokio::task::JoinHandle<()>,
}

/// Registers and runs the agent until it is deregistered or fails to register.
pub async fn run<R: ContainerRuntime>(config: AgentConfig, runtime: Arc<R>) -> Result<(), AgentError> {
    let client = ServerClient::new(&config.server, config.credential.clone(), &config.region)
        .map_err(AgentError::Registration)?;
    let session = registration::register(&client, &config, runtime.as_ref()).await?;
    if config.fargate {
        tracing::info!(host = %session.instance_arn(), "agent registered as Fargate capacity");
    } else {
        tracing::info!(instance = %session.instance_arn(), cluster = %config.cluster, "agent registered");
    }

    let reporter = Reporter::new();
    tokio::spawn(reporter.clone().run(client.clone(), session.clone()));
    let running_tasks = stats::RunningTasks::default();
    if let Some(every) = config.stats_interval {
        let (r, c, s) = (runtime.clone(), client.clone(), session.clone());
        tokio::spawn(stats::run(r, running_tasks.clone(), c, s, every));
    }
    tokio::spawn(heartbeats(client.clone(), session.clone(), config.heartbeat_interval));

    let mut tasks: HashMap<String, Running> = HashMap::new();
    let credentials = RegistryCredentials::default();
    let network = Arc::new(network::TaskNetwork::new(&session.instance_arn()));
    let shared = task_manager::Shared {
        runtime: runtime.clone(),
        reporter: reporter.clone(),
        credentials: credentials.clone(),
        pull_behavior: config.image_pull_behavior,
        network: network.clone(),
        logs: logs::LogShipping::new(runtime.clone(), Some((client.clone(), session.clone()))),
        running: running_tasks,
    };
    let mut version = 0;
    let mut first = true;
    loop {
        let body = PollDesiredTasks {
            known_version: version,
            wait_seconds: Some(config.poll_wait.as_secs()),
            routes: config.task_routes,
        };
        let timeout = config.poll_wait + Duration::from_secs(10);
        let desired: DesiredTasks = match client.agent(&session.token(), "PollDesiredTasks", &body, timeout).await {
            Ok(d) => d,
            Err(e) if e.is_unauthorized() => {
                tracing::warn!(error = %e, "the server no longer accepts this agent's token: registering again");
                registration::reregister(&client, &config, runtime.as_ref(), &session).await?;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "polling for desired tasks failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if desired.instance_status == InstanceStatus::Inactive {
            return Err(AgentError::Deregistered);
        }
        version = desired.version;
        network.set_subnet(desired.task_subnet.clone());
        if config.task_routes {
            let wanted = desired.routes.iter().map(|r| (r.subnet.clone(), r.via.clone())).collect();
            if let Err(e) = berth_runtime::routes::sync(desired.task_subnet.as_deref(), &wanted).await {
                tracing::warn!(error = %e, "setting up the routes to other hosts' task subnets failed");
            }
        }
        if let Some(a) = desired.registry_auth {
            credentials.set(berth_runtime::RegistryAuth {
                username: a.username,
                password: a.password,
                server: a.registry,
            });
        }
        let ctx = Converge { session: &session, shared: &shared };
        converge(&ctx, &mut tasks, desired.tasks, first).await;
        first = false;
    }
}

/// Points every task manager at its desired status, starting managers for new tasks and
/// telling those of vanished tasks to clean up. On the first pass, removes containers of
/// this instance that belong to no desired task (orphans from before a restart).
/// What converging needs besides the tasks.
struct Converge<'a, R> {
    session: &'a Session,
    shared: &'a task_manager::Shared<R>,
}

async fn converge<R: ContainerRuntime>(
    ctx: &Converge<'_, R>,
    tasks: &mut HashMap<String, Running>,
    desired: Vec<DesiredTask>,
    first: bool,
) {
    tasks.retain(|_, r| !r.done.is_finished());
    let wanted: Vec<String> = desired.iter().map(|t| t.task_arn.clone()).collect();
    for (arn, running) in tasks.iter() {
        if !wanted.contains(arn) {
            let _ = running.desired.send(Desired::Forget);
        }
    }
    if first {
        remove_orphans(ctx.shared.runtime.as_ref(), &ctx.session.instance_arn(), &wanted).await;
        if desired.iter().all(|t| t.attachment.is_none()) {
            // Left from before a restart with no awsvpc task to use it.
            ctx.shared.network.release(ctx.shared.runtime.as_ref()).await;
        }
    }
    for t in desired {
        let want = if t.desired_status == DesiredStatus::Running { Desired::Running } else { Desired::Stopped };
        match tasks.get(&t.task_arn) {
            Some(running) => {
                running.desired.send_if_modified(|d| {
                    let changed = *d != want;
                    *d = want;
                    changed
                });
            }
            None => {
                let (tx, rx) = watch::channel(want);
                let arn = t.task_arn.clone();
                let manager = TaskManager::new(ctx.shared, ctx.session.instance_arn(), t);
                let done = tokio::spawn(manager.run(rx));
                tasks.insert(arn, Running { desired: tx, done });
            }
        }
    }
}

async fn remove_orphans<R: ContainerRuntime>(runtime: &R, instance_arn: &str, wanted: &[String]) {
    let Ok(existing) = runtime.list(spec::LABEL_INSTANCE, instance_arn).await else {
        return;
    };
    for c in existing {
        let task = c.labels.get(spec::LABEL_TASK_ARN).cloned().unwrap_or_default();
        if !wanted.contains(&task) {
            tracing::info!(container = %c.name, %task, "removing a container of a task this instance no longer runs");
            let _ = runtime.stop(&c.id, Duration::from_secs(10)).await;
            let _ = runtime.remove(&c.id).await;
        }
    }
}

async fn heartbeats(client: ServerClient, session: Session, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let empty = berth_model::ecs::Empty {};
        let result: Result<berth_model::ecs::Empty, _> =
            client.agent(&session.token(), "Heartbeat", &empty, Duration::from_secs(10)).await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "heartbeat failed");
        }
    }
}
