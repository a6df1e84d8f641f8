//! What a scaling policy decides, as pure functions: target tracking's and step scaling's
//! new capacity, the cooldowns, and target tracking's alarm shape.

use berth_model::autoscaling::{AdjustmentType, AutoScalingError, ScalingPolicy, StepScalingPolicyConfiguration};

use super::PolicyRecord;

/// The default cooldown (seconds) of ECS targets, both ways.
pub const DEFAULT_COOLDOWN: i64 = 300;
/// Target tracking's alarms: their period, and how many periods each looks at.
pub const TRACKING_PERIOD: i64 = 10;
pub const HIGH_PERIODS: i64 = 2;
pub const LOW_PERIODS: i64 = 6;
/// AlarmLow's threshold as a fraction of the target.
pub const LOW_FRACTION: f64 = 0.9;

/// What target tracking's alarm names carry, and the engine reads the direction from.
pub(crate) const HIGH: &str = "-AlarmHigh-";
pub(crate) const LOW: &str = "-AlarmLow-";

/// Which way a policy execution goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Out,
    In,
}

/// The desired count target tracking wants at `value` (the metric's newest datapoint).
pub fn tracking_capacity(current: i64, value: f64, target: f64, direction: Direction) -> i64 {
    let proportional = (current as f64 * value / target).ceil() as i64;
    match direction {
        // Scale out at least one task; in, at most to what the load needs.
        Direction::Out => proportional.max(current + 1),
        Direction::In => proportional.min(current - 1).max(0),
    }
}

/// The desired count a step policy wants when its alarm's metric is `value` against the
/// alarm's `threshold`; `None` when no step covers the breach.
pub fn step_capacity(current: i64, value: f64, threshold: f64, cfg: &StepScalingPolicyConfiguration) -> Option<i64> {
    let breach = value - threshold;
    let step = cfg.step_adjustments.iter().find(|s| {
        s.metric_interval_lower_bound.is_none_or(|l| breach >= l)
            && s.metric_interval_upper_bound.is_none_or(|u| breach < u)
    })?;
    let adj = step.scaling_adjustment;
    Some(match cfg.adjustment_type.unwrap_or_default() {
        AdjustmentType::ExactCapacity => adj,
        AdjustmentType::ChangeInCapacity => current + adj,
        AdjustmentType::PercentChangeInCapacity => {
            let raw = current as f64 * adj as f64 / 100.0;
            // Between -1 and 1 rounds away from zero; beyond, toward zero (as AWS rounds).
            let mut change =
                if raw.abs() < 1.0 { raw.signum() as i64 * (raw != 0.0) as i64 } else { raw.trunc() as i64 };
            if let Some(min) = cfg.min_adjustment_magnitude {
                if change.abs() < min {
                    change = change.signum() * min;
                }
            }
            current + change
        }
    })
}

/// The last scale-out while its cooldown lasts: (capacity before it, capacity it set).
pub fn out_cooldown(rec: &PolicyRecord, now: f64) -> Option<(i64, i64)> {
    let (out_cd, _) = cooldowns(&rec.policy);
    rec.last_out.filter(|(at, _, _)| now < at + out_cd as f64).map(|(_, from, to)| (from, to))
}

/// Whether a cooldown lets a scaling to `wanted` run now. During the scale-out cooldown
/// only a larger scale-out than the one that started it runs (the capacity it added
/// counts toward the next one); no scale-in runs during the scale-in cooldown.
pub fn cooldown_allows(rec: &PolicyRecord, direction: Direction, wanted: i64, now: f64) -> bool {
    let (_, in_cd) = cooldowns(&rec.policy);
    match direction {
        Direction::Out => out_cooldown(rec, now).is_none_or(|(_, set)| wanted > set),
        Direction::In => rec.last_in.is_none_or(|at| now >= at + in_cd as f64),
    }
}

fn cooldowns(p: &ScalingPolicy) -> (i64, i64) {
    if let Some(t) = &p.target_tracking_scaling_policy_configuration {
        (t.scale_out_cooldown.unwrap_or(DEFAULT_COOLDOWN), t.scale_in_cooldown.unwrap_or(DEFAULT_COOLDOWN))
    } else {
        let c = p.step_scaling_policy_configuration.as_ref().and_then(|s| s.cooldown).unwrap_or(DEFAULT_COOLDOWN);
        (c, c)
    }
}

/// Which way a target tracking alarm scales.
pub fn tracking_direction(alarm_name: &str) -> Option<Direction> {
    if alarm_name.contains(HIGH) {
        Some(Direction::Out)
    } else if alarm_name.contains(LOW) {
        Some(Direction::In)
    } else {
        None
    }
}

