//! Managed scaling of EC2 capacity providers: when tasks wait for a provider's hosts, or
//! its hosts sit empty, berth runs the scale command configured for the provider's Auto
//! Scaling group, as ECS drives the group's desired count.
//!
//! The decision is ECS's `CapacityProviderReservation` = M / N × 100, with N the hosts in
//! the group and M the hosts the tasks need (hosts running tasks, plus hosts for the tasks
//! waiting), kept at the provider's `targetCapacity`: scale out when tasks wait, by at
//! least `minimumScalingStepSize` and at most `maximumScalingStepSize` hosts, not again
//! until the hosts asked for registered or `instanceWarmupPeriod` passed; scale in hosts
//! that stayed empty for the idle time, beyond what the target keeps spare. Scale-in only
//! ever takes empty hosts (berth's termination protection); with managed draining they
//! are set DRAINING first. The command runs as `sh -c COMMAND` with `BERTH_SCALE_ACTION`
//! (`out` or `in`), `BERTH_SCALE_COUNT`, `BERTH_CAPACITY_PROVIDER`,
//! `BERTH_AUTO_SCALING_GROUP`, `BERTH_CLUSTER` and, for scale-in, `BERTH_INSTANCES` (the
//! hosts' container instance ARNs, space-separated); berth deregisters scaled-in hosts,
//! which stops their agents.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use berth_model::{
    capacity_provider::{CapacityProvider, CapacityProviderStatus, Toggle},
    ecs::{DeregisterContainerInstanceRequest, UpdateContainerInstancesStateRequest},
    status::{DesiredStatus, InstanceStatus},
    time,
};

use crate::{capacity::in_group, instances::usage, Caller, Control, RegionState, State};

/// How managed scaling runs.
#[derive(Debug, Clone)]
pub struct ManagedScalingConfig {
    /// The scale command of each Auto Scaling group (by group name).
    pub commands: HashMap<String, String>,
    /// How long a host stays empty before it may be scaled in.
    pub scale_in_idle: Duration,
    /// How often the decision is made (and on every commit).
    pub interval: Duration,
}

impl Default for ManagedScalingConfig {
    fn default() -> Self {
        ManagedScalingConfig {
            commands: HashMap::new(),
            scale_in_idle: Duration::from_secs(60),
            interval: Duration::from_secs(1),
        }
    }
}

/// What one provider's group should do now.
#[derive(Debug, Clone, PartialEq)]
pub enum ScaleAction {
    Out {
        count: usize,
    },
    /// Scale in these hosts (container instance ARNs).
    In {
        hosts: Vec<String>,
    },
}

pub use berth_model::berth::CapacityReservation as Reservation;

/// What the scaler remembers between decisions (in memory: a restart starts afresh).
#[derive(Default)]
pub(crate) struct ScalerMemory {
    /// Per provider: when it last scaled out, and how many hosts it expected then.
    launched: HashMap<String, (f64, usize)>,
    /// Per host: since when it has been empty.
    empty_since: HashMap<String, f64>,
    pub(crate) reservations: HashMap<String, Reservation>,
}

/// The hosts of `provider`'s group in `cluster`, not deregistered.
fn group_hosts<'r>(
    region: &'r RegionState,
    cluster: &'r str,
    provider: &'r CapacityProvider,
) -> Vec<&'r crate::InstanceRecord> {
    let Some(asg) = provider.auto_scaling_group_provider.as_ref() else { return Vec::new() };
    region
        .instances
        .values()
        .filter(|r| {
            r.cluster == cluster
                && r.instance.status != InstanceStatus::Inactive
                && in_group(r, &asg.auto_scaling_group_arn)
        })
        .map(|r| r.as_ref())
        .collect()
}

