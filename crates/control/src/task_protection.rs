//! UpdateTaskProtection and GetTaskProtection: scale-in protection for a service's tasks.
//! A protected task is left running when the service scales in or a deployment replaces
//! its tasks (the service controller stops others, or waits for the protection to end);
//! StopTask, a crash, or deleting the service still stop it, as on ECS. Protection lasts
//! `expiresInMinutes` (1 to 2,880, default 120).

use std::sync::Arc;

use berth_model::{
    ecs::{GetTaskProtectionRequest, ProtectedTask, TaskProtectionResponse, UpdateTaskProtectionRequest},
    json, time, EcsError, Failure,
};

use crate::{clusters::active_cluster, state::Change, tasks::find_task, Caller, Control, TaskRecord};

const DEFAULT_MINUTES: i64 = 120;
const MAX_MINUTES: i64 = 2880;
const MAX_TASKS: usize = 10;

fn protection_of(rec: &TaskRecord, now: f64) -> ProtectedTask {
    let on = rec.protected_at(now);
    ProtectedTask {
        task_arn: rec.task.task_arn.clone(),
        protection_enabled: on,
        expiration_date: if on { rec.protected_until } else { None },
    }
}

/// Whether the task belongs to a service (the only tasks protection applies to).
fn of_service(rec: &TaskRecord) -> bool {
    rec.task.group.starts_with("service:")
}

impl Control {
    pub async fn update_task_protection(
        &self,
        caller: &Caller,
        req: UpdateTaskProtectionRequest,
    ) -> Result<TaskProtectionResponse, EcsError> {
        let cluster = json::required(&req.cluster, "cluster")?.clone();
        let tasks = json::required(&req.tasks, "tasks")?.clone();
        let enabled = *json::required(&req.protection_enabled, "protectionEnabled")?;
        if tasks.is_empty() || tasks.len() > MAX_TASKS {
            return Err(EcsError::invalid(format!("tasks must list 1 to {MAX_TASKS} tasks.")));
        }
        let minutes = req.expires_in_minutes.unwrap_or(DEFAULT_MINUTES);
        if !(1..=MAX_MINUTES).contains(&minutes) {
            return Err(EcsError::invalid(format!(
                "expiresInMinutes must be between 1 and {MAX_MINUTES} (48 hours); it was {minutes}."
            )));
        }
        let caller = caller.clone();
        self.write(move |state, changes| {
            let cluster = active_cluster(state, &caller, Some(&cluster))?.cluster_name.clone();
            let now = time::now();
            let region = state.region(&caller.region);
            let mut answer = TaskProtectionResponse::default();
            for reference in &tasks {
                let Some(rec) = find_task(region, &cluster, reference) else {
                    answer.failures.push(Failure::new(reference.clone(), "MISSING"));
                    continue;
                };
                if !of_service(rec) {
                    answer.failures.push(Failure {
                        arn: Some(rec.task.task_arn.clone()),
                        reason: Some("TASK_NOT_VALID".into()),
                        detail: Some("Task protection applies only to tasks of a service.".into()),
                    });
                    continue;
                }
                let mut updated = (**rec).clone();
                updated.protected_until = enabled.then_some(now + minutes as f64 * 60.0);
                answer.protected_tasks.push(protection_of(&updated, now));
                changes.push(Change::Task { region: caller.region.clone(), record: Arc::new(updated) });
            }
            Ok(answer)
        })
        .await
    }

    pub fn get_task_protection(
        &self,
        caller: &Caller,
        req: &GetTaskProtectionRequest,
    ) -> Result<TaskProtectionResponse, EcsError> {
        let cluster = json::required(&req.cluster, "cluster")?;
        self.read(|state| {
            let cluster = active_cluster(state, caller, Some(cluster))?.cluster_name.clone();
            let now = time::now();
            let region = state.region(&caller.region);
            let mut answer = TaskProtectionResponse::default();
            match &req.tasks {
                Some(tasks) => {
                    for reference in tasks {
                        match find_task(region, &cluster, reference) {
                            Some(rec) if of_service(rec) => answer.protected_tasks.push(protection_of(rec, now)),
                            Some(rec) => {
                                answer.failures.push(Failure::new(rec.task.task_arn.clone(), "TASK_NOT_VALID"))
                            }
                            None => answer.failures.push(Failure::new(reference.clone(), "MISSING")),
                        }
                    }
                }
                // Without a list: every protected task of the cluster.
                None => answer.protected_tasks.extend(
                    region
                        .tasks
                        .values()
                        .filter(|r| r.cluster == cluster && r.protected_at(now))
                        .map(|r| protection_of(r, now)),
                ),
            }
            Ok(answer)
        })
    }
}
