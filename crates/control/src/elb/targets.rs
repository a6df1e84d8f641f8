//! RegisterTargets, DeregisterTargets and DescribeTargetHealth; what a target's health
//! reads as, from its registration and the data plane's observations.

use std::sync::Arc;

use berth_model::elb::{
    error::required,
    plane::TargetKey,
    requests::{Empty, TargetHealthResult, TargetsRequest},
    ElbError, TargetDescription, TargetHealth, TargetHealthDescription, TargetHealthReason, TargetHealthState,
    TargetType,
};

use super::state::{ElbChange, RegisteredTarget, TargetGroupRecord};
use crate::{state::Change, Caller, Control, RegionState, State};

pub use berth_model::container_instance::HOST_ADDRESS_ATTRIBUTE;

/// The address a target is reached at: an instance's host address, or the target's IP.
pub fn target_host(region: &RegionState, target_type: TargetType, id: &str) -> Option<String> {
    match target_type {
        TargetType::Ip => Some(id.to_string()),
        _ => region
            .instances
            .values()
            .find(|i| i.instance.ec2_instance_id.as_deref() == Some(id))
            .and_then(|i| i.instance.attributes.iter().find(|a| a.name == HOST_ADDRESS_ATTRIBUTE))
            .and_then(|a| a.value.clone()),
    }
}

/// Targets as given, with the target group's port where a target names none.
fn resolve(
    tg: &TargetGroupRecord,
    targets: &[TargetDescription],
) -> Result<Vec<(String, u16, Option<String>)>, ElbError> {
    if targets.is_empty() {
        return Err(ElbError::validation("At least one target must be specified"));
    }
    targets
        .iter()
        .map(|t| {
            let id = t.id.clone().ok_or_else(|| ElbError::missing_parameter("Id"))?;
            let port = match t.port.or(tg.target_group.port) {
                Some(p) => berth_model::elb::validate::port(p)?,
                None => return Err(ElbError::validation(format!("A port must be specified for target '{id}'"))),
            };
            Ok((id, port, t.availability_zone.clone()))
        })
        .collect()
}

fn check_target(region: &RegionState, target_type: TargetType, id: &str) -> Result<(), ElbError> {
    match target_type {
        TargetType::Ip if id.parse::<std::net::IpAddr>().is_err() => {
            Err(ElbError::invalid_target(format!("The IP address '{id}' is not a valid IPv4 or IPv6 address")))
        }
        TargetType::Instance if !region.instances.values().any(|i| i.instance.ec2_instance_id.as_deref() == Some(id)) => {
            Err(ElbError::invalid_target(format!(
                "The following targets are not valid instances: '{id}' (berth knows the instance ids of its container instances)"
            )))
        }
        _ => Ok(()),
    }
}

/// How a registered target reads in DescribeTargetHealth.
pub fn health_of(state: &State, region: &RegionState, tg: &TargetGroupRecord, t: &RegisteredTarget) -> TargetHealth {
    let arn = &tg.target_group.target_group_arn;
    if t.draining_since.is_some() {
        return TargetHealth::new(
            TargetHealthState::Draining,
            Some(TargetHealthReason::DeregistrationInProgress),
            "Target deregistration is in progress",
        );
    }
    if region.elb.load_balancers_using(arn).is_empty() {
        return TargetHealth::new(
            TargetHealthState::Unused,
            Some(TargetHealthReason::NotInUse),
            "Target group is not configured to receive traffic from the load balancer",
        );
    }
    if !tg.target_group.health_check_enabled {
        return TargetHealth::new(
            TargetHealthState::Unavailable,
            Some(TargetHealthReason::HealthCheckDisabled),
            "Health checks are disabled",
        );
    }
    let key = TargetKey { target_group_arn: arn.clone(), id: t.id.clone(), port: t.port };
    state.lb_health().health(&key).unwrap_or_else(|| {
        TargetHealth::new(
            TargetHealthState::Initial,
            Some(TargetHealthReason::RegistrationInProgress),
            "Target registration is in progress",
        )
    })
}

