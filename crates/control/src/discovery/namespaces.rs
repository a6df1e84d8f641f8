//! CreatePrivateDnsNamespace, CreatePublicDnsNamespace, CreateHttpNamespace, GetNamespace,
//! ListNamespaces, the Update*Namespace calls and DeleteNamespace.

use std::sync::Arc;

use berth_model::discovery::{
    error::required,
    requests::{
        CreateNamespaceRequest, GetNamespaceResponse, IdRequest, ListNamespacesResponse, ListRequest,
        OperationIdResponse, UpdateNamespaceRequest,
    },
    DiscoveryError, DnsProperties, HttpProperties, Namespace, NamespaceProperties, NamespaceType,
    OperationTargetType as Target, OperationType, Soa,
};

use super::{
    common::{self, operation, push},
    state::DiscoveryState,
    DiscoveryChange,
};
use crate::{state::Change, Caller, Control};

/// The SOA TTL of a DNS namespace created without one (seconds), as Cloud Map sets it.
const DEFAULT_SOA_TTL: i64 = 15;

fn valid_name(kind: NamespaceType, name: &str) -> Result<(), DiscoveryError> {
    let printable = !name.is_empty() && name.bytes().all(|b| (b'!'..=b'~').contains(&b)) && !name.starts_with("arn:");
    let dns_ok = name.trim_end_matches('.').split('.').all(|label| {
        (1..=63).contains(&label.len())
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    let ok = match kind {
        NamespaceType::Http => printable && name.len() <= 1024,
        _ => printable && name.len() <= 253 && dns_ok,
    };
    if ok {
        Ok(())
    } else {
        Err(DiscoveryError::invalid_input(format!("Namespace name '{name}' is not a valid {kind} namespace name")))
    }
}

/// A namespace as answered: with how many services it holds.
fn described(d: &DiscoveryState, n: &Namespace) -> Namespace {
    let mut out = n.clone();
    out.service_count = Some(d.services_in(&n.id).count() as i64);
    out
}

impl Control {
    pub async fn create_namespace(
        &self,
        caller: &Caller,
        kind: NamespaceType,
        req: CreateNamespaceRequest,
    ) -> Result<OperationIdResponse, DiscoveryError> {
        let name = required(&req.name, "Name")?.trim_end_matches('.').to_string();
        valid_name(kind, &name)?;
        common::description(&req.description)?;
        match kind {
            NamespaceType::DnsPrivate => drop(required(&req.vpc, "Vpc")?),
            _ if req.vpc.is_some() => {
                return Err(DiscoveryError::invalid_input(format!("A {kind} namespace takes no Vpc")));
            }
            _ => {}
        }
        if kind == NamespaceType::Http && req.properties.is_some() {
            return Err(DiscoveryError::invalid_input("An HTTP namespace takes no Properties"));
        }
        let soa_ttl = req.properties.as_ref().map_or(DEFAULT_SOA_TTL, |p| p.dns_properties.soa.ttl);
        if !(0..=i64::from(i32::MAX)).contains(&soa_ttl) {
            return Err(DiscoveryError::invalid_input(format!("SOA TTL {soa_ttl} must be between 0 and 2147483647")));
        }
        let tags = common::checked_tags(&req.tags)?;
        let caller = caller.clone();
        self.write(move |state, changes: &mut Vec<Change>| {
            let d = &state.region(&caller.region).discovery;
            let created_by = |id: &str| {
                d.operations
                    .values()
                    .find(|o| o.kind == OperationType::CreateNamespace && o.targets.get(&Target::Namespace).map(String::as_str) == Some(id))
                    .map(|o| o.id.clone())
            };
            if let Some(creator) = &req.creator_request_id {
                let other = d.namespaces.values().find(|n| {
                    n.creator_request_id.as_ref() == Some(creator) && !n.name.eq_ignore_ascii_case(name.trim_end_matches('.'))
                });
                if let Some(other) = other {
                    return Err(DiscoveryError::duplicate_request(
                        format!(
                            "CreatorRequestId {creator} already created namespace {}: use a new CreatorRequestId for another namespace",
                            other.name
                        ),
                        &created_by(&other.id).unwrap_or_default(),
                    ));
                }
            }
            if let Some(existing) = d.namespace_named(&name) {
                if req.creator_request_id.is_some() && existing.creator_request_id == req.creator_request_id {
                    // A retry of the request that created it.
                    if let Some(operation_id) = created_by(&existing.id) {
                        return Ok(OperationIdResponse { operation_id });
                    }
                }
                return Err(DiscoveryError::namespace_already_exists(
                    &name,
                    &existing.id,
                    existing.creator_request_id.as_deref(),
                ));
            }
            let id = common::new_id("ns-");
            let properties = match kind {
                NamespaceType::Http => NamespaceProperties {
                    dns_properties: None,
                    http_properties: Some(HttpProperties { http_name: Some(name.clone()) }),
                },
                _ => NamespaceProperties {
                    dns_properties: Some(DnsProperties {
                        hosted_zone_id: Some(format!("Z{}", id[3..].to_ascii_uppercase())),
                        soa: Some(Soa { ttl: soa_ttl }),
                    }),
                    http_properties: Some(HttpProperties { http_name: Some(name.clone()) }),
                },
            };
            let namespace = Namespace {
                arn: berth_model::discovery::arn(&caller.region, &caller.account, "namespace", &id),
                id: id.clone(),
                resource_owner: Some(caller.account.clone()),
                name,
                kind,
                description: req.description.clone(),
                service_count: None,
                properties,
                create_date: berth_model::time::now(),
                creator_request_id: req.creator_request_id.clone(),
            };
            common::put_tags(changes, &caller.region, &namespace.arn, tags);
            push(changes, &caller.region, DiscoveryChange::Namespace(Arc::new(namespace)));
            let operation_id =
                operation(d, &caller, OperationType::CreateNamespace, &[(Target::Namespace, &id)], changes);
            Ok(OperationIdResponse { operation_id })
        })
        .await
    }

    pub fn get_namespace(&self, caller: &Caller, req: IdRequest) -> Result<GetNamespaceResponse, DiscoveryError> {
        let id = common::required_id(&req.id, "Id")?;
        self.read(|state| {
            let d = &state.region(&caller.region).discovery;
            let n = d.namespaces.get(id).ok_or_else(|| DiscoveryError::namespace_not_found(id))?;
            Ok(GetNamespaceResponse { namespace: described(d, n) })
        })
    }

    pub fn list_namespaces(&self, caller: &Caller, req: ListRequest) -> Result<ListNamespacesResponse, DiscoveryError> {
        self.read(|state| {
            let d = &state.region(&caller.region).discovery;
            let mut matching = Vec::new();
            for n in d.namespaces.values() {
                let mut keep = true;
                for f in &req.filters {
                    let value = match f.name.as_str() {
                        "TYPE" => n.kind.as_str().to_string(),
                        "NAME" => n.name.clone(),
                        "HTTP_NAME" => n.name.clone(),
                        "RESOURCE_OWNER" => caller.account.clone(),
                        other => {
                            return Err(DiscoveryError::invalid_input(format!(
                                "Filter name '{other}' must be one of TYPE, NAME, HTTP_NAME, RESOURCE_OWNER"
                            )))
                        }
                    };
                    keep &= common::filter_matches(f, &value)?;
                }
                if keep {
                    matching.push((n.id.clone(), described(d, n)));
                }
            }
            let (namespaces, next_token) = common::page(&req.next_token, req.max_results, 100, matching.into_iter())?;
            Ok(ListNamespacesResponse { namespaces, next_token })
        })
    }

    pub async fn update_namespace(
        &self,
        caller: &Caller,
        kind: NamespaceType,
        req: UpdateNamespaceRequest,
    ) -> Result<OperationIdResponse, DiscoveryError> {
        let id = common::required_id(&req.id, "Id")?.to_string();
        let change = required(&req.namespace, "Namespace")?.clone();
        common::description(&change.description)?;
        if kind == NamespaceType::Http && change.description.is_none() {
            required(&change.description, "Namespace.Description")?;
        }
        let caller = caller.clone();
        self.write(move |state, changes: &mut Vec<Change>| {
            let d = &state.region(&caller.region).discovery;
            let n = d.namespaces.get(&id).ok_or_else(|| DiscoveryError::namespace_not_found(&id))?;
            if n.kind != kind {
                return Err(DiscoveryError::invalid_input(format!(
                    "Namespace {id} is a {} namespace, not {kind}",
                    n.kind
                )));
            }
            let mut next = n.as_ref().clone();
            if let Some(description) = &change.description {
                next.description = Some(description.clone());
            }
            if let (Some(p), Some(dns)) = (&change.properties, next.properties.dns_properties.as_mut()) {
                dns.soa = Some(p.dns_properties.soa.clone());
            }
            push(changes, &caller.region, DiscoveryChange::Namespace(Arc::new(next)));
            let operation_id =
                operation(d, &caller, OperationType::UpdateNamespace, &[(Target::Namespace, &id)], changes);
            Ok(OperationIdResponse { operation_id })
        })
        .await
    }

    pub async fn delete_namespace(
        &self,
        caller: &Caller,
        req: IdRequest,
    ) -> Result<OperationIdResponse, DiscoveryError> {
        let id = common::required_id(&req.id, "Id")?.to_string();
        let caller = caller.clone();
        self.write(move |state, changes: &mut Vec<Change>| {
            let d = &state.region(&caller.region).discovery;
            let n = d.namespaces.get(&id).ok_or_else(|| DiscoveryError::namespace_not_found(&id))?;
            if d.services_in(&id).next().is_some() {
                return Err(DiscoveryError::resource_in_use(format!("Namespace {id} has services; delete them first")));
            }
            common::put_tags(changes, &caller.region, &n.arn, Vec::new());
            push(changes, &caller.region, DiscoveryChange::DeleteNamespace(id.clone()));
            let operation_id =
                operation(d, &caller, OperationType::DeleteNamespace, &[(Target::Namespace, &id)], changes);
            Ok(OperationIdResponse { operation_id })
        })
        .await
    }
}
