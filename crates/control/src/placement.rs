//! Turning a RunTask into a placement request: the task definition it names, what one
//! task needs, the constraints and strategies (with ECS's limits and defaults), and the
//! snapshot of instances the scheduler works on. Shared by RunTask, StartTask and the
//! dry-run plan.

use std::sync::Arc;

use berth_model::{
    container_instance::AVAILABILITY_ZONE_ATTRIBUTE,
    ecs::RunTaskRequest,
    placement::{PlacementConstraint, PlacementStrategy},
    status::TaskDefinitionStatus,
    tag,
    task::TaskOverride,
    task_definition::{parse_task_cpu, parse_task_memory, TaskDefinition},
    EcsError,
};
use berth_scheduler::{Constraint, Demand, Request, Strategy, MAX_CONSTRAINTS, MAX_STRATEGIES};

use crate::{
    capacity::{self, Launch},
    clusters::active_cluster,
    task_definitions::TaskDefinitionRef,
    Caller, RegionState, State,
};

/// What one task of `td` (with `overrides`) needs from an instance.
pub(crate) fn demand(td: &TaskDefinition, overrides: &TaskOverride) -> Result<Demand, EcsError> {
    let container_override =
        |name: &str| overrides.container_overrides.iter().find(|o| o.name.as_deref() == Some(name));
    let cpu = match overrides.cpu.as_deref().or(td.cpu.as_deref()) {
        Some(c) => parse_task_cpu(c)? as i64,
        None => td
            .container_definitions
            .iter()
            .map(|c| container_override(c.name.as_deref().unwrap_or_default()).and_then(|o| o.cpu).unwrap_or(c.cpu))
            .sum(),
    };
    let memory = match overrides.memory.as_deref().or(td.memory.as_deref()) {
        Some(m) => parse_task_memory(m)? as i64,
        None => td
            .container_definitions
            .iter()
            .map(|c| {
                let o = container_override(c.name.as_deref().unwrap_or_default());
                let reservation = o.and_then(|o| o.memory_reservation).or(c.memory_reservation);
                let hard = o.and_then(|o| o.memory).or(c.memory);
                reservation.or(hard).unwrap_or(0)
            })
            .sum(),
    };
    let mode = td.network_mode();
    let mut host_ports = Vec::new();
    for c in &td.container_definitions {
        for pm in &c.port_mappings {
            let protocol = pm.protocol.clone().unwrap_or_else(|| "tcp".into());
            // awsvpc tasks listen in their own network namespace: they hold no host port.
            let port = match mode {
                "host" => pm.container_port.unwrap_or(0),
                "awsvpc" => 0,
                _ => pm.host_port.unwrap_or(0),
            };
            if port != 0 {
                host_ports.push((port, protocol));
            }
        }
    }
    let required_attributes = td.requires_attributes.iter().map(|a| a.name.clone()).collect();
    Ok(Demand { cpu, memory, host_ports, required_attributes })
}

fn check_request(req: &RunTaskRequest, td: &TaskDefinition, launch: &Launch) -> Result<(), EcsError> {
    let fargate = launch.is_fargate();
    let launch_type = berth_model::capacity_provider::LaunchType::of(fargate).as_str();
    if !td.compatibilities.iter().any(|c| c == launch_type) {
        return Err(EcsError::invalid(format!("Task definition does not support launch_type {launch_type}.")));
    }
    berth_model::network::validate_network_configuration(
        td.network_mode(),
        fargate,
        req.network_configuration.as_ref(),
    )?;
    check_platform(fargate, req.platform_version.as_deref())?;
    if fargate && (!req.placement_constraints.is_empty() || !req.placement_strategy.is_empty()) {
        return Err(EcsError::invalid(
            "Task placement constraints and strategies are not supported with the FARGATE launch type: Fargate places tasks itself.",
        ));
    }
    if let Some(g) = &req.group {
        if g.is_empty() || g.len() > 255 {
            return Err(EcsError::invalid("group must be 1 to 255 characters."));
        }
    }
    if req.started_by.as_deref().is_some_and(|s| s.len() > 128) {
        return Err(EcsError::invalid("startedBy can be at most 128 characters."));
    }
    tag::validate(&req.tags)?;
    if req.tags.len() > tag::MAX_TAGS {
        return Err(EcsError::invalid("A task can have at most 50 tags."));
    }
    if let Some(o) = &req.overrides {
        // ECS bounds the overrides' JSON at 8192 characters.
        let size = serde_json::to_vec(o).map_or(0, |v| v.len());
        if size > MAX_OVERRIDES_BYTES {
            return Err(EcsError::invalid(format!(
                "Task overrides are {size} characters long; at most {MAX_OVERRIDES_BYTES} are allowed."
            )));
        }
        for co in &o.container_overrides {
            let name = co.name.as_deref().unwrap_or_default();
            for (field, value, least) in
                [("cpu", co.cpu, 0), ("memory", co.memory, 6), ("memoryReservation", co.memory_reservation, 6)]
            {
                if value.is_some_and(|v| v < least) {
                    return Err(EcsError::invalid(format!(
                        "Container override '{name}': '{field}' must be at least {least}, not {}.",
                        value.unwrap_or_default()
                    )));
                }
            }
            if !td.container_definitions.iter().any(|c| c.name.as_deref() == Some(name)) {
                return Err(EcsError::invalid(format!(
                    "Container override names '{name}', which is not a container of {}.",
                    td.task_definition_arn
                )));
            }
        }
    }
    Ok(())
}

