//! Service auto scaling with real containers: a service whose task burns CPU scales out
//! under a target-tracking policy on the AWS/ECS metrics the agent measures, and back in
//! when the burning stops; a step policy on a custom metric from PutMetricData scales a
//! service out; a scheduled action raises the minimum at the time it names. Driven with
//! the aws CLI (Application Auto Scaling, CloudWatch) as a user would.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use berth_testkit::{installed_clis, wait_for, AwsCli, DockerEnv};
use serde_json::Value;

fn berth() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_berth"))
}

/// (desired, running) of the service.
async fn counts(env: &DockerEnv, service: &str) -> (i32, i32) {
    let out = env.ecs.describe_services().cluster(&env.cluster).services(service).send().await.unwrap();
    let s = &out.services()[0];
    (s.desired_count(), s.running_count())
}

fn target(env: &DockerEnv, service: &str) -> Vec<String> {
    [
        "--service-namespace",
        "ecs",
        "--resource-id",
        &format!("service/{}/{service}", env.cluster),
        "--scalable-dimension",
        "ecs:service:DesiredCount",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn args<'a>(head: &[&'a str], tail: &'a [String]) -> Vec<&'a str> {
    head.iter().copied().chain(tail.iter().map(String::as_str)).collect()
}

async fn create_service(env: &DockerEnv, name: &str, td: &str, desired: i32) {
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name(name)
        .task_definition(td)
        .desired_count(desired)
        .send()
        .await
        .unwrap();
}

/// Takes the service away (its target first, or the minimum would bring it back).
async fn remove(env: &DockerEnv, aas: &AwsCli<'_>, service: &str) {
    let t = target(env, service);
    aas.json(&args(&["deregister-scalable-target"], &t));
    env.ecs.delete_service().cluster(&env.cluster).service(service).force(true).send().await.unwrap();
    env.wait_containers_removed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burning_service_scales_out_under_target_tracking_and_back_in_when_it_stops() {
    let mut env = DockerEnv::start(berth(), "scale-cpu").await;
    env.agent(0, &["--stats-interval", "1"]).await;
    let cli = installed_clis().into_iter().next().expect("an aws CLI");
    let aas = AwsCli { cli: &cli, server: env.server(), service: "application-autoscaling" };
    let cw = AwsCli { cli: &cli, server: env.server(), service: "cloudwatch" };
    // Each task burns a core for 20 s from its start, then idles.
    let burn = "end=$(($(date +%s)+20)); while [ $(date +%s) -lt $end ]; do :; done; exec sleep 3600";
    let td = env.register("burn", vec![env.container("app", burn).cpu(256).build()]).await;
    create_service(&env, "burn", &td, 0).await;

    let t = target(&env, "burn");
    let tracking = r#"{"TargetValue": 50, "ScaleOutCooldown": 60, "ScaleInCooldown": 0,
                       "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}"#;
    // The policy needs a target: register it (min 1 starts the first task), then the policy.
    aas.json(&args(&["register-scalable-target", "--min-capacity", "1", "--max-capacity", "3"], &t));
    aas.json(&args(
        &[
            "put-scaling-policy",
            "--policy-name",
            "cpu50",
            "--policy-type",
            "TargetTrackingScaling",
            "--target-tracking-scaling-policy-configuration",
            tracking,
        ],
        &t,
    ));
    let first =
        wait_for("the minimum to start one task", Duration::from_secs(60), async || match counts(&env, "burn").await {
            (1, 1) => Ok(Instant::now()),
            other => Err(format!("{other:?}")),
        })
        .await;

    // The task burns: the service scales out to its maximum, and never past it.
    let raised = wait_for("the desired count to be raised", Duration::from_secs(60), async || {
        match counts(&env, "burn").await {
            (d, _) if d > 1 => Ok((d, first.elapsed())),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(raised.0 <= 3, "desired {} is past the maximum", raised.0);
    let running = wait_for("three tasks running", Duration::from_secs(60), async || match counts(&env, "burn").await {
        (3, 3) => Ok(first.elapsed()),
        other => Err(format!("{other:?}")),
    })
    .await;
    eprintln!("desired raised after {:?}, three tasks running after {running:?}", raised.1);

    // What the agent measured: the metric, and `berth service stats`.
    let stats = env
        .berth_command(&["service", "stats", "--cluster", &env.cluster, "--service", "burn", "--no-stream"])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&stats.stdout);
    assert!(stats.status.success() && table.contains("(task)") && table.contains("/ 256"), "{table}");
    let dims = format!("Name=ClusterName,Value={} Name=ServiceName,Value=burn", env.cluster);
    let now = berth_model::time::now();
    let (start, end) = (berth_model::time::iso8601(now - 300.0), berth_model::time::iso8601(now + 60.0));
    let mut metric_args = vec![
        "get-metric-statistics",
        "--namespace",
        "AWS/ECS",
        "--metric-name",
        "CPUUtilization",
        "--start-time",
        &start,
        "--end-time",
        &end,
        "--period",
        "60",
        "--statistics",
        "Maximum",
        "--dimensions",
    ];
    metric_args.extend(dims.split(' '));
    let cpu = cw.json(&metric_args);
    let peak = cpu["Datapoints"].as_array().unwrap().iter().filter_map(|d| d["Maximum"].as_f64()).fold(0.0, f64::max);
    assert!(peak > 50.0, "a task burning a core uses more than 50 % of 256 CPU units: {cpu}");

    let activities = aas.json(&["describe-scaling-activities", "--service-namespace", "ecs"]);
    let causes: Vec<&str> =
        activities["ScalingActivities"].as_array().unwrap().iter().filter_map(|a| a["Cause"].as_str()).collect();
    assert!(causes.iter().any(|c| c.contains("-AlarmHigh-") && c.ends_with("triggered policy cpu50")), "{causes:?}");

    // The burning stops after 20 s: the low alarm brings the service back to its minimum.
    wait_for("the service to scale back in to 1", Duration::from_secs(180), async || {
        match counts(&env, "burn").await {
            (1, 1) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let activities = aas.json(&["describe-scaling-activities", "--service-namespace", "ecs"]);
    let latest: &Value = &activities["ScalingActivities"][0];
    assert!(latest["Cause"].as_str().unwrap().contains("-AlarmLow-"), "{latest}");
    remove(&env, &aas, "burn").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_metric_scales_out_by_step_and_a_scheduled_action_raises_the_minimum() {
    let mut env = DockerEnv::start(berth(), "scale-step").await;
    env.agent(0, &[]).await;
    let cli = installed_clis().into_iter().next().expect("an aws CLI");
    let aas = AwsCli { cli: &cli, server: env.server(), service: "application-autoscaling" };
    let cw = AwsCli { cli: &cli, server: env.server(), service: "cloudwatch" };
    let td = env.register("idle", vec![env.container("app", "exec sleep 3600").cpu(64).build()]).await;
    create_service(&env, "queue", &td, 1).await;
    let t = target(&env, "queue");
    aas.json(&args(&["register-scalable-target", "--min-capacity", "1", "--max-capacity", "4"], &t));
    let step = r#"{"AdjustmentType": "ChangeInCapacity", "Cooldown": 300,
                   "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 2}]}"#;
    let policy = aas.json(&args(
        &[
            "put-scaling-policy",
            "--policy-name",
            "backlog",
            "--policy-type",
            "StepScaling",
            "--step-scaling-policy-configuration",
            step,
        ],
        &t,
    ));
    let arn = policy["PolicyARN"].as_str().unwrap().to_string();
    cw.json(&[
        "put-metric-alarm",
        "--alarm-name",
        "backlog-high",
        "--namespace",
        "Shop",
        "--metric-name",
        "Backlog",
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
        &arn,
    ]);

    // The backlog grows: +2 tasks, running for real.
    wait_for("the step policy to add two tasks", Duration::from_secs(60), async || {
        cw.json(&[
            "put-metric-data",
            "--namespace",
            "Shop",
            "--metric-name",
            "Backlog",
            "--value",
            "400",
            "--storage-resolution",
            "1",
        ]);
        match counts(&env, "queue").await {
            (3, 3) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(env.image.containers().len(), 3);

    // At the time it names, the scheduled action makes 4 the minimum: a fourth task runs.
    let at = berth_model::time::iso8601(berth_model::time::now() + 6.0);
    let schedule = format!("at({})", &at[..19]);
    aas.json(&args(
        &[
            "put-scheduled-action",
            "--scheduled-action-name",
            "rush",
            "--schedule",
            &schedule,
            "--timezone",
            "Etc/UTC",
            "--scalable-target-action",
            "MinCapacity=4,MaxCapacity=4",
        ],
        &t,
    ));
    assert_eq!(counts(&env, "queue").await.0, 3, "nothing happens before the time");
    wait_for("the scheduled minimum to run four tasks", Duration::from_secs(60), async || {
        match counts(&env, "queue").await {
            (4, 4) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let targets = aas.json(&["describe-scalable-targets", "--service-namespace", "ecs"]);
    assert_eq!(targets["ScalableTargets"][0]["MinCapacity"], 4, "{targets}");
    let activities = aas.json(&["describe-scaling-activities", "--service-namespace", "ecs"]);
    let causes: Vec<&str> =
        activities["ScalingActivities"].as_array().unwrap().iter().filter_map(|a| a["Cause"].as_str()).collect();
    assert!(causes.contains(&"scheduled action name rush was triggered"), "{causes:?}");
    assert!(causes.contains(&"monitor alarm backlog-high in state ALARM triggered policy backlog"), "{causes:?}");
    remove(&env, &aas, "queue").await;
}
