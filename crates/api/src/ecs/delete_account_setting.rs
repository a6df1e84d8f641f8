//! DeleteAccountSetting.

use berth_control::{Caller, Control};
use berth_model::setting::Setting;
use serde::{Deserialize, Serialize};

use super::{decode, reply, required};
use crate::error::ApiError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    name: Option<String>,
    principal_arn: Option<String>,
}

#[derive(Serialize)]
struct Response {
    setting: Setting,
}

pub async fn handle(control: &Control, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let r: Request = decode(body)?;
    let setting = control.delete_account_setting(caller, required(r.name, "name")?, r.principal_arn).await?;
    reply(&Response { setting })
}
