//! PutMetricData, GetMetricStatistics and ListMetrics.

use berth_metrics::{ListFilter, Point, Sample};
use berth_model::{
    cloudwatch::{
        CloudWatchError, Datapoint, GetMetricStatisticsInput, GetMetricStatisticsOutput, ListMetricsInput,
        ListMetricsOutput, MetricDatum, PutMetricDataInput, SeriesKey,
    },
    time,
};

use super::{blocking, check_period, check_unit, page, parse_statistic, required, store_error};
use crate::{Caller, Control};

const MAX_DATA: usize = 1000;
const MAX_VALUES: usize = 150;
const MAX_DIMENSIONS: usize = 30;
const MAX_DATAPOINTS: i64 = 1440;
const LIST_PAGE: i64 = 500;
/// How far back and ahead a datum's timestamp may be (two weeks, two hours).
const PAST_LIMIT: f64 = 14.0 * 86400.0;
const FUTURE_LIMIT: f64 = 2.0 * 3600.0;

fn check_name(value: &str, what: &str) -> Result<(), CloudWatchError> {
    if value.is_empty() || value.len() > 255 {
        return Err(CloudWatchError::invalid_value(format!("The parameter {what} must be 1 to 255 characters long.")));
    }
    Ok(())
}

pub(crate) fn check_dimensions(dims: &[berth_model::cloudwatch::Dimension], what: &str) -> Result<(), CloudWatchError> {
    if dims.len() > MAX_DIMENSIONS {
        return Err(CloudWatchError::invalid_value(format!(
            "The collection {what} must not have a size greater than {MAX_DIMENSIONS}."
        )));
    }
    for d in dims {
        check_name(&d.name, &format!("{what}.Name"))?;
        check_name(&d.value, &format!("{what}.Value"))?;
    }
    let mut names: Vec<&str> = dims.iter().map(|d| d.name.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err(CloudWatchError::invalid_value(format!("The collection {what} must not name a dimension twice.")));
    }
    Ok(())
}

