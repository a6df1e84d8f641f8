//! From a task definition (with RunTask overrides) to engine container specs. Pure, so
//! every mapping is unit-tested.

use std::{collections::BTreeMap, time::Duration};

use berth_model::{
    task::{ContainerOverride, TaskOverride},
    task_definition::{ContainerDefinition, TaskDefinition},
};
use berth_runtime::{ContainerSpec, HealthCheckSpec, PortSpec};

/// Docker labels berth puts on every container it starts (the ECS agent's names).
pub const LABEL_CLUSTER: &str = "com.amazonaws.ecs.cluster";
pub const LABEL_TASK_ARN: &str = "com.amazonaws.ecs.task-arn";
pub const LABEL_CONTAINER_NAME: &str = "com.amazonaws.ecs.container-name";
pub const LABEL_FAMILY: &str = "com.amazonaws.ecs.task-definition-family";
pub const LABEL_REVISION: &str = "com.amazonaws.ecs.task-definition-version";
/// Which container instance started it: several agents may share one engine.
pub const LABEL_INSTANCE: &str = "com.berth.container-instance";

/// ECS's default wait between SIGTERM and SIGKILL.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the task runs, for labels and names.
pub struct TaskContext<'a> {
    pub cluster: &'a str,
    pub instance_arn: &'a str,
    pub task_arn: &'a str,
    /// An awsvpc task's pause container (engine name), whose network namespace the
    /// task's containers join.
    pub pause: Option<&'a str>,
}

impl TaskContext<'_> {
    pub fn task_id(&self) -> &str {
        self.task_arn.rsplit('/').next().unwrap_or(self.task_arn)
    }

    /// The engine name of container `name` of this task.
    pub fn container_name(&self, name: &str) -> String {
        format!("berth-{}-{name}", self.task_id())
    }

    /// The engine name of this task's pause container (a `.` no ECS container name has,
    /// so it never collides with the task's own containers).
    pub fn pause_name(&self) -> String {
        format!("berth-{}.pause", self.task_id())
    }
}

fn override_for<'a>(overrides: &'a TaskOverride, name: &str) -> Option<&'a ContainerOverride> {
    overrides.container_overrides.iter().find(|o| o.name.as_deref() == Some(name))
}

/// Reads an env file: `KEY=VALUE` lines; blank lines and `#` comments skipped.
pub fn parse_env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.trim().to_string(), v.to_string())))
        .collect()
}

/// The environment of a container: env files first, then `environment`, then the
/// override's, later names replacing earlier ones. `read_file` reads a local env file.
pub fn environment(
    def: &ContainerDefinition,
    over: Option<&ContainerOverride>,
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<Vec<(String, String)>, String> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |k: String, v: String| match env.iter_mut().find(|(n, _)| *n == k) {
        Some(slot) => slot.1 = v,
        None => env.push((k, v)),
    };
    let files = over.and_then(|o| o.environment_files.clone()).into_iter().flatten();
    for f in def.environment_files.iter().cloned().chain(files) {
        let path = f.value.strip_prefix("file://").unwrap_or(&f.value);
        let text = read_file(path).map_err(|e| format!("reading environment file {path}: {e}"))?;
        for (k, v) in parse_env_file(&text) {
            set(k, v);
        }
    }
    let over_env = over.and_then(|o| o.environment.clone()).unwrap_or_default();
    for kv in def.environment.iter().chain(over_env.iter()) {
        if let Some(name) = &kv.name {
            set(name.clone(), kv.value.clone().unwrap_or_default());
        }
    }
    Ok(env)
}

/// The engine spec of container `def` of task `td`.
/// Points a container with a network of its own at berth's DNS (unless its definition
/// names its own nameservers), with the namespaces after its own search domains.
pub(crate) fn use_resolver(spec: &mut ContainerSpec, r: &crate::task_manager::Resolver) {
    if spec.network_mode.starts_with("container:") || spec.network_mode == "none" {
        return;
    }
    if spec.dns.is_empty() {
        spec.dns = r.servers.clone();
    }
    for domain in &r.search {
        if !spec.dns_search.contains(domain) {
            spec.dns_search.push(domain.clone());
        }
    }
}

