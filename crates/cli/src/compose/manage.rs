//! `berth compose down|ps|build`.

use std::time::Duration;

use anyhow::{bail, Context};
use berth_client::ServerClient;
use clap::Args;
use serde_json::{json, Value};

use super::project::*;
use crate::{
    calls::Connection,
    ls::{container_ports, table, tasks_of},
    ui::OutputArgs,
};
use berth_model::{
    ecs::{op, DeleteServiceRequest},
    task::TaskStatus,
};

#[derive(Args)]
pub struct DownArgs {
    #[command(flatten)]
    project: ProjectArgs,
    #[arg(long, default_value = "default")]
    cluster: String,
    #[arg(long)]
    service_name: Option<String>,
    /// `down`: how long to wait for the tasks to stop (0: do not wait).
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    connection: Connection,
}

pub(super) async fn down(args: DownArgs) -> anyhow::Result<()> {
    let client = args.connection.client()?;
    let converted = convert_reported(&args.project, &read(&args.project)?, Some("REGISTRY".into()))?;
    let several = converted.services.len() > 1;
    let mut deleted = Vec::new();
    for plan in &converted.services {
        let name = service_name(plan, &args.service_name, several);
        let delete = DeleteServiceRequest {
            cluster: Some(args.cluster.clone()),
            service: Some(name.clone()),
            force: Some(true),
        };
        match client.call::<op::DeleteService>(&delete).await {
            Ok(r) => deleted
                .push(json!({"serviceName": name, "serviceArn": r.service.service_arn, "state": r.service.status})),
            Err(e)
                if e.to_string().contains("ServiceNotFoundException")
                    || e.to_string().contains("ServiceNotActiveException") =>
            {
                eprintln!("service {name} does not exist (or is already being deleted)");
            }
            Err(e) => bail!("DeleteService {name}: {e}"),
        }
    }
    let names: Vec<String> = deleted.iter().filter_map(|d| d["serviceName"].as_str().map(String::from)).collect();
    let stopped = wait_tasks_stopped(&client, &args.cluster, &names, Duration::from_secs(args.timeout)).await?;
    for plan in &converted.services {
        let name = service_name(plan, &args.service_name, several);
        super::balancer::remove(&client, &name, &plan.published).await?;
    }
    if stopped {
        // Once every task is gone, so are their registrations: the namespace can go too.
        let project = read(&args.project)?.name;
        super::discovery::remove(&client, &project, converted.services.iter().filter_map(|p| p.discovery.as_deref()))
            .await?;
    }
    let state = if stopped { "deleted" } else { "deleted, tasks still stopping" };
    if !stopped && args.timeout > 0 {
        eprintln!("the tasks did not all stop within {} s; they are still stopping", args.timeout);
    }
    let text = names.iter().map(|n| format!("{state} {n}")).collect::<Vec<_>>().join("\n");
    args.output.emit(&text, &json!({"services": deleted, "tasksStopped": stopped}), &[])
}

/// Waits until no task of `services` is left running (or `timeout`); whether they all stopped.
async fn wait_tasks_stopped(
    client: &ServerClient,
    cluster: &str,
    services: &[String],
    timeout: Duration,
) -> anyhow::Result<bool> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let mut left = 0;
        for s in services {
            left += tasks_of(client, cluster, Some(s), true)
                .await?
                .iter()
                .filter(|t| t.last_status != TaskStatus::Stopped)
                .count();
        }
        if left == 0 {
            return Ok(true);
        }
        if std::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub(super) async fn ps(args: DownArgs) -> anyhow::Result<()> {
    let client = args.connection.client()?;
    let converted = convert_reported(&args.project, &read(&args.project)?, Some("REGISTRY".into()))?;
    let several = converted.services.len() > 1;
    let mut rows = Vec::new();
    let mut all = Vec::new();
    for plan in &converted.services {
        let name = service_name(plan, &args.service_name, several);
        for t in tasks_of(&client, &args.cluster, Some(&name), false).await? {
            let task = t.id().to_string();
            // One row per compose service (a container of the task), with its own ports.
            for c in &t.containers {
                rows.push(vec![
                    c.name.clone(),
                    task.clone(),
                    c.last_status.to_string(),
                    c.health_status.to_string(),
                    container_ports(c),
                ]);
            }
            all.push(t);
        }
    }
    rows.sort();
    args.output.emit(&table(&["SERVICE", "TASK", "STATUS", "HEALTH", "PORTS"], &rows), &json!(all), &[])
}

pub(super) async fn build(args: DownArgs) -> anyhow::Result<()> {
    let (client, _, converted) = prepare(&args.project, &args.connection).await?;
    if converted.builds.is_empty() {
        bail!("no service has a build section");
    }
    let registry = registry_host(&client).await?;
    let (auth, _): (Value, _) =
        client.ecr("GetAuthorizationToken", &json!({})).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let token = auth["authorizationData"][0]["authorizationToken"].as_str().context("no token")?;
    use base64::Engine;
    let decoded = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(token)?)?;
    let password = decoded.split_once(':').map(|(_, p)| p.to_string()).context("malformed token")?;
    // Log in with a throwaway docker config so no credential is left behind.
    let config = tempfile::tempdir()?;
    let docker = |args: &[&str], stdin: Option<&str>| -> anyhow::Result<String> {
        use std::io::Write;
        let mut child = std::process::Command::new("docker")
            .arg("--config")
            .arg(config.path())
            .args(args)
            .stdin(if stdin.is_some() { std::process::Stdio::piped() } else { std::process::Stdio::null() })
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .context("running docker")?;
        if let Some(s) = stdin {
            child.stdin.take().context("stdin")?.write_all(s.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!("docker {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    docker(&["login", "--username", "AWS", "--password-stdin", &registry], Some(&password))?;
    let progress = args.output.progress();
    let mut pushed = Vec::new();
    for b in &converted.builds {
        match client.ecr::<Value>("CreateRepository", &json!({"repositoryName": b.repository})).await {
            Ok(_) => progress.line(&format!("created repository {}", b.repository)),
            Err(e) if e.to_string().contains("RepositoryAlreadyExistsException") => {}
            Err(e) => bail!("CreateRepository {}: {e}", b.repository),
        }
        let mut build_args = vec!["build".to_string(), "-q".into(), "-t".into(), b.image.clone()];
        if let Some(f) = &b.dockerfile {
            build_args.extend(["-f".into(), b.context.join(f).to_string_lossy().into_owned()]);
        }
        for (k, v) in &b.args {
            build_args.extend(["--build-arg".into(), format!("{k}={v}")]);
        }
        if let Some(t) = &b.target {
            build_args.extend(["--target".into(), t.clone()]);
        }
        build_args.push(b.context.to_string_lossy().into_owned());
        progress.status(&format!("building {}", b.service));
        docker(&build_args.iter().map(String::as_str).collect::<Vec<_>>(), None)?;
        progress.status(&format!("pushing {}", b.image));
        let out = docker(&["push", &b.image], None)?;
        let digest = out.split("digest: ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or("").to_string();
        progress.line(&format!("pushed {} {digest}", b.image));
        pushed.push(json!({"service": b.service, "image": b.image, "digest": digest}));
    }
    progress.finish();
    let text = pushed
        .iter()
        .map(|p| format!("{} {}", p["image"].as_str().unwrap_or(""), p["digest"].as_str().unwrap_or("")))
        .collect::<Vec<_>>()
        .join("\n");
    args.output.emit(&text, &json!({"images": pushed}), &[])
}
