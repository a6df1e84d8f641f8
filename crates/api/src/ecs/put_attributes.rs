//! PutAttributes and DeleteAttributes.

use berth_control::{Caller, Control};
use berth_model::container_instance::Attribute;
use serde::{Deserialize, Serialize};

use super::{decode, reply};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    cluster: Option<String>,
    attributes: Option<Vec<Attribute>>,
}

#[derive(Serialize)]
struct Response {
    attributes: Vec<Attribute>,
}

/// `put` selects PutAttributes; otherwise DeleteAttributes.
pub async fn handle(control: &Control, caller: &Caller, body: &[u8], put: bool) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let attributes = berth_model::json::required(&r.attributes, "attributes")?.clone();
    let attributes = control.change_attributes(caller, r.cluster, attributes, put).await?;
    reply(&Response { attributes })
}
