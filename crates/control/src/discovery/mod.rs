//! AWS Cloud Map over the cluster state: namespaces, services, instances and operations
//! are stored like every other resource. Each DNS namespace becomes a zone of the DNS
//! [`plan`], which berth's DNS server answers from; ECS services with
//! `serviceRegistries` register their tasks here ([`ecs`]).

mod common;
pub mod ecs;
mod instances;
mod namespaces;
mod operations;
pub mod plan;
mod services;
mod state;

pub(crate) use instances::{deregister, register, set_health};
pub use state::{DiscoveryChange, DiscoveryState, InstanceRecord, ServiceRecord};

/// How task containers reach berth's DNS server, which must answer on port 53 for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerDns {
    /// It listens on every address of the host that runs the tasks: containers use their
    /// network's gateway (one host: `berth up`).
    Gateway,
    /// At this address.
    At(std::net::IpAddr),
}

/// The resolver configuration of a cluster's tasks: berth's DNS with the namespaces its
/// services are registered in as search domains; `None` if none of them uses discovery.
pub fn cluster_dns(
    region: &crate::RegionState,
    cluster: &str,
    how: &ContainerDns,
) -> Option<berth_model::agent::TaskDns> {
    let mut search: Vec<String> = Vec::new();
    for s in region.services.values().filter(|s| s.cluster == cluster) {
        if s.service.status == berth_model::status::ServiceStatus::Inactive {
            continue;
        }
        for registry in &s.service.service_registries {
            let Some(cm) = ecs::registry_service(region, registry) else { continue };
            let ns = cm.service.namespace_id.as_deref().and_then(|id| region.discovery.namespaces.get(id));
            if let Some(ns) = ns.filter(|n| n.is_dns()) {
                if !search.contains(&ns.name) {
                    search.push(ns.name.clone());
                }
            }
        }
    }
    if search.is_empty() {
        return None;
    }
    let servers = match how {
        ContainerDns::Gateway => Vec::new(),
        ContainerDns::At(ip) => vec![ip.to_string()],
    };
    Some(berth_model::agent::TaskDns { servers, search })
}
