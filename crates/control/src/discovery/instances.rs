//! RegisterInstance, DeregisterInstance, GetInstance, ListInstances, DiscoverInstances,
//! DiscoverInstancesRevision, GetInstancesHealthStatus and UpdateInstanceCustomHealthStatus.

use std::{collections::BTreeMap, sync::Arc};

use berth_model::discovery::{
    error::required,
    requests::{
        DiscoverInstancesRequest, DiscoverInstancesResponse, DiscoverInstancesRevisionResponse, Empty,
        GetInstanceResponse, GetInstancesHealthStatusRequest, GetInstancesHealthStatusResponse, InstanceRequest,
        ListInstancesRequest, ListInstancesResponse, OperationIdResponse, RegisterInstanceRequest,
        UpdateInstanceCustomHealthStatusRequest,
    },
    CustomHealthStatus, DiscoveryError, DiscoveryService, HealthStatus, HealthStatusFilter, HttpInstanceSummary,
    Instance, OperationTargetType as Target, OperationType, RecordType, INIT_HEALTH_STATUS, INSTANCE_CNAME,
    INSTANCE_IPV4, INSTANCE_IPV6, INSTANCE_PORT,
};

use super::{
    common::{self, operation, push},
    state::{DiscoveryState, InstanceRecord, ServiceRecord},
    DiscoveryChange,
};
use crate::{state::Change, Caller, Control};

const MAX_CUSTOM_ATTRIBUTES: usize = 30;

/// Checks an instance's attributes against its service's records, as Cloud Map does.
pub(super) fn check_attributes(
    service: &DiscoveryService,
    attributes: &BTreeMap<String, String>,
) -> Result<(), DiscoveryError> {
    let missing = |key: &str, why: &str| {
        DiscoveryError::invalid_input(format!("Attribute {key} is required because the service {why}"))
    };
    let has = |k: &str| attributes.contains_key(k);
    if service.has_record(RecordType::A) && !has(INSTANCE_IPV4) {
        return Err(missing(INSTANCE_IPV4, "has an A record"));
    }
    if service.has_record(RecordType::Aaaa) && !has(INSTANCE_IPV6) {
        return Err(missing(INSTANCE_IPV6, "has an AAAA record"));
    }
    if service.has_record(RecordType::Cname) && !has(INSTANCE_CNAME) {
        return Err(missing(INSTANCE_CNAME, "has a CNAME record"));
    }
    if service.has_record(RecordType::Srv) {
        if !has(INSTANCE_PORT) {
            return Err(missing(INSTANCE_PORT, "has an SRV record"));
        }
        if !has(INSTANCE_IPV4) && !has(INSTANCE_IPV6) {
            return Err(missing("AWS_INSTANCE_IPV4 or AWS_INSTANCE_IPV6", "has an SRV record"));
        }
    }
    if let Some(ip) = attributes.get(INSTANCE_IPV4) {
        ip.parse::<std::net::Ipv4Addr>()
            .map_err(|_| DiscoveryError::invalid_input(format!("{INSTANCE_IPV4} '{ip}' is not an IPv4 address")))?;
    }
    if let Some(ip) = attributes.get(INSTANCE_IPV6) {
        ip.parse::<std::net::Ipv6Addr>()
            .map_err(|_| DiscoveryError::invalid_input(format!("{INSTANCE_IPV6} '{ip}' is not an IPv6 address")))?;
    }
    if let Some(port) = attributes.get(INSTANCE_PORT) {
        if !port.parse::<u16>().is_ok_and(|p| p > 0) {
            return Err(DiscoveryError::invalid_input(format!(
                "{INSTANCE_PORT} '{port}' must be a port from 1 to 65535"
            )));
        }
    }
    if let Some(s) = attributes.get(INIT_HEALTH_STATUS) {
        if CustomHealthStatus::parse(s).is_none() {
            return Err(DiscoveryError::invalid_input(format!(
                "{INIT_HEALTH_STATUS} '{s}' must be HEALTHY or UNHEALTHY"
            )));
        }
    }
    let custom = attributes.keys().filter(|k| !k.starts_with("AWS_")).count();
    let size: usize = attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
    if custom > MAX_CUSTOM_ATTRIBUTES || size > 5000 {
        return Err(DiscoveryError::invalid_input(
            "An instance takes at most 30 custom attributes, 5,000 characters in all",
        ));
    }
    for (k, v) in attributes {
        if k.is_empty() || k.len() > 255 || v.len() > 1024 {
            return Err(DiscoveryError::invalid_input(format!("Attribute '{k}' is too long or empty")));
        }
    }
    Ok(())
}

