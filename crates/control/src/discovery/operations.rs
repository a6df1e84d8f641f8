//! GetOperation, ListOperations, and Cloud Map's TagResource, UntagResource and
//! ListTagsForResource.

use berth_model::discovery::{
    error::required,
    requests::{
        Empty, GetOperationResponse, IdRequest, ListOperationsResponse, ListRequest, ListTagsForResourceResponse,
        OperationSummary, TagResourceRequest,
    },
    DiscoveryError, OperationTargetType as Target, Tag,
};

use super::{common, state::DiscoveryState};
use crate::{state::Change, Caller, Control, State};

/// Whether `arn` names a namespace or service of the caller's region.
fn exists(d: &DiscoveryState, arn: &str) -> bool {
    d.namespaces.values().any(|n| n.arn == arn) || d.services.values().any(|s| s.service.arn == arn)
}

fn stored_tags(state: &State, caller: &Caller, arn: &str) -> Vec<berth_model::tag::Tag> {
    state.region(&caller.region).tags.get(arn).map(|t| t.as_ref().clone()).unwrap_or_default()
}

impl Control {
    pub fn get_operation(&self, caller: &Caller, req: IdRequest) -> Result<GetOperationResponse, DiscoveryError> {
        let id = required(&req.operation_id, "OperationId")?;
        self.read(|state| {
            let d = &state.region(&caller.region).discovery;
            let op = d.operations.get(id).ok_or_else(|| DiscoveryError::operation_not_found(id))?;
            Ok(GetOperationResponse { operation: op.as_ref().clone() })
        })
    }

    pub fn list_operations(&self, caller: &Caller, req: ListRequest) -> Result<ListOperationsResponse, DiscoveryError> {
        self.read(|state| {
            let d = &state.region(&caller.region).discovery;
            let mut matching = Vec::new();
            for op in d.operations.values() {
                let mut keep = true;
                for f in &req.filters {
                    keep &= match f.name.as_str() {
                        "NAMESPACE_ID" => {
                            common::filter_matches(f, op.targets.get(&Target::Namespace).map_or("", |s| s))?
                        }
                        "SERVICE_ID" => common::filter_matches(f, op.targets.get(&Target::Service).map_or("", |s| s))?,
                        "STATUS" => common::filter_matches(f, op.status.as_str())?,
                        "TYPE" => common::filter_matches(f, op.kind.as_str())?,
                        "UPDATE_DATE" => {
                            let bound = |i: usize| f.values.get(i).and_then(|v| v.parse::<f64>().ok());
                            match (bound(0), bound(1)) {
                                (Some(lo), Some(hi)) => (lo..=hi).contains(&op.update_date),
                                _ => {
                                    return Err(DiscoveryError::invalid_input(
                                        "UPDATE_DATE takes two epoch-second values with BETWEEN",
                                    ))
                                }
                            }
                        }
                        other => {
                            return Err(DiscoveryError::invalid_input(format!(
                            "Filter name '{other}' must be one of NAMESPACE_ID, SERVICE_ID, STATUS, TYPE, UPDATE_DATE"
                        )))
                        }
                    };
                }
                if keep {
                    matching.push((op.id.clone(), OperationSummary { id: op.id.clone(), status: op.status }));
                }
            }
            let (operations, next_token) = common::page(&req.next_token, req.max_results, 100, matching.into_iter())?;
            Ok(ListOperationsResponse { operations, next_token })
        })
    }

    pub async fn tag_discovery_resource(
        &self,
        caller: &Caller,
        req: TagResourceRequest,
    ) -> Result<Empty, DiscoveryError> {
        let arn = required(&req.resource_arn, "ResourceARN")?.clone();
        let added = common::checked_tags(&req.tags)?;
        let caller = caller.clone();
        self.write(move |state, changes: &mut Vec<Change>| {
            if !exists(&state.region(&caller.region).discovery, &arn) {
                return Err(DiscoveryError::resource_not_found(&arn));
            }
            let mut tags = stored_tags(state, &caller, &arn);
            for t in added {
                tags.retain(|o| o.key != t.key);
                tags.push(t);
            }
            if tags.len() > 200 {
                return Err(DiscoveryError::too_many_tags(&arn));
            }
            common::put_tags(changes, &caller.region, &arn, tags);
            Ok(Empty {})
        })
        .await
    }

    pub async fn untag_discovery_resource(
        &self,
        caller: &Caller,
        req: TagResourceRequest,
    ) -> Result<Empty, DiscoveryError> {
        let arn = required(&req.resource_arn, "ResourceARN")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes: &mut Vec<Change>| {
            if !exists(&state.region(&caller.region).discovery, &arn) {
                return Err(DiscoveryError::resource_not_found(&arn));
            }
            let mut tags = stored_tags(state, &caller, &arn);
            tags.retain(|t| !t.key.as_ref().is_some_and(|k| req.tag_keys.contains(k)));
            common::put_tags(changes, &caller.region, &arn, tags);
            Ok(Empty {})
        })
        .await
    }

    pub fn list_discovery_tags(
        &self,
        caller: &Caller,
        req: TagResourceRequest,
    ) -> Result<ListTagsForResourceResponse, DiscoveryError> {
        let arn = required(&req.resource_arn, "ResourceARN")?;
        self.read(|state| {
            if !exists(&state.region(&caller.region).discovery, arn) {
                return Err(DiscoveryError::resource_not_found(arn));
            }
            let tags = stored_tags(state, caller, arn)
                .into_iter()
                .map(|t| Tag { key: t.key.unwrap_or_default(), value: t.value.unwrap_or_default() })
                .collect();
            Ok(ListTagsForResourceResponse { tags })
        })
    }
}
