//! What agents measure of their tasks, kept in memory (the latest report per task), and
//! the `AWS/ECS` metrics computed from it every second as ECS defines them:
//! by ClusterName and ServiceName, CPUUtilization and MemoryUtilization are what the
//! service's running tasks use as a percentage of what they reserve; by ClusterName,
//! CPUUtilization and MemoryUtilization are what the cluster's tasks use, and
//! CPUReservation and MemoryReservation what they reserve, as a percentage of what the
//! cluster's container instances registered.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use berth_metrics::{Point, Sample};
pub use berth_model::agent::{TaskStats, TaskStatsReport};
use berth_model::{
    berth::{DescribeServiceStatsRequest, DescribeServiceStatsResponse, TaskStatsView},
    cloudwatch::{Dimension, SeriesKey, ECS_NAMESPACE},
    json,
    status::{InstanceStatus, ServiceStatus},
    task::TaskStatus,
    EcsError,
};

use crate::{clusters::active_cluster, services::named_service, AgentIdentity, Caller, Control, RegionState};

/// A report older than this is not used (its task may have stopped reporting).
pub const STALE_AFTER: f64 = 15.0;

#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub region: String,
    pub stats: TaskStats,
    pub at: f64,
}

/// The latest report per task ARN.
#[derive(Default)]
pub(crate) struct StatsBook(Mutex<HashMap<String, Arc<Received>>>);

impl StatsBook {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Received>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fresh reports as of `now`, dropping the stale ones.
    pub(crate) fn fresh(&self, now: f64) -> HashMap<String, Arc<Received>> {
        let mut book = self.lock();
        book.retain(|_, r| now - r.at <= STALE_AFTER);
        book.clone()
    }
}

fn point(cluster: &str, service: Option<&str>, name: &str, value: f64, ts: i64) -> Point {
    let mut dims = vec![Dimension::new("ClusterName", cluster)];
    if let Some(s) = service {
        dims.push(Dimension::new("ServiceName", s));
    }
    Point {
        series: SeriesKey::new(ECS_NAMESPACE, name, dims),
        unit: Some("Percent".into()),
        ts,
        sample: Sample::value(value, 1.0),
    }
}

/// The `AWS/ECS` points of one region for second `ts`, from the fresh reports.
pub(crate) fn ecs_points(
    region: &RegionState,
    region_name: &str,
    stats: &HashMap<String, Arc<Received>>,
    ts: i64,
) -> Vec<Point> {
    let mut out = Vec::new();
    let used = |arn: &str| stats.get(arn).filter(|r| r.region == region_name).map(|r| &r.stats);
    for svc in region.services.values().filter(|s| s.service.status == ServiceStatus::Active) {
        let group = format!("service:{}", svc.service.service_name);
        let (mut cpu_used, mut cpu_reserved, mut mem_used, mut mem_reserved, mut measured) = (0.0, 0.0, 0.0, 0.0, 0);
        for t in region.tasks_in_group(&svc.cluster, &group).filter(|t| t.task.last() == TaskStatus::Running) {
            let Some(s) = used(&t.task.task_arn) else { continue };
            measured += 1;
            cpu_used += s.cpu_units;
            mem_used += s.memory_mib;
            cpu_reserved += t.cpu as f64;
            mem_reserved += t.memory as f64;
        }
        if measured == 0 {
            continue;
        }
        let name = &svc.service.service_name;
        if cpu_reserved > 0.0 {
            out.push(point(&svc.cluster, Some(name), "CPUUtilization", 100.0 * cpu_used / cpu_reserved, ts));
        }
        if mem_reserved > 0.0 {
            out.push(point(&svc.cluster, Some(name), "MemoryUtilization", 100.0 * mem_used / mem_reserved, ts));
        }
    }
    // Cluster level: over the container instances (Fargate hosts are not the cluster's).
    let mut clusters: HashMap<&str, [f64; 6]> = HashMap::new();
    for (arn, rec) in &region.instances {
        if rec.is_fargate() || rec.instance.status != InstanceStatus::Active {
            continue;
        }
        let c = clusters.entry(rec.cluster.as_str()).or_default();
        let registered =
            |name| crate::instances::registered(&rec.instance, name).map_or(0.0, |r| r.integer_value as f64);
        c[0] += registered("CPU");
        c[1] += registered("MEMORY");
        if let Some(usage) = region.usage.get(arn) {
            c[2] += usage.cpu as f64;
            c[3] += usage.memory as f64;
        }
        for task in region.tasks_by_instance.get(arn).into_iter().flatten() {
            if let Some(s) = used(task) {
                c[4] += s.cpu_units;
                c[5] += s.memory_mib;
            }
        }
    }
    for (cluster, [cpu, mem, cpu_res, mem_res, cpu_used, mem_used]) in clusters {
        if cpu > 0.0 {
            out.push(point(cluster, None, "CPUReservation", 100.0 * cpu_res / cpu, ts));
            out.push(point(cluster, None, "CPUUtilization", 100.0 * cpu_used / cpu, ts));
        }
        if mem > 0.0 {
            out.push(point(cluster, None, "MemoryReservation", 100.0 * mem_res / mem, ts));
            out.push(point(cluster, None, "MemoryUtilization", 100.0 * mem_used / mem, ts));
        }
    }
    out
}

