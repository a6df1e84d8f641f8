//! DiscoverPollEndpoint and UpdateContainerAgent: the ECS operations about agents that a
//! berth server answers for agents it did not ship.
//!
//! - DiscoverPollEndpoint names this server (its API, telemetry and Service Connect
//!   endpoints are all the one listener).
//! - UpdateContainerAgent never updates anything: a berth agent is the version of the
//!   berth it came with (`NoUpdateAvailableException`, as ECS answers an agent that is
//!   already current), and an instance that reported no agent version gets
//!   `MissingVersionException`, as ECS answers one whose version it cannot tell.

use berth_model::{
    ecs::{
        ContainerInstanceResponse, DiscoverPollEndpointRequest, DiscoverPollEndpointResponse,
        UpdateContainerAgentRequest,
    },
    json, EcsError,
};

use crate::{clusters::active_cluster, instances::find_instance, Caller, Control};

impl Control {
    pub fn discover_poll_endpoint(
        &self,
        caller: &Caller,
        req: &DiscoverPollEndpointRequest,
    ) -> Result<DiscoverPollEndpointResponse, EcsError> {
        if req.cluster.is_some() {
            self.read(|state| active_cluster(state, caller, req.cluster.as_deref()).map(|_| ()))?;
        }
        let endpoint = self.endpoint();
        Ok(DiscoverPollEndpointResponse {
            telemetry_endpoint: endpoint.clone(),
            service_connect_endpoint: endpoint.clone(),
            endpoint,
        })
    }

    pub fn update_container_agent(
        &self,
        caller: &Caller,
        req: &UpdateContainerAgentRequest,
    ) -> Result<ContainerInstanceResponse, EcsError> {
        let reference = json::required(&req.container_instance, "containerInstance")?;
        self.read(|state| {
            let cluster = active_cluster(state, caller, req.cluster.as_deref())?.cluster_name.clone();
            let rec = find_instance(state.region(&caller.region), &cluster, reference)
                .ok_or_else(|| EcsError::invalid(format!("Container instance '{reference}' was not found in cluster {cluster}.")))?;
            let version = rec.instance.version_info.as_ref().and_then(|v| v.agent_version.clone());
            match version {
                None => Err(EcsError::MissingVersion(
                    "Agent version information is not available for this container instance: berth cannot update its agent."
                        .into(),
                )),
                Some(v) => Err(EcsError::NoUpdateAvailable(format!(
                    "There is no update available for your container agent ({v}): berth agents are the version of the berth they came with; upgrade berth on the host to update it."
                ))),
            }
        })
    }
}
