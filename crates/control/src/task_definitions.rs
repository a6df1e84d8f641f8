//! Task definition operations: register, describe, list, deregister, delete.

use std::sync::Arc;

use berth_model::{
    ecs::{
        include_tags, DeleteTaskDefinitionsRequest, DeleteTaskDefinitionsResponse, DeregisterTaskDefinitionRequest,
        DescribeTaskDefinitionRequest, ListTaskDefinitionFamiliesRequest, ListTaskDefinitionFamiliesResponse,
        ListTaskDefinitionsRequest, ListTaskDefinitionsResponse, TaskDefinitionResponse,
    },
    json,
    status::{ServiceStatus, TaskDefinitionStatus},
    task::TaskStatus,
    task_definition::{apply_defaults, validate_registration, Registration, TaskDefinition},
    time, Arn, EcsError, Failure,
};

use crate::{state::Change, Caller, Control, Page, PageRequest, RegionState};

/// How a caller names a task definition: `family`, `family:revision` or an ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDefinitionRef {
    pub family: String,
    pub revision: Option<u32>,
}

impl TaskDefinitionRef {
    pub fn parse(s: &str) -> Result<TaskDefinitionRef, EcsError> {
        let bad =
            || EcsError::client(format!("Invalid task definition '{s}': use family, family:revision or its ARN."));
        let body = if s.starts_with("arn:") {
            let arn = Arn::parse(s).filter(|a| a.resource_type == "task-definition").ok_or_else(bad)?;
            arn.resource
        } else {
            s.to_string()
        };
        let (family, revision) = match body.split_once(':') {
            Some((f, r)) => (f.to_string(), Some(r.parse::<u32>().map_err(|_| bad())?)),
            None => (body, None),
        };
        if family.is_empty() || revision == Some(0) {
            return Err(bad());
        }
        Ok(TaskDefinitionRef { family, revision })
    }

    /// The revision this names: the given one, or the family's latest ACTIVE revision.
    pub fn resolve<'s>(&self, region: &'s RegionState) -> Option<&'s Arc<TaskDefinition>> {
        let family = region.families.get(&self.family)?;
        match self.revision {
            Some(r) => family.revisions.get(&r),
            None => family.revisions.values().rev().find(|td| td.status == TaskDefinitionStatus::Active),
        }
    }
}

fn unable_to_describe() -> EcsError {
    EcsError::client("Unable to describe task definition.")
}

