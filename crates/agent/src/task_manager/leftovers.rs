//! A task's containers from before an agent restart: adopting those that ran on, removing
//! those that never started, and removing all of them once the task is done.

use berth_model::network::AttachmentStatus;
use berth_runtime::{ContainerRuntime, RunState};

use super::TaskManager;
use crate::{
    pause::PAUSE_CONTAINER,
    spec::{self, LABEL_CONTAINER_NAME, LABEL_INSTANCE, LABEL_TASK_ARN},
};

impl<R: ContainerRuntime> TaskManager<R> {
    /// Finds containers of this task that already exist (after an agent restart).
    pub(super) async fn adopt(&mut self) {
        let existing = match self.runtime.list(LABEL_TASK_ARN, &self.task_arn).await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(task = %self.task_arn, error = %e, "listing existing containers failed");
                return;
            }
        };
        for status in existing.into_iter().filter(|s| s.labels.get(LABEL_INSTANCE) == Some(&self.instance_arn)) {
            let name = status.labels.get(LABEL_CONTAINER_NAME).cloned().unwrap_or_default();
            if name == PAUSE_CONTAINER && status.state == RunState::Running {
                self.pause = Some(status.id.clone());
                self.eni_status = Some(AttachmentStatus::Attached);
                continue;
            }
            if status.state == RunState::Created || name == PAUSE_CONTAINER {
                // The previous agent died between creating and starting it: nothing ran
                // yet, so remove it and let the start create it afresh.
                tracing::info!(task = %self.task_arn, container = %name, "removing a container that was never started");
                if let Err(e) = self.runtime.remove(&status.id).await {
                    tracing::warn!(task = %self.task_arn, container = %name, error = %e, "removing it failed");
                }
                continue;
            }
            if let Some(c) = self.containers.iter_mut().find(|c| c.name() == name) {
                tracing::info!(task = %self.task_arn, container = %name, "adopted running container");
                c.id = Some(status.id.clone());
                self.pulled = true;
            }
        }
        for i in 0..self.containers.len() {
            // Output left unshipped by the previous agent (running or exited since).
            if let Err(problem) = self.ship_logs(i).await {
                tracing::warn!(task = %self.task_arn, %problem, "cannot ship an adopted container's output");
            }
        }
        if self.containers.iter().any(|c| c.id.is_some()) {
            self.refresh().await;
            if self.containers.iter().all(|c| c.id.is_some()) {
                self.enter_running();
            }
        }
    }

    /// The id of the running container named `name` if it is this task's on this instance.
    pub(super) async fn leftover(&self, name: &str) -> Option<String> {
        let status = self.runtime.inspect(name).await.ok().flatten()?;
        let ours = status.labels.get(LABEL_TASK_ARN) == Some(&self.task_arn)
            && status.labels.get(LABEL_INSTANCE) == Some(&self.instance_arn);
        (ours && status.state == RunState::Running).then_some(status.id)
    }

    /// Removes every container of the task (and its volumes and network).
    pub(super) async fn remove_all(&mut self) {
        // Every container labelled with the task on this instance, recorded or not: one a
        // previous agent created but never recorded goes too.
        let mut ids: Vec<String> = self.containers.iter().filter_map(|c| c.id.clone()).collect();
        match self.runtime.list(LABEL_TASK_ARN, &self.task_arn).await {
            Ok(found) => {
                for s in found {
                    let ours = s.labels.get(LABEL_INSTANCE) == Some(&self.instance_arn)
                        && s.labels.get(LABEL_CONTAINER_NAME).map(String::as_str) != Some(PAUSE_CONTAINER);
                    if ours && !ids.contains(&s.id) {
                        ids.push(s.id);
                    }
                }
            }
            Err(e) => tracing::warn!(task = %self.task_arn, error = %e, "listing the task's containers failed"),
        }
        for id in &ids {
            if let Err(e) = self.runtime.remove(id).await {
                tracing::warn!(task = %self.task_arn, error = %e, "removing a container failed");
            }
        }
        for volume in spec::task_volumes(&self.ctx(), &self.td) {
            if let Err(e) = self.runtime.remove_volume(&volume).await {
                tracing::warn!(task = %self.task_arn, %volume, error = %e, "removing a task volume failed");
            }
        }
        if let Some(name) = &self.pause_name {
            // By name: a pause container created but never recorded (the agent stopped
            // between the two) goes too.
            if let Err(e) = self.runtime.remove(name).await {
                tracing::warn!(task = %self.task_arn, error = %e, "removing the pause container failed");
            }
            self.network.release(self.runtime.as_ref()).await;
        }
    }
}
