//! RegisterTaskDefinition's rules, checked as ECS checks them, plus what ECS derives
//! from a valid definition (`compatibilities`, `requiresAttributes`, normalized cpu/memory).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::container_rules::{one_of, validate_container};
use super::{
    fargate_pair_is_valid, parse_task_cpu, parse_task_memory, ContainerDefinition, PlacementConstraint,
    RequiredAttribute, TaskDefinition,
};
use crate::{tag::Tag, EcsError};

/// The body of a RegisterTaskDefinition request.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_definitions: Option<Vec<ContainerDefinition>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub placement_constraints: Vec<PlacementConstraint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires_compatibilities: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipc_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_configuration: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inference_accelerators: Option<Vec<serde_json::Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_platform: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_fault_injection: Option<bool>,
}

impl Registration {
    /// What ECS makes of a definition copied from DescribeTaskDefinition's answer: an empty
    /// role ARN is no role, and an EFS volume without a root directory gets `/`.
    pub fn normalize(&mut self) {
        for role in [&mut self.task_role_arn, &mut self.execution_role_arn] {
            if role.as_deref().is_some_and(|r| r.trim().is_empty()) {
                *role = None;
            }
        }
        for volume in &mut self.volumes {
            if let Some(efs) = volume.get_mut("efsVolumeConfiguration").and_then(|e| e.as_object_mut()) {
                efs.entry("rootDirectory").or_insert_with(|| serde_json::Value::String("/".into()));
            }
        }
    }
}

/// What ECS derives from a definition that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    pub compatibilities: Vec<String>,
    pub requires_attributes: Vec<RequiredAttribute>,
    /// Task cpu in units, as ECS stores it (`"1 vCPU"` becomes `"1024"`).
    pub cpu: Option<String>,
    /// Task memory in MiB (`"2 GB"` becomes `"2048"`).
    pub memory: Option<String>,
}

const MAX_CONTAINERS: usize = 10;
const NETWORK_MODES: &[&str] = &["bridge", "host", "awsvpc", "none"];
const COMPATIBILITIES: &[&str] = &["EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"];
pub(super) fn is_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Fills in the defaults ECS shows on a registered definition: `essential`, port
/// `protocol` and `hostPort` (0 for a dynamic bridge port, the container port in
/// `awsvpc` and `host` modes), and the health check's interval, timeout and retries.
pub fn apply_defaults(containers: &mut [ContainerDefinition], network_mode: Option<&str>) {
    let mode = network_mode.unwrap_or("bridge");
    for c in containers {
        c.essential.get_or_insert(true);
        for pm in &mut c.port_mappings {
            pm.protocol.get_or_insert_with(|| "tcp".into());
            if pm.container_port_range.is_none() {
                let default_host = if mode == "bridge" { 0 } else { pm.container_port.unwrap_or(0) };
                pm.host_port.get_or_insert(default_host);
            }
        }
        if let Some(hc) = &mut c.health_check {
            hc.interval.get_or_insert(30);
            hc.timeout.get_or_insert(5);
            hc.retries.get_or_insert(3);
        }
    }
}

/// Family names: up to 255 letters, numbers, hyphens and underscores.
pub fn validate_family(family: &str) -> Result<(), EcsError> {
    if is_name(family) {
        Ok(())
    } else {
        Err(EcsError::client(format!(
            "Invalid family '{family}': up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed."
        )))
    }
}

/// ECS's limit on the size of a task definition's JSON.
pub const MAX_TASK_DEFINITION_BYTES: usize = 64 * 1024;

/// Refuses a RegisterTaskDefinition body above ECS's 64 KiB, with ECS's wording, before
/// anything is decoded or kept.
pub fn check_registration_size(body_len: usize) -> Result<(), EcsError> {
    if body_len > MAX_TASK_DEFINITION_BYTES {
        return Err(EcsError::client(format!(
            "Actual length: '{body_len}'. Max allowed length is '{MAX_TASK_DEFINITION_BYTES}' bytes."
        )));
    }
    Ok(())
}

