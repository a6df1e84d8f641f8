//! CloudWatch (`monitoring`) wire types: metrics, datapoints, alarms and their history.
//! Member names are the model's (PascalCase) in every protocol berth serves: CBOR
//! (`smithy-rpc-v2-cbor`, what botocore ≥ 1.37 sends), and the query protocol (what the
//! aws CLI v2 sends). The query protocol sends every value as text, so numbers,
//! booleans and timestamps read through [`crate::lenient`].

mod error;
mod requests;

pub use error::CloudWatchError;
pub use requests::*;
use serde::{Deserialize, Serialize};

use crate::{lenient, status::status};

/// The rpc-v2 service name in `/service/<name>/operation/<op>` and the JSON target prefix.
pub const SERVICE_NAME: &str = "GraniteServiceVersion20100801";
/// The namespace of the query protocol's XML answers.
pub const XML_NAMESPACE: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";
/// The namespace of the metrics berth publishes about ECS.
pub const ECS_NAMESPACE: &str = "AWS/ECS";

/// Members whose values are timestamps (epoch seconds in berth's types): the CBOR answer
/// tags them, the query answer writes them in ISO 8601.
pub const TIMESTAMP_MEMBERS: &[&str] = &[
    "AlarmConfigurationUpdatedTimestamp",
    "EndDate",
    "EndTime",
    "StartDate",
    "StartTime",
    "StateTransitionedTimestamp",
    "StateUpdatedTimestamp",
    "Timestamp",
    "Timestamps",
];

status!(
    /// An alarm's state.
    StateValue (default InsufficientData) { Ok => "OK", Alarm => "ALARM", InsufficientData => "INSUFFICIENT_DATA" }
);

status!(
    /// How an alarm compares its statistic with its threshold.
    ComparisonOperator (default GreaterThanOrEqualToThreshold) {
        GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
        GreaterThanThreshold => "GreaterThanThreshold",
        LessThanThreshold => "LessThanThreshold",
        LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
    }
);

impl ComparisonOperator {
    /// Whether `value` breaches `threshold`.
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            ComparisonOperator::GreaterThanOrEqualToThreshold => value >= threshold,
            ComparisonOperator::GreaterThanThreshold => value > threshold,
            ComparisonOperator::LessThanThreshold => value < threshold,
            ComparisonOperator::LessThanOrEqualToThreshold => value <= threshold,
        }
    }
}

status!(
    /// One of the five simple statistics.
    Statistic (default Average) {
        SampleCount => "SampleCount",
        Average => "Average",
        Sum => "Sum",
        Minimum => "Minimum",
        Maximum => "Maximum",
    }
);

status!(
    /// What an alarm does about periods without data.
    TreatMissingData (default Missing) {
        Breaching => "breaching",
        NotBreaching => "notBreaching",
        Ignore => "ignore",
        Missing => "missing",
    }
);

status!(
    /// What an alarm history item records.
    HistoryItemType (default StateUpdate) {
        ConfigurationUpdate => "ConfigurationUpdate",
        StateUpdate => "StateUpdate",
        Action => "Action",
    }
);

/// The units CloudWatch accepts.
pub const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

impl Dimension {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Dimension {
        Dimension { name: name.into(), value: value.into() }
    }
}

/// A metric: namespace, name and dimensions identify one time series.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metric {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
}

/// A series' identity with its dimensions in a canonical order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey {
    pub namespace: String,
    pub name: String,
    /// Sorted by name.
    pub dimensions: Vec<Dimension>,
}

impl SeriesKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>, mut dimensions: Vec<Dimension>) -> SeriesKey {
        dimensions.sort();
        SeriesKey { namespace: namespace.into(), name: name.into(), dimensions }
    }

    /// The dimensions as one text (`Name=Value` lines), the store's key.
    pub fn dimensions_text(&self) -> String {
        self.dimensions.iter().map(|d| format!("{}={}\n", d.name, d.value)).collect()
    }

    pub fn to_metric(&self) -> Metric {
        Metric {
            namespace: Some(self.namespace.clone()),
            metric_name: Some(self.name.clone()),
            dimensions: self.dimensions.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricStat {
    pub metric: Metric,
    #[serde(default, deserialize_with = "lenient::int", skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
    pub stat: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// One query of GetMetricData (and of an alarm on metric math): a metric's statistic or
/// an expression over other queries' results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDataQuery {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_stat: Option<MetricStat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean", skip_serializing_if = "Option::is_none")]
    pub return_data: Option<bool>,
    #[serde(default, deserialize_with = "lenient::int", skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatisticSet {
    #[serde(default, deserialize_with = "lenient::float")]
    pub sample_count: Option<f64>,
    #[serde(default, deserialize_with = "lenient::float")]
    pub sum: Option<f64>,
    #[serde(default, deserialize_with = "lenient::float")]
    pub minimum: Option<f64>,
    #[serde(default, deserialize_with = "lenient::float")]
    pub maximum: Option<f64>,
}

/// One statistic bucket of GetMetricStatistics.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Datapoint {
    pub timestamp: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_count: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub average: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageData {
    pub code: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDataResult {
    pub id: String,
    pub label: String,
    pub timestamps: Vec<f64>,
    pub values: Vec<f64>,
    /// `Complete`, or `PartialData` when a NextToken follows.
    pub status_code: String,
    pub messages: Vec<MessageData>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// A metric alarm as CloudWatch describes it (and as berth stores it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricAlarm {
    pub alarm_name: String,
    pub alarm_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_description: Option<String>,
    pub alarm_configuration_updated_timestamp: f64,
    pub actions_enabled: bool,
    #[serde(rename = "OKActions")]
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub state_value: StateValue,
    pub state_reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason_data: Option<String>,
    pub state_updated_timestamp: f64,
    pub state_transitioned_timestamp: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statistic: Option<Statistic>,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub evaluation_periods: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datapoints_to_alarm: Option<i64>,
    pub threshold: f64,
    pub comparison_operator: ComparisonOperator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treat_missing_data: Option<TreatMissingData>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MetricDataQuery>,
}

impl MetricAlarm {
    /// The alarm's metric as one series, when it watches a single metric.
    pub fn series(&self) -> Option<SeriesKey> {
        Some(SeriesKey::new(self.namespace.clone()?, self.metric_name.clone()?, self.dimensions.clone()))
    }

    /// How many of the evaluation periods must breach: DatapointsToAlarm, or all of them.
    pub fn datapoints_needed(&self) -> i64 {
        self.datapoints_to_alarm.unwrap_or(self.evaluation_periods)
    }

    /// The period each datapoint covers.
    pub fn evaluation_period(&self) -> i64 {
        self.period.or_else(|| self.metrics.iter().filter_map(|q| q.metric_stat.as_ref()?.period).min()).unwrap_or(60)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AlarmHistoryItem {
    pub alarm_name: String,
    pub alarm_type: String,
    pub timestamp: f64,
    pub history_item_type: HistoryItemType,
    pub history_summary: String,
    pub history_data: String,
}
