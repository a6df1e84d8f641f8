//! Services: CreateService, UpdateService, DeleteService, DescribeServices, ListServices.
//! What a service's tasks do about it is the service controller's job
//! ([`crate::service_controller`]); these operations only record intent.

use std::sync::Arc;

use berth_model::{
    ecs::{
        include_tags, CreateServiceRequest, DeleteServiceRequest, DescribeServicesRequest, DescribeServicesResponse,
        ListServicesRequest, ListServicesResponse, ServiceResponse, UpdateServiceRequest,
    },
    json,
    service::{Deployment, DeploymentConfiguration, Service, ServiceEvent, MAX_EVENTS, MAX_TASKS_PER_SERVICE},
    status::{DeploymentStatus, RolloutState, ServiceStatus},
    tag, time, Arn, EcsError, Failure,
};

use crate::{
    capacity::{check_service_launch, LaunchAsk},
    clusters::active_cluster,
    instances::random_id,
    placement::runnable_definition,
    state::Change,
    Caller, Control, Page, PageRequest, RegionState, ServiceRecord, State,
};

pub(crate) fn service_arn(region: &str, account: &str, cluster: &str, name: &str) -> String {
    Arn::ecs(region, account, "service", &format!("{cluster}/{name}")).to_string()
}

fn new_deployment_id() -> String {
    format!("ecs-svc/{:019}", rand::random::<u64>() % 10_000_000_000_000_000_000)
}

/// A new PRIMARY deployment of `task_definition`; `reason` replaces the usual
/// "in progress" rolloutStateReason (a rollback says what it rolls back to).
pub(crate) fn new_deployment(
    launch: &berth_model::service::LaunchSettings,
    task_definition: &str,
    desired: i64,
    reason: Option<&str>,
) -> Deployment {
    let now = time::now();
    let id = new_deployment_id();
    let reason = match reason {
        Some(r) => r.to_string(),
        None => format!("ECS deployment {id} in progress."),
    };
    Deployment {
        id,
        status: DeploymentStatus::Primary,
        task_definition: task_definition.into(),
        desired_count: desired,
        created_at: now,
        updated_at: now,
        rollout_state: Some(RolloutState::InProgress),
        rollout_state_reason: Some(reason),
        launch: launch.clone(),
        ..Default::default()
    }
}

/// Adds an event, newest first, keeping at most 100.
pub(crate) fn push_event(service: &mut Service, message: String) {
    service.events.insert(0, ServiceEvent { id: random_id(), created_at: time::now(), message });
    service.events.truncate(MAX_EVENTS);
}

/// A desired count within 0 and ECS's per-service task quota: a count no cluster could
/// hold would only make the controller work for nothing.
/// Sets a service's desired count and its primary deployment's (UpdateService and
/// Application Auto Scaling both change it this way).
pub(crate) fn set_desired_count(service: &mut Service, desired: i64) {
    service.desired_count = desired;
    if let Some(primary) = service.deployments.first_mut() {
        primary.desired_count = desired;
    }
}

fn check_desired_count(desired: i64) -> Result<(), EcsError> {
    if !(0..=MAX_TASKS_PER_SERVICE).contains(&desired) {
        return Err(EcsError::invalid(format!(
            "desiredCount must be between 0 and {MAX_TASKS_PER_SERVICE} (the quota of tasks per service), not {desired}."
        )));
    }
    Ok(())
}

/// ECS takes a grace period of 0 to 2,147,483,647 seconds.
fn check_grace_period(seconds: Option<i64>) -> Result<(), EcsError> {
    match seconds {
        Some(s) if !(0..=i32::MAX as i64).contains(&s) => {
            Err(EcsError::invalid(format!("healthCheckGracePeriodSeconds must be between 0 and 2147483647, not {s}.")))
        }
        _ => Ok(()),
    }
}

fn check_configuration(c: &DeploymentConfiguration, daemon: bool) -> Result<(), EcsError> {
    if let Some(max) = c.maximum_percent {
        if !(100..=2000).contains(&max) || (daemon && max != 100) {
            return Err(EcsError::invalid(if daemon {
                "The daemon scheduling strategy requires maximumPercent 100.".to_string()
            } else {
                format!("maximumPercent must be between 100 and 2000, not {max}.")
            }));
        }
    }
    if let Some(min) = c.minimum_healthy_percent {
        if !(0..=100).contains(&min) {
            return Err(EcsError::invalid(format!("minimumHealthyPercent must be between 0 and 100, not {min}.")));
        }
    }
    Ok(())
}