/// Decides, for `provider` in `cluster` as of `now`, what to do (and the figures).
pub(crate) fn decide(
    region: &RegionState,
    cluster: &str,
    provider: &CapacityProvider,
    now: f64,
    idle: Duration,
    memory: &mut ScalerMemory,
) -> (Option<ScaleAction>, Reservation) {
    let scaling =
        provider.auto_scaling_group_provider.as_ref().and_then(|a| a.managed_scaling.clone()).unwrap_or_default();
    let hosts = group_hosts(region, cluster, provider);
    let waiting: Vec<_> = region
        .waiting
        .iter()
        .filter_map(|arn| region.tasks.get(arn))
        .filter(|t| {
            t.cluster == cluster
                && t.task.desired_status == DesiredStatus::Running
                && t.task.capacity_provider_name.as_deref() == Some(provider.name.as_str())
        })
        .collect();
    let busy: Vec<&str> = hosts
        .iter()
        .filter(|h| usage(region, &h.instance.container_instance_arn).active_tasks() > 0)
        .map(|h| h.instance.container_instance_arn.as_str())
        .collect();
    // Hosts the waiting tasks need: by CPU and memory against the group's largest host
    // (one host each when the group has none yet to measure).
    let largest = |name: &str| {
        hosts
            .iter()
            .filter_map(|h| h.instance.registered_resources.iter().find(|r| r.name == name))
            .map(|r| r.integer_value)
            .max()
    };
    let need = |total: i64, per_host: Option<i64>| match per_host {
        Some(p) if p > 0 => ((total + p - 1) / p) as usize,
        _ => waiting.len(),
    };
    let for_waiting = if waiting.is_empty() {
        0
    } else {
        let cpu: i64 = waiting.iter().map(|t| t.cpu).sum();
        let mem: i64 = waiting.iter().map(|t| t.memory).sum();
        need(cpu, largest("CPU")).max(need(mem, largest("MEMORY"))).max(1)
    };
    let needed = busy.len() + for_waiting;
    let reservation = match (needed, hosts.len()) {
        (0, 0) => 100.0,
        (_, 0) => 200.0,
        (m, n) => m as f64 * 100.0 / n as f64,
    };
    let figures = Reservation {
        capacity_provider: provider.name.clone(),
        cluster: cluster.to_string(),
        capacity_provider_reservation: reservation,
        hosts: hosts.len(),
        hosts_needed: needed,
        waiting_tasks: waiting.len(),
    };
    for h in &hosts {
        let arn = &h.instance.container_instance_arn;
        if busy.contains(&arn.as_str()) {
            memory.empty_since.remove(arn);
        } else {
            memory.empty_since.entry(arn.clone()).or_insert(now);
        }
    }
    if scaling.status != Some(Toggle::Enabled) {
        return (None, figures);
    }
    let target = scaling.target_capacity.unwrap_or(100).clamp(1, 100) as usize;
    // The hosts that keep the reservation at the target: ceil(M × 100 / target).
    let wanted = (needed * 100).div_ceil(target);
    if for_waiting > 0 && wanted > hosts.len() {
        let warmup = scaling.instance_warmup_period.unwrap_or(300).max(0) as f64;
        if let Some((at, expected)) = memory.launched.get(&provider.name) {
            // Hosts asked for earlier are still coming.
            if hosts.len() < *expected && now - at < warmup.max(30.0) {
                return (None, figures);
            }
        }
        let (lo, hi) =
            (scaling.minimum_scaling_step_size.unwrap_or(1), scaling.maximum_scaling_step_size.unwrap_or(10_000));
        let count = ((wanted - hosts.len()) as i64).clamp(lo.max(1), hi.max(1)) as usize;
        memory.launched.insert(provider.name.clone(), (now, hosts.len() + count));
        return (Some(ScaleAction::Out { count }), figures);
    }
    if waiting.is_empty() && hosts.len() > wanted {
        let idle = idle.as_secs_f64();
        let mut empty: Vec<(&String, f64)> = hosts
            .iter()
            .filter_map(|h| {
                let arn = &h.instance.container_instance_arn;
                memory.empty_since.get(arn).filter(|since| now - **since >= idle).map(|since| (arn, *since))
            })
            .collect();
        empty.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
        let hosts: Vec<String> = empty.into_iter().take(hosts.len() - wanted).map(|(a, _)| a.clone()).collect();
        if !hosts.is_empty() {
            return (Some(ScaleAction::In { hosts }), figures);
        }
    }
    (None, figures)
}

/// Every (region, cluster, provider) with managed scaling to look at.
fn providers(state: &State) -> Vec<(String, String, Arc<CapacityProvider>)> {
    let mut out = Vec::new();
    for (name, region) in state.regions() {
        for cluster in region.clusters.values() {
            for p in cluster.capacity_providers.iter().filter_map(|p| region.capacity_providers.get(p)) {
                if p.status == CapacityProviderStatus::Active && p.auto_scaling_group_provider.is_some() {
                    out.push((name.clone(), cluster.cluster_name.clone(), p.clone()));
                }
            }
        }
    }
    out
}

impl Control {
    /// The latest `CapacityProviderReservation` figures of every provider of `region` that
    /// managed scaling looks after.
    pub fn capacity_reservations(&self, region: &str) -> Vec<Reservation> {
        let memory = self.inner.scaler.lock().unwrap_or_else(|p| p.into_inner());
        let prefix = format!("{region}/");
        let mut out: Vec<Reservation> =
            memory.reservations.iter().filter(|(k, _)| k.starts_with(&prefix)).map(|(_, r)| r.clone()).collect();
        out.sort_by(|a, b| (&a.cluster, &a.capacity_provider).cmp(&(&b.cluster, &b.capacity_provider)));
        out
    }

