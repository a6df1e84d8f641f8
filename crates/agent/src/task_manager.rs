//! One task manager per task: a tokio task that owns the task's containers, converges
//! them to the desired status (pull, create and start in dependsOn order; stop with each
//! container's stopTimeout), watches them, and reports every change it observes.

use std::{sync::Arc, time::Duration};

use berth_model::{
    network::{Attachment, AttachmentStatus},
    task::{AttachmentStateChange, NetworkBinding, TaskOverride, TaskStateChange, TaskStatus},
    task_definition::TaskDefinition,
};
use berth_runtime::{ContainerRuntime, RunState};
use tokio::{sync::watch, time::Instant};

use crate::{
    logs::{self, LogShipping},
    managed::Managed,
    network::TaskNetwork,
    reporter::Reporter,
    spec::{self, TaskContext},
    DesiredTask, RegistryCredentials,
};

/// What the server wants of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Desired {
    Running,
    Stopped,
    /// The task has left the instance's desired set: clean up and finish.
    Forget,
}

/// How often containers are inspected while the task starts or stops.
const WATCH_INTERVAL: Duration = Duration::from_millis(250);
/// How often a steadily RUNNING task's containers are inspected (exits, health).
const STEADY_INTERVAL: Duration = Duration::from_secs(1);
/// A task counts as steady after running this long; until then it is watched closely, so
/// a container that dies right after starting is seen quickly.
const STEADY_AFTER: Duration = Duration::from_secs(5);

/// Where the task is: PENDING, RUNNING, STOPPING or STOPPED (ECS's lifecycle, of which the
/// agent walks these four).
type Phase = TaskStatus;

/// What every task manager of an agent shares.
pub struct Shared<R> {
    pub runtime: Arc<R>,
    pub reporter: Reporter,
    pub(crate) credentials: RegistryCredentials,
    pub pull_behavior: crate::ImagePullBehavior,
    pub network: Arc<TaskNetwork>,
    pub logs: Arc<LogShipping<R>>,
    /// The running tasks' containers, for the stats loop.
    pub running: crate::stats::RunningTasks,
}

/// How long stopping a task waits for its containers' output to be shipped.
const SHIP_WAIT: Duration = Duration::from_secs(60);

pub struct TaskManager<R: ContainerRuntime> {
    runtime: Arc<R>,
    running: crate::stats::RunningTasks,
    logs: Arc<LogShipping<R>>,
    reporter: Reporter,
    pull_behavior: crate::ImagePullBehavior,
    credentials: RegistryCredentials,
    cluster: String,
    instance_arn: String,
    task_arn: String,
    td: Arc<TaskDefinition>,
    overrides: TaskOverride,
    containers: Vec<Managed>,
    phase: Phase,
    stop_code: Option<&'static str>,
    stopped_reason: Option<String>,
    pulled: bool,
    pull_started_at: Option<f64>,
    pull_stopped_at: Option<f64>,
    started_waiting: Instant,
    /// When the task was first seen RUNNING by this manager.
    running_since: Option<Instant>,
    last_report: Option<TaskStateChange>,
    /// An awsvpc task's interface, its pause container's engine name and id, and how far
    /// its attachment got.
    eni: Option<Attachment>,
    pause_name: Option<String>,
    pause: Option<String>,
    eni_status: Option<AttachmentStatus>,
    network: Arc<TaskNetwork>,
    /// berth's DNS for the task's containers (from the server), and once looked up, the
    /// nameservers and search domains they get.
    dns: Option<berth_model::agent::TaskDns>,
    resolver: Option<Resolver>,
}

/// Nameservers and search domains for a task's containers.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    pub servers: Vec<String>,
    pub search: Vec<String>,
}

