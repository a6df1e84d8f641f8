//! TagResource, UntagResource, ListTagsForResource, and tag lookup for other operations.

use std::sync::Arc;

use berth_model::{
    ecs::{Empty, ListTagsForResourceRequest, ListTagsForResourceResponse, TagResourceRequest, UntagResourceRequest},
    json,
    status::{ClusterStatus, InstanceStatus, ServiceStatus},
    tag, Arn, EcsError,
};

use crate::{state::Change, task_definitions::TaskDefinitionRef, Caller, Control, State};

fn not_found() -> EcsError {
    EcsError::ResourceNotFound("The specified resource could not be found.".into())
}

/// Checks that `arn` names an existing taggable resource in the caller's region: a
/// cluster, a task definition revision, a service, a task or a container instance.
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
                None => Err(not_found()),
            }
        }
        "service" => {
            let (cluster, name) = parsed.resource.split_once('/').ok_or_else(not_found)?;
            match region.clusters.get(cluster) {
                Some(c) if c.status == ClusterStatus::Active => {}
                _ => return Err(EcsError::ClusterNotFound),
            }
            match crate::services::find_service(region, cluster, name) {
                Some(s) if s.service.status != ServiceStatus::Inactive && s.service.service_arn == arn => Ok(()),
                _ => Err(not_found()),
            }
        }
        "task" => region.tasks.get(arn).map(|_| ()).ok_or_else(not_found),
        "container-instance" => match region.instances.get(arn) {
            Some(i) if i.instance.status != InstanceStatus::Inactive => Ok(()),
            _ => Err(not_found()),
        },
        "capacity-provider" => match region.capacity_providers.get(&parsed.resource) {
            Some(p) if p.status == berth_model::capacity_provider::CapacityProviderStatus::Active => Ok(()),
            _ => Err(not_found()),
        },
        other => Err(EcsError::invalid(format!("Resources of type '{other}' cannot be tagged in berth yet."))),
    }
}

/// The tags of `arn`: a container instance keeps its own in its record (they come with
/// its registration); every other resource's are in the tag store.
fn tags_of(state: &State, region: &str, arn: &str) -> Vec<berth_model::tag::Tag> {
    match state.region(region).instances.get(arn) {
        Some(rec) => rec.instance.tags.clone(),
        None => state.tags_of(region, arn),
    }
}

/// Records `tags` as the full tag set of `arn`.
fn put_tags(state: &State, region: &str, arn: String, tags: Vec<berth_model::tag::Tag>, changes: &mut Vec<Change>) {
    match state.region(region).instances.get(&arn) {
        Some(rec) => {
            let mut next = rec.as_ref().clone();
            next.instance.tags = tags;
            next.instance.version += 1;
            changes.push(Change::Instance { region: region.to_string(), record: Arc::new(next) });
        }
        None => changes.push(Change::Tags { region: region.to_string(), arn, tags: Arc::new(tags) }),
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
            let merged = tag::merge(&tags_of(state, &caller.region, &arn), &tags)?;
            put_tags(state, &caller.region, arn, merged, changes);
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
            let mut tags = tags_of(state, &caller.region, &arn);
            tags.retain(|t| !keys.iter().any(|k| Some(k) == t.key.as_ref()));
            put_tags(state, &caller.region, arn, tags, changes);
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
            Ok(ListTagsForResourceResponse { tags: tags_of(state, &caller.region, arn) })
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

    #[tokio::test]
    async fn services_tasks_and_container_instances_take_tags() {
        use berth_model::ecs::RunTaskRequest;
        let dir = tempfile::tempdir().unwrap();
        let control = open(dir.path());
        let c = caller();
        cluster_with_instances(&control, &["a"], 4096, 1).await;
        let service = control.create_service(&c, web_service(0)).await.unwrap().service.service_arn;
        let run =
            RunTaskRequest { cluster: Some("c".into()), task_definition: Some("web:1".into()), ..Default::default() };
        let task = control.run_task(&c, run).await.unwrap().tasks[0].task_arn.clone();
        let instance = control.read(|s| s.region("us-east-1").instances.keys().next().unwrap().clone());
        for arn in [&service, &task, &instance] {
            control.tag_resource(&c, tag(arn, vec![Tag::new("team", "web"), Tag::new("tier", "1")])).await.unwrap();
            let keys = Some(vec!["tier".to_string()]);
            control
                .untag_resource(&c, UntagResourceRequest { resource_arn: Some(arn.clone()), tag_keys: keys })
                .await
                .unwrap();
            assert_eq!(
                control.list_tags_for_resource(&c, &of(arn)).unwrap().tags,
                vec![Tag::new("team", "web")],
                "{arn}"
            );
        }
        // A container instance's tags are the ones DescribeContainerInstances shows.
        let shown = control.read(|s| s.region("us-east-1").instances[&instance].instance.tags.clone());
        assert_eq!(shown, vec![Tag::new("team", "web")]);
        let missing = service.replace("/web", "/nope");
        let err = control.tag_resource(&c, tag(&missing, vec![Tag::new("a", "1")])).await.unwrap_err();
        assert_eq!(err.code(), "ResourceNotFoundException");
    }
}
