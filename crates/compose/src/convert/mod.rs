//! From a loaded Compose project to ECS: task definitions (RegisterTaskDefinition
//! inputs), the services to create, the images to build, and a note for every key that
//! has no ECS translation. Pure: no files but `env_file`s are read, nothing is sent.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context};
use berth_model::{ecs::CreateServiceRequest, task_definition::Registration};
use serde_json::{json, Map, Value as Json};
use serde_yaml::Value;

use crate::load::{depends_on_map, join, scalar_string, Project};

mod container;
mod context;
mod keys;
mod published;
mod values;

pub use berth_model::suggest::closest;
pub use context::{locate, Build, Note, NoteKind, Options};
use context::{x_ecs, ContainerOut, Ctx, X_ECS_SERVICE, X_ECS_TASK};
pub use published::PublishedPort;

/// Top-level keys that are read (or harmless) and need no note.
const TOP_LEVEL: [&str; 4] = ["version", "name", "services", "volumes"];
use container::container;
pub use container::DEFAULT_MEMORY_RESERVATION;
use keys::{SPEC_NESTED, SPEC_SERVICE, SPEC_TOP_LEVEL};

#[derive(Debug, Clone, PartialEq)]
pub struct ServicePlan {
    pub name: String,
    pub family: String,
    pub desired_count: i64,
    /// CreateService members from `x-ecs` (launchType, placement, deploymentConfiguration, …);
    /// the cluster, name, task definition and count are left to the caller.
    pub settings: CreateServiceRequest,
    /// Published ports a load balancer listener must serve (several replicas, or tasks with
    /// their own address).
    pub published: Vec<PublishedPort>,
    /// The name the service is registered under in the project's Cloud Map namespace
    /// (`--service-per-container`: its compose name).
    pub discovery: Option<String>,
}

pub struct Converted {
    /// The RegisterTaskDefinition request of each ECS service, in `services`' order.
    pub task_definitions: Vec<Registration>,
    pub services: Vec<ServicePlan>,
    pub builds: Vec<Build>,
    pub notes: Vec<Note>,
}

impl ServicePlan {
    /// The CreateService request of this service under `name`, running `task_definition`
    /// (no cluster: the caller chooses it).
    pub fn create_request(&self, name: &str, task_definition: &str) -> CreateServiceRequest {
        CreateServiceRequest {
            service_name: Some(name.into()),
            task_definition: Some(task_definition.into()),
            desired_count: Some(self.desired_count),
            ..self.settings.clone()
        }
    }
}

impl Converted {
    /// What `berth compose convert` prints: the RegisterTaskDefinition inputs and the
    /// CreateService inputs of the services.
    pub fn document(&self) -> Json {
        let services: Vec<CreateServiceRequest> =
            self.services.iter().map(|s| s.create_request(&s.name, &s.family)).collect();
        json!({"taskDefinitions": self.task_definitions, "services": services})
    }
}

