//! PutAccountSetting and PutAccountSettingDefault.

use berth_control::{Caller, Control};
use berth_model::ecs::PutAccountSettingRequest;

use super::codec::{decode, reply};
use crate::error::ApiError;

/// `default` selects PutAccountSettingDefault (no principal).
pub async fn handle(control: &Control, caller: &Caller, body: &[u8], default: bool) -> Result<Vec<u8>, ApiError> {
    let request: PutAccountSettingRequest = decode(body)?;
    reply(&control.put_account_setting(caller, request, default).await?)
}
