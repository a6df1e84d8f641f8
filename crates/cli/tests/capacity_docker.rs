//! Managed scaling on the real Docker engine: a task of an EC2 capacity provider whose
//! group has no host waits in PROVISIONING; managed scaling runs the group's scale
//! command, which starts a `berth agent` process (its own data directory) in the group;
//! the task runs there; once the host sits empty it is scaled in: deregistered, and its
//! agent stops.

use std::{path::Path, time::Instant};

use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, CapacityProviderStrategyItem, ManagedScaling, ManagedScalingStatus,
};
use berth_testkit::{wait_for, DockerEnv, DEADLINE};

fn berth() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_berth"))
}

/// Kills the agents the scale command started, whatever happens to the test.
struct Started(std::path::PathBuf);

impl Started {
    fn pids(&self) -> Vec<u32> {
        std::fs::read_to_string(&self.0).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        for pid in self.pids() {
            let _ = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_scaling_starts_a_host_for_a_waiting_task_and_stops_it_when_empty() {
    let scripts = tempfile::tempdir().unwrap();
    let dir = scripts.path().to_path_buf();
    let script = dir.join("scale.sh");
    // Scale-out starts one agent per host asked for; scale-in has nothing to do: berth
    // deregisters the host, and its agent stops by itself.
    std::fs::write(
        &script,
        format!(
            r#"set -e
[ "$BERTH_SCALE_ACTION" = out ] || exit 0
. {dir}/env
i=0
while [ $i -lt "$BERTH_SCALE_COUNT" ]; do
  n=$(date +%s%N)
  nohup {berth} agent --server "$ENDPOINT" --cluster "$BERTH_CLUSTER" --auto-scaling-group "$BERTH_AUTO_SCALING_GROUP" \
    --data-dir {dir}/agent-$n --heartbeat-interval 1 > {dir}/agent-$n.log 2>&1 &
  echo $! >> {dir}/pids
  i=$((i+1))
done
"#,
            dir = dir.display(),
            berth = berth().display()
        ),
    )
    .unwrap();
    let command = format!("scale-asg=sh {}", script.display());
    let flags = ["--task-cidr", "10.216.0.0/16", "--scale-command", &command, "--scale-in-idle-secs", "2"];
    let env = DockerEnv::start_with(berth(), "scale", &flags).await;
    let started = Started(dir.join("pids"));
    std::fs::write(
        dir.join("env"),
        format!(
            "ENDPOINT={}\nexport AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={} AWS_DEFAULT_REGION=us-east-1 BERTH_LOG=warn\n",
            env.server().endpoint,
            env.credential.access_key_id,
            env.credential.secret_access_key
        ),
    )
    .unwrap();

    let scaling = ManagedScaling::builder()
        .status(ManagedScalingStatus::Enabled)
        .target_capacity(100)
        .instance_warmup_period(30)
        .build();
    let group = AutoScalingGroupProvider::builder()
        .auto_scaling_group_arn("scale-asg")
        .managed_scaling(scaling)
        .build()
        .unwrap();
    env.ecs.create_capacity_provider().name("scale-pool").auto_scaling_group_provider(group).send().await.unwrap();
    let strategy = CapacityProviderStrategyItem::builder().capacity_provider("scale-pool").weight(1).build().unwrap();
    env.ecs
        .put_cluster_capacity_providers()
        .cluster(&env.cluster)
        .capacity_providers("scale-pool")
        .default_capacity_provider_strategy(strategy)
        .send()
        .await
        .unwrap();
    let td = env.register("sleeper", vec![env.container("app", "exec sleep 300").build()]).await;

    let asked = Instant::now();
    let task_arn = env.run(&td).await;
    let waiting = env.describe(&task_arn).await;
    assert_eq!(waiting.last_status(), Some("PROVISIONING"));
    assert_eq!(waiting.container_instance_arn(), None, "no host yet");
    let running = env
        .wait_task(&task_arn, "RUNNING on a host managed scaling started", |t| t.last_status() == Some("RUNNING"))
        .await;
    println!("waiting for capacity → RUNNING on a new host: {:?}", asked.elapsed());
    assert_eq!(running.capacity_provider_name(), Some("scale-pool"));
    let instance = running.container_instance_arn().unwrap().to_string();
    let pids = started.pids();
    assert_eq!(pids.len(), 1, "one host was asked for: {pids:?}");

    env.ecs.stop_task().cluster(&env.cluster).task(&task_arn).send().await.unwrap();
    env.wait_task(&task_arn, "STOPPED", |t| t.last_status() == Some("STOPPED")).await;
    wait_for("the empty host to be scaled in", DEADLINE, async || {
        let out =
            env.ecs.describe_container_instances().cluster(&env.cluster).container_instances(&instance).send().await;
        let status = out.map_err(|e| format!("{e:?}"))?.container_instances()[0].status().map(String::from);
        match (status.as_deref(), alive(pids[0])) {
            (Some("INACTIVE"), false) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let listed = env.ecs.list_container_instances().cluster(&env.cluster).send().await.unwrap();
    assert!(listed.container_instance_arns().is_empty(), "{listed:?}");
    env.wait_containers_removed().await;
}
