//! awsvpc and Fargate start times on the real Docker engine, in one run:
//! 1. RunTask → RUNNING for the same busybox container (`sleep 300`) as a bridge-mode task,
//!    an awsvpc task on a container instance, and a FARGATE task (on a host offering
//!    Fargate capacity), against `docker run -d` of the same image; tasks one at a time;
//! 2. a task waiting for capacity (an EC2 capacity provider whose group has no host) to
//!    RUNNING on a host that managed scaling started (`berth agent` launched by the group's
//!    scale command), over several groups.
//!
//! Run: `cargo bench -p berth-cli --bench awsvpc_speed` (BERTH_BENCH_TASKS=N to change 20).

use std::{
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, AwsVpcConfiguration, CapacityProviderStrategyItem, Compatibility, ContainerDefinition,
    LaunchType, ManagedScaling, ManagedScalingStatus, NetworkConfiguration, NetworkMode,
};
use berth_testkit::{docker_cli, sdk_client, AgentProcess, BerthProcess, TestImage};

const GROUPS: usize = 3;

fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[((p / 100.0) * (s.len() - 1) as f64).round() as usize]
}

async fn until_running(ecs: &aws_sdk_ecs::Client, cluster: &str, arn: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let d = ecs.describe_tasks().cluster(cluster).tasks(arn).send().await.unwrap();
        match d.tasks()[0].last_status() {
            Some("RUNNING") => return,
            Some("STOPPED") => panic!("task stopped: {:?}", d.tasks()[0].stopped_reason()),
            _ => {
                assert!(Instant::now() < deadline, "the task never ran: {:?}", d.tasks()[0]);
                tokio::time::sleep(Duration::from_millis(2)).await
            }
        }
    }
}

