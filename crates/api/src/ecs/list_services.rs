//! ListServices.

use berth_control::{Caller, Control, PageRequest};
use serde::Deserialize;

use super::{decode, page_reply};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    cluster: Option<String>,
    launch_type: Option<String>,
    scheduling_strategy: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let page = PageRequest { next_token: r.next_token, max_results: r.max_results };
    let page = control.list_services(
        caller,
        r.cluster.as_deref(),
        r.launch_type.as_deref(),
        r.scheduling_strategy.as_deref(),
        &page,
    )?;
    page_reply("serviceArns", page)
}
