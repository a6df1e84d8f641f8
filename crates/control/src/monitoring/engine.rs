//! The monitoring engine: once a second it writes the `AWS/ECS` metrics of the moment,
//! evaluates every alarm over its newest periods, moves the alarms whose state changed,
//! runs their actions (Application Auto Scaling policies; for as long as the state lasts,
//! once a period, as CloudWatch invokes Auto Scaling actions), and runs the scheduled
//! actions that are due.

use std::{sync::Arc, time::Duration};

use berth_model::{
    autoscaling::PolicyType,
    cloudwatch::{HistoryItemType, StateValue},
};

use super::{
    alarms::{history, set_state},
    blocking,
    evaluate::{decide, Decision},
    metric_data::run_queries,
    scaling::{activity, push_activity, scale_to, Scaled},
    scaling_math::{cooldown_allows, out_cooldown, step_capacity, tracking_capacity, tracking_direction, Direction},
    schedule, store_error, AlarmRecord, MonitoringChange,
};
use crate::{controller::Clock, state::Change, Control, RegionState};

/// An alarm action to run: a policy, and what the alarm saw.
#[derive(Debug, Clone)]
struct Invocation {
    region: String,
    policy_arn: String,
    alarm_name: String,
    state: StateValue,
    latest: Option<f64>,
    threshold: f64,
}

fn is_policy(arn: &str) -> bool {
    arn.starts_with("arn:aws:autoscaling:") && arn.contains(":scalingPolicy:")
}

/// The alarm's datapoints, newest first: one per period, the newest ending at `end`.
fn datapoints(store: &berth_metrics::Metrics, region: &str, rec: &AlarmRecord, end: i64) -> Vec<(i64, Option<f64>)> {
    let a = &rec.alarm;
    let period = a.evaluation_period().max(1);
    let n = a.evaluation_periods.max(1);
    let start = end - n * period;
    let values: std::collections::BTreeMap<i64, f64> = if let (Some(series), Some(stat)) = (a.series(), a.statistic) {
        match store.buckets(region, &series, a.unit.as_deref(), start, end, period) {
            Ok(b) => b.iter().map(|b| (b.start, b.stat(stat))).collect(),
            Err(e) => {
                tracing::warn!(alarm = %a.alarm_name, error = %e, "reading the alarm's metric failed");
                return Vec::new();
            }
        }
    } else {
        match run_queries(store, region, &a.metrics, start, end, false) {
            Ok(results) => results.into_iter().find(|r| r.return_data).map(|r| r.series).unwrap_or_default(),
            Err(e) => {
                tracing::warn!(alarm = %a.alarm_name, error = %e, "evaluating the alarm's metrics failed");
                return Vec::new();
            }
        }
    };
    (0..n).map(|k| end - (k + 1) * period).map(|t| (t, values.get(&t).copied())).collect()
}

