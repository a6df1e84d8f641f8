//! Container instances: registration by agents, deregistration, describe/list, state.

use std::sync::Arc;

use berth_model::{
    container_instance::{self, Attribute, ContainerInstance, Resource},
    ecs::{
        ContainerInstanceResponse, ContainerInstancesResponse, DeregisterContainerInstanceRequest,
        DescribeContainerInstancesRequest, ListContainerInstancesRequest, ListContainerInstancesResponse,
        RegisterContainerInstanceRequest, UpdateContainerInstancesStateRequest,
    },
    json,
    network::{SubnetPool, TaskSubnet},
    status::InstanceStatus,
    time, Arn, EcsError, Failure,
};
use berth_scheduler::Instance;

use crate::{
    clusters::active_cluster,
    state::{Change, Usage},
    Caller, Control, InstanceRecord, Page, PageRequest, RegionState, State,
};

/// A registered instance and the token its agent authenticates with from now on.
#[derive(Debug, Clone)]
pub struct RegisteredInstance {
    pub instance: ContainerInstance,
    pub token: String,
}

/// What the tasks on an instance hold (from the index kept with the state).
pub(crate) fn usage<'r>(region: &'r RegionState, arn: &str) -> std::borrow::Cow<'r, Usage> {
    match region.usage.get(arn) {
        Some(u) => std::borrow::Cow::Borrowed(u),
        None => std::borrow::Cow::Owned(Usage::default()),
    }
}

pub(crate) fn registered(instance: &ContainerInstance, name: &str) -> Option<Resource> {
    instance.registered_resources.iter().find(|r| r.name == name).cloned()
}

/// The instance as DescribeContainerInstances shows it: remaining resources and task
/// counts derived from the tasks placed on it.
pub(crate) fn instance_view(region: &RegionState, rec: &InstanceRecord, with_tags: bool) -> ContainerInstance {
    let mut ci = rec.instance.clone();
    let u = usage(region, &ci.container_instance_arn);
    let int = |name: &str| registered(&ci, name).map_or(0, |r| r.integer_value);
    let mut tcp: Vec<String> = registered(&ci, "PORTS").and_then(|r| r.string_set_value).unwrap_or_default();
    let mut udp: Vec<String> = registered(&ci, "PORTS_UDP").and_then(|r| r.string_set_value).unwrap_or_default();
    for (port, protocol) in u.ports.keys() {
        let list = if protocol == "udp" { &mut udp } else { &mut tcp };
        list.push(port.to_string());
    }
    ci.remaining_resources = vec![
        Resource::integer("CPU", int("CPU") - u.cpu),
        Resource::integer("MEMORY", int("MEMORY") - u.memory),
        Resource::string_set("PORTS", tcp),
        Resource::string_set("PORTS_UDP", udp),
    ];
    ci.running_tasks_count = u.running;
    ci.pending_tasks_count = u.pending;
    if !with_tags {
        ci.tags.clear();
    }
    ci
}

/// The scheduler's view of an instance: free resources, attributes, and the facts the
/// cluster query language can ask about.
pub(crate) fn candidate(region: &RegionState, rec: &InstanceRecord) -> Instance {
    let ci = &rec.instance;
    let u = usage(region, &ci.container_instance_arn);
    let int = |name: &str| registered(ci, name).map_or(0, |r| r.integer_value);
    let mut ports: std::collections::HashSet<(u32, String)> = u.ports.keys().cloned().collect();
    for (name, protocol) in [("PORTS", "tcp"), ("PORTS_UDP", "udp")] {
        for p in registered(ci, name).and_then(|r| r.string_set_value).unwrap_or_default() {
            if let Ok(p) = p.parse() {
                ports.insert((p, protocol.to_string()));
            }
        }
    }
    Instance {
        arn: ci.container_instance_arn.clone(),
        ec2_instance_id: ci.ec2_instance_id.clone().unwrap_or_default(),
        active: ci.status == InstanceStatus::Active,
        agent_connected: ci.agent_connected,
        agent_version: ci.version_info.as_ref().and_then(|v| v.agent_version.clone()).unwrap_or_default(),
        registered_at: ci.registered_at,
        cpu_free: int("CPU") - u.cpu,
        memory_free: int("MEMORY") - u.memory,
        ports_used: ports,
        attributes: region.attribute_maps.get(&ci.container_instance_arn).cloned().unwrap_or_default(),
        running_tasks_count: u.running,
        task_groups: u.groups.clone(),
        placed_groups: Default::default(),
    }
}