impl Control {
    /// RegisterTaskDefinition: validates, then stores the family's next revision.
    pub async fn register_task_definition(
        &self,
        caller: &Caller,
        mut reg: Registration,
    ) -> Result<TaskDefinitionResponse, EcsError> {
        reg.normalize();
        let derived = validate_registration(&reg)?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            let family = reg.family.clone().unwrap_or_default();
            let last = state.region(&caller.region).families.get(&family).map_or(0, |f| f.last_revision);
            let revision = last.checked_add(1).filter(|r| *r <= 1_000_000).ok_or_else(|| {
                EcsError::LimitExceeded(format!("Family '{family}' has reached 1,000,000 revisions."))
            })?;
            let arn = Arn::ecs(&caller.region, &caller.account, "task-definition", &format!("{family}:{revision}"))
                .to_string();
            let mut containers = reg.container_definitions.unwrap_or_default();
            apply_defaults(&mut containers, reg.network_mode.as_deref());
            let td = Arc::new(TaskDefinition {
                task_definition_arn: arn.clone(),
                container_definitions: containers,
                family,
                task_role_arn: reg.task_role_arn,
                execution_role_arn: reg.execution_role_arn,
                network_mode: reg.network_mode,
                revision,
                volumes: reg.volumes,
                status: TaskDefinitionStatus::Active,
                requires_attributes: derived.requires_attributes,
                placement_constraints: reg.placement_constraints,
                compatibilities: derived.compatibilities,
                runtime_platform: reg.runtime_platform,
                requires_compatibilities: reg.requires_compatibilities,
                cpu: derived.cpu,
                memory: derived.memory,
                inference_accelerators: reg.inference_accelerators,
                pid_mode: reg.pid_mode,
                ipc_mode: reg.ipc_mode,
                proxy_configuration: reg.proxy_configuration,
                registered_at: time::now(),
                registered_by: Some(caller.principal_arn()),
                ephemeral_storage: reg.ephemeral_storage,
                enable_fault_injection: reg.enable_fault_injection,
                ..Default::default()
            });
            let tags = reg.tags;
            if !tags.is_empty() {
                changes.push(Change::Tags { region: caller.region.clone(), arn, tags: Arc::new(tags.clone()) });
            }
            changes.push(Change::TaskDefinition { region: caller.region.clone(), task_definition: td.clone() });
            Ok(TaskDefinitionResponse { task_definition: td, tags: (!tags.is_empty()).then_some(tags) })
        })
        .await
    }

    /// DescribeTaskDefinition. Any revision can be described by number; a bare family
    /// means its latest ACTIVE revision.
    pub fn describe_task_definition(
        &self,
        caller: &Caller,
        req: &DescribeTaskDefinitionRequest,
    ) -> Result<TaskDefinitionResponse, EcsError> {
        let with_tags = include_tags(&req.include)?;
        let r = TaskDefinitionRef::parse(json::required(&req.task_definition, "taskDefinition")?)?;
        self.read(|state| {
            let region = state.region(&caller.region);
            let td = r.resolve(region).ok_or_else(unable_to_describe)?.clone();
            let tags = with_tags.then(|| state.tags_of(&caller.region, &td.task_definition_arn));
            Ok(TaskDefinitionResponse { task_definition: td, tags })
        })
    }

    /// ListTaskDefinitions: ARNs by family then revision. `familyPrefix` names one family
    /// exactly, as in ECS; `status` defaults to ACTIVE.
    pub fn list_task_definitions(
        &self,
        caller: &Caller,
        req: &ListTaskDefinitionsRequest,
    ) -> Result<ListTaskDefinitionsResponse, EcsError> {
        let descending = match req.sort.as_deref() {
            None | Some("ASC") => false,
            Some("DESC") => true,
            Some(other) => return Err(EcsError::invalid(format!("Invalid sort '{other}': use ASC or DESC."))),
        };
        let page = PageRequest::of(&req.next_token, req.max_results);
        let requested = req.status.as_deref().unwrap_or(TaskDefinitionStatus::Active.as_str());
        let Some(status) = TaskDefinitionStatus::parse(requested) else {
            let status = requested;
            return Err(EcsError::invalid(format!(
                "Invalid status '{status}': use ACTIVE, INACTIVE or DELETE_IN_PROGRESS."
            )));
        };
        self.read(|state| {
            let families = state.region(&caller.region).families.iter();
            let families = families.filter(|(name, _)| req.family_prefix.as_deref().is_none_or(|p| p == name.as_str()));
            let tds = families
                .flat_map(|(_, f)| f.revisions.values())
                .filter(|td| td.status == status)
                .map(|td| (format!("{}:{:010}", td.family, td.revision), td.task_definition_arn.clone()));
            if descending {
                page.page(100, false, tds.collect::<Vec<_>>().into_iter().rev())
            } else {
                page.page(100, true, tds)
            }
        })
        .map(|Page { items, next_token }| ListTaskDefinitionsResponse { task_definition_arns: items, next_token })
    }

    /// ListTaskDefinitionFamilies: ACTIVE = has an ACTIVE revision, INACTIVE = has none, ALL.
    pub fn list_task_definition_families(
        &self,
        caller: &Caller,
        req: &ListTaskDefinitionFamiliesRequest,
    ) -> Result<ListTaskDefinitionFamiliesResponse, EcsError> {
        let prefix = req.family_prefix.as_deref();
        let page = PageRequest::of(&req.next_token, req.max_results);
        let status = req.status.as_deref().unwrap_or(TaskDefinitionStatus::Active.as_str());
        if !["ACTIVE", "INACTIVE", "ALL"].contains(&status) {
            return Err(EcsError::invalid(format!("Invalid status '{status}': use ACTIVE, INACTIVE or ALL.")));
        }
        self.read(|state| {
            let families = state.region(&caller.region).families.iter().filter(|(name, f)| {
                let active = f.revisions.values().any(|td| td.status == TaskDefinitionStatus::Active);
                !f.revisions.is_empty()
                    && prefix.is_none_or(|p| name.starts_with(p))
                    && match status {
                        "ACTIVE" => active,
                        "INACTIVE" => !active,
                        _ => true,
                    }
            });
            page.page(100, true, families.map(|(name, _)| (name.clone(), name.clone())))
        })
        .map(|Page { items, next_token }| ListTaskDefinitionFamiliesResponse { families: items, next_token })
    }

    /// DeregisterTaskDefinition: the revision becomes INACTIVE (it stays describable).
    pub async fn deregister_task_definition(
        &self,
        caller: &Caller,
        req: DeregisterTaskDefinitionRequest,
    ) -> Result<TaskDefinitionResponse, EcsError> {
        let reference = json::required(&req.task_definition, "taskDefinition")?;
        // ECS's own words for a reference without a usable revision.
        let named = reference.rsplit_once("task-definition/").map_or(reference.as_str(), |(_, n)| n);
        match named.split_once(':') {
            None => return Err(EcsError::client("Revision is missing.")),
            Some((_, revision)) if revision.parse::<u32>().is_err() => {
                return Err(EcsError::client(format!("Invalid revision number. Number: {revision}")))
            }
            Some(_) => {}
        }
        let r = TaskDefinitionRef::parse(reference)?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            let td = r.resolve(state.region(&caller.region)).ok_or_else(unable_to_describe)?;
            if td.status != TaskDefinitionStatus::Active {
                return Ok(td.clone());
            }
            let mut inactive = (**td).clone();
            inactive.status = TaskDefinitionStatus::Inactive;
            inactive.deregistered_at = Some(time::now());
            let inactive = Arc::new(inactive);
            changes.push(Change::TaskDefinition { region: caller.region.clone(), task_definition: inactive.clone() });
            Ok(inactive)
        })
        .await
        .map(|task_definition| TaskDefinitionResponse { task_definition, tags: None })
    }

    /// DeleteTaskDefinitions: up to 10 INACTIVE revisions go to DELETE_IN_PROGRESS.
    /// Revisions are never reused, deleted or not.
    pub async fn delete_task_definitions(
        &self,
        caller: &Caller,
        req: DeleteTaskDefinitionsRequest,
    ) -> Result<DeleteTaskDefinitionsResponse, EcsError> {
        let references = json::required(&req.task_definitions, "taskDefinitions")?.clone();
        if references.is_empty() || references.len() > 10 {
            return Err(EcsError::invalid("DeleteTaskDefinitions takes 1 to 10 task definitions."));
        }
        let caller = caller.clone();
        self.write(move |state, changes| {
            let region = state.region(&caller.region);
            let mut deleted = Vec::new();
            let mut failures = Vec::new();
            for reference in &references {
                let td = match TaskDefinitionRef::parse(reference) {
                    Ok(r) if r.revision.is_some() => r.resolve(region),
                    _ => {
                        failures.push(Failure {
                            detail: Some("A revision is required (family:revision).".into()),
                            ..Failure::new(reference.clone(), "INVALID")
                        });
                        continue;
                    }
                };
                match td {
                    None => failures.push(Failure::new(reference.clone(), "MISSING")),
                    Some(td) if td.status == TaskDefinitionStatus::Active => failures.push(Failure {
                        detail: Some("The task definition is ACTIVE: deregister it before deleting it.".into()),
                        ..Failure::new(td.task_definition_arn.clone(), "TASK_DEFINITION_NOT_INACTIVE")
                    }),
                    Some(td) if td.status == TaskDefinitionStatus::DeleteInProgress => deleted.push(td.clone()),
                    Some(td) => {
                        let mut d = (**td).clone();
                        d.status = TaskDefinitionStatus::DeleteInProgress;
                        d.delete_requested_at = Some(time::now());
                        let d = Arc::new(d);
                        changes
                            .push(Change::TaskDefinition { region: caller.region.clone(), task_definition: d.clone() });
                        deleted.push(d);
                    }
                }
            }
            Ok(DeleteTaskDefinitionsResponse { task_definitions: deleted, failures })
        })
        .await
    }
}