impl Control {
    /// Runs the engine every `every` until the handle is aborted.
    pub fn spawn_monitoring(&self, clock: Arc<dyn Clock>, every: Duration) -> tokio::task::JoinHandle<()> {
        let control = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                control.monitoring_round(clock.now()).await;
            }
        })
    }

    /// One round of the engine as of `now`.
    pub async fn monitoring_round(&self, now: f64) {
        let Ok(store) = self.metric_store() else { return };
        // The metrics of this second.
        let points = self.collect_points(now);
        if !points.is_empty() {
            let s = store.clone();
            let put = blocking(move || {
                let mut by_region: std::collections::BTreeMap<String, Vec<berth_metrics::Point>> = Default::default();
                for (region, p) in points {
                    by_region.entry(region).or_default().push(p);
                }
                by_region.iter().try_for_each(|(region, p)| s.put(region, p)).map_err(store_error)
            });
            if let Err(e) = put.await {
                tracing::warn!(error = %e, "storing the ECS metrics failed");
            }
        }
        // Every alarm's decision, read off the async threads.
        let alarms: Vec<(String, Arc<AlarmRecord>)> = self.read(|state| {
            state
                .regions()
                .flat_map(|(r, region)| region.monitoring.alarms.values().map(move |a| (r.clone(), a.clone())))
                .collect()
        });
        let end = now.floor() as i64 + 1;
        let decisions = blocking(move || {
            Ok(alarms
                .into_iter()
                .map(|(region, rec)| {
                    let points = datapoints(&store, &region, &rec, end);
                    let decision = decide(&rec.alarm, &points, now);
                    (region, rec, decision)
                })
                // Only alarms that move or whose actions are due go to the writer.
                .filter(|(_, rec, d)| {
                    d.as_ref().is_some_and(|d| d.state != rec.alarm.state_value) || rec.actions_due(now)
                })
                .collect::<Vec<_>>())
        })
        .await
        .unwrap_or_default();
        if !decisions.is_empty() {
            for inv in self.apply_decisions(decisions, now).await {
                self.execute_policy(inv, now).await;
            }
        }
        if self.read(|s| s.regions().any(|(_, r)| !r.monitoring.scheduled.is_empty())) {
            self.run_schedules(now).await;
        }
    }

    /// Moves alarms whose state changed and collects the actions due.
    async fn apply_decisions(
        &self,
        decisions: Vec<(String, Arc<AlarmRecord>, Option<Decision>)>,
        now: f64,
    ) -> Vec<Invocation> {
        let result = self
            .write(move |state, changes| {
                let mut due = Vec::new();
                for (region, seen, decision) in decisions {
                    // The alarm as it is now; a decision on an older configuration is dropped.
                    let Some(rec) = state.region(&region).monitoring.alarms.get(&seen.alarm.alarm_name) else { continue };
                    if rec.alarm.alarm_configuration_updated_timestamp != seen.alarm.alarm_configuration_updated_timestamp {
                        continue;
                    }
                    let mut next = rec.as_ref().clone();
                    let mut latest = None;
                    if let Some(d) = decision {
                        latest = d.latest;
                        if d.state != next.alarm.state_value {
                            next = set_state(&next, d.state, d.reason, Some(d.reason_data), now);
                        }
                    }
                    if next.actions_due(now) {
                        let first = next.actions_at.is_none();
                        for arn in next.current_actions().to_vec() {
                            if is_policy(&arn) {
                                due.push(Invocation {
                                    region: region.clone(),
                                    policy_arn: arn,
                                    alarm_name: next.alarm.alarm_name.clone(),
                                    state: next.alarm.state_value,
                                    latest,
                                    threshold: next.alarm.threshold,
                                });
                            } else if first {
                                let data = serde_json::json!({"actionState": "Failed", "notificationResource": arn, "error": "berth runs only Application Auto Scaling policies as alarm actions"});
                                let summary = format!("Failed to execute action {arn}");
                                let item = history(&next.alarm, HistoryItemType::Action, summary, data, now);
                                next.push_history(item);
                            }
                        }
                        next.actions_at = Some(now);
                    }
                    if &next != rec.as_ref() {
                        changes.push(Change::Monitoring { region: region.clone(), change: MonitoringChange::Alarm(Arc::new(next)) });
                    }
                }
                Ok::<_, berth_model::EcsError>(due)
            })
            .await;
        result.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "updating alarms failed");
            Vec::new()
        })
    }

    /// Runs one policy for an alarm.
    async fn execute_policy(&self, inv: Invocation, now: f64) {
        let result = self
            .write(move |state, changes| {
                let region = state.region(&inv.region);
                let Some(rec) = region.monitoring.policy_by_arn(&inv.policy_arn) else { return Ok(()) };
                let Some(target) = region.monitoring.targets.get(&rec.policy.resource_id) else { return Ok(()) };
                let Some(svc) = super::scaling::active_service(region, &target.target.resource_id) else {
                    return Ok(());
                };
                let current = svc.service.desired_count;
                let Some(value) = inv.latest else { return Ok(()) };
                let p = &rec.policy;
                let (wanted, direction) = match p.policy_type {
                    PolicyType::TargetTrackingScaling => {
                        let cfg = p.target_tracking_scaling_policy_configuration.as_ref().expect("tracking");
                        let Some(direction) =
                            tracking_direction(&inv.alarm_name).filter(|_| inv.state == StateValue::Alarm)
                        else {
                            return Ok(());
                        };
                        if direction == Direction::In && cfg.disable_scale_in.unwrap_or(false) {
                            return Ok(());
                        }
                        (tracking_capacity(current, value, cfg.target_value, direction), direction)
                    }
                    PolicyType::StepScaling => {
                        let cfg = p.step_scaling_policy_configuration.as_ref().expect("step");
                        // During a scale-out cooldown, steps count from the capacity before it.
                        let base = out_cooldown(rec, now).map(|(from, _)| from).unwrap_or(current);
                        let Some(wanted) = step_capacity(base, value, inv.threshold, cfg) else { return Ok(()) };
                        (wanted, if wanted >= current { Direction::Out } else { Direction::In })
                    }
                    PolicyType::PredictiveScaling => return Ok(()),
                };
                let suspended = target.target.suspended_state;
                let blocked = match direction {
                    Direction::Out => suspended.dynamic_scaling_out_suspended,
                    Direction::In => suspended.dynamic_scaling_in_suspended,
                };
                if blocked || !cooldown_allows(rec, direction, wanted, now) {
                    return Ok(());
                }
                let cause = format!(
                    "monitor alarm {} in state {} triggered policy {}",
                    inv.alarm_name, inv.state, p.policy_name
                );
                if let Scaled::Changed(old, new) =
                    scale_to(region, &inv.region, &target.target, wanted, &cause, now, changes)
                {
                    let mut next = rec.as_ref().clone();
                    match direction {
                        Direction::Out => {
                            let from = out_cooldown(rec, now).map(|(from, _)| from).unwrap_or(old);
                            next.last_out = Some((now, from, new));
                        }
                        Direction::In => next.last_in = Some(now),
                    }
                    changes.push(Change::Monitoring {
                        region: inv.region.clone(),
                        change: MonitoringChange::Policy(Arc::new(next)),
                    });
                }
                Ok::<_, berth_model::EcsError>(())
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "running a scaling policy failed");
        }
    }

    /// Runs the scheduled actions that are due.
    async fn run_schedules(&self, now: f64) {
        let result = self
            .write(move |state, changes| {
                for (region_name, region) in state.regions() {
                    run_region_schedules(region, region_name, now, changes);
                }
                Ok::<_, berth_model::EcsError>(())
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "running scheduled actions failed");
        }
    }
}

