//! The ECS API (`AmazonEC2ContainerServiceV20141113.*`): one module per operation.

mod create_cluster;
mod delete_account_setting;
mod delete_cluster;
mod delete_task_definitions;
mod deregister_task_definition;
mod describe_clusters;
mod describe_task_definition;
mod list_account_settings;
mod list_clusters;
mod list_tags_for_resource;
mod list_task_definition_families;
mod list_task_definitions;
mod put_account_setting;
mod register_task_definition;
mod tag_resource;
mod untag_resource;
mod update_cluster;

use berth_control::{Caller, Control};
use serde::Serialize;

use crate::error::ApiError;

/// Every operation berth answers, by its ECS name.
pub const OPERATIONS: &[&str] = &[
    "CreateCluster",
    "DescribeClusters",
    "ListClusters",
    "UpdateCluster",
    "UpdateClusterSettings",
    "DeleteCluster",
    "RegisterTaskDefinition",
    "DescribeTaskDefinition",
    "ListTaskDefinitions",
    "ListTaskDefinitionFamilies",
    "DeregisterTaskDefinition",
    "DeleteTaskDefinitions",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
    "PutAccountSetting",
    "PutAccountSettingDefault",
    "ListAccountSettings",
    "DeleteAccountSetting",
];

pub async fn dispatch(
    control: &Control,
    caller: &Caller,
    operation: &str,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    match operation {
        "CreateCluster" => create_cluster::handle(control, caller, body).await,
        "DescribeClusters" => describe_clusters::handle(control, caller, body),
        "ListClusters" => list_clusters::handle(control, caller, body),
        "UpdateCluster" => update_cluster::handle(control, caller, body).await,
        "UpdateClusterSettings" => update_cluster::handle_settings(control, caller, body).await,
        "DeleteCluster" => delete_cluster::handle(control, caller, body).await,
        "RegisterTaskDefinition" => register_task_definition::handle(control, caller, body).await,
        "DescribeTaskDefinition" => describe_task_definition::handle(control, caller, body),
        "ListTaskDefinitions" => list_task_definitions::handle(control, caller, body),
        "ListTaskDefinitionFamilies" => {
            list_task_definition_families::handle(control, caller, body)
        }
        "DeregisterTaskDefinition" => {
            deregister_task_definition::handle(control, caller, body).await
        }
        "DeleteTaskDefinitions" => delete_task_definitions::handle(control, caller, body).await,
        "TagResource" => tag_resource::handle(control, caller, body).await,
        "UntagResource" => untag_resource::handle(control, caller, body).await,
        "ListTagsForResource" => list_tags_for_resource::handle(control, caller, body),
        "PutAccountSetting" => put_account_setting::handle(control, caller, body, false).await,
        "PutAccountSettingDefault" => {
            put_account_setting::handle(control, caller, body, true).await
        }
        "ListAccountSettings" => list_account_settings::handle(control, caller, body),
        "DeleteAccountSetting" => delete_account_setting::handle(control, caller, body).await,
        other => Err(ApiError::UnknownOperation(other.to_string())),
    }
}

/// Encodes a response body.
fn reply<T: Serialize>(value: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value)
        .map_err(|e| ApiError::Ecs(berth_model::EcsError::Server(e.to_string())))
}

/// Decodes a request body (errors name the offending field).
fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    Ok(berth_model::json::decode(body)?)
}

/// A required string member, or the ECS error for its absence.
fn required(value: Option<String>, field: &str) -> Result<String, ApiError> {
    Ok(berth_model::json::required(&value, field)?.clone())
}