/// Registers (or updates) an instance: the record, the service's new revision and the
/// operation. Returns the operation id.
pub(crate) fn register(
    d: &DiscoveryState,
    caller: &Caller,
    service: &ServiceRecord,
    instance: Instance,
    ecs_task: Option<String>,
    changes: &mut Vec<Change>,
) -> Result<String, DiscoveryError> {
    check_attributes(&service.service, &instance.attributes)?;
    let key = (service.service.id.clone(), instance.id.clone());
    let custom_health = service.service.custom_health().then(|| {
        // A re-registration keeps the reported status; a new one starts as it says.
        d.instances.get(&key).and_then(|r| r.custom_health).unwrap_or_else(|| {
            instance.attribute(INIT_HEALTH_STATUS).and_then(CustomHealthStatus::parse).unwrap_or_default()
        })
    });
    let id = instance.id.clone();
    let record = InstanceRecord { service_id: service.service.id.clone(), instance, custom_health, ecs_task };
    push(changes, &caller.region, DiscoveryChange::Instance(Arc::new(record)));
    bump_revision(service, caller, changes);
    Ok(operation(
        d,
        caller,
        OperationType::RegisterInstance,
        &[(Target::Service, &service.service.id), (Target::Instance, &id)],
        changes,
    ))
}

/// Deregisters an instance; returns the operation id.
pub(crate) fn deregister(
    d: &DiscoveryState,
    caller: &Caller,
    service: &ServiceRecord,
    instance_id: &str,
    changes: &mut Vec<Change>,
) -> String {
    let service_id = service.service.id.clone();
    push(
        changes,
        &caller.region,
        DiscoveryChange::DeleteInstance { service_id: service_id.clone(), instance_id: instance_id.to_string() },
    );
    bump_revision(service, caller, changes);
    operation(
        d,
        caller,
        OperationType::DeregisterInstance,
        &[(Target::Service, &service_id), (Target::Instance, instance_id)],
        changes,
    )
}

pub(crate) fn bump_revision(service: &ServiceRecord, caller: &Caller, changes: &mut Vec<Change>) {
    // Several changes to one service in one write: count from the latest pushed.
    let latest = changes.iter().rev().find_map(|c| match c {
        Change::Discovery { change: DiscoveryChange::Service(s), .. } if s.service.id == service.service.id => {
            Some(s.clone())
        }
        _ => None,
    });
    let mut next = latest.map_or_else(|| service.clone(), |s| s.as_ref().clone());
    next.instances_revision += 1;
    push(changes, &caller.region, DiscoveryChange::Service(Arc::new(next)));
}

fn service<'a>(d: &'a DiscoveryState, id: &str) -> Result<&'a Arc<ServiceRecord>, DiscoveryError> {
    d.services.get(id).ok_or_else(|| DiscoveryError::service_not_found(id))
}

