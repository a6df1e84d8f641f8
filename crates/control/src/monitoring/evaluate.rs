//! How an alarm decides its state from its datapoints, as CloudWatch does: the newest
//! `EvaluationPeriods` periods are looked at; the alarm is in ALARM when at least
//! `DatapointsToAlarm` of them breach, OK when fewer do. Periods without data count as
//! `TreatMissingData` says: `breaching` and `notBreaching` as such, `missing` and
//! `ignore` not at all; when no period has data, `missing` goes to INSUFFICIENT_DATA and
//! `ignore` keeps the current state.

use berth_model::{
    cloudwatch::{MetricAlarm, StateValue, TreatMissingData},
    time::iso8601,
};

/// A decision: the state, the reason in CloudWatch's style, and the reason as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub state: StateValue,
    pub reason: String,
    pub reason_data: String,
    /// The newest datapoint's value (what Auto Scaling policies act on).
    pub latest: Option<f64>,
}

fn number(v: f64) -> String {
    let mut s = format!("{v:.4}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.push('0');
    }
    s
}

fn comparison_words(alarm: &MetricAlarm) -> &'static str {
    use berth_model::cloudwatch::ComparisonOperator::*;
    match alarm.comparison_operator {
        GreaterThanOrEqualToThreshold => "greater than or equal to",
        GreaterThanThreshold => "greater than",
        LessThanThreshold => "less than",
        LessThanOrEqualToThreshold => "less than or equal to",
    }
}

/// Decides the state from `datapoints` (newest first, one per evaluation period, each
/// with the period's start; `None` where the period has no data). `None` means "keep the
/// current state".
pub fn decide(alarm: &MetricAlarm, datapoints: &[(i64, Option<f64>)], now: f64) -> Option<Decision> {
    let treat = alarm.treat_missing_data.unwrap_or_default();
    let needed = alarm.datapoints_needed().max(1) as usize;
    let mut breaching = 0usize;
    let mut counted = 0usize;
    for (_, v) in datapoints {
        match (v, treat) {
            (Some(v), _) => {
                counted += 1;
                if alarm.comparison_operator.breaches(*v, alarm.threshold) {
                    breaching += 1;
                }
            }
            (None, TreatMissingData::Breaching) => {
                counted += 1;
                breaching += 1;
            }
            (None, TreatMissingData::NotBreaching) => counted += 1,
            (None, _) => {}
        }
    }
    let latest = datapoints.iter().find_map(|(_, v)| *v);
    let recent: Vec<String> = datapoints.iter().filter_map(|(_, v)| v.map(number)).collect();
    let listed: Vec<String> =
        datapoints.iter().filter_map(|(t, v)| v.map(|v| format!("{} ({})", number(v), iso8601(*t as f64)))).collect();
    let threshold = number(alarm.threshold);
    let (state, reason) = if counted == 0 {
        if treat == TreatMissingData::Ignore {
            return None;
        }
        (StateValue::InsufficientData, format!("Insufficient Data: {} datapoints were unknown.", datapoints.len()))
    } else if breaching >= needed {
        (
            StateValue::Alarm,
            format!(
                "Threshold Crossed: {breaching} out of the last {} datapoints [{}] {} {} the threshold ({threshold}) (minimum {needed} datapoint{} for OK -> ALARM transition).",
                datapoints.len(),
                listed.join(", "),
                if breaching == 1 { "was" } else { "were" },
                comparison_words(alarm),
                if needed == 1 { "" } else { "s" },
            ),
        )
    } else {
        (
            StateValue::Ok,
            format!(
                "Threshold Crossed: {} datapoint{} [{}] {} not {} the threshold ({threshold}).",
                counted - breaching,
                if counted - breaching == 1 { "" } else { "s" },
                listed.join(", "),
                if counted - breaching == 1 { "was" } else { "were" },
                comparison_words(alarm),
            ),
        )
    };
    let reason_data = serde_json::json!({
        "version": "1.0",
        "queryDate": iso8601(now),
        "statistic": alarm.statistic.map(|s| s.as_str()),
        "period": alarm.evaluation_period(),
        "recentDatapoints": recent.iter().filter_map(|v| v.parse::<f64>().ok()).collect::<Vec<_>>(),
        "threshold": alarm.threshold,
    })
    .to_string();
    Some(Decision { state, reason, reason_data, latest })
}

