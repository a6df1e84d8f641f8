//! UntagResource.

use berth_control::{Caller, Control};
use serde::Deserialize;

use super::{decode, required};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let keys = berth_model::json::required(&r.tag_keys, "tagKeys")?.clone();
    control.untag_resource(caller, required(r.resource_arn, "resourceArn")?, keys).await?;
    Ok(b"{}".to_vec())
}
