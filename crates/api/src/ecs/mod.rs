//! The ECS API (`AmazonEC2ContainerServiceV20141113.*`): one module per operation.

mod codec;
mod create_capacity_provider;
mod create_cluster;
mod create_service;
mod delete_account_setting;
mod delete_capacity_provider;
mod delete_cluster;
mod delete_service;
mod delete_task_definitions;
mod deregister_container_instance;
mod deregister_task_definition;
mod describe_capacity_providers;
mod describe_clusters;
mod describe_container_instances;
mod describe_services;
mod describe_task_definition;
mod describe_tasks;
mod discover_poll_endpoint;
mod get_task_protection;
mod list_account_settings;
mod list_attributes;
mod list_clusters;
mod list_container_instances;
mod list_services;
mod list_services_by_namespace;
mod list_tags_for_resource;
mod list_task_definition_families;
mod list_task_definitions;
mod list_tasks;
mod put_account_setting;
mod put_attributes;
mod put_cluster_capacity_providers;
pub mod register_container_instance;
mod register_task_definition;
mod run_task;
mod stop_task;
mod submit_state_change;
mod tag_resource;
mod untag_resource;
mod update_capacity_provider;
mod update_cluster;
mod update_container_agent;
mod update_container_instances_state;
mod update_service;
mod update_task_protection;

use berth_control::{AgentIdentity, Caller, Control};

pub use codec::Reply;

use crate::error::ApiError;

/// Every operation berth answers, by its ECS name.
pub use berth_model::ecs::OPERATIONS;

/// Operations an agent may call with its token instead of SigV4 credentials.
pub const AGENT_OPERATIONS: &[&str] = &["SubmitTaskStateChange", "SubmitContainerStateChange"];

/// Runs one ECS operation. `agent` is set when the caller authenticated with an agent token.
pub async fn dispatch(
    control: &Control,
    caller: &Caller,
    agent: Option<&AgentIdentity>,
    operation: &str,
    body: &[u8],
) -> Result<Reply, ApiError> {
    if operation == "RegisterContainerInstance" {
        return register_container_instance::handle(control, caller, body).await;
    }
    let body = match operation {
        "CreateCluster" => create_cluster::handle(control, caller, body).await,
        "DescribeClusters" => describe_clusters::handle(control, caller, body),
        "ListClusters" => list_clusters::handle(control, caller, body),
        "UpdateCluster" => update_cluster::handle(control, caller, body, false).await,
        "UpdateClusterSettings" => update_cluster::handle(control, caller, body, true).await,
        "DeleteCluster" => delete_cluster::handle(control, caller, body).await,
        "RegisterTaskDefinition" => register_task_definition::handle(control, caller, body).await,
        "DescribeTaskDefinition" => describe_task_definition::handle(control, caller, body),
        "ListTaskDefinitions" => list_task_definitions::handle(control, caller, body),
        "ListTaskDefinitionFamilies" => list_task_definition_families::handle(control, caller, body),
        "DeregisterTaskDefinition" => deregister_task_definition::handle(control, caller, body).await,
        "DeleteTaskDefinitions" => delete_task_definitions::handle(control, caller, body).await,
        "TagResource" => tag_resource::handle(control, caller, body).await,
        "UntagResource" => untag_resource::handle(control, caller, body).await,
        "ListTagsForResource" => list_tags_for_resource::handle(control, caller, body),
        "PutAccountSetting" => put_account_setting::handle(control, caller, body, false).await,
        "PutAccountSettingDefault" => put_account_setting::handle(control, caller, body, true).await,
        "ListAccountSettings" => list_account_settings::handle(control, caller, body),
        "DeleteAccountSetting" => delete_account_setting::handle(control, caller, body).await,
        "DeregisterContainerInstance" => deregister_container_instance::handle(control, caller, body).await,
        "DescribeContainerInstances" => describe_container_instances::handle(control, caller, body),
        "ListContainerInstances" => list_container_instances::handle(control, caller, body),
        "UpdateContainerInstancesState" => update_container_instances_state::handle(control, caller, body).await,
        "PutAttributes" => put_attributes::handle(control, caller, body, true).await,
        "DeleteAttributes" => put_attributes::handle(control, caller, body, false).await,
        "ListAttributes" => list_attributes::handle(control, caller, body),
        "RunTask" => run_task::handle(control, caller, body, false).await,
        "StartTask" => run_task::handle(control, caller, body, true).await,
        "StopTask" => stop_task::handle(control, caller, body).await,
        "DescribeTasks" => describe_tasks::handle(control, caller, body),
        "ListTasks" => list_tasks::handle(control, caller, body),
        "CreateService" => create_service::handle(control, caller, body).await,
        "UpdateService" => update_service::handle(control, caller, body).await,
        "DeleteService" => delete_service::handle(control, caller, body).await,
        "DescribeServices" => describe_services::handle(control, caller, body),
        "ListServices" => list_services::handle(control, caller, body),
        "ListServicesByNamespace" => list_services_by_namespace::handle(control, caller, body),
        "UpdateTaskProtection" => update_task_protection::handle(control, caller, body).await,
        "GetTaskProtection" => get_task_protection::handle(control, caller, body),
        "DiscoverPollEndpoint" => discover_poll_endpoint::handle(control, caller, body),
        "UpdateContainerAgent" => update_container_agent::handle(control, caller, body),
        "CreateCapacityProvider" => create_capacity_provider::handle(control, caller, body).await,
        "UpdateCapacityProvider" => update_capacity_provider::handle(control, caller, body).await,
        "DeleteCapacityProvider" => delete_capacity_provider::handle(control, caller, body).await,
        "DescribeCapacityProviders" => describe_capacity_providers::handle(control, caller, body),
        "PutClusterCapacityProviders" => put_cluster_capacity_providers::handle(control, caller, body).await,
        "SubmitTaskStateChange" => submit_state_change::task(control, caller, agent, body).await,
        "SubmitContainerStateChange" => submit_state_change::container(control, caller, agent, body).await,
        other => Err(ApiError::UnknownOperation(other.to_string())),
    }?;
    Ok(Reply::from(body))
}
