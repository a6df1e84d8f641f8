//! ELB's checks on names, ports, health checks, attributes and actions, with its
//! validation messages. Pure: the control plane calls these before it changes anything.

use super::{requests::HealthCheckSettings, Action, ActionType, ElbError, Protocol};

/// Load balancer and target group names: 1–32 letters, digits and hyphens, neither
/// starting nor ending with a hyphen.
pub fn name(kind: &str, name: &str) -> Result<(), ElbError> {
    let ok = (1..=32).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !ok {
        return Err(ElbError::validation(format!(
            "{kind} name '{name}' cannot be longer than '32' characters, must contain only alphanumeric characters or hyphens, and must not begin or end with a hyphen"
        )));
    }
    if kind == "Load balancer" && name.starts_with("internal-") {
        return Err(ElbError::validation(format!("Load balancer name '{name}' cannot begin with 'internal-'")));
    }
    Ok(())
}

pub fn port(port: i64) -> Result<u16, ElbError> {
    u16::try_from(port)
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| ElbError::validation(format!("Port '{port}' must be between 1 and 65535")))
}

pub fn protocol(text: &str) -> Result<Protocol, ElbError> {
    Protocol::parse(text).ok_or_else(|| {
        let all: Vec<&str> = Protocol::ALL.iter().map(|p| p.as_str()).collect();
        ElbError::validation(format!("Protocol '{text}' must be one of {}", all.join(", ")))
    })
}

fn range(member: &str, value: Option<i64>, lo: i64, hi: i64) -> Result<(), ElbError> {
    match value {
        Some(v) if !(lo..=hi).contains(&v) => {
            Err(ElbError::validation(format!("{member} '{v}' must be between {lo} and {hi}")))
        }
        _ => Ok(()),
    }
}

/// The ranges ELB allows for a health check's settings.
pub fn health_check(h: &HealthCheckSettings) -> Result<(), ElbError> {
    range("Health check interval", h.health_check_interval_seconds, 5, 300)?;
    range("Health check timeout", h.health_check_timeout_seconds, 2, 120)?;
    range("Healthy threshold count", h.healthy_threshold_count, 2, 10)?;
    range("Unhealthy threshold count", h.unhealthy_threshold_count, 2, 10)?;
    if let Some(p) = &h.health_check_path {
        if !p.starts_with('/') || p.len() > 1024 {
            return Err(ElbError::validation(format!(
                "Health check path '{p}' must begin with a '/' and be at most 1024 characters"
            )));
        }
    }
    if let Some(p) = &h.health_check_port {
        if p != "traffic-port" {
            let n: i64 = p.parse().map_err(|_| {
                ElbError::validation(format!("Health check port '{p}' must be 'traffic-port' or a port number"))
            })?;
            port(n)?;
        }
    }
    if let Some(p) = &h.health_check_protocol {
        let p = protocol(p)?;
        if !matches!(p, Protocol::Http | Protocol::Https | Protocol::Tcp) {
            return Err(ElbError::validation(format!("Health check protocol '{p}' must be HTTP, HTTPS or TCP")));
        }
    }
    if let Some(code) = h.matcher.as_ref().and_then(|m| m.http_code.as_deref()) {
        let ok = code
            .split(',')
            .all(|part| part.split('-').all(|n| n.trim().parse::<u16>().is_ok_and(|n| (200..=499).contains(&n))));
        if !ok {
            return Err(ElbError::validation(format!(
                "Health check matcher HTTP code '{code}' must be a code, list or range between 200 and 499"
            )));
        }
    }
    Ok(())
}

/// An action list: each action complete for its type, at most one terminal action.
pub fn actions(actions: &[Action]) -> Result<(), ElbError> {
    if actions.is_empty() {
        return Err(ElbError::validation("At least one action must be specified"));
    }
    for a in actions {
        let Some(kind) = a.kind else { return Err(ElbError::missing_parameter("Type")) };
        match kind {
            ActionType::Forward => {
                let groups = a.forward_config.as_ref().map(|f| f.target_groups.len()).unwrap_or(0);
                if a.target_group_arn.is_none() && groups == 0 {
                    return Err(ElbError::validation("A target group ARN must be specified for a forward action"));
                }
                if groups > 5 {
                    return Err(ElbError::validation("A forward action can have at most 5 target groups"));
                }
                for tg in a.forward_config.iter().flat_map(|f| &f.target_groups) {
                    if tg.target_group_arn.is_none() {
                        return Err(ElbError::missing_parameter("TargetGroupArn"));
                    }
                    range("Target group weight", tg.weight, 0, 999)?;
                }
            }
            ActionType::FixedResponse => {
                let code = a.fixed_response_config.as_ref().and_then(|f| f.status_code.as_deref());
                let Some(code) = code else {
                    return Err(ElbError::validation("A fixed-response action must have a status code"));
                };
                if !code.parse::<u16>().is_ok_and(|c| (200..=599).contains(&c)) || !code.starts_with(['2', '4', '5']) {
                    return Err(ElbError::validation(format!("Status code '{code}' must be 2XX, 4XX or 5XX")));
                }
            }
            ActionType::Redirect => {
                let code = a.redirect_config.as_ref().and_then(|r| r.status_code.as_deref());
                if !matches!(code, Some("HTTP_301" | "HTTP_302")) {
                    return Err(ElbError::validation("A redirect action's status code must be HTTP_301 or HTTP_302"));
                }
            }
            other => {
                return Err(ElbError::validation(format!("Action type '{other}' is not supported by berth")));
            }
        }
    }
    // Every type berth serves is terminal, so a list holds one action.
    if actions.len() > 1 {
        return Err(ElbError::validation(
            "Only one terminal action (forward, redirect or fixed-response) may be given",
        ));
    }
    Ok(())
}

/// A rule's priority: 1–50000.
pub fn priority(p: i64) -> Result<(), ElbError> {
    range("Priority", Some(p), 1, 50000)
}
