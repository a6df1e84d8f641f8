//! CloudWatch metrics and alarms and Application Auto Scaling with the real aws CLIs (v1
//! from pip speaks CBOR to CloudWatch, Debian's v2 the query protocol): every command
//! berth serves, their errors, and the engine acting on them: an alarm that moves by
//! itself on data from PutMetricData, and a step policy that changes a service's desired
//! count (no agent: the count is what changes).

use std::{
    path::Path,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use berth_testkit::{installed_clis, AwsCli, BerthProcess};
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

fn iso(offset_secs: i64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64 + offset_secs;
    berth_model::time::iso8601(now as f64)
}

/// Polls `check` until it gives a value or the deadline passes.
fn poll<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn cloudwatch_and_application_autoscaling_work_with_both_aws_clis() {
    let clis = installed_clis();
    assert!(!clis.is_empty(), "no aws CLI installed");
    for cli in &clis {
        let dir = tempfile::tempdir().unwrap();
        let server = BerthProcess::start(Path::new(env!("CARGO_BIN_EXE_berth")), dir.path(), 0);
        let cw = AwsCli { cli, server: &server, service: "cloudwatch" };
        metrics(&cw);
        alarms(&cw);
        let ecs = AwsCli { cli, server: &server, service: "ecs" };
        let aas = AwsCli { cli, server: &server, service: "application-autoscaling" };
        scaling(&ecs, &aas, &cw);
    }
}

fn metrics(cw: &AwsCli) {
    let data = r#"[
        {"MetricName": "Latency", "Value": 10, "Unit": "Milliseconds", "StorageResolution": 1,
         "Dimensions": [{"Name": "Api", "Value": "orders"}]},
        {"MetricName": "Latency", "Values": [20, 40], "Counts": [1, 3], "Unit": "Milliseconds", "StorageResolution": 1,
         "Dimensions": [{"Name": "Api", "Value": "orders"}]},
        {"MetricName": "Latency", "StatisticValues": {"SampleCount": 2, "Sum": 10, "Minimum": 4, "Maximum": 6},
         "Unit": "Milliseconds", "StorageResolution": 1, "Dimensions": [{"Name": "Api", "Value": "users"}]}
    ]"#;
    cw.json(&["put-metric-data", "--namespace", "Shop", "--metric-data", data]);
    let (start, end) = (iso(-600), iso(60));
    let stats = cw.json(&[
        "get-metric-statistics",
        "--namespace",
        "Shop",
        "--metric-name",
        "Latency",
        "--dimensions",
        "Name=Api,Value=orders",
        "--start-time",
        &start,
        "--end-time",
        &end,
        "--period",
        "3600",
        "--statistics",
        "SampleCount",
        "Sum",
        "Average",
        "Minimum",
        "Maximum",
    ]);
    let points = stats["Datapoints"].as_array().unwrap();
    let total = |k: &str| points.iter().map(|p| number(&p[k])).sum::<f64>();
    assert_eq!(total("SampleCount"), 5.0, "{stats}");
    assert_eq!(total("Sum"), 10.0 + 20.0 + 120.0, "{stats}");
    assert_eq!(points[0]["Unit"], "Milliseconds");
    assert_eq!(stats["Label"], "Latency");

    // Metric math over two series: their sum, and one scaled.
    let queries = r#"[
        {"Id": "orders", "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "Latency",
            "Dimensions": [{"Name": "Api", "Value": "orders"}]}, "Period": 3600, "Stat": "Sum"}, "ReturnData": false},
        {"Id": "users", "MetricStat": {"Metric": {"Namespace": "Shop", "MetricName": "Latency",
            "Dimensions": [{"Name": "Api", "Value": "users"}]}, "Period": 3600, "Stat": "Sum"}, "ReturnData": false},
        {"Id": "both", "Expression": "SUM(METRICS())", "Label": "all APIs"},
        {"Id": "doubled", "Expression": "users * 2"}
    ]"#;
    let data =
        cw.json(&["get-metric-data", "--metric-data-queries", queries, "--start-time", &start, "--end-time", &end]);
    let results = data["MetricDataResults"].as_array().unwrap();
    assert_eq!(results.len(), 2, "only queries with ReturnData: {data}");
    let by_id = |id: &str| results.iter().find(|r| r["Id"] == id).unwrap().clone();
    let sum = |r: &Value| r["Values"].as_array().unwrap().iter().map(number).sum::<f64>();
    assert_eq!(sum(&by_id("both")), 160.0, "{data}");
    assert_eq!(by_id("both")["Label"], "all APIs");
    assert_eq!(sum(&by_id("doubled")), 20.0, "{data}");
    assert_eq!(by_id("both")["StatusCode"], "Complete");

    let listed = cw.json(&["list-metrics", "--namespace", "Shop", "--dimensions", "Name=Api,Value=users"]);
    assert_eq!(listed["Metrics"].as_array().unwrap().len(), 1, "{listed}");
    let all = cw.json(&["list-metrics", "--namespace", "Shop"]);
    assert_eq!(all["Metrics"].as_array().unwrap().len(), 2, "{all}");

    // CloudWatch's refusals.
    cw.fails(
        &["put-metric-data", "--namespace", "AWS/ECS", "--metric-name", "X", "--value", "1"],
        "InvalidParameterValue",
    );
    // GetMetricStatistics with: no statistic, the times swapped, a period CloudWatch has not.
    let statistics = |from: &str, to: &str, period: &str, stats: &[&str], code: &str| {
        let mut args = vec!["get-metric-statistics", "--namespace", "Shop", "--metric-name", "Latency"];
        args.extend(["--start-time", from, "--end-time", to, "--period", period]);
        if !stats.is_empty() {
            args.push("--statistics");
            args.extend(stats);
        }
        cw.fails(&args, code);
    };
    statistics(&start, &end, "60", &[], "InvalidParameterCombination");
    statistics(&end, &start, "60", &["Sum"], "InvalidParameterCombination");
    statistics(&start, &end, "7", &["Sum"], "InvalidParameterValue");
    let bad_math = r#"[{"Id": "x", "Expression": "SUM(METRICS()"}]"#;
    cw.fails(
        &["get-metric-data", "--metric-data-queries", bad_math, "--start-time", &start, "--end-time", &end],
        "InvalidParameterValue",
    );
}

