//! berth-scheduler: task placement as a pure function. A snapshot of instances goes in;
//! for each task, the chosen instance comes out, or for every instance the first filter
//! that ruled it out. No IO, so it is tested exhaustively and benchmarked at 5,000
//! instances.
//!
//! The chain, built in [`place`]:
//! 1. filters in ECS's order: agent connected and instance ACTIVE; CPU, memory, static
//!    host ports; the task definition's required attributes; placement constraints
//!    (`distinctInstance`, `memberOf` with the cluster query language, [`query`]);
//! 2. strategies in order ([`rank`]): `spread` on attributes splits the instances into
//!    buckets visited fewest-tasks-of-the-group first; inside a bucket, instances are kept
//!    in an ordered index by the remaining strategies (`binpack` cpu/memory, `spread`
//!    instanceId/host, `random`), then by position, so each placement is a lookup, not a
//!    scan.

pub mod query;
mod rank;
mod types;

pub use rank::{place, plan, PlanEntry};
pub use types::{
    check, parse_constraint, parse_strategy, BinpackField, Constraint, Demand, Instance, Placement, Rejection, Request,
    SpreadField, Strategy, MAX_CONSTRAINTS, MAX_STRATEGIES,
};
