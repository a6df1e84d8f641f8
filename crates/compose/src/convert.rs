//! From a loaded Compose project to ECS: task definitions (RegisterTaskDefinition
//! inputs), the services to create, the images to build, and a note for every key that
//! has no ECS translation. Pure: no files but `env_file`s are read, nothing is sent.

use std::{collections::BTreeMap, path::PathBuf};

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Map, Value as Json};
use serde_yaml::Value;

use super::load::{as_key_values, depends_on_map, join, read_env_file, scalar_string, Project};

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// One ECS service (and task definition) per compose service instead of one per project.
    pub service_per_container: bool,
    /// `host:port` of berth's registry, for images built from a `build:` section.
    pub registry_host: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServicePlan {
    pub name: String,
    pub family: String,
    pub desired_count: i64,
    /// CreateService members from `x-ecs` (launchType, placement, deploymentConfiguration, …).
    pub settings: Map<String, Json>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    pub service: String,
    /// Where the image is pushed: `HOST/REPOSITORY:TAG`.
    pub image: String,
    pub repository: String,
    pub context: PathBuf,
    pub dockerfile: Option<String>,
    pub args: Vec<(String, String)>,
    pub target: Option<String>,
}

/// Something the conversion reports about a key, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub location: String,
    pub key: String,
    pub kind: NoteKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NoteKind {
    /// A compose key ECS has nothing for: ignored (an error with `--strict`).
    Untranslated,
    /// A value changed to what ECS accepts, or a setting berth chose; the text says what.
    Adjusted(String),
}

impl Note {
    /// What happened, after the location.
    pub fn message(&self) -> String {
        match &self.kind {
            NoteKind::Untranslated => "is not translated to ECS".to_string(),
            NoteKind::Adjusted(what) => what.clone(),
        }
    }
}

pub struct Converted {
    pub task_definitions: Vec<Json>,
    pub services: Vec<ServicePlan>,
    pub builds: Vec<Build>,
    pub notes: Vec<Note>,
}

/// Task-definition members `x-ecs` may set (top level, or per service in
/// service-per-container mode).
const X_ECS_TASK: [&str; 8] = [
    "cpu",
    "memory",
    "networkMode",
    "taskRoleArn",
    "executionRoleArn",
    "requiresCompatibilities",
    "pidMode",
    "ipcMode",
];
/// CreateService members `x-ecs` may set.
const X_ECS_SERVICE: [&str; 9] = [
    "launchType",
    "placementConstraints",
    "placementStrategy",
    "deploymentConfiguration",
    "desiredCount",
    "healthCheckGracePeriodSeconds",
    "enableECSManagedTags",
    "propagateTags",
    "schedulingStrategy",
];
/// Container members `x-ecs` may set on a service.
const X_ECS_CONTAINER: [&str; 4] = ["essential", "cpu", "memory", "memoryReservation"];

/// Top-level keys that are read (or harmless) and need no note.
const TOP_LEVEL: [&str; 4] = ["version", "name", "services", "volumes"];
/// Every top-level key of the compose specification.
const SPEC_TOP_LEVEL: [&str; 9] =
    ["version", "name", "include", "services", "networks", "volumes", "secrets", "configs", "models"];
/// Every service key of the compose specification.
const SPEC_SERVICE: &[&str] = &[
    "annotations",
    "attach",
    "blkio_config",
    "build",
    "cap_add",
    "cap_drop",
    "cgroup",
    "cgroup_parent",
    "command",
    "configs",
    "container_name",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpu_shares",
    "cpus",
    "cpuset",
    "credential_spec",
    "depends_on",
    "deploy",
    "develop",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "domainname",
    "entrypoint",
    "env_file",
    "environment",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "gpus",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "init",
    "ipc",
    "isolation",
    "label_file",
    "labels",
    "links",
    "logging",
    "mac_address",
    "mem_limit",
    "mem_reservation",
    "mem_swappiness",
    "memswap_limit",
    "models",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "post_start",
    "pre_stop",
    "privileged",
    "profiles",
    "provider",
    "pull_policy",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volumes",
    "volumes_from",
    "working_dir",
];

/// The known name closest to `key` by edit distance, if it is close enough to be a typo.
pub fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let limit = (key.chars().count() / 3).clamp(1, 3);
    known.iter().map(|k| (edit_distance(key, k), *k)).filter(|(d, _)| *d <= limit).min().map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(row[j]).min(row[j + 1]) };
            prev = cur;
        }
    }
    row[b.len()]
}

/// ECS's bounds on container health checks, in seconds (retries: a count).
const HEALTH_BOUNDS: [(&str, i64, i64); 4] =
    [("interval", 5, 300), ("timeout", 2, 60), ("startPeriod", 0, 300), ("retries", 1, 10)];
/// docker compose's default stop grace period (ECS's is 30 s), and ECS's maximum.
const COMPOSE_STOP_GRACE_SECS: i64 = 10;
const ECS_MAX_STOP_TIMEOUT_SECS: i64 = 120;
/// The smallest container memory limit Docker and ECS accept, in MiB.
const MIN_MEMORY_MIB: i64 = 6;

