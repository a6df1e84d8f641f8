//! ListTaskDefinitions.

use berth_control::{Caller, Control, ListTaskDefinitions, PageRequest};
use berth_model::EcsError;
use serde::Deserialize;

use super::{decode, page_reply};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    family_prefix: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let descending = match r.sort.as_deref() {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(other) => return Err(EcsError::invalid(format!("Invalid sort '{other}': use ASC or DESC.")).into()),
    };
    let query = ListTaskDefinitions {
        family_prefix: r.family_prefix,
        status: r.status,
        descending,
        page: PageRequest { next_token: r.next_token, max_results: r.max_results },
    };
    let page = control.list_task_definitions(caller, &query)?;
    page_reply("taskDefinitionArns", page)
}