pub fn container_spec(
    ctx: &TaskContext<'_>,
    td: &TaskDefinition,
    overrides: &TaskOverride,
    def: &ContainerDefinition,
    env: Vec<(String, String)>,
) -> ContainerSpec {
    let name = def.name.clone().unwrap_or_default();
    let over = override_for(overrides, &name);
    let network_mode = match ctx.pause {
        Some(pause) => format!("container:{pause}"),
        None => td.network_mode().to_string(),
    };
    // In another container's namespace, the engine takes no hostname, DNS or hosts
    // settings (ECS does not support them in awsvpc mode either).
    let own_network = ctx.pause.is_none();
    let mut labels: BTreeMap<String, String> = def.docker_labels.clone().unwrap_or_default();
    labels.insert(LABEL_CLUSTER.into(), ctx.cluster.into());
    labels.insert(LABEL_TASK_ARN.into(), ctx.task_arn.into());
    labels.insert(LABEL_CONTAINER_NAME.into(), name.clone());
    labels.insert(LABEL_FAMILY.into(), td.family.clone());
    labels.insert(LABEL_REVISION.into(), td.revision.to_string());
    labels.insert(LABEL_INSTANCE.into(), ctx.instance_arn.into());
    let ports = if network_mode == "bridge" {
        def.port_mappings
            .iter()
            .filter_map(|pm| {
                Some(PortSpec {
                    container_port: pm.container_port?,
                    host_port: pm.host_port.filter(|h| *h != 0),
                    protocol: pm.protocol.clone().unwrap_or_else(|| "tcp".into()),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let links = def
        .links
        .iter()
        .flatten()
        .map(|l| {
            let (target, alias) = l.split_once(':').unwrap_or((l, l));
            format!("{}:{alias}", ctx.container_name(target))
        })
        .collect();
    let binds = def
        .mount_points
        .iter()
        .filter_map(|mp| {
            let volume = mp.source_volume.as_deref()?;
            let target = mp.container_path.as_deref()?;
            let source = volume_source(ctx, td, volume);
            let ro = if mp.read_only == Some(true) { ":ro" } else { "" };
            Some(format!("{source}:{target}{ro}"))
        })
        .collect();
    let other = |key: &str| def.other.get(key);
    let strings = |key: &str| -> Vec<String> {
        other(key).and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default()
    };
    let extra_hosts = other("extraHosts")
        .and_then(|v| v.as_array())
        .map(|hosts| {
            hosts
                .iter()
                .filter_map(|h| Some(format!("{}:{}", h.get("hostname")?.as_str()?, h.get("ipAddress")?.as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    let cpu = over.and_then(|o| o.cpu).unwrap_or(def.cpu);
    let linux = other("linuxParameters");
    let capabilities = |which: &str| -> Vec<String> {
        linux
            .and_then(|l| l.get("capabilities"))
            .and_then(|c| c.get(which))
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    };
    ContainerSpec {
        name: ctx.container_name(&name),
        image: def.image.clone().unwrap_or_default(),
        entry_point: def.entry_point.clone(),
        command: over.and_then(|o| o.command.clone()).or_else(|| def.command.clone()),
        env,
        working_dir: def.working_directory.clone(),
        user: def.user.clone(),
        hostname: def.hostname.clone().filter(|_| own_network),
        cpu_shares: Some(cpu.max(2)),
        memory_mib: over.and_then(|o| o.memory).or(def.memory),
        memory_reservation_mib: over.and_then(|o| o.memory_reservation).or(def.memory_reservation),
        network_mode,
        ipv4_address: None,
        ports,
        labels,
        ulimits: def.ulimits.iter().flatten().map(|u| (u.name.clone(), u.soft_limit, u.hard_limit)).collect(),
        links,
        binds,
        health_check: def.health_check.as_ref().map(|h| HealthCheckSpec {
            test: h.command.clone(),
            interval: Duration::from_secs(h.interval.unwrap_or(30) as u64),
            timeout: Duration::from_secs(h.timeout.unwrap_or(5) as u64),
            retries: h.retries.unwrap_or(3) as u32,
            start_period: Duration::from_secs(h.start_period.unwrap_or(0) as u64),
        }),
        // awslogs is the agent's work: the engine keeps the output in its json-file log,
        // which the agent follows; the file's size is what may wait unshipped.
        log: def.log_configuration.as_ref().and_then(|l| match l.log_driver.as_str() {
            "json-file" => Some((l.log_driver.clone(), l.options.clone().unwrap_or_default())),
            berth_model::logs::AWSLOGS => Some(("json-file".to_string(), awslogs_file())),
            _ => None,
        }),
        privileged: def.privileged == Some(true),
        readonly_rootfs: other("readonlyRootFilesystem").and_then(|v| v.as_bool()) == Some(true),
        init: linux.and_then(|l| l.get("initProcessEnabled")).and_then(|v| v.as_bool()) == Some(true),
        extra_hosts: if own_network { extra_hosts } else { Vec::new() },
        dns: if own_network { strings("dnsServers") } else { Vec::new() },
        dns_search: if own_network { strings("dnsSearchDomains") } else { Vec::new() },
        stop_timeout: Some(stop_timeout(def)),
        tmpfs: linux
            .and_then(|l| l.get("tmpfs"))
            .and_then(|t| t.as_array())
            .into_iter()
            .flatten()
            .filter_map(|t| {
                let path = t.get("containerPath")?.as_str()?.to_string();
                let mut options: Vec<String> =
                    t.get("size").and_then(|s| s.as_i64()).map(|s| format!("size={s}m")).into_iter().collect();
                options.extend(
                    t.get("mountOptions")
                        .and_then(|o| o.as_array())
                        .into_iter()
                        .flatten()
                        .filter_map(|o| o.as_str().map(String::from)),
                );
                Some((path, options.join(",")))
            })
            .collect(),
        cap_add: capabilities("add"),
        cap_drop: capabilities("drop"),
        shm_size_mib: linux.and_then(|l| l.get("sharedMemorySize")).and_then(|v| v.as_i64()),
        security_opt: strings("dockerSecurityOptions"),
        sysctls: other("systemControls")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|c| Some((c.get("namespace")?.as_str()?.to_string(), c.get("value")?.as_str()?.to_string())))
            .collect(),
        tty: other("pseudoTerminal").and_then(|v| v.as_bool()) == Some(true),
        open_stdin: other("interactive").and_then(|v| v.as_bool()) == Some(true),
    }
}

/// How long to wait between SIGTERM and SIGKILL for this container.
pub fn stop_timeout(def: &ContainerDefinition) -> Duration {
    def.stop_timeout.map(|s| Duration::from_secs(s.max(0) as u64)).unwrap_or(DEFAULT_STOP_TIMEOUT)
}

/// The Docker volumes private to this task (removed with it).
pub fn task_volumes(ctx: &TaskContext<'_>, td: &TaskDefinition) -> Vec<String> {
    td.volumes
        .iter()
        .filter_map(|v| v.get("name").and_then(|n| n.as_str()))
        .map(|name| volume_source(ctx, td, name))
        .filter(|source| source.starts_with(&format!("berth-{}-", ctx.task_id())))
        .collect()
}

/// A task volume as a bind source: a host path, a shared Docker volume, or a volume
/// private to this task.
fn volume_source(ctx: &TaskContext<'_>, td: &TaskDefinition, volume: &str) -> String {
    let def = td.volumes.iter().find(|v| v.get("name").and_then(|n| n.as_str()) == Some(volume));
    if let Some(path) = def.and_then(|v| v.get("host")).and_then(|h| h.get("sourcePath")).and_then(|p| p.as_str()) {
        return path.to_string();
    }
    let shared =
        def.and_then(|v| v.get("dockerVolumeConfiguration")).and_then(|c| c.get("scope")).and_then(|s| s.as_str())
            == Some("shared");
    if shared {
        volume.to_string()
    } else {
        format!("berth-{}-{volume}", ctx.task_id())
    }
}

/// The engine's log file under an awslogs container: up to 5 × 100 MB of output may wait
/// there for the agent (a server that is down, a container printing faster than it ships);
/// the engine's own default (often 3 × 10 MB) would rotate unshipped lines away.
fn awslogs_file() -> BTreeMap<String, String> {
    BTreeMap::from([("max-size".to_string(), "100m".to_string()), ("max-file".to_string(), "5".to_string())])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn td(v: serde_json::Value) -> TaskDefinition {
        serde_json::from_value(v).unwrap()
    }

    fn ctx() -> TaskContext<'static> {
        TaskContext {
            cluster: "default",
            instance_arn: "arn:i",
            task_arn: "arn:aws:ecs:r:1:task/default/abc",
            pause: None,
        }
    }

    #[test]
    fn maps_a_container_definition() {
        let t = td(json!({
            "taskDefinitionArn": "arn:td", "family": "web", "revision": 3, "status": "ACTIVE", "registeredAt": 0,
            "volumes": [{"name": "data", "host": {"sourcePath": "/srv/data"}}, {"name": "scratch"}],
            "containerDefinitions": [{
                "name": "app", "image": "busybox", "cpu": 0, "memory": 128, "memoryReservation": 64,
                "command": ["httpd"], "portMappings": [{"containerPort": 80, "hostPort": 0, "protocol": "tcp"}, {"containerPort": 81, "hostPort": 8081}],
                "links": ["db:database"], "dockerLabels": {"tier": "web"},
                "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": true}, {"sourceVolume": "scratch", "containerPath": "/tmp/s"}],
                "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
                "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 5, "timeout": 2, "retries": 1},
                "stopTimeout": 7, "extraHosts": [{"hostname": "db.local", "ipAddress": "10.0.0.1"}],
                "linuxParameters": {"initProcessEnabled": true, "sharedMemorySize": 128,
                    "capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD"]},
                    "tmpfs": [{"containerPath": "/run", "size": 32, "mountOptions": ["noexec"]}]},
                "dnsSearchDomains": ["svc.local"], "dockerSecurityOptions": ["no-new-privileges"],
                "systemControls": [{"namespace": "net.core.somaxconn", "value": "1024"}],
                "pseudoTerminal": true, "interactive": true
            }]
        }));
        let overrides: TaskOverride = serde_json::from_value(
            json!({"containerOverrides": [{"name": "app", "command": ["sleep", "1"], "memory": 256}]}),
        )
        .unwrap();
        let s = container_spec(&ctx(), &t, &overrides, &t.container_definitions[0], vec![]);
        assert_eq!(s.name, "berth-abc-app");
        assert_eq!(s.command, Some(vec!["sleep".to_string(), "1".to_string()]));
        assert_eq!((s.memory_mib, s.memory_reservation_mib, s.cpu_shares), (Some(256), Some(64), Some(2)));
        assert_eq!(s.ports[0], PortSpec { container_port: 80, host_port: None, protocol: "tcp".into() });
        assert_eq!(s.ports[1].host_port, Some(8081));
        assert_eq!(s.links, vec!["berth-abc-db:database"]);
        assert_eq!(s.binds, vec!["/srv/data:/data:ro", "berth-abc-scratch:/tmp/s"]);
        assert_eq!(s.labels[LABEL_TASK_ARN], "arn:aws:ecs:r:1:task/default/abc");
        assert_eq!(s.labels["tier"], "web");
        assert_eq!(s.ulimits, vec![("nofile".to_string(), 1024, 2048)]);
        assert_eq!(s.health_check.as_ref().unwrap().interval, Duration::from_secs(5));
        assert_eq!(s.stop_timeout, Some(Duration::from_secs(7)));
        assert!(s.init);
        assert_eq!(s.extra_hosts, vec!["db.local:10.0.0.1"]);
        assert_eq!(s.tmpfs, vec![("/run".to_string(), "size=32m,noexec".to_string())]);
        assert_eq!((s.cap_add.clone(), s.cap_drop.clone()), (vec!["NET_ADMIN".to_string()], vec!["MKNOD".to_string()]));
        assert_eq!(s.shm_size_mib, Some(128));
        assert_eq!(s.dns_search, vec!["svc.local"]);
        assert_eq!(s.security_opt, vec!["no-new-privileges"]);
        assert_eq!(s.sysctls["net.core.somaxconn"], "1024");
        assert!(s.tty && s.open_stdin);
    }

    #[test]
    fn awsvpc_containers_join_the_pause_container() {
        let t = td(json!({
            "taskDefinitionArn": "arn:td", "family": "web", "revision": 1, "status": "ACTIVE", "registeredAt": 0,
            "networkMode": "awsvpc",
            "containerDefinitions": [{"name": "app", "image": "busybox", "portMappings": [{"containerPort": 80}],
                "dnsSearchDomains": ["svc.local"]}]
        }));
        let ctx = TaskContext { pause: Some("berth-abc-pause"), ..ctx() };
        let s = container_spec(&ctx, &t, &TaskOverride::default(), &t.container_definitions[0], vec![]);
        assert_eq!(s.network_mode, "container:berth-abc-pause");
        assert!(s.ports.is_empty() && s.dns_search.is_empty() && s.hostname.is_none());
    }

    #[test]
    fn environment_precedence() {
        let def: ContainerDefinition = serde_json::from_value(json!({
            "name": "a", "environment": [{"name": "A", "value": "def"}, {"name": "B", "value": "def"}],
            "environmentFiles": [{"value": "/env", "type": "s3"}]
        }))
        .unwrap();
        let over: ContainerOverride =
            serde_json::from_value(json!({"name": "a", "environment": [{"name": "B", "value": "override"}]})).unwrap();
        let env = environment(&def, Some(&over), &|_| Ok("# comment\nA=file\nC=file\n".into())).unwrap();
        assert_eq!(env, vec![("A".into(), "def".into()), ("C".into(), "file".into()), ("B".into(), "override".into())]);
        assert!(environment(&def, None, &|_| Err("gone".into())).unwrap_err().contains("/env"));
    }
}
