//! ListServicesByNamespace.

use berth_control::{Caller, Control};
use berth_model::ecs::ListServicesByNamespaceRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let request: ListServicesByNamespaceRequest = decode(body)?;
    reply(&control.list_services_by_namespace(caller, request)?)
}
