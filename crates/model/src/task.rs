//! Tasks: a running instance of a task definition on a container instance, and the
//! lifecycle statuses ECS reports for tasks and containers.

use serde::{Deserialize, Serialize};

pub use crate::status::{DesiredStatus, HealthStatus, TaskStatus};
use crate::{tag::Tag, time::Timestamp, KeyValuePair};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    #[serde(default)]
    pub attachments: Vec<crate::network::Attachment>,
    #[serde(default)]
    pub attributes: Vec<crate::container_instance::Attribute>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_provider_name: Option<String>,
    pub cluster_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connectivity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connectivity_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_instance_arn: Option<String>,
    pub containers: Vec<Container>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    pub created_at: Timestamp,
    pub desired_status: DesiredStatus,
    pub enable_execute_command: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<EphemeralStorage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_stopped_at: Option<Timestamp>,
    pub group: String,
    pub health_status: HealthStatus,
    pub last_status: TaskStatus,
    pub launch_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    pub overrides: TaskOverride,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_started_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_stopped_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopping_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    pub task_arn: String,
    pub task_definition_arn: String,
    pub version: i64,
}

impl Task {
    pub fn last(&self) -> TaskStatus {
        self.last_status
    }

    pub fn wants_to_run(&self) -> bool {
        self.desired_status == DesiredStatus::Running
    }

    /// The short id at the end of the ARN.
    pub fn id(&self) -> &str {
        self.task_arn.rsplit('/').next().unwrap_or(&self.task_arn)
    }

    /// The task's network interface attachment (awsvpc tasks).
    pub fn eni(&self) -> Option<&crate::network::Attachment> {
        self.attachments.iter().find(|a| a.kind == crate::network::ENI_ATTACHMENT)
    }

    /// The task's own address (awsvpc tasks).
    pub fn private_ipv4(&self) -> Option<&str> {
        self.eni().and_then(|a| a.detail("privateIPv4Address"))
    }
}

/// Fargate's task storage (`ephemeralStorage`), 20 GiB unless asked for more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralStorage {
    #[serde(rename = "sizeInGiB")]
    pub size_in_gib: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub container_arn: String,
    pub task_arn: String,
    pub name: String,
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_id: Option<String>,
    pub last_status: TaskStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub network_bindings: Vec<NetworkBinding>,
    #[serde(default)]
    pub network_interfaces: Vec<crate::network::NetworkInterface>,
    pub health_status: HealthStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct NetworkBinding {
    #[serde(rename = "bindIP", skip_serializing_if = "Option::is_none")]
    pub bind_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_port: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskOverride {
    #[serde(default)]
    pub container_overrides: Vec<ContainerOverride>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    #[serde(default)]
    pub inference_accelerator_overrides: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ContainerOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Vec<KeyValuePair>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_files: Option<Vec<crate::task_definition::EnvironmentFile>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<i64>,
}

/// What the agent reports about one container (ECS's ContainerStateChange, plus the
/// container's health, which berth's agent also sends).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStateChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    #[serde(default)]
    pub network_bindings: Vec<NetworkBinding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    /// berth extension: HEALTHY, UNHEALTHY or UNKNOWN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_status: Option<HealthStatus>,
}

/// The body of SubmitTaskStateChange, plus berth's `stopCode` extension so the agent can
/// say why a task stopped in ECS's words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TaskStateChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default)]
    pub containers: Vec<ContainerStateChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_started_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_stopped_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_stopped_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    /// Where the task's attachments are (the agent reports its network interface).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<AttachmentStateChange>,
}

/// ECS's AttachmentStateChange: an attachment (by ARN or id) and its new status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentStateChange {
    pub attachment_arn: String,
    pub status: crate::network::AttachmentStatus,
}

/// Task health over its essential containers: UNHEALTHY beats UNKNOWN beats HEALTHY.
pub fn task_health(essential_health: impl Iterator<Item = HealthStatus>) -> HealthStatus {
    let mut worst = HealthStatus::Healthy;
    let mut any = false;
    for h in essential_health {
        any = true;
        match h {
            HealthStatus::Unhealthy => return HealthStatus::Unhealthy,
            HealthStatus::Healthy => {}
            HealthStatus::Unknown => worst = HealthStatus::Unknown,
        }
    }
    if any {
        worst
    } else {
        HealthStatus::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_ordered() {
        assert!(TaskStatus::Provisioning < TaskStatus::Running);
        assert!(TaskStatus::Running < TaskStatus::Stopped);
        assert_eq!(TaskStatus::parse("DEACTIVATING").map(TaskStatus::as_str), Some("DEACTIVATING"));
        assert_eq!(serde_json::to_string(&TaskStatus::Stopped).unwrap(), "\"STOPPED\"");
    }

    #[test]
    fn health_over_essential_containers() {
        use HealthStatus::*;
        assert_eq!(task_health([Healthy, Healthy].into_iter()), Healthy);
        assert_eq!(task_health([Healthy, Unknown].into_iter()), Unknown);
        assert_eq!(task_health([Unknown, Unhealthy].into_iter()), Unhealthy);
        assert_eq!(task_health(std::iter::empty()), Unknown);
    }
}