struct Ctx<'a> {
    project: &'a Project,
    notes: Vec<Note>,
}

impl Ctx<'_> {
    fn note(&mut self, path: &str) {
        self.push(path, NoteKind::Untranslated);
    }

    /// Reports a value changed (or chosen) for ECS.
    fn adjusted(&mut self, path: &str, what: String) {
        self.push(path, NoteKind::Adjusted(what));
    }

    fn push(&mut self, path: &str, kind: NoteKind) {
        let location = self.at(path);
        if !self.notes.iter().any(|n| n.location == location && n.kind == kind) {
            self.notes.push(Note { location, key: path.rsplit('.').next().unwrap_or(path).to_string(), kind });
        }
    }

    /// `file:line: path`, or the path alone when it cannot be found in the files.
    fn at(&self, path: &str) -> String {
        match locate(&self.project.sources, path) {
            Some(at) => format!("{at}: {path}"),
            None => path.to_string(),
        }
    }

    /// A key the compose specification does not have: an error that names the closest one.
    fn unknown(&self, path: &str, key: &str, known: &[&str]) -> anyhow::Error {
        let hint = match closest(key, known) {
            Some(k) => format!(" — did you mean `{k}`?"),
            None => String::new(),
        };
        anyhow!("{}: unknown key `{key}`{hint}", self.at(path))
    }
}