/// MiB of memory the instance has left for new tasks.
pub(crate) fn free_memory(region: &RegionState, rec: &InstanceRecord) -> i64 {
    registered(&rec.instance, "MEMORY").map_or(0, |r| r.integer_value)
        - usage(region, &rec.instance.container_instance_arn).memory
}

/// Whether new tasks of `cluster` may go to the instance: it is in the cluster, ACTIVE, and
/// its agent is connected.
pub(crate) fn schedulable(rec: &InstanceRecord, cluster: &str) -> bool {
    rec.cluster == cluster && rec.instance.status == InstanceStatus::Active && rec.instance.agent_connected
}

/// Finds an instance of `cluster` by ARN or id.
pub(crate) fn find_instance<'s>(
    region: &'s RegionState,
    cluster: &str,
    reference: &str,
) -> Option<&'s Arc<InstanceRecord>> {
    let id = reference.rsplit('/').next().unwrap_or(reference);
    region
        .instances
        .values()
        .find(|r| r.cluster == cluster && r.instance.container_instance_arn.rsplit('/').next() == Some(id))
}

/// A task subnet no registered host of any region holds; `None` when the pool is used up.
fn free_subnet(state: &State, pool: &SubnetPool) -> Option<String> {
    let taken: std::collections::HashSet<TaskSubnet> = state
        .regions()
        .flat_map(|(_, r)| r.instances.values())
        .filter(|r| r.instance.status != InstanceStatus::Inactive)
        .filter_map(|r| r.task_subnet.as_deref()?.parse().ok())
        .collect();
    let free = pool.first_free(&taken).map(|s| s.cidr());
    if free.is_none() {
        tracing::warn!(
            hosts = pool.subnets(),
            "every task subnet of the --task-cidr pool is taken: this host runs no awsvpc task"
        );
    }
    free
}

/// 32 random hex digits, as ECS ids look.
pub(crate) fn random_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

pub(crate) fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn check_custom_attributes(attributes: &[Attribute]) -> Result<(), EcsError> {
    for a in attributes {
        container_instance::validate_attribute(a)?;
    }
    let custom = attributes.iter().filter(|a| berth_model::container_instance::is_custom_attribute(&a.name)).count();
    if custom > container_instance::MAX_CUSTOM_ATTRIBUTES {
        return Err(EcsError::AttributeLimitExceeded(format!(
            "A container instance can have at most {} custom attributes; this one would have {custom}.",
            container_instance::MAX_CUSTOM_ATTRIBUTES
        )));
    }
    Ok(())
}

impl Control {
    /// RegisterContainerInstance: a new instance, or the re-registration of a known one
    /// (`containerInstanceArn`), which keeps its tasks and gets a fresh token.
    pub async fn register_container_instance(
        &self,
        caller: &Caller,
        req: RegisterContainerInstanceRequest,
    ) -> Result<RegisteredInstance, EcsError> {
        let cpu = req.total_resources.iter().find(|r| r.name == "CPU").map(|r| r.integer_value);
        let memory = req.total_resources.iter().find(|r| r.name == "MEMORY").map(|r| r.integer_value);
        if !matches!((cpu, memory), (Some(c), Some(m)) if c >= 0 && m >= 0) {
            return Err(EcsError::invalid("totalResources must include CPU and MEMORY with integerValue."));
        }
        check_custom_attributes(&req.attributes)?;
        berth_model::tag::validate(&req.tags)?;
        let token = format!("{}{}", random_id(), random_id());
        let token_sha256 = sha256_hex(&token);
        let caller = caller.clone();
        let pool = self.task_pool();
        let fargate = req.attributes.iter().any(|a| {
            a.name == container_instance::CAPACITY_ATTRIBUTE
                && a.value.as_deref() == Some(berth_model::capacity_provider::FARGATE)
        });
        let instance = self
            .write(move |state, changes| {
                let cluster = if fargate {
                    crate::FARGATE_POOL.to_string()
                } else {
                    active_cluster(state, &caller, req.cluster.as_deref())?.cluster_name.clone()
                };
                let region = state.region(&caller.region);
                // A deregistered instance is never revived: its agent registers as a new one.
                let existing = req
                    .container_instance_arn
                    .as_deref()
                    .and_then(|a| find_instance(region, &cluster, a))
                    .filter(|r| r.instance.status != InstanceStatus::Inactive);
                let (arn, registered_at, version) = match existing {
                    Some(r) => {
                        (r.instance.container_instance_arn.clone(), r.instance.registered_at, r.instance.version + 1)
                    }
                    None => {
                        let id = random_id();
                        let arn =
                            Arn::ecs(&caller.region, &caller.account, "container-instance", &format!("{cluster}/{id}"));
                        (arn.to_string(), time::now(), 1)
                    }
                };
                let id = arn.rsplit('/').next().unwrap_or_default().to_string();
                let instance = ContainerInstance {
                    container_instance_arn: arn,
                    ec2_instance_id: Some(format!("i-{}", &id[..17])),
                    version,
                    version_info: req.version_info,
                    remaining_resources: Vec::new(),
                    registered_resources: req.total_resources,
                    status: InstanceStatus::Active,
                    status_reason: None,
                    agent_connected: true,
                    running_tasks_count: 0,
                    pending_tasks_count: 0,
                    attributes: req.attributes,
                    registered_at,
                    attachments: Vec::new(),
                    tags: req.tags,
                };
                // A host past the pool's size still registers: it runs no awsvpc task.
                let task_subnet = existing.and_then(|r| r.task_subnet.clone()).or_else(|| free_subnet(state, &pool));
                let record = Arc::new(InstanceRecord { instance, cluster, token_sha256, task_subnet });
                changes.push(Change::Instance { region: caller.region.clone(), record: record.clone() });
                changes.push(Change::DesiredVersion {
                    region: caller.region.clone(),
                    arn: record.instance.container_instance_arn.clone(),
                });
                Ok(instance_view(region, &record, true))
            })
            .await?;
        self.heartbeat_seen(&instance.container_instance_arn);
        Ok(RegisteredInstance { instance, token })
    }

