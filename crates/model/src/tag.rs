//! Resource tags and ECS's rules for them.

use serde::{Deserialize, Serialize};

use crate::EcsError;

/// At most this many tags per resource.
pub const MAX_TAGS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tag {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl Tag {
    pub fn new(key: &str, value: &str) -> Self {
        Tag { key: Some(key.into()), value: Some(value.into()) }
    }
}

/// Checks one tag list as ECS does: key 1–128 chars, value ≤256, no `aws:` prefix,
/// no repeated key.
pub fn validate(tags: &[Tag]) -> Result<(), EcsError> {
    let mut seen = std::collections::HashSet::new();
    for tag in tags {
        let key = tag.key.as_deref().unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 {
            return Err(EcsError::invalid(format!("Tag key '{key}' must be 1 to 128 characters long.")));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(EcsError::invalid(format!("Tag key '{key}' uses the reserved prefix 'aws:'.")));
        }
        if tag.value.as_deref().unwrap_or("").chars().count() > 256 {
            return Err(EcsError::invalid(format!("The value of tag '{key}' is longer than 256 characters.")));
        }
        let value = tag.value.as_deref().unwrap_or("");
        if let Some(bad) = key.chars().chain(value.chars()).find(|c| !tag_char(*c)) {
            return Err(EcsError::invalid(format!(
                "Tag '{}' contains the character {:?}: tags may hold letters, numbers, spaces and _ . : / = + - @ only.",
                key.escape_default(),
                bad
            )));
        }
        if !seen.insert(key) {
            return Err(EcsError::invalid(format!("Tag key '{key}' is given more than once.")));
        }
    }
    Ok(())
}

/// ECS's tag alphabet: `[\p{L}\p{Z}\p{N}_.:/=+\-@]` — letters, separators (spaces),
/// numbers and a few marks; never a control character such as NUL.
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()) || "_.:/=+-@".contains(c)
}

/// Merges `new` into `existing` (a key present in both takes the new value) and checks
/// the 50-tag limit on the result.
pub fn merge(existing: &[Tag], new: &[Tag]) -> Result<Vec<Tag>, EcsError> {
    validate(new)?;
    let mut out: Vec<Tag> = existing.to_vec();
    for tag in new {
        match out.iter_mut().find(|t| t.key == tag.key) {
            Some(slot) => slot.value = tag.value.clone(),
            None => out.push(tag.clone()),
        }
    }
    if out.len() > MAX_TAGS {
        return Err(EcsError::invalid(format!(
            "A resource can have at most {MAX_TAGS} tags; this request would give it {}.",
            out.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused() {
        assert!(validate(&[Tag::new("team name", "a/b=c+d-e@f:g_h.i")]).is_ok());
        assert!(validate(&[Tag::new("équipe", "値")]).is_ok());
        for (k, v) in [("a\0b", "x"), ("a", "line\nbreak"), ("tab\t", "x"), ("semi;colon", "x")] {
            let err = validate(&[Tag::new(k, v)]).unwrap_err();
            assert_eq!(err.code(), "InvalidParameterException", "{k:?}={v:?}");
        }
    }

    #[test]
    fn merge_overwrites_and_limits() {
        let merged = merge(&[Tag::new("a", "1")], &[Tag::new("a", "2"), Tag::new("b", "3")]).unwrap();
        assert_eq!(merged, vec![Tag::new("a", "2"), Tag::new("b", "3")]);
        let many: Vec<Tag> = (0..51).map(|i| Tag::new(&format!("k{i}"), "")).collect();
        assert!(merge(&[], &many).is_err());
    }

    #[test]
    fn rejects_reserved_and_duplicate_keys() {
        assert!(validate(&[Tag::new("aws:x", "1")]).is_err());
        assert!(validate(&[Tag::new("a", "1"), Tag::new("a", "2")]).is_err());
        assert!(validate(&[Tag { key: None, value: None }]).is_err());
    }
}
