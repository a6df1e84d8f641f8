//! PutMetricAlarm, DeleteAlarms, SetAlarmState, Enable/DisableAlarmActions, and how an
//! alarm's state changes (the engine moves alarms through [`set_state`] too).

use std::sync::Arc;

use berth_model::{
    cloudwatch::{
        AlarmHistoryItem, AlarmNamesInput, CloudWatchError, ComparisonOperator, HistoryItemType, MetricAlarm,
        PutMetricAlarmInput, SetAlarmStateInput, StateValue, Tag, TreatMissingData,
    },
    tag, time,
};

use super::{
    check_unit, member, metric_data::check_queries, metrics::check_dimensions, parse_statistic, required, AlarmRecord,
    MonitoringChange,
};
use crate::{state::Change, Caller, Control, RegionState, State};

/// The most alarms a region holds.
const MAX_ALARMS: usize = 10_000;
const MAX_ACTIONS: usize = 5;
const MAX_EVALUATION_SECONDS: i64 = 7 * 86400;

pub(crate) fn alarm_arn(caller: &Caller, name: &str) -> String {
    format!("arn:aws:cloudwatch:{}:{}:alarm:{name}", caller.region, caller.account)
}

fn check_alarm_period(period: i64, name: &str) -> Result<(), CloudWatchError> {
    if matches!(period, 10 | 20 | 30) || (period > 0 && period % 60 == 0) {
        Ok(())
    } else {
        Err(CloudWatchError::invalid_value(format!(
            "The parameter {name} must be 10, 20, 30, or a multiple of 60; it was {period}."
        )))
    }
}

