//! AWS Cloud Map (`servicediscovery`): namespaces, services and instances as the API names
//! them (PascalCase members, AWS JSON 1.1), the requests of each operation, its errors,
//! and the DNS records berth's DNS server answers from them.

pub mod error;
pub mod records;
pub mod requests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use error::DiscoveryError;

use crate::status::status;

/// The JSON 1.1 target prefix of Cloud Map's operations.
pub const TARGET_PREFIX: &str = "Route53AutoNaming_v20170314.";

/// Instance attributes Cloud Map reads itself.
pub const INSTANCE_IPV4: &str = "AWS_INSTANCE_IPV4";
pub const INSTANCE_IPV6: &str = "AWS_INSTANCE_IPV6";
pub const INSTANCE_PORT: &str = "AWS_INSTANCE_PORT";
pub const INSTANCE_CNAME: &str = "AWS_INSTANCE_CNAME";
pub const INIT_HEALTH_STATUS: &str = "AWS_INIT_HEALTH_STATUS";

status!(
    /// A namespace's kind.
    NamespaceType (default DnsPrivate) { DnsPublic => "DNS_PUBLIC", DnsPrivate => "DNS_PRIVATE", Http => "HTTP" }
);

status!(
    /// How a service can be discovered: DNS and the API, or the API only.
    ServiceType (default DnsHttp) { Http => "HTTP", DnsHttp => "DNS_HTTP", Dns => "DNS" }
);

status!(
    /// How DNS answers a service's name.
    RoutingPolicy (default Multivalue) { Multivalue => "MULTIVALUE", Weighted => "WEIGHTED" }
);

status!(
    /// The DNS record types a service can have.
    RecordType (default A) { Srv => "SRV", A => "A", Aaaa => "AAAA", Cname => "CNAME" }
);

status!(
    /// An instance's health.
    HealthStatus (default Unknown) { Healthy => "HEALTHY", Unhealthy => "UNHEALTHY", Unknown => "UNKNOWN" }
);

status!(
    /// Which instances DiscoverInstances returns.
    HealthStatusFilter (default All) {
        Healthy => "HEALTHY", Unhealthy => "UNHEALTHY", All => "ALL", HealthyOrElseAll => "HEALTHY_OR_ELSE_ALL",
    }
);

status!(
    /// A custom health status set with UpdateInstanceCustomHealthStatus.
    CustomHealthStatus (default Healthy) { Healthy => "HEALTHY", Unhealthy => "UNHEALTHY" }
);

status!(
    /// Where an asynchronous operation is.
    OperationStatus (default Submitted) {
        Submitted => "SUBMITTED", Pending => "PENDING", Success => "SUCCESS", Fail => "FAIL",
    }
);

status!(
    /// What an operation does.
    OperationType (default CreateNamespace) {
        CreateNamespace => "CREATE_NAMESPACE", DeleteNamespace => "DELETE_NAMESPACE",
        UpdateNamespace => "UPDATE_NAMESPACE", UpdateService => "UPDATE_SERVICE",
        RegisterInstance => "REGISTER_INSTANCE", DeregisterInstance => "DEREGISTER_INSTANCE",
    }
);

status!(
    /// What an operation's targets are.
    OperationTargetType (default Namespace) { Namespace => "NAMESPACE", Service => "SERVICE", Instance => "INSTANCE" }
);

status!(
    /// How a list filter compares.
    FilterCondition (default Eq) { Eq => "EQ", In => "IN", Between => "BETWEEN", BeginsWith => "BEGINS_WITH" }
);

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Soa {
    #[serde(rename = "TTL")]
    pub ttl: i64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DnsProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_zone_id: Option<String>,
    #[serde(rename = "SOA", default, skip_serializing_if = "Option::is_none")]
    pub soa: Option<Soa>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HttpProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamespaceProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_properties: Option<DnsProperties>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_properties: Option<HttpProperties>,
}

/// A namespace (also the summary ListNamespaces gives).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Namespace {
    pub id: String,
    pub arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_owner: Option<String>,
    pub name: String,
    #[serde(rename = "Type")]
    pub kind: NamespaceType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_count: Option<i64>,
    pub properties: NamespaceProperties,
    pub create_date: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_request_id: Option<String>,
}

impl Namespace {
    pub fn is_dns(&self) -> bool {
        self.kind != NamespaceType::Http
    }

    /// The SOA's TTL (the negative-answer TTL of the zone).
    pub fn soa_ttl(&self) -> Option<i64> {
        self.properties.dns_properties.as_ref()?.soa.as_ref().map(|s| s.ttl)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DnsRecord {
    #[serde(rename = "Type")]
    pub kind: RecordType,
    #[serde(rename = "TTL")]
    pub ttl: i64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DnsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_policy: Option<RoutingPolicy>,
    #[serde(default)]
    pub dns_records: Vec<DnsRecord>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthCheckConfig {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthCheckCustomConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i64>,
}

/// A Cloud Map service (also the summary ListServices gives).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoveryService {
    pub id: String,
    pub arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_owner: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_config: Option<DnsConfig>,
    #[serde(rename = "Type")]
    pub kind: ServiceType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_config: Option<HealthCheckConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_custom_config: Option<HealthCheckCustomConfig>,
    pub create_date: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_account: Option<String>,
}

impl DiscoveryService {
    pub fn records(&self) -> &[DnsRecord] {
        self.dns_config.as_ref().map_or(&[], |d| &d.dns_records)
    }

    pub fn has_record(&self, kind: RecordType) -> bool {
        self.records().iter().any(|r| r.kind == kind)
    }

    pub fn routing_policy(&self) -> RoutingPolicy {
        self.dns_config.as_ref().and_then(|d| d.routing_policy).unwrap_or_default()
    }

    /// Whether instances' health is theirs to report (UpdateInstanceCustomHealthStatus).
    pub fn custom_health(&self) -> bool {
        self.health_check_custom_config.is_some()
    }
}

/// A registered instance (also the summary ListInstances gives).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Instance {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_request_id: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_account: Option<String>,
}

impl Instance {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// What DiscoverInstances returns for an instance.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HttpInstanceSummary {
    pub instance_id: String,
    pub namespace_name: String,
    pub service_name: String,
    pub health_status: HealthStatus,
    pub attributes: BTreeMap<String, String>,
}

/// An asynchronous operation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Operation {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_account: Option<String>,
    #[serde(rename = "Type")]
    pub kind: OperationType,
    pub status: OperationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    pub create_date: f64,
    pub update_date: f64,
    /// Target type (NAMESPACE, SERVICE, INSTANCE) to its id.
    pub targets: BTreeMap<OperationTargetType, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// `arn:aws:servicediscovery:REGION:ACCOUNT:KIND/ID`.
pub fn arn(region: &str, account: &str, kind: &str, id: &str) -> String {
    format!("arn:aws:servicediscovery:{region}:{account}:{kind}/{id}")
}

/// The id a namespace or service ARN (or a bare id) names.
pub fn id_of(arn_or_id: &str) -> &str {
    if arn_or_id.starts_with("arn:") {
        arn_or_id.rsplit('/').next().unwrap_or(arn_or_id)
    } else {
        arn_or_id
    }
}
