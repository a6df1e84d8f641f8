//! What a change to the state is, and how changes map to store records and back.

use std::sync::Arc;

use berth_model::{capacity_provider::CapacityProvider, cluster::Cluster, tag::Tag, task_definition::TaskDefinition};
use berth_store::{Mutation, Record};

use crate::state::{InstanceRecord, ServiceRecord, TaskRecord};

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
    /// A Cloud Map namespace, service, instance or operation.
    Discovery {
        region: String,
        change: crate::discovery::DiscoveryChange,
    },
    /// A CloudWatch alarm or an Application Auto Scaling resource.
    Monitoring {
        region: String,
        change: crate::monitoring::MonitoringChange,
    },
    /// An account setting; `None` deletes it.
    Setting {
        region: String,
        principal: String,
        name: String,
        value: Option<String>,
    },
    /// A capacity provider (kept INACTIVE once deleted, as ECS shows it for a while).
    CapacityProvider {
        region: String,
        provider: Arc<CapacityProvider>,
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
const CAPACITY_PROVIDER: &str = "capacity-provider";

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
            Change::Discovery { region, change } => change.to_mutation(region),
            Change::Monitoring { region, change } => change.to_mutation(region),
            Change::CapacityProvider { region, provider } => Mutation::Put {
                kind: CAPACITY_PROVIDER,
                key: format!("{region}/{}", provider.name),
                value: json(provider.as_ref()),
            },
            Change::Setting { region, principal, name, value } => {
                let key = format!("{region}/{principal}/{name}");
                match value {
                    Some(v) => Mutation::Put { kind: SETTING, key, value: json(v) },
                    None => Mutation::Delete { kind: SETTING, key },
                }
            }
        })
    }

    pub(crate) fn decode(r: &Record) -> Result<Change, String> {
        let (region, rest) = r.key.split_once('/').ok_or("key has no region")?;
        let region = region.to_string();
        let err = |e: serde_json::Error| e.to_string();
        if let Some(change) = crate::elb::ElbChange::decode(r) {
            return Ok(Change::Elb { region, change: change.map_err(err)? });
        }
        if let Some(change) = crate::discovery::DiscoveryChange::decode(r) {
            return Ok(Change::Discovery { region, change: change.map_err(err)? });
        }
        if let Some(change) = crate::monitoring::MonitoringChange::decode(r) {
            return Ok(Change::Monitoring { region, change: change.map_err(err)? });
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
            CAPACITY_PROVIDER => {
                Change::CapacityProvider { region, provider: Arc::new(serde_json::from_slice(&r.value).map_err(err)?) }
            }
            other => return Err(format!("unknown record kind '{other}'")),
        })
    }
}
