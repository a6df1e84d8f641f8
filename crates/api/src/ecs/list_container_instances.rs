//! ListContainerInstances.

use berth_control::{Caller, Control, PageRequest};
use serde::Deserialize;

use super::{decode, page_reply};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    cluster: Option<String>,
    filter: Option<String>,
    status: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let page = PageRequest { next_token: r.next_token, max_results: r.max_results };
    let page = control.list_container_instances(
        caller,
        r.cluster.as_deref(),
        r.status.as_deref(),
        r.filter.as_deref(),
        &page,
    )?;
    page_reply("containerInstanceArns", page)
}
