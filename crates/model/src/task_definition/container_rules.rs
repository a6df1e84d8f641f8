//! The rules for one container definition within a registration: image, memory, ports,
//! references to other containers and volumes, health check, log driver, ulimits.

use std::collections::HashSet;

use super::{ContainerDefinition, HealthCheck, PASS_THROUGH_CONTAINER_FIELDS};
use crate::EcsError;

/// Refuses `value` unless it is one of `allowed`, naming them.
pub(super) fn one_of(what: &str, value: &str, allowed: &[&str]) -> Result<(), EcsError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(EcsError::client(format!("Invalid {what} '{value}': use one of {}.", allowed.join(", "))))
    }
}

const LOG_DRIVERS: &[&str] =
    &["json-file", "syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "awsfirelens"];
const ULIMITS: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];
/// Docker (20.10 and later) refuses a container memory limit below 6 MiB.
const MIN_CONTAINER_MEMORY_MIB: i64 = 6;

pub(super) fn validate_container(
    c: &ContainerDefinition,
    names: &HashSet<&str>,
    volumes: &HashSet<String>,
    network_mode: &str,
    task_memory: Option<u32>,
    host_ports: &mut HashSet<(u32, String)>,
) -> Result<(), EcsError> {
    let name = c.name.as_deref().unwrap_or("");
    let bad = |what: &str| EcsError::client(format!("Invalid setting for container '{name}'. {what}"));
    if let Some(key) = c.other.keys().find(|k| !PASS_THROUGH_CONTAINER_FIELDS.contains(&k.as_str())) {
        return Err(bad(&format!("'{key}' is not a container definition field.")));
    }
    validate_image(c.image.as_deref().unwrap_or(""))?;
    if c.cpu < 0 {
        return Err(bad("'cpu' must not be negative."));
    }
    if task_memory.is_none() && c.memory.is_none() && c.memory_reservation.is_none() {
        return Err(bad("At least one of 'memory' or 'memoryReservation' must be specified."));
    }
    for (field, value) in [("memory", c.memory), ("memoryReservation", c.memory_reservation)] {
        if let Some(m) = value {
            if m < MIN_CONTAINER_MEMORY_MIB {
                return Err(bad(&format!("'{field}' is {m} MiB; the minimum is {MIN_CONTAINER_MEMORY_MIB} MiB.")));
            }
            if let Some(task) = task_memory {
                if m > task as i64 {
                    return Err(bad(&format!("'{field}' ({m} MiB) is more than the task's memory ({task} MiB).")));
                }
            }
        }
    }
    if let (Some(hard), Some(soft)) = (c.memory, c.memory_reservation) {
        if hard <= soft {
            return Err(bad(&format!(
                "Memory (hard limit, {hard} MiB) must be greater than memoryReservation (soft limit, {soft} MiB)."
            )));
        }
    }
    validate_ports(c, network_mode, host_ports).map_err(|m| bad(&m))?;
    if let Some(links) = &c.links {
        if !links.is_empty() && network_mode != "bridge" {
            return Err(bad("'links' are only supported in the bridge network mode."));
        }
        for link in links {
            let target = link.split(':').next().unwrap_or("");
            if target == name || !names.contains(target) {
                return Err(bad(&format!("link '{link}' does not name another container in this task definition.")));
            }
        }
    }
    for dep in c.depends_on.as_deref().unwrap_or_default() {
        let conditions: Vec<&str> = super::DependencyCondition::ALL.iter().map(|c| c.as_str()).collect();
        one_of("dependsOn condition", &dep.condition, &conditions)?;
        if dep.container_name == name || !names.contains(dep.container_name.as_str()) {
            return Err(bad(&format!(
                "dependsOn names '{}', which is not another container in this task definition.",
                dep.container_name
            )));
        }
    }
    for mp in &c.mount_points {
        let source = mp.source_volume.as_deref().unwrap_or("");
        if !volumes.contains(source) {
            return Err(bad(&format!("mountPoints sourceVolume '{source}' is not a volume of this task definition.")));
        }
        if mp.container_path.as_deref().unwrap_or("").is_empty() {
            return Err(bad("every mount point needs a containerPath."));
        }
    }
    for vf in &c.volumes_from {
        let source = vf.source_container.as_deref().unwrap_or("");
        if source == name || !names.contains(source) {
            return Err(bad(&format!(
                "volumesFrom sourceContainer '{source}' is not another container in this task definition."
            )));
        }
    }
    if let Some(hc) = &c.health_check {
        validate_health_check(hc).map_err(|m| bad(&m))?;
    }
    if let Some(log) = &c.log_configuration {
        one_of("logDriver", &log.log_driver, LOG_DRIVERS)?;
    }
    for u in c.ulimits.as_deref().unwrap_or_default() {
        one_of("ulimit name", &u.name, ULIMITS)?;
        if u.soft_limit < 0 || u.hard_limit < 0 {
            return Err(bad(&format!("ulimit '{}' limits must not be negative.", u.name)));
        }
        if u.soft_limit > u.hard_limit {
            return Err(bad(&format!("ulimit '{}' has a softLimit above its hardLimit.", u.name)));
        }
    }
    if c.environment_files.len() > 10 {
        return Err(bad("at most 10 environmentFiles are allowed."));
    }
    for ef in &c.environment_files {
        one_of("environmentFiles type", &ef.kind, &["s3"])?;
    }
    for (field, value) in [("startTimeout", c.start_timeout), ("stopTimeout", c.stop_timeout)] {
        if value.is_some_and(|v| v < 0) {
            return Err(bad(&format!("'{field}' must not be negative.")));
        }
    }
    if network_mode == "awsvpc" && c.hostname.is_some() {
        return Err(bad("'hostname' is not supported in the awsvpc network mode."));
    }
    Ok(())
}

