//! DescribeCapacityProviders.

use berth_control::{Caller, Control};
use berth_model::capacity_provider::DescribeCapacityProvidersRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: DescribeCapacityProvidersRequest = decode(body)?;
    reply(&control.describe_capacity_providers(caller, &request)?)
}