/// Validates a registration and derives the computed fields, or says what is wrong.
pub fn validate_registration(reg: &Registration) -> Result<Derived, EcsError> {
    let family = reg.family.as_deref().ok_or_else(|| EcsError::client("Family is required and was not provided."))?;
    validate_family(family)?;
    let containers = reg.container_definitions.as_deref().unwrap_or_default();
    if containers.is_empty() {
        return Err(EcsError::client("Task definition must have at least one container definition."));
    }
    if containers.len() > MAX_CONTAINERS {
        return Err(EcsError::client(format!(
            "Too many containers: a task definition can have at most {MAX_CONTAINERS}, this one has {}.",
            containers.len()
        )));
    }
    if let Some(mode) = &reg.network_mode {
        one_of("networkMode", mode, NETWORK_MODES)?;
    }
    let network_mode = reg.network_mode.as_deref().unwrap_or("bridge");
    let requires = reg.requires_compatibilities.clone().unwrap_or_default();
    for c in &requires {
        one_of("requiresCompatibilities value", c, COMPATIBILITIES)?;
    }
    if let Some(p) = &reg.pid_mode {
        one_of("pidMode", p, &["host", "task"])?;
    }
    if let Some(i) = &reg.ipc_mode {
        one_of("ipcMode", i, &["host", "task", "none"])?;
    }
    let task_cpu = reg.cpu.as_deref().map(parse_task_cpu).transpose()?;
    let task_memory = reg.memory.as_deref().map(parse_task_memory).transpose()?;
    if let Some(cpu) = task_cpu {
        if cpu < 128 {
            return Err(EcsError::client(format!(
                "Invalid 'cpu' setting for task: {cpu} CPU units is below the minimum of 128."
            )));
        }
    }
    crate::tag::validate(&reg.tags)?;
    if reg.tags.len() > crate::tag::MAX_TAGS {
        return Err(EcsError::invalid("A task definition can have at most 50 tags."));
    }
    let volume_names = validate_volumes(&reg.volumes)?;
    validate_placement_constraints(&reg.placement_constraints)?;

    let names = container_names(containers)?;
    if !containers.iter().any(ContainerDefinition::is_essential) {
        return Err(EcsError::client(
            "At least one container in the task definition must be essential (essential defaults to true).",
        ));
    }
    let mut host_ports: HashSet<(u32, String)> = HashSet::new();
    for c in containers {
        validate_container(c, &names, &volume_names, network_mode, task_memory, &mut host_ports)?;
    }
    check_dependency_cycles(containers)?;
    check_task_totals(containers, task_cpu, task_memory)?;

    let fargate = fargate_problem(reg, containers, network_mode, task_cpu, task_memory);
    if requires.iter().any(|c| c == "FARGATE") {
        if let Some(problem) = &fargate {
            return Err(EcsError::client(problem.clone()));
        }
    }
    let mut compatibilities = vec!["EC2".to_string()];
    if requires.iter().any(|c| c == "EXTERNAL") {
        compatibilities.push("EXTERNAL".into());
    }
    if fargate.is_none() {
        compatibilities.push("FARGATE".into());
    }
    if requires.iter().any(|c| c == "MANAGED_INSTANCES") {
        compatibilities.push("MANAGED_INSTANCES".into());
    }
    Ok(Derived {
        compatibilities,
        requires_attributes: required_attributes(reg, containers, network_mode),
        cpu: task_cpu.map(|c| c.to_string()),
        memory: task_memory.map(|m| m.to_string()),
    })
}

fn container_names(containers: &[ContainerDefinition]) -> Result<HashSet<&str>, EcsError> {
    let mut names = HashSet::new();
    for c in containers {
        let name = c.name.as_deref().unwrap_or("");
        if name.is_empty() {
            return Err(EcsError::client("Container.name should not be null or empty."));
        }
        if !is_name(name) {
            return Err(EcsError::client(format!(
                "Invalid container name '{name}': up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores are allowed."
            )));
        }
        if !names.insert(name) {
            return Err(EcsError::client(format!(
                "Container names must be unique within a task definition: '{name}' is used more than once."
            )));
        }
    }
    Ok(names)
}

fn validate_volumes(volumes: &[serde_json::Value]) -> Result<HashSet<String>, EcsError> {
    let mut names = HashSet::new();
    for v in volumes {
        let name = v.get("name").and_then(|n| n.as_str()).unwrap_or("");
        if !is_name(name) {
            return Err(EcsError::client(format!(
                "Invalid volume name '{name}': up to 255 letters, numbers, hyphens, and underscores are allowed."
            )));
        }
        if !names.insert(name.to_string()) {
            return Err(EcsError::client(format!("Volume name '{name}' is used more than once.")));
        }
    }
    Ok(names)
}

fn validate_placement_constraints(constraints: &[PlacementConstraint]) -> Result<(), EcsError> {
    if constraints.len() > 10 {
        return Err(EcsError::client("A task definition can have at most 10 placement constraints."));
    }
    for pc in constraints {
        if pc.kind.as_deref() != Some("memberOf") {
            return Err(EcsError::client(format!(
                "Invalid placement constraint type '{}': task definitions accept only memberOf.",
                pc.kind.as_deref().unwrap_or("")
            )));
        }
        if pc.expression.as_deref().unwrap_or("").trim().is_empty() {
            return Err(EcsError::client("A memberOf placement constraint needs an expression."));
        }
    }
    Ok(())
}