/// `platformVersion`: only for Fargate, and one Fargate has.
pub(crate) fn check_platform(fargate: bool, version: Option<&str>) -> Result<(), EcsError> {
    match version {
        Some(v) if !fargate => Err(EcsError::invalid(format!(
            "platformVersion {v} was given, but platform versions apply only to tasks on Fargate."
        ))),
        Some(v) if !berth_model::capacity_provider::FARGATE_PLATFORM_VERSIONS.contains(&v) => {
            Err(EcsError::invalid(format!(
                "The specified platform version {v} does not exist. Use LATEST or one of {}.",
                berth_model::capacity_provider::FARGATE_PLATFORM_VERSIONS[1..].join(", ")
            )))
        }
        _ => Ok(()),
    }
}

/// ECS's limit on the length of a RunTask's overrides.
const MAX_OVERRIDES_BYTES: usize = 8192;

/// The task definition's and the request's constraints, and the request's strategies
/// (RunTask's default: `random`), checked against ECS's limits.
pub(crate) fn placement_rules(
    td: &TaskDefinition,
    constraints: &[PlacementConstraint],
    strategies: &[PlacementStrategy],
    default: Vec<Strategy>,
) -> Result<(Vec<Constraint>, Vec<Strategy>), EcsError> {
    let bad = |m: String| EcsError::invalid(m);
    let mut parsed = Vec::new();
    for c in td.placement_constraints.iter().chain(constraints) {
        parsed.push(
            berth_scheduler::parse_constraint(c.kind.as_deref().unwrap_or_default(), c.expression.as_deref())
                .map_err(bad)?,
        );
    }
    if parsed.len() > MAX_CONSTRAINTS {
        return Err(bad(format!("At most {MAX_CONSTRAINTS} placement constraints are allowed (task definition and request together); there are {}.", parsed.len())));
    }
    if strategies.len() > MAX_STRATEGIES {
        return Err(bad(format!(
            "At most {MAX_STRATEGIES} placement strategies are allowed; there are {}.",
            strategies.len()
        )));
    }
    let mut chosen = Vec::new();
    for s in strategies {
        chosen.push(
            berth_scheduler::parse_strategy(s.kind.as_deref().unwrap_or_default(), s.field.as_deref()).map_err(bad)?,
        );
    }
    if chosen.is_empty() {
        chosen = default;
    }
    Ok((parsed, chosen))
}

/// How Fargate places a group's tasks: spread over zones, then over hosts (it takes no
/// constraints or strategies of the user's).
pub(crate) fn fargate_strategies() -> Vec<Strategy> {
    let zone = berth_scheduler::SpreadField::Attribute(AVAILABILITY_ZONE_ATTRIBUTE.into());
    vec![Strategy::Spread(zone), Strategy::Spread(berth_scheduler::SpreadField::Instance)]
}

