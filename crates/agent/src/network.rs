//! The host's network for awsvpc tasks: one Docker bridge network per instance on the
//! task subnet the server gave it, created when the first awsvpc task needs it and
//! removed when the last one is gone. Each awsvpc task gets a pause container on it with
//! the task's own address; the task's containers join the pause container's network
//! namespace, so they share the address and reach each other on localhost.

use std::{collections::BTreeMap, sync::RwLock};

use berth_model::network::{Attachment, TaskSubnet};
use berth_runtime::{ContainerRuntime, ContainerSpec, NetworkSpec, RuntimeError};

use crate::{
    pause::{self, PAUSE_CONTAINER, PAUSE_IMAGE},
    spec::{TaskContext, LABEL_CLUSTER, LABEL_CONTAINER_NAME, LABEL_INSTANCE, LABEL_TASK_ARN},
};

/// The instance's task network, shared by its task managers.
pub struct TaskNetwork {
    instance_arn: String,
    /// The server's latest word on this host's task subnet.
    subnet: RwLock<Option<String>>,
    /// Held while the network is created, joined or removed, so a removal never races a
    /// task joining it.
    lock: tokio::sync::Mutex<()>,
}

impl TaskNetwork {
    pub fn new(instance_arn: &str) -> TaskNetwork {
        TaskNetwork {
            instance_arn: instance_arn.to_string(),
            subnet: RwLock::new(None),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn set_subnet(&self, subnet: Option<String>) {
        *self.subnet.write().unwrap_or_else(|p| p.into_inner()) = subnet;
    }

    /// The host's address on the task network (its gateway), once the server gave a subnet.
    pub fn gateway(&self) -> Option<String> {
        let subnet = self.subnet.read().unwrap_or_else(|p| p.into_inner()).clone()?;
        let subnet: TaskSubnet = subnet.parse().ok()?;
        Some(subnet.gateway().to_string())
    }

    /// The engine network's name: one per instance.
    pub fn name(&self) -> String {
        let id = self.instance_arn.rsplit('/').next().unwrap_or_default();
        format!("berth-tasks-{}", &id[..id.len().min(12)])
    }

    /// Creates the task's pause container on the network (creating the network first if
    /// needed) with the address its interface was given, and starts it; its id.
    pub async fn attach<R: ContainerRuntime>(
        &self,
        runtime: &R,
        ctx: &TaskContext<'_>,
        eni: &Attachment,
        resolver: Option<&crate::task_manager::Resolver>,
    ) -> Result<String, RuntimeError> {
        let ip = eni
            .detail("privateIPv4Address")
            .ok_or_else(|| RuntimeError::Engine("the task's network interface has no address yet".into()))?;
        let subnet_text = self.subnet.read().unwrap_or_else(|p| p.into_inner()).clone();
        let subnet: TaskSubnet = subnet_text
            .as_deref()
            .ok_or_else(|| RuntimeError::Engine("the server has not given this host a task subnet".into()))?
            .parse()
            .map_err(RuntimeError::Engine)?;
        let _held = self.lock.lock().await;
        pause::ensure_image(runtime).await?;
        let labels = BTreeMap::from([(LABEL_INSTANCE.to_string(), self.instance_arn.clone())]);
        let network =
            NetworkSpec { name: self.name(), subnet: subnet.cidr(), gateway: subnet.gateway().to_string(), labels };
        // Looked up first: engines before API 1.44 accept a second network of the same name.
        if !runtime.list_networks(LABEL_INSTANCE, &self.instance_arn).await?.contains(&network.name) {
            match runtime.create_network(&network).await {
                Ok(()) | Err(RuntimeError::Conflict(_)) => {}
                // A task network another agent left on this engine (it was killed, or an
                // earlier server used the same pool) holds the subnet: remove the unused
                // ones (the engine refuses those still in use) and try once more.
                Err(RuntimeError::Engine(m)) if m.contains("overlaps") => {
                    for stale in runtime.list_networks(LABEL_INSTANCE, "").await? {
                        if stale != network.name && runtime.remove_network(&stale).await.is_ok() {
                            tracing::info!(network = %stale, "removed a task network no agent uses");
                        }
                    }
                    match runtime.create_network(&network).await {
                        Ok(()) | Err(RuntimeError::Conflict(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let spec = ContainerSpec {
            name: ctx.pause_name(),
            image: PAUSE_IMAGE.into(),
            entry_point: Some(vec!["/pause".into()]),
            network_mode: network.name.clone(),
            ipv4_address: Some(ip.to_string()),
            labels: BTreeMap::from([
                (LABEL_CLUSTER.to_string(), ctx.cluster.to_string()),
                (LABEL_TASK_ARN.to_string(), ctx.task_arn.to_string()),
                (LABEL_CONTAINER_NAME.to_string(), PAUSE_CONTAINER.to_string()),
                (LABEL_INSTANCE.to_string(), ctx.instance_arn.to_string()),
            ]),
            cpu_shares: Some(2),
            ..Default::default()
        };
        // The task's containers share this one's resolver configuration.
        let mut spec = spec;
        if let Some(r) = resolver {
            crate::spec::use_resolver(&mut spec, r);
        }
        let id = match runtime.create(&spec).await {
            // Left over from an interrupted attempt: replace it.
            Err(RuntimeError::Conflict(_)) => {
                runtime.remove(&spec.name).await?;
                runtime.create(&spec).await?
            }
            other => other?,
        };
        runtime.start(&id).await?;
        Ok(id)
    }

    /// Removes the network unless tasks still use it (the engine refuses then).
    pub async fn release<R: ContainerRuntime>(&self, runtime: &R) {
        let _held = self.lock.lock().await;
        match runtime.remove_network(&self.name()).await {
            Ok(()) | Err(RuntimeError::Conflict(_)) => {}
            Err(e) => tracing::warn!(network = %self.name(), error = %e, "removing the task network failed"),
        }
    }
}