impl Control {
    pub async fn register_targets(&self, caller: &Caller, req: TargetsRequest) -> Result<Empty, ElbError> {
        let arn = required(&req.target_group_arn, "TargetGroupArn")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            let region = state.region(&caller.region);
            let tg = region.elb.target_groups.get(&arn).ok_or_else(ElbError::target_group_not_found)?;
            let targets = resolve(tg, &req.targets)?;
            let mut record = tg.as_ref().clone();
            let now = berth_model::time::now();
            for (id, port, zone) in targets {
                check_target(region, tg.target_group.target_type, &id)?;
                let key = TargetKey { target_group_arn: arn.clone(), id: id.clone(), port };
                match record.targets.iter_mut().find(|t| t.id == id && t.port == port) {
                    // Registering a draining target again takes it back into service.
                    Some(t) if t.draining_since.is_some() => {
                        t.draining_since = None;
                        state.lb_health().reset(&key);
                    }
                    Some(_) => {}
                    None => {
                        state.lb_health().reset(&key);
                        record.targets.push(RegisteredTarget {
                            id,
                            port,
                            availability_zone: zone,
                            registered_at: now,
                            draining_since: None,
                        });
                    }
                }
            }
            changes
                .push(Change::Elb { region: caller.region.clone(), change: ElbChange::TargetGroup(Arc::new(record)) });
            Ok(Empty {})
        })
        .await
    }

    pub async fn deregister_targets(&self, caller: &Caller, req: TargetsRequest) -> Result<Empty, ElbError> {
        let arn = required(&req.target_group_arn, "TargetGroupArn")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            let tg = state
                .region(&caller.region)
                .elb
                .target_groups
                .get(&arn)
                .ok_or_else(ElbError::target_group_not_found)?;
            let targets = resolve(tg, &req.targets)?;
            let mut record = tg.as_ref().clone();
            let now = berth_model::time::now();
            for (id, port, _) in targets {
                let Some(t) = record.targets.iter_mut().find(|t| t.id == id && t.port == port) else {
                    return Err(ElbError::invalid_target(format!(
                        "The following targets are not registered in target group '{arn}': '{id}:{port}'"
                    )));
                };
                t.draining_since.get_or_insert(now);
            }
            changes
                .push(Change::Elb { region: caller.region.clone(), change: ElbChange::TargetGroup(Arc::new(record)) });
            Ok(Empty {})
        })
        .await
    }

    pub fn describe_target_health(&self, caller: &Caller, req: TargetsRequest) -> Result<TargetHealthResult, ElbError> {
        let arn = required(&req.target_group_arn, "TargetGroupArn")?;
        self.read(|state| {
            let region = state.region(&caller.region);
            let tg = region.elb.target_groups.get(arn).ok_or_else(ElbError::target_group_not_found)?;
            let describe = |t: &RegisteredTarget| TargetHealthDescription {
                target: TargetDescription {
                    id: Some(t.id.clone()),
                    port: Some(t.port as i64),
                    availability_zone: t.availability_zone.clone(),
                },
                health_check_port: Some(match tg.target_group.health_check_port.as_deref() {
                    None | Some("traffic-port") => t.port.to_string(),
                    Some(p) => p.to_string(),
                }),
                target_health: health_of(state, region, tg, t),
            };
            let target_health_descriptions = if req.targets.is_empty() {
                tg.targets.iter().map(describe).collect()
            } else {
                let mut out = Vec::new();
                for (id, port, zone) in resolve(tg, &req.targets)? {
                    match tg.targets.iter().find(|t| t.id == id && t.port == port) {
                        Some(t) => out.push(describe(t)),
                        None => out.push(TargetHealthDescription {
                            target: TargetDescription {
                                id: Some(id),
                                port: Some(port as i64),
                                availability_zone: zone,
                            },
                            health_check_port: Some(port.to_string()),
                            target_health: TargetHealth::new(
                                TargetHealthState::Unused,
                                Some(TargetHealthReason::NotRegistered),
                                "Target is not registered to the target group",
                            ),
                        }),
                    }
                }
                out
            };
            Ok(TargetHealthResult { target_health_descriptions })
        })
    }
}
