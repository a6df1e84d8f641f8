//! Where ECS meets Cloud Map: checking a service's `serviceRegistries` as ECS checks them,
//! and the instance a task stands for in its registry (id: the task id; attributes: its
//! address, port and ECS's attributes).

use std::collections::BTreeMap;

use berth_model::{
    container_instance::HOST_ADDRESS_ATTRIBUTE,
    discovery::{CustomHealthStatus, Instance, RecordType, INIT_HEALTH_STATUS, INSTANCE_IPV4, INSTANCE_PORT},
    service::{Service, ServiceRegistry},
    task::Task,
    task_definition::TaskDefinition,
    EcsError,
};

use super::state::ServiceRecord;
use crate::{RegionState, TaskRecord};

/// The Cloud Map service a registry ARN names, if it exists.
pub fn registry_service<'r>(region: &'r RegionState, registry: &ServiceRegistry) -> Option<&'r ServiceRecord> {
    let arn = registry.registry_arn.as_deref()?;
    region.discovery.services.get(berth_model::discovery::id_of(arn)).map(|s| s.as_ref())
}

/// Checks a service's registries against the task definition and Cloud Map.
pub fn check_service_registries(
    region: &RegionState,
    td: &TaskDefinition,
    registries: &[ServiceRegistry],
) -> Result<(), EcsError> {
    if registries.len() > 1 {
        return Err(EcsError::invalid(
            "Each service may be associated with one service registry; multiple service registries are not supported.",
        ));
    }
    for registry in registries {
        let arn = registry
            .registry_arn
            .as_deref()
            .ok_or_else(|| EcsError::invalid("serviceRegistries: registryArn is required."))?;
        let service = registry_service(region, registry)
            .ok_or_else(|| EcsError::invalid(format!("The service registry {arn} does not exist in AWS Cloud Map.")))?;
        match (&registry.container_name, registry.container_port) {
            (Some(name), Some(port)) => {
                let container =
                    td.container_definitions.iter().find(|c| c.name.as_deref() == Some(name.as_str())).ok_or_else(
                        || EcsError::invalid(format!("The container {name} does not exist in the task definition.")),
                    )?;
                if !container.port_mappings.iter().any(|m| m.container_port.map(i64::from) == Some(port)) {
                    return Err(EcsError::invalid(format!(
                        "The container {name} did not have a container port {port} defined."
                    )));
                }
            }
            (None, None) => {}
            _ => {
                return Err(EcsError::invalid(
                    "serviceRegistries: containerName and containerPort must be given together.",
                ))
            }
        }
        let srv = service.service.has_record(RecordType::Srv);
        let mode = td.network_mode();
        match mode {
            "awsvpc" if srv && registry.port.is_none() && registry.container_port.is_none() => {
                return Err(EcsError::invalid(
                    "The service registry has an SRV record: give port, or containerName and containerPort.",
                ));
            }
            "bridge" | "host" if srv && registry.container_port.is_none() => {
                return Err(EcsError::invalid(format!(
                    "The service registry has an SRV record and the task definition uses the {mode} network mode: give containerName and containerPort."
                )));
            }
            "bridge" if service.service.has_record(RecordType::A) || service.service.has_record(RecordType::Aaaa) => {
                return Err(EcsError::invalid(
                    "Service discovery A and AAAA records need tasks with their own address (the awsvpc or host network mode); with bridge use SRV records.",
                ));
            }
            "bridge" | "host" if registry.port.is_some() => {
                return Err(EcsError::invalid(format!(
                    "serviceRegistries: port is only for the awsvpc network mode, not {mode}; give containerName and containerPort."
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The address a task is reached at: its own (awsvpc) or its host's.
fn task_address<'r>(region: &'r RegionState, task: &'r Task) -> Option<&'r str> {
    if let Some(ip) = task.private_ipv4() {
        return Some(ip);
    }
    let instance = region.instances.get(task.container_instance_arn.as_deref()?)?;
    instance.instance.attributes.iter().find(|a| a.name == HOST_ADDRESS_ATTRIBUTE)?.value.as_deref()
}

/// The port an SRV record of the task gives: the awsvpc port or container port, or the
/// host port the container port is bound to (bridge).
fn task_port(task: &Task, registry: &ServiceRegistry) -> Option<u16> {
    if task.private_ipv4().is_some() {
        return registry.port.or(registry.container_port).and_then(|p| u16::try_from(p).ok());
    }
    let (name, port) = (registry.container_name.as_deref()?, registry.container_port?);
    let container = task.containers.iter().find(|c| c.name == name)?;
    let binding = container.network_bindings.iter().find(|b| b.container_port.map(i64::from) == Some(port));
    binding.and_then(|b| b.host_port).and_then(|p| u16::try_from(p).ok()).or(u16::try_from(port).ok())
}

/// The Cloud Map instance a task stands for, or `None` while its address is unknown.
pub fn task_instance(
    region_name: &str,
    region: &RegionState,
    svc: &Service,
    cluster: &str,
    registry: &ServiceRegistry,
    service: &ServiceRecord,
    t: &TaskRecord,
) -> Option<Instance> {
    let task = &t.task;
    let mut attributes = BTreeMap::new();
    let needs_address = service.service.has_record(RecordType::A) || service.service.has_record(RecordType::Srv);
    match task_address(region, task) {
        Some(ip) => drop(attributes.insert(INSTANCE_IPV4.to_string(), ip.to_string())),
        None if needs_address => return None,
        None => {}
    }
    if service.service.has_record(RecordType::Srv) {
        attributes.insert(INSTANCE_PORT.to_string(), task_port(task, registry)?.to_string());
    }
    if service.service.custom_health() {
        attributes.insert(INIT_HEALTH_STATUS.to_string(), CustomHealthStatus::Healthy.as_str().to_string());
    }
    if let Some(zone) = &task.availability_zone {
        attributes.insert("AVAILABILITY_ZONE".to_string(), zone.clone());
    }
    attributes.insert("REGION".to_string(), region_name.to_string());
    attributes.insert("ECS_CLUSTER_NAME".to_string(), cluster.to_string());
    attributes.insert("ECS_SERVICE_NAME".to_string(), svc.service_name.clone());
    let family = task.task_definition_arn.rsplit('/').next().and_then(|f| f.rsplit_once(':')).map(|(f, _)| f);
    if let Some(family) = family {
        attributes.insert("ECS_TASK_DEFINITION_FAMILY".to_string(), family.to_string());
    }
    Some(Instance {
        id: task.id().to_string(),
        creator_request_id: None,
        attributes,
        created_by_account: berth_model::Arn::parse(&svc.service_arn).map(|a| a.account),
    })
}

/// Every Cloud Map registration that ECS made for `task` (under any registry).
pub fn registrations_of<'r>(
    region: &'r RegionState,
    task: &Task,
) -> Vec<(&'r ServiceRecord, &'r super::InstanceRecord)> {
    let d = &region.discovery;
    d.services
        .values()
        .filter_map(|s| {
            let r = d.instances.get(&(s.service.id.clone(), task.id().to_string()))?;
            (r.ecs_task.as_deref() == Some(task.task_arn.as_str())).then_some((s.as_ref(), r.as_ref()))
        })
        .collect()
}

/// The longest TTL of the records `svc`'s registries give (what resolvers may cache).
pub fn record_ttl(region: &RegionState, registries: &[ServiceRegistry]) -> f64 {
    registries
        .iter()
        .filter_map(|r| registry_service(region, r))
        .flat_map(|s| s.service.records().iter().map(|r| r.ttl))
        .max()
        .unwrap_or(0) as f64
}

impl crate::Control {
    /// ListServicesByNamespace: the services (of every cluster) registered in a namespace.
    pub fn list_services_by_namespace(
        &self,
        caller: &crate::Caller,
        req: berth_model::ecs::ListServicesByNamespaceRequest,
    ) -> Result<berth_model::ecs::ListServicesResponse, EcsError> {
        let namespace = req.namespace.clone().ok_or_else(|| EcsError::invalid("namespace is required."))?;
        self.read(|state| {
            let r = state.region(&caller.region);
            let ns = if namespace.starts_with("arn:") {
                r.discovery.namespaces.values().find(|n| n.arn == namespace)
            } else {
                r.discovery.namespace_named(&namespace)
            }
            .ok_or_else(|| EcsError::NamespaceNotFound(format!("Namespace {namespace} was not found.")))?;
            let arns = r.services.values().filter(|s| {
                s.service.status != berth_model::status::ServiceStatus::Inactive
                    && s.service.service_registries.iter().any(|reg| {
                        registry_service(r, reg)
                            .is_some_and(|cm| cm.service.namespace_id.as_deref() == Some(ns.id.as_str()))
                    })
            });
            let page = crate::paginate::PageRequest::of(&req.next_token, req.max_results).page(
                100,
                true,
                arns.map(|s| (s.service.service_arn.clone(), s.service.service_arn.clone())),
            )?;
            Ok(berth_model::ecs::ListServicesResponse { service_arns: page.items, next_token: page.next_token })
        })
    }
}
