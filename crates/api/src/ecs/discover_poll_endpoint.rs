//! DiscoverPollEndpoint.

use berth_control::{Caller, Control};
use berth_model::ecs::DiscoverPollEndpointRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: DiscoverPollEndpointRequest = decode(body)?;
    reply(&control.discover_poll_endpoint(caller, &request)?)
}
