//! CreateService, GetService, ListServices, UpdateService and DeleteService.

use std::sync::Arc;

use berth_model::discovery::{
    error::required,
    requests::{
        CreateServiceRequest, IdRequest, ListRequest, ListServicesResponse, OperationIdResponse, ServiceResponse,
        UpdateServiceRequest,
    },
    DiscoveryError, DiscoveryService, DnsConfig, DnsRecord, NamespaceType, OperationTargetType as Target,
    OperationType, RecordType, RoutingPolicy, ServiceType,
};

use super::{
    common::{self, operation, push},
    state::{DiscoveryState, ServiceRecord},
    DiscoveryChange,
};
use crate::{state::Change, Caller, Control};

fn valid_name(name: &str) -> Result<(), DiscoveryError> {
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.len() <= 127 && name.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(DiscoveryError::invalid_input(format!("Service name '{name}' is not a valid DNS label sequence")))
    }
}

/// Checks a service's DNS records as Cloud Map does.
fn valid_records(records: &[DnsRecord], policy: RoutingPolicy) -> Result<(), DiscoveryError> {
    if records.is_empty() {
        return Err(DiscoveryError::invalid_input("DnsConfig.DnsRecords must name at least one record"));
    }
    let has = |k: RecordType| records.iter().any(|r| r.kind == k);
    for (i, r) in records.iter().enumerate() {
        if !(0..=i64::from(i32::MAX)).contains(&r.ttl) {
            return Err(DiscoveryError::invalid_input(format!(
                "DNS record TTL {} must be between 0 and 2147483647",
                r.ttl
            )));
        }
        if records[..i].iter().any(|o| o.kind == r.kind) {
            return Err(DiscoveryError::invalid_input(format!("DnsRecords lists the {} record twice", r.kind)));
        }
    }
    if has(RecordType::Cname) && records.len() > 1 {
        return Err(DiscoveryError::invalid_input("A CNAME record cannot be combined with other records"));
    }
    if has(RecordType::Cname) && policy == RoutingPolicy::Multivalue {
        return Err(DiscoveryError::invalid_input("A CNAME record requires the WEIGHTED routing policy"));
    }
    Ok(())
}

/// A service as answered: with its instance count.
fn described(d: &DiscoveryState, r: &ServiceRecord) -> DiscoveryService {
    let mut s = r.service.clone();
    s.instance_count = Some(d.instances_of(&s.id).count() as i64);
    s
}

