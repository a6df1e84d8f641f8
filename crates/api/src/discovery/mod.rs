//! AWS Cloud Map (`Route53AutoNaming_v20170314.*`, AWS JSON 1.1): one module per operation.

mod create_namespace;
mod create_service;
mod delete_namespace;
mod delete_service;
mod deregister_instance;
mod discover_instances;
mod discover_instances_revision;
mod get_instance;
mod get_instances_health_status;
mod get_namespace;
mod get_operation;
mod get_service;
mod list_instances;
mod list_namespaces;
mod list_operations;
mod list_services;
mod list_tags_for_resource;
mod register_instance;
mod tag_resource;
mod untag_resource;
mod update_instance_custom_health_status;
mod update_namespace;
mod update_service;

use berth_control::{Caller, Control};
use berth_model::discovery::{DiscoveryError, NamespaceType};
use serde::Serialize;

/// Every operation berth answers, by its Cloud Map name.
pub const OPERATIONS: &[&str] = &[
    "CreateHttpNamespace",
    "CreatePrivateDnsNamespace",
    "CreatePublicDnsNamespace",
    "CreateService",
    "DeleteNamespace",
    "DeleteService",
    "DeregisterInstance",
    "DiscoverInstances",
    "DiscoverInstancesRevision",
    "GetInstance",
    "GetInstancesHealthStatus",
    "GetNamespace",
    "GetOperation",
    "GetService",
    "ListInstances",
    "ListNamespaces",
    "ListOperations",
    "ListServices",
    "ListTagsForResource",
    "RegisterInstance",
    "TagResource",
    "UntagResource",
    "UpdateHttpNamespace",
    "UpdateInstanceCustomHealthStatus",
    "UpdatePrivateDnsNamespace",
    "UpdatePublicDnsNamespace",
    "UpdateService",
];

fn reply<T: Serialize>(value: &T) -> Result<Vec<u8>, DiscoveryError> {
    serde_json::to_vec(value).map_err(|e| DiscoveryError::internal(e.to_string()))
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, DiscoveryError> {
    berth_model::json::decode(body).map_err(|e| DiscoveryError::invalid_input(e.to_string()))
}

/// Runs one Cloud Map operation.
pub async fn dispatch(
    control: &Control,
    caller: &Caller,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, DiscoveryError> {
    use NamespaceType::*;
    match operation {
        "CreatePrivateDnsNamespace" => create_namespace::handle(control, caller, body, DnsPrivate).await,
        "CreatePublicDnsNamespace" => create_namespace::handle(control, caller, body, DnsPublic).await,
        "CreateHttpNamespace" => create_namespace::handle(control, caller, body, Http).await,
        "GetNamespace" => get_namespace::handle(control, caller, body),
        "ListNamespaces" => list_namespaces::handle(control, caller, body),
        "UpdatePrivateDnsNamespace" => update_namespace::handle(control, caller, body, DnsPrivate).await,
        "UpdatePublicDnsNamespace" => update_namespace::handle(control, caller, body, DnsPublic).await,
        "UpdateHttpNamespace" => update_namespace::handle(control, caller, body, Http).await,
        "DeleteNamespace" => delete_namespace::handle(control, caller, body).await,
        "CreateService" => create_service::handle(control, caller, body).await,
        "GetService" => get_service::handle(control, caller, body),
        "ListServices" => list_services::handle(control, caller, body),
        "UpdateService" => update_service::handle(control, caller, body).await,
        "DeleteService" => delete_service::handle(control, caller, body).await,
        "RegisterInstance" => register_instance::handle(control, caller, body).await,
        "DeregisterInstance" => deregister_instance::handle(control, caller, body).await,
        "GetInstance" => get_instance::handle(control, caller, body),
        "ListInstances" => list_instances::handle(control, caller, body),
        "DiscoverInstances" => discover_instances::handle(control, caller, body),
        "DiscoverInstancesRevision" => discover_instances_revision::handle(control, caller, body),
        "GetInstancesHealthStatus" => get_instances_health_status::handle(control, caller, body),
        "UpdateInstanceCustomHealthStatus" => update_instance_custom_health_status::handle(control, caller, body).await,
        "GetOperation" => get_operation::handle(control, caller, body),
        "ListOperations" => list_operations::handle(control, caller, body),
        "TagResource" => tag_resource::handle(control, caller, body).await,
        "UntagResource" => untag_resource::handle(control, caller, body).await,
        "ListTagsForResource" => list_tags_for_resource::handle(control, caller, body),
        other => Err(DiscoveryError {
            code: "UnknownOperationException",
            message: format!("Operation '{other}' is not supported."),
            status: 400,
            members: Vec::new(),
        }),
    }
}
