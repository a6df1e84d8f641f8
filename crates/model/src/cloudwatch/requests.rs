//! One input and output per operation.

use serde::{Deserialize, Serialize};

use super::{Datapoint, Dimension, MetricAlarm, MetricDataQuery, MetricDataResult, Tag};
use crate::lenient;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutMetricDataInput {
    pub namespace: Option<String>,
    #[serde(default)]
    pub metric_data: Vec<MetricDatum>,
}

/// One datum of PutMetricData: a value, a list of values with counts, or a statistic set.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDatum {
    pub metric_name: Option<String>,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub timestamp: Option<f64>,
    #[serde(default, deserialize_with = "lenient::float")]
    pub value: Option<f64>,
    #[serde(default)]
    pub statistic_values: Option<super::StatisticSet>,
    #[serde(default, deserialize_with = "lenient::floats")]
    pub values: Option<Vec<f64>>,
    #[serde(default, deserialize_with = "lenient::floats")]
    pub counts: Option<Vec<f64>>,
    pub unit: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub storage_resolution: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricStatisticsInput {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub start_time: Option<f64>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub end_time: Option<f64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub period: Option<i64>,
    #[serde(default)]
    pub statistics: Vec<String>,
    #[serde(default)]
    pub extended_statistics: Vec<String>,
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricStatisticsOutput {
    pub label: String,
    pub datapoints: Vec<Datapoint>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricDataInput {
    #[serde(default)]
    pub metric_data_queries: Vec<MetricDataQuery>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub start_time: Option<f64>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub end_time: Option<f64>,
    pub next_token: Option<String>,
    pub scan_by: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub max_datapoints: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricDataOutput {
    pub metric_data_results: Vec<MetricDataResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    pub messages: Vec<super::MessageData>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DimensionFilter {
    pub name: String,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMetricsInput {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    #[serde(default)]
    pub dimensions: Vec<DimensionFilter>,
    pub next_token: Option<String>,
    /// `PT3H`: only metrics that received data in the past three hours.
    pub recently_active: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMetricsOutput {
    pub metrics: Vec<super::Metric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutMetricAlarmInput {
    pub alarm_name: Option<String>,
    pub alarm_description: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub actions_enabled: Option<bool>,
    #[serde(default, rename = "OKActions")]
    pub ok_actions: Vec<String>,
    #[serde(default)]
    pub alarm_actions: Vec<String>,
    #[serde(default)]
    pub insufficient_data_actions: Vec<String>,
    pub metric_name: Option<String>,
    pub namespace: Option<String>,
    pub statistic: Option<String>,
    pub extended_statistic: Option<String>,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub period: Option<i64>,
    pub unit: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub evaluation_periods: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub datapoints_to_alarm: Option<i64>,
    #[serde(default, deserialize_with = "lenient::float")]
    pub threshold: Option<f64>,
    pub comparison_operator: Option<String>,
    pub treat_missing_data: Option<String>,
    #[serde(default)]
    pub metrics: Vec<MetricDataQuery>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    pub threshold_metric_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmsInput {
    #[serde(default)]
    pub alarm_names: Vec<String>,
    pub alarm_name_prefix: Option<String>,
    #[serde(default)]
    pub alarm_types: Vec<String>,
    pub state_value: Option<String>,
    pub action_prefix: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub max_records: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmsOutput {
    pub composite_alarms: Vec<serde_json::Value>,
    pub metric_alarms: Vec<MetricAlarm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmsForMetricInput {
    pub metric_name: Option<String>,
    pub namespace: Option<String>,
    pub statistic: Option<String>,
    pub extended_statistic: Option<String>,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub period: Option<i64>,
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmsForMetricOutput {
    pub metric_alarms: Vec<MetricAlarm>,
}

/// DeleteAlarms, EnableAlarmActions, DisableAlarmActions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AlarmNamesInput {
    pub alarm_names: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetAlarmStateInput {
    pub alarm_name: Option<String>,
    pub state_value: Option<String>,
    pub state_reason: Option<String>,
    pub state_reason_data: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmHistoryInput {
    pub alarm_name: Option<String>,
    #[serde(default)]
    pub alarm_types: Vec<String>,
    pub history_item_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub start_date: Option<f64>,
    #[serde(default, deserialize_with = "lenient::timestamp")]
    pub end_date: Option<f64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub max_records: Option<i64>,
    pub next_token: Option<String>,
    pub scan_by: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAlarmHistoryOutput {
    pub alarm_history_items: Vec<super::AlarmHistoryItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
    #[serde(default)]
    pub tag_keys: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceInput {
    #[serde(rename = "ResourceARN")]
    pub resource_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceOutput {
    pub tags: Vec<Tag>,
}