/// Image references: required; `repository:tag` at most 255 characters; an `@sha256:`
/// digest must be 64 hex characters.
fn validate_image(image: &str) -> Result<(), EcsError> {
    if image.trim().is_empty() {
        return Err(EcsError::client("Container.image should not be null or empty."));
    }
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if name.len() > 255 || image.chars().any(char::is_whitespace) {
        return Err(EcsError::client(format!(
            "Invalid image '{image}': at most 255 characters before any digest, no spaces."
        )));
    }
    if let Some(d) = digest {
        let hex = d.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(EcsError::client(format!(
                "Invalid image digest in '{image}': expected sha256: and 64 hex characters."
            )));
        }
    }
    Ok(())
}

fn validate_ports(
    c: &ContainerDefinition,
    network_mode: &str,
    host_ports: &mut HashSet<(u32, String)>,
) -> Result<(), String> {
    if network_mode == "none" && !c.port_mappings.is_empty() {
        return Err("port mappings are not allowed in the none network mode.".into());
    }
    for pm in &c.port_mappings {
        let protocol = pm.protocol.clone().unwrap_or_else(|| "tcp".into());
        if protocol != "tcp" && protocol != "udp" {
            return Err(format!("port mapping protocol '{protocol}' is not tcp or udp."));
        }
        if pm.container_port_range.is_some() {
            continue;
        }
        let container_port = pm.container_port.ok_or("every port mapping needs a containerPort.")?;
        if !(1..=65535).contains(&container_port) {
            return Err(format!("containerPort {container_port} is outside 1-65535."));
        }
        let host_port = pm.host_port.unwrap_or(0);
        if host_port > 65535 {
            return Err(format!("hostPort {host_port} is outside 0-65535."));
        }
        if (network_mode == "awsvpc" || network_mode == "host") && host_port != 0 && host_port != container_port {
            return Err(format!(
                "in the {network_mode} network mode hostPort must be omitted or equal containerPort ({container_port}), not {host_port}."
            ));
        }
        let effective = if network_mode == "bridge" { host_port } else { container_port };
        if effective != 0 && !host_ports.insert((effective, protocol.clone())) {
            return Err(format!("host port {effective}/{protocol} is mapped more than once in this task definition."));
        }
    }
    Ok(())
}

fn validate_health_check(hc: &HealthCheck) -> Result<(), String> {
    match hc.command.first().map(String::as_str) {
        Some("CMD" | "CMD-SHELL") if hc.command.len() > 1 => {}
        Some("NONE") => {}
        _ => return Err("healthCheck command must start with CMD or CMD-SHELL followed by the command.".into()),
    }
    for (field, value, lo, hi) in [
        ("interval", hc.interval, 5, 300),
        ("timeout", hc.timeout, 2, 60),
        ("retries", hc.retries, 1, 10),
        ("startPeriod", hc.start_period, 0, 300),
    ] {
        if let Some(v) = value {
            if !(lo..=hi).contains(&v) {
                return Err(format!("healthCheck {field} {v} is outside {lo}-{hi}."));
            }
        }
    }
    Ok(())
}
