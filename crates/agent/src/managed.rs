//! One container of a task as its task manager sees it: its definition, the engine's id
//! once created, and what was last observed of it.

use berth_model::{
    task::{ContainerStateChange, HealthStatus, NetworkBinding, TaskStatus},
    task_definition::ContainerDefinition,
};
use berth_runtime::Health;

pub(crate) struct Managed {
    pub(crate) def: ContainerDefinition,
    pub(crate) id: Option<String>,
    pub(crate) status: TaskStatus,
    pub(crate) exit_code: Option<i64>,
    pub(crate) reason: Option<String>,
    pub(crate) health: Health,
    pub(crate) bindings: Vec<NetworkBinding>,
}

impl Managed {
    /// A container not created yet.
    pub(crate) fn new(def: ContainerDefinition) -> Managed {
        Managed {
            def,
            id: None,
            status: TaskStatus::Pending,
            exit_code: None,
            reason: None,
            health: Health::None,
            bindings: Vec::new(),
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.def.name.as_deref().unwrap_or_default()
    }

    pub(crate) fn exited(&self) -> bool {
        self.status == TaskStatus::Stopped
    }

    /// What the agent reports about this container.
    pub(crate) fn state_change(&self) -> ContainerStateChange {
        ContainerStateChange {
            container_name: Some(self.name().to_string()),
            runtime_id: self.id.clone(),
            exit_code: self.exit_code,
            network_bindings: self.bindings.clone(),
            reason: self.reason.clone(),
            status: Some(self.status),
            health_status: Some(health_status(self.health)),
            image_digest: None,
        }
    }
}

/// The engine's health in ECS's words (a check still starting is UNKNOWN).
fn health_status(h: Health) -> HealthStatus {
    match h {
        Health::Healthy => HealthStatus::Healthy,
        Health::Unhealthy => HealthStatus::Unhealthy,
        Health::None | Health::Starting => HealthStatus::Unknown,
    }
}
