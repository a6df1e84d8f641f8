//! PutScalingPolicy, DeleteScalingPolicy, DescribeScalingPolicies (what a policy decides
//! when its alarm fires is [`super::scaling_math`]). Target tracking creates its own two alarms, as AWS
//! does (visible in DescribeAlarms): AlarmHigh (above the target for 2 periods of 10 s:
//! scale out fast) and AlarmLow (below 90 % of it for 6 periods: scale in conservatively,
//! not created with DisableScaleIn). Step scaling acts on alarms the user points at it.

use std::sync::Arc;

use berth_model::{
    autoscaling::{
        required, Alarm, AutoScalingError, DeleteScalingPolicyRequest, DescribeScalingPoliciesRequest,
        DescribeScalingPoliciesResponse, Empty, PolicyType, PutScalingPolicyRequest, PutScalingPolicyResponse,
        ScalingPolicy, TargetTrackingScalingPolicyConfiguration, ECS_DESIRED_COUNT, ECS_NAMESPACE,
        PREDEFINED_ALB_REQUESTS, PREDEFINED_ECS_CPU, PREDEFINED_ECS_MEMORY,
    },
    cloudwatch::{ComparisonOperator, Dimension, MetricAlarm, StateValue, Statistic, TreatMissingData},
    time,
};

use super::{
    scaling::{check_namespace, not_registered, paginate, service_of, target_id},
    scaling_math::{check_step, HIGH, HIGH_PERIODS, LOW, LOW_FRACTION, LOW_PERIODS, TRACKING_PERIOD},
    MonitoringChange, PolicyRecord,
};
use crate::{state::Change, Caller, Control, RegionState};

/// The metric a target tracking policy tracks, as an alarm's metric members.
fn tracked_alarm(
    resource_id: &str,
    cfg: &TargetTrackingScalingPolicyConfiguration,
) -> Result<MetricAlarm, AutoScalingError> {
    let (cluster, service) = service_of(resource_id)?;
    let mut alarm = MetricAlarm { period: Some(TRACKING_PERIOD), ..Default::default() };
    match (&cfg.predefined_metric_specification, &cfg.customized_metric_specification) {
        (Some(p), None) => {
            let (namespace, name, dims, stat) = match p.predefined_metric_type.as_str() {
                PREDEFINED_ECS_CPU | "ECSServiceAverageCPUUtilizationHighResolution" => (
                    "AWS/ECS",
                    "CPUUtilization",
                    vec![Dimension::new("ClusterName", cluster), Dimension::new("ServiceName", service)],
                    Statistic::Average,
                ),
                PREDEFINED_ECS_MEMORY | "ECSServiceAverageMemoryUtilizationHighResolution" => (
                    "AWS/ECS",
                    "MemoryUtilization",
                    vec![Dimension::new("ClusterName", cluster), Dimension::new("ServiceName", service)],
                    Statistic::Average,
                ),
                PREDEFINED_ALB_REQUESTS => {
                    let label = p.resource_label.as_deref().ok_or_else(|| {
                        AutoScalingError::validation("ResourceLabel is required for the ALBRequestCountPerTarget metric type.")
                    })?;
                    let group = label.split_once("/targetgroup/").map(|(_, g)| format!("targetgroup/{g}")).ok_or_else(|| {
                        AutoScalingError::validation(format!(
                            "ResourceLabel {label} must be app/LB-NAME/LB-ID/targetgroup/TG-NAME/TG-ID."
                        ))
                    })?;
                    ("AWS/ApplicationELB", "RequestCountPerTarget", vec![Dimension::new("TargetGroup", group)], Statistic::Sum)
                }
                other => {
                    return Err(AutoScalingError::validation(format!(
                        "Unsupported metric type {other} for service namespace ecs: use {PREDEFINED_ECS_CPU}, {PREDEFINED_ECS_MEMORY} or {PREDEFINED_ALB_REQUESTS}."
                    )))
                }
            };
            alarm.namespace = Some(namespace.into());
            alarm.metric_name = Some(name.into());
            alarm.dimensions = dims;
            alarm.statistic = Some(stat);
        }
        (None, Some(c)) if c.metrics.is_empty() => {
            alarm.namespace = Some(required(&c.namespace, "CustomizedMetricSpecification.Namespace")?.clone());
            alarm.metric_name = Some(required(&c.metric_name, "CustomizedMetricSpecification.MetricName")?.clone());
            alarm.dimensions = c.dimensions.clone();
            alarm.statistic = Some(*required(&c.statistic, "CustomizedMetricSpecification.Statistic")?);
            alarm.unit = c.unit.clone();
        }
        (None, Some(c)) => {
            if c.namespace.is_some() || c.metric_name.is_some() || c.statistic.is_some() {
                return Err(AutoScalingError::validation(
                    "CustomizedMetricSpecification takes either Metrics or MetricName, Namespace and Statistic, not both.",
                ));
            }
            alarm.period = None;
            alarm.metrics = c
                .metrics
                .iter()
                .cloned()
                .map(|mut q| {
                    if let Some(s) = q.metric_stat.as_mut() {
                        s.period = Some(TRACKING_PERIOD);
                    }
                    q
                })
                .collect();
            super::metric_data::check_queries(&alarm.metrics, "CustomizedMetricSpecification.Metrics")
                .map_err(|e| AutoScalingError::validation(e.message))?;
        }
        _ => {
            return Err(AutoScalingError::validation(
                "A target tracking policy needs exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification.",
            ))
        }
    }
    Ok(alarm)
}

