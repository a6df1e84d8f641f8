//! RegisterContainerInstance. The per-instance token the agent authenticates with from
//! then on comes back in the `x-berth-agent-token` response header (SDKs ignore it).

use berth_control::{Caller, Control};
use berth_model::ecs::{ContainerInstanceResponse, RegisterContainerInstanceRequest};

use super::codec::{decode, reply, Reply};
use crate::error::ApiError;

/// The response header carrying the agent token.
pub use berth_model::agent::TOKEN_HEADER as AGENT_TOKEN_HEADER;

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Reply, ApiError> {
    let request: RegisterContainerInstanceRequest = decode(body)?;
    let registered = control.register_container_instance(caller, request).await?;
    let mut out = Reply::from(reply(&ContainerInstanceResponse { container_instance: registered.instance })?);
    out.headers.push((AGENT_TOKEN_HEADER, registered.token));
    Ok(out)
}
