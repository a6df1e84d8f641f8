//! CloudWatch metrics and alarms, and Application Auto Scaling: the metric operations
//! read and write the metric store (`berth-metrics`); alarms, scalable targets, policies
//! and scheduled actions live in the state like every other resource; the engine
//! ([`engine`]) evaluates alarms every second and runs what they and the schedules ask.

mod alarm_queries;
mod alarms;
mod collector;
pub mod engine;
pub mod evaluate;
pub mod math;
mod metric_data;
mod metrics;
mod scaling;
pub mod scaling_math;
mod scaling_policies;
mod scaling_scheduled;
pub mod schedule;
mod state;

pub(crate) use collector::{StatsBook, TrafficBook};
pub use collector::{TaskStats, TaskStatsReport, TrafficSource};
pub use state::{AlarmRecord, MonitoringChange, MonitoringState, PolicyRecord, ScheduledRecord, TargetRecord};

use berth_model::cloudwatch::CloudWatchError;

use crate::Control;

impl Control {
    /// The metric store (set once at start).
    pub fn configure_metrics(&self, metrics: berth_metrics::Metrics) {
        *self.inner.metrics.write().unwrap_or_else(|p| p.into_inner()) = Some(metrics);
    }

    pub(crate) fn metric_store(&self) -> Result<berth_metrics::Metrics, CloudWatchError> {
        self.inner
            .metrics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| CloudWatchError::internal("this server keeps no metrics"))
    }
}

/// Runs blocking metric-store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CloudWatchError> + Send + 'static,
) -> Result<T, CloudWatchError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| Err(CloudWatchError::internal(e.to_string())))
}

/// The metric store's failure in CloudWatch's words.
pub(crate) fn store_error(e: berth_metrics::MetricsError) -> CloudWatchError {
    match e {
        berth_metrics::MetricsError::Limit(m) => CloudWatchError::limit_exceeded(m),
        other => CloudWatchError::internal(other.to_string()),
    }
}

/// A period CloudWatch accepts: 1, 5, 10, 30, or a multiple of 60 seconds.
pub(crate) fn check_period(period: i64, name: &str) -> Result<(), CloudWatchError> {
    if period >= 1 && (matches!(period, 1 | 5 | 10 | 30) || period % 60 == 0) {
        Ok(())
    } else {
        Err(CloudWatchError::invalid_value(format!(
            "The parameter {name} must be 1, 5, 10, 30, or a multiple of 60; it was {period}."
        )))
    }
}

pub(crate) fn required<'a, T>(value: &'a Option<T>, name: &str) -> Result<&'a T, CloudWatchError> {
    value.as_ref().ok_or_else(|| CloudWatchError::missing(name))
}

/// An enum member's value, or CloudWatch's refusal listing the values it takes.
pub(crate) fn member<T>(
    value: &str,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
    names: &[&str],
) -> Result<T, CloudWatchError> {
    parse(value).ok_or_else(|| {
        let (last, rest) = names.split_last().expect("an enum has values");
        CloudWatchError::invalid_value(format!("The parameter {name} '{value}' must be {} or {last}.", rest.join(", ")))
    })
}

pub(crate) fn check_unit(unit: Option<&str>) -> Result<(), CloudWatchError> {
    match unit {
        Some(u) if !berth_model::cloudwatch::UNITS.contains(&u) => Err(CloudWatchError::invalid_value(format!(
            "The unit '{u}' is not valid; it must be one of {}.",
            berth_model::cloudwatch::UNITS.join(", ")
        ))),
        _ => Ok(()),
    }
}

pub(crate) fn parse_statistic(s: &str, name: &str) -> Result<berth_model::cloudwatch::Statistic, CloudWatchError> {
    berth_model::cloudwatch::Statistic::parse(s).ok_or_else(|| {
        CloudWatchError::invalid_value(format!(
            "The parameter {name} '{s}' is not a statistic berth keeps: use SampleCount, Average, Sum, Minimum or Maximum (berth keeps no percentiles)."
        ))
    })
}

/// One page of a key-ordered listing as CloudWatch pages (MaxRecords up to `limit`, the
/// `limit` when absent; the token names the last key returned, so a page boundary
/// survives changes between calls).
pub(crate) fn page<T>(
    items: impl Iterator<Item = (String, T)>,
    ascending: bool,
    max: Option<i64>,
    limit: i64,
    token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), CloudWatchError> {
    if let Some(m) = max.filter(|m| !(1..=limit).contains(m)) {
        return Err(CloudWatchError::invalid_value(format!(
            "The parameter MaxRecords must be between 1 and {limit}; it was {m}."
        )));
    }
    let request = crate::PageRequest { next_token: token.map(str::to_string), max_results: max };
    let page = request.page(limit, ascending, items).map_err(|_| CloudWatchError::invalid_next_token())?;
    Ok((page.items, page.next_token))
}

/// `ScanBy`: whether the newest come last.
pub(crate) fn ascending(scan_by: Option<&str>) -> Result<bool, CloudWatchError> {
    match scan_by {
        None | Some("TimestampDescending") => Ok(false),
        Some("TimestampAscending") => Ok(true),
        Some(other) => Err(CloudWatchError::invalid_value(format!(
            "The parameter ScanBy must be TimestampDescending or TimestampAscending; it was '{other}'."
        ))),
    }
}
