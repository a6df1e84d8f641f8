//! Elastic Load Balancing v2: its resources as the API names them (PascalCase members,
//! as the query protocol and its XML answers spell them), the requests of each
//! operation, its errors, and the plan the load balancer's data plane runs from.
//!
//! Numbers and booleans arrive as text in the query protocol; the members that hold them
//! read either form (see [`crate::lenient`]).

pub mod error;
pub mod plane;
pub mod requests;
pub mod validate;

use serde::{Deserialize, Serialize};

pub use error::ElbError;

use crate::status::status;

status!(
    /// A load balancer's kind. Gateway load balancers are refused.
    LoadBalancerType (default Application) { Application => "application", Network => "network", Gateway => "gateway" }
);

status!(
    /// A load balancer's `State.Code`.
    LoadBalancerStateCode (default Active) {
        Provisioning => "provisioning", Active => "active", ActiveImpaired => "active_impaired", Failed => "failed",
    }
);

status!(
    /// The protocols of listeners, target groups and health checks.
    Protocol (default Http) {
        Http => "HTTP", Https => "HTTPS", Tcp => "TCP", Tls => "TLS", Udp => "UDP", TcpUdp => "TCP_UDP",
        Geneve => "GENEVE", Quic => "QUIC", TcpQuic => "TCP_QUIC",
    }
);

status!(
    /// What a target group's target ids name.
    TargetType (default Instance) { Instance => "instance", Ip => "ip", Lambda => "lambda", Alb => "alb" }
);

status!(
    /// A target's state in its target group, as DescribeTargetHealth reports it.
    TargetHealthState (default Initial) {
        Initial => "initial", Healthy => "healthy", Unhealthy => "unhealthy",
        UnhealthyDraining => "unhealthy.draining", Unused => "unused", Draining => "draining",
        Unavailable => "unavailable",
    }
);

status!(
    /// Why a target is in its state (ELB's reason codes).
    TargetHealthReason (default RegistrationInProgress) {
        RegistrationInProgress => "Elb.RegistrationInProgress",
        InitialHealthChecking => "Elb.InitialHealthChecking",
        ResponseCodeMismatch => "Target.ResponseCodeMismatch",
        Timeout => "Target.Timeout",
        FailedHealthChecks => "Target.FailedHealthChecks",
        NotRegistered => "Target.NotRegistered",
        NotInUse => "Target.NotInUse",
        DeregistrationInProgress => "Target.DeregistrationInProgress",
        InvalidState => "Target.InvalidState",
        IpUnusable => "Target.IpUnusable",
        HealthCheckDisabled => "Target.HealthCheckDisabled",
        InternalError => "Elb.InternalError",
    }
);

status!(
    /// What a listener or rule action does.
    ActionType (default Forward) {
        Forward => "forward", AuthenticateOidc => "authenticate-oidc", AuthenticateCognito => "authenticate-cognito",
        Redirect => "redirect", FixedResponse => "fixed-response", JwtValidation => "jwt-validation",
    }
);

