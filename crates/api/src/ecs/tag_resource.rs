//! TagResource.

use berth_control::{Caller, Control};
use berth_model::tag::Tag;
use serde::Deserialize;

use super::{decode, required};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    resource_arn: Option<String>,
    tags: Option<Vec<Tag>>,
}

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let tags = berth_model::json::required(&r.tags, "tags")?.clone();
    control.tag_resource(caller, required(r.resource_arn, "resourceArn")?, tags).await?;
    Ok(b"{}".to_vec())
}
