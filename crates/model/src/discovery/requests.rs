//! Each Cloud Map operation's request and response, as the API model shapes them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    CustomHealthStatus, DiscoveryService, DnsRecord, FilterCondition, HealthCheckConfig, HealthCheckCustomConfig,
    HealthStatus, HealthStatusFilter, HttpInstanceSummary, Instance, Namespace, Operation, RoutingPolicy, Soa, Tag,
};

/// An empty response (`{}`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Empty {}

/// The answer of every asynchronous operation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperationIdResponse {
    pub operation_id: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DnsPropertiesMutable {
    #[serde(rename = "SOA")]
    pub soa: Soa,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DnsNamespaceProperties {
    pub dns_properties: DnsPropertiesMutable,
}

/// CreatePrivateDnsNamespace, CreatePublicDnsNamespace and CreateHttpNamespace (the
/// members a kind does not take are refused by the handler).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateNamespaceRequest {
    pub name: Option<String>,
    pub creator_request_id: Option<String>,
    pub description: Option<String>,
    pub vpc: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    pub properties: Option<DnsNamespaceProperties>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DnsPropertiesChange {
    #[serde(rename = "SOA")]
    pub soa: Soa,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamespacePropertiesChange {
    pub dns_properties: DnsPropertiesChange,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamespaceChange {
    pub description: Option<String>,
    pub properties: Option<NamespacePropertiesChange>,
}

/// UpdatePrivateDnsNamespace, UpdatePublicDnsNamespace and UpdateHttpNamespace.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateNamespaceRequest {
    pub id: Option<String>,
    pub updater_request_id: Option<String>,
    pub namespace: Option<NamespaceChange>,
}

/// GetNamespace, DeleteNamespace, GetService, DeleteService, GetOperation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IdRequest {
    pub id: Option<String>,
    pub operation_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetNamespaceResponse {
    pub namespace: Namespace,
}

/// A ListNamespaces, ListServices or ListOperations filter.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    pub name: String,
    #[serde(default)]
    pub values: Vec<String>,
    pub condition: Option<FilterCondition>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListRequest {
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
    #[serde(default)]
    pub filters: Vec<Filter>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListNamespacesResponse {
    pub namespaces: Vec<Namespace>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DnsConfigRequest {
    pub namespace_id: Option<String>,
    pub routing_policy: Option<RoutingPolicy>,
    #[serde(default)]
    pub dns_records: Vec<DnsRecord>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateServiceRequest {
    pub name: Option<String>,
    pub namespace_id: Option<String>,
    pub creator_request_id: Option<String>,
    pub description: Option<String>,
    pub dns_config: Option<DnsConfigRequest>,
    pub health_check_config: Option<HealthCheckConfig>,
    pub health_check_custom_config: Option<HealthCheckCustomConfig>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(rename = "Type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceResponse {
    pub service: DiscoveryService,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DnsConfigChange {
    #[serde(default)]
    pub dns_records: Vec<DnsRecord>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceChange {
    pub description: Option<String>,
    pub dns_config: Option<DnsConfigChange>,
    pub health_check_config: Option<HealthCheckConfig>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateServiceRequest {
    pub id: Option<String>,
    pub service: Option<ServiceChange>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListServicesResponse {
    pub services: Vec<DiscoveryService>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterInstanceRequest {
    pub service_id: Option<String>,
    pub instance_id: Option<String>,
    pub creator_request_id: Option<String>,
    pub attributes: Option<BTreeMap<String, String>>,
}

/// DeregisterInstance, GetInstance.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceRequest {
    pub service_id: Option<String>,
    pub instance_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetInstanceResponse {
    pub resource_owner: String,
    pub instance: Instance,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInstancesRequest {
    pub service_id: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInstancesResponse {
    pub resource_owner: String,
    pub instances: Vec<Instance>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoverInstancesRequest {
    pub namespace_name: Option<String>,
    pub service_name: Option<String>,
    pub max_results: Option<i64>,
    #[serde(default)]
    pub query_parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub optional_parameters: BTreeMap<String, String>,
    pub health_status: Option<HealthStatusFilter>,
    pub owner_account: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoverInstancesResponse {
    pub instances: Vec<HttpInstanceSummary>,
    pub instances_revision: i64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoverInstancesRevisionResponse {
    pub instances_revision: i64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetInstancesHealthStatusRequest {
    pub service_id: Option<String>,
    #[serde(default)]
    pub instances: Vec<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetInstancesHealthStatusResponse {
    pub status: BTreeMap<String, HealthStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateInstanceCustomHealthStatusRequest {
    pub service_id: Option<String>,
    pub instance_id: Option<String>,
    pub status: Option<CustomHealthStatus>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetOperationResponse {
    pub operation: Operation,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperationSummary {
    pub id: String,
    pub status: super::OperationStatus,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListOperationsResponse {
    pub operations: Vec<OperationSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TagResourceRequest {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    #[serde(rename = "Tags", default)]
    pub tags: Vec<Tag>,
    #[serde(rename = "TagKeys", default)]
    pub tag_keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceResponse {
    pub tags: Vec<Tag>,
}