impl Control {
    pub async fn create_discovery_service(
        &self,
        caller: &Caller,
        req: CreateServiceRequest,
    ) -> Result<ServiceResponse, DiscoveryError> {
        let name = required(&req.name, "Name")?.clone();
        valid_name(&name)?;
        common::description(&req.description)?;
        // The only type a caller may ask for (ServiceTypeOption) is HTTP.
        let kind = match req.kind.as_deref().map(|t| (t, ServiceType::parse(t))) {
            None => None,
            Some((_, Some(ServiceType::Http))) => Some(ServiceType::Http),
            Some((other, _)) => return Err(DiscoveryError::invalid_input(format!("Type '{other}' must be HTTP"))),
        };
        if req.health_check_config.is_some() && req.health_check_custom_config.is_some() {
            return Err(DiscoveryError::invalid_input(
                "A service takes HealthCheckConfig or HealthCheckCustomConfig, not both",
            ));
        }
        if let Some(h) = &req.health_check_config {
            if !matches!(h.kind.as_str(), "HTTP" | "HTTPS" | "TCP") {
                return Err(DiscoveryError::invalid_input(format!(
                    "Health check type '{}' must be HTTP, HTTPS or TCP",
                    h.kind
                )));
            }
        }
        for threshold in [
            req.health_check_config.as_ref().and_then(|h| h.failure_threshold),
            req.health_check_custom_config.as_ref().and_then(|h| h.failure_threshold),
        ]
        .into_iter()
        .flatten()
        {
            if !(1..=10).contains(&threshold) {
                return Err(DiscoveryError::invalid_input(format!(
                    "FailureThreshold {threshold} must be between 1 and 10"
                )));
            }
        }
        let namespace_id = req
            .namespace_id
            .as_deref()
            .or(req.dns_config.as_ref().and_then(|d| d.namespace_id.as_deref()))
            .map(|n| berth_model::discovery::id_of(n).to_string())
            .ok_or_else(|| DiscoveryError::invalid_input("NamespaceId is required"))?;
        let tags = common::checked_tags(&req.tags)?;
        let caller = caller.clone();
        self.write(move |state, changes: &mut Vec<Change>| {
            let d = &state.region(&caller.region).discovery;
            let ns =
                d.namespaces.get(&namespace_id).ok_or_else(|| DiscoveryError::namespace_not_found(&namespace_id))?;
            if let Some(existing) = d.service_named(&namespace_id, &name) {
                let s = &existing.service;
                return Err(DiscoveryError::service_already_exists(
                    &name,
                    &s.id,
                    &s.arn,
                    s.creator_request_id.as_deref(),
                ));
            }
            let dns_config = match (&req.dns_config, ns.kind) {
                (Some(_), NamespaceType::Http) => {
                    return Err(DiscoveryError::invalid_input("A service in an HTTP namespace takes no DnsConfig"))
                }
                (Some(c), _) => {
                    let policy = c.routing_policy.unwrap_or_default();
                    valid_records(&c.dns_records, policy)?;
                    Some(DnsConfig {
                        namespace_id: Some(namespace_id.clone()),
                        routing_policy: Some(policy),
                        dns_records: c.dns_records.clone(),
                    })
                }
                (None, _) => None,
            };
            if req.health_check_config.is_some() && ns.kind != NamespaceType::DnsPublic {
                return Err(DiscoveryError::invalid_input(
                    "HealthCheckConfig (Route 53 health checks) is only for services in public DNS namespaces",
                ));
            }
            let kind = kind.unwrap_or(match (&dns_config, ns.kind) {
                (_, NamespaceType::Http) | (None, _) => ServiceType::Http,
                (Some(_), _) => ServiceType::DnsHttp,
            });
            let id = common::new_id("srv-");
            let service = DiscoveryService {
                arn: berth_model::discovery::arn(&caller.region, &caller.account, "service", &id),
                id,
                resource_owner: Some(caller.account.clone()),
                name,
                namespace_id: Some(namespace_id.clone()),
                description: req.description.clone(),
                instance_count: None,
                dns_config,
                kind,
                health_check_config: req.health_check_config.clone(),
                health_check_custom_config: req.health_check_custom_config.clone(),
                create_date: berth_model::time::now(),
                creator_request_id: req.creator_request_id.clone(),
                created_by_account: Some(caller.account.clone()),
            };
            common::put_tags(changes, &caller.region, &service.arn, tags);
            let record = ServiceRecord { service: service.clone(), instances_revision: 0 };
            push(changes, &caller.region, DiscoveryChange::Service(Arc::new(record)));
            Ok(ServiceResponse { service: DiscoveryService { instance_count: Some(0), ..service } })
        })
        .await
    }

    pub fn get_discovery_service(&self, caller: &Caller, req: IdRequest) -> Result<ServiceResponse, DiscoveryError> {
        let id = common::required_id(&req.id, "Id")?;
        self.read(|state| {
            let d = &state.region(&caller.region).discovery;
            let r = d.services.get(id).ok_or_else(|| DiscoveryError::service_not_found(id))?;
            Ok(ServiceResponse { service: described(d, r) })
        })
    }