/// Where the load balancer's traffic comes from: each target group's requests so far
/// and its healthy targets now.
pub type TrafficSource = Arc<dyn Fn() -> Vec<(String, u64, usize)> + Send + Sync>;

/// The load balancer's traffic source and the request counts last seen.
#[derive(Default)]
pub(crate) struct TrafficBook {
    source: Mutex<Option<TrafficSource>>,
    seen: Mutex<HashMap<String, u64>>,
}

/// `targetgroup/NAME/ID` of a target group ARN (the metric's TargetGroup dimension).
fn group_dimension(arn: &str) -> Option<&str> {
    arn.find("targetgroup/").map(|i| &arn[i..])
}

impl TrafficBook {
    /// `AWS/ApplicationELB` RequestCount and RequestCountPerTarget (requests ÷ healthy
    /// targets) by TargetGroup, for the requests since the last call (0 when there were
    /// none, so a quiet service can scale in).
    fn points(&self, ts: i64) -> Vec<(String, Point)> {
        let Some(source) = self.source.lock().unwrap_or_else(|p| p.into_inner()).clone() else { return Vec::new() };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for (arn, total, healthy) in source() {
            let before = seen.insert(arn.clone(), total).unwrap_or(total);
            let (Some(region), Some(group)) = (arn.split(':').nth(3), group_dimension(&arn)) else { continue };
            let delta = total.saturating_sub(before) as f64;
            let dims = vec![Dimension::new("TargetGroup", group)];
            let point = |name: &str, v: f64| Point {
                series: SeriesKey::new("AWS/ApplicationELB", name, dims.clone()),
                unit: Some("Count".into()),
                ts,
                sample: Sample::value(v, 1.0),
            };
            out.push((region.to_string(), point("RequestCount", delta)));
            if healthy > 0 {
                out.push((region.to_string(), point("RequestCountPerTarget", delta / healthy as f64)));
            }
        }
        out
    }
}

impl Control {
    /// Where the load balancer's request counts come from (set once at start).
    pub fn configure_traffic(&self, source: TrafficSource) {
        *self.inner.traffic.source.lock().unwrap_or_else(|p| p.into_inner()) = Some(source);
    }

