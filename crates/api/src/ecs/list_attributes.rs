//! ListAttributes.

use berth_control::{Caller, Control, PageRequest};
use serde::Deserialize;

use super::{decode, page_reply, required};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    cluster: Option<String>,
    target_type: Option<String>,
    attribute_name: Option<String>,
    attribute_value: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let target_type = required(r.target_type, "targetType")?;
    let page = PageRequest { next_token: r.next_token, max_results: r.max_results };
    let page = control.list_attributes(
        caller,
        r.cluster.as_deref(),
        &target_type,
        r.attribute_name.as_deref(),
        r.attribute_value.as_deref(),
        &page,
    )?;
    page_reply("attributes", page)
}