    pub fn list_discovery_services(
        &self,
        caller: &Caller,
        req: ListRequest,
    ) -> Result<ListServicesResponse, DiscoveryError> {
        self.read(|state| {
            let d = &state.region(&caller.region).discovery;
            let mut matching = Vec::new();
            for r in d.services.values() {
                let mut keep = true;
                for f in &req.filters {
                    let value = match f.name.as_str() {
                        "NAMESPACE_ID" => r.service.namespace_id.clone().unwrap_or_default(),
                        "RESOURCE_OWNER" => caller.account.clone(),
                        other => {
                            return Err(DiscoveryError::invalid_input(format!(
                                "Filter name '{other}' must be NAMESPACE_ID or RESOURCE_OWNER"
                            )))
                        }
                    };
                    keep &= common::filter_matches(f, &value)?;
                }
                if keep {
                    matching.push((r.service.id.clone(), described(d, r)));
                }
            }
            let (services, next_token) = common::page(&req.next_token, req.max_results, 100, matching.into_iter())?;
            Ok(ListServicesResponse { services, next_token })
        })
    }

    pub async fn update_discovery_service(
        &self,
        caller: &Caller,
        req: UpdateServiceRequest,
    ) -> Result<OperationIdResponse, DiscoveryError> {
        let id = common::required_id(&req.id, "Id")?.to_string();
        let change = required(&req.service, "Service")?.clone();
        common::description(&change.description)?;
        let caller = caller.clone();
        self.write(move |state, changes: &mut Vec<Change>| {
            let d = &state.region(&caller.region).discovery;
            let r = d.services.get(&id).ok_or_else(|| DiscoveryError::service_not_found(&id))?;
            let mut next = r.as_ref().clone();
            if let Some(description) = &change.description {
                next.service.description = Some(description.clone());
            }
            if let Some(dns) = &change.dns_config {
                let Some(config) = next.service.dns_config.as_mut() else {
                    return Err(DiscoveryError::invalid_input(format!("Service {id} has no DnsConfig to update")));
                };
                valid_records(&dns.dns_records, config.routing_policy.unwrap_or_default())?;
                // The record types stay; their TTLs change.
                let same_types = dns.dns_records.len() == config.dns_records.len()
                    && dns.dns_records.iter().all(|r| config.dns_records.iter().any(|o| o.kind == r.kind));
                if !same_types {
                    return Err(DiscoveryError::invalid_input(
                        "UpdateService can change DNS record TTLs, not their types",
                    ));
                }
                config.dns_records = dns.dns_records.clone();
            }
            if let Some(h) = &change.health_check_config {
                if next.service.health_check_config.is_none() {
                    return Err(DiscoveryError::invalid_input(format!(
                        "Service {id} has no HealthCheckConfig to update"
                    )));
                }
                next.service.health_check_config = Some(h.clone());
            }
            push(changes, &caller.region, DiscoveryChange::Service(Arc::new(next)));
            let operation_id = operation(d, &caller, OperationType::UpdateService, &[(Target::Service, &id)], changes);
            Ok(OperationIdResponse { operation_id })
        })
        .await
    }

    pub async fn delete_discovery_service(
        &self,
        caller: &Caller,
        req: IdRequest,
    ) -> Result<berth_model::discovery::requests::Empty, DiscoveryError> {
        let id = common::required_id(&req.id, "Id")?.to_string();
        let caller = caller.clone();
        self.write(move |state, changes: &mut Vec<Change>| {
            let d = &state.region(&caller.region).discovery;
            let r = d.services.get(&id).ok_or_else(|| DiscoveryError::service_not_found(&id))?;
            if d.instances_of(&id).next().is_some() {
                return Err(DiscoveryError::resource_in_use(format!(
                    "Service {id} has registered instances; deregister them first"
                )));
            }
            common::put_tags(changes, &caller.region, &r.service.arn, Vec::new());
            push(changes, &caller.region, DiscoveryChange::DeleteService(id.clone()));
            Ok(berth_model::discovery::requests::Empty {})
        })
        .await
    }
}