    /// ReportTaskStats: keeps the latest measurement of each of the agent's own tasks.
    pub fn report_task_stats(&self, agent: &AgentIdentity, report: TaskStatsReport) {
        let now = berth_model::time::now();
        let own: Vec<TaskStats> = self.read(|state| {
            let region = state.region(&agent.region);
            report
                .tasks
                .into_iter()
                .filter(|t| region.tasks.get(&t.task_arn).is_some_and(|r| r.host() == Some(&agent.instance_arn)))
                .collect()
        });
        let mut book = self.inner.stats.lock();
        for stats in own {
            let arn = stats.task_arn.clone();
            book.insert(arn, Arc::new(Received { region: agent.region.clone(), stats, at: now }));
        }
    }

    /// Every region's `AWS/ECS` and `AWS/ApplicationELB` points for second `ts`.
    pub(crate) fn collect_points(&self, now: f64) -> Vec<(String, Point)> {
        let stats = self.inner.stats.fresh(now);
        let ts = now.floor() as i64;
        let mut points: Vec<(String, Point)> = self.read(|state| {
            state
                .regions()
                .flat_map(|(name, region)| {
                    ecs_points(region, name, &stats, ts).into_iter().map(move |p| (name.clone(), p))
                })
                .collect()
        });
        points.extend(self.inner.traffic.points(ts));
        points
    }

    /// `BerthV1.DescribeServiceStats`: the service's tasks that are not yet stopped, each
    /// with its latest measurement.
    pub fn describe_service_stats(
        &self,
        caller: &Caller,
        req: &DescribeServiceStatsRequest,
    ) -> Result<DescribeServiceStatsResponse, EcsError> {
        let reference = json::required(&req.service, "service")?;
        let now = berth_model::time::now();
        let stats = self.inner.stats.fresh(now);
        self.read(|state| {
            let cluster = active_cluster(state, caller, req.cluster.as_deref())?.cluster_name.clone();
            let region = state.region(&caller.region);
            let svc = named_service(caller, region, &cluster, reference)?;
            let group = format!("service:{}", svc.service.service_name);
            let mut tasks: Vec<TaskStatsView> = region
                .tasks_in_group(&cluster, &group)
                .filter(|t| t.task.last() != TaskStatus::Stopped)
                .map(|t| {
                    let got = stats.get(&t.task.task_arn).filter(|r| r.region == caller.region);
                    TaskStatsView {
                        task_arn: t.task.task_arn.clone(),
                        last_status: t.task.last(),
                        cpu_reserved: t.cpu,
                        memory_reserved: t.memory,
                        stats: got.map(|r| r.stats.clone()),
                        measured_at: got.map(|r| r.at),
                    }
                })
                .collect();
            tasks.sort_by(|a, b| a.task_arn.cmp(&b.task_arn));
            Ok(DescribeServiceStatsResponse { tasks })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_metrics_count_what_came_since_the_last_round_per_healthy_target() {
        let book = TrafficBook::default();
        let arn = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef";
        let totals = Arc::new(Mutex::new((10u64, 2usize)));
        let t = totals.clone();
        *book.source.lock().unwrap() = Some(Arc::new(move || {
            let (n, healthy) = *t.lock().unwrap();
            vec![(arn.to_string(), n, healthy)]
        }));
        // The first round only sets where counting starts.
        let first = book.points(100);
        assert!(first.iter().all(|(_, p)| p.sample.sum == 0.0), "{first:?}");
        *totals.lock().unwrap() = (40, 2);
        let points = book.points(101);
        let get = |name: &str| {
            points.iter().find(|(_, p)| p.series.name == name).map(|(r, p)| (r.clone(), p.clone())).unwrap()
        };
        let (region, count) = get("RequestCount");
        assert_eq!(region, "us-east-1");
        assert_eq!(count.sample.sum, 30.0);
        assert_eq!(count.series.dimensions, vec![Dimension::new("TargetGroup", "targetgroup/web/0123456789abcdef")]);
        assert_eq!(get("RequestCountPerTarget").1.sample.sum, 15.0);
        // No healthy target: no per-target figure.
        *totals.lock().unwrap() = (41, 0);
        assert!(book.points(102).iter().all(|(_, p)| p.series.name == "RequestCount"));
    }
}