/// An ELB tag (`Key`/`Value`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A load balancer or target group attribute (`Key`/`Value`, both text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Attribute {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl Attribute {
    pub fn new(key: &str, value: &str) -> Attribute {
        Attribute { key: Some(key.into()), value: Some(value.into()) }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancerState {
    pub code: LoadBalancerStateCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AvailabilityZone {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancer {
    pub load_balancer_arn: String,
    #[serde(rename = "DNSName")]
    pub dns_name: String,
    pub canonical_hosted_zone_id: String,
    /// ISO 8601, as the query protocol sends timestamps.
    pub created_time: String,
    pub load_balancer_name: String,
    pub scheme: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    pub state: LoadBalancerState,
    #[serde(rename = "Type")]
    pub kind: LoadBalancerType,
    pub availability_zones: Vec<AvailabilityZone>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    pub ip_address_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Matcher {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TargetGroup {
    pub target_group_arn: String,
    pub target_group_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_protocol: Option<Protocol>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_port: Option<String>,
    pub health_check_enabled: bool,
    pub health_check_interval_seconds: i64,
    pub health_check_timeout_seconds: i64,
    pub healthy_threshold_count: i64,
    pub unhealthy_threshold_count: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matcher: Option<Matcher>,
    /// Filled in when described: the load balancers whose listeners or rules forward here.
    #[serde(default)]
    pub load_balancer_arns: Vec<String>,
    pub target_type: TargetType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    pub ip_address_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TargetGroupTuple {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::int", skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TargetGroupStickinessConfig {
    #[serde(default, deserialize_with = "crate::lenient::boolean", skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "crate::lenient::int", skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ForwardActionConfig {
    #[serde(default)]
    pub target_groups: Vec<TargetGroupTuple>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_group_stickiness_config: Option<TargetGroupStickinessConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct FixedResponseActionConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct RedirectActionConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Action {
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ActionType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::int", skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_config: Option<RedirectActionConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_response_config: Option<FixedResponseActionConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward_config: Option<ForwardActionConfig>,
}

impl Action {
    /// Every target group the action forwards to: its `TargetGroupArn` and those of its
    /// forward config.
    pub fn target_group_arns(&self) -> impl Iterator<Item = &String> {
        let weighted =
            self.forward_config.iter().flat_map(|f| &f.target_groups).filter_map(|t| t.target_group_arn.as_ref());
        self.target_group_arn.iter().chain(weighted)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ValuesConfig {
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct RuleCondition {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_header_config: Option<ValuesConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_pattern_config: Option<ValuesConfig>,
}

impl RuleCondition {
    /// The patterns, whether given as `Values` or in the field's own config.
    pub fn patterns(&self) -> &[String] {
        let config = match self.field.as_deref() {
            Some("host-header") => self.host_header_config.as_ref(),
            Some("path-pattern") => self.path_pattern_config.as_ref(),
            _ => None,
        };
        match config {
            Some(c) if !c.values.is_empty() => &c.values,
            _ => &self.values,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Listener {
    pub listener_arn: String,
    pub load_balancer_arn: String,
    pub port: i64,
    pub protocol: Protocol,
    pub default_actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Rule {
    pub rule_arn: String,
    /// A number as text, or `default` for the listener's default rule.
    pub priority: String,
    pub conditions: Vec<RuleCondition>,
    pub actions: Vec<Action>,
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TargetDescription {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::int", skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TargetHealth {
    pub state: TargetHealthState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<TargetHealthReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl TargetHealth {
    pub fn new(state: TargetHealthState, reason: Option<TargetHealthReason>, description: &str) -> TargetHealth {
        let description = (!description.is_empty()).then(|| description.to_string());
        TargetHealth { state, reason, description }
    }

    pub fn healthy() -> TargetHealth {
        TargetHealth::new(TargetHealthState::Healthy, None, "")
    }

    /// A target registered but not yet checked.
    pub fn initial() -> TargetHealth {
        TargetHealth::new(
            TargetHealthState::Initial,
            Some(TargetHealthReason::InitialHealthChecking),
            "Initial health checks in progress",
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TargetHealthDescription {
    pub target: TargetDescription,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_port: Option<String>,
    pub target_health: TargetHealth,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TagDescription {
    pub resource_arn: String,
    pub tags: Vec<Tag>,
}

/// ELB's ARNs: `arn:aws:elasticloadbalancing:REGION:ACCOUNT:RESOURCE`.
pub fn arn(region: &str, account: &str, resource: &str) -> String {
    format!("arn:aws:elasticloadbalancing:{region}:{account}:{resource}")
}

/// The region an ELB ARN names, if it is one.
pub fn arn_region(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:elasticloadbalancing:")?;
    rest.split(':').next()
}

/// The defaults ELB gives a target group's health check, by target group protocol.
pub struct HealthCheckDefaults {
    pub interval: i64,
    pub timeout: i64,
    pub healthy: i64,
    pub unhealthy: i64,
}

impl HealthCheckDefaults {
    pub fn for_protocol(protocol: Option<Protocol>, check: Protocol) -> HealthCheckDefaults {
        match (protocol, check) {
            // Network load balancers' target groups (TCP family): 30 s, 10 s, 5, 2.
            (Some(Protocol::Tcp | Protocol::Tls | Protocol::Udp | Protocol::TcpUdp), _) => HealthCheckDefaults {
                interval: 30,
                timeout: if check == Protocol::Http { 6 } else { 10 },
                healthy: 5,
                unhealthy: 2,
            },
            _ => HealthCheckDefaults { interval: 30, timeout: 5, healthy: 5, unhealthy: 2 },
        }
    }
}

pub use crate::time::iso8601;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso8601_in_utc() {
        assert_eq!(iso8601(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_795_870_000.25), "2026-11-28T12:46:40.250Z");
    }

    #[test]
    fn conditions_read_their_config_or_their_values() {
        let c = RuleCondition {
            field: Some("path-pattern".into()),
            path_pattern_config: Some(ValuesConfig { values: vec!["/api/*".into()] }),
            ..Default::default()
        };
        assert_eq!(c.patterns(), ["/api/*"]);
        let c =
            RuleCondition { field: Some("host-header".into()), values: vec!["a.example".into()], ..Default::default() };
        assert_eq!(c.patterns(), ["a.example"]);
    }
}
