//! The capacity controller: tasks that wait in PROVISIONING for a host (their capacity
//! provider or Fargate had no room when they were started) are placed as soon as a host
//! of their pool has room: a host registers, or tasks there stop.

use std::{sync::Arc, time::Duration};

use berth_model::{container_instance::AVAILABILITY_ZONE_ATTRIBUTE, status::DesiredStatus, EcsError};
use berth_scheduler::{Placement, Request, SpreadField, Strategy};

use crate::{
    capacity::Pool,
    controller::{Action, Clock, Reconciler},
    launch::{place_on, pool_snapshot},
    placement::{fargate_strategies, launch_demand, placement_rules},
    state::Change,
    task_definitions::TaskDefinitionRef,
    task_network::Addresses,
    Control, State,
};

pub(crate) struct CapacityController;

/// A pool's hosts (ARNs) and the scheduler's view of them, kept through one pass.
type Snapshot = (Vec<String>, Vec<berth_scheduler::Instance>);

/// The placement request for one waiting task.
fn request_for(state: &State, region: &str, task: &berth_model::task::Task, pool: &Pool) -> Result<Request, EcsError> {
    let td = TaskDefinitionRef::parse(&task.task_definition_arn)?
        .resolve(state.region(region))
        .cloned()
        .ok_or_else(|| EcsError::Server(format!("the task definition of {} is missing", task.task_arn)))?;
    let (constraints, strategies) = if pool.fargate {
        (Vec::new(), fargate_strategies())
    } else {
        let zone = SpreadField::Attribute(AVAILABILITY_ZONE_ATTRIBUTE.into());
        placement_rules(&td, &[], &[], vec![Strategy::Spread(zone)])?
    };
    let demand = launch_demand(&td, &task.overrides, pool.fargate)?;
    Ok(Request { demand, group: task.group.clone(), count: 1, constraints, strategies, seed: 0 })
}

impl Reconciler for CapacityController {
    type Key = String;
    const NAME: &'static str = "capacity";

    fn keys(&self, state: &State, _now: f64) -> Vec<String> {
        state.regions().filter(|(_, r)| !r.waiting.is_empty()).map(|(name, _)| name.clone()).collect()
    }

    fn reconcile(
        &self,
        state: &State,
        region_name: &String,
        _now: f64,
        changes: &mut Vec<Change>,
    ) -> Result<Action, EcsError> {
        let region = state.region(region_name);
        let mut addresses = Addresses::default();
        // Snapshots per (cluster, pool), updated as tasks are placed in this pass.
        // (Hosts without a task subnet, past the pool's size, are left out for awsvpc tasks.)
        let mut snapshots: std::collections::HashMap<(String, Pool, bool), Snapshot> = Default::default();
        for arn in &region.waiting {
            let Some(rec) = region.tasks.get(arn) else { continue };
            if rec.task.desired_status != DesiredStatus::Running {
                continue;
            }
            let pool = Pool::of_task(&rec.task);
            let request = match request_for(state, region_name, &rec.task, &pool) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(task = %arn, error = %e, "cannot place a waiting task");
                    continue;
                }
            };
            let awsvpc = rec.task.eni().is_some();
            let (hosts, snapshot) = snapshots.entry((rec.cluster.clone(), pool.clone(), awsvpc)).or_insert_with(|| {
                let (records, instances) = pool_snapshot(region, &rec.cluster, &pool, awsvpc);
                (records.iter().map(|r| r.instance.container_instance_arn.clone()).collect(), instances)
            });
            let Some(Placement::Placed(i)) = berth_scheduler::place(&request, snapshot).pop() else { continue };
            let Some(host) = region.instances.get(&hosts[i]) else { continue };
            let mut next = (**rec).clone();
            if !place_on(region_name, region, &mut next, host, &mut addresses) {
                continue;
            }
            next.task.version += 1;
            tracing::info!(task = %arn, host = %hosts[i], "a task that waited for capacity is placed");
            changes.push(Change::DesiredVersion { region: region_name.clone(), arn: hosts[i].clone() });
            changes.push(Change::Task { region: region_name.clone(), record: Arc::new(next) });
        }
        Ok(Action::Done)
    }
}

impl Control {
    /// Starts the capacity controller.
    pub fn spawn_capacity_controller(&self, clock: Arc<dyn Clock>) -> tokio::task::JoinHandle<()> {
        self.spawn_controller(CapacityController, clock, Duration::from_secs(5))
    }
}

#[cfg(test)]
#[path = "capacity_tests.rs"]
mod tests;
