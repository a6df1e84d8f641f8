//! GetMetricData: metric statistics and math expressions over them, in one call. Alarms
//! on metric math evaluate through the same [`run_queries`].

use std::collections::{BTreeMap, BTreeSet};

use berth_metrics::Metrics;
use berth_model::cloudwatch::{
    CloudWatchError, GetMetricDataInput, GetMetricDataOutput, MetricDataQuery, MetricDataResult, SeriesKey,
};

use super::{
    blocking, check_period,
    math::{self, Series, Value},
    parse_statistic, required,
};
use crate::{Caller, Control};

const MAX_QUERIES: usize = 500;
const MAX_DATAPOINTS: i64 = 100_800;

/// One query's result.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub id: String,
    pub label: String,
    pub series: Series,
    pub return_data: bool,
}

/// Checks the queries' shape before any data is read.
pub(crate) fn check_queries(queries: &[MetricDataQuery], what: &str) -> Result<(), CloudWatchError> {
    if queries.is_empty() {
        return Err(CloudWatchError::missing(what));
    }
    if queries.len() > MAX_QUERIES {
        return Err(CloudWatchError::invalid_value(format!(
            "The collection {what} must not have a size greater than {MAX_QUERIES}."
        )));
    }
    let mut ids = BTreeSet::new();
    for q in queries {
        let valid = q.id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && q.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && q.id.len() <= 255;
        if !valid {
            return Err(CloudWatchError::invalid_value(format!(
                "The value {} for parameter {what}.Id is not valid: an id starts with a lowercase letter and holds only letters, digits and underscores.",
                q.id
            )));
        }
        if !ids.insert(q.id.as_str()) {
            return Err(CloudWatchError::invalid_value(format!("The Id {} is used by more than one query.", q.id)));
        }
        match (&q.metric_stat, &q.expression) {
            (Some(stat), None) => {
                let m = &stat.metric;
                required(&m.namespace, &format!("{what}.MetricStat.Metric.Namespace"))?;
                required(&m.metric_name, &format!("{what}.MetricStat.Metric.MetricName"))?;
                parse_statistic(&stat.stat, &format!("{what}.MetricStat.Stat"))?;
                let period = q
                    .period
                    .or(stat.period)
                    .ok_or_else(|| CloudWatchError::missing(&format!("{what}.MetricStat.Period")))?;
                check_period(period, &format!("{what}.MetricStat.Period"))?;
                super::check_unit(stat.unit.as_deref())?;
            }
            (None, Some(e)) => {
                math::parse(e).map_err(|why| {
                    CloudWatchError::invalid_value(format!("The expression of query {} is not valid: {why}.", q.id))
                })?;
                if let Some(p) = q.period {
                    check_period(p, &format!("{what}.Period"))?;
                }
            }
            _ => {
                return Err(CloudWatchError::combination(format!(
                    "The query {} must have exactly one of MetricStat and Expression.",
                    q.id
                )))
            }
        }
    }
    Ok(())
}

struct Run<'a> {
    store: &'a Metrics,
    region: &'a str,
    queries: BTreeMap<&'a str, &'a MetricDataQuery>,
    start: i64,
    end: i64,
    /// Buckets aligned to the epoch (GetMetricData) or counted from `start` (alarms).
    epoch_aligned: bool,
    done: BTreeMap<String, Value>,
    visiting: BTreeSet<String>,
}

impl Run<'_> {
    fn metric(&self, q: &MetricDataQuery) -> Result<Series, String> {
        let stat = q.metric_stat.as_ref().expect("checked: a metric query");
        let m = &stat.metric;
        let key = SeriesKey::new(
            m.namespace.clone().unwrap_or_default(),
            m.metric_name.clone().unwrap_or_default(),
            m.dimensions.clone(),
        );
        let period = q.period.or(stat.period).unwrap_or(60).max(1);
        let statistic = berth_model::cloudwatch::Statistic::parse(&stat.stat).ok_or("checked: a statistic")?;
        let start = if self.epoch_aligned { self.start.div_euclid(period) * period } else { self.start };
        let buckets = self
            .store
            .buckets(self.region, &key, stat.unit.as_deref(), start, self.end, period)
            .map_err(|e| e.to_string())?;
        Ok(buckets.iter().map(|b| (b.start, b.stat(statistic))).collect())
    }
}

