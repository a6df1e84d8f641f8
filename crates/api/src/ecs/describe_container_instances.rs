//! DescribeContainerInstances.

use berth_control::{Caller, Control};
use berth_model::ecs::DescribeContainerInstancesRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: DescribeContainerInstancesRequest = decode(body)?;
    reply(&control.describe_container_instances(caller, &request)?)
}
