//! Capacity providers: FARGATE and FARGATE_SPOT (berth-owned capacity), and EC2 providers
//! that name a group of hosts (agents join it with `--auto-scaling-group`), with the
//! strategies that spread tasks over them by base and weight.

use serde::{Deserialize, Serialize};

use crate::{status::status, tag::Tag, EcsError, Failure};

status! {
    /// Where a task runs when no capacity provider strategy says.
    LaunchType (default Ec2) {
        Ec2 => "EC2",
        Fargate => "FARGATE",
        External => "EXTERNAL",
        ManagedInstances => "MANAGED_INSTANCES",
    }
}

impl LaunchType {
    /// FARGATE for Fargate, else EC2 (the two berth runs).
    pub fn of(fargate: bool) -> LaunchType {
        if fargate {
            LaunchType::Fargate
        } else {
            LaunchType::Ec2
        }
    }
}

/// The platform family of Fargate's Linux tasks.
pub const FARGATE_PLATFORM_FAMILY: &str = "Linux";

/// Fargate's current platform version (what `LATEST` means).
pub const FARGATE_PLATFORM_VERSION: &str = "1.4.0";
/// The platform versions Fargate on Linux accepts.
pub const FARGATE_PLATFORM_VERSIONS: &[&str] = &["LATEST", "1.4.0", "1.3.0"];

pub const FARGATE: &str = "FARGATE";
pub const FARGATE_SPOT: &str = "FARGATE_SPOT";

