//! What placement works on: demands, instances, constraints, strategies, rejections, and
//! the filters that produce rejections.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use crate::query::{self, Expr, Facts};

/// At most this many constraints (task definition and request together).
pub const MAX_CONSTRAINTS: usize = 10;
/// At most this many strategies.
pub const MAX_STRATEGIES: usize = 5;

/// What one task needs from an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Demand {
    /// CPU units.
    pub cpu: i64,
    /// MiB.
    pub memory: i64,
    /// Static host ports as (port, "tcp"|"udp").
    pub host_ports: Vec<(u32, String)>,
    /// Attribute names the task definition requires.
    pub required_attributes: Vec<String>,
}

/// One instance as the scheduler sees it.
#[derive(Debug, Clone, Default)]
pub struct Instance {
    pub arn: String,
    pub ec2_instance_id: String,
    pub active: bool,
    pub agent_connected: bool,
    pub agent_version: String,
    pub registered_at: f64,
    pub cpu_free: i64,
    pub memory_free: i64,
    pub ports_used: HashSet<(u32, String)>,
    /// Name → value (`None` for a value-less attribute such as a capability). Shared
    /// with the control plane's index: a snapshot copies a pointer, not the map.
    pub attributes: Arc<HashMap<String, Option<String>>>,
    /// Tasks whose desired status is RUNNING.
    pub running_tasks_count: i64,
    /// Tasks not yet STOPPED, by task group, as of the snapshot (shared, never written).
    pub task_groups: Arc<HashMap<String, usize>>,
    /// Tasks placed on this instance during the current request, by group.
    pub placed_groups: HashMap<String, usize>,
}

impl Instance {
    pub fn attribute_value(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(|v| v.as_deref().unwrap_or(""))
    }

    /// Tasks of `group` here, including those placed by the current request.
    pub fn group_count(&self, group: &str) -> usize {
        self.task_groups.get(group).copied().unwrap_or(0) + self.placed_groups.get(group).copied().unwrap_or(0)
    }

    /// Records a task placed here.
    pub(crate) fn take(&mut self, demand: &Demand, group: &str) {
        self.cpu_free -= demand.cpu;
        self.memory_free -= demand.memory;
        self.ports_used.extend(demand.host_ports.iter().cloned());
        self.running_tasks_count += 1;
        *self.placed_groups.entry(group.to_string()).or_default() += 1;
    }
}

impl Facts for Instance {
    fn attribute(&self, name: &str) -> Option<Option<&str>> {
        self.attributes.get(name).map(|v| v.as_deref())
    }
    fn ec2_instance_id(&self) -> &str {
        &self.ec2_instance_id
    }
    fn agent_connected(&self) -> bool {
        self.agent_connected
    }
    fn agent_version(&self) -> &str {
        &self.agent_version
    }
    fn registered_at(&self) -> f64 {
        self.registered_at
    }
    fn running_tasks_count(&self) -> i64 {
        self.running_tasks_count
    }
    fn task_groups(&self) -> Vec<&str> {
        let placed = self.placed_groups.keys().filter(|g| !self.task_groups.contains_key(*g));
        self.task_groups.iter().filter(|(_, n)| **n > 0).map(|(g, _)| g).chain(placed).map(String::as_str).collect()
    }
}

#[derive(Debug, Clone)]
pub enum Constraint {
    DistinctInstance,
    MemberOf { expression: String, expr: Expr },
}

impl Constraint {
    /// Whether the answer can change as tasks are placed (it looks at tasks).
    pub(crate) fn is_dynamic(&self) -> bool {
        match self {
            Constraint::DistinctInstance => true,
            Constraint::MemberOf { expression, .. } => {
                expression.contains("task:group") || expression.contains("runningTasksCount")
            }
        }
    }

    /// Whether the constraint lets `i` run a task of `group`, for callers outside the
    /// placement chain (a DAEMON service choosing its instances). `distinctInstance` is a
    /// placement-time rule and always holds here.
    pub fn admits_instance(&self, i: &Instance, group: &str) -> bool {
        matches!(self, Constraint::DistinctInstance) || self.admits(i, group).is_ok()
    }

