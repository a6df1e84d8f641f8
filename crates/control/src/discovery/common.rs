//! What the Cloud Map operations share: ids, the record of an asynchronous operation,
//! validation of names, tags, and paging.

use std::{collections::BTreeMap, sync::Arc};

use berth_model::discovery::{
    error::required, DiscoveryError, Operation, OperationStatus, OperationTargetType, OperationType, Tag,
};

use super::{state::DiscoveryState, DiscoveryChange};
use crate::{paginate::PageRequest, state::Change, Caller};

/// Operations kept for GetOperation/ListOperations; older ones are forgotten.
const KEPT_OPERATIONS: usize = 1000;
const MAX_TAGS: usize = 200;

/// A random id with Cloud Map's prefix (`ns-`, `srv-`).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", &crate::elb::common::random_hex(16))
}

pub fn push(changes: &mut Vec<Change>, region: &str, change: DiscoveryChange) {
    changes.push(Change::Discovery { region: region.to_string(), change });
}

/// Records an operation that has already done its work (berth applies it before it
/// answers), forgetting the oldest beyond the limit; returns its id.
pub fn operation(
    d: &DiscoveryState,
    caller: &Caller,
    kind: OperationType,
    targets: &[(OperationTargetType, &str)],
    changes: &mut Vec<Change>,
) -> String {
    let now = berth_model::time::now();
    // Ids sort by creation: a time prefix then randomness.
    let id = format!("{:012x}-{}", (now * 1000.0) as u64, crate::elb::common::random_hex(8));
    let op = Operation {
        id: id.clone(),
        owner_account: Some(caller.account.clone()),
        kind,
        status: OperationStatus::Success,
        error_message: None,
        error_code: None,
        create_date: now,
        update_date: now,
        targets: targets.iter().map(|(k, v)| (*k, v.to_string())).collect::<BTreeMap<_, _>>(),
    };
    push(changes, &caller.region, DiscoveryChange::Operation(Arc::new(op)));
    let excess = (d.operations.len() + 1).saturating_sub(KEPT_OPERATIONS);
    for old in d.operations.keys().take(excess) {
        push(changes, &caller.region, DiscoveryChange::DeleteOperation(old.clone()));
    }
    id
}

/// Tags as given, checked, in the stored form.
pub fn checked_tags(tags: &[Tag]) -> Result<Vec<berth_model::tag::Tag>, DiscoveryError> {
    if tags.len() > MAX_TAGS {
        return Err(DiscoveryError::invalid_input(format!("A resource can have at most {MAX_TAGS} tags")));
    }
    tags.iter()
        .map(|t| {
            if t.key.is_empty() || t.key.len() > 128 || t.value.len() > 256 {
                return Err(DiscoveryError::invalid_input(format!(
                    "Tag key '{}' must be 1 to 128 characters and its value at most 256",
                    t.key
                )));
            }
            Ok(berth_model::tag::Tag::new(&t.key, &t.value))
        })
        .collect()
}

pub fn description(d: &Option<String>) -> Result<(), DiscoveryError> {
    match d {
        Some(d) if d.len() > 1024 => Err(DiscoveryError::invalid_input("Description must be at most 1024 characters")),
        _ => Ok(()),
    }
}

/// Pages `items` (already in key order) as Cloud Map's List* calls do.
pub fn page<T>(
    next_token: &Option<String>,
    max_results: Option<i64>,
    limit: i64,
    items: impl Iterator<Item = (String, T)>,
) -> Result<(Vec<T>, Option<String>), DiscoveryError> {
    let page = PageRequest::of(next_token, max_results)
        .page(limit, true, items)
        .map_err(|e| DiscoveryError::invalid_input(e.to_string()))?;
    Ok((page.items, page.next_token))
}

pub fn required_id<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, DiscoveryError> {
    Ok(berth_model::discovery::id_of(required(value, name)?))
}

/// Replaces the tag set of `arn` (empty removes it).
pub fn put_tags(changes: &mut Vec<Change>, region: &str, arn: &str, tags: Vec<berth_model::tag::Tag>) {
    changes.push(Change::Tags { region: region.to_string(), arn: arn.to_string(), tags: Arc::new(tags) });
}

/// Whether `value` passes a list filter (EQ by default; IN; BEGINS_WITH).
pub fn filter_matches(f: &berth_model::discovery::requests::Filter, value: &str) -> Result<bool, DiscoveryError> {
    use berth_model::discovery::FilterCondition::*;
    match f.condition.unwrap_or(Eq) {
        Eq => Ok(f.values.first().is_some_and(|v| v == value)),
        In => Ok(f.values.iter().any(|v| v == value)),
        BeginsWith => Ok(f.values.first().is_some_and(|v| value.starts_with(v.as_str()))),
        Between => Err(DiscoveryError::invalid_input(format!("Filter {} does not take the BETWEEN condition", f.name))),
    }
}
