//! Service auto scaling, in one run, with real containers on the local Docker engine:
//! 1. Reaction: a service of one task (256 CPU units) under a target-tracking policy
//!    (ECSServiceAverageCPUUtilization, target 50 %, max 2); the task idles 15 s, then
//!    burns a core. From the moment it starts burning (its container's start + 15 s, on
//!    the same clock): time until the desired count is raised (target ≤ 20 s) and until
//!    the new task is RUNNING (target ≤ 25 s). The agent measures at its default interval
//!    (2 s). AWS takes 86–109 s at best. Three rounds.
//! 2. The agent's own CPU while 50 tasks run: one agent measuring them (the default 2 s
//!    interval) beside one with measuring off (`--stats-interval 0`), each with 50 idle
//!    tasks, over the same 60 s (target ≤ 1 % of one core for measuring).
//!
//! Run: `cargo bench -p berth-cli --bench scaling_speed`   (needs Docker, busybox-static
//! and an aws CLI)

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use aws_sdk_ecs::types::{PlacementConstraint, PlacementConstraintType};
use berth_model::task::TaskStatus;
use berth_testkit::{installed_clis, wait_for, AwsCli, DockerEnv};

const ROUNDS: usize = 3;
const IDLE_SECS: f64 = 15.0;
const TASKS: i32 = 50;

fn wall() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / 100.0
}

