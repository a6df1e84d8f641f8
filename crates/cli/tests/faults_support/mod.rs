//! What the fault tests share: the berth binary, the tasks the server knows and the
//! containers Docker runs for them, waiting for acknowledgements, and killing a server or
//! an agent and starting it again.

use std::{
    collections::{HashMap, HashSet},
    path::Path,
    sync::Mutex,
};

use aws_sdk_ecs::types::Task;
use berth_testkit::{docker_cli, wait_for, BerthProcess, DockerEnv, DEADLINE};

pub fn berth() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_berth"))
}

pub fn status(t: &Task) -> &str {
    t.last_status().unwrap_or_default()
}

/// Task ARN → container states, for every container berth made in `cluster`.
pub fn containers_by_task(cluster: &str) -> HashMap<String, Vec<String>> {
    let out = docker_cli(&[
        "ps",
        "-a",
        "--filter",
        &format!("label=com.amazonaws.ecs.cluster={cluster}"),
        "--format",
        "{{.Label \"com.amazonaws.ecs.task-arn\"}} {{.State}}",
    ]);
    let mut by_task: HashMap<String, Vec<String>> = HashMap::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let (arn, state) = line.split_once(' ').unwrap_or((line, ""));
        by_task.entry(arn.to_string()).or_default().push(state.to_string());
    }
    by_task
}

/// Every task of the cluster the server knows, whatever its desired status.
pub async fn known_tasks(env: &DockerEnv) -> Vec<Task> {
    let mut arns = Vec::new();
    for desired in [aws_sdk_ecs::types::DesiredStatus::Running, aws_sdk_ecs::types::DesiredStatus::Stopped] {
        let out = env.ecs.list_tasks().cluster(&env.cluster).desired_status(desired).send().await.unwrap();
        arns.extend(out.task_arns().iter().cloned());
    }
    let mut tasks = Vec::new();
    for chunk in arns.chunks(100) {
        let out = env.ecs.describe_tasks().cluster(&env.cluster).set_tasks(Some(chunk.to_vec())).send().await.unwrap();
        tasks.extend(out.tasks().iter().cloned());
    }
    tasks
}

/// Waits until every task the server wants RUNNING runs in exactly one running container
/// and no container belongs to a task the server does not know or wants stopped.
pub async fn converged(env: &DockerEnv) -> Vec<Task> {
    wait_for("containers to match the server's tasks", DEADLINE, async || {
        let tasks = known_tasks(env).await;
        let containers = containers_by_task(&env.cluster);
        let wanted: HashSet<&str> = tasks
            .iter()
            .filter(|t| t.desired_status() == Some("RUNNING"))
            .map(|t| t.task_arn().unwrap_or_default())
            .collect();
        for t in tasks.iter().filter(|t| t.desired_status() == Some("RUNNING")) {
            let arn = t.task_arn().unwrap_or_default();
            let running = containers.get(arn).map_or(0, |s| s.iter().filter(|s| *s == "running").count());
            if status(t) != "RUNNING" || running != 1 {
                return Err(format!("{arn} is {} with {running} running containers", status(t)));
            }
        }
        for (arn, states) in &containers {
            if !wanted.contains(arn.as_str()) && states.iter().any(|s| s == "running") {
                return Err(format!("a container of {arn} runs, but the server does not want it"));
            }
        }
        Ok(tasks)
    })
    .await
}

/// Waits until `n` writes were acknowledged: the moment of the kill.
pub async fn wait_acknowledged<T>(acknowledged: &Mutex<Vec<T>>, n: usize) {
    wait_for("acknowledgements", DEADLINE, async || {
        let have = acknowledged.lock().unwrap().len();
        if have >= n {
            Ok(())
        } else {
            Err(format!("{have} of {n}"))
        }
    })
    .await;
}

/// What a fault test kills with SIGKILL and starts again.
#[derive(Clone, Copy, Debug)]
pub enum Victim {
    Server,
    /// The agent with this index.
    Agent(usize),
}

/// Kills `victim` with SIGKILL and starts it again on the same port or data directory.
pub async fn kill_and_restart(env: &mut DockerEnv, victim: Victim) {
    match victim {
        Victim::Server => {
            let port = env.server().port();
            env.server.take().unwrap().kill9();
            env.server = Some(BerthProcess::start_with(
                berth(),
                &env.dir.path().join("server"),
                port,
                &["--heartbeat-timeout", "3", "--disconnected-grace", "3"],
            ));
        }
        Victim::Agent(n) => {
            env.agents[n].take().unwrap().kill9();
            env.agent(n, &[]).await;
        }
    }
}