impl math::Resolve for Run<'_> {
    fn id(&mut self, id: &str) -> Result<Value, String> {
        if let Some(v) = self.done.get(id) {
            return Ok(v.clone());
        }
        let q = *self.queries.get(id).ok_or_else(|| format!("no query has the id {id}"))?;
        if !self.visiting.insert(id.to_string()) {
            return Err(format!("the query {id} refers to itself"));
        }
        let value = match &q.expression {
            None => Value::Series(self.metric(q)?),
            Some(e) => math::eval(&math::parse(e)?, self)?,
        };
        self.visiting.remove(id);
        self.done.insert(id.to_string(), value.clone());
        Ok(value)
    }

    fn metrics(&mut self, prefix: &str) -> Result<Vec<Series>, String> {
        let ids: Vec<&str> = self
            .queries
            .iter()
            .filter(|(id, q)| q.metric_stat.is_some() && id.starts_with(prefix))
            .map(|(id, _)| *id)
            .collect();
        let mut out = Vec::new();
        for id in ids {
            if let Value::Series(s) = self.id(id)? {
                out.push(s);
            }
        }
        Ok(out)
    }
}

/// Runs checked queries over `[start, end)`: every query's result, in the order given.
/// Buckets are aligned to the epoch, or counted from `start`.
pub(crate) fn run_queries(
    store: &Metrics,
    region: &str,
    queries: &[MetricDataQuery],
    start: i64,
    end: i64,
    epoch_aligned: bool,
) -> Result<Vec<QueryResult>, CloudWatchError> {
    let mut run = Run {
        store,
        region,
        queries: queries.iter().map(|q| (q.id.as_str(), q)).collect(),
        start,
        end,
        epoch_aligned,
        done: BTreeMap::new(),
        visiting: BTreeSet::new(),
    };
    let mut values = Vec::new();
    for q in queries {
        let v = math::Resolve::id(&mut run, &q.id)
            .map_err(|why| CloudWatchError::invalid_value(format!("The query {} cannot be evaluated: {why}.", q.id)))?;
        values.push(v);
    }
    // A number stands at every timestamp any metric query has.
    let times: BTreeSet<i64> = run
        .done
        .iter()
        .filter(|(id, _)| run.queries.get(id.as_str()).is_some_and(|q| q.metric_stat.is_some()))
        .flat_map(|(_, v)| match v {
            Value::Series(s) => s.keys().copied().collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    let mut out = Vec::new();
    for (q, v) in queries.iter().zip(values) {
        let series = match v {
            Value::Series(s) => s,
            Value::Scalar(x) if x.is_finite() => times.iter().map(|t| (*t, x)).collect(),
            Value::Scalar(_) => Series::new(),
            Value::Array(_) => {
                return Err(CloudWatchError::invalid_value(format!(
                    "The query {} gives several time series; wrap it in SUM, AVG, MIN or MAX to return one.",
                    q.id
                )))
            }
        };
        let label = q.label.clone().unwrap_or_else(|| match &q.metric_stat {
            Some(stat) => stat.metric.metric_name.clone().unwrap_or_default(),
            None => q.id.clone(),
        });
        out.push(QueryResult { id: q.id.clone(), label, series, return_data: q.return_data.unwrap_or(true) });
    }
    Ok(out)
}

impl Control {
    /// GetMetricData.
    pub async fn get_metric_data(
        &self,
        caller: &Caller,
        req: GetMetricDataInput,
    ) -> Result<GetMetricDataOutput, CloudWatchError> {
        check_queries(&req.metric_data_queries, "MetricDataQueries")?;
        let start = *required(&req.start_time, "StartTime")?;
        let end = *required(&req.end_time, "EndTime")?;
        if start >= end {
            return Err(CloudWatchError::combination(
                "The parameter StartTime must be less than the parameter EndTime.",
            ));
        }
        let ascending = super::ascending(req.scan_by.as_deref())?;
        let (start, end) = (start.floor() as i64, end.ceil() as i64);
        for q in &req.metric_data_queries {
            let period = q.period.or(q.metric_stat.as_ref().and_then(|s| s.period)).unwrap_or(60);
            if (end - start) / period > MAX_DATAPOINTS {
                return Err(CloudWatchError::invalid_value(format!(
                    "The query {} asks for more than {MAX_DATAPOINTS} datapoints; increase its Period or shorten the time range.",
                    q.id
                )));
            }
        }
        let store = self.metric_store()?;
        let region = caller.region.clone();
        let queries = req.metric_data_queries.clone();
        let results = blocking(move || run_queries(&store, &region, &queries, start, end, true)).await?;
        let metric_data_results = results
            .into_iter()
            .filter(|r| r.return_data)
            .map(|r| {
                let mut points: Vec<(i64, f64)> = r.series.into_iter().collect();
                if !ascending {
                    points.reverse();
                }
                MetricDataResult {
                    id: r.id,
                    label: r.label,
                    timestamps: points.iter().map(|(t, _)| *t as f64).collect(),
                    values: points.iter().map(|(_, v)| *v).collect(),
                    status_code: "Complete".into(),
                    messages: Vec::new(),
                }
            })
            .collect();
        Ok(GetMetricDataOutput { metric_data_results, next_token: None, messages: Vec::new() })
    }
}
