//! One container of a task as its task manager sees it: its definition, the engine's id
//! once created, and what was last observed of it.

use berth_model::{
    task::{ContainerStateChange, HealthStatus, NetworkBinding, TaskStatus},
    task_definition::{ContainerDefinition, DependencyCondition},
};
use berth_runtime::Health;
use std::time::Duration;

/// How long a container may wait for its dependencies when it sets no startTimeout.
const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(180);

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

/// Whether container `i` of `containers` may start now (its dependencies have waited
/// `waited` so far); an error when it never can.
pub(crate) fn dependencies_met(containers: &[Managed], i: usize, waited: Duration) -> Result<bool, String> {
    let c = &containers[i];
    for dep in c.def.depends_on.iter().flatten() {
        let Some(d) = containers.iter().find(|x| x.name() == dep.container_name) else {
            return Err(format!("dependsOn names an unknown container '{}'", dep.container_name));
        };
        let Some(condition) = dep.condition() else {
            return Err(format!("unknown dependsOn condition {}", dep.condition));
        };
        let met = match condition {
            DependencyCondition::Start => d.id.is_some() && d.status != TaskStatus::Pending,
            DependencyCondition::Complete => d.exited(),
            DependencyCondition::Success => {
                if d.exited() && d.exit_code != Some(0) {
                    return Err(format!(
                        "DependencyError: container {} exited with code {} but {} needs it to succeed",
                        d.name(),
                        d.exit_code.map_or("unknown".into(), |c| c.to_string()),
                        c.name()
                    ));
                }
                d.exited()
            }
            DependencyCondition::Healthy => {
                if d.health == Health::Unhealthy || d.exited() {
                    return Err(format!(
                        "DependencyError: container {} is not healthy, which {} needs",
                        d.name(),
                        c.name()
                    ));
                }
                d.health == Health::Healthy
            }
        };
        if !met {
            let limit =
                c.def.start_timeout.map(|s| Duration::from_secs(s.max(0) as u64)).unwrap_or(DEFAULT_START_TIMEOUT);
            if waited > limit {
                return Err(format!(
                    "DependencyError: {} waited more than {}s for {} to reach {}",
                    c.name(),
                    limit.as_secs(),
                    d.name(),
                    dep.condition
                ));
            }
            return Ok(false);
        }
    }
    Ok(true)
}
