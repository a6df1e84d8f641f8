//! Where tasks run: a launch type or a capacity provider strategy, resolved as ECS
//! resolves them; the hosts each one offers; and which provider each new task goes to.

use berth_model::{
    capacity_provider::{
        is_fargate, next_provider, validate_strategy, CapacityProviderStrategyItem, LaunchType, FARGATE_PLATFORM_FAMILY,
    },
    cluster::Cluster,
    container_instance::AUTO_SCALING_GROUP_ATTRIBUTE,
    network::NetworkConfiguration,
    service::LaunchSettings,
    status::{DesiredStatus, TaskStatus},
    task_definition::TaskDefinition,
    EcsError,
};

use crate::{InstanceRecord, RegionState};

/// How a request's tasks find capacity.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Launch {
    /// The cluster's container instances (launchType EC2, or no strategy anywhere).
    Ec2,
    /// Hosts offering Fargate capacity (launchType FARGATE).
    Fargate,
    /// Providers by base and weight (the request's strategy, or the cluster's default).
    Strategy(Vec<CapacityProviderStrategyItem>),
}

impl Launch {
    /// Whether the tasks run on Fargate (by launch type or by Fargate providers).
    pub(crate) fn is_fargate(&self) -> bool {
        match self {
            Launch::Ec2 => false,
            Launch::Fargate => true,
            Launch::Strategy(s) => s.iter().any(|i| is_fargate(&i.capacity_provider)),
        }
    }
}

/// ECS's rules for `launchType` and `capacityProviderStrategy` on RunTask and services.
pub(crate) fn resolve(
    cluster: &Cluster,
    launch_type: Option<&str>,
    strategy: &[CapacityProviderStrategyItem],
) -> Result<Launch, EcsError> {
    if launch_type.is_some() && !strategy.is_empty() {
        return Err(EcsError::invalid(
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.",
        ));
    }
    if let Some(lt) = launch_type {
        return match LaunchType::parse(lt) {
            Some(LaunchType::Ec2) => Ok(Launch::Ec2),
            Some(LaunchType::Fargate) => Ok(Launch::Fargate),
            Some(other) => {
                Err(EcsError::invalid(format!("launchType {other} is not supported in berth; use EC2 or FARGATE.")))
            }
            None => Err(EcsError::invalid(format!(
                "launch type should be one of [{}]",
                LaunchType::ALL.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(",")
            ))),
        };
    }
    let strategy = if strategy.is_empty() { &cluster.default_capacity_provider_strategy[..] } else { strategy };
    if strategy.is_empty() {
        return Ok(Launch::Ec2);
    }
    validate_strategy(strategy)?;
    if let Some(item) = strategy.iter().find(|i| !cluster.capacity_providers.contains(&i.capacity_provider)) {
        return Err(EcsError::invalid(format!(
            "The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again. ({} is not associated with {}.)",
            item.capacity_provider, cluster.cluster_name
        )));
    }
    Ok(Launch::Strategy(strategy.to_vec()))
}

/// Where one task looks for a host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Pool {
    pub fargate: bool,
    /// The capacity provider, when a strategy chose one.
    pub provider: Option<String>,
}

impl Pool {
    /// The cluster's container instances (launch type EC2, no provider).
    pub(crate) const EC2: Pool = Pool { fargate: false, provider: None };

    /// The pool a placed or waiting task belongs to, from its record.
    pub(crate) fn of_task(task: &berth_model::task::Task) -> Pool {
        let provider = task.capacity_provider_name.clone();
        let fargate = task.launch_type == LaunchType::Fargate.as_str();
        Pool { fargate, provider }
    }

    /// Whether host `rec` offers capacity to tasks of `cluster` from this pool.
    pub(crate) fn offers(&self, region: &RegionState, cluster: &str, rec: &InstanceRecord) -> bool {
        if self.fargate {
            return rec.is_fargate();
        }
        if rec.cluster != cluster {
            return false;
        }
        match &self.provider {
            None => true,
            Some(name) => region
                .capacity_providers
                .get(name)
                .and_then(|p| p.auto_scaling_group_provider.as_ref())
                .is_some_and(|asg| in_group(rec, &asg.auto_scaling_group_arn)),
        }
    }
}

