//! The Elastic Load Balancing v2 API over the cluster state: load balancers, target
//! groups, listeners, rules, targets and tags are stored like every other resource; the
//! data plane (the `berth-lb` crate) is handed the [`plan`] derived from them and reports
//! what it sees back into the [`HealthBook`]. [`drain`] finishes deregistrations.

pub(crate) mod common;
pub mod drain;
pub mod ecs;
mod listeners;
mod load_balancers;
pub mod plan;
mod rules;
mod state;
mod tags;
mod target_groups;
pub mod targets;

use std::sync::Arc;

pub use state::{ElbChange, ElbState, HealthBook, LoadBalancerRecord, RegisteredTarget, RuleRecord, TargetGroupRecord};

/// Tests whether the host can listen on a port (the data plane binds and releases it).
pub type PortCheck = Arc<dyn Fn(u16) -> Result<(), String> + Send + Sync>;

/// How the server runs its load balancers.
#[derive(Clone, Default)]
pub struct ElbSettings {
    /// The DNS name every load balancer reports; `None` gives each one a name under
    /// `.elb.localhost`.
    pub dns_suffix: Option<String>,
    pub port_check: Option<PortCheck>,
}
