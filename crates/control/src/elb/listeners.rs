//! CreateListener, DescribeListeners, ModifyListener and DeleteListener.

use std::sync::Arc;

use berth_model::elb::{
    error::required,
    requests::{
        CreateListenerRequest, DescribeListenersRequest, Empty, ListenerArnRequest, ListenersResult,
        ModifyListenerRequest,
    },
    validate, Action, ElbError, Listener, LoadBalancerType, Protocol,
};

use super::{
    common::{self, page, random_hex},
    state::{ElbChange, ElbState, LISTENER, RULE},
    tags,
};
use crate::{state::Change, Caller, Control};

/// The protocols a load balancer type's listeners take.
fn check_protocol(kind: LoadBalancerType, protocol: Protocol) -> Result<(), ElbError> {
    let fits = match kind {
        LoadBalancerType::Application => matches!(protocol, Protocol::Http | Protocol::Https),
        _ => matches!(protocol, Protocol::Tcp | Protocol::Tls | Protocol::Udp | Protocol::TcpUdp),
    };
    if !fits {
        return Err(ElbError::incompatible_protocols(format!(
            "Listener protocol '{protocol}' is not supported by a load balancer of type '{kind}'"
        )));
    }
    if !matches!(protocol, Protocol::Http | Protocol::Tcp) {
        return Err(ElbError::unsupported_protocol(format!(
            "Listener protocol '{protocol}' is not supported by berth's load balancer; use HTTP or TCP"
        )));
    }
    Ok(())
}

/// Checks actions, and that every target group they forward to exists and speaks the
/// listener's protocol.
pub fn check_actions(elb: &ElbState, protocol: Protocol, actions: &[Action]) -> Result<(), ElbError> {
    validate::actions(actions)?;
    for a in actions {
        for tg_arn in a.target_group_arns() {
            let tg = elb.target_groups.get(tg_arn).ok_or_else(ElbError::target_group_not_found)?;
            if tg.target_group.protocol != Some(protocol) {
                return Err(ElbError::incompatible_protocols(format!(
                    "Listener protocol '{protocol}' is not compatible with target group protocol '{}' of '{tg_arn}'",
                    tg.target_group.protocol.map(|p| p.as_str()).unwrap_or("none")
                )));
            }
        }
        if protocol == Protocol::Tcp && a.kind != Some(berth_model::elb::ActionType::Forward) {
            return Err(ElbError::invalid_configuration("A TCP listener's action must be a forward action"));
        }
    }
    Ok(())
}

/// Refuses a port another listener already serves (berth serves every load balancer on
/// one address, so ports are unique across load balancers).
fn check_port(elb_all: &[&ElbState], lb_arn: &str, port: i64, except: Option<&str>) -> Result<(), ElbError> {
    let taken = elb_all
        .iter()
        .flat_map(|elb| elb.listeners.values())
        .find(|l| l.port == port && Some(l.listener_arn.as_str()) != except);
    match taken {
        Some(l) if l.load_balancer_arn == lb_arn => Err(ElbError::duplicate_listener()),
        Some(l) => Err(ElbError::invalid_configuration(format!(
            "Port {port} is already served by listener '{}'; berth serves every load balancer on one address, so each port serves one listener",
            l.listener_arn
        ))),
        None => Ok(()),
    }
}