impl<R: ContainerRuntime> TaskManager<R> {
    /// A manager for `task`, placed on `instance_arn` of `cluster`.
    pub(crate) fn new(shared: &Shared<R>, instance_arn: String, task: DesiredTask) -> Self {
        let cluster = task.cluster().to_string();
        let DesiredTask { task_arn, task_definition: td, overrides, attachment: eni, dns, .. } = task;
        let pause_name = eni.as_ref().map(|_| {
            TaskContext { cluster: &cluster, instance_arn: &instance_arn, task_arn: &task_arn, pause: None }
                .pause_name()
        });
        let containers = td.container_definitions.iter().map(|def| Managed::new(def.clone())).collect();
        TaskManager {
            runtime: shared.runtime.clone(),
            running: shared.running.clone(),
            logs: shared.logs.clone(),
            reporter: shared.reporter.clone(),
            credentials: shared.credentials.clone(),
            pull_behavior: shared.pull_behavior,
            cluster,
            instance_arn,
            task_arn,
            td,
            overrides,
            containers,
            phase: Phase::Pending,
            stop_code: None,
            stopped_reason: None,
            pulled: false,
            pull_started_at: None,
            pull_stopped_at: None,
            started_waiting: Instant::now(),
            running_since: None,
            last_report: None,
            eni,
            pause_name,
            pause: None,
            eni_status: None,
            network: shared.network.clone(),
            dns,
            resolver: None,
        }
    }

