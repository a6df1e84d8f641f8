//! What the load balancer's data plane is told to run, and what it reports back. Control
//! derives a [`LbPlan`] from the ELB resources and the registered targets (desired state,
//! as agents get theirs); the data plane answers with [`Observation`]s: target health and
//! draining targets whose last request finished.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Protocol, TargetHealth};

/// Everything the data plane serves, across regions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LbPlan {
    pub listeners: Vec<ListenerPlan>,
    /// By target group ARN.
    pub target_groups: BTreeMap<String, TargetGroupPlan>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListenerPlan {
    pub arn: String,
    pub port: u16,
    pub protocol: Protocol,
    /// In evaluation order: by priority, the default rule last.
    pub rules: Vec<RulePlan>,
    /// The load balancer's `idle_timeout.timeout_seconds`: how long a target may take to answer.
    pub idle_timeout_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RulePlan {
    /// All must match; empty for the default rule.
    pub conditions: Vec<ConditionPlan>,
    pub action: ActionPlan,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConditionPlan {
    /// Any of these patterns (`*` and `?` wildcards), matched against the path.
    PathPattern(Vec<String>),
    /// Any of these patterns, matched case-insensitively against the Host header (port removed).
    HostHeader(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ActionPlan {
    /// To one of several target groups, chosen by weight per request (or by the stickiness
    /// cookie for `stickiness_seconds`, when set).
    Forward {
        groups: Vec<(String, u32)>,
        stickiness_seconds: Option<u64>,
    },
    FixedResponse {
        status: u16,
        content_type: Option<String>,
        body: String,
    },
    /// Each part may hold `#{protocol}`, `#{host}`, `#{port}`, `#{path}`, `#{query}`.
    Redirect {
        protocol: String,
        host: String,
        port: String,
        path: String,
        query: String,
        status: u16,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    RoundRobin,
    LeastOutstandingRequests,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetGroupPlan {
    pub arn: String,
    pub protocol: Protocol,
    pub health_check: HealthCheckPlan,
    pub algorithm: Algorithm,
    pub slow_start_seconds: u64,
    /// `stickiness.enabled` with `lb_cookie`: the cookie's lifetime.
    pub stickiness_seconds: Option<u64>,
    pub targets: Vec<TargetPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckPlan {
    pub enabled: bool,
    /// HTTP (a GET of `path`, answered with a code `matcher` accepts) or TCP (a connect).
    pub protocol: Protocol,
    /// `None`: the port traffic goes to.
    pub port: Option<u16>,
    pub path: String,
    /// ELB's matcher syntax: `200`, `200,202`, `200-299`.
    pub matcher: String,
    pub interval_seconds: u64,
    pub timeout_seconds: u64,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
}

/// One registration: a target id and port in one target group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TargetKey {
    pub target_group_arn: String,
    pub id: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetPlan {
    pub key: TargetKey,
    /// Where to connect: the instance's host address or the target's IP; `None` while the
    /// instance's address is unknown (the target is then `unavailable`).
    pub host: Option<String>,
    /// Deregistered: takes no new requests, and is reported idle once its last one ends.
    pub draining: bool,
    /// When this registration was made (milliseconds since the epoch): a target registered
    /// again, even one whose draining the data plane never saw, is checked afresh.
    #[serde(default)]
    pub registered_at_ms: u64,
}

/// What the data plane saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Observation {
    Health {
        key: TargetKey,
        health: TargetHealth,
    },
    /// A draining target has no request or connection in flight any more.
    Idle {
        key: TargetKey,
    },
}

impl HealthCheckPlan {
    /// Whether an HTTP status code satisfies `matcher`.
    pub fn accepts(&self, code: u16) -> bool {
        matcher_accepts(&self.matcher, code)
    }
}

/// ELB's matcher: codes and ranges separated by commas.
pub fn matcher_accepts(matcher: &str, code: u16) -> bool {
    matcher.split(',').map(str::trim).any(|part| match part.split_once('-') {
        Some((lo, hi)) => match (lo.trim().parse::<u16>(), hi.trim().parse::<u16>()) {
            (Ok(lo), Ok(hi)) => (lo..=hi).contains(&code),
            _ => false,
        },
        None => part.parse::<u16>() == Ok(code),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_take_codes_lists_and_ranges() {
        assert!(matcher_accepts("200", 200));
        assert!(!matcher_accepts("200", 204));
        assert!(matcher_accepts("200,204", 204));
        assert!(matcher_accepts("200-299", 250));
        assert!(!matcher_accepts("200-299", 301));
        assert!(!matcher_accepts("x", 200));
    }
}
