//! Registering the host as a container instance: its resources, its attributes, and the
//! identity kept in `DATA_DIR/agent.json` so a restarted agent stays the same instance.

use std::{path::Path, sync::Arc, sync::RwLock};

use berth_model::{
    container_instance::{Attribute, Resource, VersionInfo, AUTO_SCALING_GROUP_ATTRIBUTE, CAPACITY_ATTRIBUTE},
    ecs::{op, ContainerInstanceResponse, CreateClusterRequest, Operation, RegisterContainerInstanceRequest},
};
use berth_runtime::ContainerRuntime;
use serde::{Deserialize, Serialize};

use crate::{
    client::{ClientError, ServerClient},
    AgentConfig, AgentError, Identity, Session, RESERVED_MEMORY_MIB,
};

/// Ports the ECS agent reserves on every Linux instance.
const RESERVED_PORTS: &[&str] = &["22", "2375", "2376", "51678", "51679"];

/// Capabilities this agent really supports, advertised as ECS attributes.
const CAPABILITIES: &[&str] = &[
    "ecs.capability.container-health-check",
    "ecs.capability.container-ordering",
    "ecs.capability.env-files.s3",
    "ecs.capability.task-eni",
    "com.amazonaws.ecs.capability.logging-driver.json-file",
    "com.amazonaws.ecs.capability.logging-driver.awslogs",
    "com.amazonaws.ecs.capability.docker-remote-api.1.17",
    "com.amazonaws.ecs.capability.docker-remote-api.1.18",
    "com.amazonaws.ecs.capability.docker-remote-api.1.19",
    "com.amazonaws.ecs.capability.docker-remote-api.1.21",
    "com.amazonaws.ecs.capability.docker-remote-api.1.24",
    "com.amazonaws.ecs.capability.docker-remote-api.1.25",
    "com.amazonaws.ecs.capability.docker-remote-api.1.29",
];

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Saved {
    cluster: String,
    container_instance_arn: String,
}

fn saved_path(dir: &Path) -> std::path::PathBuf {
    dir.join("agent.json")
}

/// What the saved identity is for: the cluster, or Fargate capacity.
fn joined(config: &AgentConfig) -> String {
    if config.fargate {
        berth_model::capacity_provider::FARGATE.to_string()
    } else {
        config.cluster.clone()
    }
}

fn load_saved(config: &AgentConfig) -> Option<Saved> {
    let text = std::fs::read_to_string(saved_path(&config.data_dir)).ok()?;
    serde_json::from_str::<Saved>(&text).ok().filter(|s| s.cluster == joined(config))
}

fn save(config: &AgentConfig, arn: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(&config.data_dir)?;
    let tmp = config.data_dir.join("agent.json.tmp");
    let saved = Saved { cluster: joined(config), container_instance_arn: arn.to_string() };
    std::fs::write(&tmp, serde_json::to_vec_pretty(&saved).expect("serializes"))?;
    std::fs::rename(tmp, saved_path(&config.data_dir))
}

fn cpu_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        other => other,
    }
}

/// The address this host reaches the server from: where the server's load balancer
/// reaches this host's published ports (`--attribute berth.host-address=…` overrides it).
fn host_address(server_url: &str) -> Option<String> {
    use std::net::ToSocketAddrs;
    let authority = server_url.split("://").nth(1).unwrap_or(server_url).split('/').next()?;
    let server = authority.to_socket_addrs().ok()?.next()?;
    let bind: std::net::SocketAddr = if server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let socket = std::net::UdpSocket::bind(bind).ok()?;
    socket.connect(server).ok()?;
    Some(socket.local_addr().ok()?.ip().to_string())
}

