//! SubmitTaskStateChange and SubmitContainerStateChange: what agents observe. Callable
//! with the agent's token (only for its own tasks) or with SigV4 credentials.

use berth_control::{AgentIdentity, Caller, Control};
use berth_model::task::{ContainerStateChange, NetworkBinding, TaskStateChange};
use serde::Deserialize;

use super::decode;
use crate::error::ApiError;

fn acknowledged() -> Vec<u8> {
    br#"{"acknowledgment":"ACK"}"#.to_vec()
}

pub async fn task(
    control: &Control,
    caller: &Caller,
    agent: Option<&AgentIdentity>,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let change: TaskStateChange = decode(body)?;
    control.submit_task_state_change(caller.region.clone(), agent.map(|a| a.instance_arn.clone()), change).await?;
    Ok(acknowledged())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerRequest {
    cluster: Option<String>,
    task: Option<String>,
    container_name: Option<String>,
    runtime_id: Option<String>,
    status: Option<String>,
    exit_code: Option<i64>,
    reason: Option<String>,
    #[serde(default)]
    network_bindings: Vec<NetworkBinding>,
}

pub async fn container(
    control: &Control,
    caller: &Caller,
    agent: Option<&AgentIdentity>,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let r: ContainerRequest = decode(body)?;
    let change = TaskStateChange {
        cluster: r.cluster,
        task: r.task,
        containers: vec![ContainerStateChange {
            container_name: r.container_name,
            runtime_id: r.runtime_id,
            exit_code: r.exit_code,
            network_bindings: r.network_bindings,
            reason: r.reason,
            status: r.status,
            ..Default::default()
        }],
        ..Default::default()
    };
    control.submit_task_state_change(caller.region.clone(), agent.map(|a| a.instance_arn.clone()), change).await?;
    Ok(acknowledged())
}
