//! Helpers every ELB operation shares: ids, markers, attribute maps, deletions.

use std::collections::BTreeMap;

use berth_model::elb::{Attribute, ElbError};

use super::state::ElbChange;
use crate::state::Change;

/// `n` random lowercase hex digits (the id part of ELB ARNs).
pub fn random_hex(n: usize) -> String {
    let mut s = format!("{:032x}", rand::random::<u128>());
    s.truncate(n);
    s
}

pub fn delete(region: &str, kind: &'static str, arn: &str) -> Change {
    Change::Elb { region: region.to_string(), change: ElbChange::Delete { kind, arn: arn.to_string() } }
}

/// One page of `items` from `marker` (an offset berth hands out) with at most
/// `page_size` (1–400) items, and the marker of the next page.
pub fn page<T>(
    items: Vec<T>,
    marker: Option<&str>,
    page_size: Option<i64>,
) -> Result<(Vec<T>, Option<String>), ElbError> {
    let size = page_size.unwrap_or(400);
    if !(1..=400).contains(&size) {
        return Err(ElbError::validation(format!("Page size '{size}' must be between 1 and 400")));
    }
    let start = match marker {
        None => 0,
        Some(m) => m.parse::<usize>().map_err(|_| ElbError::validation(format!("Invalid marker '{m}'")))?,
    };
    let total = items.len();
    let end = (start + size as usize).min(total);
    let next = (end < total).then(|| end.to_string());
    Ok((items.into_iter().skip(start).take(end.saturating_sub(start)).collect(), next))
}

pub fn attribute_list(map: &BTreeMap<String, String>) -> Vec<Attribute> {
    map.iter().map(|(k, v)| Attribute::new(k, v)).collect()
}

/// `current` with `changes` applied, each checked by `check(key, value)`.
pub fn modified_attributes(
    current: &BTreeMap<String, String>,
    changes: &[Attribute],
    check: fn(&str, &str) -> Result<(), ElbError>,
) -> Result<BTreeMap<String, String>, ElbError> {
    if changes.is_empty() {
        return Err(ElbError::validation("At least one attribute must be specified"));
    }
    let mut next = current.clone();
    for a in changes {
        let key = a.key.as_deref().ok_or_else(|| ElbError::missing_parameter("Key"))?;
        let value = a.value.as_deref().unwrap_or("");
        check(key, value)?;
        next.insert(key.to_string(), value.to_string());
    }
    Ok(next)
}

pub fn int_attribute(key: &str, value: &str, lo: i64, hi: i64) -> Result<(), ElbError> {
    match value.parse::<i64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(()),
        _ => Err(ElbError::validation(format!(
            "'{value}' is not a valid value for {key}: it must be an integer from {lo} to {hi}"
        ))),
    }
}

pub fn bool_attribute(key: &str, value: &str) -> Result<(), ElbError> {
    match value {
        "true" | "false" => Ok(()),
        _ => {
            Err(ElbError::validation(format!("'{value}' is not a valid value for {key}: it must be 'true' or 'false'")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_every_item_once() {
        let items: Vec<u32> = (0..5).collect();
        let (first, next) = page(items.clone(), None, Some(2)).unwrap();
        assert_eq!((first, next.as_deref()), (vec![0, 1], Some("2")));
        let (last, next) = page(items.clone(), Some("4"), Some(2)).unwrap();
        assert_eq!((last, next), (vec![4], None));
        assert!(page(items.clone(), None, Some(0)).is_err());
        assert!(page(items, Some("x"), None).is_err());
    }
}
