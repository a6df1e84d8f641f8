//! The DNS data derived from Cloud Map's registrations: for every DNS namespace a zone,
//! and in it, per name, the record sets of the healthy instances (all of them when none is
//! healthy, as Route 53 answers). The DNS server picks answers from these at query time
//! (up to eight for MULTIVALUE, one for WEIGHTED).

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, Ipv6Addr},
};

use super::{
    DiscoveryService, Instance, Namespace, RecordType, RoutingPolicy, INSTANCE_CNAME, INSTANCE_IPV4, INSTANCE_IPV6,
    INSTANCE_PORT,
};

/// The negative-answer TTL when a namespace gives no SOA (short: a name that appears is
/// seen at once).
pub const DEFAULT_SOA_TTL: u32 = 1;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DnsPlan {
    /// Zones by name (lower case, no trailing dot).
    pub zones: BTreeMap<String, Zone>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Zone {
    pub soa_ttl: u32,
    /// Names (lower case, fully qualified without the trailing dot) to their records.
    pub names: BTreeMap<String, NameEntry>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct NameEntry {
    pub policy: RoutingPolicy,
    pub sets: Vec<RecordSet>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordSet {
    pub kind: RecordType,
    pub ttl: u32,
    pub values: Vec<RecordValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RecordValue {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Srv { priority: u16, weight: u16, port: u16, target: String },
    Cname(String),
}

/// A registered instance as DNS sees it.
pub struct Registered<'a> {
    pub instance: &'a Instance,
    pub healthy: bool,
}

impl DnsPlan {
    pub fn zone(&mut self, namespace: &Namespace) -> &mut Zone {
        let soa_ttl = namespace.soa_ttl().map_or(DEFAULT_SOA_TTL, |t| t.clamp(0, u32::MAX as i64) as u32);
        let zone = self.zones.entry(namespace.name.trim_end_matches('.').to_ascii_lowercase()).or_default();
        zone.soa_ttl = soa_ttl;
        zone
    }
}

impl Zone {
    /// Adds a service's records: `service.zone` answers with the chosen instances; SRV
    /// records point at `instance-id.service.zone`, which answers with that instance's address.
    pub fn add_service(&mut self, zone_name: &str, service: &DiscoveryService, instances: &[Registered<'_>]) {
        let name = format!("{}.{zone_name}", service.name.to_ascii_lowercase());
        let any_healthy = instances.iter().any(|i| i.healthy);
        let chosen: Vec<&Instance> =
            instances.iter().filter(|i| i.healthy || !any_healthy).map(|i| i.instance).collect();
        let mut entry = NameEntry { policy: service.routing_policy(), sets: Vec::new() };
        for record in service.records() {
            let ttl = record.ttl.clamp(0, u32::MAX as i64) as u32;
            let values: Vec<RecordValue> = match record.kind {
                RecordType::Srv => chosen
                    .iter()
                    .filter_map(|i| {
                        let port = i.attribute(INSTANCE_PORT)?.parse().ok()?;
                        Some(RecordValue::Srv { priority: 1, weight: 1, port, target: host_name(&name, i) })
                    })
                    .collect(),
                kind => chosen.iter().filter_map(|i| address(kind, i)).collect(),
            };
            if !values.is_empty() {
                entry.sets.push(RecordSet { kind: record.kind, ttl, values });
            }
            if record.kind == RecordType::Srv {
                // Each SRV target's own address records.
                for i in &chosen {
                    let sets: Vec<RecordSet> = [RecordType::A, RecordType::Aaaa]
                        .into_iter()
                        .filter_map(|kind| Some(RecordSet { kind, ttl, values: vec![address(kind, i)?] }))
                        .collect();
                    if !sets.is_empty() {
                        self.names.insert(host_name(&name, i), NameEntry { policy: RoutingPolicy::Multivalue, sets });
                    }
                }
            }
        }
        self.names.insert(name, entry);
    }
}

fn host_name(service_name: &str, instance: &Instance) -> String {
    format!("{}.{service_name}", instance.id.to_ascii_lowercase())
}

fn address(kind: RecordType, instance: &Instance) -> Option<RecordValue> {
    match kind {
        RecordType::A => instance.attribute(INSTANCE_IPV4)?.parse().ok().map(RecordValue::A),
        RecordType::Aaaa => instance.attribute(INSTANCE_IPV6)?.parse().ok().map(RecordValue::Aaaa),
        RecordType::Cname => {
            instance.attribute(INSTANCE_CNAME).map(|c| RecordValue::Cname(c.trim_end_matches('.').to_string()))
        }
        RecordType::Srv => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::{DnsConfig, DnsRecord};

    fn instance(id: &str, ip: &str, port: &str) -> Instance {
        Instance {
            id: id.into(),
            attributes: [(INSTANCE_IPV4.to_string(), ip.to_string()), (INSTANCE_PORT.to_string(), port.to_string())]
                .into(),
            ..Default::default()
        }
    }

    fn service(records: &[RecordType]) -> DiscoveryService {
        DiscoveryService {
            name: "api".into(),
            dns_config: Some(DnsConfig {
                dns_records: records.iter().map(|k| DnsRecord { kind: *k, ttl: 10 }).collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn only_healthy_instances_answer_unless_none_is() {
        let (a, b) = (instance("a", "10.0.0.1", "80"), instance("b", "10.0.0.2", "80"));
        let mut zone = Zone::default();
        let svc = service(&[RecordType::A]);
        zone.add_service(
            "shop.local",
            &svc,
            &[Registered { instance: &a, healthy: true }, Registered { instance: &b, healthy: false }],
        );
        let sets = &zone.names["api.shop.local"].sets;
        assert_eq!(sets[0].values, vec![RecordValue::A("10.0.0.1".parse().unwrap())]);

        zone.add_service(
            "shop.local",
            &svc,
            &[Registered { instance: &a, healthy: false }, Registered { instance: &b, healthy: false }],
        );
        assert_eq!(zone.names["api.shop.local"].sets[0].values.len(), 2, "none healthy: all answer");
    }

    #[test]
    fn srv_records_point_at_each_instances_own_name() {
        let a = instance("Task1", "10.0.0.1", "8080");
        let mut zone = Zone::default();
        zone.add_service("shop.local", &service(&[RecordType::Srv]), &[Registered { instance: &a, healthy: true }]);
        assert_eq!(
            zone.names["api.shop.local"].sets[0].values,
            vec![RecordValue::Srv { priority: 1, weight: 1, port: 8080, target: "task1.api.shop.local".into() }]
        );
        assert_eq!(
            zone.names["task1.api.shop.local"].sets[0].values,
            vec![RecordValue::A("10.0.0.1".parse().unwrap())]
        );
    }
}