    /// DeregisterContainerInstance. Refused while tasks still run there, unless `force`.
    pub async fn deregister_container_instance(
        &self,
        caller: &Caller,
        req: DeregisterContainerInstanceRequest,
    ) -> Result<ContainerInstanceResponse, EcsError> {
        let reference = json::required(&req.container_instance, "containerInstance")?.clone();
        let (cluster, force) = (req.cluster, req.force.unwrap_or(false));
        let caller = caller.clone();
        self.write(move |state, changes| {
            let cluster = active_cluster(state, &caller, cluster.as_deref())?.cluster_name.clone();
            let region = state.region(&caller.region);
            let rec = find_instance(region, &cluster, &reference)
                .filter(|r| r.instance.status != InstanceStatus::Inactive)
                .ok_or_else(|| EcsError::invalid(format!("Container instance '{reference}' is not registered in cluster '{cluster}'.")))?;
            let active = usage(region, &rec.instance.container_instance_arn).active_tasks();
            if active > 0 && !force {
                return Err(EcsError::invalid(format!(
                    "The container instance has {active} task(s) that are not stopped. Stop them first, or deregister with force."
                )));
            }
            let mut next = (**rec).clone();
            next.instance.status = InstanceStatus::Inactive;
            next.instance.agent_connected = false;
            next.instance.version += 1;
            // The token stays valid so the agent's next poll learns it was deregistered.
            changes.push(Change::DesiredVersion { region: caller.region.clone(), arn: next.instance.container_instance_arn.clone() });
            let view = instance_view(region, &next, true);
            changes.push(Change::Instance { region: caller.region.clone(), record: Arc::new(next) });
            Ok(ContainerInstanceResponse { container_instance: view })
        })
        .await
    }

    /// DescribeContainerInstances: by ARN or id; unknown ones are MISSING failures.
    pub fn describe_container_instances(
        &self,
        caller: &Caller,
        req: &DescribeContainerInstancesRequest,
    ) -> Result<ContainerInstancesResponse, EcsError> {
        if let Some(bad) = req.include.iter().find(|i| *i != "TAGS" && *i != "CONTAINER_INSTANCE_HEALTH") {
            return Err(EcsError::invalid(format!(
                "Invalid include value '{bad}': use TAGS or CONTAINER_INSTANCE_HEALTH."
            )));
        }
        let references = json::required(&req.container_instances, "containerInstances")?;
        let with_tags = req.include.iter().any(|i| i == "TAGS");
        let cluster = req.cluster.as_deref();
        self.read(|state| {
            // ECS resolves the cluster before it looks at the list.
            let cluster = active_cluster(state, caller, cluster)?.cluster_name.clone();
            if references.is_empty() {
                return Err(EcsError::invalid("Container Instances cannot be empty."));
            }
            if references.len() > 100 {
                return Err(EcsError::invalid("Container Instances cannot have more than 100 elements."));
            }
            let region = state.region(&caller.region);
            let mut found = Vec::new();
            let mut failures = Vec::new();
            for reference in references {
                match find_instance(region, &cluster, reference) {
                    Some(rec) => found.push(instance_view(region, rec, with_tags)),
                    None => failures.push(Failure::new(reference.clone(), "MISSING")),
                }
            }
            Ok(ContainerInstancesResponse { container_instances: found, failures })
        })
    }

