//! The ELB resources as stored, how an ELB change applies to the state and the store, and
//! the book of what the data plane observes (target health, drained targets), which
//! lives in memory only: a restarted server checks its targets again.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
};

use berth_model::elb::{plane::TargetKey, Listener, LoadBalancer, Rule, TargetGroup, TargetHealth};
use berth_store::{Mutation, Record};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerRecord {
    pub load_balancer: LoadBalancer,
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupRecord {
    pub target_group: TargetGroup,
    pub attributes: BTreeMap<String, String>,
    pub targets: Vec<RegisteredTarget>,
}

/// A target in a target group: registered, or draining since a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredTarget {
    pub id: String,
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    pub registered_at: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draining_since: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleRecord {
    pub listener_arn: String,
    pub rule: Rule,
}

/// One region's ELB resources, by ARN.
#[derive(Debug, Clone, Default)]
pub struct ElbState {
    pub load_balancers: BTreeMap<String, Arc<LoadBalancerRecord>>,
    pub target_groups: BTreeMap<String, Arc<TargetGroupRecord>>,
    pub listeners: BTreeMap<String, Arc<Listener>>,
    pub rules: BTreeMap<String, Arc<RuleRecord>>,
}

impl ElbState {
    pub fn load_balancer_named(&self, name: &str) -> Option<&Arc<LoadBalancerRecord>> {
        self.load_balancers.values().find(|r| r.load_balancer.load_balancer_name == name)
    }

    pub fn target_group_named(&self, name: &str) -> Option<&Arc<TargetGroupRecord>> {
        self.target_groups.values().find(|r| r.target_group.target_group_name == name)
    }

    pub fn listeners_of<'a>(&'a self, lb_arn: &'a str) -> impl Iterator<Item = &'a Arc<Listener>> + 'a {
        self.listeners.values().filter(move |l| l.load_balancer_arn == lb_arn)
    }

    pub fn rules_of<'a>(&'a self, listener_arn: &'a str) -> impl Iterator<Item = &'a Arc<RuleRecord>> + 'a {
        self.rules.values().filter(move |r| r.listener_arn == listener_arn)
    }

    /// The load balancers whose listeners or rules forward to `tg_arn`.
    pub fn load_balancers_using(&self, tg_arn: &str) -> Vec<String> {
        let mut arns: Vec<String> = Vec::new();
        for l in self.listeners.values() {
            let rules = self.rules_of(&l.listener_arn).flat_map(|r| r.rule.actions.iter());
            if l.default_actions.iter().chain(rules).any(|a| a.target_group_arns().any(|t| t == tg_arn))
                && !arns.contains(&l.load_balancer_arn)
            {
                arns.push(l.load_balancer_arn.clone());
            }
        }
        arns
    }
}

/// A change to one ELB resource: the whole record, or its removal.
#[derive(Debug, Clone)]
pub enum ElbChange {
    LoadBalancer(Arc<LoadBalancerRecord>),
    TargetGroup(Arc<TargetGroupRecord>),
    Listener(Arc<Listener>),
    Rule(Arc<RuleRecord>),
    Delete { kind: &'static str, arn: String },
}

pub(crate) const LOAD_BALANCER: &str = "elb-load-balancer";
pub(crate) const TARGET_GROUP: &str = "elb-target-group";
pub(crate) const LISTENER: &str = "elb-listener";
pub(crate) const RULE: &str = "elb-rule";

impl ElbChange {
    pub fn apply(&self, elb: &mut ElbState) {
        match self {
            ElbChange::LoadBalancer(r) => {
                drop(elb.load_balancers.insert(r.load_balancer.load_balancer_arn.clone(), r.clone()))
            }
            ElbChange::TargetGroup(r) => {
                drop(elb.target_groups.insert(r.target_group.target_group_arn.clone(), r.clone()))
            }
            ElbChange::Listener(l) => drop(elb.listeners.insert(l.listener_arn.clone(), l.clone())),
            ElbChange::Rule(r) => drop(elb.rules.insert(r.rule.rule_arn.clone(), r.clone())),
            ElbChange::Delete { kind, arn } => match *kind {
                LOAD_BALANCER => drop(elb.load_balancers.remove(arn)),
                TARGET_GROUP => drop(elb.target_groups.remove(arn)),
                LISTENER => drop(elb.listeners.remove(arn)),
                _ => drop(elb.rules.remove(arn)),
            },
        }
    }

    pub fn to_mutation(&self, region: &str) -> Mutation {
        let (kind, arn, value) = match self {
            ElbChange::LoadBalancer(r) => (LOAD_BALANCER, &r.load_balancer.load_balancer_arn, json(r)),
            ElbChange::TargetGroup(r) => (TARGET_GROUP, &r.target_group.target_group_arn, json(r)),
            ElbChange::Listener(l) => (LISTENER, &l.listener_arn, json(l)),
            ElbChange::Rule(r) => (RULE, &r.rule.rule_arn, json(r)),
            ElbChange::Delete { kind, arn } => return Mutation::Delete { kind, key: format!("{region}/{arn}") },
        };
        Mutation::Put { kind, key: format!("{region}/{arn}"), value }
    }

    /// The change a stored record stands for, or `None` if the kind is not ELB's.
    pub fn decode(r: &Record) -> Option<Result<ElbChange, serde_json::Error>> {
        let v = &r.value;
        Some(match r.kind.as_str() {
            LOAD_BALANCER => serde_json::from_slice(v).map(|x| ElbChange::LoadBalancer(Arc::new(x))),
            TARGET_GROUP => serde_json::from_slice(v).map(|x| ElbChange::TargetGroup(Arc::new(x))),
            LISTENER => serde_json::from_slice(v).map(|x| ElbChange::Listener(Arc::new(x))),
            RULE => serde_json::from_slice(v).map(|x| ElbChange::Rule(Arc::new(x))),
            _ => return None,
        })
    }
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("state values always serialize")
}

/// What the data plane reported: each target's health and which draining targets are
/// idle. Shared by every copy of the state.
#[derive(Debug, Default)]
pub struct HealthBook {
    inner: Mutex<BookInner>,
}

#[derive(Debug, Default)]
struct BookInner {
    health: HashMap<TargetKey, TargetHealth>,
    idle: HashSet<TargetKey>,
}

impl HealthBook {
    pub fn health(&self, key: &TargetKey) -> Option<TargetHealth> {
        self.lock().health.get(key).cloned()
    }

    pub fn is_idle(&self, key: &TargetKey) -> bool {
        self.lock().idle.contains(key)
    }

    /// Records an observation; true when it changed what the book says.
    pub fn observe(&self, o: &berth_model::elb::plane::Observation) -> bool {
        use berth_model::elb::plane::Observation;
        let mut b = self.lock();
        match o {
            Observation::Health { key, health } => {
                b.health.insert(key.clone(), health.clone()).as_ref() != Some(health)
            }
            Observation::Idle { key } => b.idle.insert(key.clone()),
        }
    }

    /// Forgets what was seen of a registration: one that ended, or one made afresh.
    pub fn forget(&self, key: &TargetKey) {
        let mut b = self.lock();
        b.health.remove(key);
        b.idle.remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BookInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}
