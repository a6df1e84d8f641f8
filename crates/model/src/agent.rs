//! The agent protocol: how an agent asks for the tasks its instance should run, and what
//! the server answers. The server and the agent both speak these types.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{task::TaskOverride, task_definition::TaskDefinition};

/// `X-Amz-Target` prefix of berth's agent operations (PollDesiredTasks, Heartbeat).
pub const TARGET_PREFIX: &str = "BerthAgentV1.";
/// The response header RegisterContainerInstance carries the agent's token in; requests
/// then send it as `Authorization: Bearer TOKEN`.
pub const TOKEN_HEADER: &str = "x-berth-agent-token";

/// PollDesiredTasks: answer once the desired set is newer than `known_version`, or after
/// `wait_seconds` with the same version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollDesiredTasks {
    #[serde(default)]
    pub known_version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_seconds: Option<u64>,
    /// Ask for the other hosts' task routes too (agents that route between hosts).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub routes: bool,
}

/// Everything an instance should be running, as of `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredTasks {
    pub version: u64,
    pub cluster_arn: String,
    /// ACTIVE, DRAINING or INACTIVE (deregistered: the agent should stop).
    pub instance_status: crate::status::InstanceStatus,
    pub tasks: Vec<DesiredTask>,
    /// The `/24` this host's awsvpc tasks take their addresses from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_subnet: Option<String>,
    /// The other hosts' task subnets and the addresses they are reached at (for agents
    /// that route between hosts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<TaskRoute>,
    /// Pull-only credentials for berth's registry, fresh on every answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_auth: Option<RegistryAuth>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredTask {
    pub task_arn: String,
    pub desired_status: crate::status::DesiredStatus,
    pub task_definition: Arc<TaskDefinition>,
    pub overrides: TaskOverride,
    /// An awsvpc task's network interface: its address and MAC are in the details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<crate::network::Attachment>,
    /// berth's DNS server for the task's containers, when its cluster uses service
    /// discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<TaskDns>,
}

/// The resolver configuration a task's containers get.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskDns {
    /// Nameservers (port 53); empty: the gateway of the container's network (the server
    /// runs on the task's host and listens on every address).
    #[serde(default)]
    pub servers: Vec<String>,
    /// Search domains: the namespaces the cluster's services are registered in.
    #[serde(default)]
    pub search: Vec<String>,
}

impl DesiredTask {
    /// The cluster the task belongs to (from its ARN, `task/CLUSTER/ID`): a host offering
    /// Fargate capacity runs tasks of many clusters.
    pub fn cluster(&self) -> &str {
        let mut parts = self.task_arn.rsplit('/');
        parts.next();
        parts.next().unwrap_or_default()
    }
}

/// A host's task subnet and the address of the host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRoute {
    pub subnet: String,
    pub via: String,
}

/// Credentials for berth's registry at `registry` (`host:port`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
    pub registry: String,
}

/// ReportTaskStats: what the agent measured of its running tasks over its last interval
/// (from the kernel's cgroup counters). CPU in CPU units (1,024 a core), memory in MiB
/// (used, without the page cache, as `docker stats` shows it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatsReport {
    /// How long the measurement covers.
    pub interval_seconds: f64,
    pub tasks: Vec<TaskStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStats {
    pub task_arn: String,
    pub cpu_units: f64,
    pub memory_mib: f64,
    pub containers: Vec<ContainerStats>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStats {
    pub name: String,
    pub cpu_units: f64,
    pub memory_mib: f64,
}
