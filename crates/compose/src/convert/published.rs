//! Published ports of a service with several replicas. Docker Swarm puts replicas behind
//! its routing mesh; on one host, several tasks cannot all hold one host port. So the
//! tasks take dynamic host ports and a load balancer listener holds the published port
//! in front of them (the caller creates it, and removes it on `down`).

use serde_json::{Map, Value as Json};

use super::context::{ContainerOut, Ctx};
use crate::load::join;

/// The subnet compose services with their own address are given (any `subnet-` id does).
pub const COMPOSE_SUBNET: &str = "subnet-compose";

/// Why a service's published ports go behind a load balancer.
pub(super) enum Reason {
    /// Several replicas cannot share one host port.
    Replicas(i64),
    /// A task with an address of its own (awsvpc) binds no host port.
    OwnAddress,
}

/// A published port served by a load balancer listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPort {
    pub container_name: String,
    pub container_port: i64,
    /// The port the listener binds on the load balancer's address.
    pub published: i64,
}

/// Moves every fixed TCP host port of `td`'s containers to a dynamic one (or, for tasks with
/// their own address, none) and returns the published ports a load balancer must serve.
pub(super) fn behind_load_balancer(
    ctx: &mut Ctx<'_>,
    group: &[&ContainerOut],
    td: &mut Map<String, Json>,
    reason: Reason,
) -> Vec<PublishedPort> {
    let mut published = Vec::new();
    let Some(Json::Array(defs)) = td.get_mut("containerDefinitions") else { return published };
    for (def, c) in defs.iter_mut().zip(group) {
        let Some(Json::Array(mappings)) = def.get_mut("portMappings") else { continue };
        for m in mappings {
            let host = m.get("hostPort").and_then(Json::as_i64).unwrap_or(0);
            let tcp = m.get("protocol").and_then(Json::as_str).unwrap_or("tcp") == "tcp";
            let Some(container_port) = m.get("containerPort").and_then(Json::as_i64) else { continue };
            if let (Reason::OwnAddress, Some(fields)) = (&reason, m.as_object_mut()) {
                // awsvpc: the container port is the task's; no host port.
                fields.remove("hostPort");
            }
            if host > 0 && !tcp && matches!(reason, Reason::OwnAddress) {
                ctx.adjusted(
                    &join(&join("services", &c.name), "ports"),
                    format!("publishes UDP port {host}: not served on the host (its tasks have addresses of their own; the load balancer serves TCP)"),
                );
            }
            if host <= 0 || !tcp {
                continue;
            }
            if let Reason::Replicas(_) = reason {
                m["hostPort"] = Json::from(0);
            }
            published.push(PublishedPort { container_name: c.name.clone(), container_port, published: host });
            let why = match reason {
                Reason::Replicas(n) => format!(
                    "publishes port {host} with {n} replicas: a load balancer listener serves {host} in front of the tasks, which use dynamic host ports"
                ),
                Reason::OwnAddress => format!(
                    "publishes port {host}: its tasks have addresses of their own (so the project's services reach it by name), and a load balancer listener serves {host} in front of them"
                ),
            };
            ctx.adjusted(&join(&join("services", &c.name), "ports"), why);
        }
    }
    published
}
