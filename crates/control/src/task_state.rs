//! What agents report: SubmitTaskStateChange and SubmitContainerStateChange folded into
//! the stored task. Statuses only move forward, timestamps are set once, and a report
//! that changes nothing writes nothing.

use std::sync::Arc;

use berth_model::{
    ecs::SubmitContainerStateChangeRequest,
    network::AttachmentStatus,
    status::DesiredStatus,
    task::{task_health, ContainerStateChange, Task, TaskStateChange, TaskStatus},
    time, EcsError,
};

use crate::{state::Change, task_definitions::TaskDefinitionRef, tasks::bump_instance, Control, RegionState};

/// Folds `change` into `task`. Returns whether the task went STOPPED with this report.
fn merge(region: &RegionState, task: &mut Task, change: &TaskStateChange) -> Result<bool, EcsError> {
    let now = time::now();
    for c in &change.containers {
        let name = c.container_name.as_deref().unwrap_or_default();
        let Some(container) = task.containers.iter_mut().find(|x| x.name == name) else {
            return Err(EcsError::invalid(format!("Task {} has no container named '{name}'.", task.task_arn)));
        };
        if let Some(s) = c.status {
            // A container's status only moves forward.
            container.last_status = container.last_status.max(s);
        }
        if c.runtime_id.is_some() {
            container.runtime_id = c.runtime_id.clone();
        }
        if c.exit_code.is_some() {
            container.exit_code = c.exit_code;
        }
        if c.reason.is_some() {
            container.reason = c.reason.clone();
        }
        if c.image_digest.is_some() {
            container.image_digest = c.image_digest.clone();
        }
        if !c.network_bindings.is_empty() {
            container.network_bindings = c.network_bindings.clone();
        }
        if let Some(h) = c.health_status {
            container.health_status = h;
        }
    }
    let essential: Vec<String> = TaskDefinitionRef::parse(&task.task_definition_arn)
        .ok()
        .and_then(|r| r.resolve(region).cloned())
        .map(|td| td.container_definitions.iter().filter(|c| c.is_essential()).filter_map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    task.health_status =
        task_health(task.containers.iter().filter(|c| essential.contains(&c.name)).map(|c| c.health_status));
    if task.pull_started_at.is_none() {
        task.pull_started_at = change.pull_started_at;
    }
    if task.pull_stopped_at.is_none() {
        task.pull_stopped_at = change.pull_stopped_at;
    }
    for a in &change.attachments {
        let id = a.attachment_arn.rsplit('/').next().unwrap_or(&a.attachment_arn);
        if task.attachments.iter().any(|x| x.id == id) {
            crate::task_network::advance(task, a.status);
        }
    }
    let before = task.last();
    let mut after = before.max(change.status.unwrap_or(before));
    // An awsvpc task is PROVISIONING until its interface is attached (as on ECS).
    let attaching = task.eni().is_some_and(|e| e.status < AttachmentStatus::Attached);
    if attaching && after < TaskStatus::Stopped {
        after = before;
    }
    if after == TaskStatus::Stopped {
        crate::task_network::advance(task, AttachmentStatus::Deleted);
    }
    task.last_status = after;
    if after >= TaskStatus::Running && before < TaskStatus::Running && after == TaskStatus::Running {
        task.started_at = Some(now);
    }
    let stopped_now = after == TaskStatus::Stopped && before != TaskStatus::Stopped;
    if stopped_now {
        task.stopped_at = Some(now);
        task.execution_stopped_at = Some(change.execution_stopped_at.unwrap_or(now));
        task.desired_status = DesiredStatus::Stopped;
        if task.stopping_at.is_none() {
            task.stopping_at = Some(now);
        }
        if task.stop_code.is_none() {
            task.stop_code =
                change.stop_code.clone().or_else(|| (before < TaskStatus::Running).then(|| "TaskFailedToStart".into()));
        }
        if task.stopped_reason.is_none() {
            task.stopped_reason = change.reason.clone();
        }
    }
    Ok(stopped_now)
}

impl Control {
    /// Applies an agent's report about one task. `instance` is the reporting agent's
    /// instance when it authenticated with its token: it may only report its own tasks.
    pub async fn submit_task_state_change(
        &self,
        region: String,
        instance: Option<String>,
        change: TaskStateChange,
    ) -> Result<(), EcsError> {
        let reference =
            change.task.clone().ok_or_else(|| EcsError::invalid("task is required and was not provided."))?;
        self.write(move |state, changes| {
            let r = state.region(&region);
            let rec = r.tasks.get(&reference).ok_or_else(|| EcsError::invalid("The referenced task was not found."))?;
            if instance.is_some() && rec.host() != instance.as_ref() {
                return Err(EcsError::client("The task does not run on the reporting container instance."));
            }
            let mut next = (**rec).clone();
            let stopped_now = merge(r, &mut next.task, &change)?;
            if next == **rec {
                return Ok(());
            }
            next.task.version += 1;
            if stopped_now {
                bump_instance(&region, &next, changes);
            }
            changes.push(Change::Task { region: region.clone(), record: Arc::new(next) });
            Ok(())
        })
        .await
    }

    /// SubmitContainerStateChange: a report about one container, applied as a task report.
    pub async fn submit_container_state_change(
        &self,
        region: String,
        instance: Option<String>,
        r: SubmitContainerStateChangeRequest,
    ) -> Result<(), EcsError> {
        let change = TaskStateChange {
            cluster: r.cluster,
            task: r.task,
            containers: vec![ContainerStateChange {
                container_name: r.container_name,
                runtime_id: r.runtime_id,
                exit_code: r.exit_code,
                network_bindings: r.network_bindings,
                reason: r.reason,
                status: r.status,
                ..Default::default()
            }],
            ..Default::default()
        };
        self.submit_task_state_change(region, instance, change).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_model::task::{Container, HealthStatus};

    fn task() -> Task {
        Task {
            task_arn: "arn:aws:ecs:r:1:task/c/t".into(),
            last_status: TaskStatus::Provisioning,
            desired_status: DesiredStatus::Running,
            containers: vec![Container {
                name: "app".into(),
                last_status: TaskStatus::Pending,
                health_status: HealthStatus::Unknown,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn report(status: &str, container: &str) -> TaskStateChange {
        TaskStateChange {
            status: TaskStatus::parse(status),
            containers: vec![ContainerStateChange {
                container_name: Some("app".into()),
                status: TaskStatus::parse(container),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn statuses_only_move_forward() {
        let region = RegionState::default();
        let mut t = task();
        assert!(!merge(&region, &mut t, &report("RUNNING", "RUNNING")).unwrap());
        assert!(t.started_at.is_some());
        merge(&region, &mut t, &report("PENDING", "PENDING")).unwrap();
        assert_eq!((t.last_status.as_str(), t.containers[0].last_status.as_str()), ("RUNNING", "RUNNING"));
        let mut stop = report("STOPPED", "STOPPED");
        stop.reason = Some("Essential container in task exited".into());
        stop.stop_code = Some("EssentialContainerExited".into());
        assert!(merge(&region, &mut t, &stop).unwrap());
        assert_eq!(t.desired_status, DesiredStatus::Stopped);
        assert_eq!(t.stop_code.as_deref(), Some("EssentialContainerExited"));
        assert!(t.stopped_at.is_some() && t.execution_stopped_at.is_some());
    }

    #[test]
    fn an_awsvpc_task_is_provisioning_until_its_interface_is_attached() {
        use berth_model::{network::Attachment, task::AttachmentStateChange};
        let region = RegionState::default();
        let mut t = task();
        t.attachments.push(Attachment {
            id: "eni-att".into(),
            kind: berth_model::network::ENI_ATTACHMENT.into(),
            status: AttachmentStatus::Precreated,
            details: vec![],
        });
        let attach = |status| AttachmentStateChange { attachment_arn: "eni-att".into(), status };
        let mut r = report("PENDING", "PENDING");
        r.attachments = vec![attach(AttachmentStatus::Attaching)];
        merge(&region, &mut t, &r).unwrap();
        assert_eq!((t.last_status, t.eni().unwrap().status), (TaskStatus::Provisioning, AttachmentStatus::Attaching));
        r.attachments = vec![attach(AttachmentStatus::Attached)];
        merge(&region, &mut t, &r).unwrap();
        assert_eq!((t.last_status, t.eni().unwrap().status), (TaskStatus::Pending, AttachmentStatus::Attached));
        merge(&region, &mut t, &report("STOPPED", "STOPPED")).unwrap();
        assert_eq!(t.eni().unwrap().status, AttachmentStatus::Deleted);
    }

    #[test]
    fn stopping_before_running_is_a_failure_to_start() {
        let region = RegionState::default();
        let mut t = task();
        let mut r = report("STOPPED", "STOPPED");
        r.reason = Some("CannotPullContainerError: no such image".into());
        merge(&region, &mut t, &r).unwrap();
        assert_eq!(t.stop_code.as_deref(), Some("TaskFailedToStart"));
        assert_eq!(t.stopped_reason.as_deref(), Some("CannotPullContainerError: no such image"));
        assert!(t.started_at.is_none());
    }
}
