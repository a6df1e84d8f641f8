//! The engine with time held still: each round runs at a time the test gives, over a real
//! metric store and control plane (no agent: the desired count is what changes).

use berth_metrics::{Metrics, Point, Sample};
use berth_model::{
    autoscaling::{
        PutScalingPolicyRequest, PutScheduledActionRequest, RegisterScalableTargetRequest, ScalableTargetAction,
        StepAdjustment, StepScalingPolicyConfiguration, TargetRef, TargetTrackingScalingPolicyConfiguration,
    },
    cloudwatch::{DescribeAlarmsInput, Dimension, PutMetricAlarmInput, SeriesKey, StateValue},
    ecs::DescribeServicesRequest,
};

use crate::{test_support::*, Control};

const T0: f64 = 1_800_000_000.0;

fn target() -> TargetRef {
    TargetRef {
        service_namespace: Some("ecs".into()),
        resource_id: Some("service/c/web".into()),
        scalable_dimension: Some("ecs:service:DesiredCount".into()),
    }
}

async fn setup(dir: &std::path::Path, min: i64, max: i64) -> (Control, Metrics) {
    let control = open(dir);
    let metrics = Metrics::open(&dir.join("m")).unwrap();
    control.configure_metrics(metrics.clone());
    cluster_with_instances(&control, &["a"], 4096, 1).await;
    control.create_service(&caller(), web_service(1)).await.unwrap();
    let req = RegisterScalableTargetRequest {
        target: target(),
        min_capacity: Some(min),
        max_capacity: Some(max),
        ..Default::default()
    };
    control.register_scalable_target(&caller(), req).await.unwrap();
    (control, metrics)
}

fn desired(control: &Control) -> i64 {
    let req =
        DescribeServicesRequest { cluster: Some("c".into()), services: Some(vec!["web".into()]), include: Vec::new() };
    control.describe_services(&caller(), &req).unwrap().services[0].desired_count
}

fn put(metrics: &Metrics, series: &SeriesKey, from: f64, to: f64, value: f64) {
    let points: Vec<Point> = (from as i64..to as i64)
        .map(|ts| Point { series: series.clone(), unit: None, ts, sample: Sample::value(value, 1.0) })
        .collect();
    metrics.put("us-east-1", &points).unwrap();
}

fn alarm_state(control: &Control, name: &str) -> StateValue {
    let req = DescribeAlarmsInput { alarm_names: vec![name.into()], ..Default::default() };
    control.describe_alarms(&caller(), &req).unwrap().metric_alarms[0].state_value
}

/// A step policy with one step (from 0 up) and an alarm on `Shop/METRIC` pointing at it.
async fn step_policy_and_alarm(
    control: &Control,
    adjustment: (berth_model::autoscaling::AdjustmentType, i64),
    cooldown: i64,
    alarm: (&str, &str, &str, i64, f64),
) {
    let (kind, adj) = adjustment;
    let step = StepScalingPolicyConfiguration {
        adjustment_type: Some(kind),
        step_adjustments: vec![StepAdjustment {
            metric_interval_lower_bound: Some(0.0),
            metric_interval_upper_bound: None,
            scaling_adjustment: adj,
        }],
        cooldown: Some(cooldown),
        ..Default::default()
    };
    let (name, metric, statistic, periods, threshold) = alarm;
    let policy = PutScalingPolicyRequest {
        policy_name: Some(format!("{name}-policy")),
        target: target(),
        policy_type: Some("StepScaling".into()),
        step_scaling_policy_configuration: Some(step),
        ..Default::default()
    };
    let arn = control.put_scaling_policy(&caller(), policy).await.unwrap().policy_arn;
    let alarm = PutMetricAlarmInput {
        alarm_name: Some(name.into()),
        namespace: Some("Shop".into()),
        metric_name: Some(metric.into()),
        statistic: Some(statistic.into()),
        period: Some(10),
        evaluation_periods: Some(periods),
        threshold: Some(threshold),
        comparison_operator: Some("GreaterThanThreshold".into()),
        alarm_actions: vec![arn],
        ..Default::default()
    };
    control.put_metric_alarm(&caller(), alarm).await.unwrap();
}