/// Finds `a.b.c` in the YAML text of the sources (the last file that has it): `file:line`.
pub fn locate(sources: &[(PathBuf, String)], path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('.').collect();
    sources.iter().rev().find_map(|(file, text)| {
        let lines: Vec<&str> = text.lines().collect();
        let mut from = 0;
        let mut parent_indent: i64 = -1;
        let mut found = None;
        for part in &parts {
            let key = part.split('[').next().unwrap_or(part);
            let mut hit = None;
            for (i, line) in lines.iter().enumerate().skip(from) {
                let trimmed = line.trim_start();
                if trimmed.is_empty() || trimmed.starts_with('#') {
                    continue;
                }
                let indent = (line.len() - trimmed.len()) as i64;
                if indent <= parent_indent && i > from {
                    break;
                }
                let bare = trimmed.trim_start_matches("- ");
                let matches = [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':")]
                    .iter()
                    .any(|k| bare.starts_with(k.as_str()));
                // A top-level key sits at column 0; deeper ones anywhere inside their parent.
                let level_ok = if parent_indent < 0 { indent == 0 } else { indent > parent_indent };
                if matches && level_ok {
                    hit = Some((i, indent));
                    break;
                }
            }
            let (i, indent) = hit?;
            from = i + 1;
            parent_indent = indent;
            found = Some(i + 1);
        }
        found.map(|line| format!("{}:{line}", file.display()))
    })
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
        // A published port is held by the running task: the next one can start only once the
        // old one stopped, or a redeploy would wait forever for the port.
        let fixed_port = group.iter().find(|c| {
            c.def
                .get("portMappings")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .any(|p| p.get("hostPort").and_then(Json::as_i64).is_some_and(|h| h > 0))
        });
        if let (Some(c), false) = (fixed_port, settings.contains_key("deploymentConfiguration")) {
            settings
                .insert("deploymentConfiguration".into(), json!({"maximumPercent": 100, "minimumHealthyPercent": 0}));
            ctx.adjusted(
                &join(&join("services", &c.name), "ports"),
                "publishes a fixed host port: deploys stop the old task before starting the new one (maximumPercent 100, minimumHealthyPercent 0; set x-ecs.deploymentConfiguration to choose otherwise)".into(),
            );
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
        plans.push(ServicePlan {
            // Named like the family, so two projects' `web` services do not collide.
            name: family.clone(),
            family,
            desired_count: desired,
            settings,
        });
        task_definitions.push(Json::Object(td));
    }
    Ok(Converted { task_definitions, services: plans, builds, notes: ctx.notes })
}

/// Reads an `x-ecs` block, refusing keys it does not know.
fn x_ecs(v: Option<&Value>, path: &str, allowed: &[&[&str]]) -> anyhow::Result<Map<String, Json>> {
    let Some(v) = v else { return Ok(Map::new()) };
    let json: Json = serde_json::to_value(v).with_context(|| format!("{path}: not representable as JSON"))?;
    let Json::Object(map) = json else { bail!("{path} must be a mapping") };
    for k in map.keys() {
        if !allowed.iter().any(|list| list.contains(&k.as_str())) {
            let all: Vec<&str> = allowed.iter().flat_map(|l| l.iter().copied()).collect();
            bail!("{path}.{k} is not an x-ecs setting berth knows (one of: {})", all.join(", "));
        }
    }
    Ok(map)
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

struct ContainerOut {
    name: String,
    def: Map<String, Json>,
    volumes: Vec<(String, Json)>,
    replicas: Option<i64>,
    service_ecs: Map<String, Json>,
}

#[allow(clippy::too_many_arguments)]
fn container(
    ctx: &mut Ctx<'_>,
    name: &str,
    svc: &serde_yaml::Mapping,
    named_volumes: &serde_yaml::Mapping,
    completes: bool,
    options: &Options,
    builds: &mut Vec<Build>,
) -> anyhow::Result<ContainerOut> {
    let path = join("services", name);
    let at = |k: &str| join(&path, k);
    let mut def = Map::new();
    def.insert("name".into(), json!(name));
    let mut volumes = Vec::new();
    let mut replicas = None;
    let mut linux = Map::new();
    let mut memory: Option<i64> = None;
    let mut reservation: Option<i64> = None;
    let mut cpu: Option<i64> = None;
    let mut environment: BTreeMap<String, String> = BTreeMap::new();
    let mut env_from_files: BTreeMap<String, String> = BTreeMap::new();
    let mut service_ecs = Map::new();
    let mut essential = !completes;

    if let Some(b) = svc.get("build") {
        let registry = options.registry_host.clone().unwrap_or_else(|| "REGISTRY".into());
        let repository = format!("{}/{name}", ctx.project.name);
        let image = match svc.get("image").map(scalar_string) {
            Some(i) if i.starts_with(&format!("{registry}/")) => i,
            _ => format!("{registry}/{repository}:latest"),
        };
        let (context, dockerfile, args, target) = match b {
            Value::String(s) => (s.clone(), None, Vec::new(), None),
            Value::Mapping(m) => (
                m.get("context").map(scalar_string).unwrap_or_else(|| ".".into()),
                m.get("dockerfile").map(scalar_string),
                m.get("args")
                    .map(as_key_values)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, scalar_string(&v)))
                    .collect(),
                m.get("target").map(scalar_string),
            ),
            _ => bail!("{}: build must be a path or a mapping", at("build")),
        };
        let repo_name = image.split_once('/').map(|(_, r)| r).unwrap_or(&image);
        let repository = repo_name.rsplit_once(':').map(|(r, _)| r.to_string()).unwrap_or(repository);
        builds.push(Build {
            service: name.to_string(),
            image: image.clone(),
            repository,
            context: ctx.project.dir.join(context),
            dockerfile,
            args,
            target,
        });
        def.insert("image".into(), json!(image));
    }

    for (k, v) in svc {
        let key = scalar_string(k);
        let here = at(&key);
        match key.as_str() {
            "build" => {}
            "image" => {
                if !def.contains_key("image") {
                    def.insert("image".into(), json!(scalar_string(v)));
                }
            }
            "command" => {
                def.insert("command".into(), json!(words(v, &here)?));
            }
            "entrypoint" => {
                def.insert("entryPoint".into(), json!(words(v, &here)?));
            }
            "environment" => {
                for (name, value) in as_key_values(v) {
                    let value = match value {
                        Value::Null => match std::env::var(&name) {
                            Ok(v) => v,
                            Err(_) => continue,
                        },
                        other => scalar_string(&other),
                    };
                    environment.insert(name, value);
                }
            }
            "env_file" => {
                let files: Vec<Value> = match v {
                    Value::Sequence(items) => items.clone(),
                    other => vec![other.clone()],
                };
                for f in files {
                    let (file, required) = match &f {
                        Value::Mapping(m) => (
                            m.get("path").map(scalar_string).unwrap_or_default(),
                            m.get("required").and_then(Value::as_bool).unwrap_or(true),
                        ),
                        other => (scalar_string(other), true),
                    };
                    let p = ctx.project.dir.join(&file);
                    if !p.exists() && !required {
                        continue;
                    }
                    for (k, v) in read_env_file(&p).with_context(|| format!("{here}: {file}"))? {
                        env_from_files.insert(k, v);
                    }
                }
            }
            "ports" => {
                let mut mappings = Vec::new();
                for (i, p) in v.as_sequence().cloned().unwrap_or_default().iter().enumerate() {
                    mappings.extend(ports(ctx, p, &format!("{here}[{i}]"))?);
                }
                def.insert("portMappings".into(), Json::Array(mappings));
            }
            "mem_limit" => memory = Some(mib(v, &here)?),
            "mem_reservation" => reservation = Some(mib(v, &here)?),
            "cpus" => cpu = Some(cpu_units(v, &here)?),
            "cpu_shares" => cpu = Some(v.as_i64().ok_or_else(|| anyhow!("{here}: must be an integer"))?),
            "deploy" => {
                let d = v.as_mapping().ok_or_else(|| anyhow!("{here}: must be a mapping"))?;
                for (dk, dv) in d {
                    let dkey = scalar_string(dk);
                    let dhere = join(&here, &dkey);
                    match dkey.as_str() {
                        "replicas" => {
                            replicas = Some(dv.as_i64().ok_or_else(|| anyhow!("{dhere}: must be an integer"))?)
                        }
                        "resources" => {
                            for (rk, rv) in dv.as_mapping().into_iter().flatten() {
                                let rkey = scalar_string(rk);
                                let rhere = join(&dhere, &rkey);
                                for (lk, lv) in rv.as_mapping().into_iter().flatten() {
                                    let lkey = scalar_string(lk);
                                    let lhere = join(&rhere, &lkey);
                                    match (rkey.as_str(), lkey.as_str()) {
                                        ("limits", "memory") => memory = Some(mib(lv, &lhere)?),
                                        ("reservations", "memory") => reservation = Some(mib(lv, &lhere)?),
                                        ("limits", "cpus") => cpu = Some(cpu_units(lv, &lhere)?),
                                        ("reservations", "cpus") if cpu.is_none() => cpu = Some(cpu_units(lv, &lhere)?),
                                        ("reservations", "cpus") => {}
                                        _ => ctx.note(&lhere),
                                    }
                                }
                            }
                        }
                        _ => ctx.note(&dhere),
                    }
                }
            }
            "healthcheck" => {
                if let Some(mut h) = healthcheck(v, &here)? {
                    for (field, least, most) in HEALTH_BOUNDS {
                        if let Some(n) = h.get(field).and_then(Json::as_i64) {
                            let fixed = n.clamp(least, most);
                            if fixed != n {
                                h[field] = json!(fixed);
                                let key = match field {
                                    "startPeriod" => "start_period",
                                    other => other,
                                };
                                let unit = if field == "retries" { "" } else { " s" };
                                ctx.adjusted(
                                    &join(&here, key),
                                    format!("{n}{unit} is outside what ECS accepts ({least}–{most}{unit}): using {fixed}{unit}"),
                                );
                            }
                        }
                    }
                    def.insert("healthCheck".into(), h);
                }
            }
            "depends_on" => {
                let mut deps = Vec::new();
                for (target, opts) in depends_on_map(v) {
                    let condition = match opts.get("condition").and_then(Value::as_str).unwrap_or("service_started") {
                        "service_started" => "START",
                        "service_healthy" => "HEALTHY",
                        "service_completed_successfully" => "SUCCESS",
                        other => bail!("{here}.{target}.condition: '{other}' is not a depends_on condition"),
                    };
                    if options.service_per_container {
                        // Each service is its own task: ECS orders containers within a task only.
                        let what = format!("on `{target}` cannot be enforced across services with --service-per-container: each starts on its own");
                        ctx.adjusted(&here, what);
                        continue;
                    }
                    deps.push(json!({"containerName": target, "condition": condition}));
                }
                if !deps.is_empty() {
                    def.insert("dependsOn".into(), Json::Array(deps));
                }
            }
            "links" => {
                let links: Vec<String> = v.as_sequence().into_iter().flatten().map(scalar_string).collect();
                def.insert("links".into(), json!(links));
            }
            "working_dir" => {
                def.insert("workingDirectory".into(), json!(scalar_string(v)));
            }
            "user" => {
                def.insert("user".into(), json!(scalar_string(v)));
            }
            "hostname" => {
                def.insert("hostname".into(), json!(scalar_string(v)));
            }
            "labels" => {
                let labels: Map<String, Json> =
                    as_key_values(v).into_iter().map(|(k, v)| (k, json!(scalar_string(&v)))).collect();
                def.insert("dockerLabels".into(), Json::Object(labels));
            }
            "logging" => {
                let m = v.as_mapping().ok_or_else(|| anyhow!("{here}: must be a mapping"))?;
                let mut log = Map::new();
                if let Some(d) = m.get("driver") {
                    log.insert("logDriver".into(), json!(scalar_string(d)));
                }
                if let Some(o) = m.get("options") {
                    let opts: Map<String, Json> =
                        as_key_values(o).into_iter().map(|(k, v)| (k, json!(scalar_string(&v)))).collect();
                    log.insert("options".into(), Json::Object(opts));
                }
                def.insert("logConfiguration".into(), Json::Object(log));
            }
            "ulimits" => {
                let mut out = Vec::new();
                for (uk, uv) in v.as_mapping().into_iter().flatten() {
                    let (soft, hard) = match uv {
                        Value::Mapping(m) => (
                            m.get("soft")
                                .and_then(Value::as_i64)
                                .ok_or_else(|| anyhow!("{here}.{}: soft is required", scalar_string(uk)))?,
                            m.get("hard")
                                .and_then(Value::as_i64)
                                .ok_or_else(|| anyhow!("{here}.{}: hard is required", scalar_string(uk)))?,
                        ),
                        other => {
                            let n = other
                                .as_i64()
                                .ok_or_else(|| anyhow!("{here}.{}: must be a number", scalar_string(uk)))?;
                            (n, n)
                        }
                    };
                    out.push(json!({"name": scalar_string(uk), "softLimit": soft, "hardLimit": hard}));
                }
                def.insert("ulimits".into(), Json::Array(out));
            }
            "volumes" => {
                let mut mounts = Vec::new();
                for (i, vol) in v.as_sequence().cloned().unwrap_or_default().iter().enumerate() {
                    let (mount, volume) = volume(ctx, name, vol, named_volumes, &format!("{here}[{i}]"))?;
                    if let Some(t) = mount {
                        mounts.push(t);
                    }
                    if let Some(v) = volume {
                        volumes.push(v);
                    }
                }
                def.insert("mountPoints".into(), Json::Array(mounts));
            }
            "tmpfs" => {
                let items: Vec<String> = match v {
                    Value::Sequence(s) => s.iter().map(scalar_string).collect(),
                    other => vec![scalar_string(other)],
                };
                let mut out = Vec::new();
                for item in items {
                    let (path, opts) = item.split_once(':').unwrap_or((&item, ""));
                    let mut size = 64;
                    let mut mount_options = Vec::new();
                    for o in opts.split(',').filter(|o| !o.is_empty()) {
                        match o.strip_prefix("size=") {
                            Some(s) => size = mib(&Value::String(s.into()), &here)?,
                            None => mount_options.push(o.to_string()),
                        }
                    }
                    let mut t = json!({"containerPath": path, "size": size});
                    if !mount_options.is_empty() {
                        t["mountOptions"] = json!(mount_options);
                    }
                    out.push(t);
                }
                linux.insert("tmpfs".into(), Json::Array(out));
            }
            "read_only" => {
                def.insert("readonlyRootFilesystem".into(), json!(truthy(v, &here)?));
            }
            "privileged" => {
                def.insert("privileged".into(), json!(truthy(v, &here)?));
            }
            "init" => {
                linux.insert("initProcessEnabled".into(), json!(truthy(v, &here)?));
            }
            "cap_add" | "cap_drop" => {
                let caps: Vec<String> = v.as_sequence().into_iter().flatten().map(scalar_string).collect();
                let entry = linux.entry("capabilities").or_insert_with(|| json!({}));
                entry[if key == "cap_add" { "add" } else { "drop" }] = json!(caps);
            }
            "stop_grace_period" => {
                let wanted = seconds(v, &here)?.ceil() as i64;
                let fixed = wanted.clamp(0, ECS_MAX_STOP_TIMEOUT_SECS);
                if fixed != wanted {
                    ctx.adjusted(&here, format!("{wanted} s is more than ECS allows: using {fixed} s"));
                }
                def.insert("stopTimeout".into(), json!(fixed));
            }
            "extra_hosts" => {
                let hosts: Vec<Json> = as_key_values(v)
                    .into_iter()
                    .map(|(host, ip)| json!({"hostname": host, "ipAddress": scalar_string(&ip)}))
                    .collect();
                def.insert("extraHosts".into(), Json::Array(hosts));
            }
            "dns" => {
                let servers: Vec<String> = match v {
                    Value::Sequence(s) => s.iter().map(scalar_string).collect(),
                    other => vec![scalar_string(other)],
                };
                def.insert("dnsServers".into(), json!(servers));
            }
            "dns_search" => {
                let domains: Vec<String> = match v {
                    Value::Sequence(s) => s.iter().map(scalar_string).collect(),
                    other => vec![scalar_string(other)],
                };
                def.insert("dnsSearchDomains".into(), json!(domains));
            }
            "stdin_open" => {
                def.insert("interactive".into(), json!(truthy(v, &here)?));
            }
            "tty" => {
                def.insert("pseudoTerminal".into(), json!(truthy(v, &here)?));
            }
            "security_opt" => {
                let opts: Vec<String> = v.as_sequence().into_iter().flatten().map(scalar_string).collect();
                def.insert("dockerSecurityOptions".into(), json!(opts));
            }
            "sysctls" => {
                let controls: Vec<Json> = as_key_values(v)
                    .into_iter()
                    .map(|(k, v)| json!({"namespace": k, "value": scalar_string(&v)}))
                    .collect();
                def.insert("systemControls".into(), Json::Array(controls));
            }
            "shm_size" => {
                linux.insert("sharedMemorySize".into(), json!(mib(v, &here)?));
            }
            "x-ecs" => {
                service_ecs = x_ecs(Some(v), &here, &[&X_ECS_CONTAINER, &X_ECS_TASK, &X_ECS_SERVICE])?;
                for (ek, ev) in &service_ecs {
                    if X_ECS_CONTAINER.contains(&ek.as_str()) {
                        if ek == "essential" {
                            essential =
                                ev.as_bool().ok_or_else(|| anyhow!("{here}.essential must be true or false"))?;
                        } else {
                            def.insert(ek.clone(), ev.clone());
                        }
                    } else if !options.service_per_container {
                        bail!("{here}.{ek}: task and service settings go in the top-level x-ecs (or use --service-per-container)");
                    }
                }
            }
            k if k.starts_with("x-") => {}
            _ => ctx.note(&here),
        }
    }
    if !def.contains_key("image") {
        bail!("{path}: needs an image (or a build section)");
    }
    // Files first, then `environment` on top, as compose does.
    let mut env = env_from_files;
    env.extend(environment);
    if !env.is_empty() {
        let list: Vec<Json> = env.into_iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
        def.insert("environment".into(), Json::Array(list));
    }
    for (value, key) in [(&mut memory, "mem_limit"), (&mut reservation, "mem_reservation")] {
        if let Some(m) = value.filter(|m| *m < MIN_MEMORY_MIB) {
            let what = format!("{m} MiB is below the {MIN_MEMORY_MIB} MiB ECS accepts: using {MIN_MEMORY_MIB} MiB");
            ctx.adjusted(&at(key), what);
            *value = Some(MIN_MEMORY_MIB);
        }
    }
    if let Some(m) = memory {
        def.entry("memory").or_insert(json!(m));
    }
    if let Some(r) = reservation {
        def.entry("memoryReservation").or_insert(json!(r));
    }
    // docker compose waits 10 s for a container to stop; ECS's default is 30 s.
    def.entry("stopTimeout").or_insert(json!(COMPOSE_STOP_GRACE_SECS));
    if let Some(c) = cpu {
        def.entry("cpu").or_insert(json!(c));
    }
    if !def.contains_key("memory") && !def.contains_key("memoryReservation") {
        // ECS needs one of the two unless the task sets memory; ecs-cli used 512 MiB.
        let task_memory =
            ctx.project.doc.get("x-ecs").and_then(|x| x.get("memory")).is_some() || service_ecs.contains_key("memory");
        if !task_memory {
            def.insert("memoryReservation".into(), json!(DEFAULT_MEMORY_RESERVATION));
        }
    }
    if !linux.is_empty() {
        def.insert("linuxParameters".into(), Json::Object(linux));
    }
    def.insert("essential".into(), json!(essential));
    Ok(ContainerOut { name: name.to_string(), def, volumes, replicas, service_ecs })
}

