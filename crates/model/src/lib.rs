//! berth-model: the ECS wire types (camelCase JSON, as the ECS API model names them),
//! ARNs, status enums, the ECS error kinds and request validation. Nothing here does IO:
//! every other crate speaks these types.

pub mod agent;
pub mod arn;
pub mod autoscaling;
pub mod berth;
pub mod capacity_provider;
pub mod cloudwatch;
pub mod cluster;
pub mod container_instance;
pub mod discovery;
pub mod ecr;
pub mod ecs;
pub mod elb;
pub mod error;
pub mod json;
pub mod lenient;
pub mod logs;
pub mod network;
pub mod placement;
pub mod service;
pub mod setting;
pub mod status;
pub mod suggest;
pub mod tag;
pub mod task;
pub mod task_definition;
pub mod time;
pub mod wildcard;

pub use arn::Arn;
pub use error::EcsError;

/// A per-item problem in a batch call (`failures` in Describe*, DeleteTaskDefinitions, …).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Failure {
    pub fn new(arn: impl Into<String>, reason: impl Into<String>) -> Self {
        Failure { arn: Some(arn.into()), reason: Some(reason.into()), detail: None }
    }
}

/// A `name`/`value` pair (environment variables, statistics).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyValuePair {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}
