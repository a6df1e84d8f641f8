//! ListAccountSettings.

use berth_control::{Caller, Control, PageRequest, SettingsQuery};
use serde::Deserialize;

use super::{decode, page_reply};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    name: Option<String>,
    value: Option<String>,
    principal_arn: Option<String>,
    #[serde(default)]
    effective_settings: bool,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let query = SettingsQuery {
        name: r.name,
        value: r.value,
        principal_arn: r.principal_arn,
        effective_settings: r.effective_settings,
        page: PageRequest { next_token: r.next_token, max_results: r.max_results },
    };
    let page = control.list_account_settings(caller, &query)?;
    page_reply("settings", page)
}
