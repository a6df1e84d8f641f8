//! The Docker Engine API through bollard, API version negotiated with the daemon.

use std::{collections::HashMap, time::Duration};

use bollard::{
    errors::Error as BollardError,
    models::{
        ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HealthConfig, HostConfig, HostConfigLogConfig, Ipam,
        IpamConfig, NetworkCreateRequest, NetworkingConfig, PortBinding, ResourcesUlimits,
    },
    query_parameters::{
        CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
        ListNetworksOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
    },
    Docker,
};
use futures_util::StreamExt;

use crate::{
    bounded, BoundPort, ContainerRuntime, ContainerSpec, ContainerStatus, Health, NetworkSpec, RegistryAuth, Result,
    RunState, RuntimeError, RuntimeInfo,
};

/// Ordinary calls.
const CALL: Duration = Duration::from_secs(30);
/// Image pulls.
const PULL: Duration = Duration::from_secs(600);

#[derive(Clone)]
pub struct DockerRuntime {
    docker: Docker,
    /// Where each container's cgroup counters are, once found.
    cgroups: std::sync::Arc<std::sync::Mutex<HashMap<String, crate::cgroup::Paths>>>,
}

fn engine(e: BollardError) -> RuntimeError {
    match e {
        BollardError::DockerResponseServerError { status_code: 404, message } => RuntimeError::NotFound(message),
        BollardError::DockerResponseServerError { status_code: 409, message } => RuntimeError::Conflict(message),
        BollardError::DockerResponseServerError { message, .. } => RuntimeError::Engine(message),
        other => RuntimeError::Engine(other.to_string()),
    }
}

impl DockerRuntime {
    /// Connects through DOCKER_HOST or the local socket and negotiates the API version.
    pub async fn connect() -> Result<DockerRuntime> {
        let docker = Docker::connect_with_local_defaults().map_err(engine)?;
        let docker = bounded("negotiating the Docker API version", CALL, async {
            docker.negotiate_version().await.map_err(engine)
        })
        .await?;
        Ok(DockerRuntime { docker, cgroups: Default::default() })
    }
}

fn nanos(d: Duration) -> i64 {
    d.as_nanos() as i64
}