#[tokio::test]
async fn a_step_policy_scales_out_once_per_cooldown_and_within_the_maximum() {
    let dir = tempfile::tempdir().unwrap();
    let (control, metrics) = setup(dir.path(), 1, 6).await;
    let change = (berth_model::autoscaling::AdjustmentType::ChangeInCapacity, 2);
    step_policy_and_alarm(&control, change, 60, ("backlog-high", "Backlog", "Average", 2, 100.0)).await;
    let backlog = SeriesKey::new("Shop", "Backlog", vec![]);

    // Quiet: OK, nothing moves.
    put(&metrics, &backlog, T0 - 30.0, T0, 10.0);
    control.monitoring_round(T0).await;
    assert_eq!((alarm_state(&control, "backlog-high"), desired(&control)), (StateValue::Ok, 1));
    // One breaching period of the two needed: still OK.
    put(&metrics, &backlog, T0, T0 + 10.0, 500.0);
    control.monitoring_round(T0 + 10.0).await;
    assert_eq!(alarm_state(&control, "backlog-high"), StateValue::Ok);
    // Two: ALARM, and the policy adds 2.
    put(&metrics, &backlog, T0 + 10.0, T0 + 20.0, 500.0);
    control.monitoring_round(T0 + 20.0).await;
    assert_eq!((alarm_state(&control, "backlog-high"), desired(&control)), (StateValue::Alarm, 3));
    // The alarm stays in ALARM and runs its action every period, but within the cooldown
    // the step counts from the capacity before the scale-out: nothing more.
    put(&metrics, &backlog, T0 + 20.0, T0 + 50.0, 500.0);
    control.monitoring_round(T0 + 30.0).await;
    control.monitoring_round(T0 + 50.0).await;
    assert_eq!(desired(&control), 3);
    // Past the cooldown it adds 2 more; then the maximum holds it at 6.
    put(&metrics, &backlog, T0 + 50.0, T0 + 200.0, 500.0);
    control.monitoring_round(T0 + 90.0).await;
    assert_eq!(desired(&control), 5);
    control.monitoring_round(T0 + 160.0).await;
    assert_eq!(desired(&control), 6);
    control.monitoring_round(T0 + 199.0).await;
    assert_eq!(desired(&control), 6);
    // Without data the alarm has nothing to say.
    control.monitoring_round(T0 + 400.0).await;
    assert_eq!(alarm_state(&control, "backlog-high"), StateValue::InsufficientData);
}

#[tokio::test]
async fn target_tracking_scales_out_fast_and_in_only_after_a_minute_low() {
    let dir = tempfile::tempdir().unwrap();
    let (control, metrics) = setup(dir.path(), 1, 10).await;
    let tracking = TargetTrackingScalingPolicyConfiguration {
        target_value: 50.0,
        predefined_metric_specification: Some(berth_model::autoscaling::PredefinedMetricSpecification {
            predefined_metric_type: "ECSServiceAverageCPUUtilization".into(),
            resource_label: None,
        }),
        scale_in_cooldown: Some(0),
        ..Default::default()
    };
    let policy = PutScalingPolicyRequest {
        policy_name: Some("cpu50".into()),
        target: target(),
        policy_type: Some("TargetTrackingScaling".into()),
        target_tracking_scaling_policy_configuration: Some(tracking),
        ..Default::default()
    };
    control.put_scaling_policy(&caller(), policy).await.unwrap();
    let cpu = SeriesKey::new(
        "AWS/ECS",
        "CPUUtilization",
        vec![Dimension::new("ClusterName", "c"), Dimension::new("ServiceName", "web")],
    );

    // 200 % of the reservation on one task: 20 s above the target makes it 4.
    put(&metrics, &cpu, T0, T0 + 20.0, 200.0);
    control.monitoring_round(T0 + 19.0).await;
    assert_eq!(desired(&control), 4);
    // The load spreads: 46 % is below the target but not below 90 % of it — stays.
    put(&metrics, &cpu, T0 + 20.0, T0 + 100.0, 46.0);
    control.monitoring_round(T0 + 99.0).await;
    assert_eq!(desired(&control), 4);
    // Low for less than a minute: stays.
    put(&metrics, &cpu, T0 + 100.0, T0 + 200.0, 10.0);
    control.monitoring_round(T0 + 140.0).await;
    assert_eq!(desired(&control), 4);
    // Low for a minute: in to what the load needs, ceil(4 × 10 / 50) = 1.
    control.monitoring_round(T0 + 165.0).await;
    assert_eq!(desired(&control), 1);
}

