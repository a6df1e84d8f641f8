//! One request type per ELB operation berth serves, and the members of each answer's
//! `…Result` element. Required members are `Option`s: absence is refused with ELB's
//! validation message, not a decoding error.

use serde::{Deserialize, Serialize};

use super::{
    Action, Attribute, Listener, LoadBalancer, Matcher, Rule, RuleCondition, Tag, TagDescription, TargetDescription,
    TargetGroup, TargetHealthDescription,
};

/// A request with no members of interest (and answers with an empty result).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Empty {}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateLoadBalancerRequest {
    pub name: Option<String>,
    #[serde(default)]
    pub subnets: Vec<String>,
    #[serde(default)]
    pub subnet_mappings: Vec<SubnetMapping>,
    #[serde(default)]
    pub security_groups: Vec<String>,
    pub scheme: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(rename = "Type")]
    pub kind: Option<String>,
    pub ip_address_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubnetMapping {
    pub subnet_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancersResult {
    pub load_balancers: Vec<LoadBalancer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeLoadBalancersRequest {
    #[serde(default)]
    pub load_balancer_arns: Vec<String>,
    #[serde(default)]
    pub names: Vec<String>,
    pub marker: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::int")]
    pub page_size: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancerArnRequest {
    pub load_balancer_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyAttributesRequest {
    pub load_balancer_arn: Option<String>,
    pub target_group_arn: Option<String>,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributesResult {
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTargetGroupRequest {
    pub name: Option<String>,
    pub protocol: Option<String>,
    pub protocol_version: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::int")]
    pub port: Option<i64>,
    pub vpc_id: Option<String>,
    #[serde(flatten)]
    pub health_check: HealthCheckSettings,
    pub target_type: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    pub ip_address_type: Option<String>,
}

/// The health check members CreateTargetGroup and ModifyTargetGroup share.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthCheckSettings {
    pub health_check_protocol: Option<String>,
    pub health_check_port: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::boolean")]
    pub health_check_enabled: Option<bool>,
    pub health_check_path: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::int")]
    pub health_check_interval_seconds: Option<i64>,
    #[serde(default, deserialize_with = "crate::lenient::int")]
    pub health_check_timeout_seconds: Option<i64>,
    #[serde(default, deserialize_with = "crate::lenient::int")]
    pub healthy_threshold_count: Option<i64>,
    #[serde(default, deserialize_with = "crate::lenient::int")]
    pub unhealthy_threshold_count: Option<i64>,
    pub matcher: Option<Matcher>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyTargetGroupRequest {
    pub target_group_arn: Option<String>,
    #[serde(flatten)]
    pub health_check: HealthCheckSettings,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetGroupsResult {
    pub target_groups: Vec<TargetGroup>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTargetGroupsRequest {
    pub load_balancer_arn: Option<String>,
    #[serde(default)]
    pub target_group_arns: Vec<String>,
    #[serde(default)]
    pub names: Vec<String>,
    pub marker: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::int")]
    pub page_size: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetGroupArnRequest {
    pub target_group_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetsRequest {
    pub target_group_arn: Option<String>,
    #[serde(default)]
    pub targets: Vec<TargetDescription>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetHealthResult {
    pub target_health_descriptions: Vec<TargetHealthDescription>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateListenerRequest {
    pub load_balancer_arn: Option<String>,
    pub protocol: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::int")]
    pub port: Option<i64>,
    #[serde(default)]
    pub default_actions: Vec<Action>,
    #[serde(default)]
    pub certificates: Vec<Certificate>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Certificate {
    pub certificate_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyListenerRequest {
    pub listener_arn: Option<String>,
    pub protocol: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::int")]
    pub port: Option<i64>,
    pub default_actions: Option<Vec<Action>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListenersResult {
    pub listeners: Vec<Listener>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeListenersRequest {
    pub load_balancer_arn: Option<String>,
    #[serde(default)]
    pub listener_arns: Vec<String>,
    pub marker: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::int")]
    pub page_size: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListenerArnRequest {
    pub listener_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateRuleRequest {
    pub listener_arn: Option<String>,
    pub conditions: Option<Vec<RuleCondition>>,
    #[serde(default, deserialize_with = "crate::lenient::int")]
    pub priority: Option<i64>,
    pub actions: Option<Vec<Action>>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyRuleRequest {
    pub rule_arn: Option<String>,
    pub conditions: Option<Vec<RuleCondition>>,
    pub actions: Option<Vec<Action>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RulesResult {
    pub rules: Vec<Rule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeRulesRequest {
    pub listener_arn: Option<String>,
    #[serde(default)]
    pub rule_arns: Vec<String>,
    pub marker: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::int")]
    pub page_size: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleArnRequest {
    pub rule_arn: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetRulePrioritiesRequest {
    pub rule_priorities: Option<Vec<RulePriorityPair>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RulePriorityPair {
    pub rule_arn: Option<String>,
    #[serde(default, deserialize_with = "crate::lenient::int")]
    pub priority: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddTagsRequest {
    pub resource_arns: Option<Vec<String>>,
    pub tags: Option<Vec<Tag>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveTagsRequest {
    pub resource_arns: Option<Vec<String>>,
    pub tag_keys: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTagsRequest {
    pub resource_arns: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagsResult {
    pub tag_descriptions: Vec<TagDescription>,
}