fn create_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    let mut exposed = Vec::new();
    for p in &spec.ports {
        let key = format!("{}/{}", p.container_port, p.protocol);
        exposed.push(key.clone());
        let binding =
            PortBinding { host_ip: None, host_port: Some(p.host_port.map(|h| h.to_string()).unwrap_or_default()) };
        port_bindings.entry(key).or_insert_with(|| Some(Vec::new())).get_or_insert_with(Vec::new).push(binding);
    }
    let host_config = HostConfig {
        cpu_shares: spec.cpu_shares,
        memory: spec.memory_mib.map(|m| m * 1024 * 1024),
        memory_reservation: spec.memory_reservation_mib.map(|m| m * 1024 * 1024),
        network_mode: Some(spec.network_mode.clone()),
        port_bindings: (spec.network_mode == "bridge" && !port_bindings.is_empty()).then_some(port_bindings),
        links: (!spec.links.is_empty()).then(|| spec.links.clone()),
        binds: (!spec.binds.is_empty()).then(|| spec.binds.clone()),
        ulimits: (!spec.ulimits.is_empty()).then(|| {
            spec.ulimits
                .iter()
                .map(|(name, soft, hard)| ResourcesUlimits {
                    name: Some(name.clone()),
                    soft: Some(*soft),
                    hard: Some(*hard),
                })
                .collect()
        }),
        log_config: spec.log.as_ref().map(|(driver, options)| HostConfigLogConfig {
            typ: Some(driver.clone()),
            config: Some(options.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        }),
        privileged: spec.privileged.then_some(true),
        readonly_rootfs: spec.readonly_rootfs.then_some(true),
        init: spec.init.then_some(true),
        extra_hosts: (!spec.extra_hosts.is_empty()).then(|| spec.extra_hosts.clone()),
        dns: (!spec.dns.is_empty()).then(|| spec.dns.clone()),
        dns_search: (!spec.dns_search.is_empty()).then(|| spec.dns_search.clone()),
        tmpfs: (!spec.tmpfs.is_empty()).then(|| spec.tmpfs.iter().cloned().collect()),
        cap_add: (!spec.cap_add.is_empty()).then(|| spec.cap_add.clone()),
        cap_drop: (!spec.cap_drop.is_empty()).then(|| spec.cap_drop.clone()),
        shm_size: spec.shm_size_mib.map(|m| m * 1024 * 1024),
        security_opt: (!spec.security_opt.is_empty()).then(|| spec.security_opt.clone()),
        sysctls: (!spec.sysctls.is_empty()).then(|| spec.sysctls.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        entrypoint: spec.entry_point.clone(),
        cmd: spec.command.clone(),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        working_dir: spec.working_dir.clone(),
        user: spec.user.clone(),
        hostname: spec.hostname.clone(),
        labels: Some(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        exposed_ports: (spec.network_mode == "bridge" && !exposed.is_empty()).then_some(exposed),
        healthcheck: spec.health_check.as_ref().map(|h| HealthConfig {
            test: Some(h.test.clone()),
            interval: Some(nanos(h.interval)),
            timeout: Some(nanos(h.timeout)),
            retries: Some(h.retries as i64),
            start_period: Some(nanos(h.start_period)),
            ..Default::default()
        }),
        stop_timeout: spec.stop_timeout.map(|d| d.as_secs() as i64),
        tty: spec.tty.then_some(true),
        open_stdin: spec.open_stdin.then_some(true),
        host_config: Some(host_config),
        networking_config: spec.ipv4_address.as_ref().map(|ip| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                spec.network_mode.clone(),
                EndpointSettings {
                    ipam_config: Some(EndpointIpamConfig { ipv4_address: Some(ip.clone()), ..Default::default() }),
                    ..Default::default()
                },
            )])),
        }),
        ..Default::default()
    }
}

fn status_from_inspect(r: bollard::models::ContainerInspectResponse) -> ContainerStatus {
    use bollard::models::{ContainerStateStatusEnum as S, HealthStatusEnum as H};
    let state = r.state.unwrap_or_default();
    let run = match state.status {
        Some(S::RUNNING) | Some(S::PAUSED) | Some(S::RESTARTING) => RunState::Running,
        Some(S::EXITED) | Some(S::DEAD) | Some(S::REMOVING) => RunState::Exited(state.exit_code.unwrap_or(-1)),
        _ => RunState::Created,
    };
    let health = match state.health.and_then(|h| h.status) {
        Some(H::STARTING) => Health::Starting,
        Some(H::HEALTHY) => Health::Healthy,
        Some(H::UNHEALTHY) => Health::Unhealthy,
        _ => Health::None,
    };
    let mut ports = Vec::new();
    for (key, bindings) in r.network_settings.and_then(|n| n.ports).unwrap_or_default() {
        let (port, protocol) = key.split_once('/').unwrap_or((&key, "tcp"));
        for b in bindings.unwrap_or_default() {
            if let (Ok(container_port), Some(Ok(host_port))) = (port.parse(), b.host_port.as_deref().map(str::parse)) {
                ports.push(BoundPort {
                    container_port,
                    host_port,
                    protocol: protocol.to_string(),
                    host_ip: b.host_ip.unwrap_or_else(|| "0.0.0.0".into()),
                });
            }
        }
    }
    ports.sort_by(|a, b| (a.container_port, &a.host_ip).cmp(&(b.container_port, &b.host_ip)));
    ContainerStatus {
        id: r.id.unwrap_or_default(),
        name: r.name.unwrap_or_default().trim_start_matches('/').to_string(),
        labels: r.config.and_then(|c| c.labels).unwrap_or_default().into_iter().collect(),
        state: run,
        health,
        ports,
        image_id: r.image,
    }
}

