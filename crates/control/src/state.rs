//! The in-memory state, what a change is, and how changes map to store records.
//!
//! A [`Change`] is the unit the writer commits and the readers apply; applying the same
//! changes in the same order to two copies of the state gives the same state, which is
//! what lets the writer run ahead of the readers.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::Arc,
};

use berth_model::{
    cluster::Cluster, container_instance::ContainerInstance, service::Service, status::DesiredStatus, tag::Tag,
    task::Task, task_definition::TaskDefinition,
};
use berth_store::Record;
use serde::{Deserialize, Serialize};

pub use crate::change::Change;

/// Every region's resources. A region is created on first write.
#[derive(Debug, Clone, Default)]
pub struct State {
    regions: HashMap<String, RegionState>,
    /// Agent token digests → (region, container instance ARN).
    agent_tokens: HashMap<String, (String, String)>,
    /// Where desired versions start: the store revision at load, which is above every
    /// version handed out before (each bump came with a commit).
    version_base: u64,
    /// What the load balancer's data plane observes; one book shared by every copy.
    lb_health: Arc<crate::elb::HealthBook>,
}

/// A container instance as stored: the ECS view plus what only berth needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceRecord {
    pub instance: ContainerInstance,
    /// The cluster it joined; [`FARGATE_POOL`] for a host offering Fargate capacity.
    pub cluster: String,
    /// SHA-256 (hex) of the token the agent authenticates with.
    pub token_sha256: String,
    /// The `/24` its awsvpc tasks take their addresses from (see `berth_model::network`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_subnet: Option<String>,
}

/// The pseudo-cluster of hosts that offer Fargate capacity: no cluster can have this name,
/// so such hosts never show as container instances.
pub const FARGATE_POOL: &str = "~fargate";

impl InstanceRecord {
    /// Whether this host offers Fargate capacity rather than being a container instance.
    pub fn is_fargate(&self) -> bool {
        self.cluster == FARGATE_POOL
    }
}

/// A task as stored, with the resources it holds on its instance until it stops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRecord {
    pub task: Task,
    pub cluster: String,
    pub cpu: i64,
    pub memory: i64,
    /// Static host ports as (port, protocol).
    pub host_ports: Vec<(u32, String)>,
    /// The host a Fargate task runs on (its `containerInstanceArn` stays empty, as on ECS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fargate_host: Option<String>,
    /// Scale-in protection (UpdateTaskProtection): until when the service leaves it be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_until: Option<berth_model::time::Timestamp>,
}

impl TaskRecord {
    /// Whether scale-in protection holds at `now`.
    pub fn protected_at(&self, now: berth_model::time::Timestamp) -> bool {
        self.protected_until.is_some_and(|until| until > now)
    }
}

impl TaskRecord {
    /// The host the task is placed on: its container instance, or its Fargate host;
    /// `None` while it waits for capacity.
    pub fn host(&self) -> Option<&String> {
        self.task.container_instance_arn.as_ref().or(self.fargate_host.as_ref())
    }
}

#[derive(Debug, Clone, Default)]
pub struct RegionState {
    pub clusters: BTreeMap<String, Arc<Cluster>>,
    pub families: BTreeMap<String, Family>,
    /// Tags by resource ARN.
    pub tags: HashMap<String, Arc<Vec<Tag>>>,
    /// Account settings by (principal ARN, name); the account default has principal "".
    pub settings: BTreeMap<(String, String), String>,
    /// Container instances by ARN.
    pub instances: BTreeMap<String, Arc<InstanceRecord>>,
    /// Tasks by ARN.
    pub tasks: BTreeMap<String, Arc<TaskRecord>>,
    /// Services by ARN.
    pub services: BTreeMap<String, Arc<ServiceRecord>>,
    /// Task ARNs by container instance ARN (derived from `tasks`).
    pub tasks_by_instance: HashMap<String, BTreeSet<String>>,
    /// Task ARNs by (cluster, task group), STOPPED ones included until they are forgotten
    /// (derived from `tasks`): a service's tasks without a scan of every task.
    pub tasks_by_group: HashMap<(String, String), BTreeSet<String>>,
    /// What each instance's tasks hold (derived from `tasks`, kept current on every change).
    pub usage: HashMap<String, Usage>,
    /// Each instance's attributes as the scheduler reads them (derived from `instances`).
    pub attribute_maps: HashMap<String, Arc<HashMap<String, Option<String>>>>,
    /// Load balancers, target groups, listeners and rules.
    pub elb: crate::elb::ElbState,
    /// Cloud Map namespaces, services, instances and operations.
    pub discovery: crate::discovery::DiscoveryState,
    /// CloudWatch alarms and Application Auto Scaling's targets, policies and actions.
    pub monitoring: crate::monitoring::MonitoringState,
    /// Tasks waiting for capacity: not STOPPED and on no host yet (derived from `tasks`).
    pub waiting: BTreeSet<String>,
    /// Capacity providers by name (FARGATE and FARGATE_SPOT are implicit).
    pub capacity_providers: BTreeMap<String, Arc<berth_model::capacity_provider::CapacityProvider>>,
    /// Each instance's desired-state version; bumped whenever the set of tasks it should
    /// run changes. Kept in memory only (see `State::version_base`).
    pub desired_versions: HashMap<String, u64>,
}