/// One datum as the points it adds.
fn datum_points(namespace: &str, i: usize, d: &MetricDatum, now: f64) -> Result<Vec<Point>, CloudWatchError> {
    let at = |m: &str| format!("MetricData.member.{}.{m}", i + 1);
    let name = d.metric_name.as_deref().ok_or_else(|| CloudWatchError::missing(&at("MetricName")))?;
    check_name(name, &at("MetricName"))?;
    check_dimensions(&d.dimensions, &at("Dimensions"))?;
    check_unit(d.unit.as_deref())?;
    let resolution = d.storage_resolution.unwrap_or(60);
    if resolution != 1 && resolution != 60 {
        return Err(CloudWatchError::invalid_value(format!(
            "The parameter {} must be 1 (high resolution) or 60 (standard).",
            at("StorageResolution")
        )));
    }
    let ts = d.timestamp.unwrap_or(now);
    if ts > now + FUTURE_LIMIT {
        return Err(CloudWatchError::invalid_value(format!(
            "The parameter {} must specify a time no more than two hours in the future.",
            at("Timestamp")
        )));
    }
    if ts < now - PAST_LIMIT {
        return Err(CloudWatchError::invalid_value(format!(
            "The parameter {} must specify a time within the past two weeks.",
            at("Timestamp")
        )));
    }
    // Standard-resolution data is kept per minute, as CloudWatch keeps it.
    let second = ts.floor() as i64;
    let ts = if resolution == 60 { second.div_euclid(60) * 60 } else { second };
    let finite = |v: f64, m: &str| {
        if v.is_finite() {
            Ok(v)
        } else {
            Err(CloudWatchError::invalid_value(format!("The parameter {} must be a finite number.", at(m))))
        }
    };
    let kinds = [d.value.is_some(), d.statistic_values.is_some(), d.values.is_some()];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(CloudWatchError::combination(format!(
            "{} must have exactly one of Value, StatisticValues or Values.",
            at("").trim_end_matches('.')
        )));
    }
    let samples: Vec<Sample> = if let Some(v) = d.value {
        vec![Sample::value(finite(v, "Value")?, 1.0)]
    } else if let Some(s) = &d.statistic_values {
        let get = |v: Option<f64>, m: &str| {
            v.ok_or_else(|| CloudWatchError::missing(&at(&format!("StatisticValues.{m}")))).and_then(|v| finite(v, m))
        };
        let sample = Sample {
            count: get(s.sample_count, "SampleCount")?,
            sum: get(s.sum, "Sum")?,
            min: get(s.minimum, "Minimum")?,
            max: get(s.maximum, "Maximum")?,
        };
        if sample.count <= 0.0 || sample.min > sample.max {
            return Err(CloudWatchError::invalid_value(format!(
                "The parameter {} must have a positive SampleCount and Minimum ≤ Maximum.",
                at("StatisticValues")
            )));
        }
        vec![sample]
    } else {
        let values = d.values.as_deref().unwrap_or_default();
        if values.len() > MAX_VALUES {
            return Err(CloudWatchError::invalid_value(format!(
                "The collection {} must not have a size greater than {MAX_VALUES}.",
                at("Values")
            )));
        }
        let counts = match &d.counts {
            Some(c) if c.len() != values.len() => {
                return Err(CloudWatchError::combination(format!(
                    "The parameters {} and {} must have the same number of members.",
                    at("Values"),
                    at("Counts")
                )))
            }
            Some(c) => c.clone(),
            None => vec![1.0; values.len()],
        };
        let mut out = Vec::new();
        for (v, c) in values.iter().zip(counts) {
            out.push(Sample::value(finite(*v, "Values")?, finite(c, "Counts")?));
        }
        out
    };
    let series = SeriesKey::new(namespace, name, d.dimensions.clone());
    Ok(samples.into_iter().map(|sample| Point { series: series.clone(), unit: d.unit.clone(), ts, sample }).collect())
}

impl Control {
    /// PutMetricData: custom metrics, stored durably before the answer.
    pub async fn put_metric_data(&self, caller: &Caller, req: PutMetricDataInput) -> Result<(), CloudWatchError> {
        let namespace = required(&req.namespace, "Namespace")?.clone();
        check_name(&namespace, "Namespace")?;
        if namespace.starts_with("AWS/") {
            return Err(CloudWatchError::invalid_value(format!(
                "The value {namespace} for parameter Namespace is invalid: namespaces beginning with 'AWS/' are reserved for the metrics berth publishes itself."
            )));
        }
        if req.metric_data.is_empty() {
            return Err(CloudWatchError::missing("MetricData"));
        }
        if req.metric_data.len() > MAX_DATA {
            return Err(CloudWatchError::invalid_value(format!(
                "The collection MetricData must not have a size greater than {MAX_DATA}."
            )));
        }
        let now = time::now();
        let mut points = Vec::new();
        for (i, d) in req.metric_data.iter().enumerate() {
            points.extend(datum_points(&namespace, i, d, now)?);
        }
        let store = self.metric_store()?;
        let region = caller.region.clone();
        blocking(move || store.put(&region, &points).map_err(store_error)).await
    }