/// Target tracking's two alarms (one when scale-in is disabled).
fn tracking_alarms(
    caller: &Caller,
    policy: &ScalingPolicy,
    id: &str,
    now: f64,
) -> Result<Vec<MetricAlarm>, AutoScalingError> {
    let cfg = policy.target_tracking_scaling_policy_configuration.as_ref().expect("a target tracking policy");
    let base = tracked_alarm(&policy.resource_id, cfg)?;
    let mut out = Vec::new();
    let mut kinds = vec![(HIGH, ComparisonOperator::GreaterThanThreshold, cfg.target_value, HIGH_PERIODS)];
    if !cfg.disable_scale_in.unwrap_or(false) {
        kinds.push((LOW, ComparisonOperator::LessThanThreshold, cfg.target_value * LOW_FRACTION, LOW_PERIODS));
    }
    for (kind, op, threshold, periods) in kinds {
        let name = format!("TargetTracking-{}{kind}{id}", policy.resource_id);
        out.push(MetricAlarm {
            alarm_arn: super::alarms::alarm_arn(caller, &name),
            alarm_name: name,
            alarm_description: Some(format!(
                "DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {}.",
                policy.policy_arn
            )),
            alarm_configuration_updated_timestamp: now,
            actions_enabled: true,
            alarm_actions: vec![policy.policy_arn.clone()],
            state_value: StateValue::InsufficientData,
            state_reason: "Unchecked: Initial alarm creation".into(),
            state_updated_timestamp: now,
            state_transitioned_timestamp: now,
            evaluation_periods: periods,
            datapoints_to_alarm: Some(periods),
            threshold,
            comparison_operator: op,
            treat_missing_data: Some(TreatMissingData::Missing),
            ..base.clone()
        });
    }
    Ok(out)
}

/// Removes a policy and the alarms target tracking made for it.
pub(crate) fn remove_policy(region: &str, rec: &PolicyRecord, changes: &mut Vec<Change>) {
    if rec.policy.policy_type == PolicyType::TargetTrackingScaling {
        for a in &rec.policy.alarms {
            let change = MonitoringChange::DeleteAlarm(a.alarm_name.clone());
            changes.push(Change::Monitoring { region: region.to_string(), change });
        }
    }
    let change = MonitoringChange::DeletePolicy {
        resource_id: rec.policy.resource_id.clone(),
        name: rec.policy.policy_name.clone(),
    };
    changes.push(Change::Monitoring { region: region.to_string(), change });
}

