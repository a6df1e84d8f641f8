//! One Rust type per ECS operation's request and response, as the ECS API model names
//! them (`RunTaskRequest`, `RunTaskResponse`, …). The API layer decodes a request into its
//! type, hands it to the control plane, and encodes what comes back; the client sends the
//! same types. Members the model marks required are `Option`s here: the control plane
//! refuses their absence with ECS's message, so every client gets the same error.

/// A List* answer: one page of items under their ECS name, and `nextToken` when more remain.
macro_rules! page_response {
    ($name:ident, $items:ident: $item:ty) => {
        #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub $items: Vec<$item>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub next_token: Option<String>,
        }
    };
}

mod clusters;
mod instances;
mod services;
mod settings;
mod task_definitions;
mod tasks;

pub use clusters::*;
pub use instances::*;
pub use services::*;
pub use settings::*;
pub use task_definitions::*;
pub use tasks::*;

use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// An ECS operation: its name on the wire and the types it takes and answers.
pub trait Operation {
    const NAME: &'static str;
    type Request: Serialize + DeserializeOwned;
    type Response: Serialize + DeserializeOwned;
}

/// Declares a marker type per operation, named as the operation.
macro_rules! operations {
    ($($name:ident: $request:ty => $response:ty;)+) => {
        /// Marker types for [`Operation`], one per ECS operation berth answers.
        pub mod op {
            use super::*;
            $(
                #[derive(Debug, Clone, Copy)]
                pub struct $name;

                impl Operation for $name {
                    const NAME: &'static str = stringify!($name);
                    type Request = $request;
                    type Response = $response;
                }
            )+
        }

        /// Every operation berth answers, by its ECS name.
        pub const OPERATIONS: &[&str] = &[$(stringify!($name)),+];
    };
}