/// The service a request names (ARN or name) in `cluster`.
pub(crate) fn find_service<'s>(
    region: &'s RegionState,
    cluster: &str,
    reference: &str,
) -> Option<&'s Arc<ServiceRecord>> {
    let name = if reference.starts_with("arn:") {
        // Only an ECS service ARN of this region and cluster names one (never another
        // service's resource that happens to end in the same name).
        let arn = Arn::parse(reference).filter(|a| a.service == "ecs" && a.resource_type == "service")?;
        match arn.resource.split_once('/') {
            Some((of, name)) if of == cluster => name.to_string(),
            Some(_) => return None,
            None => arn.resource,
        }
    } else {
        reference.to_string()
    };
    region.services.values().filter(|s| s.cluster == cluster && s.service.service_name == name).max_by(|a, b| {
        (a.service.status != ServiceStatus::Inactive).cmp(&(b.service.status != ServiceStatus::Inactive))
    })
}

/// What berth can honour of `deploymentController` and `role`; the rest is refused in
/// words, never dropped.
fn check_controller_and_role(req: &CreateServiceRequest) -> Result<(), EcsError> {
    use berth_model::service::DeploymentControllerType::*;
    match req.deployment_controller.map(|c| c.kind).unwrap_or_default() {
        Ecs => {}
        CodeDeploy => {
            return Err(EcsError::invalid(
                "The CODE_DEPLOY deployment controller hands deployments to AWS CodeDeploy, which berth does not have: use the ECS controller (rolling updates with the circuit breaker).",
            ))
        }
        External => {
            return Err(EcsError::invalid(
                "The EXTERNAL deployment controller (task sets) is not supported by berth yet: use the ECS controller.",
            ))
        }
    }
    let awsvpc = req.network_configuration.as_ref().is_some_and(|n| n.awsvpc_configuration.is_some());
    if awsvpc && req.role.as_deref().is_some_and(|r| !r.is_empty()) {
        return Err(EcsError::invalid(
            "You cannot specify an IAM role for services that require a service linked role.",
        ));
    }
    Ok(())
}

/// The service an UpdateService or DeleteService names; an ARN must be an ECS service ARN
/// of the caller's region, account and the request's cluster, as ECS checks it.
pub(crate) fn named_service<'s>(
    caller: &Caller,
    region: &'s RegionState,
    cluster: &str,
    reference: &str,
) -> Result<&'s Arc<ServiceRecord>, EcsError> {
    if reference.starts_with("arn:") {
        let arn = berth_model::arn::checked(reference, "service", &caller.region, &caller.account)?;
        if let Some((of, _)) = arn.resource.split_once('/').filter(|(of, _)| *of != cluster) {
            return Err(EcsError::invalid(format!("Identifier is for cluster {of}. Your cluster is {cluster}")));
        }
    }
    find_service(region, cluster, reference).ok_or(EcsError::ServiceNotFound)
}

fn service_view(state: &State, caller: &Caller, s: &Service, include: bool) -> Service {
    let mut out = s.clone();
    out.tags = if include { state.tags_of(&caller.region, &s.service_arn) } else { Vec::new() };
    out
}