/// Whether `name` is one of the providers every account has (Fargate's two).
pub fn is_fargate(name: &str) -> bool {
    name == FARGATE || name == FARGATE_SPOT
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityProviderStrategyItem {
    #[serde(default)]
    pub capacity_provider: String,
    #[serde(default)]
    pub weight: i64,
    #[serde(default)]
    pub base: i64,
}

/// The most items a capacity provider strategy may have.
pub const MAX_STRATEGY_ITEMS: usize = 6;

/// ECS's rules for a strategy's shape: 1 to 6 distinct providers, weight 0–1000, base
/// 0–100000, a base on at most one provider, and some weight above zero.
pub fn validate_strategy(strategy: &[CapacityProviderStrategyItem]) -> Result<(), EcsError> {
    if strategy.len() > MAX_STRATEGY_ITEMS {
        return Err(EcsError::invalid(format!(
            "A capacity provider strategy can have at most {MAX_STRATEGY_ITEMS} capacity providers; this one has {}.",
            strategy.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for item in strategy {
        if item.capacity_provider.is_empty() {
            return Err(EcsError::invalid("A capacity provider strategy item must name a capacityProvider."));
        }
        if !seen.insert(item.capacity_provider.as_str()) {
            return Err(EcsError::invalid(format!(
                "The capacity provider {} appears more than once in the strategy.",
                item.capacity_provider
            )));
        }
        if !(0..=1000).contains(&item.weight) {
            return Err(EcsError::invalid(format!(
                "The weight of {} must be between 0 and 1000.",
                item.capacity_provider
            )));
        }
        if !(0..=100_000).contains(&item.base) {
            return Err(EcsError::invalid(format!(
                "The base of {} must be between 0 and 100000.",
                item.capacity_provider
            )));
        }
    }
    if strategy.iter().filter(|i| i.base > 0).count() > 1 {
        return Err(EcsError::invalid("Only one capacity provider in a strategy can have a base defined."));
    }
    if !strategy.is_empty() && strategy.iter().all(|i| i.weight == 0) {
        return Err(EcsError::invalid(
            "At least one capacity provider in the strategy must have a weight greater than zero.",
        ));
    }
    let fargate = strategy.iter().filter(|i| is_fargate(&i.capacity_provider)).count();
    if fargate > 0 && fargate < strategy.len() {
        return Err(EcsError::invalid(
            "A capacity provider strategy cannot contain a mix of capacity providers using Auto Scaling groups and Fargate providers. Specify one or the other and try again.",
        ));
    }
    Ok(())
}

/// Which provider the next task goes to, given how many tasks each already has (`counts`,
/// in strategy order): first the provider with a base until it has `base` tasks, then the
/// one furthest below its share of the weights (ties to the earlier item).
pub fn next_provider(strategy: &[CapacityProviderStrategyItem], counts: &[i64]) -> Option<usize> {
    if let Some(i) = strategy.iter().position(|s| s.base > 0) {
        if counts.get(i).copied().unwrap_or(0) < strategy[i].base {
            return Some(i);
        }
    }
    let beyond: Vec<i64> = strategy.iter().zip(counts).map(|(s, c)| (c - s.base).max(0)).collect();
    let total_weight: i64 = strategy.iter().map(|s| s.weight).sum();
    let placed: i64 = beyond.iter().sum();
    strategy
        .iter()
        .enumerate()
        .filter(|(_, s)| s.weight > 0)
        .min_by(|(a, sa), (b, sb)| {
            // Deficit after one more task: share owed minus what it has, compared exactly
            // as fractions over total_weight.
            let owed = |i: usize, s: &CapacityProviderStrategyItem| beyond[i] * total_weight - (placed + 1) * s.weight;
            owed(*a, sa).cmp(&owed(*b, sb)).then(a.cmp(b))
        })
        .map(|(i, _)| i)
}

status! {
    CapacityProviderStatus (default Active) {
        Provisioning => "PROVISIONING",
        Active => "ACTIVE",
        Deprovisioning => "DEPROVISIONING",
        Inactive => "INACTIVE",
    }
}

status! {
    CapacityProviderUpdateStatus (default CreateComplete) {
        CreateInProgress => "CREATE_IN_PROGRESS",
        CreateComplete => "CREATE_COMPLETE",
        CreateFailed => "CREATE_FAILED",
        DeleteInProgress => "DELETE_IN_PROGRESS",
        DeleteComplete => "DELETE_COMPLETE",
        DeleteFailed => "DELETE_FAILED",
        UpdateInProgress => "UPDATE_IN_PROGRESS",
        UpdateComplete => "UPDATE_COMPLETE",
        UpdateFailed => "UPDATE_FAILED",
    }
}

status! {
    CapacityProviderType (default Ec2AutoScaling) {
        Ec2AutoScaling => "EC2_AUTOSCALING",
        ManagedInstances => "MANAGED_INSTANCES",
        Fargate => "FARGATE",
        FargateSpot => "FARGATE_SPOT",
    }
}

status! {
    /// ENABLED or DISABLED (managed scaling, termination protection, draining).
    Toggle (default Disabled) { Enabled => "ENABLED", Disabled => "DISABLED" }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedScaling {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Toggle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_capacity: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum_scaling_step_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_scaling_step_size: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_warmup_period: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoScalingGroupProvider {
    #[serde(default)]
    pub auto_scaling_group_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_scaling: Option<ManagedScaling>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_termination_protection: Option<Toggle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_draining: Option<Toggle>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoScalingGroupProviderUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_scaling: Option<ManagedScaling>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_termination_protection: Option<Toggle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_draining: Option<Toggle>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityProvider {
    pub capacity_provider_arn: String,
    pub name: String,
    pub status: CapacityProviderStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scaling_group_provider: Option<AutoScalingGroupProvider>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_status: Option<CapacityProviderUpdateStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_status_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    #[serde(rename = "type")]
    pub kind: CapacityProviderType,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCapacityProviderRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scaling_group_provider: Option<AutoScalingGroupProvider>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateCapacityProviderRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_scaling_group_provider: Option<AutoScalingGroupProviderUpdate>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteCapacityProviderRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_provider: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityProviderResponse {
    pub capacity_provider: CapacityProvider,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeCapacityProvidersRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_providers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_results: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeCapacityProvidersResponse {
    pub capacity_providers: Vec<CapacityProvider>,
    pub failures: Vec<Failure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutClusterCapacityProvidersRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capacity_providers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_capacity_provider_strategy: Option<Vec<CapacityProviderStrategyItem>>,
}

/// Checks a provider's name as ECS does: 1–255 letters, digits, `-` and `_`, and not
/// starting with `aws`, `ecs` or `fargate` (reserved).
pub fn validate_name(name: &str) -> Result<(), EcsError> {
    if name.is_empty() || name.len() > 255 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(EcsError::invalid(
            "The capacity provider name must be 1 to 255 characters: letters, numbers, hyphens and underscores.",
        ));
    }
    let lower = name.to_ascii_lowercase();
    if ["aws", "ecs", "fargate"].iter().any(|p| lower.starts_with(p)) {
        return Err(EcsError::invalid("The capacity provider name cannot start with 'aws', 'ecs', or 'fargate'."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, base: i64, weight: i64) -> CapacityProviderStrategyItem {
        CapacityProviderStrategyItem { capacity_provider: name.into(), base, weight }
    }

    /// Places `n` tasks one by one and returns each provider's count.
    fn spread(strategy: &[CapacityProviderStrategyItem], n: usize) -> Vec<i64> {
        let mut counts = vec![0; strategy.len()];
        for _ in 0..n {
            let i = next_provider(strategy, &counts).unwrap();
            counts[i] += 1;
        }
        counts
    }

    #[test]
    fn base_first_then_weights() {
        // The case: base 1 on A, weights 1:3 across A and B, 9 tasks → A 3, B 6
        // (1 for the base, then 8 split 2:6).
        let s = [item("A", 1, 1), item("B", 0, 3)];
        assert_eq!(spread(&s, 9), vec![3, 6]);
        assert_eq!(spread(&s, 1), vec![1, 0]);
        assert_eq!(spread(&[item("A", 0, 1), item("B", 0, 1)], 5), vec![3, 2]);
        assert_eq!(spread(&[item("A", 2, 0), item("B", 0, 1)], 5), vec![2, 3]);
    }

    #[test]
    fn strategies_are_checked() {
        assert!(validate_strategy(&[item("A", 1, 1), item("B", 1, 1)]).is_err());
        assert!(validate_strategy(&[item("A", 0, 0)]).is_err());
        assert!(validate_strategy(&[item("A", 0, 1001)]).is_err());
        assert!(validate_strategy(&[item("A", 0, 1), item("A", 0, 1)]).is_err());
        assert!(validate_strategy(&[item(FARGATE, 0, 1), item("A", 0, 1)]).is_err());
        let seven: Vec<_> = (0..7).map(|i| item(&format!("p{i}"), 0, 1)).collect();
        assert!(validate_strategy(&seven).is_err());
        validate_strategy(&[item(FARGATE, 1, 1), item(FARGATE_SPOT, 0, 4)]).unwrap();
        assert!(validate_name("fargate-x").is_err() && validate_name("a b").is_err());
        validate_name("spot_pool-1").unwrap();
    }
}
