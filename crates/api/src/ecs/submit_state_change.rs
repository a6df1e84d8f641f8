//! SubmitTaskStateChange and SubmitContainerStateChange: what agents observe. Callable
//! with the agent's token (only for its own tasks) or with SigV4 credentials.

use berth_control::{AgentIdentity, Caller, Control};
use berth_model::{
    ecs::{Acknowledgment, SubmitContainerStateChangeRequest},
    task::TaskStateChange,
};

use super::codec::{decode, reply};
use crate::error::ApiError;

pub async fn task(
    control: &Control,
    caller: &Caller,
    agent: Option<&AgentIdentity>,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let change: TaskStateChange = decode(body)?;
    control.submit_task_state_change(caller.region.clone(), agent.map(|a| a.instance_arn.clone()), change).await?;
    reply(&Acknowledgment::ack())
}

pub async fn container(
    control: &Control,
    caller: &Caller,
    agent: Option<&AgentIdentity>,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let request: SubmitContainerStateChangeRequest = decode(body)?;
    let instance = agent.map(|a| a.instance_arn.clone());
    control.submit_container_state_change(caller.region.clone(), instance, request).await?;
    reply(&Acknowledgment::ack())
}