/// What the engine itself needs for an awsvpc task: `docker run -d` of a pause container
/// on a user-defined network with a fixed address, then `docker run -d` of the app in its
/// network namespace; wall time (ms) of each pair. Needs the pause image (the agent made it).
fn container_pair_floor(image: &str, label: &str, n: usize) -> Vec<f64> {
    let net = format!("berth-floor-{}", std::process::id());
    docker_cli(&["network", "create", "--subnet", "10.221.0.0/24", &net]);
    let mut times = Vec::new();
    for i in 0..n {
        let started = Instant::now();
        let ip = format!("10.221.0.{}", i + 2);
        let pause =
            docker_cli(&["run", "-d", "--label", label, "--network", &net, "--ip", &ip, "berth-pause:1", "/pause"]);
        let joined = format!("container:{pause}");
        docker_cli(&["run", "-d", "--label", label, "--network", &joined, image, "sleep", "300"]);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    for c in docker_cli(&["ps", "-aq", "--filter", &format!("label={label}")]).lines().filter(|l| !l.is_empty()) {
        let _ = Command::new("docker").args(["rm", "-f", c]).output();
    }
    let _ = Command::new("docker").args(["network", "rm", &net]).output();
    times
}

fn main() {
    let n: usize = std::env::var("BERTH_BENCH_TASKS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let cluster = format!("vpcbench-{}", std::process::id());
    let image = TestImage::build(&cluster, &cluster);
    let dir = tempfile::tempdir().unwrap();
    let berth = Path::new(env!("CARGO_BIN_EXE_berth"));
    let script = dir.path().join("scale.sh");
    std::fs::write(
        &script,
        format!(
            "[ \"$BERTH_SCALE_ACTION\" = out ] || exit 0\n. {d}/env\nn=$(date +%s%N)\n\
             nohup {b} agent --server \"$ENDPOINT\" --cluster \"$BERTH_CLUSTER\" --auto-scaling-group \"$BERTH_AUTO_SCALING_GROUP\" \
             --data-dir {d}/scaled-$n > /dev/null 2>&1 &\necho $! >> {d}/pids\n",
            d = dir.path().display(),
            b = berth.display()
        ),
    )
    .unwrap();
    let mut flags = vec!["--task-cidr".to_string(), "10.220.0.0/16".into()];
    for g in 0..GROUPS {
        flags.extend(["--scale-command".into(), format!("bench-asg-{g}=sh {}", script.display())]);
    }
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = BerthProcess::start_with(berth, &dir.path().join("server"), 0, &flags);
    let credential = server.credential();
    std::fs::write(
        dir.path().join("env"),
        format!(
            "ENDPOINT={}\nexport AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} AWS_DEFAULT_REGION=us-east-1 BERTH_LOG=warn\n",
            server.endpoint, credential.access_key_id, credential.secret_access_key
        ),
    )
    .unwrap();
    let ecs = sdk_client(&server.endpoint, &credential, "us-east-1");
    runtime.block_on(async { ecs.create_cluster().cluster_name(&cluster).send().await.unwrap() });
    let agent = AgentProcess::start(berth, &server.endpoint, &cluster, &dir.path().join("agent"), &credential, &[]);
    // Fargate tasks reserve a quarter vCPU each: offer enough for all of them.
    let fargate_args = ["--fargate", "--cpu", "65536", "--memory", "65536"];
    let fargate =
        AgentProcess::start(berth, &server.endpoint, &cluster, &dir.path().join("fargate"), &credential, &fargate_args);

    // Baseline first: docker run -d of the same image and command.
    let label = format!("com.amazonaws.ecs.cluster={cluster}");
    let docker_ms = berth_testkit::docker_run_times(&image.reference, &label, n);

    let (kinds, scaled_ms) = runtime.block_on(async {
        let container = || {
            ContainerDefinition::builder()
                .name("app")
                .image(&image.reference)
                .memory(16)
                .stop_timeout(1)
                .command("sleep")
                .command("300")
                .build()
        };
        ecs.register_task_definition().family("bridge").container_definitions(container()).send().await.unwrap();
        ecs.register_task_definition()
            .family("vpc")
            .network_mode(NetworkMode::Awsvpc)
            .container_definitions(container())
            .send()
            .await
            .unwrap();
        ecs.register_task_definition()
            .family("fargate")
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .cpu("256")
            .memory("512")
            .container_definitions(container())
            .send()
            .await
            .unwrap();
        let until = Instant::now() + Duration::from_secs(30);
        while ecs
            .list_container_instances()
            .cluster(&cluster)
            .send()
            .await
            .unwrap()
            .container_instance_arns()
            .is_empty()
            || !dir.path().join("fargate/agent.json").exists()
        {
            assert!(Instant::now() < until, "the agents did not register");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let vpc = NetworkConfiguration::builder()
            .awsvpc_configuration(AwsVpcConfiguration::builder().subnets("subnet-bench").build().unwrap())
            .build();
        let mut kinds: Vec<(&str, Vec<f64>)> = Vec::new();
        let mut arns = Vec::new();
        for (kind, family, launch, network) in [
            ("bridge-mode task (EC2)", "bridge", LaunchType::Ec2, None),
            ("awsvpc task (EC2)", "vpc", LaunchType::Ec2, Some(vpc.clone())),
            ("awsvpc task (FARGATE)", "fargate", LaunchType::Fargate, Some(vpc.clone())),
        ] {
            let mut samples = Vec::new();
            for _ in 0..n {
                let started = Instant::now();
                let run = ecs
                    .run_task()
                    .cluster(&cluster)
                    .task_definition(family)
                    .launch_type(launch.clone())
                    .set_network_configuration(network.clone())
                    .send()
                    .await
                    .unwrap();
                assert!(run.failures().is_empty(), "{:?}", run.failures());
                let arn = run.tasks()[0].task_arn().unwrap().to_string();
                until_running(&ecs, &cluster, &arn).await;
                samples.push(started.elapsed().as_secs_f64() * 1000.0);
                arns.push(arn);
            }
            kinds.push((kind, samples));
        }
        for arn in &arns {
            ecs.stop_task().cluster(&cluster).task(arn).send().await.unwrap();
        }

        // Managed scaling: one group per sample, each starting with no host.
        let mut scaled = Vec::new();
        for g in 0..GROUPS {
            let (name, group, c) = (format!("bench-pool-{g}"), format!("bench-asg-{g}"), format!("{cluster}-{g}"));
            ecs.create_cluster().cluster_name(&c).send().await.unwrap();
            let scaling = ManagedScaling::builder().status(ManagedScalingStatus::Enabled).build();
            let asg = AutoScalingGroupProvider::builder()
                .auto_scaling_group_arn(&group)
                .managed_scaling(scaling)
                .build()
                .unwrap();
            ecs.create_capacity_provider().name(&name).auto_scaling_group_provider(asg).send().await.unwrap();
            let item = CapacityProviderStrategyItem::builder().capacity_provider(&name).weight(1).build().unwrap();
            ecs.put_cluster_capacity_providers()
                .cluster(&c)
                .capacity_providers(&name)
                .default_capacity_provider_strategy(item)
                .send()
                .await
                .unwrap();
            let started = Instant::now();
            let run = ecs.run_task().cluster(&c).task_definition("bridge").send().await.unwrap();
            let arn = run.tasks()[0].task_arn().unwrap().to_string();
            until_running(&ecs, &c, &arn).await;
            scaled.push(started.elapsed().as_secs_f64() * 1000.0);
            ecs.stop_task().cluster(&c).task(&arn).send().await.unwrap();
        }
        (kinds, scaled)
    });
    drop(agent);
    drop(fargate);
    let pair_ms = container_pair_floor(&image.reference, &label, n);
    for pid in std::fs::read_to_string(dir.path().join("pids")).unwrap_or_default().lines() {
        let _ = Command::new("kill").args(["-9", pid.trim()]).status();
    }
    // Containers the killed agents left: the test image's and the pause containers, in the
    // bench's cluster and in the managed-scaling groups' clusters.
    let clusters = std::iter::once(cluster.clone()).chain((0..GROUPS).map(|g| format!("{cluster}-{g}")));
    for c in clusters {
        let filter = format!("label=com.amazonaws.ecs.cluster={c}");
        for id in docker_cli(&["ps", "-aq", "--filter", &filter]).lines().filter(|l| !l.is_empty()) {
            let _ = Command::new("docker").args(["rm", "-f", id]).output();
        }
    }
    for net in docker_cli(&["network", "ls", "-q", "--filter", "name=berth-tasks-"]).lines().filter(|l| !l.is_empty()) {
        let _ = Command::new("docker").args(["network", "rm", net]).output();
    }

    println!("task start, {n} busybox containers started one at a time");
    println!("{:<44} {:>9} {:>9}", "", "p50 ms", "p99 ms");
    for (kind, samples) in &kinds {
        let label = format!("berth: RunTask -> RUNNING, {kind}");
        println!("{label:<44} {:>9.1} {:>9.1}", percentile(samples, 50.0), percentile(samples, 99.0));
    }
    println!(
        "{:<44} {:>9.1} {:>9.1}",
        "baseline: docker run -d",
        percentile(&docker_ms, 50.0),
        percentile(&docker_ms, 99.0)
    );
    let floor = percentile(&pair_ms, 50.0);
    let floor_label = "floor: docker run -d pause + app in its netns";
    println!("{floor_label:<44} {floor:>9.1} {:>9.1}", percentile(&pair_ms, 99.0));
    let bridge = percentile(&kinds[0].1, 50.0);
    for (kind, samples) in &kinds[1..] {
        let ratio = percentile(samples, 50.0) / bridge;
        let met = if ratio <= 1.5 { "met" } else { "NOT met" };
        println!("p50 ratio {kind} / bridge-mode: {ratio:.2} (target <= 1.5: {met})");
        let over = percentile(samples, 50.0) / floor;
        println!("p50 ratio {kind} / the engine's two-container floor: {over:.2}");
    }
    let pair = floor / percentile(&docker_ms, 50.0);
    println!("the floor itself: two containers take {pair:.2}x one docker run -d on this machine");
    println!(
        "waiting for capacity -> RUNNING on a host managed scaling started ({GROUPS} groups): p50 {:.0} ms, max {:.0} ms",
        percentile(&scaled_ms, 50.0),
        percentile(&scaled_ms, 100.0)
    );
}
