//! Cluster operations: create, describe, list, update, delete.

use std::sync::Arc;

use berth_model::{
    cluster::{self, Cluster, ClusterSetting, DEFAULT_CLUSTER},
    ecs::{
        ClusterResponse, CreateClusterRequest, DeleteClusterRequest, DescribeClustersRequest, DescribeClustersResponse,
        ListClustersRequest, ListClustersResponse, UpdateClusterRequest,
    },
    json,
    status::{ClusterStatus, InstanceStatus, ServiceStatus},
    tag,
    task::TaskStatus,
    Arn, EcsError, Failure, KeyValuePair,
};

use crate::{settings, state::Change, Caller, Control, Page, PageRequest, State};

/// The optional parts of a cluster DescribeClusters adds on request (`include`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ClusterInclude {
    pub settings: bool,
    pub statistics: bool,
    pub tags: bool,
    pub configurations: bool,
}

impl ClusterInclude {
    /// Everything: what Create/Update/Delete return.
    pub const ALL: ClusterInclude =
        ClusterInclude { settings: true, statistics: false, tags: true, configurations: true };

    /// DescribeClusters' `include`, with ECS's error for a value it does not know.
    pub fn parse(include: &[String]) -> Result<ClusterInclude, EcsError> {
        let mut out = ClusterInclude::default();
        for field in include {
            match field.as_str() {
                "SETTINGS" => out.settings = true,
                "STATISTICS" => out.statistics = true,
                "TAGS" => out.tags = true,
                "CONFIGURATIONS" => out.configurations = true,
                "ATTACHMENTS" => {}
                other => {
                    return Err(EcsError::invalid(format!(
                    "Invalid include value '{other}': use ATTACHMENTS, CONFIGURATIONS, SETTINGS, STATISTICS or TAGS."
                )))
                }
            }
        }
        Ok(out)
    }
}

pub fn cluster_arn(caller: &Caller, name: &str) -> String {
    Arn::ecs(&caller.region, &caller.account, "cluster", name).to_string()
}

/// The ACTIVE cluster a request names (by name or ARN; `None` means `default`).
pub fn active_cluster<'s>(
    state: &'s State,
    caller: &Caller,
    reference: Option<&str>,
) -> Result<&'s Arc<Cluster>, EcsError> {
    let reference = reference.unwrap_or(DEFAULT_CLUSTER);
    let checked;
    let name = if reference.starts_with("arn:") {
        checked = berth_model::arn::checked(reference, "cluster", &caller.region, &caller.account)?;
        checked.resource.as_str()
    } else {
        reference
    };
    match state.region(&caller.region).clusters.get(name) {
        None => Err(EcsError::ClusterNotFound),
        Some(c) if c.status != ClusterStatus::Active => {
            Err(EcsError::invalid("The specified cluster is inactive. Specify an active cluster and try again."))
        }
        Some(c) => Ok(c),
    }
}

/// A copy of `c` carrying the parts `include` asks for.
pub(crate) fn view(state: &State, caller: &Caller, c: &Cluster, include: ClusterInclude) -> Cluster {
    let mut out = c.clone();
    let region = state.region(&caller.region);
    out.registered_container_instances_count = region
        .instances
        .values()
        .filter(|i| i.cluster == c.cluster_name && i.instance.status != InstanceStatus::Inactive)
        .count() as i64;
    let tasks = region.tasks.values().filter(|t| t.cluster == c.cluster_name);
    // [running, pending] by [EC2, Fargate].
    let mut counts = [[0i64; 2]; 2];
    for t in tasks {
        let fargate = usize::from(t.task.launch_type == berth_model::capacity_provider::LaunchType::Fargate.as_str());
        match t.task.last() {
            TaskStatus::Running => counts[fargate][0] += 1,
            s if s < TaskStatus::Running => counts[fargate][1] += 1,
            _ => {}
        }
    }
    out.running_tasks_count = counts[0][0] + counts[1][0];
    out.pending_tasks_count = counts[0][1] + counts[1][1];
    // [active, draining] services by [EC2, Fargate].
    let mut services = [[0i64; 2]; 2];
    for s in region.services.values().filter(|s| s.cluster == c.cluster_name) {
        let fargate = usize::from(s.service.launch.is_fargate());
        match s.service.status {
            ServiceStatus::Active => services[fargate][0] += 1,
            ServiceStatus::Draining => services[fargate][1] += 1,
            _ => {}
        }
    }
    out.active_services_count = region
        .services
        .values()
        .filter(|s| s.cluster == c.cluster_name && s.service.status == ServiceStatus::Active)
        .count() as i64;
    if include.tags {
        out.tags = state.tags_of(&caller.region, &c.cluster_arn);
    }
    if !include.settings {
        out.settings.clear();
    }
    if !include.configurations {
        out.configuration = None;
    }
    if include.statistics {
        out.statistics = [
            ("runningEC2TasksCount", counts[0][0]),
            ("runningFargateTasksCount", counts[1][0]),
            ("pendingEC2TasksCount", counts[0][1]),
            ("pendingFargateTasksCount", counts[1][1]),
            // berth runs no EXTERNAL launch type: ECS's External counters are zero.
            ("runningExternalTasksCount", 0),
            ("pendingExternalTasksCount", 0),
            ("activeEC2ServiceCount", services[0][0]),
            ("activeFargateServiceCount", services[1][0]),
            ("activeExternalServiceCount", 0),
            ("drainingEC2ServiceCount", services[0][1]),
            ("drainingFargateServiceCount", services[1][1]),
            ("drainingExternalServiceCount", 0),
        ]
        .iter()
        .map(|(n, v)| KeyValuePair { name: Some((*n).into()), value: Some(v.to_string()) })
        .collect();
    }
    out
}