fn run_region_schedules(region: &RegionState, region_name: &str, now: f64, changes: &mut Vec<Change>) {
    let m = &region.monitoring;
    for rec in m.scheduled.values() {
        let a = &rec.action;
        let Some(target) = m.targets.get(&a.resource_id) else { continue };
        if target.target.suspended_state.scheduled_scaling_suspended {
            continue;
        }
        let Ok(zoned) = schedule::parse(&a.schedule, a.timezone.as_deref()) else { continue };
        let anchor = a.creation_time.max(a.start_time.unwrap_or(0.0));
        let after = rec.last_run.unwrap_or(a.creation_time);
        let Some(next) = zoned.next_after(after, anchor) else { continue };
        let in_window = a.start_time.is_none_or(|s| next >= s) && a.end_time.is_none_or(|e| next <= e);
        if next > now || !in_window {
            continue;
        }
        let mut t = target.target.clone();
        let action = a.scalable_target_action;
        t.min_capacity = action.min_capacity.unwrap_or(t.min_capacity);
        t.max_capacity = action.max_capacity.unwrap_or(t.max_capacity);
        if t.min_capacity > t.max_capacity {
            // One bound given crosses the other: the given one wins, as it does on AWS.
            if action.min_capacity.is_some() {
                t.max_capacity = t.min_capacity;
            } else {
                t.min_capacity = t.max_capacity;
            }
        }
        let parts: Vec<String> = [("min", action.min_capacity), ("max", action.max_capacity)]
            .iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k} capacity to {v}")))
            .collect();
        let cause = format!("scheduled action name {} was triggered", a.scheduled_action_name);
        push_activity(
            region,
            region_name,
            activity(&a.resource_id, format!("Setting {}.", parts.join(" and ")), cause.clone(), now),
            changes,
        );
        if let Some(svc) = super::scaling::active_service(region, &a.resource_id) {
            let d = svc.service.desired_count;
            if d < t.min_capacity || d > t.max_capacity {
                scale_to(region, region_name, &t, d, &cause, now, changes);
            }
        }
        let mut done = rec.as_ref().clone();
        done.last_run = Some(now);
        changes.push(Change::Monitoring {
            region: region_name.to_string(),
            change: MonitoringChange::Scheduled(Arc::new(done)),
        });
        changes.push(Change::Monitoring {
            region: region_name.to_string(),
            change: MonitoringChange::Target(Arc::new(super::TargetRecord { target: t })),
        });
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