/// MiB reserved for a container that states no memory at all.
pub const DEFAULT_MEMORY_RESERVATION: i64 = 128;

fn truthy(v: &Value, here: &str) -> anyhow::Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        _ => bail!("{here}: must be true or false"),
    }
}

/// A command as a list: a list stays, a string is split like a shell splits words.
fn words(v: &Value, here: &str) -> anyhow::Result<Vec<String>> {
    match v {
        Value::Sequence(items) => Ok(items.iter().map(scalar_string).collect()),
        Value::String(s) => shell_words(s).ok_or_else(|| anyhow!("{here}: unbalanced quotes in '{s}'")),
        Value::Null => Ok(Vec::new()),
        _ => bail!("{here}: must be a string or a list"),
    }
}

fn shell_words(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        ch => cur.push(ch),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => cur.push(chars.next()?),
                        ch => cur.push(ch),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Some(out)
}

/// A byte size (`512m`, `1g`, `1.5gb`, a plain number of bytes) in MiB, rounded up.
fn mib(v: &Value, here: &str) -> anyhow::Result<i64> {
    let s = scalar_string(v).trim().to_lowercase();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| anyhow!("{here}: '{s}' is not a size"))?;
    let factor = match unit.trim() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        other => bail!("{here}: unknown size unit '{other}'"),
    };
    Ok((n * factor / (1024.0 * 1024.0)).ceil() as i64)
}

