//! Cloud Map's resources as stored, and how a discovery change applies to the state and
//! the store.

use std::{collections::BTreeMap, sync::Arc};

use berth_model::discovery::{CustomHealthStatus, DiscoveryService, HealthStatus, Instance, Namespace, Operation};
use berth_store::{Mutation, Record};
use serde::{Deserialize, Serialize};

/// A service as stored: with the revision of its instance set (DiscoverInstancesRevision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRecord {
    pub service: DiscoveryService,
    pub instances_revision: i64,
}

/// A registered instance as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceRecord {
    pub service_id: String,
    pub instance: Instance,
    /// The custom health status (services with a HealthCheckCustomConfig).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_health: Option<CustomHealthStatus>,
    /// The ECS task that this instance stands for, when ECS registered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_task: Option<String>,
}

impl InstanceRecord {
    /// The health Cloud Map reports: the custom status where there is one; otherwise
    /// HEALTHY (berth runs no Route 53 health checks; an instance without one is served).
    pub fn health(&self) -> HealthStatus {
        match self.custom_health {
            Some(CustomHealthStatus::Unhealthy) => HealthStatus::Unhealthy,
            _ => HealthStatus::Healthy,
        }
    }
}

/// One region's Cloud Map resources.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryState {
    /// By namespace id.
    pub namespaces: BTreeMap<String, Arc<Namespace>>,
    /// By service id.
    pub services: BTreeMap<String, Arc<ServiceRecord>>,
    /// By (service id, instance id).
    pub instances: BTreeMap<(String, String), Arc<InstanceRecord>>,
    /// By operation id.
    pub operations: BTreeMap<String, Arc<Operation>>,
}

impl DiscoveryState {
    pub fn instances_of<'a>(&'a self, service_id: &'a str) -> impl Iterator<Item = &'a Arc<InstanceRecord>> + 'a {
        self.instances
            .range((service_id.to_string(), String::new())..)
            .take_while(move |((s, _), _)| s == service_id)
            .map(|(_, r)| r)
    }

    pub fn services_in<'a>(&'a self, namespace_id: &'a str) -> impl Iterator<Item = &'a Arc<ServiceRecord>> + 'a {
        self.services.values().filter(move |s| s.service.namespace_id.as_deref() == Some(namespace_id))
    }

    pub fn namespace_named(&self, name: &str) -> Option<&Arc<Namespace>> {
        self.namespaces.values().find(|n| n.name.eq_ignore_ascii_case(name.trim_end_matches('.')))
    }

    /// The service of `namespace_id` named `name`.
    pub fn service_named(&self, namespace_id: &str, name: &str) -> Option<&Arc<ServiceRecord>> {
        self.services.values().find(|s| {
            s.service.namespace_id.as_deref() == Some(namespace_id) && s.service.name.eq_ignore_ascii_case(name)
        })
    }
}

/// A change to one Cloud Map resource: the whole record, or its removal.
#[derive(Debug, Clone)]
pub enum DiscoveryChange {
    Namespace(Arc<Namespace>),
    Service(Arc<ServiceRecord>),
    Instance(Arc<InstanceRecord>),
    Operation(Arc<Operation>),
    DeleteNamespace(String),
    DeleteService(String),
    DeleteInstance { service_id: String, instance_id: String },
    DeleteOperation(String),
}

const NAMESPACE: &str = "sd-namespace";
const SERVICE: &str = "sd-service";
const INSTANCE: &str = "sd-instance";
const OPERATION: &str = "sd-operation";

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("state values always serialize")
}

impl DiscoveryChange {
    pub fn apply(&self, d: &mut DiscoveryState) {
        match self {
            DiscoveryChange::Namespace(n) => drop(d.namespaces.insert(n.id.clone(), n.clone())),
            DiscoveryChange::Service(s) => drop(d.services.insert(s.service.id.clone(), s.clone())),
            DiscoveryChange::Instance(i) => {
                drop(d.instances.insert((i.service_id.clone(), i.instance.id.clone()), i.clone()))
            }
            DiscoveryChange::Operation(o) => drop(d.operations.insert(o.id.clone(), o.clone())),
            DiscoveryChange::DeleteNamespace(id) => drop(d.namespaces.remove(id)),
            DiscoveryChange::DeleteService(id) => drop(d.services.remove(id)),
            DiscoveryChange::DeleteInstance { service_id, instance_id } => {
                drop(d.instances.remove(&(service_id.clone(), instance_id.clone())))
            }
            DiscoveryChange::DeleteOperation(id) => drop(d.operations.remove(id)),
        }
    }

    pub fn to_mutation(&self, region: &str) -> Mutation {
        let put = |kind, key: String, value| Mutation::Put { kind, key: format!("{region}/{key}"), value };
        let delete = |kind, key: String| Mutation::Delete { kind, key: format!("{region}/{key}") };
        match self {
            DiscoveryChange::Namespace(n) => put(NAMESPACE, n.id.clone(), json(n)),
            DiscoveryChange::Service(s) => put(SERVICE, s.service.id.clone(), json(s)),
            DiscoveryChange::Instance(i) => put(INSTANCE, format!("{}/{}", i.service_id, i.instance.id), json(i)),
            DiscoveryChange::Operation(o) => put(OPERATION, o.id.clone(), json(o)),
            DiscoveryChange::DeleteNamespace(id) => delete(NAMESPACE, id.clone()),
            DiscoveryChange::DeleteService(id) => delete(SERVICE, id.clone()),
            DiscoveryChange::DeleteInstance { service_id, instance_id } => {
                delete(INSTANCE, format!("{service_id}/{instance_id}"))
            }
            DiscoveryChange::DeleteOperation(id) => delete(OPERATION, id.clone()),
        }
    }

    /// The change a stored record stands for, or `None` if the kind is not Cloud Map's.
    pub fn decode(r: &Record) -> Option<Result<DiscoveryChange, serde_json::Error>> {
        let v = &r.value;
        Some(match r.kind.as_str() {
            NAMESPACE => serde_json::from_slice(v).map(|x| DiscoveryChange::Namespace(Arc::new(x))),
            SERVICE => serde_json::from_slice(v).map(|x| DiscoveryChange::Service(Arc::new(x))),
            INSTANCE => serde_json::from_slice(v).map(|x| DiscoveryChange::Instance(Arc::new(x))),
            OPERATION => serde_json::from_slice(v).map(|x| DiscoveryChange::Operation(Arc::new(x))),
            _ => return None,
        })
    }
}
