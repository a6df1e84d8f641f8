//! The agent's side of the control plane: token authentication, heartbeats, and the
//! long-poll for the versioned set of tasks an instance should run. Agents are told
//! desired state, never commands; a lost answer heals on the next poll.

use std::{collections::HashMap, sync::Arc, sync::Mutex, time::Duration};

pub use berth_model::agent::{DesiredTask, DesiredTasks};
use berth_model::{status::InstanceStatus, time, EcsError};
use tokio::time::Instant;

use crate::{instances::sha256_hex, state::Change, task_definitions::TaskDefinitionRef, Control, State};

/// An authenticated agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentIdentity {
    pub region: String,
    pub instance_arn: String,
}

/// When each instance's agent was last heard from, and since when it is disconnected.
/// Kept in memory: after a server restart every instance starts with a fresh heartbeat.
pub(crate) struct Heartbeats {
    /// When each instance was last heard from (epoch seconds).
    last_seen: Mutex<HashMap<String, f64>>,
}

impl Heartbeats {
    pub(crate) fn new() -> Heartbeats {
        Heartbeats { last_seen: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn seen(&self, arn: &str) {
        self.last_seen.lock().unwrap_or_else(|p| p.into_inner()).insert(arn.to_string(), time::now());
    }

    /// When `arn` was last heard from, if it was since the server started.
    pub(crate) fn last_seen(&self, arn: &str) -> Option<f64> {
        self.last_seen.lock().unwrap_or_else(|p| p.into_inner()).get(arn).copied()
    }
}

fn desired_tasks(
    state: &State,
    id: &AgentIdentity,
    dns: Option<&crate::discovery::ContainerDns>,
) -> Result<DesiredTasks, EcsError> {
    let region = state.region(&id.region);
    let mut cluster_dns: HashMap<String, Option<berth_model::agent::TaskDns>> = HashMap::new();
    let rec = region.instances.get(&id.instance_arn).ok_or_else(|| EcsError::client("Unknown container instance."))?;
    let mut tasks = Vec::new();
    for t in region.tasks_on(&id.instance_arn) {
        if t.task.last() == berth_model::task::TaskStatus::Stopped {
            continue;
        }
        let td = TaskDefinitionRef::parse(&t.task.task_definition_arn)?
            .resolve(region)
            .cloned()
            .ok_or_else(|| EcsError::Server(format!("task definition of {} is missing", t.task.task_arn)))?;
        tasks.push(DesiredTask {
            task_arn: t.task.task_arn.clone(),
            // A DEACTIVATING task keeps running until its load balancer targets drained.
            desired_status: if t.task.last() == berth_model::task::TaskStatus::Deactivating {
                berth_model::status::DesiredStatus::Running
            } else {
                t.task.desired_status
            },
            task_definition: td,
            overrides: t.task.overrides.clone(),
            attachment: t.task.eni().cloned(),
            dns: dns.and_then(|how| {
                cluster_dns
                    .entry(t.cluster.clone())
                    .or_insert_with(|| crate::discovery::cluster_dns(region, &t.cluster, how))
                    .clone()
            }),
        });
    }
    let cluster_arn = berth_model::Arn::parse(&id.instance_arn)
        .map(|a| berth_model::Arn::ecs(&a.region, &a.account, "cluster", &rec.cluster).to_string())
        .unwrap_or_default();
    let version = region.desired_version(&id.instance_arn, state.version_base());
    Ok(DesiredTasks {
        version,
        routes: Vec::new(),
        cluster_arn,
        instance_status: rec.instance.status,
        tasks,
        task_subnet: rec.task_subnet.clone(),
        registry_auth: None,
    })
}

impl Control {
    /// The instance a bearer token belongs to.
    pub fn authenticate_agent(&self, token: &str) -> Option<AgentIdentity> {
        let digest = sha256_hex(token);
        self.read(|state| {
            state
                .instance_for_token(&digest)
                .map(|(region, arn)| AgentIdentity { region: region.clone(), instance_arn: arn.clone() })
        })
    }

    /// Every host's task subnet and address in `region` (for routes between hosts).
    pub fn task_routes(&self, region: &str) -> Vec<berth_model::agent::TaskRoute> {
        self.read(|s| crate::task_network::routes(s.region(region)))
    }

    /// Every host's task subnet and address, in every region.
    pub fn all_task_routes(&self) -> Vec<berth_model::agent::TaskRoute> {
        self.read(|s| s.regions().flat_map(|(_, r)| crate::task_network::routes(r)).collect())
    }

    /// Whether container instance `arn` is registered (ACTIVE or DRAINING) in `region`.
    pub fn instance_registered(&self, region: &str, arn: &str) -> bool {
        self.read(|state| {
            state.region(region).instances.get(arn).is_some_and(|i| i.instance.status != InstanceStatus::Inactive)
        })
    }

    pub(crate) fn heartbeat_seen(&self, arn: &str) {
        self.inner.heartbeats.seen(arn);
    }

    /// A heartbeat: the instance is connected (again).
    pub async fn agent_heartbeat(&self, id: &AgentIdentity) -> Result<(), EcsError> {
        self.heartbeat_seen(&id.instance_arn);
        let connected =
            self.read(|s| s.region(&id.region).instances.get(&id.instance_arn).map(|r| r.instance.agent_connected));
        if connected == Some(false) {
            let who = id.clone();
            self.write(move |state, changes| {
                let id = who;
                if let Some(rec) = state.region(&id.region).instances.get(&id.instance_arn) {
                    if !rec.instance.agent_connected && rec.instance.status != InstanceStatus::Inactive {
                        let mut next = (**rec).clone();
                        next.instance.agent_connected = true;
                        next.instance.version += 1;
                        changes.push(Change::Instance { region: id.region.clone(), record: Arc::new(next) });
                    }
                }
                Ok(())
            })
            .await?;
            tracing::info!(instance = %id.instance_arn, "agent reconnected");
        }
        Ok(())
    }

    /// Long-polls for the instance's desired tasks: answers as soon as their version is
    /// above `known_version`, or after `wait` with the current set. Counts as a heartbeat.
    pub async fn poll_desired_tasks(
        &self,
        id: &AgentIdentity,
        known_version: u64,
        wait: Duration,
    ) -> Result<DesiredTasks, EcsError> {
        self.agent_heartbeat(id).await?;
        let deadline = Instant::now() + wait;
        let mut commits = self.inner.commits.clone();
        let dns = self.container_dns();
        loop {
            commits.borrow_and_update();
            // Every commit wakes every poller: look at the version (cheap) before building
            // the task set (not cheap).
            let version = self.read(|s| s.region(&id.region).desired_version(&id.instance_arn, s.version_base()));
            if version > known_version {
                return self.read(|s| desired_tasks(s, id, dns.as_ref()));
            }
            match tokio::time::timeout_at(deadline, commits.changed()).await {
                Ok(Ok(())) => continue,
                _ => return self.read(|s| desired_tasks(s, id, dns.as_ref())),
            }
        }
    }
}
