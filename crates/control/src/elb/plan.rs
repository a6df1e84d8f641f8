//! The data plane's desired state, derived from the ELB resources: what each listener
//! serves and which targets each target group in use has, where they are reached.

use std::collections::HashMap;

use berth_model::{
    container_instance::HOST_ADDRESS_ATTRIBUTE,
    elb::{
        plane::{
            ActionPlan, Algorithm, ConditionPlan, HealthCheckPlan, LbPlan, ListenerPlan, RulePlan, TargetGroupPlan,
            TargetKey, TargetPlan,
        },
        Action, ActionType, Protocol, TargetType,
    },
};

use super::{rules::ordered_rules, state::TargetGroupRecord};
use crate::{Control, RegionState, State};

fn attribute<T: std::str::FromStr>(map: &std::collections::BTreeMap<String, String>, key: &str, default: T) -> T {
    map.get(key).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn action_plan(a: &Action) -> Option<ActionPlan> {
    Some(match a.kind? {
        ActionType::Forward => {
            let forward = a.forward_config.as_ref();
            let mut groups: Vec<(String, u32)> = forward
                .map(|f| {
                    f.target_groups
                        .iter()
                        .filter_map(|t| Some((t.target_group_arn.clone()?, t.weight.unwrap_or(1) as u32)))
                        .collect()
                })
                .unwrap_or_default();
            if groups.is_empty() {
                groups.push((a.target_group_arn.clone()?, 1));
            }
            let sticky = forward.and_then(|f| f.target_group_stickiness_config.as_ref());
            let stickiness_seconds =
                sticky.filter(|s| s.enabled == Some(true)).map(|s| s.duration_seconds.unwrap_or(3600) as u64);
            ActionPlan::Forward { groups, stickiness_seconds }
        }
        ActionType::FixedResponse => {
            let f = a.fixed_response_config.as_ref()?;
            ActionPlan::FixedResponse {
                status: f.status_code.as_deref()?.parse().ok()?,
                content_type: f.content_type.clone(),
                body: f.message_body.clone().unwrap_or_default(),
            }
        }
        ActionType::Redirect => {
            let r = a.redirect_config.as_ref()?;
            ActionPlan::Redirect {
                protocol: r.protocol.clone().unwrap_or_else(|| "#{protocol}".into()),
                host: r.host.clone().unwrap_or_else(|| "#{host}".into()),
                port: r.port.clone().unwrap_or_else(|| "#{port}".into()),
                path: r.path.clone().unwrap_or_else(|| "/#{path}".into()),
                query: r.query.clone().unwrap_or_else(|| "#{query}".into()),
                status: if r.status_code.as_deref() == Some("HTTP_301") { 301 } else { 302 },
            }
        }
        _ => return None,
    })
}

/// Each container instance's host address, by EC2 instance id (what instance targets name).
fn instance_hosts(region: &RegionState) -> HashMap<&str, &str> {
    region
        .instances
        .values()
        .filter_map(|i| {
            let id = i.instance.ec2_instance_id.as_deref()?;
            let host = i.instance.attributes.iter().find(|a| a.name == HOST_ADDRESS_ATTRIBUTE)?.value.as_deref()?;
            Some((id, host))
        })
        .collect()
}

fn target_group_plan(hosts: &HashMap<&str, &str>, r: &TargetGroupRecord) -> TargetGroupPlan {
    let tg = &r.target_group;
    let check_port = match tg.health_check_port.as_deref() {
        None | Some("traffic-port") => None,
        Some(p) => p.parse().ok(),
    };
    let sticky = attribute(&r.attributes, "stickiness.enabled", false)
        && r.attributes.get("stickiness.type").map(String::as_str) == Some("lb_cookie");
    TargetGroupPlan {
        arn: tg.target_group_arn.clone(),
        protocol: tg.protocol.unwrap_or(Protocol::Http),
        health_check: HealthCheckPlan {
            enabled: tg.health_check_enabled,
            protocol: tg.health_check_protocol.unwrap_or(Protocol::Tcp),
            port: check_port,
            path: tg.health_check_path.clone().unwrap_or_else(|| "/".into()),
            matcher: tg.matcher.as_ref().and_then(|m| m.http_code.clone()).unwrap_or_else(|| "200".into()),
            interval_seconds: tg.health_check_interval_seconds.max(1) as u64,
            timeout_seconds: tg.health_check_timeout_seconds.max(1) as u64,
            healthy_threshold: tg.healthy_threshold_count.max(1) as u32,
            unhealthy_threshold: tg.unhealthy_threshold_count.max(1) as u32,
        },
        algorithm: match r.attributes.get("load_balancing.algorithm.type").map(String::as_str) {
            Some("least_outstanding_requests") => Algorithm::LeastOutstandingRequests,
            _ => Algorithm::RoundRobin,
        },
        slow_start_seconds: attribute(&r.attributes, "slow_start.duration_seconds", 0),
        stickiness_seconds: sticky.then(|| attribute(&r.attributes, "stickiness.lb_cookie.duration_seconds", 86400)),
        targets: r
            .targets
            .iter()
            .map(|t| TargetPlan {
                key: TargetKey { target_group_arn: tg.target_group_arn.clone(), id: t.id.clone(), port: t.port },
                // Instance targets are reached at their host's address; ip targets at their id.
                host: match tg.target_type {
                    TargetType::Ip => Some(t.id.clone()),
                    _ => hosts.get(t.id.as_str()).map(|h| h.to_string()),
                },
                draining: t.draining_since.is_some(),
                registered_at_ms: (t.registered_at * 1000.0) as u64,
            })
            .collect(),
    }
}

/// The plan for every region's load balancers.
pub fn build(state: &State) -> LbPlan {
    let mut plan = LbPlan::default();
    for (_, region) in state.regions() {
        let elb = &region.elb;
        if elb.listeners.is_empty() {
            continue;
        }
        let hosts = instance_hosts(region);
        for l in elb.listeners.values() {
            let idle = elb
                .load_balancers
                .get(&l.load_balancer_arn)
                .map(|lb| attribute(&lb.attributes, "idle_timeout.timeout_seconds", 60))
                .unwrap_or(60);
            let rules: Vec<RulePlan> = ordered_rules(elb, l)
                .iter()
                .filter_map(|rule| {
                    let conditions = rule
                        .conditions
                        .iter()
                        .filter_map(|c| match c.field.as_deref() {
                            Some("path-pattern") => Some(ConditionPlan::PathPattern(c.patterns().to_vec())),
                            Some("host-header") => Some(ConditionPlan::HostHeader(c.patterns().to_vec())),
                            _ => None,
                        })
                        .collect();
                    Some(RulePlan { conditions, action: action_plan(rule.actions.first()?)? })
                })
                .collect();
            for rule in &rules {
                if let ActionPlan::Forward { groups, .. } = &rule.action {
                    for (arn, _) in groups {
                        if let Some(r) = elb.target_groups.get(arn) {
                            plan.target_groups.entry(arn.clone()).or_insert_with(|| target_group_plan(&hosts, r));
                        }
                    }
                }
            }
            plan.listeners.push(ListenerPlan {
                arn: l.listener_arn.clone(),
                port: l.port as u16,
                protocol: l.protocol,
                rules,
                idle_timeout_seconds: idle,
            });
        }
    }
    plan
}

impl Control {
    /// What the load balancer data plane should serve now.
    pub fn lb_plan(&self) -> LbPlan {
        self.read(build)
    }
}