/// The policy as described: a step policy lists the alarms that point at it.
fn view(region: &RegionState, rec: &PolicyRecord) -> ScalingPolicy {
    let mut p = rec.policy.clone();
    if p.policy_type == PolicyType::StepScaling {
        p.alarms = region
            .monitoring
            .alarms
            .values()
            .filter(|a| {
                a.alarm
                    .alarm_actions
                    .iter()
                    .chain(&a.alarm.ok_actions)
                    .chain(&a.alarm.insufficient_data_actions)
                    .any(|x| x == &p.policy_arn)
            })
            .map(|a| Alarm { alarm_name: a.alarm.alarm_name.clone(), alarm_arn: a.alarm.alarm_arn.clone() })
            .collect();
    }
    p
}

impl Control {
    pub async fn put_scaling_policy(
        &self,
        caller: &Caller,
        req: PutScalingPolicyRequest,
    ) -> Result<PutScalingPolicyResponse, AutoScalingError> {
        let name = required(&req.policy_name, "PolicyName")?.clone();
        if name.is_empty() || name.len() > 256 || name.contains(':') || name.contains('/') {
            return Err(AutoScalingError::validation("PolicyName must be 1 to 256 characters without ':' or '/'."));
        }
        let resource_id = target_id(&req.target)?;
        let policy_type = match req.policy_type.as_deref() {
            None => PolicyType::StepScaling,
            Some(t) => PolicyType::parse(t).ok_or_else(|| {
                AutoScalingError::validation(format!("PolicyType {t} must be StepScaling or TargetTrackingScaling."))
            })?,
        };
        match policy_type {
            PolicyType::PredictiveScaling => {
                return Err(AutoScalingError::validation(
                    "berth does not forecast load: PredictiveScaling policies are not supported; use TargetTrackingScaling or StepScaling.",
                ))
            }
            PolicyType::StepScaling => {
                let cfg = req.step_scaling_policy_configuration.as_ref().ok_or_else(|| {
                    AutoScalingError::validation("StepScalingPolicyConfiguration is required for a StepScaling policy.")
                })?;
                check_step(cfg)?;
            }
            PolicyType::TargetTrackingScaling => {
                let cfg = req.target_tracking_scaling_policy_configuration.as_ref().ok_or_else(|| {
                    AutoScalingError::validation("TargetTrackingScalingPolicyConfiguration is required for a TargetTrackingScaling policy.")
                })?;
                if !(cfg.target_value > 0.0 && cfg.target_value.is_finite()) {
                    return Err(AutoScalingError::validation("TargetValue must be a positive number."));
                }
                for (v, n) in [(cfg.scale_in_cooldown, "ScaleInCooldown"), (cfg.scale_out_cooldown, "ScaleOutCooldown")] {
                    if v.is_some_and(|v| v < 0) {
                        return Err(AutoScalingError::validation(format!("{n} must not be negative.")));
                    }
                }
                tracked_alarm(&resource_id, cfg)?;
            }
        }
        let caller = caller.clone();
        self.write(move |state, changes| {
            let region = state.region(&caller.region);
            if !region.monitoring.targets.contains_key(&resource_id) {
                return Err(not_registered(&resource_id));
            }
            let now = time::now();
            let existing = region.monitoring.policies.get(&(resource_id.clone(), name.clone()));
            let id = match existing {
                Some(old) => old.policy.policy_arn.split(':').nth(6).unwrap_or_default().to_string(),
                None => {
                    if region.monitoring.policies_of(&resource_id).count() >= 50 {
                        return Err(AutoScalingError::limit_exceeded("A scalable target can have at most 50 scaling policies."));
                    }
                    crate::task_network::uuid_like()
                }
            };
            let mut policy = ScalingPolicy {
                policy_arn: format!(
                    "arn:aws:autoscaling:{}:{}:scalingPolicy:{id}:resource/{ECS_NAMESPACE}/{resource_id}:policyName/{name}",
                    caller.region, caller.account
                ),
                policy_name: name.clone(),
                service_namespace: ECS_NAMESPACE.into(),
                resource_id: resource_id.clone(),
                scalable_dimension: ECS_DESIRED_COUNT.into(),
                policy_type,
                step_scaling_policy_configuration: req.step_scaling_policy_configuration.clone().filter(|_| policy_type == PolicyType::StepScaling),
                target_tracking_scaling_policy_configuration: req
                    .target_tracking_scaling_policy_configuration
                    .clone()
                    .filter(|_| policy_type == PolicyType::TargetTrackingScaling),
                alarms: Vec::new(),
                creation_time: existing.map(|o| o.policy.creation_time).unwrap_or(now),
            };
            if let Some(old) = existing {
                // A replaced target tracking policy gets fresh alarms.
                if old.policy.policy_type == PolicyType::TargetTrackingScaling {
                    for a in &old.policy.alarms {
                        changes.push(Change::Monitoring { region: caller.region.clone(), change: MonitoringChange::DeleteAlarm(a.alarm_name.clone()) });
                    }
                }
            }
            if policy_type == PolicyType::TargetTrackingScaling {
                for alarm in tracking_alarms(&caller, &policy, &crate::task_network::uuid_like(), now)? {
                    policy.alarms.push(Alarm { alarm_name: alarm.alarm_name.clone(), alarm_arn: alarm.alarm_arn.clone() });
                    let record = super::AlarmRecord { alarm, history: Vec::new(), actions_at: None };
                    changes.push(Change::Monitoring { region: caller.region.clone(), change: MonitoringChange::Alarm(Arc::new(record)) });
                }
            }
            let out = PutScalingPolicyResponse { policy_arn: policy.policy_arn.clone(), alarms: policy.alarms.clone() };
            let rec = PolicyRecord { policy, last_out: existing.and_then(|o| o.last_out), last_in: existing.and_then(|o| o.last_in) };
            changes.push(Change::Monitoring { region: caller.region.clone(), change: MonitoringChange::Policy(Arc::new(rec)) });
            Ok(out)
        })
        .await
    }