impl Control {
    pub async fn register_instance(
        &self,
        caller: &Caller,
        req: RegisterInstanceRequest,
    ) -> Result<OperationIdResponse, DiscoveryError> {
        let service_id = common::required_id(&req.service_id, "ServiceId")?.to_string();
        let instance_id = required(&req.instance_id, "InstanceId")?.clone();
        let valid_id = instance_id.len() <= 64
            && !instance_id.is_empty()
            && instance_id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_/:.@-".contains(&b));
        if !valid_id {
            return Err(DiscoveryError::invalid_input(format!("InstanceId '{instance_id}' is not valid")));
        }
        let attributes = required(&req.attributes, "Attributes")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes: &mut Vec<Change>| {
            let d = &state.region(&caller.region).discovery;
            let s = service(d, &service_id)?;
            let key = (service_id.clone(), instance_id.clone());
            if d.instances.get(&key).is_some_and(|r| r.ecs_task.is_some()) {
                return Err(DiscoveryError::resource_in_use(format!(
                    "Instance {instance_id} is registered by an ECS service; ECS manages it"
                )));
            }
            if let Some(creator) = &req.creator_request_id {
                let registered_by = |id: &str| {
                    d.operations
                        .values()
                        .filter(|o| o.kind == OperationType::RegisterInstance)
                        .filter(|o| o.targets.get(&Target::Service) == Some(&service_id))
                        .filter(|o| o.targets.get(&Target::Instance).map(String::as_str) == Some(id))
                        .max_by(|a, b| a.create_date.total_cmp(&b.create_date))
                        .map(|o| o.id.clone())
                };
                let same = d.instances_of(&service_id).find(|r| r.instance.creator_request_id.as_ref() == Some(creator));
                match same {
                    // A retry of the request that registered this instance: its operation.
                    Some(r) if r.instance.id == instance_id && r.instance.attributes == attributes => {
                        if let Some(op) = registered_by(&instance_id) {
                            return Ok(OperationIdResponse { operation_id: op });
                        }
                    }
                    // The id already registered another instance.
                    Some(r) if r.instance.id != instance_id => {
                        return Err(DiscoveryError::duplicate_request(
                            format!(
                                "CreatorRequestId {creator} already registered instance {}: use a new CreatorRequestId for another instance",
                                r.instance.id
                            ),
                            &registered_by(&r.instance.id).unwrap_or_default(),
                        ));
                    }
                    _ => {}
                }
            }
            let instance = Instance {
                id: instance_id,
                creator_request_id: req.creator_request_id.clone(),
                attributes,
                created_by_account: Some(caller.account.clone()),
            };
            let operation_id = register(d, &caller, s, instance, None, changes)?;
            Ok(OperationIdResponse { operation_id })
        })
        .await
    }

    pub async fn deregister_instance(
        &self,
        caller: &Caller,
        req: InstanceRequest,
    ) -> Result<OperationIdResponse, DiscoveryError> {
        let service_id = common::required_id(&req.service_id, "ServiceId")?.to_string();
        let instance_id = required(&req.instance_id, "InstanceId")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes: &mut Vec<Change>| {
            let d = &state.region(&caller.region).discovery;
            let s = service(d, &service_id)?;
            if !d.instances.contains_key(&(service_id.clone(), instance_id.clone())) {
                return Err(DiscoveryError::instance_not_found(&instance_id));
            }
            let operation_id = deregister(d, &caller, s, &instance_id, changes);
            Ok(OperationIdResponse { operation_id })
        })
        .await
    }

    pub fn get_instance(&self, caller: &Caller, req: InstanceRequest) -> Result<GetInstanceResponse, DiscoveryError> {
        let service_id = common::required_id(&req.service_id, "ServiceId")?;
        let instance_id = required(&req.instance_id, "InstanceId")?;
        self.read(|state| {
            let d = &state.region(&caller.region).discovery;
            service(d, service_id)?;
            let r = d
                .instances
                .get(&(service_id.to_string(), instance_id.clone()))
                .ok_or_else(|| DiscoveryError::instance_not_found(instance_id))?;
            Ok(GetInstanceResponse { resource_owner: caller.account.clone(), instance: r.instance.clone() })
        })
    }

    pub fn list_instances(
        &self,
        caller: &Caller,
        req: ListInstancesRequest,
    ) -> Result<ListInstancesResponse, DiscoveryError> {
        let service_id = common::required_id(&req.service_id, "ServiceId")?;
        self.read(|state| {
            let d = &state.region(&caller.region).discovery;
            service(d, service_id)?;
            let items = d.instances_of(service_id).map(|r| (r.instance.id.clone(), r.instance.clone()));
            let (instances, next_token) = common::page(&req.next_token, req.max_results, 100, items)?;
            Ok(ListInstancesResponse { resource_owner: caller.account.clone(), instances, next_token })
        })
    }

    pub fn discover_instances(
        &self,
        caller: &Caller,
        req: DiscoverInstancesRequest,
    ) -> Result<DiscoverInstancesResponse, DiscoveryError> {
        let namespace = required(&req.namespace_name, "NamespaceName")?;
        let name = required(&req.service_name, "ServiceName")?;
        let max = req.max_results.unwrap_or(100);
        if !(1..=1000).contains(&max) {
            return Err(DiscoveryError::invalid_input(format!("MaxResults {max} must be between 1 and 1000")));
        }
        self.read(|state| {
            let d = &state.region(&caller.region).discovery;
            let (ns, s) = discovered_service(d, namespace, name)?;
            let all: Vec<&Arc<InstanceRecord>> = d
                .instances_of(&s.service.id)
                .filter(|r| attributes_match(&r.instance.attributes, &req.query_parameters))
                .collect();
            // Optional parameters narrow the answer only where something still matches.
            let optional: Vec<&Arc<InstanceRecord>> = all
                .iter()
                .copied()
                .filter(|r| attributes_match(&r.instance.attributes, &req.optional_parameters))
                .collect();
            let candidates = if optional.is_empty() { all } else { optional };
            let filter = req.health_status.unwrap_or(HealthStatusFilter::All);
            let healthy: Vec<&Arc<InstanceRecord>> =
                candidates.iter().copied().filter(|r| r.health() == HealthStatus::Healthy).collect();
            let chosen: Vec<&Arc<InstanceRecord>> = match filter {
                HealthStatusFilter::All => candidates,
                HealthStatusFilter::Healthy => healthy,
                HealthStatusFilter::Unhealthy => {
                    candidates.into_iter().filter(|r| r.health() == HealthStatus::Unhealthy).collect()
                }
                HealthStatusFilter::HealthyOrElseAll if healthy.is_empty() => candidates,
                HealthStatusFilter::HealthyOrElseAll => healthy,
            };
            let instances = chosen
                .into_iter()
                .take(max as usize)
                .map(|r| HttpInstanceSummary {
                    instance_id: r.instance.id.clone(),
                    namespace_name: ns.name.clone(),
                    service_name: s.service.name.clone(),
                    health_status: r.health(),
                    attributes: r.instance.attributes.clone(),
                })
                .collect();
            Ok(DiscoverInstancesResponse { instances, instances_revision: s.instances_revision })
        })
    }

    pub fn discover_instances_revision(
        &self,
        caller: &Caller,
        req: DiscoverInstancesRequest,
    ) -> Result<DiscoverInstancesRevisionResponse, DiscoveryError> {
        let namespace = required(&req.namespace_name, "NamespaceName")?;
        let name = required(&req.service_name, "ServiceName")?;
        self.read(|state| {
            let d = &state.region(&caller.region).discovery;
            let (_, s) = discovered_service(d, namespace, name)?;
            Ok(DiscoverInstancesRevisionResponse { instances_revision: s.instances_revision })
        })
    }

    pub fn get_instances_health_status(
        &self,
        caller: &Caller,
        req: GetInstancesHealthStatusRequest,
    ) -> Result<GetInstancesHealthStatusResponse, DiscoveryError> {
        let service_id = common::required_id(&req.service_id, "ServiceId")?;
        self.read(|state| {
            let d = &state.region(&caller.region).discovery;
            service(d, service_id)?;
            let mut items = Vec::new();
            for r in d.instances_of(service_id) {
                if req.instances.is_empty() || req.instances.contains(&r.instance.id) {
                    items.push((r.instance.id.clone(), (r.instance.id.clone(), r.health())));
                }
            }
            if let Some(missing) = req.instances.iter().find(|i| !items.iter().any(|(k, _)| k == *i)) {
                return Err(DiscoveryError::instance_not_found(missing));
            }
            let (page, next_token) = common::page(&req.next_token, req.max_results, 100, items.into_iter())?;
            Ok(GetInstancesHealthStatusResponse { status: page.into_iter().collect(), next_token })
        })
    }

    pub async fn update_instance_custom_health_status(
        &self,
        caller: &Caller,
        req: UpdateInstanceCustomHealthStatusRequest,
    ) -> Result<Empty, DiscoveryError> {
        let service_id = common::required_id(&req.service_id, "ServiceId")?.to_string();
        let instance_id = required(&req.instance_id, "InstanceId")?.clone();
        let status = *required(&req.status, "Status")?;
        let caller = caller.clone();
        self.write(move |state, changes: &mut Vec<Change>| {
            let d = &state.region(&caller.region).discovery;
            let s = service(d, &service_id)?;
            let r = d
                .instances
                .get(&(service_id.clone(), instance_id.clone()))
                .ok_or_else(|| DiscoveryError::instance_not_found(&instance_id))?;
            if !s.service.custom_health() {
                return Err(DiscoveryError::custom_health_not_found(&service_id));
            }
            set_health(s, r, status, &caller, changes);
            Ok(Empty {})
        })
        .await
    }
}

/// Records an instance's custom health (and the service's new revision) if it changed.
pub(crate) fn set_health(
    s: &ServiceRecord,
    r: &InstanceRecord,
    status: CustomHealthStatus,
    caller: &Caller,
    changes: &mut Vec<Change>,
) {
    if r.custom_health != Some(status) {
        let next = InstanceRecord { custom_health: Some(status), ..r.clone() };
        push(changes, &caller.region, DiscoveryChange::Instance(Arc::new(next)));
        bump_revision(s, caller, changes);
    }
}

fn attributes_match(attributes: &BTreeMap<String, String>, wanted: &BTreeMap<String, String>) -> bool {
    wanted.iter().all(|(k, v)| attributes.get(k) == Some(v))
}

fn discovered_service<'a>(
    d: &'a DiscoveryState,
    namespace: &str,
    name: &str,
) -> Result<(&'a berth_model::discovery::Namespace, &'a Arc<ServiceRecord>), DiscoveryError> {
    let ns = d.namespace_named(namespace).ok_or_else(|| DiscoveryError::namespace_not_found(namespace))?;
    let s = d.service_named(&ns.id, name).ok_or_else(|| DiscoveryError::service_not_found(name))?;
    Ok((ns, s))
}