fn check_dependency_cycles(containers: &[ContainerDefinition]) -> Result<(), EcsError> {
    let edges: HashMap<&str, Vec<&str>> = containers
        .iter()
        .map(|c| {
            let deps = c.depends_on.as_deref().unwrap_or_default();
            (c.name.as_deref().unwrap_or(""), deps.iter().map(|d| d.container_name.as_str()).collect())
        })
        .collect();
    // 0 = unvisited, 1 = on the current path, 2 = done.
    fn visit<'a>(
        n: &'a str,
        edges: &HashMap<&'a str, Vec<&'a str>>,
        mark: &mut HashMap<&'a str, u8>,
    ) -> Option<&'a str> {
        match mark.get(n) {
            Some(1) => return Some(n),
            Some(2) => return None,
            _ => {}
        }
        mark.insert(n, 1);
        for next in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(next, edges, mark) {
                return Some(c);
            }
        }
        mark.insert(n, 2);
        None
    }
    let mut mark = HashMap::new();
    for name in edges.keys() {
        if let Some(c) = visit(name, &edges, &mut mark) {
            return Err(EcsError::client(format!("Container dependencies form a cycle through '{c}'.")));
        }
    }
    Ok(())
}

fn check_task_totals(
    containers: &[ContainerDefinition],
    task_cpu: Option<u32>,
    task_memory: Option<u32>,
) -> Result<(), EcsError> {
    if let Some(cpu) = task_cpu {
        let sum: i64 = containers.iter().map(|c| c.cpu).sum();
        if sum > cpu as i64 {
            return Err(EcsError::client(format!(
                "The containers' cpu adds up to {sum} units, more than the task's {cpu}."
            )));
        }
    }
    if let Some(mem) = task_memory {
        let sum: i64 = containers.iter().map(|c| c.memory_reservation.or(c.memory).unwrap_or(0)).sum();
        if sum > mem as i64 {
            return Err(EcsError::client(format!(
                "The containers' memory reservations add up to {sum} MiB, more than the task's {mem} MiB."
            )));
        }
    }
    Ok(())
}

/// Why this definition cannot run on Fargate, or `None` when it can.
fn fargate_problem(
    reg: &Registration,
    containers: &[ContainerDefinition],
    network_mode: &str,
    cpu: Option<u32>,
    memory: Option<u32>,
) -> Option<String> {
    if network_mode != "awsvpc" {
        return Some("Fargate only supports network mode 'awsvpc'.".into());
    }
    let (Some(cpu), Some(memory)) = (cpu, memory) else {
        return Some("Fargate requires task-level 'cpu' and 'memory'.".into());
    };
    if !fargate_pair_is_valid(cpu, memory) {
        return Some("No Fargate configuration exists for given values.".into());
    }
    if reg.pid_mode.as_deref() == Some("host") || reg.ipc_mode.is_some() {
        return Some("Fargate does not support pidMode 'host' or ipcMode.".into());
    }
    if containers.iter().any(|c| c.privileged == Some(true)) {
        return Some("Fargate does not support privileged containers.".into());
    }
    if reg.volumes.iter().any(|v| v.get("host").and_then(|h| h.get("sourcePath")).is_some()) {
        return Some("Fargate does not support host volumes with a sourcePath.".into());
    }
    None
}

fn required_attributes(
    reg: &Registration,
    containers: &[ContainerDefinition],
    network_mode: &str,
) -> Vec<RequiredAttribute> {
    let mut names: Vec<&str> = Vec::new();
    if containers.iter().any(|c| c.health_check.is_some()) {
        names.push("ecs.capability.container-health-check");
    }
    if containers.iter().any(|c| c.depends_on.as_ref().is_some_and(|d| !d.is_empty())) {
        names.push("ecs.capability.container-ordering");
    }
    if containers.iter().any(|c| c.log_configuration.as_ref().is_some_and(|l| l.log_driver == "awslogs")) {
        names.push("com.amazonaws.ecs.capability.logging-driver.awslogs");
    }
    if containers.iter().any(|c| !c.environment_files.is_empty()) {
        names.push("ecs.capability.env-files.s3");
    }
    if network_mode == "awsvpc" {
        names.push("ecs.capability.task-eni");
    }
    if reg.task_role_arn.is_some() {
        names.push("com.amazonaws.ecs.capability.task-iam-role");
    }
    names.into_iter().map(|n| RequiredAttribute { name: n.into() }).collect()
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

impl TaskDefinition {
    /// The RegisterTaskDefinition request that registers this definition again (its
    /// members a registration takes; what ECS derives or stamps is left out).
    pub fn registration(&self) -> Registration {
        Registration {
            family: Some(self.family.clone()),
            task_role_arn: self.task_role_arn.clone(),
            execution_role_arn: self.execution_role_arn.clone(),
            network_mode: self.network_mode.clone(),
            container_definitions: Some(self.container_definitions.clone()),
            volumes: self.volumes.clone(),
            placement_constraints: self.placement_constraints.clone(),
            requires_compatibilities: self.requires_compatibilities.clone(),
            cpu: self.cpu.clone(),
            memory: self.memory.clone(),
            tags: Vec::new(),
            pid_mode: self.pid_mode.clone(),
            ipc_mode: self.ipc_mode.clone(),
            proxy_configuration: self.proxy_configuration.clone(),
            inference_accelerators: self.inference_accelerators.clone(),
            ephemeral_storage: self.ephemeral_storage.clone(),
            runtime_platform: self.runtime_platform.clone(),
            enable_fault_injection: self.enable_fault_injection,
        }
    }
}