impl Control {
    /// CreateCluster. Creating a cluster that already exists returns it unchanged, as ECS does.
    pub async fn create_cluster(
        &self,
        caller: &Caller,
        req: CreateClusterRequest,
    ) -> Result<ClusterResponse, EcsError> {
        let name = req.cluster_name.clone().unwrap_or_else(|| DEFAULT_CLUSTER.into());
        cluster::validate_name(&name)?;
        cluster::validate_settings(&req.settings)?;
        tag::validate(&req.tags)?;
        if req.tags.len() > tag::MAX_TAGS {
            return Err(EcsError::invalid("A cluster can have at most 50 tags."));
        }
        let caller = caller.clone();
        self.write(move |state, changes| {
            let region = state.region(&caller.region);
            if let Some(existing) = region.clusters.get(&name).filter(|c| c.status == ClusterStatus::Active) {
                return Ok(view(state, &caller, existing, ClusterInclude::ALL));
            }
            let capacity_providers = crate::capacity_providers::check_cluster_providers(
                &caller,
                region,
                &name,
                &req.capacity_providers,
                &req.default_capacity_provider_strategy,
            )?;
            let insights = settings::effective(state, &caller, "containerInsights");
            let settings = cluster::merge_settings(
                &[ClusterSetting { name: Some("containerInsights".into()), value: Some(insights) }],
                &req.settings,
            );
            let cluster = Cluster {
                cluster_arn: cluster_arn(&caller, &name),
                cluster_name: name,
                configuration: req.configuration,
                status: ClusterStatus::Active,
                settings,
                capacity_providers,
                default_capacity_provider_strategy: req.default_capacity_provider_strategy,
                service_connect_defaults: req.service_connect_defaults,
                ..Default::default()
            };
            let mut out = cluster.clone();
            out.tags = req.tags.clone();
            changes.push(Change::Tags {
                region: caller.region.clone(),
                arn: cluster.cluster_arn.clone(),
                tags: Arc::new(req.tags),
            });
            changes.push(Change::Cluster { region: caller.region.clone(), cluster: Arc::new(cluster) });
            Ok(out)
        })
        .await
        .map(|cluster| ClusterResponse { cluster })
    }

    /// DescribeClusters: known clusters (ACTIVE or INACTIVE) and a MISSING failure for the rest.
    pub fn describe_clusters(
        &self,
        caller: &Caller,
        req: &DescribeClustersRequest,
    ) -> Result<DescribeClustersResponse, EcsError> {
        let include = ClusterInclude::parse(&req.include)?;
        let references = &req.clusters[..];
        if references.len() > 100 {
            return Err(EcsError::invalid("DescribeClusters accepts at most 100 clusters."));
        }
        let default = [DEFAULT_CLUSTER.to_string()];
        let references = if references.is_empty() { &default[..] } else { references };
        Ok(self.read(|state| {
            let region = state.region(&caller.region);
            let mut found = Vec::new();
            let mut failures = Vec::new();
            for reference in references {
                let name = berth_model::arn::cluster_name_from(reference);
                match region.clusters.get(name) {
                    Some(c) => found.push(view(state, caller, c, include)),
                    None => failures.push(Failure::new(cluster_arn(caller, name), "MISSING")),
                }
            }
            DescribeClustersResponse { clusters: found, failures }
        }))
    }

    /// ListClusters: ARNs of the ACTIVE clusters, by name.
    pub fn list_clusters(&self, caller: &Caller, req: &ListClustersRequest) -> Result<ListClustersResponse, EcsError> {
        let page = PageRequest::of(&req.next_token, req.max_results);
        let Page { items, next_token } = self.read(|state| {
            let clusters = state.region(&caller.region).clusters.values();
            let active = clusters.filter(|c| c.status == ClusterStatus::Active);
            page.page(100, true, active.map(|c| (c.cluster_name.clone(), c.cluster_arn.clone())))
        })?;
        Ok(ListClustersResponse { cluster_arns: items, next_token })
    }

    /// UpdateClusterSettings: UpdateCluster with `settings` required.
    pub async fn update_cluster_settings(
        &self,
        caller: &Caller,
        req: UpdateClusterRequest,
    ) -> Result<ClusterResponse, EcsError> {
        json::required(&req.settings, "settings")?;
        self.update_cluster(caller, UpdateClusterRequest { configuration: None, service_connect_defaults: None, ..req })
            .await
    }

