//! Application Auto Scaling (`AnyScaleFrontendService.*`, AWS JSON 1.1) wire types:
//! scalable targets, scaling policies (target tracking and step), scheduled actions and
//! scaling activities. berth scales one dimension: `ecs:service:DesiredCount`.

mod error;
mod requests;

pub use error::{required, AutoScalingError};
pub use requests::*;
use serde::{Deserialize, Serialize};

use crate::{cloudwatch::MetricDataQuery, status::status};

pub const TARGET_PREFIX: &str = "AnyScaleFrontendService.";

/// The one service namespace and dimension berth scales.
pub const ECS_NAMESPACE: &str = "ecs";
pub const ECS_DESIRED_COUNT: &str = "ecs:service:DesiredCount";

status!(
    /// A policy's kind.
    PolicyType (default TargetTrackingScaling) {
        StepScaling => "StepScaling",
        TargetTrackingScaling => "TargetTrackingScaling",
        PredictiveScaling => "PredictiveScaling",
    }
);

status!(
    /// How a step policy's adjustment is read.
    AdjustmentType (default ChangeInCapacity) {
        ChangeInCapacity => "ChangeInCapacity",
        PercentChangeInCapacity => "PercentChangeInCapacity",
        ExactCapacity => "ExactCapacity",
    }
);

status!(
    /// How a step policy aggregates the alarm's metric.
    MetricAggregationType (default Average) { Average => "Average", Minimum => "Minimum", Maximum => "Maximum" }
);

status!(
    /// A scaling activity's outcome.
    ActivityStatus (default Pending) {
        Pending => "Pending",
        InProgress => "InProgress",
        Successful => "Successful",
        Overridden => "Overridden",
        Unfulfilled => "Unfulfilled",
        Failed => "Failed",
    }
);

/// The predefined metrics berth can track for ECS services.
pub const PREDEFINED_ECS_CPU: &str = "ECSServiceAverageCPUUtilization";
pub const PREDEFINED_ECS_MEMORY: &str = "ECSServiceAverageMemoryUtilization";
pub const PREDEFINED_ALB_REQUESTS: &str = "ALBRequestCountPerTarget";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SuspendedState {
    #[serde(default)]
    pub dynamic_scaling_in_suspended: bool,
    #[serde(default)]
    pub dynamic_scaling_out_suspended: bool,
    #[serde(default)]
    pub scheduled_scaling_suspended: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalableTarget {
    pub service_namespace: String,
    pub resource_id: String,
    pub scalable_dimension: String,
    pub min_capacity: i64,
    pub max_capacity: i64,
    #[serde(rename = "RoleARN")]
    pub role_arn: String,
    pub creation_time: f64,
    pub suspended_state: SuspendedState,
    #[serde(rename = "ScalableTargetARN")]
    pub scalable_target_arn: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StepAdjustment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_interval_lower_bound: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_interval_upper_bound: Option<f64>,
    pub scaling_adjustment: i64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StepScalingPolicyConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjustment_type: Option<AdjustmentType>,
    #[serde(default)]
    pub step_adjustments: Vec<StepAdjustment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_adjustment_magnitude: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_aggregation_type: Option<MetricAggregationType>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PredefinedMetricSpecification {
    pub predefined_metric_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomizedMetricSpecification {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dimensions: Vec<crate::cloudwatch::Dimension>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<crate::cloudwatch::Statistic>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Metric math: the query whose ReturnData is true is the tracked value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricDataQuery>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetTrackingScalingPolicyConfiguration {
    pub target_value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predefined_metric_specification: Option<PredefinedMetricSpecification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customized_metric_specification: Option<CustomizedMetricSpecification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_out_cooldown: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_in_cooldown: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_scale_in: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alarm {
    pub alarm_name: String,
    #[serde(rename = "AlarmARN")]
    pub alarm_arn: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalingPolicy {
    #[serde(rename = "PolicyARN")]
    pub policy_arn: String,
    pub policy_name: String,
    pub service_namespace: String,
    pub resource_id: String,
    pub scalable_dimension: String,
    pub policy_type: PolicyType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_scaling_policy_configuration: Option<StepScalingPolicyConfiguration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_tracking_scaling_policy_configuration: Option<TargetTrackingScalingPolicyConfiguration>,
    pub alarms: Vec<Alarm>,
    pub creation_time: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalableTargetAction {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_capacity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_capacity: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduledAction {
    pub scheduled_action_name: String,
    #[serde(rename = "ScheduledActionARN")]
    pub scheduled_action_arn: String,
    pub service_namespace: String,
    pub schedule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    pub resource_id: String,
    pub scalable_dimension: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    pub scalable_target_action: ScalableTargetAction,
    pub creation_time: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotScaledReason {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_capacity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_capacity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_capacity: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScalingActivity {
    pub activity_id: String,
    pub service_namespace: String,
    pub resource_id: String,
    pub scalable_dimension: String,
    pub description: String,
    pub cause: String,
    pub start_time: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    pub status_code: ActivityStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_scaled_reasons: Vec<NotScaledReason>,
}
