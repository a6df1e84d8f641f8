//! TagResource, UntagResource, ListTagsForResource, and tag lookup for other operations.

use std::sync::Arc;

use berth_model::{
    ecs::{Empty, ListTagsForResourceRequest, ListTagsForResourceResponse, TagResourceRequest, UntagResourceRequest},
    json,
    status::ClusterStatus,
    tag, Arn, EcsError,
};

use crate::{state::Change, task_definitions::TaskDefinitionRef, Caller, Control, State};

/// Checks that `arn` names an existing taggable resource in the caller's region.
fn check_resource(state: &State, caller: &Caller, arn: &str) -> Result<(), EcsError> {
    let parsed = Arn::parse(arn).ok_or_else(|| EcsError::invalid(format!("Invalid resource ARN '{arn}'.")))?;
    if parsed.service != "ecs" || parsed.region != caller.region || parsed.account != caller.account {
        return Err(EcsError::invalid(format!(
            "The ARN '{arn}' is not an ECS resource of account {} in region {}.",
            caller.account, caller.region
        )));
    }
    let region = state.region(&caller.region);
    match parsed.resource_type.as_str() {
        "cluster" => match region.clusters.get(&parsed.resource) {
            Some(c) if c.status == ClusterStatus::Active => Ok(()),
            _ => Err(EcsError::ClusterNotFound),
        },
        "task-definition" => {
            let r = TaskDefinitionRef::parse(arn)?;
            match r.revision.and_then(|_| r.resolve(region)) {
                Some(_) => Ok(()),
                None => Err(EcsError::ResourceNotFound("The specified resource could not be found.".into())),
            }
        }
        other => Err(EcsError::invalid(format!("Resources of type '{other}' cannot be tagged in berth yet."))),
    }
}

impl Control {
    pub async fn tag_resource(&self, caller: &Caller, req: TagResourceRequest) -> Result<Empty, EcsError> {
        let tags = json::required(&req.tags, "tags")?.clone();
        let arn = json::required(&req.resource_arn, "resourceArn")?.clone();
        if tags.is_empty() {
            return Err(EcsError::invalid("At least one tag is required."));
        }
        tag::validate(&tags)?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            check_resource(state, &caller, &arn)?;
            let merged = tag::merge(&state.tags_of(&caller.region, &arn), &tags)?;
            changes.push(Change::Tags { region: caller.region.clone(), arn, tags: Arc::new(merged) });
            Ok(Empty {})
        })
        .await
    }

    pub async fn untag_resource(&self, caller: &Caller, req: UntagResourceRequest) -> Result<Empty, EcsError> {
        let keys = json::required(&req.tag_keys, "tagKeys")?.clone();
        let arn = json::required(&req.resource_arn, "resourceArn")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            check_resource(state, &caller, &arn)?;
            let mut tags = state.tags_of(&caller.region, &arn);
            tags.retain(|t| !keys.iter().any(|k| Some(k) == t.key.as_ref()));
            changes.push(Change::Tags { region: caller.region.clone(), arn, tags: Arc::new(tags) });
            Ok(Empty {})
        })
        .await
    }

    pub fn list_tags_for_resource(
        &self,
        caller: &Caller,
        req: &ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, EcsError> {
        let arn = json::required(&req.resource_arn, "resourceArn")?;
        self.read(|state| {
            check_resource(state, caller, arn)?;
            Ok(ListTagsForResourceResponse { tags: state.tags_of(&caller.region, arn) })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use berth_model::{ecs::CreateClusterRequest, tag::Tag};

    fn tag(arn: &str, tags: Vec<Tag>) -> TagResourceRequest {
        TagResourceRequest { resource_arn: Some(arn.into()), tags: Some(tags) }
    }

    fn of(arn: &str) -> ListTagsForResourceRequest {
        ListTagsForResourceRequest { resource_arn: Some(arn.into()) }
    }

    #[tokio::test]
    async fn tag_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let control = open(dir.path());
        let c = caller();
        let cluster = control
            .create_cluster(&c, CreateClusterRequest { cluster_name: Some("web".into()), ..Default::default() })
            .await
            .unwrap();
        let arn = cluster.cluster.cluster_arn;
        control.tag_resource(&c, tag(&arn, vec![Tag::new("a", "1"), Tag::new("b", "2")])).await.unwrap();
        control
            .untag_resource(
                &c,
                UntagResourceRequest { resource_arn: Some(arn.clone()), tag_keys: Some(vec!["a".into()]) },
            )
            .await
            .unwrap();
        assert_eq!(control.list_tags_for_resource(&c, &of(&arn)).unwrap().tags, vec![Tag::new("b", "2")]);

        let missing = "arn:aws:ecs:us-east-1:000000000000:cluster/nope".to_string();
        assert_eq!(
            control.tag_resource(&c, tag(&missing, vec![Tag::new("a", "1")])).await.unwrap_err(),
            EcsError::ClusterNotFound
        );
        let other_region = Caller { region: "eu-west-1".into(), ..caller() };
        assert!(control.list_tags_for_resource(&other_region, &of(&arn)).is_err());
    }
}
