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
use berth_store::{Mutation, Record};
use serde::{Deserialize, Serialize};

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
    pub cluster: String,
    /// SHA-256 (hex) of the token the agent authenticates with.
    pub token_sha256: String,
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
                    if let Some(instance) = &old.task.container_instance_arn {
                        r.usage.entry(instance.clone()).or_default().account(&old, -1);
                    }
                }
                if let Some(instance) = &record.task.container_instance_arn {
                    r.tasks_by_instance.entry(instance.clone()).or_default().insert(arn.clone());
                    r.usage.entry(instance.clone()).or_default().account(record, 1);
                }
                let group = (record.cluster.clone(), record.task.group.clone());
                r.tasks_by_group.entry(group).or_default().insert(arn.clone());
                r.tasks.insert(arn, record.clone());
            }
            Change::ForgetTask { region, arn } => {
                let r = self.region_mut(region);
                if let Some(old) = r.tasks.remove(arn) {
                    if let Some(instance) = &old.task.container_instance_arn {
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

/// One committed change to the state.
#[derive(Debug, Clone)]
pub enum Change {
    /// The instance's set of desired tasks changed (not stored: see `State::version_base`).
    DesiredVersion {
        region: String,
        arn: String,
    },
    Instance {
        region: String,
        record: Arc<InstanceRecord>,
    },
    Task {
        region: String,
        record: Arc<TaskRecord>,
    },
    Service {
        region: String,
        record: Arc<ServiceRecord>,
    },
    /// A STOPPED task past its retention leaves the state (and its tags with it).
    ForgetTask {
        region: String,
        arn: String,
    },
    Cluster {
        region: String,
        cluster: Arc<Cluster>,
    },
    TaskDefinition {
        region: String,
        task_definition: Arc<TaskDefinition>,
    },
    /// A DELETE_IN_PROGRESS revision that nothing uses any more leaves the state.
    ForgetTaskDefinition {
        region: String,
        family: String,
        revision: u32,
    },
    /// The highest revision a family ever had, kept apart from the revisions themselves
    /// so that forgetting the newest one never lets its number be used again.
    FamilyRevision {
        region: String,
        family: String,
        last_revision: u32,
    },
    /// The full tag set of a resource; empty removes it.
    Tags {
        region: String,
        arn: String,
        tags: Arc<Vec<Tag>>,
    },
    /// A load balancer, target group, listener or rule.
    Elb {
        region: String,
        change: crate::elb::ElbChange,
    },
    /// An account setting; `None` deletes it.
    Setting {
        region: String,
        principal: String,
        name: String,
        value: Option<String>,
    },
}

const CLUSTER: &str = "cluster";
const TASK_DEFINITION: &str = "task-definition";
const FAMILY: &str = "task-definition-family";
const TAGS: &str = "tags";
const SETTING: &str = "setting";
const INSTANCE: &str = "container-instance";
const TASK: &str = "task";
const SERVICE: &str = "service";

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("state values always serialize")
}

impl Change {
    /// The store mutation that makes this change durable (keys start with the region);
    /// `None` for changes that live in memory only.
    pub fn to_mutation(&self) -> Option<Mutation> {
        Some(match self {
            Change::DesiredVersion { .. } => return None,
            Change::ForgetTask { region, arn } => Mutation::Delete { kind: TASK, key: format!("{region}/{arn}") },
            Change::Service { region, record } => Mutation::Put {
                kind: SERVICE,
                key: format!("{region}/{}", record.service.service_arn),
                value: json(record.as_ref()),
            },
            Change::Instance { region, record } => Mutation::Put {
                kind: INSTANCE,
                key: format!("{region}/{}", record.instance.container_instance_arn),
                value: json(record.as_ref()),
            },
            Change::Task { region, record } => Mutation::Put {
                kind: TASK,
                key: format!("{region}/{}", record.task.task_arn),
                value: json(record.as_ref()),
            },
            Change::Cluster { region, cluster } => Mutation::Put {
                kind: CLUSTER,
                key: format!("{region}/{}", cluster.cluster_name),
                value: json(cluster.as_ref()),
            },
            Change::TaskDefinition { region, task_definition: td } => Mutation::Put {
                kind: TASK_DEFINITION,
                key: format!("{region}/{}:{:010}", td.family, td.revision),
                value: json(td.as_ref()),
            },
            Change::ForgetTaskDefinition { region, family, revision } => {
                Mutation::Delete { kind: TASK_DEFINITION, key: format!("{region}/{family}:{revision:010}") }
            }
            Change::FamilyRevision { region, family, last_revision } => {
                Mutation::Put { kind: FAMILY, key: format!("{region}/{family}"), value: json(last_revision) }
            }
            Change::Tags { region, arn, tags } if tags.is_empty() => {
                Mutation::Delete { kind: TAGS, key: format!("{region}/{arn}") }
            }
            Change::Tags { region, arn, tags } => {
                Mutation::Put { kind: TAGS, key: format!("{region}/{arn}"), value: json(tags.as_ref()) }
            }
            Change::Elb { region, change } => change.to_mutation(region),
            Change::Setting { region, principal, name, value } => {
                let key = format!("{region}/{principal}/{name}");
                match value {
                    Some(v) => Mutation::Put { kind: SETTING, key, value: json(v) },
                    None => Mutation::Delete { kind: SETTING, key },
                }
            }
        })
    }

    fn decode(r: &Record) -> Result<Change, String> {
        let (region, rest) = r.key.split_once('/').ok_or("key has no region")?;
        let region = region.to_string();
        let err = |e: serde_json::Error| e.to_string();
        if let Some(change) = crate::elb::ElbChange::decode(r) {
            return Ok(Change::Elb { region, change: change.map_err(err)? });
        }
        Ok(match r.kind.as_str() {
            CLUSTER => Change::Cluster { region, cluster: Arc::new(serde_json::from_slice(&r.value).map_err(err)?) },
            TASK_DEFINITION => Change::TaskDefinition {
                region,
                task_definition: Arc::new(serde_json::from_slice(&r.value).map_err(err)?),
            },
            FAMILY => Change::FamilyRevision {
                region,
                family: rest.to_string(),
                last_revision: serde_json::from_slice(&r.value).map_err(err)?,
            },
            TAGS => Change::Tags {
                region,
                arn: rest.to_string(),
                tags: Arc::new(serde_json::from_slice(&r.value).map_err(err)?),
            },
            SETTING => {
                let (principal, name) = rest.rsplit_once('/').ok_or("setting key has no name")?;
                Change::Setting {
                    region,
                    principal: principal.to_string(),
                    name: name.to_string(),
                    value: Some(serde_json::from_slice(&r.value).map_err(err)?),
                }
            }
            INSTANCE => Change::Instance { region, record: Arc::new(serde_json::from_slice(&r.value).map_err(err)?) },
            TASK => Change::Task { region, record: Arc::new(serde_json::from_slice(&r.value).map_err(err)?) },
            SERVICE => Change::Service { region, record: Arc::new(serde_json::from_slice(&r.value).map_err(err)?) },
            other => return Err(format!("unknown record kind '{other}'")),
        })
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
