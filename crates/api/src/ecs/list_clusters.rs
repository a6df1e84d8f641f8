//! ListClusters.

use berth_control::{Caller, Control, PageRequest};
use serde::{Deserialize, Serialize};

use super::{decode, reply};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    next_token: Option<String>,
    max_results: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    cluster_arns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let page = control.list_clusters(caller, &PageRequest { next_token: r.next_token, max_results: r.max_results })?;
    reply(&Response { cluster_arns: page.items, next_token: page.next_token })
}
