//! Where ECS meets the load balancer: checking a service's `loadBalancers` as ECS checks
//! them, which targets a task stands for, and the target group changes a service pass
//! makes (registering RUNNING tasks, draining the ones it stops), gathered so that each
//! target group is written once per pass.

use std::{collections::BTreeMap, sync::Arc};

use berth_model::{
    elb::{plane::TargetKey, TargetHealthState, TargetType},
    service::LoadBalancer,
    task::Task,
    task_definition::TaskDefinition,
    EcsError,
};

use super::state::{ElbChange, RegisteredTarget, TargetGroupRecord};
use crate::{state::Change, RegionState, State};

/// At most this many target groups per service.
const MAX_LOAD_BALANCERS: usize = 5;

/// Checks a service's load balancers against the task definition and the target groups.
pub fn check_service_load_balancers(
    region: &RegionState,
    td: &TaskDefinition,
    lbs: &[LoadBalancer],
) -> Result<(), EcsError> {
    if lbs.len() > MAX_LOAD_BALANCERS {
        return Err(EcsError::invalid(format!("A service can have at most {MAX_LOAD_BALANCERS} load balancers.")));
    }
    for lb in lbs {
        let Some(arn) = lb.target_group_arn.as_deref() else {
            return Err(EcsError::invalid(
                "loadBalancers: targetGroupArn is required (Classic Load Balancers by loadBalancerName are not supported by berth).",
            ));
        };
        let name = lb
            .container_name
            .as_deref()
            .ok_or_else(|| EcsError::invalid("loadBalancers: containerName is required."))?;
        let port = lb.container_port.ok_or_else(|| EcsError::invalid("loadBalancers: containerPort is required."))?;
        let tg = region
            .elb
            .target_groups
            .get(arn)
            .ok_or_else(|| EcsError::invalid(format!("The target group {arn} does not exist.")))?;
        if region.elb.load_balancers_using(arn).is_empty() {
            return Err(EcsError::invalid(format!(
                "The target group with targetGroupArn {arn} does not have an associated load balancer."
            )));
        }
        let container =
            td.container_definitions.iter().find(|c| c.name.as_deref() == Some(name)).ok_or_else(|| {
                EcsError::invalid(format!("The container {name} does not exist in the task definition."))
            })?;
        if !container.port_mappings.iter().any(|m| m.container_port.map(i64::from) == Some(port)) {
            return Err(EcsError::invalid(format!(
                "The container {name} did not have a container port {port} defined."
            )));
        }
        let awsvpc = td.is_awsvpc();
        match tg.target_group.target_type {
            TargetType::Ip if !awsvpc => {
                return Err(EcsError::invalid(format!(
                    "The provided target group {arn} has target type ip, which is incompatible with the {} network mode specified in the task definition.",
                    td.network_mode()
                )));
            }
            TargetType::Instance if awsvpc => {
                return Err(EcsError::invalid(format!(
                    "The provided target group {arn} has target type instance, which is incompatible with the awsvpc network mode specified in the task definition."
                )));
            }
            _ => {}
        }
    }
    let mut seen = std::collections::HashSet::new();
    if !lbs.iter().all(|lb| seen.insert(lb.target_group_arn.clone())) {
        return Err(EcsError::invalid("A target group can be given only once for a service."));
    }
    Ok(())
}

/// The (target group, id, port) a task stands for in each of `lbs`, where its container
/// port is bound (instance targets: the instance and the host port; ip targets: the
/// awsvpc task's own address and the container port).
pub fn task_targets(region: &RegionState, lbs: &[LoadBalancer], task: &Task) -> Vec<TargetKey> {
    let instance = task.container_instance_arn.as_ref().and_then(|i| region.instances.get(i));
    let mut out = Vec::new();
    for lb in lbs {
        let (Some(arn), Some(name), Some(port)) = (&lb.target_group_arn, &lb.container_name, lb.container_port) else {
            continue;
        };
        let Some(tg) = region.elb.target_groups.get(arn) else { continue };
        let Some(container) = task.containers.iter().find(|c| &c.name == name) else { continue };
        let binding = container.network_bindings.iter().find(|b| b.container_port.map(i64::from) == Some(port));
        let target = match tg.target_group.target_type {
            TargetType::Instance => {
                let id = instance.and_then(|i| i.instance.ec2_instance_id.clone());
                id.zip(binding.and_then(|b| b.host_port)).map(|(id, p)| (id, p as u16))
            }
            TargetType::Ip => task.private_ipv4().map(|ip| (ip.to_string(), port as u16)),
            _ => None,
        };
        if let Some((id, port)) = target {
            out.push(TargetKey { target_group_arn: arn.clone(), id, port });
        }
    }
    out
}