/// The alarm a PutMetricAlarm asks for, checked (state members left for the caller).
pub(crate) fn alarm_from(caller: &Caller, req: &PutMetricAlarmInput, now: f64) -> Result<MetricAlarm, CloudWatchError> {
    let name = required(&req.alarm_name, "AlarmName")?.clone();
    if name.is_empty() || name.len() > 255 {
        return Err(CloudWatchError::invalid_value("The parameter AlarmName must be 1 to 255 characters long."));
    }
    let evaluation_periods = *required(&req.evaluation_periods, "EvaluationPeriods")?;
    if evaluation_periods < 1 {
        return Err(CloudWatchError::invalid_value("The parameter EvaluationPeriods must be at least 1."));
    }
    if req.threshold_metric_id.is_some() {
        return Err(CloudWatchError::invalid_value(
            "berth does not run anomaly detection: ThresholdMetricId cannot be used; give a Threshold.",
        ));
    }
    let operator = required(&req.comparison_operator, "ComparisonOperator")?;
    let comparison_operator = ComparisonOperator::parse(operator).ok_or_else(|| {
        CloudWatchError::invalid_value(format!(
            "The parameter ComparisonOperator '{operator}' is not one berth evaluates: use GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold or LessThanOrEqualToThreshold."
        ))
    })?;
    let threshold = *required(&req.threshold, "Threshold")?;
    if let Some(d) = req.datapoints_to_alarm {
        if d < 1 || d > evaluation_periods {
            return Err(CloudWatchError::invalid_value(format!(
                "DatapointsToAlarm must be between 1 and EvaluationPeriods ({evaluation_periods}); it was {d}."
            )));
        }
    }
    let treat_missing_data = req
        .treat_missing_data
        .as_deref()
        .map(|t| member(t, "TreatMissingData", TreatMissingData::parse, TreatMissingData::NAMES))
        .transpose()?;
    for (list, what) in [
        (&req.ok_actions, "OKActions"),
        (&req.alarm_actions, "AlarmActions"),
        (&req.insufficient_data_actions, "InsufficientDataActions"),
    ] {
        if list.len() > MAX_ACTIONS {
            return Err(CloudWatchError::invalid_value(format!(
                "The collection {what} must not have a size greater than {MAX_ACTIONS}."
            )));
        }
    }
    check_unit(req.unit.as_deref())?;
    check_dimensions(&req.dimensions, "Dimensions")?;
    let single =
        req.metric_name.is_some() || req.namespace.is_some() || req.statistic.is_some() || req.period.is_some();
    let (statistic, period) = if req.metrics.is_empty() {
        required(&req.metric_name, "MetricName")?;
        required(&req.namespace, "Namespace")?;
        if req.extended_statistic.is_some() {
            return Err(CloudWatchError::invalid_value(
                "berth keeps no percentiles: ExtendedStatistic cannot be used; give a Statistic.",
            ));
        }
        let statistic = parse_statistic(required(&req.statistic, "Statistic")?, "Statistic")?;
        let period = *required(&req.period, "Period")?;
        check_alarm_period(period, "Period")?;
        (Some(statistic), Some(period))
    } else {
        if single || req.extended_statistic.is_some() || !req.dimensions.is_empty() {
            return Err(CloudWatchError::combination(
                "Metrics cannot be given with MetricName, Namespace, Statistic, ExtendedStatistic, Dimensions or Period.",
            ));
        }
        check_queries(&req.metrics, "Metrics")?;
        if req.metrics.iter().filter(|q| q.return_data.unwrap_or(true)).count() != 1 {
            return Err(CloudWatchError::invalid_value(
                "Exactly one of the alarm's Metrics must have ReturnData true: the one the alarm compares with its threshold.",
            ));
        }
        for q in &req.metrics {
            if let Some(p) = q.period.or(q.metric_stat.as_ref().and_then(|s| s.period)) {
                check_alarm_period(p, "Metrics.Period")?;
            }
        }
        (None, None)
    };
    let alarm = MetricAlarm {
        alarm_name: name.clone(),
        alarm_arn: alarm_arn(caller, &name),
        alarm_description: req.alarm_description.clone(),
        alarm_configuration_updated_timestamp: now,
        actions_enabled: req.actions_enabled.unwrap_or(true),
        ok_actions: req.ok_actions.clone(),
        alarm_actions: req.alarm_actions.clone(),
        insufficient_data_actions: req.insufficient_data_actions.clone(),
        state_value: StateValue::InsufficientData,
        state_reason: "Unchecked: Initial alarm creation".into(),
        state_reason_data: None,
        state_updated_timestamp: now,
        state_transitioned_timestamp: now,
        metric_name: req.metric_name.clone(),
        namespace: req.namespace.clone(),
        statistic,
        dimensions: req.dimensions.clone(),
        period,
        unit: req.unit.clone(),
        evaluation_periods,
        datapoints_to_alarm: req.datapoints_to_alarm,
        threshold,
        comparison_operator,
        treat_missing_data,
        metrics: req.metrics.clone(),
    };
    if alarm.evaluation_period() * evaluation_periods > MAX_EVALUATION_SECONDS {
        return Err(CloudWatchError::invalid_value(
            "The product of Period and EvaluationPeriods must not exceed 604,800 seconds (7 days).",
        ));
    }
    Ok(alarm)
}

pub(crate) fn history(
    alarm: &MetricAlarm,
    kind: HistoryItemType,
    summary: String,
    data: serde_json::Value,
    now: f64,
) -> AlarmHistoryItem {
    AlarmHistoryItem {
        alarm_name: alarm.alarm_name.clone(),
        alarm_type: "MetricAlarm".into(),
        timestamp: now,
        history_item_type: kind,
        history_summary: summary,
        history_data: data.to_string(),
    }
}