/// A service as stored: the ECS view (deployments and events included) and its cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRecord {
    pub service: Service,
    pub cluster: String,
    /// The last deployment that COMPLETED, as (id, task definition ARN): what the circuit
    /// breaker rolls back to, even after that deployment has drained and left the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_completed: Option<(String, String)>,
}

/// What the tasks on one instance hold.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// CPU units and MiB held by tasks not yet STOPPED.
    pub cpu: i64,
    pub memory: i64,
    /// Static host ports held, with how many tasks hold each.
    pub ports: HashMap<(u32, String), usize>,
    /// Tasks whose desired status is RUNNING.
    pub running: i64,
    /// Tasks not yet RUNNING (PROVISIONING, PENDING, ACTIVATING).
    pub pending: i64,
    /// Tasks not yet STOPPED, by task group.
    pub groups: Arc<HashMap<String, usize>>,
}

impl Usage {
    /// Adds (`sign` 1) or removes (`sign` -1) one task's share.
    fn account(&mut self, t: &TaskRecord, sign: i64) {
        let last = t.task.last();
        if last != berth_model::task::TaskStatus::Stopped {
            self.cpu += sign * t.cpu;
            self.memory += sign * t.memory;
            for p in &t.host_ports {
                let n = self.ports.entry(p.clone()).or_default();
                *n = (*n as i64 + sign) as usize;
                if *n == 0 {
                    self.ports.remove(p);
                }
            }
            let groups = Arc::make_mut(&mut self.groups);
            let n = groups.entry(t.task.group.clone()).or_default();
            *n = (*n as i64 + sign) as usize;
            if *n == 0 {
                groups.remove(&t.task.group);
            }
        }
        if t.task.desired_status == DesiredStatus::Running {
            self.running += sign;
        }
        if last < berth_model::task::TaskStatus::Running {
            self.pending += sign;
        }
    }

    /// Tasks not yet STOPPED.
    pub fn active_tasks(&self) -> usize {
        self.groups.values().sum()
    }
}

impl RegionState {
    /// The desired-state version of an instance.
    pub fn desired_version(&self, arn: &str, base: u64) -> u64 {
        self.desired_versions.get(arn).copied().unwrap_or(base)
    }