    /// ListContainerInstances: ACTIVE and DRAINING instances, or those of `status`.
    pub fn list_container_instances(
        &self,
        caller: &Caller,
        req: &ListContainerInstancesRequest,
    ) -> Result<ListContainerInstancesResponse, EcsError> {
        let (cluster, filter) = (req.cluster.as_deref(), req.filter.as_deref());
        let page = PageRequest::of(&req.next_token, req.max_results);
        let status = match req.status.as_deref() {
            Some(s) => match InstanceStatus::parse(s).filter(|s| *s != InstanceStatus::Inactive) {
                Some(s) => Some(s),
                None => {
                    return Err(EcsError::invalid(format!(
                        "Invalid status '{s}': use ACTIVE, DRAINING, REGISTERING, DEREGISTERING or REGISTRATION_FAILED."
                    )))
                }
            },
            None => None,
        };
        let filter = match filter.map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => Some(
                berth_scheduler::query::parse(f)
                    .map_err(|e| EcsError::invalid(format!("Invalid filter expression '{f}' {e}.")))?,
            ),
            None => None,
        };
        self.read(|state| {
            let cluster = active_cluster(state, caller, cluster)?.cluster_name.clone();
            let region = state.region(&caller.region);
            let items = region.instances.values().filter(|r| {
                r.cluster == cluster
                    && match status {
                        Some(s) => r.instance.status == s,
                        None => {
                            r.instance.status == InstanceStatus::Active || r.instance.status == InstanceStatus::Draining
                        }
                    }
                    && filter.as_ref().is_none_or(|f| f.matches(&candidate(region, r)))
            });
            page.page(
                100,
                true,
                items.map(|r| (r.instance.container_instance_arn.clone(), r.instance.container_instance_arn.clone())),
            )
        })
        .map(|Page { items, next_token }| ListContainerInstancesResponse { container_instance_arns: items, next_token })
    }

    /// UpdateContainerInstancesState: ACTIVE or DRAINING, at most 10 instances.
    pub async fn update_container_instances_state(
        &self,
        caller: &Caller,
        req: UpdateContainerInstancesStateRequest,
    ) -> Result<ContainerInstancesResponse, EcsError> {
        let references = json::required(&req.container_instances, "containerInstances")?.clone();
        let status = json::required(&req.status, "status")?.clone();
        let cluster = req.cluster;
        let status = match InstanceStatus::parse(&status) {
            Some(s @ (InstanceStatus::Active | InstanceStatus::Draining)) => s,
            _ => {
                return Err(EcsError::invalid(format!(
                    "Invalid status '{status}': container instances can be set ACTIVE or DRAINING."
                )))
            }
        };
        if references.is_empty() || references.len() > 10 {
            return Err(EcsError::invalid("containerInstances must list 1 to 10 instances."));
        }
        let caller = caller.clone();
        self.write(move |state, changes| {
            let cluster = active_cluster(state, &caller, cluster.as_deref())?.cluster_name.clone();
            let region = state.region(&caller.region);
            let (mut updated, mut failures) = (Vec::new(), Vec::new());
            for reference in &references {
                let Some(rec) = find_instance(region, &cluster, reference)
                    .filter(|r| r.instance.status != InstanceStatus::Inactive)
                else {
                    failures.push(Failure::new(reference.clone(), "MISSING"));
                    continue;
                };
                let mut next = (**rec).clone();
                if next.instance.status != status {
                    next.instance.status = status;
                    next.instance.version += 1;
                    changes.push(Change::Instance { region: caller.region.clone(), record: Arc::new(next.clone()) });
                }
                updated.push(instance_view(region, &next, false));
            }
            Ok(ContainerInstancesResponse { container_instances: updated, failures })
        })
        .await
    }
}
