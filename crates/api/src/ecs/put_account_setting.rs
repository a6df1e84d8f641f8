//! PutAccountSetting and PutAccountSettingDefault.

use berth_control::{Caller, Control};
use berth_model::setting::Setting;
use serde::{Deserialize, Serialize};

use super::{decode, reply, required};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    name: Option<String>,
    value: Option<String>,
    principal_arn: Option<String>,
}

#[derive(Serialize)]
struct Response {
    setting: Setting,
}

/// `default` selects PutAccountSettingDefault (no principal).
pub async fn handle(control: &Control, caller: &Caller, body: &[u8], default: bool) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let principal = if default { None } else { r.principal_arn };
    let setting = control
        .put_account_setting(caller, required(r.name, "name")?, required(r.value, "value")?, principal, default)
        .await?;
    reply(&Response { setting })
}
