//! Account settings (PutAccountSetting and friends): names, allowed values, defaults.

use serde::{Deserialize, Serialize};

use crate::EcsError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Setting {
    pub name: String,
    pub value: String,
    pub principal_arn: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// Every setting name with its allowed values and the value an account starts with.
const SETTINGS: &[(&str, &[&str], &str)] = &[
    ("serviceLongArnFormat", &["enabled", "disabled"], "enabled"),
    ("taskLongArnFormat", &["enabled", "disabled"], "enabled"),
    ("containerInstanceLongArnFormat", &["enabled", "disabled"], "enabled"),
    ("awsvpcTrunking", &["enabled", "disabled"], "disabled"),
    ("containerInsights", &["enabled", "disabled", "enhanced"], "disabled"),
    ("fargateFIPSMode", &["enabled", "disabled"], "disabled"),
    ("tagResourceAuthorization", &["on", "off"], "on"),
    ("fargateTaskRetirementWaitPeriod", &["0", "7", "14"], "7"),
    ("guardDutyActivate", &["on", "off"], "off"),
    ("defaultLogDriverMode", &["blocking", "non-blocking"], "non-blocking"),
    ("fargateEventWindows", &["enabled", "disabled"], "disabled"),
];

/// All setting names, in a stable order.
pub fn names() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().map(|(n, _, _)| *n)
}

/// The value every principal has until someone sets one.
pub fn builtin_default(name: &str) -> Option<&'static str> {
    SETTINGS.iter().find(|(n, _, _)| *n == name).map(|(_, _, d)| *d)
}

/// What ECS answers to disabling (or deleting) a long-ARN setting, which it no longer allows.
pub const LONG_ARN_REFUSAL: &str = "You can no longer disable Long Arn settings.";

/// The settings of the long ARN format, which can no longer be turned off.
pub fn is_long_arn(name: &str) -> bool {
    name.ends_with("LongArnFormat")
}

/// Checks a setting name and value.
pub fn validate(name: &str, value: &str) -> Result<(), EcsError> {
    let Some((_, allowed, _)) = SETTINGS.iter().find(|(n, _, _)| *n == name) else {
        return Err(EcsError::invalid(format!("{name} should be one of [{}]", names().collect::<Vec<_>>().join(","))));
    };
    if is_long_arn(name) && value == "disabled" {
        return Err(EcsError::invalid(LONG_ARN_REFUSAL));
    }
    if !allowed.contains(&value) {
        return Err(EcsError::invalid(format!(
            "Invalid value '{value}' for account setting {name}: use {}.",
            allowed.join(" or ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(validate("containerInsights", "enhanced").is_ok());
        assert!(validate("containerInsights", "on").is_err());
        assert_eq!(
            validate("nope", "on").unwrap_err().to_string(),
            format!("nope should be one of [{}]", names().collect::<Vec<_>>().join(","))
        );
        assert_eq!(validate("taskLongArnFormat", "disabled").unwrap_err().to_string(), LONG_ARN_REFUSAL);
        assert!(validate("taskLongArnFormat", "enabled").is_ok());
        assert_eq!(builtin_default("taskLongArnFormat"), Some("enabled"));
    }
}