/// Records a new alarm or a changed one (its state kept), as PutMetricAlarm does.
pub(crate) fn put_alarm(
    region: &RegionState,
    region_name: &str,
    mut alarm: MetricAlarm,
    now: f64,
    changes: &mut Vec<Change>,
) -> Result<(), CloudWatchError> {
    let existing = region.monitoring.alarms.get(&alarm.alarm_name);
    let record = match existing {
        Some(old) => {
            let o = &old.alarm;
            alarm.state_value = o.state_value;
            alarm.state_reason = o.state_reason.clone();
            alarm.state_reason_data = o.state_reason_data.clone();
            alarm.state_updated_timestamp = o.state_updated_timestamp;
            alarm.state_transitioned_timestamp = o.state_transitioned_timestamp;
            let mut rec = AlarmRecord { alarm, history: old.history.clone(), actions_at: old.actions_at };
            let item = history(
                &rec.alarm,
                HistoryItemType::ConfigurationUpdate,
                format!("Alarm \"{}\" updated", rec.alarm.alarm_name),
                serde_json::json!({"type": "Update", "version": "1.0"}),
                now,
            );
            rec.push_history(item);
            rec
        }
        None => {
            if region.monitoring.alarms.len() >= MAX_ALARMS {
                return Err(CloudWatchError::limit_exceeded(format!(
                    "The maximum number of alarms ({MAX_ALARMS}) has been reached in this region."
                )));
            }
            let mut rec = AlarmRecord { alarm, history: Vec::new(), actions_at: None };
            let item = history(
                &rec.alarm,
                HistoryItemType::ConfigurationUpdate,
                format!("Alarm \"{}\" created", rec.alarm.alarm_name),
                serde_json::json!({"type": "Create", "version": "1.0"}),
                now,
            );
            rec.push_history(item);
            rec
        }
    };
    changes.push(Change::Monitoring {
        region: region_name.to_string(),
        change: MonitoringChange::Alarm(Arc::new(record)),
    });
    Ok(())
}

/// Moves an alarm to `state` with a history item; its actions run on the engine's next
/// round.
pub(crate) fn set_state(
    rec: &AlarmRecord,
    state: StateValue,
    reason: String,
    reason_data: Option<String>,
    now: f64,
) -> AlarmRecord {
    let mut next = rec.clone();
    let old = rec.alarm.state_value;
    let a = &mut next.alarm;
    a.state_value = state;
    a.state_reason = reason.clone();
    a.state_reason_data = reason_data;
    a.state_updated_timestamp = now;
    if old != state {
        a.state_transitioned_timestamp = now;
        next.actions_at = None;
    }
    let data = serde_json::json!({
        "version": "1.0",
        "oldState": {"stateValue": old.as_str()},
        "newState": {"stateValue": state.as_str(), "stateReason": reason},
    });
    let item =
        history(&next.alarm, HistoryItemType::StateUpdate, format!("Alarm updated from {old} to {state}"), data, now);
    next.push_history(item);
    next
}

/// The names a DeleteAlarms or Enable/DisableAlarmActions call gives (1 to 100).
fn alarm_names(req: &AlarmNamesInput) -> Result<Vec<String>, CloudWatchError> {
    let names = required(&req.alarm_names, "AlarmNames")?;
    check_alarm_names(names)?;
    Ok(names.clone())
}

/// At most 100 alarm names a call.
pub(crate) fn check_alarm_names(names: &[String]) -> Result<(), CloudWatchError> {
    if names.len() > 100 {
        return Err(CloudWatchError::invalid_value("The collection AlarmNames must not have a size greater than 100."));
    }
    Ok(())
}

fn alarm_named<'a>(state: &'a State, caller: &Caller, name: &str) -> Result<&'a Arc<AlarmRecord>, CloudWatchError> {
    state
        .region(&caller.region)
        .monitoring
        .alarms
        .get(name)
        .ok_or_else(|| CloudWatchError::alarm_not_found(format!("Alarm {name} does not exist.")))
}

pub(crate) fn to_ecs_tags(tags: &[Tag]) -> Vec<tag::Tag> {
    tags.iter().map(|t| tag::Tag::new(&t.key, &t.value)).collect()
}

