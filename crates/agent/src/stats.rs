//! Measuring the running tasks: every interval the agent reads each running container's
//! cgroup counters (a file read each, no engine call once a container's cgroup is
//! known), turns the CPU time spent since the last read into CPU units (1,024 a core)
//! and sends the task totals to the server (`ReportTaskStats`), which keeps them as the
//! `AWS/ECS` metrics.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use berth_client::ServerClient;
use berth_model::agent::{ContainerStats, TaskStats, TaskStatsReport};
use berth_runtime::{cgroup::Usage, ContainerRuntime};

use crate::Session;

/// A task's containers: (container name, engine id).
type Containers = Vec<(String, String)>;

/// The containers of the agent's RUNNING tasks by task ARN, as their task managers
/// record them.
#[derive(Clone, Default)]
pub struct RunningTasks(Arc<Mutex<HashMap<String, Containers>>>);

impl RunningTasks {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Containers>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the task's containers while it runs, forgets them once it does not.
    pub(crate) fn update(&self, task_arn: &str, running: bool, containers: Containers) {
        let mut map = self.lock();
        if running && !containers.is_empty() {
            if map.get(task_arn) != Some(&containers) {
                map.insert(task_arn.to_string(), containers);
            }
        } else {
            map.remove(task_arn);
        }
    }

    fn snapshot(&self) -> Vec<(String, Containers)> {
        self.lock().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// CPU units used between two readings `wall` apart.
pub fn cpu_units(before: Usage, after: Usage, wall: Duration) -> f64 {
    let wall_ns = wall.as_nanos() as f64;
    if wall_ns <= 0.0 {
        return 0.0;
    }
    after.cpu_ns.saturating_sub(before.cpu_ns) as f64 / wall_ns * 1024.0
}

/// One measurement round: each container's use since the previous round (containers
/// seen for the first time only set the baseline).
pub(crate) async fn measure<R: ContainerRuntime>(
    runtime: &R,
    running: &RunningTasks,
    previous: &mut HashMap<String, (Usage, Instant)>,
) -> Vec<TaskStats> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (task_arn, containers) in running.snapshot() {
        let mut task = TaskStats { task_arn, ..Default::default() };
        for (name, id) in containers {
            seen.insert(id.clone());
            let Some(now) = runtime.usage(&id).await else { continue };
            let at = Instant::now();
            if let Some((before, then)) = previous.insert(id, (now, at)) {
                let cpu = cpu_units(before, now, at - then);
                let memory = now.memory_bytes as f64 / (1024.0 * 1024.0);
                task.cpu_units += cpu;
                task.memory_mib += memory;
                task.containers.push(ContainerStats { name, cpu_units: cpu, memory_mib: memory });
            }
        }
        if !task.containers.is_empty() {
            out.push(task);
        }
    }
    previous.retain(|id, _| seen.contains(id));
    out
}

/// Measures and reports every `every` until the agent stops.
pub(crate) async fn run<R: ContainerRuntime>(
    runtime: Arc<R>,
    running: RunningTasks,
    client: ServerClient,
    session: Session,
    every: Duration,
) {
    let mut previous = HashMap::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let tasks = measure(runtime.as_ref(), &running, &mut previous).await;
        if tasks.is_empty() {
            continue;
        }
        let report = TaskStatsReport { interval_seconds: every.as_secs_f64(), tasks };
        let result: Result<berth_model::ecs::Empty, _> =
            client.agent(&session.token(), "ReportTaskStats", &report, Duration::from_secs(10)).await;
        if let Err(e) = result {
            tracing::debug!(error = %e, "reporting task stats failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_over_wall_time_is_cpu_units() {
        let a = Usage { cpu_ns: 1_000_000_000, memory_bytes: 0 };
        let b = Usage { cpu_ns: 1_500_000_000, memory_bytes: 0 };
        // Half a second of CPU in one second: half a core.
        assert_eq!(cpu_units(a, b, Duration::from_secs(1)), 512.0);
        // Two cores busy for a second.
        let c = Usage { cpu_ns: 3_000_000_000, memory_bytes: 0 };
        assert_eq!(cpu_units(a, c, Duration::from_secs(1)), 2048.0);
        // A counter that went back (a new cgroup) is no use.
        assert_eq!(cpu_units(b, a, Duration::from_secs(1)), 0.0);
    }
}