    /// Runs managed scaling until the handle is aborted.
    pub fn spawn_managed_scaling(&self, config: ManagedScalingConfig) -> tokio::task::JoinHandle<()> {
        let control = self.clone();
        tokio::spawn(async move {
            let mut commits = control.commits();
            loop {
                control.scale_once(&config).await;
                // A burst of commits wakes it once, as it does the controllers.
                tokio::select! {
                    _ = tokio::time::sleep(config.interval) => {}
                    _ = commits.changed() => tokio::time::sleep(crate::controller::COMMIT_DEBOUNCE).await,
                }
                commits.borrow_and_update();
            }
        })
    }

    async fn scale_once(&self, config: &ManagedScalingConfig) {
        let now = time::now();
        let decisions: Vec<_> = self.read(|state| {
            let mut memory = self.inner.scaler.lock().unwrap_or_else(|p| p.into_inner());
            providers(state)
                .into_iter()
                .filter_map(|(region, cluster, provider)| {
                    let (action, figures) =
                        decide(state.region(&region), &cluster, &provider, now, config.scale_in_idle, &mut memory);
                    memory.reservations.insert(format!("{region}/{cluster}/{}", provider.name), figures);
                    action.map(|a| (region, cluster, provider, a))
                })
                .collect()
        });
        for (region, cluster, provider, action) in decisions {
            let Some(asg) = provider.auto_scaling_group_provider.as_ref() else { continue };
            let group = crate::capacity::group_name(&asg.auto_scaling_group_arn).to_string();
            let Some(command) = config.commands.get(&group) else {
                tracing::warn!(%group, provider = %provider.name, ?action, "managed scaling wants to act, but no --scale-command is configured for the group");
                continue;
            };
            let caller = Caller { region: region.clone(), account: provider_account(&provider) };
            let draining = asg.managed_draining != Some(Toggle::Disabled);
            if let ScaleAction::In { hosts } = &action {
                if draining {
                    let req = UpdateContainerInstancesStateRequest {
                        cluster: Some(cluster.clone()),
                        container_instances: Some(hosts.clone()),
                        status: Some(InstanceStatus::Draining.as_str().into()),
                    };
                    if let Err(e) = self.update_container_instances_state(&caller, req).await {
                        tracing::warn!(error = %e, "draining hosts before scale-in failed");
                    }
                }
            }
            let ok = run_command(command, &cluster, &provider.name, &group, &action).await;
            if let (true, ScaleAction::In { hosts }) = (ok, &action) {
                for host in hosts {
                    let req = DeregisterContainerInstanceRequest {
                        cluster: Some(cluster.clone()),
                        container_instance: Some(host.clone()),
                        force: Some(true),
                    };
                    if let Err(e) = self.deregister_container_instance(&caller, req).await {
                        tracing::warn!(%host, error = %e, "deregistering a scaled-in host failed");
                    }
                }
                let mut memory = self.inner.scaler.lock().unwrap_or_else(|p| p.into_inner());
                for host in hosts {
                    memory.empty_since.remove(host);
                }
            }
        }
    }
}

/// The account of a provider, from its ARN.
fn provider_account(p: &CapacityProvider) -> String {
    berth_model::Arn::parse(&p.capacity_provider_arn).map(|a| a.account).unwrap_or_default()
}

/// Runs the group's scale command; whether it succeeded.
async fn run_command(command: &str, cluster: &str, provider: &str, group: &str, action: &ScaleAction) -> bool {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.args(["-c", command])
        .env("BERTH_CLUSTER", cluster)
        .env("BERTH_CAPACITY_PROVIDER", provider)
        .env("BERTH_AUTO_SCALING_GROUP", group)
        .stdin(std::process::Stdio::null());
    match action {
        ScaleAction::Out { count } => cmd.env("BERTH_SCALE_ACTION", "out").env("BERTH_SCALE_COUNT", count.to_string()),
        ScaleAction::In { hosts } => cmd
            .env("BERTH_SCALE_ACTION", "in")
            .env("BERTH_SCALE_COUNT", hosts.len().to_string())
            .env("BERTH_INSTANCES", hosts.join(" ")),
    };
    tracing::info!(%group, %provider, ?action, "managed scaling runs the group's scale command");
    match tokio::time::timeout(Duration::from_secs(120), cmd.status()).await {
        Ok(Ok(status)) if status.success() => true,
        Ok(Ok(status)) => {
            tracing::warn!(%group, %status, "the scale command failed");
            false
        }
        Ok(Err(e)) => {
            tracing::warn!(%group, error = %e, "the scale command could not run");
            false
        }
        Err(_) => {
            tracing::warn!(%group, "the scale command ran for more than 120 s");
            false
        }
    }
}

/// Kept for the scaler's shared memory in [`Control`].
pub(crate) type Scaler = Mutex<ScalerMemory>;
