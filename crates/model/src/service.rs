//! Services: the wire shapes of a service, its deployments and events, and the
//! deployment arithmetic ECS documents.

use serde::{Deserialize, Serialize};

use crate::{tag::Tag, time::Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub service_arn: String,
    pub service_name: String,
    pub cluster_arn: String,
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancer>,
    #[serde(default)]
    pub service_registries: Vec<ServiceRegistry>,
    pub status: crate::status::ServiceStatus,
    pub desired_count: i64,
    pub running_count: i64,
    pub pending_count: i64,
    /// Where its tasks run.
    #[serde(flatten)]
    pub launch: LaunchSettings,
    pub task_definition: String,
    pub deployment_configuration: DeploymentConfiguration,
    pub deployments: Vec<Deployment>,
    pub events: Vec<ServiceEvent>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub placement_constraints: Vec<crate::placement::PlacementConstraint>,
    #[serde(default)]
    pub placement_strategy: Vec<crate::placement::PlacementStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check_grace_period_seconds: Option<i64>,
    pub scheduling_strategy: String,
    pub deployment_controller: DeploymentController,
    /// The IAM role a service with a classic load balancer names (`role` on CreateService).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(rename = "enableECSManagedTags")]
    pub enable_ecs_managed_tags: bool,
    pub propagate_tags: String,
    pub enable_execute_command: bool,
}

/// Where a service's (or a deployment's) tasks run, as ECS reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct LaunchSettings {
    /// EC2 or FARGATE; empty for a service on a capacity provider strategy (ECS omits it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub launch_type: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capacity_provider_strategy: Vec<crate::capacity_provider::CapacityProviderStrategyItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_configuration: Option<crate::network::NetworkConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_family: Option<String>,
}

impl LaunchSettings {
    /// Whether the tasks run on Fargate (by launch type or by Fargate providers).
    pub fn is_fargate(&self) -> bool {
        self.launch_type == crate::capacity_provider::LaunchType::Fargate.as_str()
            || self
                .capacity_provider_strategy
                .iter()
                .any(|i| crate::capacity_provider::is_fargate(&i.capacity_provider))
    }
}

/// A target group a service's tasks are registered in: one container port of each task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i64>,
}

/// A Cloud Map service a service's tasks are registered in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRegistry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_arn: Option<String>,
    /// The SRV port of awsvpc tasks (instead of containerName/containerPort).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_circuit_breaker: Option<DeploymentCircuitBreaker>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_percent: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_healthy_percent: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentCircuitBreaker {
    pub enable: bool,
    pub rollback: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub id: String,
    pub status: crate::status::DeploymentStatus,
    pub task_definition: String,
    pub desired_count: i64,
    pub pending_count: i64,
    pub running_count: i64,
    pub failed_tasks: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Where its tasks run.
    #[serde(flatten)]
    pub launch: LaunchSettings,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout_state: Option<crate::status::RolloutState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout_state_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEvent {
    pub id: String,
    pub created_at: Timestamp,
    pub message: String,
}

/// The task group of a service's tasks (ECS: `service:NAME`).
pub fn service_group(service_name: &str) -> String {
    format!("service:{service_name}")
}

/// At most this many events are kept and shown, newest first.
pub const MAX_EVENTS: usize = 100;

/// ECS's default quota "Tasks per service": the largest desiredCount a service may ask for.
pub const MAX_TASKS_PER_SERVICE: i64 = 5000;

/// The fewest healthy tasks a deployment may leave running: ceil(desired × min% / 100).
/// Computed wide, so no stored value can overflow it.
pub fn minimum_healthy(desired: i64, minimum_percent: i64) -> i64 {
    let wide = (desired.max(0) as i128 * minimum_percent.max(0) as i128 + 99) / 100;
    wide.min(i64::MAX as i128) as i64
}

/// The most RUNNING + PENDING tasks a service may have: floor(desired × max% / 100).
pub fn maximum_tasks(desired: i64, maximum_percent: i64) -> i64 {
    let wide = desired.max(0) as i128 * maximum_percent.max(0) as i128 / 100;
    wide.min(i64::MAX as i128) as i64
}

/// The circuit breaker's failure threshold: half the desired count, at least 3, at most 200.
pub fn circuit_breaker_threshold(desired: i64) -> i64 {
    ((desired + 1) / 2).clamp(3, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecs_documented_examples() {
        // 4 × 50 %: two may stop first; 2 × 75 %: floor of 2; 3 × 125 %: ceiling of 3.
        assert_eq!(minimum_healthy(4, 50), 2);
        assert_eq!(minimum_healthy(2, 75), 2);
        assert_eq!(maximum_tasks(3, 125), 3);
        assert_eq!(maximum_tasks(4, 200), 8);
        assert_eq!(circuit_breaker_threshold(1), 3);
        assert_eq!(circuit_breaker_threshold(25), 13);
        assert_eq!(circuit_breaker_threshold(800), 200);
    }

    #[test]
    fn budgets_never_overflow() {
        assert_eq!(maximum_tasks(i64::MAX, 200), i64::MAX);
        assert_eq!(minimum_healthy(i64::MAX, 100), i64::MAX);
        assert_eq!(maximum_tasks(-5, 200), 0);
        assert!(minimum_healthy(i64::MAX / 2, 50) > 0);
    }
}

crate::status::status! {
    /// Who deploys a service's new revisions.
    DeploymentControllerType (default Ecs) {
        Ecs => "ECS",
        CodeDeploy => "CODE_DEPLOY",
        External => "EXTERNAL",
    }
}

/// `deploymentController` of a service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DeploymentController {
    #[serde(rename = "type")]
    pub kind: DeploymentControllerType,
}