impl Control {
    /// PutMetricAlarm: creates or replaces an alarm. A new alarm starts in
    /// INSUFFICIENT_DATA and is evaluated within a second; a replaced one keeps its state.
    pub async fn put_metric_alarm(&self, caller: &Caller, req: PutMetricAlarmInput) -> Result<(), CloudWatchError> {
        let now = time::now();
        let alarm = alarm_from(caller, &req, now)?;
        let tags = to_ecs_tags(&req.tags);
        tag::validate(&tags).map_err(|e| CloudWatchError::invalid_value(e.to_string()))?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            let region = state.region(&caller.region);
            let created = !region.monitoring.alarms.contains_key(&alarm.alarm_name);
            let arn = alarm.alarm_arn.clone();
            put_alarm(region, &caller.region, alarm, now, changes)?;
            if created && !tags.is_empty() {
                changes.push(Change::Tags { region: caller.region.clone(), arn, tags: Arc::new(tags) });
            }
            Ok(())
        })
        .await
    }

    /// DeleteAlarms: all of them, or none when one does not exist.
    pub async fn delete_alarms(&self, caller: &Caller, req: AlarmNamesInput) -> Result<(), CloudWatchError> {
        let names = alarm_names(&req)?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            let alarms = &state.region(&caller.region).monitoring.alarms;
            let missing: Vec<&String> = names.iter().filter(|n| !alarms.contains_key(*n)).collect();
            if !missing.is_empty() {
                return Err(CloudWatchError::alarm_not_found(format!(
                    "{} alarm(s) not found: {}. No alarm was deleted.",
                    missing.len(),
                    missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
            for name in names {
                let arn = alarm_arn(&caller, &name);
                changes.push(Change::Monitoring {
                    region: caller.region.clone(),
                    change: MonitoringChange::DeleteAlarm(name),
                });
                changes.push(Change::Tags { region: caller.region.clone(), arn, tags: Arc::new(Vec::new()) });
            }
            Ok(())
        })
        .await
    }

    /// SetAlarmState: the alarm takes the state until its next evaluation.
    pub async fn set_alarm_state(&self, caller: &Caller, req: SetAlarmStateInput) -> Result<(), CloudWatchError> {
        let name = required(&req.alarm_name, "AlarmName")?.clone();
        let value = required(&req.state_value, "StateValue")?;
        let state_value = member(value, "StateValue", StateValue::parse, StateValue::NAMES)?;
        let reason = required(&req.state_reason, "StateReason")?.clone();
        if reason.len() > 1023 {
            return Err(CloudWatchError::invalid_value(
                "The parameter StateReason must be at most 1023 characters long.",
            ));
        }
        if let Some(data) = &req.state_reason_data {
            serde_json::from_str::<serde_json::Value>(data)
                .map_err(|e| CloudWatchError::invalid_format(format!("StateReasonData is not valid JSON: {e}")))?;
        }
        let caller = caller.clone();
        let data = req.state_reason_data.clone();
        self.write(move |state, changes| {
            let rec = alarm_named(state, &caller, &name)?;
            let next = set_state(rec, state_value, reason, data, time::now());
            changes.push(Change::Monitoring {
                region: caller.region.clone(),
                change: MonitoringChange::Alarm(Arc::new(next)),
            });
            Ok(())
        })
        .await
    }

    /// EnableAlarmActions / DisableAlarmActions; names that do not exist are skipped, as
    /// CloudWatch skips them.
    pub async fn set_alarm_actions(
        &self,
        caller: &Caller,
        req: AlarmNamesInput,
        enabled: bool,
    ) -> Result<(), CloudWatchError> {
        let names = alarm_names(&req)?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            let alarms = &state.region(&caller.region).monitoring.alarms;
            for rec in names.iter().filter_map(|n| alarms.get(n)) {
                if rec.alarm.actions_enabled != enabled {
                    let mut next = rec.as_ref().clone();
                    next.alarm.actions_enabled = enabled;
                    next.actions_at = None;
                    changes.push(Change::Monitoring {
                        region: caller.region.clone(),
                        change: MonitoringChange::Alarm(Arc::new(next)),
                    });
                }
            }
            Ok(())
        })
        .await
    }
}