async fn request_body<R: ContainerRuntime>(
    config: &AgentConfig,
    runtime: &R,
    arn: Option<&str>,
) -> Result<RegisterContainerInstanceRequest, AgentError> {
    let info = runtime.info().await?;
    let cpu = config.cpu.unwrap_or(info.cpus * 1024);
    let memory = config.memory.unwrap_or((info.memory_mib - RESERVED_MEMORY_MIB).max(0));
    let mut attributes = vec![
        Attribute::new("ecs.os-type", "linux"),
        Attribute::new("ecs.os-family", "LINUX"),
        Attribute::new("ecs.cpu-architecture", cpu_architecture()),
        Attribute::new("ecs.availability-zone", config.availability_zone.as_deref().unwrap_or("local")),
        Attribute::new("ecs.instance-type", config.instance_type.as_deref().unwrap_or("berth.host")),
    ];
    attributes.extend(CAPABILITIES.iter().map(|c| Attribute {
        name: (*c).into(),
        value: None,
        target_type: None,
        target_id: None,
    }));
    attributes.extend(config.attributes.iter().map(|(k, v)| Attribute::new(k, v)));
    if config.fargate {
        attributes.push(Attribute::new(CAPACITY_ATTRIBUTE, berth_model::capacity_provider::FARGATE));
    }
    if let Some(group) = &config.auto_scaling_group {
        attributes.push(Attribute::new(AUTO_SCALING_GROUP_ATTRIBUTE, group));
    }
    let host_attribute = berth_model::container_instance::HOST_ADDRESS_ATTRIBUTE;
    if !attributes.iter().any(|a| a.name == host_attribute) {
        if let Some(address) = host_address(&config.server) {
            attributes.push(Attribute::new(host_attribute, &address));
        }
    }
    let resources = vec![
        Resource::integer("CPU", cpu),
        Resource::integer("MEMORY", memory),
        Resource::string_set("PORTS", RESERVED_PORTS.iter().map(|p| p.to_string()).collect()),
        Resource::string_set("PORTS_UDP", Vec::new()),
    ];
    let version = VersionInfo {
        agent_version: Some(env!("CARGO_PKG_VERSION").into()),
        agent_hash: None,
        docker_version: Some(info.version),
    };
    Ok(RegisterContainerInstanceRequest {
        cluster: (!config.fargate).then(|| config.cluster.clone()),
        total_resources: resources,
        version_info: Some(version),
        container_instance_arn: arn.map(String::from),
        attributes,
        tags: Vec::new(),
    })
}

async fn call_register<R: ContainerRuntime>(
    client: &ServerClient,
    config: &AgentConfig,
    runtime: &R,
    arn: Option<&str>,
) -> Result<Identity, AgentError> {
    if config.cluster == berth_model::cluster::DEFAULT_CLUSTER && !config.fargate {
        // Like the ECS agent: the default cluster is created on first use.
        let create = CreateClusterRequest { cluster_name: Some(config.cluster.clone()), ..Default::default() };
        client.call::<op::CreateCluster>(&create).await.map_err(AgentError::Registration)?;
    }
    let body = request_body(config, runtime, arn).await?;
    // The agent's token comes back in a response header, so this call is not `call`.
    let (registered, token): (ContainerInstanceResponse, _) =
        client.ecs(op::RegisterContainerInstance::NAME, &body).await.map_err(AgentError::Registration)?;
    let token = token.ok_or_else(|| {
        AgentError::Registration(crate::client::ClientError::Decode("the server sent no agent token".into()))
    })?;
    let instance_arn = registered.container_instance.container_instance_arn;
    save(config, &instance_arn)?;
    Ok(Identity { instance_arn, token })
}

/// Registers (again, if this data directory has an identity for the cluster). While the
/// server cannot be reached, retries every second; an answer that refuses is final.
pub(crate) async fn register<R: ContainerRuntime>(
    client: &ServerClient,
    config: &AgentConfig,
    runtime: &R,
) -> Result<Session, AgentError> {
    let saved = load_saved(config);
    let arn = saved.as_ref().map(|s| s.container_instance_arn.as_str());
    loop {
        match call_register(client, config, runtime, arn).await {
            Ok(identity) => return Ok(Session { inner: Arc::new(RwLock::new(identity)) }),
            Err(AgentError::Registration(ClientError::Transport(e))) => {
                tracing::warn!(error = %e, "cannot reach the server to register; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Registers again under the same identity, for a fresh token.
pub(crate) async fn reregister<R: ContainerRuntime>(
    client: &ServerClient,
    config: &AgentConfig,
    runtime: &R,
    session: &Session,
) -> Result<(), AgentError> {
    let arn = session.instance_arn();
    let identity = call_register(client, config, runtime, Some(&arn)).await?;
    *session.inner.write().unwrap_or_else(|p| p.into_inner()) = identity;
    Ok(())
}