/// `cpus: 0.5` in ECS CPU units (1024 per CPU).
fn cpu_units(v: &Value, here: &str) -> anyhow::Result<i64> {
    let n: f64 =
        scalar_string(v).parse().map_err(|_| anyhow!("{here}: '{}' is not a number of CPUs", scalar_string(v)))?;
    Ok((n * 1024.0).round() as i64)
}

/// A compose duration (`1m30s`, `10s`, `500ms`, `2h`) in seconds.
fn seconds(v: &Value, here: &str) -> anyhow::Result<f64> {
    if let Some(n) = v.as_f64() {
        return Ok(n);
    }
    let s = scalar_string(v);
    let mut total = 0.0;
    let mut rest = s.trim();
    if rest.is_empty() {
        bail!("{here}: empty duration");
    }
    while !rest.is_empty() {
        let split = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, tail) = rest.split_at(split);
        let n: f64 = num.parse().map_err(|_| anyhow!("{here}: '{s}' is not a duration"))?;
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        total += n * match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => bail!("{here}: '{s}' is not a duration (units h, m, s, ms, us, ns)"),
        };
        rest = next;
    }
    Ok(total)
}

fn healthcheck(v: &Value, here: &str) -> anyhow::Result<Option<Json>> {
    let m = v.as_mapping().ok_or_else(|| anyhow!("{here}: must be a mapping"))?;
    if m.get("disable").and_then(Value::as_bool) == Some(true) {
        return Ok(None);
    }
    let test = match m.get("test") {
        Some(Value::String(s)) => vec!["CMD-SHELL".to_string(), s.clone()],
        Some(Value::Sequence(items)) => items.iter().map(scalar_string).collect(),
        Some(_) => bail!("{here}.test: must be a string or a list"),
        None => bail!("{here}.test: a health check needs a test"),
    };
    if test.first().map(String::as_str) == Some("NONE") {
        return Ok(None);
    }
    if !matches!(test.first().map(String::as_str), Some("CMD" | "CMD-SHELL")) {
        bail!("{here}.test: a list test starts with CMD or CMD-SHELL (or is [NONE])");
    }
    let mut h = json!({ "command": test });
    for (key, ecs) in [("interval", "interval"), ("timeout", "timeout"), ("start_period", "startPeriod")] {
        if let Some(d) = m.get(key) {
            h[ecs] = json!(seconds(d, &join(here, key))?.round() as i64);
        }
    }
    if let Some(r) = m.get("retries") {
        h["retries"] = json!(r.as_i64().ok_or_else(|| anyhow!("{here}.retries: must be an integer"))?);
    }
    Ok(Some(h))
}

