//! Answering from the plan: the zone a name falls in, its records, the SOA of negative
//! answers. Pure: a query in, a response out (or "not ours").

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use berth_model::discovery::{
    records::{DnsPlan, NameEntry, RecordValue},
    RecordType as SdType, RoutingPolicy,
};
use hickory_proto::{
    op::{Message, ResponseCode},
    rr::{
        rdata::{A, AAAA, CNAME, NS, SOA, SRV},
        Name, RData, Record, RecordType,
    },
};
use rand::seq::SliceRandom;

/// MULTIVALUE answers carry at most this many records, as Route 53's do.
const MULTIVALUE_ANSWERS: usize = 8;

/// The plan, indexed for lookups.
#[derive(Default)]
pub struct Zones {
    zones: Vec<ZoneIndex>,
}

struct ZoneIndex {
    name: String,
    apex: Name,
    soa_ttl: u32,
    names: HashMap<String, Arc<NameEntry>>,
    /// Names with records below them but none of their own (answered NODATA, not NXDOMAIN).
    ancestors: HashSet<String>,
}

impl Zones {
    pub fn compile(plan: &DnsPlan) -> Zones {
        let mut zones: Vec<ZoneIndex> = plan
            .zones
            .iter()
            .filter_map(|(name, zone)| {
                let apex = Name::from_ascii(format!("{name}.")).ok()?;
                let mut ancestors = HashSet::new();
                for n in zone.names.keys() {
                    let mut rest = n.as_str();
                    while let Some((_, parent)) = rest.split_once('.') {
                        if parent.len() <= name.len() {
                            break;
                        }
                        ancestors.insert(parent.to_string());
                        rest = parent;
                    }
                }
                let names = zone.names.iter().map(|(k, v)| (k.clone(), Arc::new(v.clone()))).collect();
                Some(ZoneIndex { name: name.clone(), apex, soa_ttl: zone.soa_ttl, names, ancestors })
            })
            .collect();
        // Longest first: the most specific zone wins.
        zones.sort_by_key(|z| std::cmp::Reverse(z.name.len()));
        Zones { zones }
    }

    /// The zone `name` (lower case, no trailing dot) falls in.
    fn zone_of(&self, name: &str) -> Option<&ZoneIndex> {
        self.zones.iter().find(|z| {
            name == z.name
                || (name.len() > z.name.len()
                    && name.ends_with(z.name.as_str())
                    && name.as_bytes()[name.len() - z.name.len() - 1] == b'.')
        })
    }

    /// Answers `request` if its question is in one of berth's zones; `None` to forward.
    pub fn answer(&self, request: &Message) -> Option<Message> {
        let query = request.queries.first()?;
        let qname = query.name.to_ascii().trim_end_matches('.').to_ascii_lowercase();
        let zone = self.zone_of(&qname)?;
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.metadata.authoritative = true;
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        response.add_query(query.clone());
        let qtype = query.query_type;
        let entry = zone.names.get(&qname);
        if qname == zone.name && matches!(qtype, RecordType::SOA | RecordType::NS | RecordType::ANY) {
            if qtype != RecordType::NS {
                response.add_answer(zone.soa());
            }
            if qtype != RecordType::SOA {
                response.add_answer(Record::from_rdata(
                    zone.apex.clone(),
                    zone.soa_ttl.max(60),
                    RData::NS(NS(zone.ns())),
                ));
            }
            return Some(response);
        }
        let Some(entry) = entry else {
            if qname != zone.name && !zone.ancestors.contains(&qname) {
                response.metadata.response_code = ResponseCode::NXDomain;
            }
            response.add_authority(zone.soa());
            return Some(response);
        };
        let name = query.name.clone();
        let wanted = |t: SdType| match qtype {
            RecordType::ANY => true,
            RecordType::A => t == SdType::A || t == SdType::Cname,
            RecordType::AAAA => t == SdType::Aaaa || t == SdType::Cname,
            RecordType::SRV => t == SdType::Srv,
            RecordType::CNAME => t == SdType::Cname,
            _ => false,
        };
        let mut rng = rand::thread_rng();
        for set in entry.sets.iter().filter(|s| wanted(s.kind)) {
            let mut values: Vec<&RecordValue> = set.values.iter().collect();
            values.shuffle(&mut rng);
            let take = match entry.policy {
                RoutingPolicy::Weighted => 1,
                RoutingPolicy::Multivalue => MULTIVALUE_ANSWERS,
            };
            for v in values.into_iter().take(take) {
                if let Some(data) = rdata(v) {
                    if let RecordValue::Srv { target, .. } = v {
                        // The target's address, so the client needs no second query.
                        if let Some(t) = zone.names.get(target.as_str()) {
                            for s in &t.sets {
                                for tv in &s.values {
                                    if let (Some(d), Ok(n)) = (rdata(tv), Name::from_ascii(format!("{target}."))) {
                                        response.add_additional(Record::from_rdata(n, s.ttl, d));
                                    }
                                }
                            }
                        }
                    }
                    response.add_answer(Record::from_rdata(name.clone(), set.ttl, data));
                }
            }
        }
        if response.answers.is_empty() {
            response.add_authority(zone.soa());
        }
        Some(response)
    }
}

fn rdata(v: &RecordValue) -> Option<RData> {
    Some(match v {
        RecordValue::A(ip) => RData::A(A(*ip)),
        RecordValue::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
        RecordValue::Srv { priority, weight, port, target } => {
            RData::SRV(SRV::new(*priority, *weight, *port, Name::from_ascii(format!("{target}.")).ok()?))
        }
        RecordValue::Cname(target) => RData::CNAME(CNAME(Name::from_ascii(format!("{target}.")).ok()?)),
    })
}

impl ZoneIndex {
    fn ns(&self) -> Name {
        Name::from_ascii(format!("ns.{}.", self.name)).unwrap_or_else(|_| self.apex.clone())
    }

    /// The zone's SOA; its minimum (the negative-answer TTL) is the namespace's SOA TTL.
    fn soa(&self) -> Record {
        let rname = Name::from_ascii(format!("hostmaster.{}.", self.name)).unwrap_or_else(|_| self.apex.clone());
        let soa = SOA::new(self.ns(), rname, 1, 7200, 900, 1_209_600, self.soa_ttl);
        Record::from_rdata(self.apex.clone(), self.soa_ttl, RData::SOA(soa))
    }
}