    pub(crate) fn admits(&self, i: &Instance, group: &str) -> Result<(), Rejection> {
        match self {
            Constraint::DistinctInstance if i.group_count(group) > 0 => Err(Rejection::DistinctInstance),
            Constraint::MemberOf { expression, expr } if !expr.matches(i) => {
                Err(Rejection::MemberOf { expression: expression.clone() })
            }
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinpackField {
    Cpu,
    Memory,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpreadField {
    /// `instanceId` or `host`.
    Instance,
    Attribute(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    Binpack(BinpackField),
    Spread(SpreadField),
    Random,
}

impl Strategy {
    /// The API spelling: (`type`, `field`).
    pub fn spelling(&self) -> (&'static str, Option<String>) {
        match self {
            Strategy::Binpack(BinpackField::Cpu) => ("binpack", Some("cpu".into())),
            Strategy::Binpack(BinpackField::Memory) => ("binpack", Some("memory".into())),
            Strategy::Spread(SpreadField::Instance) => ("spread", Some("instanceId".into())),
            Strategy::Spread(SpreadField::Attribute(a)) => ("spread", Some(format!("attribute:{a}"))),
            Strategy::Random => ("random", None),
        }
    }
}

/// A constraint as the API spells it (`type`, `expression`); errors are for a person.
pub fn parse_constraint(kind: &str, expression: Option<&str>) -> Result<Constraint, String> {
    match kind {
        "distinctInstance" => match expression {
            Some(e) if !e.trim().is_empty() => Err("a distinctInstance constraint takes no expression".into()),
            _ => Ok(Constraint::DistinctInstance),
        },
        "memberOf" => {
            let e = expression.filter(|e| !e.trim().is_empty()).ok_or("a memberOf constraint needs an expression")?;
            let expr = query::parse(e).map_err(|err| format!("invalid memberOf expression '{e}' {err}"))?;
            Ok(Constraint::MemberOf { expression: e.to_string(), expr })
        }
        other => Err(format!("unknown placement constraint type '{other}': use distinctInstance or memberOf")),
    }
}

/// A strategy as the API spells it (`type`, `field`).
pub fn parse_strategy(kind: &str, field: Option<&str>) -> Result<Strategy, String> {
    match kind {
        "random" => Ok(Strategy::Random),
        "binpack" => match field.map(str::to_ascii_lowercase).as_deref() {
            Some("cpu") => Ok(Strategy::Binpack(BinpackField::Cpu)),
            Some("memory") => Ok(Strategy::Binpack(BinpackField::Memory)),
            _ => Err(format!("binpack takes the field cpu or memory, not '{}'", field.unwrap_or(""))),
        },
        "spread" => match field {
            Some("instanceId") | Some("host") => Ok(Strategy::Spread(SpreadField::Instance)),
            Some(f) => match f.strip_prefix("attribute:") {
                Some(name) if !name.is_empty() => Ok(Strategy::Spread(SpreadField::Attribute(name.to_string()))),
                _ => Err(format!("spread takes instanceId, host or attribute:NAME, not '{f}'")),
            },
            None => Err("spread needs a field: instanceId, host or attribute:NAME".into()),
        },
        other => Err(format!("unknown placement strategy type '{other}': use binpack, spread or random")),
    }
}

/// A placement request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub demand: Demand,
    /// The task group (`family:NAME`, `service:NAME` or the caller's).
    pub group: String,
    pub count: usize,
    pub constraints: Vec<Constraint>,
    pub strategies: Vec<Strategy>,
    /// Seeds `random`: equal requests over equal snapshots place identically.
    pub seed: u64,
}

/// Why an instance could not take a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Agent,
    Inactive,
    Cpu { needed: i64, free: i64 },
    Memory { needed: i64, free: i64 },
    Ports { port: u32, protocol: String },
    Attribute { name: String },
    DistinctInstance,
    MemberOf { expression: String },
}

impl Rejection {
    /// The ECS `failures[].reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Agent => "AGENT",
            Rejection::Inactive => "INACTIVE",
            Rejection::Cpu { .. } => "RESOURCE:CPU",
            Rejection::Memory { .. } => "RESOURCE:MEMORY",
            Rejection::Ports { .. } => "RESOURCE:PORTS",
            Rejection::Attribute { .. } => "ATTRIBUTE",
            Rejection::DistinctInstance => "DistinctInstance placement constraint unsatisfied.",
            Rejection::MemberOf { .. } => "MemberOf placement constraint unsatisfied.",
        }
    }

    /// What a person needs to know, for `failures[].detail`.
    pub fn detail(&self) -> String {
        match self {
            Rejection::Agent => "the instance's agent is not connected".into(),
            Rejection::Inactive => "the instance is not ACTIVE (DRAINING or deregistered)".into(),
            Rejection::Cpu { needed, free } => format!("cpu: needs {needed} units, {free} free"),
            Rejection::Memory { needed, free } => format!("memory: needs {needed} MiB, {free} free"),
            Rejection::Ports { port, protocol } => format!("ports: host port {port}/{protocol} is taken"),
            Rejection::Attribute { name } => format!("attribute: the instance lacks {name}"),
            Rejection::DistinctInstance => "distinctInstance: a task of the same group already runs here".into(),
            Rejection::MemberOf { expression } => format!("memberOf: the instance does not match '{expression}'"),
        }
    }
}

/// The resource filters, in ECS's order: agent, status, CPU, memory, ports, attributes.
pub(crate) fn check_resources(d: &Demand, i: &Instance) -> Result<(), Rejection> {
    if !i.agent_connected {
        return Err(Rejection::Agent);
    }
    if !i.active {
        return Err(Rejection::Inactive);
    }
    if d.cpu > i.cpu_free {
        return Err(Rejection::Cpu { needed: d.cpu, free: i.cpu_free });
    }
    if d.memory > i.memory_free {
        return Err(Rejection::Memory { needed: d.memory, free: i.memory_free });
    }
    if let Some((port, protocol)) = d.host_ports.iter().find(|p| i.ports_used.contains(*p)) {
        return Err(Rejection::Ports { port: *port, protocol: protocol.clone() });
    }
    if let Some(name) = d.required_attributes.iter().find(|a| !i.attributes.contains_key(*a)) {
        return Err(Rejection::Attribute { name: name.clone() });
    }
    Ok(())
}

/// The first filter of the whole chain that rejects `i` for one task of `req`.
pub fn check(req: &Request, i: &Instance) -> Result<(), Rejection> {
    check_resources(&req.demand, i)?;
    req.constraints.iter().try_for_each(|c| c.admits(i, &req.group))
}

/// The outcome of placing one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Index into the instances.
    Placed(usize),
    /// Every instance's rejection, in instance order.
    Unplaced(Vec<(String, Rejection)>),
}
