//! RegisterTargets, DeregisterTargets and DescribeTargetHealth; what a target's health
//! reads as, from its registration and the data plane's observations.

use berth_model::elb::{
    error::required,
    plane::TargetKey,
    requests::{Empty, TargetHealthResult, TargetsRequest},
    ElbError, TargetDescription, TargetHealth, TargetHealthDescription, TargetHealthReason, TargetHealthState,
    TargetType,
};

use super::{
    ecs::TargetGroupEdits,
    state::{RegisteredTarget, TargetGroupRecord},
};
use crate::{Caller, Control, RegionState, State};

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
/// `in_use`: whether a load balancer sends the target group traffic.
pub fn health_of(state: &State, in_use: bool, tg: &TargetGroupRecord, t: &RegisteredTarget) -> TargetHealth {
    let arn = &tg.target_group.target_group_arn;
    if t.draining_since.is_some() {
        return TargetHealth::new(
            TargetHealthState::Draining,
            Some(TargetHealthReason::DeregistrationInProgress),
            "Target deregistration is in progress",
        );
    }
    if !in_use {
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
            let now = berth_model::time::now();
            let mut edits = TargetGroupEdits::default();
            for (id, port, zone) in resolve(tg, &req.targets)? {
                check_target(region, tg.target_group.target_type, &id)?;
                // Registering a draining target again takes it back into service.
                edits.register(state, region, &TargetKey { target_group_arn: arn.clone(), id, port }, zone, now);
            }
            edits.touch(region, &arn);
            edits.flush(&caller.region, changes);
            Ok(Empty {})
        })
        .await
    }

    pub async fn deregister_targets(&self, caller: &Caller, req: TargetsRequest) -> Result<Empty, ElbError> {
        let arn = required(&req.target_group_arn, "TargetGroupArn")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            let region = state.region(&caller.region);
            let tg = region.elb.target_groups.get(&arn).ok_or_else(ElbError::target_group_not_found)?;
            let now = berth_model::time::now();
            let mut edits = TargetGroupEdits::default();
            for (id, port, _) in resolve(tg, &req.targets)? {
                let key = TargetKey { target_group_arn: arn.clone(), id, port };
                if edits.target(region, &key).is_none() {
                    return Err(ElbError::invalid_target(format!(
                        "The following targets are not registered in target group '{arn}': '{}:{port}'",
                        key.id
                    )));
                }
                edits.deregister(region, &key, now);
            }
            edits.touch(region, &arn);
            edits.flush(&caller.region, changes);
            Ok(Empty {})
        })
        .await
    }

    pub fn describe_target_health(&self, caller: &Caller, req: TargetsRequest) -> Result<TargetHealthResult, ElbError> {
        let arn = required(&req.target_group_arn, "TargetGroupArn")?;
        self.read(|state| {
            let region = state.region(&caller.region);
            let tg = region.elb.target_groups.get(arn).ok_or_else(ElbError::target_group_not_found)?;
            let in_use = !region.elb.load_balancers_using(arn).is_empty();
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
                target_health: health_of(state, in_use, tg, t),
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