impl Control {
    pub async fn create_service(
        &self,
        caller: &Caller,
        req: CreateServiceRequest,
    ) -> Result<ServiceResponse, EcsError> {
        let name = json::required(&req.service_name, "serviceName")?.clone();
        if name.is_empty()
            || name.len() > 255
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(EcsError::invalid(format!(
                "Invalid service name '{name}': up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens are allowed."
            )));
        }
        let strategy = req.scheduling_strategy.clone().unwrap_or_else(|| "REPLICA".into());
        let daemon = match strategy.as_str() {
            "REPLICA" => false,
            "DAEMON" => true,
            other => {
                return Err(EcsError::invalid(format!("Invalid schedulingStrategy '{other}': use REPLICA or DAEMON.")))
            }
        };
        if daemon && req.desired_count.is_some() {
            return Err(EcsError::invalid(
                "The daemon scheduling strategy does not support a desired count for services. Remove the desired count value and try again",
            ));
        }
        let desired = req.desired_count.unwrap_or(0);
        check_desired_count(desired)?;
        check_grace_period(req.health_check_grace_period_seconds)?;
        check_controller_and_role(&req)?;
        let mut config = req.deployment_configuration.clone().unwrap_or_default();
        check_configuration(&config, daemon)?;
        config.maximum_percent.get_or_insert(if daemon { 100 } else { 200 });
        config.minimum_healthy_percent.get_or_insert(if daemon { 0 } else { 100 });
        tag::validate(&req.tags)?;
        let td_ref = req.task_definition.clone().ok_or_else(|| {
            EcsError::invalid("taskDefinition is required for services with the ECS deployment controller.")
        })?;
        let caller = caller.clone();
        self.write(move |state, changes| {
            let cluster_rec = active_cluster(state, &caller, req.cluster.as_deref())?;
            let cluster = cluster_rec.cluster_name.clone();
            let region = state.region(&caller.region);
            if find_service(region, &cluster, &name).is_some_and(|s| s.service.status != ServiceStatus::Inactive) {
                return Err(EcsError::invalid("Creation of service was not idempotent."));
            }
            let td = runnable_definition(region, &td_ref)?;
            let launch = check_service_launch(
                cluster_rec,
                &td,
                LaunchAsk {
                    launch_type: req.launch_type.as_deref(),
                    strategy: &req.capacity_provider_strategy,
                    network: req.network_configuration.as_ref(),
                    platform_version: req.platform_version.as_deref(),
                    placement_given: !req.placement_constraints.is_empty() || !req.placement_strategy.is_empty(),
                    daemon,
                },
            )?;
            // Validate placement now rather than on every reconcile.
            crate::placement::placement_rules(&td, &req.placement_constraints, &req.placement_strategy, Vec::new())?;
            crate::elb::ecs::check_service_load_balancers(region, &td, &req.load_balancers)?;
            crate::discovery::ecs::check_service_registries(region, &td, &req.service_registries)?;
            let arn = service_arn(&caller.region, &caller.account, &cluster, &name);
            let mut service = Service {
                service_arn: arn.clone(),
                service_name: name.clone(),
                cluster_arn: Arn::ecs(&caller.region, &caller.account, "cluster", &cluster).to_string(),
                status: ServiceStatus::Active,
                desired_count: desired,
                task_definition: td.task_definition_arn.clone(),
                deployment_configuration: config,
                deployments: vec![new_deployment(&launch, &td.task_definition_arn, desired, None)],
                created_at: time::now(),
                placement_constraints: req.placement_constraints,
                placement_strategy: req.placement_strategy,
                health_check_grace_period_seconds: req.health_check_grace_period_seconds,
                load_balancers: req.load_balancers,
                service_registries: req.service_registries,
                scheduling_strategy: strategy,
                deployment_controller: req.deployment_controller.unwrap_or_default(),
                role_arn: req.role.clone().filter(|r| !r.is_empty()),
                enable_execute_command: req.enable_execute_command.unwrap_or(false),
                created_by: Some(caller.principal_arn()),
                enable_ecs_managed_tags: req.enable_ecs_managed_tags,
                propagate_tags: req.propagate_tags.unwrap_or_else(|| "NONE".into()),
                ..Default::default()
            };
            service.launch = launch;
            if !req.tags.is_empty() {
                changes.push(Change::Tags {
                    region: caller.region.clone(),
                    arn: arn.clone(),
                    tags: Arc::new(req.tags.clone()),
                });
            }
            service.tags = req.tags;
            let record = ServiceRecord {
                service: Service { tags: Vec::new(), ..service.clone() },
                cluster,
                last_completed: None,
            };
            changes.push(Change::Service { region: caller.region.clone(), record: Arc::new(record) });
            Ok(ServiceResponse { service })
        })
        .await
    }

    pub async fn update_service(
        &self,
        caller: &Caller,
        req: UpdateServiceRequest,
    ) -> Result<ServiceResponse, EcsError> {
        let reference = json::required(&req.service, "service")?.clone();
        if let Some(d) = req.desired_count {
            check_desired_count(d)?;
        }
        check_grace_period(req.health_check_grace_period_seconds)?;
        if let Some(c) = &req.deployment_configuration {
            check_configuration(c, false)?;
        }
        let caller = caller.clone();
        self.write(move |state, changes| {
            let cluster_rec = active_cluster(state, &caller, req.cluster.as_deref())?;
            let cluster = cluster_rec.cluster_name.clone();
            let region = state.region(&caller.region);
            let rec = named_service(&caller, region, &cluster, &reference)?;
            if rec.service.status != ServiceStatus::Active {
                return Err(EcsError::ServiceNotActive);
            }
            if rec.service.scheduling_strategy == "DAEMON" && req.desired_count.is_some() {
                return Err(EcsError::invalid(
                    "The daemon scheduling strategy does not support a desired count for services. Remove the desired count value and try again",
                ));
            }
            let mut next = (**rec).clone();
            let s = &mut next.service;
            if let Some(d) = req.desired_count {
                set_desired_count(s, d);
            }
            if let Some(c) = &req.deployment_configuration {
                let cfg = &mut s.deployment_configuration;
                if c.maximum_percent.is_some() {
                    cfg.maximum_percent = c.maximum_percent;
                }
                if c.minimum_healthy_percent.is_some() {
                    cfg.minimum_healthy_percent = c.minimum_healthy_percent;
                }
                if c.deployment_circuit_breaker.is_some() {
                    cfg.deployment_circuit_breaker = c.deployment_circuit_breaker;
                }
            }
            if let Some(pc) = req.placement_constraints.clone() {
                s.placement_constraints = pc;
            }
            if let Some(ps) = req.placement_strategy.clone() {
                s.placement_strategy = ps;
            }
            if req.health_check_grace_period_seconds.is_some() {
                s.health_check_grace_period_seconds = req.health_check_grace_period_seconds;
            }
            let new_td = match &req.task_definition {
                Some(r) => Some(runnable_definition(region, r)?.task_definition_arn.clone()),
                None => None,
            };
            let td_changed = new_td.as_ref().is_some_and(|t| *t != s.task_definition);
            let lbs_changed = req.load_balancers.as_ref().is_some_and(|l| *l != s.load_balancers)
                || req.service_registries.as_ref().is_some_and(|r| *r != s.service_registries);
            if let Some(registries) = &req.service_registries {
                let td = runnable_definition(region, new_td.as_deref().unwrap_or(&s.task_definition))?;
                crate::discovery::ecs::check_service_registries(region, &td, registries)?;
                s.service_registries = registries.clone();
            }
            if let Some(lbs) = &req.load_balancers {
                let td = runnable_definition(region, new_td.as_deref().unwrap_or(&s.task_definition))?;
                crate::elb::ecs::check_service_load_balancers(region, &td, lbs)?;
                s.load_balancers = lbs.clone();
            }
            let launch_asked = req.capacity_provider_strategy.is_some()
                || req.network_configuration.is_some()
                || req.platform_version.is_some();
            let mut launch = s.launch.clone();
            if launch_asked || td_changed {
                let td = runnable_definition(region, new_td.as_deref().unwrap_or(&s.task_definition))?;
                let (lt, strategy) = match &req.capacity_provider_strategy {
                    Some(strategy) => (None, strategy.clone()),
                    None if s.launch.capacity_provider_strategy.is_empty() => (Some(s.launch.launch_type.as_str()), Vec::new()),
                    None => (None, s.launch.capacity_provider_strategy.clone()),
                };
                let network = req.network_configuration.as_ref().or(s.launch.network_configuration.as_ref());
                let platform = req.platform_version.as_deref().or(s.launch.platform_version.as_deref());
                let placement_given = !s.placement_constraints.is_empty() || !s.placement_strategy.is_empty();
                let daemon = s.scheduling_strategy == "DAEMON";
                let ask = LaunchAsk { launch_type: lt, strategy: &strategy, network, platform_version: platform, placement_given, daemon };
                launch = check_service_launch(cluster_rec, &td, ask)?;
            }
            let launch_changed = launch != s.launch;
            s.launch = launch.clone();
            // New load balancers or launch settings, like a new task definition, take a new
            // deployment.
            if td_changed || lbs_changed || launch_changed || req.force_new_deployment {
                let td = new_td.unwrap_or_else(|| s.task_definition.clone());
                let td_def = runnable_definition(region, &td)?;
                crate::placement::placement_rules(
                    &td_def,
                    &s.placement_constraints,
                    &s.placement_strategy,
                    Vec::new(),
                )?;
                for d in &mut s.deployments {
                    d.status = DeploymentStatus::Active;
                }
                s.task_definition = td.clone();
                s.deployments.insert(0, new_deployment(&launch, &td, s.desired_count, None));
            }
            if let Some(primary) = s.deployments.first_mut() {
                primary.desired_count = s.desired_count;
            }
            let out = service_view(state, &caller, &next.service, false);
            changes.push(Change::Service { region: caller.region.clone(), record: Arc::new(next) });
            Ok(ServiceResponse { service: out })
        })
        .await
    }

    /// DeleteService: refused while the service wants tasks, unless forced; the service
    /// then drains (DRAINING) and goes INACTIVE once its tasks are gone.
    pub async fn delete_service(
        &self,
        caller: &Caller,
        req: DeleteServiceRequest,
    ) -> Result<ServiceResponse, EcsError> {
        let reference = json::required(&req.service, "service")?.clone();
        let (cluster, force) = (req.cluster, req.force.unwrap_or(false));
        let caller = caller.clone();
        self.write(move |state, changes| {
            let cluster = active_cluster(state, &caller, cluster.as_deref())?.cluster_name.clone();
            let region = state.region(&caller.region);
            let rec = Some(named_service(&caller, region, &cluster, &reference)?)
                .filter(|s| s.service.status == ServiceStatus::Active)
                .ok_or(EcsError::ServiceNotFound)?;
            if rec.service.desired_count > 0 && !force {
                return Err(EcsError::invalid("The service cannot be stopped while it is scaled above 0."));
            }
            let mut next = (**rec).clone();
            next.service.status = ServiceStatus::Draining;
            next.service.desired_count = 0;
            for d in &mut next.service.deployments {
                d.desired_count = 0;
            }
            let out = service_view(state, &caller, &next.service, false);
            changes.push(Change::Service { region: caller.region.clone(), record: Arc::new(next) });
            Ok(ServiceResponse { service: out })
        })
        .await
    }

    /// DescribeServices: at most 10; unknown ones are MISSING failures.
    pub fn describe_services(
        &self,
        caller: &Caller,
        req: &DescribeServicesRequest,
    ) -> Result<DescribeServicesResponse, EcsError> {
        let with_tags = include_tags(&req.include)?;
        let references = json::required(&req.services, "services")?;
        let cluster = req.cluster.as_deref();
        if references.is_empty() || references.len() > 10 {
            return Err(EcsError::invalid("services must list 1 to 10 services."));
        }
        self.read(|state| {
            let cluster = active_cluster(state, caller, cluster)?.cluster_name.clone();
            let region = state.region(&caller.region);
            let (mut found, mut failures) = (Vec::new(), Vec::new());
            for r in references {
                match find_service(region, &cluster, r) {
                    Some(s) => found.push(service_view(state, caller, &s.service, with_tags)),
                    None => failures.push(Failure::new(
                        if r.starts_with("arn:") {
                            r.clone()
                        } else {
                            // ECS names an unknown service without its cluster.
                            Arn::ecs(&caller.region, &caller.account, "service", r).to_string()
                        },
                        "MISSING",
                    )),
                }
            }
            Ok(DescribeServicesResponse { services: found, failures })
        })
    }

    /// ListServices: ACTIVE services (DRAINING and INACTIVE ones are not listed).
    pub fn list_services(&self, caller: &Caller, req: &ListServicesRequest) -> Result<ListServicesResponse, EcsError> {
        let (cluster, launch_type, strategy) =
            (req.cluster.as_deref(), req.launch_type.as_deref(), req.scheduling_strategy.as_deref());
        let page = PageRequest::of(&req.next_token, req.max_results);
        self.read(|state| {
            let cluster = active_cluster(state, caller, cluster)?.cluster_name.clone();
            let items = state.region(&caller.region).services.values().filter(|s| {
                s.cluster == cluster
                    && s.service.status == ServiceStatus::Active
                    && launch_type.is_none_or(|l| s.service.launch.launch_type == l)
                    && strategy.is_none_or(|st| s.service.scheduling_strategy == st)
            });
            page.page(100, true, items.map(|s| (s.service.service_arn.clone(), s.service.service_arn.clone())))
        })
        .map(|Page { items, next_token }| ListServicesResponse { service_arns: items, next_token })
    }
}
