//! PutAttributes, DeleteAttributes, ListAttributes on container instances.

use std::sync::Arc;

use berth_model::{
    container_instance::Attribute,
    ecs::{AttributesRequest, AttributesResponse, ListAttributesRequest, ListAttributesResponse},
    json,
    status::InstanceStatus,
    EcsError,
};

use crate::{clusters::active_cluster, instances::find_instance, state::Change, Caller, Control, Page, PageRequest};

fn check_target(a: &Attribute) -> Result<&str, EcsError> {
    if a.target_type.as_deref().is_some_and(|t| t != "container-instance") {
        return Err(EcsError::invalid(format!(
            "Invalid targetType '{}': only container-instance is supported.",
            a.target_type.as_deref().unwrap_or_default()
        )));
    }
    a.target_id
        .as_deref()
        .ok_or_else(|| EcsError::invalid(format!("Attribute '{}' needs a targetId (the container instance).", a.name)))
}

impl Control {
    /// PutAttributes (`put`) or DeleteAttributes: every attribute names its instance.
    pub async fn change_attributes(
        &self,
        caller: &Caller,
        req: AttributesRequest,
        put: bool,
    ) -> Result<AttributesResponse, EcsError> {
        let attributes = json::required(&req.attributes, "attributes")?.clone();
        let cluster = req.cluster;
        if attributes.is_empty() {
            return Err(EcsError::invalid("attributes must not be empty."));
        }
        for a in &attributes {
            berth_model::container_instance::validate_attribute(a)?;
            check_target(a)?;
        }
        let caller = caller.clone();
        self.write(move |state, changes| {
            let cluster = active_cluster(state, &caller, cluster.as_deref())?.cluster_name.clone();
            let region = state.region(&caller.region);
            let mut updated: Vec<(String, crate::InstanceRecord)> = Vec::new();
            for a in &attributes {
                let target = check_target(a)?;
                let rec = find_instance(region, &cluster, target).ok_or_else(|| {
                    EcsError::invalid(format!(
                        "Container instance '{target}' is not registered in cluster '{cluster}'."
                    ))
                })?;
                let arn = rec.instance.container_instance_arn.clone();
                let pos = match updated.iter().position(|(a, _)| *a == arn) {
                    Some(p) => p,
                    None => {
                        updated.push((arn, (**rec).clone()));
                        updated.len() - 1
                    }
                };
                let instance = &mut updated[pos].1.instance;
                instance.attributes.retain(|x| x.name != a.name);
                if put {
                    instance.attributes.push(Attribute {
                        name: a.name.clone(),
                        value: a.value.clone(),
                        target_type: None,
                        target_id: None,
                    });
                }
            }
            for (_, mut rec) in updated {
                let custom = rec
                    .instance
                    .attributes
                    .iter()
                    .filter(|a| berth_model::container_instance::is_custom_attribute(&a.name))
                    .count();
                if custom > berth_model::container_instance::MAX_CUSTOM_ATTRIBUTES {
                    return Err(EcsError::AttributeLimitExceeded(format!(
                        "A container instance can have at most 10 custom attributes; this would give it {custom}."
                    )));
                }
                rec.instance.version += 1;
                changes.push(Change::Instance { region: caller.region.clone(), record: Arc::new(rec) });
            }
            Ok(AttributesResponse { attributes })
        })
        .await
    }

    /// ListAttributes: the attributes of the cluster's instances, optionally by name/value.
    pub fn list_attributes(
        &self,
        caller: &Caller,
        req: &ListAttributesRequest,
    ) -> Result<ListAttributesResponse, EcsError> {
        let target_type = json::required(&req.target_type, "targetType")?;
        let (cluster, name, value) =
            (req.cluster.as_deref(), req.attribute_name.as_deref(), req.attribute_value.as_deref());
        let page = PageRequest::of(&req.next_token, req.max_results);
        if target_type != "container-instance" {
            return Err(EcsError::invalid(format!(
                "Invalid targetType '{target_type}': only container-instance is supported."
            )));
        }
        if value.is_some() && name.is_none() {
            return Err(EcsError::invalid("attributeValue can only be given with attributeName."));
        }
        self.read(|state| {
            let cluster = active_cluster(state, caller, cluster)?.cluster_name.clone();
            let region = state.region(&caller.region);
            let mut items = Vec::new();
            for rec in region
                .instances
                .values()
                .filter(|r| r.cluster == cluster && r.instance.status != InstanceStatus::Inactive)
            {
                let arn = &rec.instance.container_instance_arn;
                for a in &rec.instance.attributes {
                    if name.is_some_and(|n| n != a.name) || value.is_some_and(|v| Some(v) != a.value.as_deref()) {
                        continue;
                    }
                    let attr = Attribute {
                        target_type: Some("container-instance".into()),
                        target_id: Some(arn.clone()),
                        ..a.clone()
                    };
                    items.push((format!("{arn} {}", a.name), attr));
                }
            }
            page.page(100, true, items.into_iter())
        })
        .map(|Page { items, next_token }| ListAttributesResponse { attributes: items, next_token })
    }
}