impl Control {
    /// Forgets DELETE_IN_PROGRESS revisions that no task that has not STOPPED and no
    /// service that is not INACTIVE uses any more (ECS: the deletion finishes once the
    /// tasks and services that reference the revision are gone). Returns how many went.
    pub async fn forget_deleted_task_definitions(&self) -> Result<usize, EcsError> {
        self.write(|state, changes| {
            let mut n = 0;
            for (region, r) in state.regions() {
                let mut in_use: std::collections::HashSet<&str> = r
                    .tasks
                    .values()
                    .filter(|t| t.task.last() != TaskStatus::Stopped)
                    .map(|t| t.task.task_definition_arn.as_str())
                    .collect();
                for svc in r.services.values().filter(|s| s.service.status != ServiceStatus::Inactive) {
                    in_use.insert(svc.service.task_definition.as_str());
                    in_use.extend(svc.service.deployments.iter().map(|d| d.task_definition.as_str()));
                    in_use.extend(svc.last_completed.iter().map(|(_, td)| td.as_str()));
                }
                for (family, f) in &r.families {
                    for td in f.revisions.values().filter(|td| td.status == TaskDefinitionStatus::DeleteInProgress) {
                        if in_use.contains(td.task_definition_arn.as_str()) {
                            continue;
                        }
                        changes.push(Change::FamilyRevision {
                            region: region.clone(),
                            family: family.clone(),
                            last_revision: f.last_revision,
                        });
                        changes.push(Change::Tags {
                            region: region.clone(),
                            arn: td.task_definition_arn.clone(),
                            tags: Arc::new(Vec::new()),
                        });
                        changes.push(Change::ForgetTaskDefinition {
                            region: region.clone(),
                            family: family.clone(),
                            revision: td.revision,
                        });
                        n += 1;
                    }
                }
            }
            Ok(n)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deregister(reference: &str) -> DeregisterTaskDefinitionRequest {
        DeregisterTaskDefinitionRequest { task_definition: Some(reference.into()) }
    }

    fn describe(reference: &str) -> DescribeTaskDefinitionRequest {
        DescribeTaskDefinitionRequest { task_definition: Some(reference.into()), include: Vec::new() }
    }

    fn families(prefix: Option<&str>, status: Option<&str>) -> ListTaskDefinitionFamiliesRequest {
        ListTaskDefinitionFamiliesRequest {
            family_prefix: prefix.map(String::from),
            status: status.map(String::from),
            ..Default::default()
        }
    }
    use crate::test_support::*;

    fn reg(family: &str) -> Registration {
        serde_json::from_value(serde_json::json!({
            "family": family, "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 64}]
        }))
        .unwrap()
    }

    #[test]
    fn references() {
        assert_eq!(
            TaskDefinitionRef::parse("web").unwrap(),
            TaskDefinitionRef { family: "web".into(), revision: None }
        );
        assert_eq!(
            TaskDefinitionRef::parse("arn:aws:ecs:us-east-1:1:task-definition/web:3").unwrap().revision,
            Some(3)
        );
        assert!(TaskDefinitionRef::parse("web:x").is_err());
        assert!(TaskDefinitionRef::parse("web:0").is_err());
    }

    #[tokio::test]
    async fn revisions_count_up_and_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let control = open(dir.path());
        let c = caller();
        for expected in 1..=3 {
            let td = control.register_task_definition(&c, reg("web")).await.unwrap();
            assert_eq!(td.task_definition.revision, expected);
        }
        control.deregister_task_definition(&c, deregister("web:3")).await.unwrap();
        assert_eq!(control.describe_task_definition(&c, &describe("web")).unwrap().task_definition.revision, 2);
        let DeleteTaskDefinitionsResponse { task_definitions: deleted, failures } = control
            .delete_task_definitions(
                &c,
                DeleteTaskDefinitionsRequest {
                    task_definitions: Some(vec!["web:3".into(), "web:1".into(), "web:9".into()]),
                },
            )
            .await
            .unwrap();
        assert_eq!(deleted[0].status, TaskDefinitionStatus::DeleteInProgress);
        assert_eq!(failures.len(), 2);
        assert_eq!(control.register_task_definition(&c, reg("web")).await.unwrap().task_definition.revision, 4);
        let all = ListTaskDefinitionsRequest::default();
        assert_eq!(control.list_task_definitions(&c, &all).unwrap().task_definition_arns.len(), 3);
        let fams = control.list_task_definition_families(&c, &families(Some("w"), None)).unwrap();
        assert_eq!(fams.families, vec!["web".to_string()]);
    }

    #[tokio::test]
    async fn deleted_revisions_go_once_nothing_uses_them_and_their_numbers_stay_taken() {
        let dir = tempfile::tempdir().unwrap();
        let control = open(dir.path());
        let c = caller();
        cluster_with_instances(&control, &["a"], 4096, 2).await;
        let req = berth_model::ecs::RunTaskRequest {
            cluster: Some("c".into()),
            task_definition: Some("web:1".into()),
            ..Default::default()
        };
        let tasks = control.run_task(&c, req).await.unwrap().tasks;
        for r in ["web:1", "web:2"] {
            control.deregister_task_definition(&c, deregister(r)).await.unwrap();
        }
        control
            .delete_task_definitions(
                &c,
                DeleteTaskDefinitionsRequest { task_definitions: Some(vec!["web:1".into(), "web:2".into()]) },
            )
            .await
            .unwrap();

        // web:2 is used by nothing: it goes. web:1 still has a task that has not stopped.
        assert_eq!(control.forget_deleted_task_definitions().await.unwrap(), 1);
        let gone = control.describe_task_definition(&c, &describe("web:2")).unwrap_err();
        assert_eq!(gone.to_string(), "Unable to describe task definition.");
        let kept = control.describe_task_definition(&c, &describe("web:1")).unwrap();
        assert_eq!(kept.task_definition.status, TaskDefinitionStatus::DeleteInProgress);
        assert_eq!(control.forget_deleted_task_definitions().await.unwrap(), 0, "the task still uses web:1");

        let stopped = berth_model::task::TaskStateChange {
            task: Some(tasks[0].task_arn.clone()),
            status: Some(TaskStatus::Stopped),
            ..Default::default()
        };
        control.submit_task_state_change(c.region.clone(), None, stopped).await.unwrap();
        assert_eq!(control.forget_deleted_task_definitions().await.unwrap(), 1);
        assert!(control.describe_task_definition(&c, &describe("web:1")).is_err());
        let all = control.list_task_definition_families(&c, &families(None, Some("ALL"))).unwrap();
        assert!(all.families.is_empty(), "a family with no revisions left is not listed: {:?}", all.families);

        // After a restart the next revision is still 3, not 1.
        drop(control);
        let control = open(dir.path());
        assert_eq!(control.register_task_definition(&c, reg("web")).await.unwrap().task_definition.revision, 3);
    }

    #[tokio::test]
    async fn concurrent_registrations_get_distinct_revisions() {
        let dir = tempfile::tempdir().unwrap();
        let control = open(dir.path());
        let mut handles = Vec::new();
        for _ in 0..50 {
            let control = control.clone();
            handles.push(tokio::spawn(async move {
                control.register_task_definition(&caller(), reg("web")).await.unwrap().task_definition.revision
            }));
        }
        let mut revs = Vec::new();
        for h in handles {
            revs.push(h.await.unwrap());
        }
        revs.sort();
        assert_eq!(revs, (1..=50).collect::<Vec<_>>());
    }
}