/// Every registration a task holds in any target group (found by its instance and host
/// ports, or by its own address), draining ones included.
pub fn registered_targets_of(region: &RegionState, task: &Task) -> Vec<(TargetKey, bool)> {
    let (kind, id, ports): (TargetType, String, Vec<u16>) = match task.private_ipv4() {
        Some(ip) => {
            let td = crate::task_definitions::TaskDefinitionRef::parse(&task.task_definition_arn)
                .ok()
                .and_then(|r| r.resolve(region).cloned());
            let ports = td
                .iter()
                .flat_map(|td| td.container_definitions.iter().flat_map(|c| &c.port_mappings))
                .filter_map(|m| m.container_port.map(|p| p as u16))
                .collect();
            (TargetType::Ip, ip.to_string(), ports)
        }
        None => {
            let Some(id) = task
                .container_instance_arn
                .as_ref()
                .and_then(|i| region.instances.get(i))
                .and_then(|i| i.instance.ec2_instance_id.clone())
            else {
                return Vec::new();
            };
            let ports = task
                .containers
                .iter()
                .flat_map(|c| &c.network_bindings)
                .filter_map(|b| b.host_port.map(|p| p as u16))
                .collect();
            (TargetType::Instance, id, ports)
        }
    };
    if ports.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for tg in region.elb.target_groups.values() {
        if tg.target_group.target_type != kind {
            continue;
        }
        for t in tg.targets.iter().filter(|t| t.id == id && ports.contains(&t.port)) {
            let key = TargetKey {
                target_group_arn: tg.target_group.target_group_arn.clone(),
                id: t.id.clone(),
                port: t.port,
            };
            out.push((key, t.draining_since.is_some()));
        }
    }
    out
}

/// Target group records changed during one pass, written once at its end.
#[derive(Default)]
pub struct TargetGroupEdits {
    edited: BTreeMap<String, TargetGroupRecord>,
}

impl TargetGroupEdits {
    fn record<'a>(&'a mut self, region: &RegionState, arn: &str) -> Option<&'a mut TargetGroupRecord> {
        if !self.edited.contains_key(arn) {
            let current = region.elb.target_groups.get(arn)?;
            self.edited.insert(arn.to_string(), current.as_ref().clone());
        }
        self.edited.get_mut(arn)
    }

    /// The registration of `key`, as edited so far.
    pub fn target<'a>(&'a self, region: &'a RegionState, key: &TargetKey) -> Option<&'a RegisteredTarget> {
        let tg = self
            .edited
            .get(&key.target_group_arn)
            .or_else(|| region.elb.target_groups.get(&key.target_group_arn).map(|a| a.as_ref()))?;
        tg.targets.iter().find(|t| t.id == key.id && t.port == key.port)
    }

    /// Makes sure `arn` is written at the end even if no target changed (an API call
    /// answers with what it wrote).
    pub fn touch(&mut self, region: &RegionState, arn: &str) {
        self.record(region, arn);
    }

    /// Registers `key` unless it is registered and not draining (a draining one is taken
    /// back, and checked afresh); true if it changed.
    pub fn register(
        &mut self,
        state: &State,
        region: &RegionState,
        key: &TargetKey,
        zone: Option<String>,
        now: f64,
    ) -> bool {
        let Some(tg) = self.record(region, &key.target_group_arn) else { return false };
        match tg.targets.iter_mut().find(|t| t.id == key.id && t.port == key.port) {
            Some(t) if t.draining_since.is_none() => false,
            Some(t) => {
                // A new registration: the data plane checks it afresh (by its new time) and
                // reports again what the book forgets now.
                t.draining_since = None;
                t.registered_at = now;
                state.lb_health().forget(key);
                true
            }
            None => {
                state.lb_health().forget(key);
                tg.targets.push(RegisteredTarget {
                    id: key.id.clone(),
                    port: key.port,
                    availability_zone: zone,
                    registered_at: now,
                    draining_since: None,
                });
                true
            }
        }
    }

    /// Starts draining `key` if it is registered and not draining yet; true if it changed.
    pub fn deregister(&mut self, region: &RegionState, key: &TargetKey, now: f64) -> bool {
        let Some(tg) = self.record(region, &key.target_group_arn) else { return false };
        match tg.targets.iter_mut().find(|t| t.id == key.id && t.port == key.port) {
            Some(t) if t.draining_since.is_none() => {
                t.draining_since = Some(now);
                true
            }
            _ => false,
        }
    }

    /// Pushes one change per edited target group.
    pub fn flush(self, region: &str, changes: &mut Vec<Change>) {
        for (_, record) in self.edited {
            changes.push(Change::Elb { region: region.to_string(), change: ElbChange::TargetGroup(Arc::new(record)) });
        }
    }
}

/// The health the data plane reports for a registered target (initial until it does).
pub fn target_state(state: &State, key: &TargetKey) -> TargetHealthState {
    state.lb_health().health(key).map(|h| h.state).unwrap_or(TargetHealthState::Initial)
}