pub fn convert(project: &Project, options: &Options) -> anyhow::Result<Converted> {
    let mut ctx = Ctx { project, notes: Vec::new() };
    let doc = &project.doc;
    for (k, _) in doc {
        let key = scalar_string(k);
        if key.starts_with("x-") || TOP_LEVEL.contains(&key.as_str()) {
            continue;
        }
        if !SPEC_TOP_LEVEL.contains(&key.as_str()) {
            return Err(ctx.unknown(&key, &key, &SPEC_TOP_LEVEL));
        }
        ctx.note(&key);
    }
    let top_ecs = x_ecs(doc.get("x-ecs"), "x-ecs", &[&X_ECS_TASK, &X_ECS_SERVICE])?;
    let named_volumes = doc.get("volumes").and_then(Value::as_mapping).cloned().unwrap_or_default();
    let services = doc.get("services").and_then(Value::as_mapping).context("no services")?;
    if services.is_empty() {
        bail!("services: the project has no services");
    }
    // The whole project is checked before anything is made of it.
    let names: Vec<String> = services.keys().map(scalar_string).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    for (svc_name, svc) in services {
        let path = join("services", &scalar_string(svc_name));
        for (k, _) in svc.as_mapping().into_iter().flatten() {
            let key = scalar_string(k);
            if !key.starts_with("x-") && !SPEC_SERVICE.contains(&key.as_str()) {
                return Err(ctx.unknown(&join(&path, &key), &key, SPEC_SERVICE));
            }
        }
        for (at, allowed) in SPEC_NESTED {
            let nested = at.iter().try_fold(svc, |v, k| v.get(*k));
            for (k, _) in nested.and_then(Value::as_mapping).into_iter().flatten() {
                let key = scalar_string(k);
                if !key.starts_with("x-") && !allowed.contains(&key.as_str()) {
                    let full = at.iter().fold(path.clone(), |p, k| join(&p, k));
                    return Err(ctx.unknown(&join(&full, &key), &key, allowed));
                }
            }
        }
        if let Some(d) = svc.get("depends_on") {
            for (target, _) in depends_on_map(d) {
                if !names.contains(&target) {
                    let hint =
                        closest(&target, &name_refs).map(|n| format!(" — did you mean `{n}`?")).unwrap_or_default();
                    bail!(
                        "{}: depends on `{target}`, which is not a service of this project{hint}",
                        ctx.at(&join(&path, "depends_on"))
                    );
                }
            }
        }
    }
    // Containers other services wait on to complete successfully cannot be essential.
    let mut completes = Vec::new();
    for (_, svc) in services {
        if let Some(d) = svc.get("depends_on") {
            for (name, opts) in depends_on_map(d) {
                if opts.get("condition").and_then(Value::as_str) == Some("service_completed_successfully") {
                    completes.push(name);
                }
            }
        }
    }
    let mut containers = Vec::new();
    let mut builds = Vec::new();
    for (name, svc) in services {
        let name = scalar_string(name);
        let path = join("services", &name);
        let svc = svc.as_mapping().ok_or_else(|| anyhow!("{path}: a service must be a mapping"))?;
        let c = container(&mut ctx, &name, svc, &named_volumes, completes.contains(&name), options, &mut builds)?;
        containers.push(c);
    }
    if !options.service_per_container {
        one_health_rule(&mut ctx, &mut containers);
    }
    let mut task_definitions = Vec::new();
    let mut plans = Vec::new();
    let groups: Vec<Vec<&ContainerOut>> = if options.service_per_container {
        containers.iter().map(|c| vec![c]).collect()
    } else {
        vec![containers.iter().collect()]
    };
    for group in groups {
        let family = if options.service_per_container {
            format!("{}-{}", project.name, group[0].name)
        } else {
            project.name.clone()
        };
        let mut td = Map::new();
        td.insert("family".into(), json!(family));
        td.insert(
            "containerDefinitions".into(),
            Json::Array(group.iter().map(|c| Json::Object(c.def.clone())).collect()),
        );
        let mut volumes: BTreeMap<String, Json> = BTreeMap::new();
        for c in &group {
            for (n, v) in &c.volumes {
                volumes.insert(n.clone(), v.clone());
            }
        }
        if !volumes.is_empty() {
            td.insert("volumes".into(), Json::Array(volumes.into_values().collect()));
        }
        let mut settings = Map::new();
        let mut apply = |ecs: &Map<String, Json>, td: &mut Map<String, Json>| {
            for (k, v) in ecs {
                if X_ECS_TASK.contains(&k.as_str()) {
                    td.insert(k.clone(), v.clone());
                } else if X_ECS_SERVICE.contains(&k.as_str()) {
                    settings.insert(k.clone(), v.clone());
                }
            }
        };
        apply(&top_ecs, &mut td);
        if options.service_per_container {
            apply(&group[0].service_ecs, &mut td);
        }
        let replicas: Vec<i64> = group.iter().filter_map(|c| c.replicas).collect();
        let desired = match settings.remove("desiredCount") {
            Some(v) => v.as_i64().ok_or_else(|| anyhow!("x-ecs.desiredCount must be an integer"))?,
            None => {
                if replicas.windows(2).any(|w| w[0] != w[1]) {
                    bail!(
                        "services ask for different deploy.replicas ({replicas:?}) but run as one ECS service; set x-ecs.desiredCount or use --service-per-container"
                    );
                }
                replicas.first().copied().unwrap_or(1)
            }
        };
        // One ECS service per compose service: each runs with an address of its own and is
        // registered in the project's namespace, so the others reach it by its name, as
        // under docker compose (unless x-ecs chose a network mode).
        let discovery =
            (options.service_per_container && !td.contains_key("networkMode")).then(|| group[0].name.clone());
        if discovery.is_some() {
            td.insert("networkMode".into(), json!("awsvpc"));
            settings.insert(
                "networkConfiguration".into(),
                json!({"awsvpcConfiguration": {"subnets": [published::COMPOSE_SUBNET]}}),
            );
        }
        // Several replicas cannot share a host port, and a task with its own address holds
        // none: a load balancer serves the published one.
        let published = if discovery.is_some() {
            published::behind_load_balancer(&mut ctx, &group, &mut td, published::Reason::OwnAddress)
        } else if desired > 1 {
            published::behind_load_balancer(&mut ctx, &group, &mut td, published::Reason::Replicas(desired))
        } else {
            Vec::new()
        };
        // A published port is held by the running task: the next one can start only once the
        // old one stopped, or a redeploy would wait forever for the port.
        // (Read from the task definition: ports a load balancer serves are dynamic by now.)
        let defs = td.get("containerDefinitions").and_then(Json::as_array).cloned().unwrap_or_default();
        let fixed_port = group.iter().zip(&defs).find_map(|(c, def)| {
            def.get("portMappings")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .any(|p| p.get("hostPort").and_then(Json::as_i64).is_some_and(|h| h > 0))
                .then_some(c)
        });
        if let (Some(c), false) = (fixed_port, settings.contains_key("deploymentConfiguration")) {
            settings
                .insert("deploymentConfiguration".into(), json!({"maximumPercent": 100, "minimumHealthyPercent": 0}));
            ctx.adjusted(
                &join(&join("services", &c.name), "ports"),
                "publishes a fixed host port: deploys stop the old task before starting the new one (maximumPercent 100, minimumHealthyPercent 0; set x-ecs.deploymentConfiguration to choose otherwise)".into(),
            );
        }
        let settings: CreateServiceRequest = serde_json::from_value(Json::Object(settings))
            .map_err(|e| anyhow!("x-ecs: {e} (the service settings are CreateService's members)"))?;
        let registration: Registration = serde_json::from_value(Json::Object(td))
            .map_err(|e| anyhow!("the task definition of {family} is not one ECS accepts: {e}"))?;
        plans.push(ServicePlan {
            // Named like the family, so two projects' `web` services do not collide.
            name: family.clone(),
            family,
            desired_count: desired,
            settings,
            published,
            discovery,
        });
        task_definitions.push(registration);
    }
    Ok(Converted { task_definitions, services: plans, builds, notes: ctx.notes })
}

/// In one task, ECS reports the task's health as UNKNOWN while any essential container has
/// no health check, so a rollout waiting for HEALTHY would wait forever. docker compose
/// waits for checked services to be healthy and the others to run: the containers without
/// a check become non-essential, so the task's health is that of the checked ones.
fn one_health_rule(ctx: &mut Ctx<'_>, containers: &mut [ContainerOut]) {
    let essential = |c: &ContainerOut| c.def.get("essential") == Some(&json!(true));
    let checked = |c: &ContainerOut| c.def.contains_key("healthCheck");
    if !containers.iter().any(|c| essential(c) && checked(c)) {
        return;
    }
    for c in containers.iter_mut().filter(|c| essential(c) && !checked(c)) {
        c.def.insert("essential".into(), json!(false));
        let what = "has no healthcheck while others in the project do: it runs as a non-essential container, so the task's health is that of the checked ones (set x-ecs.essential to keep it essential; add a healthcheck to have it checked)".to_string();
        ctx.adjusted(&join("services", &c.name), what);
    }
}
