//! One request and response per operation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    Alarm, ScalableTarget, ScalableTargetAction, ScalingActivity, ScalingPolicy, ScheduledAction,
    StepScalingPolicyConfiguration, SuspendedState, TargetTrackingScalingPolicyConfiguration,
};

/// The member every request names its target by.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetRef {
    pub service_namespace: Option<String>,
    pub resource_id: Option<String>,
    pub scalable_dimension: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterScalableTargetRequest {
    #[serde(flatten)]
    pub target: TargetRef,
    pub min_capacity: Option<i64>,
    pub max_capacity: Option<i64>,
    #[serde(rename = "RoleARN")]
    pub role_arn: Option<String>,
    pub suspended_state: Option<PartialSuspendedState>,
    pub tags: Option<BTreeMap<String, String>>,
}

/// SuspendedState as a request gives it: members left out keep their value.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PartialSuspendedState {
    pub dynamic_scaling_in_suspended: Option<bool>,
    pub dynamic_scaling_out_suspended: Option<bool>,
    pub scheduled_scaling_suspended: Option<bool>,
}

impl PartialSuspendedState {
    pub fn over(self, base: SuspendedState) -> SuspendedState {
        SuspendedState {
            dynamic_scaling_in_suspended: self
                .dynamic_scaling_in_suspended
                .unwrap_or(base.dynamic_scaling_in_suspended),
            dynamic_scaling_out_suspended: self
                .dynamic_scaling_out_suspended
                .unwrap_or(base.dynamic_scaling_out_suspended),
            scheduled_scaling_suspended: self.scheduled_scaling_suspended.unwrap_or(base.scheduled_scaling_suspended),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterScalableTargetResponse {
    #[serde(rename = "ScalableTargetARN")]
    pub scalable_target_arn: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeregisterScalableTargetRequest {
    #[serde(flatten)]
    pub target: TargetRef,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeScalableTargetsRequest {
    pub service_namespace: Option<String>,
    #[serde(default)]
    pub resource_ids: Vec<String>,
    pub scalable_dimension: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeScalableTargetsResponse {
    pub scalable_targets: Vec<ScalableTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutScalingPolicyRequest {
    pub policy_name: Option<String>,
    #[serde(flatten)]
    pub target: TargetRef,
    pub policy_type: Option<String>,
    pub step_scaling_policy_configuration: Option<StepScalingPolicyConfiguration>,
    pub target_tracking_scaling_policy_configuration: Option<TargetTrackingScalingPolicyConfiguration>,
    pub predictive_scaling_policy_configuration: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutScalingPolicyResponse {
    #[serde(rename = "PolicyARN")]
    pub policy_arn: String,
    pub alarms: Vec<Alarm>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteScalingPolicyRequest {
    pub policy_name: Option<String>,
    #[serde(flatten)]
    pub target: TargetRef,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeScalingPoliciesRequest {
    #[serde(default)]
    pub policy_names: Vec<String>,
    pub service_namespace: Option<String>,
    pub resource_id: Option<String>,
    pub scalable_dimension: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeScalingPoliciesResponse {
    pub scaling_policies: Vec<ScalingPolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeScalingActivitiesRequest {
    pub service_namespace: Option<String>,
    pub resource_id: Option<String>,
    pub scalable_dimension: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub include_not_scaled_activities: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeScalingActivitiesResponse {
    pub scaling_activities: Vec<ScalingActivity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutScheduledActionRequest {
    #[serde(flatten)]
    pub target: TargetRef,
    pub schedule: Option<String>,
    pub timezone: Option<String>,
    pub scheduled_action_name: Option<String>,
    pub start_time: Option<f64>,
    pub end_time: Option<f64>,
    pub scalable_target_action: Option<ScalableTargetAction>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteScheduledActionRequest {
    #[serde(flatten)]
    pub target: TargetRef,
    pub scheduled_action_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeScheduledActionsRequest {
    #[serde(default)]
    pub scheduled_action_names: Vec<String>,
    pub service_namespace: Option<String>,
    pub resource_id: Option<String>,
    pub scalable_dimension: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeScheduledActionsResponse {
    pub scheduled_actions: Vec<ScheduledAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceRequest {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceRequest {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceRequest {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceResponse {
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPredictiveScalingForecastRequest {
    #[serde(flatten)]
    pub target: TargetRef,
    pub policy_name: Option<String>,
    pub start_time: Option<f64>,
    pub end_time: Option<f64>,
}

/// An empty answer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Empty {}