impl Control {
    pub async fn create_listener(
        &self,
        caller: &Caller,
        req: CreateListenerRequest,
    ) -> Result<ListenersResult, ElbError> {
        let lb_arn = required(&req.load_balancer_arn, "LoadBalancerArn")?.clone();
        let port = validate::port(*required(&req.port, "Port")?)? as i64;
        let protocol = validate::protocol(required(&req.protocol, "Protocol")?)?;
        if req.default_actions.is_empty() {
            return Err(ElbError::missing_parameter("DefaultActions"));
        }
        let tags = tags::checked(&req.tags)?;
        self.check_host_port(port as u16)?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            let elb = &state.region(&caller.region).elb;
            let lb = elb.load_balancers.get(&lb_arn).ok_or_else(ElbError::load_balancer_not_found)?;
            check_protocol(lb.load_balancer.kind, protocol)?;
            check_actions(elb, protocol, &req.default_actions)?;
            if elb.listeners_of(&lb_arn).count() >= 50 {
                return Err(ElbError {
                    code: "TooManyListeners",
                    message: "A load balancer can have at most 50 listeners".into(),
                    status: 400,
                });
            }
            let all: Vec<&ElbState> = state.regions().map(|(_, r)| &r.elb).collect();
            check_port(&all, &lb_arn, port, None)?;
            let lb_path = lb_arn.split_once(":loadbalancer/").map(|(_, p)| p).unwrap_or("");
            let listener = Listener {
                listener_arn: berth_model::elb::arn(
                    &caller.region,
                    &caller.account,
                    &format!("listener/{lb_path}/{}", random_hex(16)),
                ),
                load_balancer_arn: lb_arn,
                port,
                protocol,
                default_actions: normalized(req.default_actions),
            };
            changes.push(Change::Elb {
                region: caller.region.clone(),
                change: ElbChange::Listener(Arc::new(listener.clone())),
            });
            tags::put(changes, &caller.region, &listener.listener_arn, tags);
            Ok(ListenersResult { listeners: vec![listener], next_marker: None })
        })
        .await
    }

    pub fn describe_listeners(
        &self,
        caller: &Caller,
        req: DescribeListenersRequest,
    ) -> Result<ListenersResult, ElbError> {
        if req.load_balancer_arn.is_none() && req.listener_arns.is_empty() {
            return Err(ElbError::validation("A load balancer ARN or listener ARNs must be specified"));
        }
        self.read(|state| {
            let elb = &state.region(&caller.region).elb;
            let found: Vec<Listener> = if let Some(lb) = &req.load_balancer_arn {
                if !elb.load_balancers.contains_key(lb) {
                    return Err(ElbError::load_balancer_not_found());
                }
                elb.listeners_of(lb).map(|l| l.as_ref().clone()).collect()
            } else {
                req.listener_arns
                    .iter()
                    .map(|a| elb.listeners.get(a).map(|l| l.as_ref().clone()).ok_or_else(ElbError::listener_not_found))
                    .collect::<Result<_, _>>()?
            };
            let (listeners, next_marker) = page(found, req.marker.as_deref(), req.page_size)?;
            Ok(ListenersResult { listeners, next_marker })
        })
    }

    pub async fn modify_listener(
        &self,
        caller: &Caller,
        req: ModifyListenerRequest,
    ) -> Result<ListenersResult, ElbError> {
        let arn = required(&req.listener_arn, "ListenerArn")?.clone();
        if let Some(port) = req.port {
            let port = validate::port(port)?;
            let current = self.read(|s| {
                s.region(&caller.region).elb.listeners.get(&arn).map(|l| (l.port, l.load_balancer_arn.clone()))
            });
            if let Some((old, _)) = current {
                if old != port as i64 {
                    self.check_host_port(port)?;
                }
            }
        }
        let caller = caller.clone();
        self.write(move |state, changes| {
            let elb = &state.region(&caller.region).elb;
            let old = elb.listeners.get(&arn).ok_or_else(ElbError::listener_not_found)?;
            let lb = elb.load_balancers.get(&old.load_balancer_arn).ok_or_else(ElbError::load_balancer_not_found)?;
            let mut listener = old.as_ref().clone();
            if let Some(p) = &req.protocol {
                listener.protocol = validate::protocol(p)?;
                check_protocol(lb.load_balancer.kind, listener.protocol)?;
            }
            if let Some(port) = req.port {
                let all: Vec<&ElbState> = state.regions().map(|(_, r)| &r.elb).collect();
                check_port(&all, &listener.load_balancer_arn, port, Some(&arn))?;
                listener.port = port;
            }
            if let Some(actions) = req.default_actions {
                listener.default_actions = normalized(actions);
            }
            check_actions(elb, listener.protocol, &listener.default_actions)?;
            changes.push(Change::Elb {
                region: caller.region.clone(),
                change: ElbChange::Listener(Arc::new(listener.clone())),
            });
            Ok(ListenersResult { listeners: vec![listener], next_marker: None })
        })
        .await
    }

    pub async fn delete_listener(&self, caller: &Caller, req: ListenerArnRequest) -> Result<Empty, ElbError> {
        let arn = required(&req.listener_arn, "ListenerArn")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            let elb = &state.region(&caller.region).elb;
            if !elb.listeners.contains_key(&arn) {
                return Err(ElbError::listener_not_found());
            }
            for r in elb.rules_of(&arn) {
                changes.push(common::delete(&caller.region, RULE, &r.rule.rule_arn));
                tags::put(changes, &caller.region, &r.rule.rule_arn, Vec::new());
            }
            changes.push(common::delete(&caller.region, LISTENER, &arn));
            tags::put(changes, &caller.region, &arn, Vec::new());
            Ok(Empty {})
        })
        .await
    }

    /// Asks the data plane whether it can bind `port` (the port may be held by another
    /// program on the host); a port berth's own listener holds is judged by `check_port`.
    fn check_host_port(&self, port: u16) -> Result<(), ElbError> {
        let ours = self.read(|s| s.regions().any(|(_, r)| r.elb.listeners.values().any(|l| l.port == port as i64)));
        if ours {
            return Ok(());
        }
        match &self.elb_settings().port_check {
            Some(check) => check(port).map_err(|e| {
                ElbError::invalid_configuration(format!("Port {port} cannot be used for a listener on this host: {e}"))
            }),
            None => Ok(()),
        }
    }
}

/// Actions as ELB describes them: a single target group is also shown as a forward config.
pub fn normalized(actions: Vec<Action>) -> Vec<Action> {
    actions
        .into_iter()
        .enumerate()
        .map(|(i, mut a)| {
            a.order.get_or_insert(i as i64 + 1);
            if let (Some(tg), None) = (&a.target_group_arn, &a.forward_config) {
                a.forward_config = Some(berth_model::elb::ForwardActionConfig {
                    target_groups: vec![berth_model::elb::TargetGroupTuple {
                        target_group_arn: Some(tg.clone()),
                        weight: Some(1),
                    }],
                    target_group_stickiness_config: Some(berth_model::elb::TargetGroupStickinessConfig {
                        enabled: Some(false),
                        duration_seconds: None,
                    }),
                });
            }
            a
        })
        .collect()
}
