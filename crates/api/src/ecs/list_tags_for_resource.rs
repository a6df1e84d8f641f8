//! ListTagsForResource.

use berth_control::{Caller, Control};
use berth_model::tag::Tag;
use serde::{Deserialize, Serialize};

use super::{decode, reply, required};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    resource_arn: Option<String>,
}

#[derive(Serialize)]
struct Response {
    tags: Vec<Tag>,
}

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let tags = control.list_tags_for_resource(caller, &required(r.resource_arn, "resourceArn")?)?;
    reply(&Response { tags })
}
