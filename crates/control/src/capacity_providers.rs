//! Capacity providers: CreateCapacityProvider, DescribeCapacityProviders,
//! UpdateCapacityProvider, DeleteCapacityProvider, and PutClusterCapacityProviders (the
//! providers a cluster may use and its default strategy), with ECS's rules.

use std::sync::Arc;

use berth_model::{
    capacity_provider::{
        is_fargate, validate_name, validate_strategy, AutoScalingGroupProvider, CapacityProvider,
        CapacityProviderResponse, CapacityProviderStatus, CapacityProviderStrategyItem, CapacityProviderType,
        CapacityProviderUpdateStatus, CreateCapacityProviderRequest, DeleteCapacityProviderRequest,
        DescribeCapacityProvidersRequest, DescribeCapacityProvidersResponse, ManagedScaling,
        PutClusterCapacityProvidersRequest, Toggle, UpdateCapacityProviderRequest, FARGATE, FARGATE_SPOT,
    },
    ecs::ClusterResponse,
    json,
    status::{ServiceStatus, TaskStatus},
    Arn, EcsError, Failure,
};

use crate::{capacity::group_name, clusters::active_cluster, state::Change, Caller, Control, RegionState, State};

/// How many capacity providers (beyond Fargate's) an account may have.
const MAX_PROVIDERS: usize = 500;

fn provider_arn(caller: &Caller, name: &str) -> String {
    Arn::ecs(&caller.region, &caller.account, "capacity-provider", name).to_string()
}

/// FARGATE and FARGATE_SPOT, which every account has.
fn fargate_provider(caller: &Caller, name: &str) -> CapacityProvider {
    CapacityProvider {
        capacity_provider_arn: provider_arn(caller, name),
        name: name.to_string(),
        status: CapacityProviderStatus::Active,
        kind: if name == FARGATE { CapacityProviderType::Fargate } else { CapacityProviderType::FargateSpot },
        ..Default::default()
    }
}

/// A provider by name or ARN: ACTIVE ones, and Fargate's.
fn find(caller: &Caller, region: &RegionState, reference: &str) -> Option<CapacityProvider> {
    let name = reference.rsplit('/').next().unwrap_or(reference);
    if is_fargate(name) {
        return Some(fargate_provider(caller, name));
    }
    region.capacity_providers.get(name).filter(|p| p.status == CapacityProviderStatus::Active).map(|p| (**p).clone())
}

/// Checks managed scaling's ranges and fills ECS's defaults.
fn managed_scaling(m: Option<ManagedScaling>) -> Result<ManagedScaling, EcsError> {
    let m = m.unwrap_or_default();
    let bounded = |name: &str, v: Option<i64>, lo: i64, hi: i64, default: i64| match v {
        Some(v) if !(lo..=hi).contains(&v) => {
            Err(EcsError::invalid(format!("managedScaling.{name} must be between {lo} and {hi}, not {v}.")))
        }
        v => Ok(Some(v.unwrap_or(default))),
    };
    let out = ManagedScaling {
        status: Some(m.status.unwrap_or(Toggle::Disabled)),
        target_capacity: bounded("targetCapacity", m.target_capacity, 1, 100, 100)?,
        minimum_scaling_step_size: bounded("minimumScalingStepSize", m.minimum_scaling_step_size, 1, 10_000, 1)?,
        maximum_scaling_step_size: bounded("maximumScalingStepSize", m.maximum_scaling_step_size, 1, 10_000, 10_000)?,
        instance_warmup_period: bounded("instanceWarmupPeriod", m.instance_warmup_period, 0, 10_000, 300)?,
    };
    if out.minimum_scaling_step_size > out.maximum_scaling_step_size {
        return Err(EcsError::invalid(
            "managedScaling.minimumScalingStepSize cannot be larger than maximumScalingStepSize.",
        ));
    }
    Ok(out)
}