fn ports(ctx: &mut Ctx<'_>, v: &Value, here: &str) -> anyhow::Result<Vec<Json>> {
    if let Value::Mapping(m) = v {
        let target = m.get("target").and_then(Value::as_i64).ok_or_else(|| anyhow!("{here}.target: required"))?;
        let mut p = json!({"containerPort": target, "protocol": m.get("protocol").map(scalar_string).unwrap_or_else(|| "tcp".into())});
        if let Some(published) = m.get("published") {
            let s = scalar_string(published);
            p["hostPort"] = json!(s
                .parse::<i64>()
                .map_err(|_| anyhow!("{here}.published: '{s}' is not a port (ranges need the short syntax)"))?);
        }
        if m.contains_key("host_ip") {
            ctx.note(&join(here, "host_ip"));
        }
        return Ok(vec![p]);
    }
    let s = scalar_string(v);
    let (spec, protocol) = s.rsplit_once('/').map(|(a, b)| (a, b.to_string())).unwrap_or((&s, "tcp".into()));
    if protocol != "tcp" && protocol != "udp" {
        bail!("{here}: protocol '{protocol}' must be tcp or udp");
    }
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, container) = match parts.as_slice() {
        [c] => (None, *c),
        [h, c] => (Some(*h), *c),
        [_ip, h, c] => {
            ctx.note(&format!("{here} (host IP)"));
            (Some(*h).filter(|h| !h.is_empty()), *c)
        }
        _ => bail!("{here}: '{s}' is not a port mapping"),
    };
    let range = |r: &str| -> anyhow::Result<(i64, i64)> {
        let (a, b) = r.split_once('-').unwrap_or((r, r));
        let parse = |x: &str| x.trim().parse::<i64>().map_err(|_| anyhow!("{here}: '{x}' is not a port"));
        let (a, b) = (parse(a)?, parse(b)?);
        if a > b || a < 1 || b > 65535 {
            bail!("{here}: '{r}' is not a port range");
        }
        Ok((a, b))
    };
    let (c0, c1) = range(container)?;
    let host = host.map(range).transpose()?;
    if let Some((h0, h1)) = host {
        if h1 - h0 != c1 - c0 {
            bail!("{here}: the host range {h0}-{h1} and the container range {c0}-{c1} differ in length");
        }
    }
    Ok((0..=c1 - c0)
        .map(|i| {
            let mut p = json!({"containerPort": c0 + i, "protocol": protocol});
            if let Some((h0, _)) = host {
                p["hostPort"] = json!(h0 + i);
            }
            p
        })
        .collect())
}