fn alarms(cw: &AwsCli) {
    // An alarm that moves by itself: data above the threshold puts it in ALARM.
    cw.json(&[
        "put-metric-alarm",
        "--alarm-name",
        "queue-high",
        "--namespace",
        "Shop",
        "--metric-name",
        "Queue",
        "--statistic",
        "Maximum",
        "--period",
        "10",
        "--evaluation-periods",
        "1",
        "--threshold",
        "100",
        "--comparison-operator",
        "GreaterThanThreshold",
        "--alarm-description",
        "too many orders waiting",
        "--tags",
        "Key=team,Value=shop",
    ]);
    let described = cw.json(&["describe-alarms", "--alarm-names", "queue-high"]);
    let alarm = &described["MetricAlarms"][0];
    assert_eq!(alarm["StateValue"], "INSUFFICIENT_DATA", "{described}");
    assert_eq!(alarm["AlarmArn"], "arn:aws:cloudwatch:us-east-1:000000000000:alarm:queue-high");
    assert_eq!(alarm["Threshold"], 100.0);
    let state = poll("queue-high to go to ALARM", || {
        cw.json(&[
            "put-metric-data",
            "--namespace",
            "Shop",
            "--metric-name",
            "Queue",
            "--value",
            "250",
            "--storage-resolution",
            "1",
        ]);
        let d = cw.json(&["describe-alarms", "--alarm-names", "queue-high", "--state-value", "ALARM"]);
        d["MetricAlarms"].as_array().unwrap().first().cloned()
    });
    assert!(
        state["StateReason"].as_str().unwrap().starts_with("Threshold Crossed: 1 out of the last 1 datapoints [250.0"),
        "{state}"
    );

    let for_metric = cw.json(&["describe-alarms-for-metric", "--namespace", "Shop", "--metric-name", "Queue"]);
    assert_eq!(for_metric["MetricAlarms"][0]["AlarmName"], "queue-high");
    let by_prefix = cw.json(&["describe-alarms", "--alarm-name-prefix", "queue-"]);
    assert_eq!(by_prefix["MetricAlarms"].as_array().unwrap().len(), 1);

    cw.json(&[
        "set-alarm-state",
        "--alarm-name",
        "queue-high",
        "--state-value",
        "OK",
        "--state-reason",
        "checked by hand",
    ]);
    let history =
        cw.json(&["describe-alarm-history", "--alarm-name", "queue-high", "--history-item-type", "StateUpdate"]);
    let summaries: Vec<&str> = history["AlarmHistoryItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["HistorySummary"].as_str().unwrap())
        .collect();
    assert!(summaries.contains(&"Alarm updated from INSUFFICIENT_DATA to ALARM"), "{history}");
    assert!(summaries.contains(&"Alarm updated from ALARM to OK"), "{history}");
    let created = cw.json(&[
        "describe-alarm-history",
        "--alarm-name",
        "queue-high",
        "--history-item-type",
        "ConfigurationUpdate",
    ]);
    assert_eq!(created["AlarmHistoryItems"][0]["HistorySummary"], "Alarm \"queue-high\" created");

    cw.json(&["disable-alarm-actions", "--alarm-names", "queue-high"]);
    assert_eq!(
        cw.json(&["describe-alarms", "--alarm-names", "queue-high"])["MetricAlarms"][0]["ActionsEnabled"],
        false
    );
    cw.json(&["enable-alarm-actions", "--alarm-names", "queue-high"]);
    assert_eq!(cw.json(&["describe-alarms", "--alarm-names", "queue-high"])["MetricAlarms"][0]["ActionsEnabled"], true);

    let arn = "arn:aws:cloudwatch:us-east-1:000000000000:alarm:queue-high";
    cw.json(&["tag-resource", "--resource-arn", arn, "--tags", "Key=tier,Value=1"]);
    cw.json(&["untag-resource", "--resource-arn", arn, "--tag-keys", "team"]);
    let tags = cw.json(&["list-tags-for-resource", "--resource-arn", arn]);
    assert_eq!(tags["Tags"], serde_json::json!([{"Key": "tier", "Value": "1"}]));
    cw.fails(&["list-tags-for-resource", "--resource-arn", &arn.replace("queue-high", "nope")], "ResourceNotFound");

    // Refusals, and DeleteAlarms deletes all or nothing.
    cw.fails(
        &[
            "put-metric-alarm",
            "--alarm-name",
            "bad",
            "--namespace",
            "Shop",
            "--metric-name",
            "Queue",
            "--statistic",
            "Sum",
            "--period",
            "7",
            "--evaluation-periods",
            "1",
            "--threshold",
            "1",
            "--comparison-operator",
            "GreaterThanThreshold",
        ],
        "InvalidParameterValue",
    );
    cw.fails(
        &["set-alarm-state", "--alarm-name", "nope", "--state-value", "OK", "--state-reason", "x"],
        "ResourceNotFound",
    );
    cw.fails(&["delete-alarms", "--alarm-names", "queue-high", "nope"], "ResourceNotFound");
    assert_eq!(cw.json(&["describe-alarms"])["MetricAlarms"].as_array().unwrap().len(), 1);
    cw.json(&["delete-alarms", "--alarm-names", "queue-high"]);
    assert!(cw.json(&["describe-alarms"])["MetricAlarms"].as_array().unwrap().is_empty());
}

const TARGET: [&str; 6] = [
    "--service-namespace",
    "ecs",
    "--resource-id",
    "service/shop/web",
    "--scalable-dimension",
    "ecs:service:DesiredCount",
];

fn with_target<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.extend_from_slice(&TARGET);
    v
}