/// Managed termination protection keeps instances with tasks from scale-in, which only
/// managed scaling does.
fn check_protection(asg: &AutoScalingGroupProvider) -> Result<(), EcsError> {
    let scaling = asg.managed_scaling.as_ref().and_then(|m| m.status) == Some(Toggle::Enabled);
    if asg.managed_termination_protection == Some(Toggle::Enabled) && !scaling {
        return Err(EcsError::invalid(
            "Managed termination protection requires managed scaling: turn managed scaling on, or termination protection off.",
        ));
    }
    Ok(())
}

/// The clusters (by name) whose capacity providers include `name`.
fn clusters_using<'s>(region: &'s RegionState, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
    region
        .clusters
        .values()
        .filter(move |c| c.capacity_providers.iter().any(|p| p == name))
        .map(|c| c.cluster_name.as_str())
}

/// Whether a service or a task not yet STOPPED of `cluster` uses provider `name`.
fn in_use(region: &RegionState, cluster: &str, name: &str) -> bool {
    let uses = |s: &[CapacityProviderStrategyItem]| s.iter().any(|i| i.capacity_provider == name);
    region.services.values().any(|s| {
        s.cluster == cluster
            && s.service.status != ServiceStatus::Inactive
            && uses(&s.service.launch.capacity_provider_strategy)
    }) || region.tasks.values().any(|t| {
        t.cluster == cluster
            && t.task.last() != TaskStatus::Stopped
            && t.task.capacity_provider_name.as_deref() == Some(name)
    })
}