#[tokio::test]
async fn a_scheduled_action_runs_at_its_time_and_not_before() {
    let dir = tempfile::tempdir().unwrap();
    let (control, _) = setup(dir.path(), 1, 3).await;
    // The action is created now (wall clock); it names a time in an hour, Paris time.
    let now = berth_model::time::now();
    let at = chrono::DateTime::from_timestamp(now as i64 + 3600, 0).unwrap().with_timezone(&chrono_tz::Europe::Paris);
    let req = PutScheduledActionRequest {
        target: target(),
        schedule: Some(format!("at({})", at.format("%Y-%m-%dT%H:%M:%S"))),
        timezone: Some("Europe/Paris".into()),
        scheduled_action_name: Some("rush".into()),
        scalable_target_action: Some(ScalableTargetAction { min_capacity: Some(5), max_capacity: Some(8) }),
        ..Default::default()
    };
    control.put_scheduled_action(&caller(), req).await.unwrap();
    control.monitoring_round(now + 3590.0).await;
    assert_eq!(desired(&control), 1);
    control.monitoring_round(now + 3601.0).await;
    assert_eq!(desired(&control), 5);
    let targets = control
        .describe_scalable_targets(
            &caller(),
            &berth_model::autoscaling::DescribeScalableTargetsRequest {
                service_namespace: Some("ecs".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!((targets.scalable_targets[0].min_capacity, targets.scalable_targets[0].max_capacity), (5, 8));
    // Once: a later round changes nothing more.
    control.monitoring_round(now + 7200.0).await;
    assert_eq!(desired(&control), 5);
}

#[tokio::test]
async fn a_suspended_direction_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (control, metrics) = setup(dir.path(), 1, 6).await;
    let suspend = RegisterScalableTargetRequest {
        target: target(),
        suspended_state: Some(berth_model::autoscaling::PartialSuspendedState {
            dynamic_scaling_out_suspended: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    control.register_scalable_target(&caller(), suspend).await.unwrap();
    let exact = (berth_model::autoscaling::AdjustmentType::ExactCapacity, 4);
    step_policy_and_alarm(&control, exact, 0, ("busy", "Busy", "Maximum", 1, 1.0)).await;
    put(&metrics, &SeriesKey::new("Shop", "Busy", vec![]), T0, T0 + 30.0, 5.0);
    control.monitoring_round(T0 + 10.0).await;
    assert_eq!((alarm_state(&control, "busy"), desired(&control)), (StateValue::Alarm, 1), "scale-out is suspended");
    // Resumed: the alarm's next action (one period later) scales out.
    let resume = RegisterScalableTargetRequest {
        target: target(),
        suspended_state: Some(berth_model::autoscaling::PartialSuspendedState {
            dynamic_scaling_out_suspended: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    control.register_scalable_target(&caller(), resume).await.unwrap();
    control.monitoring_round(T0 + 20.0).await;
    assert_eq!(desired(&control), 4);
}