pub(crate) fn check_step(cfg: &StepScalingPolicyConfiguration) -> Result<(), AutoScalingError> {
    if cfg.adjustment_type.is_none() {
        return Err(AutoScalingError::validation("StepScalingPolicyConfiguration.AdjustmentType is required."));
    }
    if cfg.step_adjustments.is_empty() {
        return Err(AutoScalingError::validation(
            "StepScalingPolicyConfiguration.StepAdjustments must have at least one step.",
        ));
    }
    let mut steps: Vec<(f64, f64)> = cfg
        .step_adjustments
        .iter()
        .map(|s| {
            (
                s.metric_interval_lower_bound.unwrap_or(f64::NEG_INFINITY),
                s.metric_interval_upper_bound.unwrap_or(f64::INFINITY),
            )
        })
        .collect();
    if steps.iter().any(|(l, u)| l >= u) {
        return Err(AutoScalingError::validation(
            "Each step's MetricIntervalLowerBound must be below its MetricIntervalUpperBound.",
        ));
    }
    steps.sort_by(|a, b| a.0.total_cmp(&b.0));
    if steps.windows(2).any(|w| w[0].1 > w[1].0) {
        return Err(AutoScalingError::validation("The step adjustments' intervals must not overlap."));
    }
    if cfg.min_adjustment_magnitude.is_some() && cfg.adjustment_type != Some(AdjustmentType::PercentChangeInCapacity) {
        return Err(AutoScalingError::validation(
            "MinAdjustmentMagnitude is only for the PercentChangeInCapacity adjustment type.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use berth_model::autoscaling::{
        PolicyType, StepAdjustment, TargetTrackingScalingPolicyConfiguration, ECS_DESIRED_COUNT,
    };

    use super::*;

    #[test]
    fn target_tracking_scales_out_in_proportion_and_in_by_at_most_what_the_load_allows() {
        // 2 tasks at 150 % of a 50 % target need 6.
        assert_eq!(tracking_capacity(2, 150.0, 50.0, Direction::Out), 6);
        // Just above the target still adds one.
        assert_eq!(tracking_capacity(4, 50.1, 50.0, Direction::Out), 5);
        // 6 tasks at 10 % of a 50 % target need 2; scale in by at least one.
        assert_eq!(tracking_capacity(6, 10.0, 50.0, Direction::In), 2);
        assert_eq!(tracking_capacity(3, 44.0, 50.0, Direction::In), 2);
        assert_eq!(tracking_capacity(1, 0.0, 50.0, Direction::In), 0);
    }

    fn step(lower: Option<f64>, upper: Option<f64>, adj: i64) -> StepAdjustment {
        StepAdjustment {
            metric_interval_lower_bound: lower,
            metric_interval_upper_bound: upper,
            scaling_adjustment: adj,
        }
    }

    #[test]
    fn step_scaling_picks_the_step_the_breach_falls_in() {
        let cfg = StepScalingPolicyConfiguration {
            adjustment_type: Some(AdjustmentType::ChangeInCapacity),
            step_adjustments: vec![step(Some(0.0), Some(10.0), 1), step(Some(10.0), None, 3)],
            ..Default::default()
        };
        assert_eq!(step_capacity(2, 105.0, 100.0, &cfg), Some(3));
        assert_eq!(step_capacity(2, 110.0, 100.0, &cfg), Some(5));
        assert_eq!(step_capacity(2, 90.0, 100.0, &cfg), None);
        let exact =
            StepScalingPolicyConfiguration { adjustment_type: Some(AdjustmentType::ExactCapacity), ..cfg.clone() };
        assert_eq!(step_capacity(2, 120.0, 100.0, &exact), Some(3));
        let percent = StepScalingPolicyConfiguration {
            adjustment_type: Some(AdjustmentType::PercentChangeInCapacity),
            step_adjustments: vec![step(None, Some(0.0), -50), step(Some(0.0), None, 25)],
            min_adjustment_magnitude: Some(2),
            ..Default::default()
        };
        // 25 % of 2 is 0.5: rounds away from zero to 1, then MinAdjustmentMagnitude makes it 2.
        assert_eq!(step_capacity(2, 101.0, 100.0, &percent), Some(4));
        // -50 % of 9 is -4.5: toward zero, -4.
        assert_eq!(step_capacity(9, 99.0, 100.0, &percent), Some(5));
    }

    #[test]
    fn steps_that_overlap_or_lack_a_type_are_refused() {
        let overlapping = StepScalingPolicyConfiguration {
            adjustment_type: Some(AdjustmentType::ChangeInCapacity),
            step_adjustments: vec![step(Some(0.0), Some(10.0), 1), step(Some(5.0), None, 3)],
            ..Default::default()
        };
        assert!(check_step(&overlapping).is_err());
        let untyped =
            StepScalingPolicyConfiguration { step_adjustments: vec![step(Some(0.0), None, 1)], ..Default::default() };
        assert!(check_step(&untyped).is_err());
    }

    fn record(out: Option<(f64, i64, i64)>, r#in: Option<f64>) -> PolicyRecord {
        let cfg = TargetTrackingScalingPolicyConfiguration {
            target_value: 50.0,
            scale_out_cooldown: Some(60),
            scale_in_cooldown: Some(120),
            ..Default::default()
        };
        PolicyRecord {
            policy: ScalingPolicy {
                policy_arn: "p".into(),
                policy_name: "p".into(),
                service_namespace: "ecs".into(),
                resource_id: "service/c/web".into(),
                scalable_dimension: ECS_DESIRED_COUNT.into(),
                policy_type: PolicyType::TargetTrackingScaling,
                step_scaling_policy_configuration: None,
                target_tracking_scaling_policy_configuration: Some(cfg),
                alarms: Vec::new(),
                creation_time: 0.0,
            },
            last_out: out,
            last_in: r#in,
        }
    }

    #[test]
    fn cooldowns_hold_back_repeats_but_not_a_larger_scale_out() {
        let rec = record(Some((1000.0, 2, 4)), Some(1000.0));
        assert_eq!(out_cooldown(&rec, 1030.0), Some((2, 4)));
        assert_eq!(out_cooldown(&rec, 1060.0), None);
        assert!(!cooldown_allows(&rec, Direction::Out, 4, 1030.0));
        assert!(cooldown_allows(&rec, Direction::Out, 5, 1030.0));
        assert!(cooldown_allows(&rec, Direction::Out, 4, 1060.0));
        assert!(!cooldown_allows(&rec, Direction::In, 3, 1100.0));
        assert!(cooldown_allows(&rec, Direction::In, 3, 1120.0));
        assert!(cooldown_allows(&record(None, None), Direction::In, 1, 0.0));
    }
}