    /// UpdateCluster.
    pub async fn update_cluster(
        &self,
        caller: &Caller,
        req: UpdateClusterRequest,
    ) -> Result<ClusterResponse, EcsError> {
        let reference = json::required(&req.cluster, "cluster")?.clone();
        if let Some(s) = &req.settings {
            cluster::validate_settings(s)?;
        }
        let caller = caller.clone();
        self.write(move |state, changes| {
            let mut cluster = (**active_cluster(state, &caller, Some(&reference))?).clone();
            if let Some(s) = &req.settings {
                cluster.settings = cluster::merge_settings(&cluster.settings, s);
            }
            if let Some(c) = req.configuration {
                cluster.configuration = Some(c);
            }
            if let Some(s) = req.service_connect_defaults {
                cluster.service_connect_defaults = Some(s);
            }
            let out = view(state, &caller, &cluster, ClusterInclude::ALL);
            changes.push(Change::Cluster { region: caller.region.clone(), cluster: Arc::new(cluster) });
            Ok(ClusterResponse { cluster: out })
        })
        .await
    }

    /// DeleteCluster: refused while the cluster holds instances, services or tasks; the
    /// cluster then stays describable as INACTIVE.
    pub async fn delete_cluster(
        &self,
        caller: &Caller,
        req: DeleteClusterRequest,
    ) -> Result<ClusterResponse, EcsError> {
        let reference = json::required(&req.cluster, "cluster")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            let name = berth_model::arn::cluster_name_from(&reference);
            let cluster = match state.region(&caller.region).clusters.get(name) {
                Some(c) if c.status == ClusterStatus::Active => c,
                _ => return Err(EcsError::ClusterNotFound),
            };
            let counted = view(state, &caller, cluster, ClusterInclude::default());
            if counted.registered_container_instances_count > 0 {
                return Err(EcsError::ClusterContainsContainerInstances(
                    "The Cluster cannot be deleted while Container Instances are active or draining.".into(),
                ));
            }
            if counted.active_services_count > 0 {
                return Err(EcsError::ClusterContainsServices(
                    "The Cluster cannot be deleted while Services are active.".into(),
                ));
            }
            if counted.running_tasks_count + counted.pending_tasks_count > 0 {
                return Err(EcsError::ClusterContainsTasks(
                    "The Cluster cannot be deleted while Tasks are active.".into(),
                ));
            }
            let mut deleted = view(state, &caller, cluster, ClusterInclude::ALL);
            deleted.status = ClusterStatus::Inactive;
            let mut stored = (**cluster).clone();
            stored.status = ClusterStatus::Inactive;
            changes.push(Change::Cluster { region: caller.region.clone(), cluster: Arc::new(stored) });
            Ok(ClusterResponse { cluster: deleted })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use berth_model::tag::Tag;

    #[tokio::test]
    async fn lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let control = open(dir.path());
        let c = caller();
        let created = control
            .create_cluster(
                &c,
                CreateClusterRequest {
                    cluster_name: Some("web".into()),
                    tags: vec![Tag::new("team", "a")],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(created.cluster.cluster_arn, "arn:aws:ecs:us-east-1:000000000000:cluster/web");
        assert_eq!(created.cluster.settings[0].value.as_deref(), Some("disabled"));
        // Creating again returns the same cluster.
        let again = control
            .create_cluster(&c, CreateClusterRequest { cluster_name: Some("web".into()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(again.cluster.tags, vec![Tag::new("team", "a")]);

        let req = DescribeClustersRequest { clusters: vec!["web".into(), "nope".into()], include: Vec::new() };
        let DescribeClustersResponse { clusters: found, failures: missing } =
            control.describe_clusters(&c, &req).unwrap();
        assert_eq!(found.len(), 1);
        assert!(found[0].tags.is_empty() && found[0].settings.is_empty());
        assert_eq!(missing[0].reason.as_deref(), Some("MISSING"));

        let deleted = control.delete_cluster(&c, DeleteClusterRequest { cluster: Some("web".into()) }).await.unwrap();
        assert_eq!(deleted.cluster.status, ClusterStatus::Inactive);
        assert!(control.list_clusters(&c, &ListClustersRequest::default()).unwrap().cluster_arns.is_empty());
        let err = control
            .update_cluster(&c, UpdateClusterRequest { cluster: Some("web".into()), ..Default::default() })
            .await
            .unwrap_err();
        assert_eq!(err.code(), "InvalidParameterException");
        assert_eq!(
            control.delete_cluster(&c, DeleteClusterRequest { cluster: Some("web".into()) }).await.unwrap_err(),
            EcsError::ClusterNotFound
        );
    }

    #[tokio::test]
    async fn state_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let c = caller();
        {
            let control = open(dir.path());
            control
                .create_cluster(&c, CreateClusterRequest { cluster_name: Some("a".into()), ..Default::default() })
                .await
                .unwrap();
        }
        let control = open(dir.path());
        assert_eq!(control.list_clusters(&c, &ListClustersRequest::default()).unwrap().cluster_arns.len(), 1);
    }
}
