//! The DNS plan: every DNS namespace's zone with the records of its services' instances.

use berth_model::discovery::{
    records::{DnsPlan, Registered},
    HealthStatus,
};

use crate::{Control, State};

/// The plan of every region's DNS namespaces (names are global to the DNS server).
pub fn dns_plan(state: &State) -> DnsPlan {
    let mut plan = DnsPlan::default();
    for (_, region) in state.regions() {
        let d = &region.discovery;
        for ns in d.namespaces.values().filter(|n| n.is_dns()) {
            let zone_name = ns.name.trim_end_matches('.').to_ascii_lowercase();
            let zone = plan.zone(ns);
            for s in d.services_in(&ns.id) {
                if s.service.dns_config.is_none() {
                    continue;
                }
                let instances: Vec<Registered<'_>> = d
                    .instances_of(&s.service.id)
                    .map(|r| Registered { instance: &r.instance, healthy: r.health() == HealthStatus::Healthy })
                    .collect();
                zone.add_service(&zone_name, &s.service, &instances);
            }
        }
    }
    plan
}

impl Control {
    /// The DNS server's desired state.
    pub fn dns_plan(&self) -> DnsPlan {
        self.read(dns_plan)
    }
}