fn desired(ecs: &AwsCli) -> i64 {
    ecs.json(&["describe-services", "--cluster", "shop", "--services", "web"])["services"][0]["desiredCount"]
        .as_i64()
        .unwrap()
}

fn scaling(ecs: &AwsCli, aas: &AwsCli, cw: &AwsCli) {
    aas.fails(
        &with_target(&["register-scalable-target", "--min-capacity", "1", "--max-capacity", "3"]),
        "ValidationException",
    );
    ecs.json(&["create-cluster", "--cluster-name", "shop"]);
    ecs.json(&[
        "register-task-definition",
        "--family",
        "web",
        "--container-definitions",
        r#"[{"name": "app", "image": "busybox", "memory": 32, "cpu": 128}]"#,
    ]);
    ecs.json(&[
        "create-service",
        "--cluster",
        "shop",
        "--service-name",
        "web",
        "--task-definition",
        "web",
        "--desired-count",
        "1",
    ]);

    aas.fails(&with_target(&["register-scalable-target"]), "ValidationException");
    aas.json(&with_target(&["register-scalable-target", "--min-capacity", "1", "--max-capacity", "3"]));
    let targets = aas.json(&["describe-scalable-targets", "--service-namespace", "ecs"]);
    let target = &targets["ScalableTargets"][0];
    assert_eq!((target["MinCapacity"].as_i64(), target["MaxCapacity"].as_i64()), (Some(1), Some(3)), "{targets}");
    assert_eq!(target["SuspendedState"]["DynamicScalingInSuspended"], false);
    aas.fails(&["describe-scalable-targets", "--service-namespace", "dynamodb"], "ValidationException");

    // Target tracking makes its alarms, visible in DescribeAlarms, and takes them along.
    let tracking = r#"{"TargetValue": 50, "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}"#;
    let put = aas.json(&with_target(&[
        "put-scaling-policy",
        "--policy-name",
        "cpu50",
        "--policy-type",
        "TargetTrackingScaling",
        "--target-tracking-scaling-policy-configuration",
        tracking,
    ]));
    let names: Vec<String> =
        put["Alarms"].as_array().unwrap().iter().map(|a| a["AlarmName"].as_str().unwrap().to_string()).collect();
    assert_eq!(names.len(), 2, "{put}");
    assert!(names[0].starts_with("TargetTracking-service/shop/web-AlarmHigh-"), "{names:?}");
    assert!(names[1].starts_with("TargetTracking-service/shop/web-AlarmLow-"), "{names:?}");
    let alarms = cw.json(&["describe-alarms", "--alarm-name-prefix", "TargetTracking-service/shop/web"]);
    let high = alarms["MetricAlarms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["AlarmName"] == names[0].as_str())
        .unwrap()
        .clone();
    assert_eq!((high["Namespace"].as_str(), high["MetricName"].as_str()), (Some("AWS/ECS"), Some("CPUUtilization")));
    assert_eq!(high["AlarmActions"][0], put["PolicyARN"]);
    assert_eq!(high["Threshold"], 50.0);
    let policies =
        aas.json(&["describe-scaling-policies", "--service-namespace", "ecs", "--resource-id", "service/shop/web"]);
    assert_eq!(policies["ScalingPolicies"][0]["PolicyType"], "TargetTrackingScaling", "{policies}");
    aas.json(&with_target(&["delete-scaling-policy", "--policy-name", "cpu50"]));
    assert!(cw.json(&["describe-alarms", "--alarm-name-prefix", "TargetTracking-"])["MetricAlarms"]
        .as_array()
        .unwrap()
        .is_empty());
    aas.fails(&with_target(&["delete-scaling-policy", "--policy-name", "cpu50"]), "ObjectNotFoundException");
    let unknown = r#"{"TargetValue": 50, "PredefinedMetricSpecification": {"PredefinedMetricType": "DynamoDBReadCapacityUtilization"}}"#;
    aas.fails(
        &with_target(&[
            "put-scaling-policy",
            "--policy-name",
            "x",
            "--policy-type",
            "TargetTrackingScaling",
            "--target-tracking-scaling-policy-configuration",
            unknown,
        ]),
        "ValidationException",
    );

    // A step policy on a custom metric: the engine raises the desired count by 2.
    let step = r#"{"AdjustmentType": "ChangeInCapacity", "Cooldown": 300,
                   "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 2}]}"#;
    let put = aas.json(&with_target(&[
        "put-scaling-policy",
        "--policy-name",
        "queue",
        "--policy-type",
        "StepScaling",
        "--step-scaling-policy-configuration",
        step,
    ]));
    let policy_arn = put["PolicyARN"].as_str().unwrap().to_string();
    cw.json(&[
        "put-metric-alarm",
        "--alarm-name",
        "orders-waiting",
        "--namespace",
        "Shop",
        "--metric-name",
        "Waiting",
        "--statistic",
        "Maximum",
        "--period",
        "10",
        "--evaluation-periods",
        "1",
        "--threshold",
        "100",
        "--comparison-operator",
        "GreaterThanThreshold",
        "--alarm-actions",
        &policy_arn,
    ]);
    let described = aas.json(&["describe-scaling-policies", "--service-namespace", "ecs", "--policy-names", "queue"]);
    assert_eq!(described["ScalingPolicies"][0]["Alarms"][0]["AlarmName"], "orders-waiting", "{described}");
    poll("the step policy to raise the desired count to 3", || {
        cw.json(&[
            "put-metric-data",
            "--namespace",
            "Shop",
            "--metric-name",
            "Waiting",
            "--value",
            "500",
            "--storage-resolution",
            "1",
        ]);
        (desired(ecs) == 3).then_some(())
    });
    let activities =
        aas.json(&["describe-scaling-activities", "--service-namespace", "ecs", "--resource-id", "service/shop/web"]);
    let latest = &activities["ScalingActivities"][0];
    assert_eq!(latest["Description"], "Setting desired count to 3.", "{activities}");
    assert_eq!(latest["Cause"], "monitor alarm orders-waiting in state ALARM triggered policy queue");
    assert_eq!(latest["StatusCode"], "Successful");
    let events =
        ecs.json(&["describe-services", "--cluster", "shop", "--services", "web"])["services"][0]["events"].clone();
    assert!(events.to_string().contains("desired count changed from 1 to 3 by Application Auto Scaling"), "{events}");
    // The cooldown holds back the alarm's repeated action: still 3, never above the max.
    cw.json(&[
        "put-metric-data",
        "--namespace",
        "Shop",
        "--metric-name",
        "Waiting",
        "--value",
        "500",
        "--storage-resolution",
        "1",
    ]);
    assert!(desired(ecs) <= 3);

    // Scheduled actions: a cron in a time zone, described as given; deleted.
    aas.json(&with_target(&[
        "put-scheduled-action",
        "--scheduled-action-name",
        "weekday-mornings",
        "--schedule",
        "cron(0 9 ? * MON-FRI *)",
        "--timezone",
        "Europe/Paris",
        "--scalable-target-action",
        "MinCapacity=2,MaxCapacity=6",
    ]));
    let scheduled = aas.json(&["describe-scheduled-actions", "--service-namespace", "ecs"]);
    let action = &scheduled["ScheduledActions"][0];
    assert_eq!(
        (action["Schedule"].as_str(), action["Timezone"].as_str()),
        (Some("cron(0 9 ? * MON-FRI *)"), Some("Europe/Paris"))
    );
    assert_eq!(action["ScalableTargetAction"]["MaxCapacity"], 6);
    aas.fails(
        &with_target(&[
            "put-scheduled-action",
            "--scheduled-action-name",
            "bad",
            "--schedule",
            "cron(0 9 * * *)",
            "--scalable-target-action",
            "MinCapacity=1",
        ]),
        "ValidationException",
    );
    aas.fails(
        &with_target(&[
            "put-scheduled-action",
            "--scheduled-action-name",
            "bad",
            "--schedule",
            "rate(5 minutes)",
            "--timezone",
            "Mars/Olympus",
            "--scalable-target-action",
            "MinCapacity=1",
        ]),
        "ValidationException",
    );
    aas.json(&with_target(&["delete-scheduled-action", "--scheduled-action-name", "weekday-mornings"]));
    assert!(aas.json(&["describe-scheduled-actions", "--service-namespace", "ecs"])["ScheduledActions"]
        .as_array()
        .unwrap()
        .is_empty());

    // Raising the minimum above the desired count brings the service up to it.
    aas.json(&with_target(&["register-scalable-target", "--min-capacity", "4", "--max-capacity", "5"]));
    poll("the desired count to follow the new minimum", || (desired(ecs) == 4).then_some(()));

    // Tagging the scalable target (Debian's v2 CLI predates these commands).
    if aas.has("tag-resource") {
        let arn = aas.json(&["describe-scalable-targets", "--service-namespace", "ecs"])["ScalableTargets"][0]
            ["ScalableTargetARN"]
            .as_str()
            .unwrap()
            .to_string();
        aas.json(&["tag-resource", "--resource-arn", &arn, "--tags", "team=shop,tier=1"]);
        aas.json(&["untag-resource", "--resource-arn", &arn, "--tag-keys", "tier"]);
        assert_eq!(
            aas.json(&["list-tags-for-resource", "--resource-arn", &arn])["Tags"],
            serde_json::json!({"team": "shop"})
        );
        aas.fails(&["list-tags-for-resource", "--resource-arn", &format!("{arn}x")], "ResourceNotFoundException");
    }

    // Deregistering takes the policies along; a policy needs a target.
    aas.json(&with_target(&["deregister-scalable-target"]));
    assert!(aas.json(&["describe-scaling-policies", "--service-namespace", "ecs"])["ScalingPolicies"]
        .as_array()
        .unwrap()
        .is_empty());
    aas.fails(
        &with_target(&[
            "put-scaling-policy",
            "--policy-name",
            "queue",
            "--policy-type",
            "StepScaling",
            "--step-scaling-policy-configuration",
            step,
        ]),
        "ObjectNotFoundException",
    );
    aas.fails(&with_target(&["deregister-scalable-target"]), "ObjectNotFoundException");
}