    fn ctx(&self) -> TaskContext<'_> {
        TaskContext {
            cluster: &self.cluster,
            instance_arn: &self.instance_arn,
            task_arn: &self.task_arn,
            pause: self.pause_name.as_deref(),
        }
    }

    /// Runs until the task has stopped and left the desired set.
    pub async fn run(mut self, mut desired: watch::Receiver<Desired>) {
        self.adopt().await;
        loop {
            let want = *desired.borrow_and_update();
            match want {
                Desired::Forget => {
                    if self.phase != Phase::Stopped {
                        self.stop_all().await;
                        self.finish(None, Some("The task is no longer wanted on this instance.".into()));
                        self.report();
                    }
                    self.remove_all().await;
                    return;
                }
                Desired::Stopped if self.phase < Phase::Stopping => {
                    self.phase = Phase::Stopping;
                    self.report();
                    self.stop_all().await;
                    self.refresh().await;
                    self.finish(None, None);
                }
                Desired::Running if self.phase == Phase::Pending => self.advance_start().await,
                _ => {}
            }
            if self.phase < Phase::Stopping {
                self.refresh().await;
                self.check_essential().await;
            }
            self.report();
            tokio::select! {
                _ = tokio::time::sleep(self.watch_interval()) => {}
                changed = desired.changed() => {
                    if changed.is_err() {
                        // The supervisor is gone (agent shutting down): leave containers running.
                        return;
                    }
                }
            }
        }
    }

    fn enter_running(&mut self) {
        self.phase = Phase::Running;
        self.running_since = Some(Instant::now());
    }

    fn watch_interval(&self) -> Duration {
        match self.running_since {
            Some(since) if self.phase == Phase::Running && since.elapsed() > STEADY_AFTER => STEADY_INTERVAL,
            _ => WATCH_INTERVAL,
        }
    }

    /// Makes `image` available as the pull behavior says; the error is the pull's.
    async fn pull(&self, image: &str) -> Result<(), berth_runtime::RuntimeError> {
        use crate::ImagePullBehavior::*;
        let present = self.runtime.has_image(image).await.unwrap_or(false);
        if present && matches!(self.pull_behavior, Once | PreferCached) {
            return Ok(());
        }
        let auth = self.credentials.for_image(image);
        match self.runtime.pull_image(image, auth.as_ref()).await {
            Err(e) if present && self.pull_behavior == Default => {
                tracing::info!(%image, error = %e, "pull failed; running the cached image");
                Ok(())
            }
            other => other,
        }
    }

    /// Pulls images, then creates and starts every container whose dependencies are met.
    async fn advance_start(&mut self) {
        if let Err(problem) = self.attach_network().await {
            self.fail_start(problem).await;
            return;
        }
        if !self.pulled {
            self.pull_started_at = Some(berth_model::time::now());
            self.report();
            let images: Vec<String> = self.containers.iter().filter_map(|c| c.def.image.clone()).collect();
            for image in images {
                if let Err(e) = self.pull(&image).await {
                    self.fail_start(format!("CannotPullContainerError: pull image {image}: {e}")).await;
                    return;
                }
            }
            self.pulled = true;
            self.pull_stopped_at = Some(berth_model::time::now());
            self.started_waiting = Instant::now();
        }
        for i in 0..self.containers.len() {
            if self.containers[i].id.is_some() {
                continue;
            }
            match crate::managed::dependencies_met(&self.containers, i, self.started_waiting.elapsed()) {
                Err(problem) => {
                    self.fail_start(problem).await;
                    return;
                }
                Ok(false) => continue,
                Ok(true) => {}
            }
            if let Err(problem) = self.create_and_start(i).await {
                self.fail_start(problem).await;
                return;
            }
        }
        if self.containers.iter().all(|c| c.id.is_some()) {
            self.refresh().await;
            if self.phase == Phase::Pending {
                self.enter_running();
            }
        }
    }

    async fn create_and_start(&mut self, i: usize) -> Result<(), String> {
        let def = self.containers[i].def.clone();
        let over = self.overrides.container_overrides.iter().find(|o| o.name == def.name);
        let env = spec::environment(&def, over, &|p| std::fs::read_to_string(p).map_err(|e| e.to_string()))
            .map_err(|e| format!("ResourceInitializationError: {e}"))?;
        let mut spec = spec::container_spec(&self.ctx(), &self.td, &self.overrides, &def, env);
        if self.eni.is_none() {
            self.resolve_dns().await;
            if let Some(r) = &self.resolver {
                spec::use_resolver(&mut spec, r);
            }
        }
        let id = match self.runtime.create(&spec).await {
            // A container of this name left over from an interrupted attempt (a previous
            // agent died while the engine still worked on its calls).
            Err(berth_runtime::RuntimeError::Conflict(_)) => match self.leftover(&spec.name).await {
                Some(id) => {
                    // It already runs: it is this task's container; adopt it, never start a second.
                    tracing::info!(task = %self.task_arn, container = %self.containers[i].name(), "adopted a container started before a restart");
                    self.containers[i].id = Some(id);
                    self.containers[i].status = TaskStatus::Running;
                    return self.ship_logs(i).await;
                }
                None => {
                    if let Err(e) = self.runtime.remove(&spec.name).await {
                        tracing::warn!(task = %self.task_arn, container = %self.containers[i].name(), error = %e, "removing a leftover container failed");
                    }
                    self.runtime.create(&spec).await
                }
            },
            other => other,
        }
        .map_err(|e| format!("CannotCreateContainerError: {e}"))?;
        self.containers[i].id = Some(id.clone());
        let shipping = self.log_destination(i)?;
        if let Some(to) = &shipping {
            self.logs.prepare(to).await?;
        }
        self.runtime.start(&id).await.map_err(|e| format!("CannotStartContainerError: {e}"))?;
        self.containers[i].status = TaskStatus::Running;
        if let Some(to) = shipping {
            self.logs.ship(&id, to).await;
        }
        Ok(())
    }

    /// Where container `i`'s output goes, if it uses the awslogs driver.
    fn log_destination(&self, i: usize) -> Result<Option<logs::Destination>, String> {
        let Some(id) = self.containers[i].id.as_deref() else { return Ok(None) };
        let task_id = self.task_arn.rsplit('/').next().unwrap_or_default();
        logs::destination(&self.containers[i].def, task_id, id)
            .transpose()
            .map_err(|e| format!("CannotStartContainerError: failed to initialize logging driver: {e}"))
    }

    /// Ships container `i`'s output (a container found running or exited).
    async fn ship_logs(&mut self, i: usize) -> Result<(), String> {
        if let (Some(to), Some(id)) = (self.log_destination(i)?, self.containers[i].id.clone()) {
            self.logs.ship(&id, to).await;
        }
        Ok(())
    }

    /// Reads every container's state from the engine.
    async fn refresh(&mut self) {
        for c in &mut self.containers {
            let Some(id) = c.id.clone() else { continue };
            match self.runtime.inspect(&id).await {
                Ok(Some(s)) => {
                    // A container's status only moves forward.
                    match s.state {
                        RunState::Running if !c.exited() => c.status = TaskStatus::Running,
                        RunState::Exited(code) if !c.exited() => {
                            c.status = TaskStatus::Stopped;
                            c.exit_code = Some(code);
                        }
                        _ => {}
                    }
                    c.health = s.health;
                    c.bindings = s
                        .ports
                        .iter()
                        .map(|p| NetworkBinding {
                            bind_ip: Some(p.host_ip.clone()),
                            container_port: Some(p.container_port),
                            host_port: Some(p.host_port),
                            protocol: Some(p.protocol.clone()),
                        })
                        .collect();
                }
                Ok(None) => {
                    if !c.exited() {
                        c.status = TaskStatus::Stopped;
                        c.reason.get_or_insert_with(|| "The container was removed outside berth.".into());
                    }
                }
                Err(e) => {
                    tracing::warn!(task = %self.task_arn, container = %c.name(), error = %e, "inspect failed")
                }
            }
        }
    }

    /// An essential container that exited stops the whole task.
    async fn check_essential(&mut self) {
        let exited = self.containers.iter().find(|c| c.def.is_essential() && c.exited()).map(|c| c.name().to_string());
        if let Some(name) = exited {
            tracing::info!(task = %self.task_arn, container = %name, "essential container exited: stopping the task");
            self.phase = Phase::Stopping;
            self.stop_all().await;
            self.refresh().await;
            self.finish(Some("EssentialContainerExited"), Some("Essential container in task exited".into()));
        }
    }

    async fn fail_start(&mut self, reason: String) {
        tracing::warn!(task = %self.task_arn, %reason, "task failed to start");
        self.stop_all().await;
        self.refresh().await;
        for c in &mut self.containers {
            if c.id.is_none() {
                c.status = TaskStatus::Stopped;
            }
        }
        if let Some(c) = self.containers.iter_mut().find(|c| c.exit_code.is_none() && c.reason.is_none()) {
            c.reason = Some(reason.clone());
        }
        self.finish(Some("TaskFailedToStart"), Some(reason));
    }

    /// SIGTERM every running container, SIGKILL after its stopTimeout (all in parallel).
    async fn stop_all(&mut self) {
        let stops = self.containers.iter().filter(|c| !c.exited()).filter_map(|c| {
            let id = c.id.clone()?;
            let grace = spec::stop_timeout(&c.def);
            let runtime = self.runtime.clone();
            Some(async move { runtime.stop(&id, grace).await })
        });
        for result in futures_util::future::join_all(stops).await {
            if let Err(e) = result {
                tracing::warn!(task = %self.task_arn, error = %e, "stopping a container failed");
            }
        }
        // A task is reported STOPPED once its output has reached the server.
        let ids: Vec<String> = self.containers.iter().filter_map(|c| c.id.clone()).collect();
        self.logs.finish(&ids, SHIP_WAIT).await;
    }

    fn finish(&mut self, code: Option<&'static str>, reason: Option<String>) {
        self.phase = Phase::Stopped;
        for c in &mut self.containers {
            c.status = TaskStatus::Stopped;
        }
        if self.stop_code.is_none() {
            self.stop_code = code;
        }
        if self.stopped_reason.is_none() {
            self.stopped_reason = reason;
        }
    }

    /// Sends the task's state if it changed since the last report (and keeps the stats
    /// loop's view of the running containers).
    fn report(&mut self) {
        let ids = self.containers.iter().filter_map(|c| Some((c.name().to_string(), c.id.clone()?))).collect();
        self.running.update(&self.task_arn, self.phase == Phase::Running, ids);
        let stopped = self.phase == Phase::Stopped;
        let change = TaskStateChange {
            cluster: Some(self.cluster.clone()),
            task: Some(self.task_arn.clone()),
            status: Some(self.phase),
            reason: if stopped { self.stopped_reason.clone() } else { None },
            containers: self.containers.iter().map(Managed::state_change).collect(),
            pull_started_at: self.pull_started_at,
            pull_stopped_at: self.pull_stopped_at,
            execution_stopped_at: None,
            stop_code: if stopped { self.stop_code.map(String::from) } else { None },
            attachments: match (&self.eni, self.eni_status) {
                (Some(eni), Some(status)) => vec![AttachmentStateChange { attachment_arn: eni.id.clone(), status }],
                _ => Vec::new(),
            },
        };
        if self.last_report.as_ref() != Some(&change) {
            let mut sent = change.clone();
            if stopped {
                sent.execution_stopped_at = Some(berth_model::time::now());
            }
            self.reporter.send(sent);
            self.last_report = Some(change);
        }
    }
}

mod leftovers;
mod networking;

#[cfg(test)]
#[path = "task_manager_tests.rs"]
mod tests;