operations! {
    CreateCluster: CreateClusterRequest => ClusterResponse;
    DescribeClusters: DescribeClustersRequest => DescribeClustersResponse;
    ListClusters: ListClustersRequest => ListClustersResponse;
    UpdateCluster: UpdateClusterRequest => ClusterResponse;
    UpdateClusterSettings: UpdateClusterRequest => ClusterResponse;
    DeleteCluster: DeleteClusterRequest => ClusterResponse;
    RegisterTaskDefinition: crate::task_definition::Registration => TaskDefinitionResponse;
    DescribeTaskDefinition: DescribeTaskDefinitionRequest => TaskDefinitionResponse;
    ListTaskDefinitions: ListTaskDefinitionsRequest => ListTaskDefinitionsResponse;
    ListTaskDefinitionFamilies: ListTaskDefinitionFamiliesRequest => ListTaskDefinitionFamiliesResponse;
    DeregisterTaskDefinition: DeregisterTaskDefinitionRequest => TaskDefinitionResponse;
    DeleteTaskDefinitions: DeleteTaskDefinitionsRequest => DeleteTaskDefinitionsResponse;
    TagResource: TagResourceRequest => Empty;
    UntagResource: UntagResourceRequest => Empty;
    ListTagsForResource: ListTagsForResourceRequest => ListTagsForResourceResponse;
    PutAccountSetting: PutAccountSettingRequest => SettingResponse;
    PutAccountSettingDefault: PutAccountSettingRequest => SettingResponse;
    ListAccountSettings: ListAccountSettingsRequest => ListAccountSettingsResponse;
    DeleteAccountSetting: DeleteAccountSettingRequest => SettingResponse;
    RegisterContainerInstance: RegisterContainerInstanceRequest => ContainerInstanceResponse;
    DeregisterContainerInstance: DeregisterContainerInstanceRequest => ContainerInstanceResponse;
    DescribeContainerInstances: DescribeContainerInstancesRequest => ContainerInstancesResponse;
    ListContainerInstances: ListContainerInstancesRequest => ListContainerInstancesResponse;
    UpdateContainerInstancesState: UpdateContainerInstancesStateRequest => ContainerInstancesResponse;
    PutAttributes: AttributesRequest => AttributesResponse;
    DeleteAttributes: AttributesRequest => AttributesResponse;
    ListAttributes: ListAttributesRequest => ListAttributesResponse;
    RunTask: RunTaskRequest => TasksResponse;
    StartTask: RunTaskRequest => TasksResponse;
    StopTask: StopTaskRequest => TaskResponse;
    DescribeTasks: DescribeTasksRequest => TasksResponse;
    ListTasks: ListTasksRequest => ListTasksResponse;
    SubmitTaskStateChange: crate::task::TaskStateChange => Acknowledgment;
    SubmitContainerStateChange: SubmitContainerStateChangeRequest => Acknowledgment;
    CreateService: CreateServiceRequest => ServiceResponse;
    UpdateService: UpdateServiceRequest => ServiceResponse;
    DeleteService: DeleteServiceRequest => ServiceResponse;
    DescribeServices: DescribeServicesRequest => DescribeServicesResponse;
    ListServices: ListServicesRequest => ListServicesResponse;
    ListServicesByNamespace: ListServicesByNamespaceRequest => ListServicesResponse;
    UpdateTaskProtection: UpdateTaskProtectionRequest => TaskProtectionResponse;
    DiscoverPollEndpoint: DiscoverPollEndpointRequest => DiscoverPollEndpointResponse;
    UpdateContainerAgent: UpdateContainerAgentRequest => ContainerInstanceResponse;
    GetTaskProtection: GetTaskProtectionRequest => TaskProtectionResponse;
    CreateCapacityProvider: crate::capacity_provider::CreateCapacityProviderRequest => crate::capacity_provider::CapacityProviderResponse;
    UpdateCapacityProvider: crate::capacity_provider::UpdateCapacityProviderRequest => crate::capacity_provider::CapacityProviderResponse;
    DeleteCapacityProvider: crate::capacity_provider::DeleteCapacityProviderRequest => crate::capacity_provider::CapacityProviderResponse;
    DescribeCapacityProviders: crate::capacity_provider::DescribeCapacityProvidersRequest => crate::capacity_provider::DescribeCapacityProvidersResponse;
    PutClusterCapacityProviders: crate::capacity_provider::PutClusterCapacityProvidersRequest => ClusterResponse;
}

/// The answer of operations that return nothing (`{}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Empty {}

/// SubmitTaskStateChange's and SubmitContainerStateChange's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledgment {
    pub acknowledgment: String,
}

impl Acknowledgment {
    pub fn ack() -> Acknowledgment {
        Acknowledgment { acknowledgment: "ACK".into() }
    }
}

/// `include` of the Describe* calls that only know `TAGS`; an error names the bad value.
pub fn include_tags(include: &[String]) -> Result<bool, crate::EcsError> {
    if let Some(bad) = include.iter().find(|i| *i != "TAGS") {
        return Err(crate::EcsError::invalid(format!("Invalid include value '{bad}': the only value is TAGS.")));
    }
    Ok(!include.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_named_once() {
        let mut names = OPERATIONS.to_vec();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), OPERATIONS.len());
        assert_eq!(<op::RunTask as Operation>::NAME, "RunTask");
    }

    #[test]
    fn a_request_round_trips_and_omits_what_is_unset() {
        let req = RunTaskRequest { task_definition: Some("web:1".into()), count: Some(2), ..Default::default() };
        let json = serde_json::to_value(&req).unwrap();
        assert_eq!(json, serde_json::json!({"taskDefinition": "web:1", "count": 2}));
        assert_eq!(serde_json::from_value::<RunTaskRequest>(json).unwrap(), req);
    }

    #[test]
    fn include_knows_only_tags() {
        assert!(!include_tags(&[]).unwrap());
        assert!(include_tags(&["TAGS".into()]).unwrap());
        assert!(include_tags(&["SETTINGS".into()]).unwrap_err().to_string().contains("'SETTINGS'"));
    }
}
