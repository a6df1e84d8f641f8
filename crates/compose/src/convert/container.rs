//! One compose service to one ECS container definition (with its volumes, replicas and
//! `x-ecs` settings), noting what does not translate and what was adjusted.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Map, Value as Json};
use serde_yaml::Value;

use super::{
    context::{x_ecs, Build, ContainerOut, Ctx, Options, X_ECS_CONTAINER, X_ECS_SERVICE, X_ECS_TASK},
    values::{cpu_units, healthcheck, mib, ports, seconds, truthy, volume, words},
};
use crate::load::{as_key_values, depends_on_map, join, read_env_file, scalar_string};

/// ECS's bounds on container health checks, in seconds (retries: a count).
const HEALTH_BOUNDS: [(&str, i64, i64); 4] =
    [("interval", 5, 300), ("timeout", 2, 60), ("startPeriod", 0, 300), ("retries", 1, 10)];
/// docker compose's default stop grace period (ECS's is 30 s), and ECS's maximum.
const COMPOSE_STOP_GRACE_SECS: i64 = 10;
const ECS_MAX_STOP_TIMEOUT_SECS: i64 = 120;
/// The smallest container memory limit Docker and ECS accept, in MiB.
const MIN_MEMORY_MIB: i64 = 6;

#[allow(clippy::too_many_arguments)]
pub(super) fn container(
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
    // Without a `logging` section the output goes to berth's CloudWatch Logs, as the ECS
    // compose integration sent it to CloudWatch: `berth compose logs` and `aws logs` read it
    // (and `docker logs` on the host still does).
    def.entry("logConfiguration").or_insert_with(|| {
        json!({
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": format!("/berth/compose/{}", ctx.project.name),
                "awslogs-stream-prefix": ctx.project.name,
                "awslogs-create-group": "true",
            }
        })
    });
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
