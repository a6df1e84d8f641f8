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
        if !seen.insert(key) {
            return Err(EcsError::invalid(format!("Tag key '{key}' is given more than once.")));
        }
    }
    Ok(())
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