    /// GetMetricStatistics: one metric's statistics per period.
    pub async fn get_metric_statistics(
        &self,
        caller: &Caller,
        req: GetMetricStatisticsInput,
    ) -> Result<GetMetricStatisticsOutput, CloudWatchError> {
        let namespace = required(&req.namespace, "Namespace")?.clone();
        let name = required(&req.metric_name, "MetricName")?.clone();
        let start = *required(&req.start_time, "StartTime")?;
        let end = *required(&req.end_time, "EndTime")?;
        let period = *required(&req.period, "Period")?;
        check_period(period, "Period")?;
        check_unit(req.unit.as_deref())?;
        match (req.statistics.is_empty(), req.extended_statistics.is_empty()) {
            (true, true) | (false, false) => {
                return Err(CloudWatchError::combination(
                    "Must specify either Statistics or ExtendedStatistics, but not both.",
                ))
            }
            (true, false) => {
                return Err(CloudWatchError::invalid_value(
                    "berth keeps no percentiles: ExtendedStatistics cannot be answered; ask for Statistics (SampleCount, Average, Sum, Minimum, Maximum).",
                ))
            }
            (false, true) => {}
        }
        let stats = req.statistics.iter().map(|s| parse_statistic(s, "Statistics")).collect::<Result<Vec<_>, _>>()?;
        if start >= end {
            return Err(CloudWatchError::combination(
                "The parameter StartTime must be less than the parameter EndTime.",
            ));
        }
        let start = (start.floor() as i64).div_euclid(period) * period;
        let end = end.ceil() as i64;
        let wanted = (end - start + period - 1) / period;
        if wanted > MAX_DATAPOINTS {
            return Err(CloudWatchError::combination(format!(
                "You have requested up to {wanted} datapoints, which exceeds the limit of {MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, or decreasing the time range."
            )));
        }
        let series = SeriesKey::new(namespace, name.clone(), req.dimensions.clone());
        let store = self.metric_store()?;
        let (region, unit) = (caller.region.clone(), req.unit.clone());
        let (buckets, stored_unit) = blocking(move || {
            let buckets = store.buckets(&region, &series, unit.as_deref(), start, end, period).map_err(store_error)?;
            let unit = store.unit(&region, &series).map_err(store_error)?;
            Ok((buckets, unit))
        })
        .await?;
        let unit = stored_unit.unwrap_or_else(|| "None".into());
        let datapoints = buckets
            .iter()
            .map(|b| {
                let mut d = Datapoint { timestamp: b.start as f64, unit: Some(unit.clone()), ..Default::default() };
                for s in &stats {
                    use berth_model::cloudwatch::Statistic::*;
                    let v = Some(b.stat(*s));
                    match s {
                        SampleCount => d.sample_count = v,
                        Average => d.average = v,
                        Sum => d.sum = v,
                        Minimum => d.minimum = v,
                        Maximum => d.maximum = v,
                    }
                }
                d
            })
            .collect();
        Ok(GetMetricStatisticsOutput { label: name, datapoints })
    }

    /// ListMetrics: the series that match, 500 a page.
    pub async fn list_metrics(
        &self,
        caller: &Caller,
        req: ListMetricsInput,
    ) -> Result<ListMetricsOutput, CloudWatchError> {
        let active_since = match req.recently_active.as_deref() {
            None => None,
            Some("PT3H") => Some(time::now() as i64 - 3 * 3600),
            Some(other) => {
                return Err(CloudWatchError::invalid_value(format!(
                    "The parameter RecentlyActive must be PT3H; it was '{other}'."
                )))
            }
        };
        if req.dimensions.len() > 10 {
            return Err(CloudWatchError::invalid_value(
                "The collection Dimensions must not have a size greater than 10.",
            ));
        }
        let store = self.metric_store()?;
        let region = caller.region.clone();
        let series = blocking(move || {
            let dims: Vec<(String, Option<String>)> =
                req.dimensions.iter().map(|d| (d.name.clone(), d.value.clone())).collect();
            let filter = ListFilter {
                namespace: req.namespace.as_deref(),
                name: req.metric_name.as_deref(),
                dimensions: &dims,
                active_since,
            };
            store.list(&region, &filter).map_err(store_error)
        })
        .await?;
        let keyed = series
            .iter()
            .map(|s| (format!("{}\n{}\n{}", s.key.namespace, s.key.name, s.key.dimensions_text()), s.key.to_metric()));
        let (metrics, next_token) = page(keyed, true, None, LIST_PAGE, req.next_token.as_deref())?;
        Ok(ListMetricsOutput { metrics, next_token })
    }
}