impl ContainerRuntime for DockerRuntime {
    async fn usage(&self, id: &str) -> Option<crate::cgroup::Usage> {
        let known = self.cgroups.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned();
        let paths = match known {
            Some(p) => p,
            None => {
                // By id first (no engine call); else through the main process's cgroup.
                let found = match crate::cgroup::locate(id, None) {
                    Some(p) => Some(p),
                    None => {
                        let pid = self.docker.inspect_container(id, None).await.ok().and_then(|r| r.state?.pid);
                        crate::cgroup::locate(id, pid.and_then(|p| u32::try_from(p).ok()).filter(|p| *p > 0))
                    }
                };
                let p = found?;
                self.cgroups.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_string(), p.clone());
                p
            }
        };
        match paths.read() {
            Some(u) => Some(u),
            None => {
                self.cgroups.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
                None
            }
        }
    }

    async fn info(&self) -> Result<RuntimeInfo> {
        bounded("docker info", CALL, async {
            let info = self.docker.info().await.map_err(engine)?;
            Ok(RuntimeInfo {
                version: info.server_version.unwrap_or_default(),
                cpus: info.ncpu.unwrap_or(1),
                memory_mib: info.mem_total.unwrap_or(0) / (1024 * 1024),
            })
        })
        .await
    }

    async fn has_image(&self, image: &str) -> Result<bool> {
        bounded("inspecting an image", CALL, async {
            match self.docker.inspect_image(image).await {
                Ok(_) => Ok(true),
                Err(e) => match engine(e) {
                    RuntimeError::NotFound(_) => Ok(false),
                    other => Err(other),
                },
            }
        })
        .await
    }

    async fn pull_image(&self, image: &str, auth: Option<&RegistryAuth>) -> Result<()> {
        let (name, tag) = split_tag(image);
        let options = CreateImageOptionsBuilder::default().from_image(name).tag(tag).build();
        let credentials = auth.map(|a| bollard::auth::DockerCredentials {
            username: Some(a.username.clone()),
            password: Some(a.password.clone()),
            serveraddress: Some(a.server.clone()),
            ..Default::default()
        });
        bounded("pulling an image", PULL, follow(self.docker.create_image(Some(options), None, credentials))).await
    }

    async fn create(&self, spec: &ContainerSpec) -> Result<String> {
        let options = CreateContainerOptionsBuilder::default().name(&spec.name).build();
        bounded("creating a container", CALL, async {
            let created = self.docker.create_container(Some(options), create_body(spec)).await.map_err(engine)?;
            Ok(created.id)
        })
        .await
    }

    async fn start(&self, id: &str) -> Result<()> {
        bounded("starting a container", CALL, async { self.docker.start_container(id, None).await.map_err(engine) })
            .await
    }

    async fn stop(&self, id: &str, grace: Duration) -> Result<()> {
        let options = StopContainerOptionsBuilder::default().t(grace.as_secs() as i32).build();
        bounded("stopping a container", grace + CALL, async {
            match self.docker.stop_container(id, Some(options)).await {
                // 304: already stopped.
                Err(BollardError::DockerResponseServerError { status_code: 304, .. }) => Ok(()),
                other => other.map_err(engine),
            }
        })
        .await
    }

    async fn remove(&self, id: &str) -> Result<()> {
        // Its cgroup goes with it.
        self.cgroups.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        bounded("removing a container", CALL, async {
            match self.docker.remove_container(id, Some(options)).await.map_err(engine) {
                Err(RuntimeError::NotFound(_)) => Ok(()),
                other => other,
            }
        })
        .await
    }

    async fn remove_volume(&self, name: &str) -> Result<()> {
        bounded("removing a volume", CALL, async {
            match self
                .docker
                .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
                .await
                .map_err(engine)
            {
                Err(RuntimeError::NotFound(_)) => Ok(()),
                other => other,
            }
        })
        .await
    }

    async fn inspect(&self, id: &str) -> Result<Option<ContainerStatus>> {
        bounded("inspecting a container", CALL, async {
            match self.docker.inspect_container(id, None).await.map_err(engine) {
                Ok(r) => Ok(Some(status_from_inspect(r))),
                Err(RuntimeError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    async fn list(&self, key: &str, value: &str) -> Result<Vec<ContainerStatus>> {
        let filters: HashMap<String, Vec<String>> =
            HashMap::from([("label".to_string(), vec![format!("{key}={value}")])]);
        let options = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
        let summaries = bounded("listing containers", CALL, async {
            self.docker.list_containers(Some(options)).await.map_err(engine)
        })
        .await?;
        let mut out = Vec::new();
        for s in summaries {
            if let Some(status) = self.inspect(s.id.as_deref().unwrap_or_default()).await? {
                out.push(status);
            }
        }
        Ok(out)
    }

    async fn create_network(&self, spec: &NetworkSpec) -> Result<()> {
        let request = NetworkCreateRequest {
            name: spec.name.clone(),
            driver: Some("bridge".into()),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(spec.subnet.clone()),
                    gateway: Some(spec.gateway.clone()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            labels: Some(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            ..Default::default()
        };
        bounded("creating a network", CALL, async {
            match self.docker.create_network(request).await.map_err(engine) {
                // Docker answers 409 for a name taken; older engines say so in a 500.
                Err(RuntimeError::Engine(m)) if m.contains("already exists") => Err(RuntimeError::Conflict(m)),
                other => other.map(|_| ()),
            }
        })
        .await
    }

    async fn remove_network(&self, name: &str) -> Result<()> {
        bounded("removing a network", CALL, async {
            match self.docker.remove_network(name).await.map_err(engine) {
                Err(RuntimeError::NotFound(_)) => Ok(()),
                Err(RuntimeError::Engine(m)) if m.contains("active endpoints") => Err(RuntimeError::Conflict(m)),
                other => other,
            }
        })
        .await
    }

    async fn list_networks(&self, key: &str, value: &str) -> Result<Vec<String>> {
        self.networks(key, value).await
    }

    async fn network_gateway(&self, name: &str) -> Result<Option<String>> {
        bounded("inspecting a network", CALL, async {
            let options = bollard::query_parameters::InspectNetworkOptions::default();
            match self.docker.inspect_network(name, Some(options)).await.map_err(engine) {
                // The engine leaves the gateway out of the default bridge's configuration;
                // it is then the subnet's first address.
                Ok(n) => Ok(n.ipam.and_then(|i| i.config).unwrap_or_default().into_iter().find_map(|c| {
                    let given = c.gateway.filter(|g| g.parse::<std::net::Ipv4Addr>().is_ok());
                    given.or_else(|| {
                        let (net, _) = c.subnet?.split_once('/').map(|(a, l)| (a.to_string(), l.to_string()))?;
                        let net: std::net::Ipv4Addr = net.parse().ok()?;
                        Some(std::net::Ipv4Addr::from(u32::from(net) + 1).to_string())
                    })
                })),
                Err(RuntimeError::NotFound(_)) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .await
    }

    fn logs(&self, id: &str, since_secs: i64) -> crate::LogStream {
        self.follow_logs(id, since_secs)
    }

    async fn import_image(&self, name: &str, rootfs_tar: Vec<u8>) -> Result<()> {
        let (repo, tag) = split_tag(name);
        let options = CreateImageOptionsBuilder::default().from_src("-").repo(repo).tag(tag).build();
        let body = bollard::body_full(bytes::Bytes::from(rootfs_tar));
        bounded("importing an image", CALL, follow(self.docker.create_image(Some(options), Some(body), None))).await
    }
}

/// Reads an image pull's or import's progress to its end; the engine's error if it reports one.
async fn follow(
    mut stream: impl futures_util::Stream<Item = std::result::Result<bollard::models::CreateImageInfo, BollardError>>
        + Unpin,
) -> Result<()> {
    while let Some(progress) = stream.next().await {
        let progress = progress.map_err(engine)?;
        if let Some(detail) = progress.error_detail.and_then(|d| d.message) {
            return Err(RuntimeError::Engine(detail));
        }
    }
    Ok(())
}

impl DockerRuntime {
    fn follow_logs(&self, id: &str, since_secs: i64) -> crate::LogStream {
        use bollard::container::LogOutput;
        let options = LogsOptionsBuilder::default()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .since(since_secs.clamp(0, i32::MAX as i64) as i32)
            .build();
        self.docker
            .logs(id, Some(options))
            .map(|item| match item {
                Ok(LogOutput::StdErr { message }) => Ok(crate::LogChunk { stderr: true, bytes: message }),
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message } | LogOutput::StdIn { message }) => {
                    Ok(crate::LogChunk { stderr: false, bytes: message })
                }
                Err(e) => Err(engine(e)),
            })
            .boxed()
    }

    async fn networks(&self, key: &str, value: &str) -> Result<Vec<String>> {
        let label = if value.is_empty() { key.to_string() } else { format!("{key}={value}") };
        let filters: HashMap<String, Vec<String>> = HashMap::from([("label".to_string(), vec![label])]);
        let options = ListNetworksOptionsBuilder::default().filters(&filters).build();
        bounded("listing networks", CALL, async {
            let list = self.docker.list_networks(Some(options)).await.map_err(engine)?;
            Ok(list.into_iter().filter_map(|n| n.name).collect())
        })
        .await
    }
}

/// `repo[:tag]` (a digest stays in the name) → (name, tag), tag defaulting to `latest`.
fn split_tag(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_tags() {
        assert_eq!(split_tag("busybox"), ("busybox", "latest"));
        assert_eq!(split_tag("busybox:1.36"), ("busybox", "1.36"));
        assert_eq!(split_tag("127.0.0.1:7480/web"), ("127.0.0.1:7480/web", "latest"));
        assert_eq!(split_tag("127.0.0.1:7480/web:2"), ("127.0.0.1:7480/web", "2"));
    }

    #[test]
    fn bridge_ports_become_bindings() {
        let spec = ContainerSpec {
            network_mode: "bridge".into(),
            ports: vec![
                crate::PortSpec { container_port: 80, host_port: None, protocol: "tcp".into() },
                crate::PortSpec { container_port: 53, host_port: Some(5353), protocol: "udp".into() },
            ],
            ..Default::default()
        };
        let body = create_body(&spec);
        let bindings = body.host_config.unwrap().port_bindings.unwrap();
        assert_eq!(bindings["80/tcp"].as_ref().unwrap()[0].host_port.as_deref(), Some(""));
        assert_eq!(bindings["53/udp"].as_ref().unwrap()[0].host_port.as_deref(), Some("5353"));
    }

    #[test]
    fn linux_parameters_reach_the_host_config() {
        let spec = ContainerSpec {
            tmpfs: vec![("/run".into(), "size=64m".into())],
            cap_add: vec!["NET_ADMIN".into()],
            cap_drop: vec!["ALL".into()],
            shm_size_mib: Some(128),
            sysctls: [("net.core.somaxconn".to_string(), "1024".to_string())].into(),
            tty: true,
            ..Default::default()
        };
        let body = create_body(&spec);
        assert_eq!(body.tty, Some(true));
        let host = body.host_config.unwrap();
        assert_eq!(host.tmpfs.unwrap()["/run"], "size=64m");
        assert_eq!(host.cap_add.unwrap(), vec!["NET_ADMIN"]);
        assert_eq!(host.cap_drop.unwrap(), vec!["ALL"]);
        assert_eq!(host.shm_size, Some(128 << 20));
        assert_eq!(host.sysctls.unwrap()["net.core.somaxconn"], "1024");
    }
}
