//! berth's own operations (`BerthV1.*`), beside the ECS API.

use serde::{Deserialize, Serialize};

use crate::placement::PlacementStrategy;

/// `PlanTask` takes RunTask's body ([`crate::ecs::RunTaskRequest`], `count` up to
/// 10,000) and answers where the tasks would go, changing nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanTaskResponse {
    /// The strategies in force (RunTask's default is `random`).
    pub strategies: Vec<PlacementStrategy>,
    /// Where each task would go; `None`: nowhere.
    pub placements: Vec<Option<String>>,
    /// Every instance, for the first task: its rank or the filter that rejects it.
    pub instances: Vec<PlannedInstance>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedInstance {
    pub container_instance_arn: String,
    /// 1 = chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<usize>,
    /// The spread bucket the instance is in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bucket: Vec<String>,
    /// Its key under the other strategies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key: Vec<i64>,
    /// The rejecting filter (`RESOURCE:MEMORY`, `MemberOf`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `DescribeCapacityReservations` (no input): managed scaling's latest figures for every
/// EC2 capacity provider a cluster uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityReservationsResponse {
    pub reservations: Vec<CapacityReservation>,
}

/// One provider's figures: ECS's `CapacityProviderReservation` metric and what it is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityReservation {
    pub capacity_provider: String,
    pub cluster: String,
    /// M / N × 100: hosts needed over hosts in the group (100 with neither; 200 when
    /// tasks wait and the group has no host, as ECS reports it).
    pub capacity_provider_reservation: f64,
    pub hosts: usize,
    pub hosts_needed: usize,
    pub waiting_tasks: usize,
}

/// `BerthV1.DescribeServiceStats`: a service's running tasks with their latest measured
/// CPU and memory (`berth service stats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeServiceStatsRequest {
    pub cluster: Option<String>,
    pub service: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeServiceStatsResponse {
    pub tasks: Vec<TaskStatsView>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatsView {
    pub task_arn: String,
    pub last_status: crate::task::TaskStatus,
    /// What the task reserves: CPU units and MiB.
    pub cpu_reserved: i64,
    pub memory_reserved: i64,
    /// The latest measurement, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<crate::agent::TaskStats>,
    /// When it was received (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_at: Option<f64>,
}