/// When a container started, from the engine (epoch seconds).
fn started_at(container: &str) -> f64 {
    let out = Command::new("docker").args(["inspect", "-f", "{{.State.StartedAt}}", container]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    berth_model::time::parse_date(&text).unwrap_or_else(|| panic!("a start time: {text}"))
}

async fn counts(env: &DockerEnv, service: &str) -> (i32, i32) {
    let out = env.ecs.describe_services().cluster(&env.cluster).services(service).send().await.unwrap();
    let s = &out.services()[0];
    (s.desired_count(), s.running_count())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

async fn reaction_round(env: &DockerEnv, aas: &AwsCli<'_>, round: usize, td: &str) -> (f64, f64) {
    let name = format!("burn{round}");
    env.ecs
        .create_service()
        .cluster(&env.cluster)
        .service_name(&name)
        .task_definition(td)
        .desired_count(1)
        .send()
        .await
        .unwrap();
    let resource = format!("service/{}/{name}", env.cluster);
    let target =
        ["--service-namespace", "ecs", "--resource-id", &resource, "--scalable-dimension", "ecs:service:DesiredCount"];
    let with =
        |head: &[&'static str]| -> Vec<String> { head.iter().chain(target.iter()).map(|s| s.to_string()).collect() };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        aas.json(&refs);
    };
    run(with(&["register-scalable-target", "--min-capacity", "1", "--max-capacity", "2"]));
    let tracking = r#"{"TargetValue": 50, "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}"#;
    let mut policy = with(&["put-scaling-policy", "--policy-name", "cpu50", "--policy-type", "TargetTrackingScaling"]);
    policy.extend(["--target-tracking-scaling-policy-configuration".to_string(), tracking.to_string()]);
    run(policy);
    let container = wait_for("the first task to run", Duration::from_secs(60), async || {
        let tasks = env.ecs.list_tasks().cluster(&env.cluster).service_name(&name).send().await.unwrap();
        let arn = tasks.task_arns().first().cloned().ok_or("no task yet")?;
        let task = env.describe(&arn).await;
        match (task.last_status(), task.containers()[0].runtime_id()) {
            (Some(s), Some(id)) if s == TaskStatus::Running.as_str() => Ok(id.to_string()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let burn_at = started_at(&container) + IDLE_SECS;
    let mut raised = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    let running = loop {
        assert!(Instant::now() < deadline, "round {round}: no scale-out within 120 s");
        let (desired, running) = counts(env, &name).await;
        let now = wall();
        if desired > 1 && raised.is_none() {
            raised = Some(now - burn_at);
        }
        if running >= 2 {
            break now - burn_at;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let raised = raised.unwrap_or(running);
    println!(
        "  round {}: desired raised {raised:>5.1} s, new task RUNNING {running:>5.1} s after the burn began",
        round + 1
    );
    run(with(&["deregister-scalable-target"]));
    env.ecs.delete_service().cluster(&env.cluster).service(&name).force(true).send().await.unwrap();
    env.wait_containers_removed().await;
    (raised, running)
}

fn on(attribute: &str) -> PlacementConstraint {
    PlacementConstraint::builder()
        .r#type(PlacementConstraintType::MemberOf)
        .expression(format!("attribute:measuring == {attribute}"))
        .build()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let berth = Path::new(env!("CARGO_BIN_EXE_berth"));
    let cli = installed_clis().into_iter().next().expect("an aws CLI");
    runtime.block_on(async {
        let mut env = DockerEnv::start(berth, "scale-bench").await;
        env.agent(0, &["--attribute", "measuring=on"]).await;
        let aas = AwsCli { cli: &cli, server: env.server(), service: "application-autoscaling" };

        println!("scaling_speed: target tracking at 50 % CPU; a task idles {IDLE_SECS} s, then burns a core");
        let burn = format!(
            "sleep {IDLE_SECS}; end=$(($(date +%s)+60)); while [ $(date +%s) -lt $end ]; do :; done; exec sleep 3600"
        );
        let td = env.register("burn", vec![env.container("app", &burn).cpu(256).build()]).await;
        let (mut raised, mut running) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let (r, n) = reaction_round(&env, &aas, round, &td).await;
            raised.push(r);
            running.push(n);
        }
        let (r, n) = (median(&mut raised), median(&mut running));
        println!(
            "  median: desired raised {r:.1} s (target ≤ 20 s: {}), new task RUNNING {n:.1} s (target ≤ 25 s: {}); AWS: 86–109 s",
            if r <= 20.0 { "met" } else { "MISSED" },
            if n <= 25.0 { "met" } else { "MISSED" }
        );

        println!("scaling_speed: agent CPU with {TASKS} running tasks each, measuring on (2 s) and off, same 60 s");
        env.agent(1, &["--attribute", "measuring=off", "--stats-interval", "0"]).await;
        let idle = env.register("idle", vec![env.container("app", "exec sleep 3600").memory(16).build()]).await;
        for (service, attribute) in [("measured", "on"), ("unmeasured", "off")] {
            env.ecs
                .create_service()
                .cluster(&env.cluster)
                .service_name(service)
                .task_definition(&idle)
                .desired_count(TASKS)
                .placement_constraints(on(attribute))
                .send()
                .await
                .unwrap();
        }
        for service in ["measured", "unmeasured"] {
            wait_for(&format!("{TASKS} tasks of {service} running"), Duration::from_secs(300), async || {
                match counts(&env, service).await {
                    (d, r) if r == TASKS => Ok(d),
                    other => Err(format!("{other:?}")),
                }
            })
            .await;
        }
        // Past the task managers' close watch of new tasks.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let pids: Vec<u32> = (0..2).map(|n| env.agents[n].as_ref().unwrap().pid()).collect();
        let before: Vec<f64> = pids.iter().map(|p| cpu_seconds(*p)).collect();
        let window = Instant::now();
        tokio::time::sleep(Duration::from_secs(60)).await;
        let secs = window.elapsed().as_secs_f64();
        let used: Vec<f64> = pids.iter().zip(&before).map(|(p, b)| 100.0 * (cpu_seconds(*p) - b) / secs).collect();
        let extra = used[0] - used[1];
        // The measuring agent did measure: its tasks have measurements.
        let client = berth_client::ServerClient::new(&env.server().endpoint, env.credential.clone(), "us-east-1").unwrap();
        let req = berth_model::berth::DescribeServiceStatsRequest { cluster: Some(env.cluster.clone()), service: Some("measured".into()) };
        let (answer, _): (berth_model::berth::DescribeServiceStatsResponse, _) =
            client.signed("BerthV1.DescribeServiceStats", &req).await.unwrap();
        let measured = answer.tasks.iter().filter(|t| t.stats.is_some()).count();
        assert!(measured >= TASKS as usize * 9 / 10, "only {measured} of {TASKS} tasks measured");
        println!("  {measured} of {TASKS} tasks carried a measurement at the end of the window");
        println!("  agent measuring {TASKS} tasks every 2 s: {:.2} % of one core", used[0]);
        println!("  agent with measuring off, {TASKS} tasks:   {:.2} % of one core", used[1]);
        println!(
            "  measuring costs {extra:.2} % of one core (target ≤ 1 %: {})",
            if extra <= 1.0 { "met" } else { "MISSED" }
        );
        for service in ["measured", "unmeasured"] {
            env.ecs.delete_service().cluster(&env.cluster).service(service).force(true).send().await.unwrap();
        }
        env.wait_containers_removed().await;
    });
}
