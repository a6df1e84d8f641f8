//! Container instances: hosts running `berth agent`, with their resources and attributes.

use serde::{Deserialize, Serialize};

use crate::{tag::Tag, time::Timestamp, EcsError};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInstance {
    pub container_instance_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ec2_instance_id: Option<String>,
    pub version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_info: Option<VersionInfo>,
    pub remaining_resources: Vec<Resource>,
    pub registered_resources: Vec<Resource>,
    pub status: crate::status::InstanceStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub agent_connected: bool,
    pub running_tasks_count: i64,
    pub pending_tasks_count: i64,
    pub attributes: Vec<Attribute>,
    pub registered_at: Timestamp,
    #[serde(default)]
    pub attachments: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docker_version: Option<String>,
}

/// A resource (CPU, MEMORY, PORTS, PORTS_UDP) as ECS reports it: every numeric field set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub double_value: f64,
    #[serde(default)]
    pub long_value: i64,
    #[serde(default)]
    pub integer_value: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_set_value: Option<Vec<String>>,
}

impl Resource {
    pub fn integer(name: &str, value: i64) -> Resource {
        Resource { name: name.into(), kind: "INTEGER".into(), integer_value: value, ..Default::default() }
    }

    pub fn string_set(name: &str, values: Vec<String>) -> Resource {
        Resource { name: name.into(), kind: "STRINGSET".into(), string_set_value: Some(values), ..Default::default() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attribute {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
}

impl Attribute {
    pub fn new(name: &str, value: &str) -> Attribute {
        Attribute { name: name.into(), value: Some(value.into()), target_type: None, target_id: None }
    }
}

/// At most this many custom attributes per instance.
pub const MAX_CUSTOM_ATTRIBUTES: usize = 10;

/// The attribute an agent registers with: the address its host is reached at (load
/// balancer targets of the `instance` type are connected to there).
pub const HOST_ADDRESS_ATTRIBUTE: &str = "berth.host-address";

/// The attribute placement spreads over by zone (ECS's built-in).
pub const AVAILABILITY_ZONE_ATTRIBUTE: &str = "ecs.availability-zone";

/// The attribute a host registers with to offer Fargate capacity (value `FARGATE`)
/// instead of joining a cluster as a container instance.
pub const CAPACITY_ATTRIBUTE: &str = "berth.capacity";

/// The attribute naming the Auto Scaling group (of an EC2 capacity provider) an
/// instance belongs to: its ARN or name.
pub const AUTO_SCALING_GROUP_ATTRIBUTE: &str = "berth.auto-scaling-group";

/// Whether an attribute counts toward [`MAX_CUSTOM_ATTRIBUTES`]: the agent's own
/// (`ecs.*`, its capabilities, berth's `berth.*` facts) do not.
pub fn is_custom_attribute(name: &str) -> bool {
    !(name.starts_with("ecs.") || name.starts_with("com.amazonaws.ecs.") || name.starts_with("berth."))
}

/// Attribute names and values: 1–128 letters, numbers, hyphens, underscores, periods,
/// slashes, colons or `@`; values 1–128 printable characters.
pub fn validate_attribute(a: &Attribute) -> Result<(), EcsError> {
    let name_ok = |s: &str| {
        !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:@".contains(&b))
    };
    if !name_ok(&a.name) {
        return Err(EcsError::invalid(format!(
            "Invalid attribute name '{}': 1-128 letters, numbers, hyphens, underscores, periods, slashes or colons.",
            a.name
        )));
    }
    if let Some(v) = &a.value {
        if v.is_empty() || v.len() > 128 || v.chars().any(char::is_control) {
            return Err(EcsError::invalid(format!(
                "Invalid value for attribute '{}': 1-128 printable characters.",
                a.name
            )));
        }
    }
    Ok(())
}
