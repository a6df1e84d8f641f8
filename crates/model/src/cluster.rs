//! Clusters: the wire shape and the settings ECS knows.

use serde::{Deserialize, Serialize};

use crate::{tag::Tag, EcsError, KeyValuePair};

/// The cluster a request means when it names none.
pub const DEFAULT_CLUSTER: &str = "default";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Cluster {
    pub cluster_arn: String,
    pub cluster_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<serde_json::Value>,
    pub status: crate::status::ClusterStatus,
    pub registered_container_instances_count: i64,
    pub running_tasks_count: i64,
    pub pending_tasks_count: i64,
    pub active_services_count: i64,
    /// ECS shows these three as empty lists when they are not asked for.
    #[serde(default)]
    pub statistics: Vec<KeyValuePair>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub settings: Vec<ClusterSetting>,
    #[serde(default)]
    pub capacity_providers: Vec<String>,
    #[serde(default)]
    pub default_capacity_provider_strategy: Vec<crate::capacity_provider::CapacityProviderStrategyItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_connect_defaults: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSetting {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Cluster names: up to 255 letters, numbers, hyphens and underscores.
pub fn validate_name(name: &str) -> Result<(), EcsError> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(EcsError::invalid(format!(
            "Invalid cluster name '{name}': up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed."
        )))
    }
}

/// Only `containerInsights` exists, with `enabled`, `disabled` or `enhanced`.
pub fn validate_settings(settings: &[ClusterSetting]) -> Result<(), EcsError> {
    for s in settings {
        match (s.name.as_deref(), s.value.as_deref()) {
            (Some("containerInsights"), Some("enabled" | "disabled" | "enhanced")) => {}
            (Some("containerInsights"), v) => {
                return Err(EcsError::invalid(format!(
                    "Invalid value '{}' for cluster setting containerInsights: use enabled, disabled or enhanced.",
                    v.unwrap_or("")
                )))
            }
            (n, _) => {
                return Err(EcsError::invalid(format!(
                    "Unknown cluster setting '{}': the only setting is containerInsights.",
                    n.unwrap_or("")
                )))
            }
        }
    }
    Ok(())
}

/// Overlays `new` onto `existing` by setting name.
pub fn merge_settings(existing: &[ClusterSetting], new: &[ClusterSetting]) -> Vec<ClusterSetting> {
    let mut out = existing.to_vec();
    for s in new {
        match out.iter_mut().find(|e| e.name == s.name) {
            Some(slot) => slot.value = s.value.clone(),
            None => out.push(s.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_name("web_1-a").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name(&"a".repeat(256)).is_err());
    }

    #[test]
    fn settings() {
        let good = ClusterSetting { name: Some("containerInsights".into()), value: Some("enabled".into()) };
        assert!(validate_settings(std::slice::from_ref(&good)).is_ok());
        let bad = ClusterSetting { name: Some("containerInsights".into()), value: Some("on".into()) };
        assert!(validate_settings(&[bad]).is_err());
        let off = ClusterSetting { name: Some("containerInsights".into()), value: Some("disabled".into()) };
        assert_eq!(merge_settings(&[good], std::slice::from_ref(&off)), vec![off]);
    }

    #[test]
    fn statistics_tags_and_settings_are_always_lists_on_the_wire() {
        let v = serde_json::to_value(Cluster::default()).unwrap();
        for key in ["statistics", "tags", "settings"] {
            assert_eq!(v[key], serde_json::json!([]), "{key}: {v}");
        }
    }
}
