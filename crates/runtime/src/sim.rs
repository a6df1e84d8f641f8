//! A simulated engine: containers "run" in memory until told to exit. For tests of the
//! agent and control plane that need no Docker, and for running many agents in one process.
//!
//! Conventions: pulling an image whose name contains `does-not-exist` fails; starting a
//! container whose command is `["fail"]` fails; a container with a health check starts
//! `Starting` until [`SimRuntime::set_health`] says otherwise.

use std::{
    collections::{BTreeMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::{
    BoundPort, ContainerRuntime, ContainerSpec, ContainerStatus, Health, NetworkSpec, RegistryAuth, Result, RunState,
    RuntimeError, RuntimeInfo,
};

#[derive(Clone, Default)]
pub struct SimRuntime {
    inner: Arc<Mutex<SimState>>,
}

#[derive(Default)]
struct SimState {
    images: HashSet<String>,
    /// Pull attempts, by image.
    pulls: BTreeMap<String, usize>,
    /// Health that containers whose name ends with the suffix report once started.
    health_rules: Vec<(String, Health)>,
    containers: BTreeMap<String, SimContainer>,
    networks: BTreeMap<String, NetworkSpec>,
    next_id: u64,
    next_port: u32,
}

struct SimContainer {
    spec: ContainerSpec,
    status: ContainerStatus,
}

impl SimRuntime {
    pub fn new() -> SimRuntime {
        SimRuntime::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Puts `image` on the simulated host, as if pulled or built earlier.
    pub fn add_image(&self, image: &str) {
        self.lock().images.insert(image.to_string());
    }

    /// How many times `image` was pulled (or tried).
    pub fn pulls(&self, image: &str) -> usize {
        self.lock().pulls.get(image).copied().unwrap_or(0)
    }

    /// Makes a running container exit with `code`, as if its process ended.
    pub fn exit(&self, id: &str, code: i64) {
        if let Some(c) = self.lock().containers.get_mut(id) {
            c.status.state = RunState::Exited(code);
        }
    }

    /// Every container whose name ends with `name_suffix` (for example `-web`, the
    /// container `web` of any task), now and from its start on, reports `health`.
    pub fn set_health_of(&self, name_suffix: &str, health: Health) {
        let mut s = self.lock();
        s.health_rules.push((name_suffix.to_string(), health));
        for c in s.containers.values_mut().filter(|c| c.status.name.ends_with(name_suffix)) {
            c.status.health = health;
        }
    }

    pub fn set_health(&self, id: &str, health: Health) {
        if let Some(c) = self.lock().containers.get_mut(id) {
            c.status.health = health;
        }
    }

    /// Every network, by name.
    pub fn networks(&self) -> Vec<NetworkSpec> {
        self.lock().networks.values().cloned().collect()
    }

    /// Every container, by name.
    pub fn containers(&self) -> Vec<(String, ContainerSpec, ContainerStatus)> {
        self.lock().containers.values().map(|c| (c.status.name.clone(), c.spec.clone(), c.status.clone())).collect()
    }
}

impl ContainerRuntime for SimRuntime {
    /// Simulated containers print nothing.
    fn logs(&self, _id: &str, _since_secs: i64) -> crate::LogStream {
        use futures_util::StreamExt;
        futures_util::stream::empty().boxed()
    }

    async fn info(&self) -> Result<RuntimeInfo> {
        Ok(RuntimeInfo { version: "sim".into(), cpus: 2, memory_mib: 4096 })
    }

    async fn has_image(&self, image: &str) -> Result<bool> {
        Ok(self.lock().images.contains(image))
    }

    async fn pull_image(&self, image: &str, _auth: Option<&RegistryAuth>) -> Result<()> {
        *self.lock().pulls.entry(image.to_string()).or_default() += 1;
        if image.contains("does-not-exist") {
            return Err(RuntimeError::NotFound(format!("pull access denied for {image}, repository does not exist")));
        }
        self.lock().images.insert(image.to_string());
        Ok(())
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<String> {
        let mut s = self.lock();
        if s.containers.values().any(|c| c.status.name == spec.name) {
            return Err(RuntimeError::Conflict(format!("The container name \"/{}\" is already in use", spec.name)));
        }
        s.next_id += 1;
        let id = format!("{:064x}", s.next_id);
        let status = ContainerStatus {
            id: id.clone(),
            name: spec.name.clone(),
            labels: spec.labels.clone(),
            ..Default::default()
        };
        s.containers.insert(id.clone(), SimContainer { spec: spec.clone(), status });
        Ok(id)
    }

    async fn start(&self, id: &str) -> Result<()> {
        let mut s = self.lock();
        let base = 49153 + s.next_port;
        let rule = s.containers.get(id).and_then(|c| {
            s.health_rules.iter().rev().find(|(suffix, _)| c.status.name.ends_with(suffix.as_str())).map(|(_, h)| *h)
        });
        let c = s.containers.get_mut(id).ok_or_else(|| RuntimeError::NotFound(id.into()))?;
        if c.spec.command.as_deref() == Some(&["fail".to_string()][..]) {
            c.status.state = RunState::Exited(127);
            return Err(RuntimeError::Engine("exec: \"fail\": executable file not found in $PATH".into()));
        }
        c.status.state = RunState::Running;
        if c.spec.health_check.is_some() {
            c.status.health = rule.unwrap_or(Health::Starting);
        }
        let mut used = 0;
        if c.spec.network_mode == "bridge" {
            c.status.ports = c
                .spec
                .ports
                .iter()
                .map(|p| {
                    let host_port = p.host_port.unwrap_or_else(|| {
                        used += 1;
                        base + used - 1
                    });
                    BoundPort {
                        container_port: p.container_port,
                        host_port,
                        protocol: p.protocol.clone(),
                        host_ip: "0.0.0.0".into(),
                    }
                })
                .collect();
        }
        s.next_port += used;
        Ok(())
    }

    async fn stop(&self, id: &str, _grace: Duration) -> Result<()> {
        if let Some(c) = self.lock().containers.get_mut(id) {
            if c.status.state == RunState::Running {
                c.status.state = RunState::Exited(143);
            }
        }
        Ok(())
    }

    async fn remove(&self, id: &str) -> Result<()> {
        // By id or by name, as the engine takes either.
        self.lock().containers.retain(|key, c| key != id && c.status.name != id);
        Ok(())
    }

    async fn remove_volume(&self, _name: &str) -> Result<()> {
        Ok(())
    }

    async fn inspect(&self, id: &str) -> Result<Option<ContainerStatus>> {
        // By id or by name, as the engine takes either.
        Ok(self
            .lock()
            .containers
            .iter()
            .find(|(key, c)| *key == id || c.status.name == id)
            .map(|(_, c)| c.status.clone()))
    }

    async fn list(&self, key: &str, value: &str) -> Result<Vec<ContainerStatus>> {
        Ok(self
            .lock()
            .containers
            .values()
            .filter(|c| c.status.labels.get(key).map(String::as_str) == Some(value))
            .map(|c| c.status.clone())
            .collect())
    }

    async fn create_network(&self, spec: &NetworkSpec) -> Result<()> {
        let mut s = self.lock();
        if s.networks.contains_key(&spec.name) {
            return Err(RuntimeError::Conflict(format!("network with name {} already exists", spec.name)));
        }
        s.networks.insert(spec.name.clone(), spec.clone());
        Ok(())
    }

    async fn remove_network(&self, name: &str) -> Result<()> {
        let mut s = self.lock();
        if s.containers.values().any(|c| c.spec.network_mode == name) {
            return Err(RuntimeError::Conflict(format!(
                "error while removing network: network {name} has active endpoints"
            )));
        }
        s.networks.remove(name);
        Ok(())
    }

    async fn list_networks(&self, key: &str, value: &str) -> Result<Vec<String>> {
        Ok(self
            .lock()
            .networks
            .values()
            .filter(|n| n.labels.get(key).is_some_and(|v| value.is_empty() || v == value))
            .map(|n| n.name.clone())
            .collect())
    }

    async fn network_gateway(&self, name: &str) -> Result<Option<String>> {
        let s = self.lock();
        let found = s.networks.values().find(|n| n.name == name).map(|n| n.gateway.clone());
        // The engine's default bridge is always there.
        Ok(found.or_else(|| (name == "bridge").then(|| "172.17.0.1".to_string())))
    }

    async fn import_image(&self, name: &str, _rootfs_tar: Vec<u8>) -> Result<()> {
        self.lock().images.insert(name.to_string());
        Ok(())
    }
}
