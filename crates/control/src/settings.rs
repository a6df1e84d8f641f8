//! Account settings: PutAccountSetting(Default), DeleteAccountSetting, ListAccountSettings.
//!
//! A principal's own setting wins over the account default, which wins over berth's
//! built-in default. The account default is stored under the empty principal.

use berth_model::{
    ecs::{
        DeleteAccountSettingRequest, ListAccountSettingsRequest, ListAccountSettingsResponse, PutAccountSettingRequest,
        SettingResponse,
    },
    json, setting,
    setting::Setting,
    EcsError,
};

use crate::{state::Change, Caller, Control, Page, PageRequest, State};

const ACCOUNT_DEFAULT: &str = "";

/// The value `name` has for the caller.
pub fn effective(state: &State, caller: &Caller, name: &str) -> String {
    effective_setting(state, caller, &caller.principal_arn(), name).value
}

fn effective_setting(state: &State, caller: &Caller, principal: &str, name: &str) -> Setting {
    let settings = &state.region(&caller.region).settings;
    let own = settings.get(&(principal.to_string(), name.to_string()));
    let account = settings.get(&(ACCOUNT_DEFAULT.to_string(), name.to_string()));
    let (value, kind) = match own.or(account) {
        Some(v) => (v.clone(), "user"),
        None => (setting::builtin_default(name).unwrap_or_default().to_string(), "aws_managed"),
    };
    Setting { name: name.into(), value, principal_arn: principal.into(), kind: kind.into() }
}

impl Control {
    /// PutAccountSetting (`default == false`) or PutAccountSettingDefault.
    pub async fn put_account_setting(
        &self,
        caller: &Caller,
        req: PutAccountSettingRequest,
        default: bool,
    ) -> Result<SettingResponse, EcsError> {
        let name = json::required(&req.name, "name")?.clone();
        let value = json::required(&req.value, "value")?.clone();
        let principal = if default { None } else { req.principal_arn };
        setting::validate(&name, &value)?;
        let caller = caller.clone();
        let shown = principal.clone().unwrap_or_else(|| caller.principal_arn());
        let stored = if default { ACCOUNT_DEFAULT.to_string() } else { shown.clone() };
        self.write(move |_, changes| {
            changes.push(Change::Setting {
                region: caller.region.clone(),
                principal: stored,
                name: name.clone(),
                value: Some(value.clone()),
            });
            Ok(SettingResponse { setting: Setting { name, value, principal_arn: shown, kind: "user".into() } })
        })
        .await
    }

    /// DeleteAccountSetting: removes the principal's own value and returns what it was.
    pub async fn delete_account_setting(
        &self,
        caller: &Caller,
        req: DeleteAccountSettingRequest,
    ) -> Result<SettingResponse, EcsError> {
        let name = json::required(&req.name, "name")?.clone();
        let principal = req.principal_arn;
        if setting::builtin_default(&name).is_none() {
            setting::validate(&name, "")?;
        }
        if setting::is_long_arn(&name) {
            return Err(EcsError::invalid(setting::LONG_ARN_REFUSAL));
        }
        let caller = caller.clone();
        let principal = principal.unwrap_or_else(|| caller.principal_arn());
        self.write(move |state, changes| {
            let key = (principal.clone(), name.clone());
            let Some(value) = state.region(&caller.region).settings.get(&key).cloned() else {
                return Err(EcsError::invalid(format!("No account setting {name} is set for {principal}.")));
            };
            changes.push(Change::Setting {
                region: caller.region.clone(),
                principal: principal.clone(),
                name: name.clone(),
                value: None,
            });
            Ok(SettingResponse { setting: Setting { name, value, principal_arn: principal, kind: "user".into() } })
        })
        .await
    }

    /// ListAccountSettings. With `effectiveSettings`, every setting's effective value;
    /// otherwise only the values set for the principal (or as the account default).
    pub fn list_account_settings(
        &self,
        caller: &Caller,
        q: &ListAccountSettingsRequest,
    ) -> Result<ListAccountSettingsResponse, EcsError> {
        if let Some(n) = &q.name {
            if setting::builtin_default(n).is_none() {
                setting::validate(n, "")?;
            }
        }
        let principal = q.principal_arn.clone().unwrap_or_else(|| caller.principal_arn());
        self.read(|state| {
            let stored = &state.region(&caller.region).settings;
            let all: Vec<Setting> = setting::names()
                .filter(|n| q.name.as_deref().is_none_or(|want| want == *n))
                .filter_map(|n| {
                    if q.effective_settings {
                        return Some(effective_setting(state, caller, &principal, n));
                    }
                    let own = stored.get(&(principal.clone(), n.to_string()));
                    let account = stored.get(&(ACCOUNT_DEFAULT.to_string(), n.to_string()));
                    own.or(account).map(|v| Setting {
                        name: n.into(),
                        value: v.clone(),
                        principal_arn: principal.clone(),
                        kind: "user".into(),
                    })
                })
                .filter(|s| q.value.as_deref().is_none_or(|v| v == s.value))
                .collect();
            PageRequest::of(&q.next_token, q.max_results).page(10, true, all.into_iter().map(|s| (s.name.clone(), s)))
        })
        .map(|Page { items, next_token }| ListAccountSettingsResponse { settings: items, next_token })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;

    #[tokio::test]
    async fn precedence() {
        let dir = tempfile::tempdir().unwrap();
        let control = open(dir.path());
        let c = caller();
        let q = |name: &str, effective| ListAccountSettingsRequest {
            name: Some(name.into()),
            effective_settings: effective,
            ..Default::default()
        };
        let put = |name: &str, value: &str| PutAccountSettingRequest {
            name: Some(name.into()),
            value: Some(value.into()),
            principal_arn: None,
        };
        let eff = control.list_account_settings(&c, &q("containerInsights", true)).unwrap();
        assert_eq!((eff.settings[0].value.as_str(), eff.settings[0].kind.as_str()), ("disabled", "aws_managed"));
        assert!(control.list_account_settings(&c, &q("containerInsights", false)).unwrap().settings.is_empty());

        control.put_account_setting(&c, put("containerInsights", "enabled"), true).await.unwrap();
        assert_eq!(control.read(|s| effective(s, &c, "containerInsights")), "enabled");
        control.put_account_setting(&c, put("containerInsights", "enhanced"), false).await.unwrap();
        assert_eq!(control.read(|s| effective(s, &c, "containerInsights")), "enhanced");
        control
            .delete_account_setting(
                &c,
                DeleteAccountSettingRequest { name: Some("containerInsights".into()), principal_arn: None },
            )
            .await
            .unwrap();
        assert_eq!(control.read(|s| effective(s, &c, "containerInsights")), "enabled");

        assert!(control.put_account_setting(&c, put("containerInsights", "on"), false).await.is_err());
    }
}