/// The pool of every task of `launch`, provider by provider: `count` tasks continuing
/// from the tasks `group` of `cluster` already has (a service's base and weights hold
/// across its tasks; RunTask's across one call).
pub(crate) fn pools(region: &RegionState, cluster: &str, group: &str, launch: &Launch, count: usize) -> Vec<Pool> {
    match launch {
        Launch::Ec2 => vec![Pool::EC2; count],
        Launch::Fargate => vec![Pool { fargate: true, provider: None }; count],
        Launch::Strategy(strategy) => {
            let mut counts = vec![0i64; strategy.len()];
            if group.starts_with("service:") {
                for t in region.tasks_in_group(cluster, group) {
                    let live = t.task.last() != TaskStatus::Stopped && t.task.desired_status == DesiredStatus::Running;
                    let at = strategy
                        .iter()
                        .position(|s| Some(&s.capacity_provider) == t.task.capacity_provider_name.as_ref());
                    if let (true, Some(i)) = (live, at) {
                        counts[i] += 1;
                    }
                }
            }
            (0..count)
                .filter_map(|_| {
                    let i = next_provider(strategy, &counts)?;
                    counts[i] += 1;
                    let name = strategy[i].capacity_provider.clone();
                    Some(Pool { fargate: is_fargate(&name), provider: Some(name) })
                })
                .collect()
        }
    }
}

/// Whether an instance joined Auto Scaling group `arn` (named by its ARN or by the name
/// at the end of it).
pub(crate) fn in_group(rec: &InstanceRecord, arn: &str) -> bool {
    let joined = rec
        .instance
        .attributes
        .iter()
        .find(|a| a.name == AUTO_SCALING_GROUP_ATTRIBUTE)
        .and_then(|a| a.value.as_deref());
    joined.is_some_and(|j| j == arn || j == group_name(arn))
}

/// The group name in an Auto Scaling group ARN (`…:autoScalingGroupName/NAME`), or the
/// text itself when it is a bare name.
pub fn group_name(arn: &str) -> &str {
    arn.rsplit_once("autoScalingGroupName/").map_or(arn, |(_, n)| n)
}

/// What a CreateService or UpdateService asks about where its tasks run.
pub(crate) struct LaunchAsk<'a> {
    pub launch_type: Option<&'a str>,
    pub strategy: &'a [CapacityProviderStrategyItem],
    pub network: Option<&'a NetworkConfiguration>,
    pub platform_version: Option<&'a str>,
    /// Whether the service has placement constraints or strategies.
    pub placement_given: bool,
    pub daemon: bool,
}

/// Checks a service's launch settings against its cluster and task definition, as ECS
/// does on CreateService and UpdateService.
pub(crate) fn check_service_launch(
    cluster: &Cluster,
    td: &TaskDefinition,
    ask: LaunchAsk<'_>,
) -> Result<LaunchSettings, EcsError> {
    let LaunchAsk { launch_type, strategy, network, platform_version, placement_given, daemon } = ask;
    let launch = resolve(cluster, launch_type, strategy)?;
    let fargate = launch.is_fargate();
    let compat = LaunchType::of(fargate).as_str();
    if !td.compatibilities.iter().any(|c| c == compat) {
        return Err(EcsError::invalid(format!("Task definition does not support launch_type {compat}.")));
    }
    if daemon && !matches!(launch, Launch::Ec2) {
        return Err(EcsError::invalid(
            "The DAEMON scheduling strategy is not supported with the FARGATE launch type or capacity providers.",
        ));
    }
    if fargate && placement_given {
        return Err(EcsError::invalid(
                "Task placement constraints and strategies are not supported with the FARGATE launch type: Fargate places tasks itself.",
            ));
    }
    berth_model::network::validate_network_configuration(td.network_mode(), fargate, network)?;
    crate::placement::check_platform(fargate, platform_version)?;
    Ok(match launch {
        Launch::Ec2 => LaunchSettings {
            launch_type: LaunchType::Ec2.as_str().into(),
            network_configuration: network.cloned(),
            ..Default::default()
        },
        Launch::Fargate => LaunchSettings {
            launch_type: LaunchType::Fargate.as_str().into(),
            network_configuration: network.cloned(),
            platform_version: Some(platform_version.unwrap_or("LATEST").into()),
            platform_family: Some(FARGATE_PLATFORM_FAMILY.into()),
            ..Default::default()
        },
        Launch::Strategy(strategy) => LaunchSettings {
            launch_type: String::new(),
            capacity_provider_strategy: strategy,
            network_configuration: network.cloned(),
            platform_version: fargate.then(|| platform_version.unwrap_or("LATEST").into()),
            platform_family: fargate.then(|| FARGATE_PLATFORM_FAMILY.into()),
        },
    })
}
