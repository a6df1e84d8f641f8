//! CreateTargetGroup, DescribeTargetGroups, ModifyTargetGroup, DeleteTargetGroup and the
//! target group attributes.

use std::{collections::BTreeMap, sync::Arc};

use berth_model::elb::{
    error::required,
    requests::{
        AttributesResult, CreateTargetGroupRequest, DescribeTargetGroupsRequest, Empty, HealthCheckSettings,
        ModifyAttributesRequest, ModifyTargetGroupRequest, TargetGroupArnRequest, TargetGroupsResult,
    },
    validate, ElbError, HealthCheckDefaults, Matcher, Protocol, TargetGroup, TargetType,
};

use super::{
    common::{self, page, random_hex},
    state::{ElbChange, ElbState, TargetGroupRecord, TARGET_GROUP},
    tags,
};
use crate::{state::Change, Caller, Control};

fn default_attributes(protocol: Option<Protocol>) -> BTreeMap<String, String> {
    let network = matches!(protocol, Some(Protocol::Tcp | Protocol::Tls | Protocol::Udp | Protocol::TcpUdp));
    let mut a: Vec<(&str, &str)> = vec![
        ("deregistration_delay.timeout_seconds", "300"),
        ("stickiness.enabled", "false"),
        ("stickiness.type", if network { "source_ip" } else { "lb_cookie" }),
    ];
    if !network {
        a.extend([
            ("slow_start.duration_seconds", "0"),
            ("stickiness.lb_cookie.duration_seconds", "86400"),
            ("load_balancing.algorithm.type", "round_robin"),
        ]);
    }
    a.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Applies `h` to a target group's health check, filling ELB's defaults for what a new
/// one leaves out, and checks the result.
fn apply_health_check(tg: &mut TargetGroup, h: &HealthCheckSettings, fresh: bool) -> Result<(), ElbError> {
    validate::health_check(h)?;
    if let Some(p) = &h.health_check_protocol {
        tg.health_check_protocol = Some(validate::protocol(p)?);
    }
    let check = tg.health_check_protocol.unwrap_or(Protocol::Tcp);
    if fresh {
        let d = HealthCheckDefaults::for_protocol(tg.protocol, check);
        tg.health_check_interval_seconds = d.interval;
        tg.health_check_timeout_seconds = d.timeout;
        tg.healthy_threshold_count = d.healthy;
        tg.unhealthy_threshold_count = d.unhealthy;
        tg.health_check_enabled = true;
        tg.health_check_port = Some("traffic-port".into());
    }
    tg.health_check_enabled = h.health_check_enabled.unwrap_or(tg.health_check_enabled);
    tg.health_check_interval_seconds = h.health_check_interval_seconds.unwrap_or(tg.health_check_interval_seconds);
    tg.health_check_timeout_seconds = h.health_check_timeout_seconds.unwrap_or(tg.health_check_timeout_seconds);
    tg.healthy_threshold_count = h.healthy_threshold_count.unwrap_or(tg.healthy_threshold_count);
    tg.unhealthy_threshold_count = h.unhealthy_threshold_count.unwrap_or(tg.unhealthy_threshold_count);
    if fresh && h.health_check_timeout_seconds.is_none() {
        // A short interval given alone brings the default timeout under it.
        tg.health_check_timeout_seconds =
            tg.health_check_timeout_seconds.min(tg.health_check_interval_seconds - 1).max(2);
    }
    if let Some(p) = &h.health_check_port {
        tg.health_check_port = Some(p.clone());
    }
    let http = matches!(check, Protocol::Http | Protocol::Https);
    if http {
        if let Some(p) = &h.health_check_path {
            tg.health_check_path = Some(p.clone());
        }
        tg.health_check_path.get_or_insert_with(|| "/".into());
        if let Some(m) = &h.matcher {
            tg.matcher = Some(m.clone());
        }
        tg.matcher.get_or_insert_with(|| Matcher { http_code: Some("200".into()), grpc_code: None });
    } else if h.health_check_path.is_some() || h.matcher.is_some() {
        return Err(ElbError::validation(
            "A health check path and matcher can only be given for HTTP or HTTPS health checks",
        ));
    } else {
        tg.health_check_path = None;
        tg.matcher = None;
    }
    if tg.health_check_timeout_seconds >= tg.health_check_interval_seconds {
        return Err(ElbError::validation(format!(
            "Health check timeout '{}' must be smaller than the interval '{}'",
            tg.health_check_timeout_seconds, tg.health_check_interval_seconds
        )));
    }
    Ok(())
}

fn new_target_group(caller: &Caller, req: &CreateTargetGroupRequest, name: &str) -> Result<TargetGroup, ElbError> {
    let target_type = match req.target_type.as_deref() {
        None => TargetType::Instance,
        Some(t) => TargetType::parse(t).ok_or_else(|| {
            ElbError::validation(format!("Target type '{t}' must be one of instance, ip, lambda, alb"))
        })?,
    };
    if matches!(target_type, TargetType::Lambda | TargetType::Alb) {
        return Err(ElbError::validation(format!("Target type '{target_type}' is not supported by berth")));
    }
    let protocol = validate::protocol(required(&req.protocol, "Protocol")?)?;
    if !matches!(protocol, Protocol::Http | Protocol::Tcp) {
        return Err(ElbError::unsupported_protocol(format!(
            "Protocol '{protocol}' is not supported by berth's load balancer; use HTTP or TCP"
        )));
    }
    let port = validate::port(*required(&req.port, "Port")?)?;
    let id = random_hex(16);
    let mut tg = TargetGroup {
        target_group_arn: berth_model::elb::arn(&caller.region, &caller.account, &format!("targetgroup/{name}/{id}")),
        target_group_name: name.to_string(),
        protocol: Some(protocol),
        port: Some(port as i64),
        vpc_id: req.vpc_id.clone(),
        health_check_protocol: Some(if protocol == Protocol::Http { Protocol::Http } else { Protocol::Tcp }),
        target_type,
        protocol_version: (protocol == Protocol::Http)
            .then(|| req.protocol_version.clone().unwrap_or_else(|| "HTTP1".into())),
        ip_address_type: req.ip_address_type.clone().unwrap_or_else(|| "ipv4".into()),
        ..Default::default()
    };
    apply_health_check(&mut tg, &req.health_check, true)?;
    Ok(tg)
}

/// A target group as described: with the load balancers that use it.
fn described(elb: &ElbState, r: &TargetGroupRecord) -> TargetGroup {
    let mut tg = r.target_group.clone();
    tg.load_balancer_arns = elb.load_balancers_using(&tg.target_group_arn);
    tg
}

impl Control {
    pub async fn create_target_group(
        &self,
        caller: &Caller,
        req: CreateTargetGroupRequest,
    ) -> Result<TargetGroupsResult, ElbError> {
        let name = required(&req.name, "Name")?.clone();
        validate::name("Target group", &name)?;
        let tg = new_target_group(caller, &req, &name)?;
        let tags = tags::checked(&req.tags)?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            let elb = &state.region(&caller.region).elb;
            if let Some(existing) = elb.target_group_named(&name) {
                let same = TargetGroup {
                    target_group_arn: String::new(),
                    load_balancer_arns: Vec::new(),
                    ..existing.target_group.clone()
                } == TargetGroup { target_group_arn: String::new(), ..tg.clone() };
                if same {
                    return Ok(TargetGroupsResult { target_groups: vec![described(elb, existing)], next_marker: None });
                }
                return Err(ElbError::duplicate_target_group_name());
            }
            let arn = tg.target_group_arn.clone();
            let record = TargetGroupRecord {
                attributes: default_attributes(tg.protocol),
                target_group: tg.clone(),
                targets: Vec::new(),
            };
            changes
                .push(Change::Elb { region: caller.region.clone(), change: ElbChange::TargetGroup(Arc::new(record)) });
            tags::put(changes, &caller.region, &arn, tags);
            Ok(TargetGroupsResult { target_groups: vec![tg], next_marker: None })
        })
        .await
    }

    pub fn describe_target_groups(
        &self,
        caller: &Caller,
        req: DescribeTargetGroupsRequest,
    ) -> Result<TargetGroupsResult, ElbError> {
        let given = [req.load_balancer_arn.is_some(), !req.target_group_arns.is_empty(), !req.names.is_empty()];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(ElbError::validation(
                "Only one of load balancer ARN, target group ARNs or target group names can be specified",
            ));
        }
        self.read(|state| {
            let elb = &state.region(&caller.region).elb;
            let found: Vec<TargetGroup> = if let Some(lb) = &req.load_balancer_arn {
                if !elb.load_balancers.contains_key(lb) {
                    return Err(ElbError::load_balancer_not_found());
                }
                elb.target_groups
                    .values()
                    .map(|r| described(elb, r))
                    .filter(|tg| tg.load_balancer_arns.contains(lb))
                    .collect()
            } else if !req.target_group_arns.is_empty() {
                req.target_group_arns
                    .iter()
                    .map(|a| {
                        elb.target_groups.get(a).map(|r| described(elb, r)).ok_or_else(ElbError::target_group_not_found)
                    })
                    .collect::<Result<_, _>>()?
            } else if !req.names.is_empty() {
                req.names
                    .iter()
                    .map(|n| {
                        elb.target_group_named(n)
                            .map(|r| described(elb, r))
                            .ok_or_else(ElbError::target_group_not_found)
                    })
                    .collect::<Result<_, _>>()?
            } else {
                elb.target_groups.values().map(|r| described(elb, r)).collect()
            };
            let (target_groups, next_marker) = page(found, req.marker.as_deref(), req.page_size)?;
            Ok(TargetGroupsResult { target_groups, next_marker })
        })
    }

    pub async fn modify_target_group(
        &self,
        caller: &Caller,
        req: ModifyTargetGroupRequest,
    ) -> Result<TargetGroupsResult, ElbError> {
        let arn = required(&req.target_group_arn, "TargetGroupArn")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            let elb = &state.region(&caller.region).elb;
            let r = elb.target_groups.get(&arn).ok_or_else(ElbError::target_group_not_found)?;
            let mut record = r.as_ref().clone();
            apply_health_check(&mut record.target_group, &req.health_check, false)?;
            let result = described(elb, &record);
            changes
                .push(Change::Elb { region: caller.region.clone(), change: ElbChange::TargetGroup(Arc::new(record)) });
            Ok(TargetGroupsResult { target_groups: vec![result], next_marker: None })
        })
        .await
    }

    pub async fn delete_target_group(&self, caller: &Caller, req: TargetGroupArnRequest) -> Result<Empty, ElbError> {
        let arn = required(&req.target_group_arn, "TargetGroupArn")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            let elb = &state.region(&caller.region).elb;
            if !elb.target_groups.contains_key(&arn) {
                return Ok(Empty {});
            }
            if !elb.load_balancers_using(&arn).is_empty() {
                return Err(ElbError::resource_in_use(format!(
                    "Target group '{arn}' is currently in use by a listener or a rule"
                )));
            }
            changes.push(common::delete(&caller.region, TARGET_GROUP, &arn));
            tags::put(changes, &caller.region, &arn, Vec::new());
            Ok(Empty {})
        })
        .await
    }

    pub fn describe_target_group_attributes(
        &self,
        caller: &Caller,
        req: TargetGroupArnRequest,
    ) -> Result<AttributesResult, ElbError> {
        let arn = required(&req.target_group_arn, "TargetGroupArn")?;
        self.read(|state| {
            let r =
                state.region(&caller.region).elb.target_groups.get(arn).ok_or_else(ElbError::target_group_not_found)?;
            Ok(AttributesResult { attributes: common::attribute_list(&r.attributes) })
        })
    }

    pub async fn modify_target_group_attributes(
        &self,
        caller: &Caller,
        req: ModifyAttributesRequest,
    ) -> Result<AttributesResult, ElbError> {
        let arn = required(&req.target_group_arn, "TargetGroupArn")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            let r = state
                .region(&caller.region)
                .elb
                .target_groups
                .get(&arn)
                .ok_or_else(ElbError::target_group_not_found)?;
            let mut record = r.as_ref().clone();
            record.attributes = common::modified_attributes(&r.attributes, &req.attributes, target_group_attribute)?;
            let result = AttributesResult { attributes: common::attribute_list(&record.attributes) };
            changes
                .push(Change::Elb { region: caller.region.clone(), change: ElbChange::TargetGroup(Arc::new(record)) });
            Ok(result)
        })
        .await
    }
}

fn target_group_attribute(key: &str, value: &str) -> Result<(), ElbError> {
    match key {
        "deregistration_delay.timeout_seconds" => common::int_attribute(key, value, 0, 3600),
        "slow_start.duration_seconds" if value == "0" => Ok(()),
        "slow_start.duration_seconds" => common::int_attribute(key, value, 30, 900),
        "stickiness.lb_cookie.duration_seconds" => common::int_attribute(key, value, 1, 604800),
        "stickiness.enabled" | "deregistration_delay.connection_termination.enabled" | "preserve_client_ip.enabled" => {
            common::bool_attribute(key, value)
        }
        "stickiness.type" if matches!(value, "lb_cookie" | "source_ip") => Ok(()),
        "load_balancing.algorithm.type" if matches!(value, "round_robin" | "least_outstanding_requests") => Ok(()),
        "stickiness.type" | "load_balancing.algorithm.type" => {
            Err(ElbError::validation(format!("'{value}' is not a valid value for {key}")))
        }
        _ => Err(ElbError::validation(format!("Target group attribute key '{key}' is not recognized"))),
    }
}
