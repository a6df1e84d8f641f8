//! DescribeServices.

use berth_control::{Caller, Control};
use berth_model::{service::Service, EcsError, Failure};
use serde::{Deserialize, Serialize};

use super::{decode, reply};
use crate::error::ApiError;

#[derive(Deserialize)]
struct Request {
    cluster: Option<String>,
    services: Option<Vec<String>>,
    #[serde(default)]
    include: Vec<String>,
}

#[derive(Serialize)]
struct Response {
    services: Vec<Service>,
    failures: Vec<Failure>,
}

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    if let Some(bad) = r.include.iter().find(|i| *i != "TAGS") {
        return Err(EcsError::invalid(format!("Invalid include value '{bad}': the only value is TAGS.")).into());
    }
    let refs = berth_model::json::required(&r.services, "services")?;
    let (services, failures) = control.describe_services(caller, r.cluster.as_deref(), refs, !r.include.is_empty())?;
    reply(&Response { services, failures })
}