    /// The tasks placed on `instance_arn`.
    pub fn tasks_on<'a>(&'a self, instance_arn: &str) -> impl Iterator<Item = &'a Arc<TaskRecord>> + 'a {
        self.tasks_by_instance.get(instance_arn).into_iter().flatten().filter_map(|arn| self.tasks.get(arn))
    }

    /// The tasks of task group `group` in `cluster`.
    pub fn tasks_in_group<'a>(&'a self, cluster: &str, group: &str) -> impl Iterator<Item = &'a Arc<TaskRecord>> + 'a {
        let key = (cluster.to_string(), group.to_string());
        self.tasks_by_group.get(&key).into_iter().flatten().filter_map(|arn| self.tasks.get(arn))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Family {
    /// The highest revision ever registered: revisions are never reused.
    pub last_revision: u32,
    pub revisions: BTreeMap<u32, Arc<TaskDefinition>>,
}

static EMPTY_REGION: std::sync::LazyLock<RegionState> = std::sync::LazyLock::new(RegionState::default);

impl State {
    pub fn region(&self, region: &str) -> &RegionState {
        self.regions.get(region).unwrap_or(&EMPTY_REGION)
    }

    /// The tags on `arn` in `region`, empty when it has none.
    pub fn tags_of(&self, region: &str, arn: &str) -> Vec<Tag> {
        self.region(region).tags.get(arn).map(|t| t.to_vec()).unwrap_or_default()
    }

    fn region_mut(&mut self, region: &str) -> &mut RegionState {
        self.regions.entry(region.to_string()).or_default()
    }

    /// Where desired versions start (see the field).
    pub fn version_base(&self) -> u64 {
        self.version_base
    }

    /// Target health and drained targets, as the load balancer's data plane reported them.
    pub fn lb_health(&self) -> &Arc<crate::elb::HealthBook> {
        &self.lb_health
    }

    /// Every region with its name.
    pub fn regions(&self) -> impl Iterator<Item = (&String, &RegionState)> {
        self.regions.iter()
    }

    /// The instance an agent token belongs to, as (region, ARN).
    pub fn instance_for_token(&self, token_sha256: &str) -> Option<&(String, String)> {
        self.agent_tokens.get(token_sha256)
    }

    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::Instance { region, record } => {
                let arn = record.instance.container_instance_arn.clone();
                if let Some(old) = self.region(region).instances.get(&arn) {
                    let old_hash = old.token_sha256.clone();
                    self.agent_tokens.remove(&old_hash);
                }
                self.agent_tokens.insert(record.token_sha256.clone(), (region.clone(), arn.clone()));
                let r = self.region_mut(region);
                let attributes = record.instance.attributes.iter().map(|a| (a.name.clone(), a.value.clone())).collect();
                r.attribute_maps.insert(arn.clone(), Arc::new(attributes));
                r.instances.insert(arn, record.clone());
            }
            Change::Task { region, record } => {
                let r = self.region_mut(region);
                let arn = record.task.task_arn.clone();
                if let Some(old) = r.tasks.get(&arn).cloned() {
                    if let Some(instance) = old.host() {
                        r.usage.entry(instance.clone()).or_default().account(&old, -1);
                    }
                }
                if let Some(instance) = record.host() {
                    r.tasks_by_instance.entry(instance.clone()).or_default().insert(arn.clone());
                    r.usage.entry(instance.clone()).or_default().account(record, 1);
                }
                let group = (record.cluster.clone(), record.task.group.clone());
                r.tasks_by_group.entry(group).or_default().insert(arn.clone());
                if record.host().is_none() && record.task.last() != berth_model::task::TaskStatus::Stopped {
                    r.waiting.insert(arn.clone());
                } else {
                    r.waiting.remove(&arn);
                }
                r.tasks.insert(arn, record.clone());
            }
            Change::ForgetTask { region, arn } => {
                let r = self.region_mut(region);
                r.waiting.remove(arn);
                if let Some(old) = r.tasks.remove(arn) {
                    if let Some(instance) = old.host() {
                        r.usage.entry(instance.clone()).or_default().account(&old, -1);
                        if let Some(set) = r.tasks_by_instance.get_mut(instance) {
                            set.remove(arn);
                        }
                    }
                    let group = (old.cluster.clone(), old.task.group.clone());
                    if let Some(set) = r.tasks_by_group.get_mut(&group) {
                        set.remove(arn);
                        if set.is_empty() {
                            r.tasks_by_group.remove(&group);
                        }
                    }
                }
            }
            Change::Service { region, record } => {
                self.region_mut(region).services.insert(record.service.service_arn.clone(), record.clone());
            }
            Change::DesiredVersion { region, arn } => {
                let base = self.version_base;
                let r = self.region_mut(region);
                *r.desired_versions.entry(arn.clone()).or_insert(base) += 1;
            }
            Change::Cluster { region, cluster } => {
                self.region_mut(region).clusters.insert(cluster.cluster_name.clone(), cluster.clone());
            }
            Change::TaskDefinition { region, task_definition: td } => {
                let family = self.region_mut(region).families.entry(td.family.clone()).or_default();
                family.last_revision = family.last_revision.max(td.revision);
                family.revisions.insert(td.revision, td.clone());
            }
            Change::ForgetTaskDefinition { region, family, revision } => {
                if let Some(f) = self.region_mut(region).families.get_mut(family) {
                    f.revisions.remove(revision);
                }
            }
            Change::FamilyRevision { region, family, last_revision } => {
                let f = self.region_mut(region).families.entry(family.clone()).or_default();
                f.last_revision = f.last_revision.max(*last_revision);
            }
            Change::Tags { region, arn, tags } => {
                let r = self.region_mut(region);
                if tags.is_empty() {
                    r.tags.remove(arn);
                } else {
                    r.tags.insert(arn.clone(), tags.clone());
                }
            }
            Change::Elb { region, change } => change.apply(&mut self.region_mut(region).elb),
            Change::Discovery { region, change } => change.apply(&mut self.region_mut(region).discovery),
            Change::Monitoring { region, change } => change.apply(&mut self.region_mut(region).monitoring),
            Change::CapacityProvider { region, provider } => {
                self.region_mut(region).capacity_providers.insert(provider.name.clone(), provider.clone());
            }
            Change::Setting { region, principal, name, value } => {
                let key = (principal.clone(), name.clone());
                let r = self.region_mut(region);
                match value {
                    Some(v) => r.settings.insert(key, v.clone()),
                    None => r.settings.remove(&key),
                };
            }
        }
    }

    /// Rebuilds the state from stored records, as of store `revision`.
    pub fn from_records(records: &[Record], revision: u64) -> Result<State, String> {
        let mut state = State { version_base: revision, ..State::default() };
        // `ecr.*` records belong to the registry, which loads them itself.
        for r in records.iter().filter(|r| berth_store::owner(&r.kind) == berth_store::Owner::Control) {
            let change = Change::decode(r).map_err(|e| format!("record {}/{}: {e}", r.kind, r.key))?;
            state.apply(&change);
        }
        Ok(state)
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
