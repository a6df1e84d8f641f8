//! RegisterContainerInstance. The per-instance token the agent authenticates with from
//! then on comes back in the `x-berth-agent-token` response header (SDKs ignore it).

use berth_control::{Caller, Control, RegisterInstance};
use berth_model::{
    container_instance::{Attribute, ContainerInstance, Resource, VersionInfo},
    tag::Tag,
};
use serde::{Deserialize, Serialize};

use super::{decode, reply, Reply};
use crate::error::ApiError;

/// The response header carrying the agent token.
pub use berth_model::agent::TOKEN_HEADER as AGENT_TOKEN_HEADER;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    cluster: Option<String>,
    #[serde(default)]
    total_resources: Vec<Resource>,
    version_info: Option<VersionInfo>,
    container_instance_arn: Option<String>,
    #[serde(default)]
    attributes: Vec<Attribute>,
    #[serde(default)]
    tags: Vec<Tag>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    container_instance: ContainerInstance,
}

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Reply, ApiError> {
    let r: Request = decode(body)?;
    let registered = control
        .register_container_instance(
            caller,
            RegisterInstance {
                cluster: r.cluster,
                total_resources: r.total_resources,
                version_info: r.version_info,
                container_instance_arn: r.container_instance_arn,
                attributes: r.attributes,
                tags: r.tags,
            },
        )
        .await?;
    let mut out = Reply::from(reply(&Response { container_instance: registered.instance })?);
    out.headers.push((AGENT_TOKEN_HEADER, registered.token));
    Ok(out)
}
