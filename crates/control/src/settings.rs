//! Account settings: PutAccountSetting(Default), DeleteAccountSetting, ListAccountSettings.
//!
//! A principal's own setting wins over the account default, which wins over berth's
//! built-in default. The account default is stored under the empty principal.

use berth_model::{setting, setting::Setting, EcsError};

use crate::{state::Change, Caller, Control, Page, PageRequest, State};

const ACCOUNT_DEFAULT: &str = "";

#[derive(Debug, Clone, Default)]
pub struct SettingsQuery {
    pub name: Option<String>,
    pub value: Option<String>,
    pub principal_arn: Option<String>,
    pub effective_settings: bool,
    pub page: PageRequest,
}

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
        name: String,
        value: String,
        principal: Option<String>,
        default: bool,
    ) -> Result<Setting, EcsError> {
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
            Ok(Setting { name, value, principal_arn: shown, kind: "user".into() })
        })
        .await
    }

    /// DeleteAccountSetting: removes the principal's own value and returns what it was.
    pub async fn delete_account_setting(
        &self,
        caller: &Caller,
        name: String,
        principal: Option<String>,
    ) -> Result<Setting, EcsError> {
        if setting::builtin_default(&name).is_none() {
            setting::validate(&name, "")?;
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
            Ok(Setting { name, value, principal_arn: principal, kind: "user".into() })
        })
        .await
    }

    /// ListAccountSettings. With `effectiveSettings`, every setting's effective value;
    /// otherwise only the values set for the principal (or as the account default).
    pub fn list_account_settings(&self, caller: &Caller, q: &SettingsQuery) -> Result<Page<Setting>, EcsError> {
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
            q.page.page(10, true, all.into_iter().map(|s| (s.name.clone(), s)))
        })
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
        let q = |name: &str, effective| SettingsQuery {
            name: Some(name.into()),
            effective_settings: effective,
            ..Default::default()
        };
        let eff = control.list_account_settings(&c, &q("containerInsights", true)).unwrap();
        assert_eq!((eff.items[0].value.as_str(), eff.items[0].kind.as_str()), ("disabled", "aws_managed"));
        assert!(control.list_account_settings(&c, &q("containerInsights", false)).unwrap().items.is_empty());

        control.put_account_setting(&c, "containerInsights".into(), "enabled".into(), None, true).await.unwrap();
        assert_eq!(control.read(|s| effective(s, &c, "containerInsights")), "enabled");
        control.put_account_setting(&c, "containerInsights".into(), "enhanced".into(), None, false).await.unwrap();
        assert_eq!(control.read(|s| effective(s, &c, "containerInsights")), "enhanced");
        control.delete_account_setting(&c, "containerInsights".into(), None).await.unwrap();
        assert_eq!(control.read(|s| effective(s, &c, "containerInsights")), "enabled");

        assert!(control.put_account_setting(&c, "containerInsights".into(), "on".into(), None, false).await.is_err());
    }
}