/// What one task needs from a host of its launch: [`demand`], where Fargate does not
/// check a definition's required attributes (ECS's promises about instances).
pub(crate) fn launch_demand(td: &TaskDefinition, overrides: &TaskOverride, fargate: bool) -> Result<Demand, EcsError> {
    let mut d = demand(td, overrides)?;
    if fargate {
        d.required_attributes.clear();
    }
    Ok(d)
}

/// What RunTask and the dry-run plan both start from.
pub(crate) struct Prepared {
    pub cluster: String,
    pub td: Arc<TaskDefinition>,
    pub request: Request,
    pub launch: Launch,
}

pub(crate) fn prepare(
    state: &State,
    caller: &Caller,
    req: &RunTaskRequest,
    count: usize,
) -> Result<Prepared, EcsError> {
    let cluster = active_cluster(state, caller, req.cluster.as_deref())?;
    let launch = if req.container_instances.is_some() {
        Launch::Ec2
    } else {
        capacity::resolve(cluster, req.launch_type.as_deref(), &req.capacity_provider_strategy)?
    };
    let cluster = cluster.cluster_name.clone();
    let reference = berth_model::json::required(&req.task_definition, "taskDefinition")?;
    let td = runnable_definition(state.region(&caller.region), reference)?;
    check_request(req, &td, &launch)?;
    let overrides = req.overrides.clone().unwrap_or_default();
    let (constraints, strategies) = if launch.is_fargate() {
        (Vec::new(), fargate_strategies())
    } else {
        placement_rules(&td, &req.placement_constraints, &req.placement_strategy, vec![Strategy::Random])?
    };
    let request = Request {
        demand: launch_demand(&td, &overrides, launch.is_fargate())?,
        group: req.group.clone().unwrap_or_else(|| format!("family:{}", td.family)),
        count,
        constraints,
        strategies,
        seed: placement_seed(state.region(&caller.region), &cluster, &td.task_definition_arn),
    };
    Ok(Prepared { cluster, td, request, launch })
}

/// The `random` strategy's seed: drawn from the state the placement decides over (the
/// cluster, the task definition, how many tasks the region holds), not from a fresh random
/// number. Successive placements still differ, since every placement adds tasks, and a
/// dry run (`berth task plan`) over the same state predicts exactly what RunTask will do.
fn placement_seed(region: &RegionState, cluster: &str, task_definition: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (cluster, task_definition, region.tasks.len()).hash(&mut h);
    h.finish()
}

/// A dry run of RunTask: where each of `count` tasks would go, and for the first task,
/// every instance's rank or the filter that rejects it. Changes nothing.
#[derive(Debug, Clone)]
pub struct PlanOutcome {
    pub entries: Vec<berth_scheduler::PlanEntry>,
    /// For each task: the instance it would land on, or `None`.
    pub placements: Vec<Option<String>>,
    pub strategies: Vec<Strategy>,
}

/// The ACTIVE task definition a RunTask names.
pub(crate) fn runnable_definition(region: &RegionState, reference: &str) -> Result<Arc<TaskDefinition>, EcsError> {
    let r = TaskDefinitionRef::parse(reference)?;
    let td = r.resolve(region).ok_or_else(|| EcsError::client("Unable to describe task definition."))?;
    if td.status != TaskDefinitionStatus::Active {
        return Err(EcsError::client("TaskDefinition is inactive"));
    }
    Ok(td.clone())
}

#[cfg(test)]
mod tests {
    use crate::test_support::*;
    use berth_model::ecs::RunTaskRequest;

    #[tokio::test]
    async fn a_plan_predicts_where_run_task_puts_random_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let control = open(dir.path());
        let c = caller();
        cluster_with_instances(&control, &["a", "b", "c", "d", "e", "f"], 4096, 1).await;
        for round in 0..4 {
            // RunTask's default strategy is `random`.
            let req = RunTaskRequest {
                cluster: Some("c".into()),
                task_definition: Some("web".into()),
                count: Some(3),
                ..Default::default()
            };
            let planned = control.plan_task(&c, &req).unwrap().placements;
            let tasks = control.run_task(&c, req).await.unwrap().tasks;
            let placed: Vec<Option<String>> = tasks.iter().map(|t| t.container_instance_arn.clone()).collect();
            assert_eq!(planned, placed, "round {round}: the plan is what RunTask did");
        }
    }
}