impl Control {
    pub async fn create_capacity_provider(
        &self,
        caller: &Caller,
        req: CreateCapacityProviderRequest,
    ) -> Result<CapacityProviderResponse, EcsError> {
        let name = json::required(&req.name, "name")?.clone();
        validate_name(&name)?;
        let mut asg = req.auto_scaling_group_provider.clone().ok_or_else(|| {
            EcsError::invalid("autoScalingGroupProvider is required: it names the group of hosts the provider offers.")
        })?;
        if asg.auto_scaling_group_arn.trim().is_empty() {
            return Err(EcsError::invalid("autoScalingGroupProvider.autoScalingGroupArn is required."));
        }
        asg.managed_scaling = Some(managed_scaling(asg.managed_scaling)?);
        asg.managed_termination_protection.get_or_insert(Toggle::Disabled);
        asg.managed_draining.get_or_insert(Toggle::Enabled);
        check_protection(&asg)?;
        berth_model::tag::validate(&req.tags)?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            let region = state.region(&caller.region);
            if region.capacity_providers.get(&name).is_some_and(|p| p.status == CapacityProviderStatus::Active) {
                return Err(EcsError::client(
                    "The specified capacity provider already exists. To change the configuration of an existing capacity provider, update the capacity provider.",
                ));
            }
            let group = group_name(&asg.auto_scaling_group_arn);
            if region.capacity_providers.values().any(|p| {
                p.status == CapacityProviderStatus::Active
                    && p.auto_scaling_group_provider.as_ref().is_some_and(|a| group_name(&a.auto_scaling_group_arn) == group)
            }) {
                return Err(EcsError::client(
                    "The specified Auto Scaling group ARN is already being used by another capacity provider. Specify a unique Auto Scaling group ARN and try again.",
                ));
            }
            let active = region.capacity_providers.values().filter(|p| p.status == CapacityProviderStatus::Active);
            if active.count() >= MAX_PROVIDERS {
                return Err(EcsError::LimitExceeded(format!(
                    "An account can have at most {MAX_PROVIDERS} capacity providers."
                )));
            }
            let provider = CapacityProvider {
                capacity_provider_arn: provider_arn(&caller, &name),
                name: name.clone(),
                status: CapacityProviderStatus::Active,
                auto_scaling_group_provider: Some(asg),
                update_status: None,
                update_status_reason: None,
                tags: Vec::new(),
                kind: CapacityProviderType::Ec2AutoScaling,
            };
            if !req.tags.is_empty() {
                let arn = provider.capacity_provider_arn.clone();
                changes.push(Change::Tags { region: caller.region.clone(), arn, tags: Arc::new(req.tags.clone()) });
            }
            changes.push(Change::CapacityProvider { region: caller.region.clone(), provider: Arc::new(provider.clone()) });
            Ok(CapacityProviderResponse { capacity_provider: CapacityProvider { tags: req.tags, ..provider } })
        })
        .await
    }

    pub async fn update_capacity_provider(
        &self,
        caller: &Caller,
        req: UpdateCapacityProviderRequest,
    ) -> Result<CapacityProviderResponse, EcsError> {
        let name = json::required(&req.name, "name")?.clone();
        let update = json::required(&req.auto_scaling_group_provider, "autoScalingGroupProvider")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            let region = state.region(&caller.region);
            let mut provider = find(&caller, region, &name)
                .filter(|p| !is_fargate(&p.name))
                .ok_or_else(|| EcsError::invalid(format!("The capacity provider {name} does not exist.")))?;
            let asg = provider.auto_scaling_group_provider.get_or_insert_with(Default::default);
            if let Some(m) = update.managed_scaling {
                // Unset fields keep their values.
                let current = asg.managed_scaling.clone().unwrap_or_default();
                asg.managed_scaling = Some(managed_scaling(Some(ManagedScaling {
                    status: m.status.or(current.status),
                    target_capacity: m.target_capacity.or(current.target_capacity),
                    minimum_scaling_step_size: m.minimum_scaling_step_size.or(current.minimum_scaling_step_size),
                    maximum_scaling_step_size: m.maximum_scaling_step_size.or(current.maximum_scaling_step_size),
                    instance_warmup_period: m.instance_warmup_period.or(current.instance_warmup_period),
                }))?);
            }
            if let Some(p) = update.managed_termination_protection {
                asg.managed_termination_protection = Some(p);
            }
            if let Some(d) = update.managed_draining {
                asg.managed_draining = Some(d);
            }
            check_protection(asg)?;
            provider.update_status = Some(CapacityProviderUpdateStatus::UpdateComplete);
            changes
                .push(Change::CapacityProvider { region: caller.region.clone(), provider: Arc::new(provider.clone()) });
            Ok(CapacityProviderResponse { capacity_provider: provider })
        })
        .await
    }

    /// DeleteCapacityProvider: refused while a cluster lists it; the provider is then
    /// INACTIVE (DELETE_COMPLETE) and its name free again.
    pub async fn delete_capacity_provider(
        &self,
        caller: &Caller,
        req: DeleteCapacityProviderRequest,
    ) -> Result<CapacityProviderResponse, EcsError> {
        let reference = json::required(&req.capacity_provider, "capacityProvider")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            let region = state.region(&caller.region);
            let mut provider = find(&caller, region, &reference)
                .ok_or_else(|| EcsError::invalid(format!("The capacity provider {reference} does not exist.")))?;
            if is_fargate(&provider.name) {
                return Err(EcsError::invalid("The FARGATE and FARGATE_SPOT capacity providers cannot be deleted."));
            }
            if let Some(cluster) = clusters_using(region, &provider.name).next() {
                return Err(EcsError::client(format!(
                    "The specified capacity provider is in use and cannot be removed: cluster {cluster} uses it. Remove it from the cluster with PutClusterCapacityProviders first."
                )));
            }
            provider.status = CapacityProviderStatus::Inactive;
            provider.update_status = Some(CapacityProviderUpdateStatus::DeleteComplete);
            changes.push(Change::CapacityProvider { region: caller.region.clone(), provider: Arc::new(provider.clone()) });
            Ok(CapacityProviderResponse { capacity_provider: provider })
        })
        .await
    }

    pub fn describe_capacity_providers(
        &self,
        caller: &Caller,
        req: &DescribeCapacityProvidersRequest,
    ) -> Result<DescribeCapacityProvidersResponse, EcsError> {
        if let Some(bad) = req.include.iter().find(|i| *i != "TAGS") {
            return Err(EcsError::invalid(format!("Invalid include value '{bad}': use TAGS.")));
        }
        let with_tags = !req.include.is_empty();
        let page = crate::PageRequest::of(&req.next_token, req.max_results);
        self.read(|state: &State| {
            let region = state.region(&caller.region);
            let tagged = |mut p: CapacityProvider| {
                if with_tags {
                    p.tags = state.tags_of(&caller.region, &p.capacity_provider_arn);
                }
                p
            };
            let (mut found, mut failures) = (Vec::new(), Vec::new());
            let next_token = match &req.capacity_providers {
                Some(names) => {
                    for n in names {
                        match find(caller, region, n) {
                            Some(p) => found.push(tagged(p)),
                            None => failures.push(Failure::new(n.clone(), "MISSING")),
                        }
                    }
                    None
                }
                None => {
                    let all =
                        [fargate_provider(caller, FARGATE), fargate_provider(caller, FARGATE_SPOT)].into_iter().chain(
                            region
                                .capacity_providers
                                .values()
                                .filter(|p| p.status == CapacityProviderStatus::Active)
                                .map(|p| (**p).clone()),
                        );
                    let crate::Page { items, next_token } = page.page(10, true, all.map(|p| (p.name.clone(), p)))?;
                    found = items.into_iter().map(tagged).collect();
                    next_token
                }
            };
            Ok(DescribeCapacityProvidersResponse { capacity_providers: found, failures, next_token })
        })
    }

    /// PutClusterCapacityProviders: replaces the cluster's providers and default strategy.
    pub async fn put_cluster_capacity_providers(
        &self,
        caller: &Caller,
        req: PutClusterCapacityProvidersRequest,
    ) -> Result<ClusterResponse, EcsError> {
        let cluster_ref = json::required(&req.cluster, "cluster")?.clone();
        let providers = json::required(&req.capacity_providers, "capacityProviders")?.clone();
        let strategy =
            json::required(&req.default_capacity_provider_strategy, "defaultCapacityProviderStrategy")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            let cluster = active_cluster(state, &caller, Some(&cluster_ref))?;
            let region = state.region(&caller.region);
            let names = check_cluster_providers(&caller, region, &cluster.cluster_name, &providers, &strategy)?;
            for removed in cluster.capacity_providers.iter().filter(|p| !names.contains(p)) {
                if in_use(region, &cluster.cluster_name, removed) {
                    return Err(EcsError::ResourceInUse(format!(
                        "The specified capacity provider {removed} is in use and cannot be removed."
                    )));
                }
            }
            let mut next = (**cluster).clone();
            next.capacity_providers = names;
            next.default_capacity_provider_strategy = strategy;
            let view = crate::clusters::view(state, &caller, &next, crate::ClusterInclude::ALL);
            changes.push(Change::Cluster { region: caller.region.clone(), cluster: Arc::new(next) });
            Ok(ClusterResponse { cluster: view })
        })
        .await
    }
}