    pub async fn delete_scaling_policy(
        &self,
        caller: &Caller,
        req: DeleteScalingPolicyRequest,
    ) -> Result<Empty, AutoScalingError> {
        let name = required(&req.policy_name, "PolicyName")?.clone();
        let resource_id = target_id(&req.target)?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            let region = state.region(&caller.region);
            let rec = region.monitoring.policies.get(&(resource_id.clone(), name.clone())).ok_or_else(|| {
                AutoScalingError::not_found(format!(
                    "No scaling policy found for service namespace: ecs, resource ID: {resource_id}, scalable dimension: ecs:service:DesiredCount, policy name: {name}"
                ))
            })?;
            remove_policy(&caller.region, rec, changes);
            Ok(Empty {})
        })
        .await
    }

    pub fn describe_scaling_policies(
        &self,
        caller: &Caller,
        req: &DescribeScalingPoliciesRequest,
    ) -> Result<DescribeScalingPoliciesResponse, AutoScalingError> {
        check_namespace(&req.service_namespace)?;
        let policies: Vec<(String, ScalingPolicy)> = self.read(|state| {
            let region = state.region(&caller.region);
            region
                .monitoring
                .policies
                .values()
                .filter(|p| req.resource_id.as_ref().is_none_or(|r| r == &p.policy.resource_id))
                .filter(|p| req.policy_names.is_empty() || req.policy_names.contains(&p.policy.policy_name))
                .filter(|p| req.scalable_dimension.as_ref().is_none_or(|d| d == &p.policy.scalable_dimension))
                .map(|p| (format!("{}\u{0}{}", p.policy.resource_id, p.policy.policy_name), view(region, p)))
                .collect()
        });
        let (scaling_policies, next_token) =
            paginate(policies.into_iter(), true, req.max_results, req.next_token.as_deref(), 50)?;
        Ok(DescribeScalingPoliciesResponse { scaling_policies, next_token })
    }
}