/// A mount point and, when it needs one, the task volume (by name).
type Mounted = (Option<Json>, Option<(String, Json)>);

/// One service volume: its mount point and, when it needs one, the task volume.
fn volume(
    ctx: &mut Ctx<'_>,
    service: &str,
    v: &Value,
    named: &serde_yaml::Mapping,
    here: &str,
) -> anyhow::Result<Mounted> {
    let (kind, source, target, read_only) = match v {
        Value::String(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            let (source, target, mode) = match parts.as_slice() {
                [t] => (None, *t, ""),
                [s, t] => (Some(*s), *t, ""),
                [s, t, m] => (Some(*s), *t, *m),
                _ => bail!("{here}: '{s}' is not a volume"),
            };
            let kind = match source {
                None => "anonymous",
                Some(s) if s.starts_with('/') || s.starts_with('.') || s.starts_with('~') => "bind",
                Some(_) => "volume",
            };
            (kind.to_string(), source.map(str::to_string), target.to_string(), mode.split(',').any(|m| m == "ro"))
        }
        Value::Mapping(m) => {
            let kind = m.get("type").map(scalar_string).unwrap_or_else(|| "volume".into());
            let target = m.get("target").map(scalar_string).ok_or_else(|| anyhow!("{here}.target: required"))?;
            let source = m.get("source").map(scalar_string);
            let ro = m.get("read_only").and_then(Value::as_bool).unwrap_or(false);
            let kind = if kind == "volume" && source.is_none() { "anonymous".to_string() } else { kind };
            (kind, source, target, ro)
        }
        _ => bail!("{here}: must be a string or a mapping"),
    };
    let sanitize = |s: &str| -> String {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect::<String>()
    };
    let (name, volume) = match kind.as_str() {
        "bind" => {
            let source = source.unwrap_or_default();
            let abs = if let Some(rest) = source.strip_prefix("~/") {
                PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(rest)
            } else {
                let p = ctx.project.dir.join(&source);
                std::fs::canonicalize(&p).unwrap_or(p)
            };
            let abs = abs.to_string_lossy().into_owned();
            // Named after the path as written, so the name does not depend on where the project lives.
            let written = source.trim_start_matches("./").trim_start_matches(['/', '~']);
            let name = format!("host-{}", sanitize(written).trim_matches('-'));
            (name.clone(), json!({"name": name, "host": {"sourcePath": abs}}))
        }
        "volume" => {
            let source = source.unwrap_or_default();
            let project = &ctx.project.name;
            let labels = json!({"com.docker.compose.project": project, "com.docker.compose.volume": source});
            let mut config = json!({"scope": "shared", "autoprovision": true, "driver": "local", "labels": labels});
            // As docker compose: `PROJECT_NAME`, unless the volume is external or named.
            let mut docker_name = format!("{project}_{}", sanitize(&source));
            match named.get(source.as_str()) {
                Some(Value::Mapping(m)) => {
                    if let Some(d) = m.get("driver") {
                        config["driver"] = json!(scalar_string(d));
                    }
                    if let Some(o) = m.get("driver_opts") {
                        config["driverOpts"] = json!(as_key_values(o)
                            .into_iter()
                            .map(|(k, v)| (k, scalar_string(&v)))
                            .collect::<BTreeMap<_, _>>());
                    }
                    if let Some(l) = m.get("labels") {
                        for (k, v) in as_key_values(l) {
                            config["labels"][k] = json!(scalar_string(&v));
                        }
                    }
                    if let Some(n) = m.get("name") {
                        docker_name = sanitize(&scalar_string(n));
                    }
                    if m.get("external").and_then(Value::as_bool) == Some(true) {
                        config["autoprovision"] = json!(false);
                        if m.get("name").is_none() {
                            docker_name = sanitize(&source);
                        }
                    }
                }
                Some(Value::Null) => {}
                Some(_) => bail!("volumes.{source}: must be a mapping"),
                None => bail!("{here}: named volume '{source}' is not declared under the top-level 'volumes'"),
            }
            (docker_name.clone(), json!({"name": docker_name, "dockerVolumeConfiguration": config}))
        }
        "anonymous" => {
            let name = format!("{service}{}", sanitize(&target));
            (name.clone(), json!({"name": name, "dockerVolumeConfiguration": {"scope": "task", "driver": "local"}}))
        }
        "tmpfs" => {
            ctx.note(&format!("{here} (type tmpfs: use the service's tmpfs key)"));
            return Ok((None, None));
        }
        other => bail!("{here}: volume type '{other}' is not supported"),
    };
    let mount = json!({"sourceVolume": name, "containerPath": target, "readOnly": read_only});
    Ok((Some(mount), Some((name, volume))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_durations_words() {
        let s = |x: &str| Value::String(x.into());
        assert_eq!(mib(&s("512m"), "x").unwrap(), 512);
        assert_eq!(mib(&s("1g"), "x").unwrap(), 1024);
        assert_eq!(mib(&s("1.5GB"), "x").unwrap(), 1536);
        assert_eq!(mib(&Value::from(1048577), "x").unwrap(), 2);
        assert!(mib(&s("12q"), "x").is_err());
        assert_eq!(seconds(&s("1m30s"), "x").unwrap(), 90.0);
        assert_eq!(seconds(&s("500ms"), "x").unwrap(), 0.5);
        assert!(seconds(&s("5 minutes"), "x").is_err());
        assert_eq!(
            shell_words(r#"sh -c 'echo "hi there"' x\ y"#).unwrap(),
            vec!["sh", "-c", "echo \"hi there\"", "x y"]
        );
        assert!(shell_words("a 'b").is_none());
        assert_eq!(cpu_units(&s("0.5"), "x").unwrap(), 512);
    }

    #[test]
    fn locates_keys_in_the_text() {
        let text = "services:\n  web:\n    image: x\n    networks: [a]\n  db:\n    networks: [b]\n".to_string();
        let sources = vec![(PathBuf::from("c.yml"), text)];
        assert_eq!(locate(&sources, "services.web.networks").as_deref(), Some("c.yml:4"));
        assert_eq!(locate(&sources, "services.db.networks").as_deref(), Some("c.yml:6"));
        assert_eq!(locate(&sources, "services.web.ports"), None);
        assert_eq!(locate(&sources, "networks"), None, "only a top-level key matches a top-level path");
    }
}