#[cfg(test)]
mod tests {
    use berth_model::cloudwatch::ComparisonOperator;

    use super::*;

    fn alarm(periods: i64, to_alarm: Option<i64>, treat: Option<TreatMissingData>) -> MetricAlarm {
        MetricAlarm {
            alarm_name: "a".into(),
            evaluation_periods: periods,
            datapoints_to_alarm: to_alarm,
            threshold: 50.0,
            comparison_operator: ComparisonOperator::GreaterThanThreshold,
            treat_missing_data: treat,
            period: Some(10),
            ..Default::default()
        }
    }

    fn points(values: &[Option<f64>]) -> Vec<(i64, Option<f64>)> {
        values.iter().enumerate().map(|(i, v)| (1000 - 10 * i as i64, *v)).collect()
    }

    fn state(a: &MetricAlarm, values: &[Option<f64>]) -> Option<StateValue> {
        decide(a, &points(values), 1000.0).map(|d| d.state)
    }

    #[test]
    fn m_out_of_n_breaching_datapoints_alarm() {
        let a = alarm(3, Some(2), None);
        assert_eq!(state(&a, &[Some(60.0), Some(10.0), Some(70.0)]), Some(StateValue::Alarm));
        assert_eq!(state(&a, &[Some(60.0), Some(10.0), Some(20.0)]), Some(StateValue::Ok));
        // Without DatapointsToAlarm every period must breach.
        let all = alarm(3, None, None);
        assert_eq!(state(&all, &[Some(60.0), Some(60.0), Some(20.0)]), Some(StateValue::Ok));
        assert_eq!(state(&all, &[Some(60.0), Some(60.0), Some(51.0)]), Some(StateValue::Alarm));
        // The threshold itself does not breach GreaterThanThreshold.
        assert_eq!(state(&alarm(1, None, None), &[Some(50.0)]), Some(StateValue::Ok));
    }

    #[test]
    fn missing_data_counts_as_treat_missing_data_says() {
        let gap = [None, None, Some(60.0)];
        assert_eq!(state(&alarm(3, Some(2), None), &gap), Some(StateValue::Ok));
        assert_eq!(state(&alarm(3, Some(2), Some(TreatMissingData::Breaching)), &gap), Some(StateValue::Alarm));
        assert_eq!(state(&alarm(3, Some(2), Some(TreatMissingData::NotBreaching)), &gap), Some(StateValue::Ok));
        let none = [None, None, None];
        assert_eq!(state(&alarm(3, Some(2), None), &none), Some(StateValue::InsufficientData));
        assert_eq!(state(&alarm(3, Some(2), Some(TreatMissingData::Ignore)), &none), None);
        assert_eq!(state(&alarm(3, Some(2), Some(TreatMissingData::Breaching)), &none), Some(StateValue::Alarm));
        assert_eq!(state(&alarm(3, Some(2), Some(TreatMissingData::NotBreaching)), &none), Some(StateValue::Ok));
    }

    #[test]
    fn the_reason_names_the_datapoints_and_the_newest_value_is_kept() {
        let d = decide(&alarm(2, None, None), &points(&[Some(84.5), Some(70.0)]), 1000.0).unwrap();
        assert!(d.reason.starts_with("Threshold Crossed: 2 out of the last 2 datapoints [84.5 ("), "{}", d.reason);
        assert!(
            d.reason
                .ends_with("were greater than the threshold (50.0) (minimum 2 datapoints for OK -> ALARM transition)."),
            "{}",
            d.reason
        );
        assert_eq!(d.latest, Some(84.5));
        let data: serde_json::Value = serde_json::from_str(&d.reason_data).unwrap();
        assert_eq!(data["recentDatapoints"], serde_json::json!([84.5, 70.0]));
    }
}
