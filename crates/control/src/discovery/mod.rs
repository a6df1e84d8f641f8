//! AWS Cloud Map over the cluster state: namespaces, services, instances and operations
//! are stored like every other resource. Each DNS namespace becomes a zone of the DNS
//! [`plan`], which berth's DNS server answers from; ECS services with
//! `serviceRegistries` register their tasks here ([`ecs`]).

mod common;
pub mod ecs;
mod instances;
mod namespaces;
mod operations;
pub mod plan;
mod services;
mod state;

pub(crate) use instances::{deregister, register, set_health};
pub use state::{DiscoveryChange, DiscoveryState, InstanceRecord, ServiceRecord};
