//! AddTags, RemoveTags, DescribeTags, and tags given at creation. Tags are kept with
//! every other resource's tags (by ARN), in ECS's form.

use std::sync::Arc;

use berth_model::{
    elb::{
        error::required,
        requests::{AddTagsRequest, DescribeTagsRequest, Empty, RemoveTagsRequest, TagsResult},
        ElbError, Tag, TagDescription,
    },
    tag::Tag as StoredTag,
};

use crate::{state::Change, Caller, Control, State};

const MAX_TAGS: usize = 50;

/// Tags as given, checked as ELB checks them, in the stored form.
pub fn checked(tags: &[Tag]) -> Result<Vec<StoredTag>, ElbError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for t in tags {
        let key = t.key.as_deref().ok_or_else(|| ElbError::missing_parameter("Key"))?;
        if key.is_empty() || key.len() > 128 || key.starts_with("aws:") {
            return Err(ElbError::validation(format!(
                "Tag key '{key}' must be 1 to 128 characters and not begin with 'aws:'"
            )));
        }
        let value = t.value.as_deref().unwrap_or("");
        if value.len() > 256 {
            return Err(ElbError::validation(format!("The value of tag '{key}' is longer than 256 characters")));
        }
        if !seen.insert(key.to_string()) {
            return Err(ElbError::duplicate_tag_keys(key));
        }
        out.push(StoredTag::new(key, value));
    }
    if out.len() > MAX_TAGS {
        return Err(ElbError::too_many_tags());
    }
    Ok(out)
}

/// Replaces the tag set of `arn` (empty removes it).
pub fn put(changes: &mut Vec<Change>, region: &str, arn: &str, tags: Vec<StoredTag>) {
    changes.push(Change::Tags { region: region.to_string(), arn: arn.to_string(), tags: Arc::new(tags) });
}

fn wire(tags: Vec<StoredTag>) -> Vec<Tag> {
    tags.into_iter().map(|t| Tag { key: t.key, value: Some(t.value.unwrap_or_default()) }).collect()
}

/// Whether `arn` names an ELB resource of the caller's region.
fn exists(state: &State, caller: &Caller, arn: &str) -> Result<(), ElbError> {
    let elb = &state.region(&caller.region).elb;
    let resource = arn.split(':').nth(5).unwrap_or("");
    let found = match resource.split('/').next() {
        Some("loadbalancer") => elb.load_balancers.contains_key(arn),
        Some("targetgroup") => elb.target_groups.contains_key(arn),
        Some("listener") => elb.listeners.contains_key(arn),
        Some("listener-rule") => elb.rules.contains_key(arn),
        _ => return Err(ElbError::validation(format!("'{arn}' is not a valid resource ARN"))),
    };
    if found {
        return Ok(());
    }
    Err(match resource.split('/').next() {
        Some("loadbalancer") => ElbError::load_balancer_not_found(),
        Some("targetgroup") => ElbError::target_group_not_found(),
        Some("listener") => ElbError::listener_not_found(),
        _ => ElbError::rule_not_found(),
    })
}

impl Control {
    pub async fn elb_add_tags(&self, caller: &Caller, req: AddTagsRequest) -> Result<Empty, ElbError> {
        let arns = required(&req.resource_arns, "ResourceArns")?.clone();
        let tags = checked(required(&req.tags, "Tags")?)?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            for arn in &arns {
                exists(state, &caller, arn)?;
            }
            for arn in &arns {
                let mut merged = state.tags_of(&caller.region, arn);
                for t in &tags {
                    merged.retain(|m| m.key != t.key);
                    merged.push(t.clone());
                }
                if merged.len() > MAX_TAGS {
                    return Err(ElbError::too_many_tags());
                }
                put(changes, &caller.region, arn, merged);
            }
            Ok(Empty {})
        })
        .await
    }

    pub async fn elb_remove_tags(&self, caller: &Caller, req: RemoveTagsRequest) -> Result<Empty, ElbError> {
        let arns = required(&req.resource_arns, "ResourceArns")?.clone();
        let keys = required(&req.tag_keys, "TagKeys")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            for arn in &arns {
                exists(state, &caller, arn)?;
            }
            for arn in &arns {
                let mut kept = state.tags_of(&caller.region, arn);
                kept.retain(|t| !keys.iter().any(|k| Some(k) == t.key.as_ref()));
                put(changes, &caller.region, arn, kept);
            }
            Ok(Empty {})
        })
        .await
    }

    pub fn elb_describe_tags(&self, caller: &Caller, req: DescribeTagsRequest) -> Result<TagsResult, ElbError> {
        let arns = required(&req.resource_arns, "ResourceArns")?;
        if arns.len() > 20 {
            return Err(ElbError::validation("At most 20 resource ARNs can be described at once"));
        }
        self.read(|state| {
            let mut tag_descriptions = Vec::new();
            for arn in arns {
                exists(state, caller, arn)?;
                tag_descriptions
                    .push(TagDescription { resource_arn: arn.clone(), tags: wire(state.tags_of(&caller.region, arn)) });
            }
            Ok(TagsResult { tag_descriptions })
        })
    }
}
