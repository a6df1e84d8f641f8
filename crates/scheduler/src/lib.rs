//! berth-scheduler: task placement as a pure function. A snapshot of candidate instances
//! goes in; for each task to place, the chosen instance comes out, or for every instance
//! the first filter that ruled it out. No IO, so it can be tested exhaustively.
//!
//! Today's chain is the resource filters ECS applies first (agent connected, instance
//! ACTIVE, required attributes, CPU, memory, static host ports) followed by a spread over
//! instances (fewest tasks first, instance order breaking ties). Constraints, the cluster
//! query language and the binpack/spread/random strategies plug in after the filters.

pub mod query;

use std::collections::HashSet;

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
pub struct Candidate {
    pub arn: String,
    pub active: bool,
    pub agent_connected: bool,
    pub cpu_free: i64,
    pub memory_free: i64,
    pub ports_used: HashSet<(u32, String)>,
    pub attributes: HashSet<String>,
    pub task_count: usize,
}

/// Why an instance could not take a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Agent,
    Inactive,
    Attribute { name: String },
    Cpu { needed: i64, free: i64 },
    Memory { needed: i64, free: i64 },
    Ports { port: u32, protocol: String },
}

impl Rejection {
    /// The ECS `failures[].reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Agent => "AGENT",
            Rejection::Inactive => "INACTIVE",
            Rejection::Attribute { .. } => "ATTRIBUTE",
            Rejection::Cpu { .. } => "RESOURCE:CPU",
            Rejection::Memory { .. } => "RESOURCE:MEMORY",
            Rejection::Ports { .. } => "RESOURCE:PORTS",
        }
    }

    /// What a person needs to know, for `failures[].detail`.
    pub fn detail(&self) -> String {
        match self {
            Rejection::Agent => "the instance's agent is not connected".into(),
            Rejection::Inactive => "the instance is not ACTIVE".into(),
            Rejection::Attribute { name } => {
                format!("the instance lacks the required attribute {name}")
            }
            Rejection::Cpu { needed, free } => format!("cpu: needs {needed} units, {free} free"),
            Rejection::Memory { needed, free } => {
                format!("memory: needs {needed} MiB, {free} free")
            }
            Rejection::Ports { port, protocol } => {
                format!("ports: host port {port}/{protocol} is taken")
            }
        }
    }
}

/// The first filter that rejects `c` for `d`, in ECS's order.
pub fn check(d: &Demand, c: &Candidate) -> Result<(), Rejection> {
    if !c.agent_connected {
        return Err(Rejection::Agent);
    }
    if !c.active {
        return Err(Rejection::Inactive);
    }
    if let Some(name) = d.required_attributes.iter().find(|a| !c.attributes.contains(*a)) {
        return Err(Rejection::Attribute { name: name.clone() });
    }
    if d.cpu > c.cpu_free {
        return Err(Rejection::Cpu { needed: d.cpu, free: c.cpu_free });
    }
    if d.memory > c.memory_free {
        return Err(Rejection::Memory { needed: d.memory, free: c.memory_free });
    }
    if let Some((port, protocol)) = d.host_ports.iter().find(|p| c.ports_used.contains(*p)) {
        return Err(Rejection::Ports { port: *port, protocol: protocol.clone() });
    }
    Ok(())
}

/// The outcome of placing one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Index into the candidates.
    Placed(usize),
    /// Every candidate's rejection, in candidate order.
    Unplaced(Vec<(String, Rejection)>),
}

/// Places `count` copies of `demand`, one after another, each seeing the resources the
/// previous ones took. Candidates are consumed as a snapshot; the caller commits the result.
pub fn place(demand: &Demand, count: usize, mut candidates: Vec<Candidate>) -> Vec<Placement> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let mut best: Option<usize> = None;
        let mut rejections = Vec::new();
        for (i, c) in candidates.iter().enumerate() {
            match check(demand, c) {
                Ok(()) => {
                    if best.is_none_or(|b| c.task_count < candidates[b].task_count) {
                        best = Some(i);
                    }
                }
                Err(r) => rejections.push((c.arn.clone(), r)),
            }
        }
        match best {
            Some(i) => {
                let c = &mut candidates[i];
                c.cpu_free -= demand.cpu;
                c.memory_free -= demand.memory;
                c.ports_used.extend(demand.host_ports.iter().cloned());
                c.task_count += 1;
                out.push(Placement::Placed(i));
            }
            None => out.push(Placement::Unplaced(rejections)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(arn: &str, cpu: i64, memory: i64) -> Candidate {
        Candidate {
            arn: arn.into(),
            active: true,
            agent_connected: true,
            cpu_free: cpu,
            memory_free: memory,
            ..Default::default()
        }
    }

    #[test]
    fn spreads_and_accounts_resources() {
        let demand = Demand { cpu: 256, memory: 256, ..Default::default() };
        let placed = place(&demand, 3, vec![instance("a", 1024, 1024), instance("b", 1024, 300)]);
        assert_eq!(placed[0], Placement::Placed(0));
        assert_eq!(placed[1], Placement::Placed(1));
        assert_eq!(placed[2], Placement::Placed(0), "b has only 44 MiB left");
    }

    #[test]
    fn explains_every_rejection() {
        let demand = Demand { cpu: 512, memory: 512, host_ports: vec![(80, "tcp".into())], ..Default::default() };
        let mut busy = instance("ports", 4096, 4096);
        busy.ports_used.insert((80, "tcp".into()));
        let mut gone = instance("gone", 4096, 4096);
        gone.agent_connected = false;
        let placed = place(&demand, 1, vec![instance("cpu", 100, 4096), instance("mem", 4096, 100), busy, gone]);
        let Placement::Unplaced(reasons) = &placed[0] else { panic!("{placed:?}") };
        let reasons: Vec<&str> = reasons.iter().map(|(_, r)| r.reason()).collect();
        assert_eq!(reasons, ["RESOURCE:CPU", "RESOURCE:MEMORY", "RESOURCE:PORTS", "AGENT"]);
        assert_eq!(Rejection::Memory { needed: 512, free: 300 }.detail(), "memory: needs 512 MiB, 300 free");
    }

    #[test]
    fn a_static_port_is_used_once_per_instance() {
        let demand = Demand { host_ports: vec![(8080, "tcp".into())], ..Default::default() };
        let placed = place(&demand, 3, vec![instance("a", 0, 0), instance("b", 0, 0)]);
        assert!(matches!(placed[2], Placement::Unplaced(_)), "{placed:?}");
    }
}
