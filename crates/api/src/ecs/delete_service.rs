//! DeleteService.

use berth_control::{Caller, Control};
use berth_model::service::Service;
use serde::{Deserialize, Serialize};

use super::{decode, reply, required};
use crate::error::ApiError;

#[derive(Deserialize)]
struct Request {
    cluster: Option<String>,
    service: Option<String>,
    force: Option<bool>,
}

#[derive(Serialize)]
struct Response {
    service: Service,
}

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let service =
        control.delete_service(caller, r.cluster, required(r.service, "service")?, r.force.unwrap_or(false)).await?;
    reply(&Response { service })
}