/// Checks a cluster's providers and default strategy (PutClusterCapacityProviders and
/// CreateCluster): each provider exists and is no other cluster's, the strategy names
/// only listed providers. The providers' names.
pub(crate) fn check_cluster_providers(
    caller: &Caller,
    region: &RegionState,
    cluster: &str,
    providers: &[String],
    strategy: &[CapacityProviderStrategyItem],
) -> Result<Vec<String>, EcsError> {
    let mut names = Vec::new();
    for reference in providers {
        let p = find(caller, region, reference)
            .ok_or_else(|| EcsError::invalid(format!("The specified capacity provider {reference} does not exist.")))?;
        if !is_fargate(&p.name) {
            if let Some(other) = clusters_using(region, &p.name).find(|c| *c != cluster) {
                return Err(EcsError::invalid(format!(
                    "The specified capacity provider {} is already associated with cluster {other}; a capacity provider with an Auto Scaling group can be used by one cluster only.",
                    p.name
                )));
            }
        }
        if !names.contains(&p.name) {
            names.push(p.name);
        }
    }
    validate_strategy(strategy)?;
    if let Some(item) = strategy.iter().find(|i| !names.contains(&i.capacity_provider)) {
        return Err(EcsError::invalid(format!(
            "The default capacity provider strategy names {}, which is not one of the cluster's capacity providers.",
            item.capacity_provider
        )));
    }
    Ok(names)
}
