//! `berth compose convert|up|down|ps|build`: a Compose project as ECS task definitions and
//! services on berth.

use std::{path::PathBuf, time::Duration};

use anyhow::{bail, Context};
use berth_client::ServerClient;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::{
    calls::{call, Connection},
    follow::{follow, FollowArgs, Outcome},
    ls::{container_ports, table, tasks_of},
    ui::OutputArgs,
};
use berth_compose::{
    convert::{self, Converted, Options},
    load,
};
use berth_model::{status::ServiceStatus, task::TaskStatus};

#[derive(Subcommand)]
pub enum ComposeCommand {
    /// Print the task definitions and services a project becomes, as JSON.
    Convert(ConvertArgs),
    /// Register the task definition and create or update the service (or run it once with --task).
    Up(UpArgs),
    /// Delete the project's service(s), stopping their tasks.
    Down(DownArgs),
    /// List the project's tasks with state, health and ports.
    Ps(DownArgs),
    /// Build images of services with a `build:` section and push them to berth's registry.
    Build(DownArgs),
}

#[derive(Args, Clone)]
pub struct ProjectArgs {
    /// Compose file(s), merged in order (default: compose.yaml, compose.yml,
    /// docker-compose.yml or docker-compose.yaml here).
    #[arg(short = 'f', long = "file")]
    files: Vec<PathBuf>,
    /// The project name (default: the file's `name:`, COMPOSE_PROJECT_NAME, else the directory's name).
    #[arg(short = 'p', long)]
    project_name: Option<String>,
    /// One ECS service and task definition per compose service.
    #[arg(long)]
    service_per_container: bool,
    /// Refuse a project that has keys berth does not translate.
    #[arg(long)]
    strict: bool,
}

#[derive(Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    project: ProjectArgs,
    /// `host:port` of the registry for images built from `build:` (default: ask the server).
    #[arg(long)]
    registry: Option<String>,
    #[command(flatten)]
    connection: Connection,
}

#[derive(Args)]
pub struct UpArgs {
    #[command(flatten)]
    project: ProjectArgs,
    #[arg(long, default_value = "default")]
    cluster: String,
    /// The ECS service's name (default: the project name).
    #[arg(long)]
    service_name: Option<String>,
    /// Run the task definition once as a task instead of as a service.
    #[arg(long)]
    task: bool,
    #[command(flatten)]
    follow: FollowArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    connection: Connection,
}

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

pub async fn run(command: ComposeCommand) -> anyhow::Result<i32> {
    match command {
        ComposeCommand::Convert(args) => convert_command(args).await.map(|_| 0),
        ComposeCommand::Up(args) => up(args).await,
        ComposeCommand::Down(args) => down(args).await.map(|_| 0),
        ComposeCommand::Ps(args) => ps(args).await.map(|_| 0),
        ComposeCommand::Build(args) => build(args).await.map(|_| 0),
    }
}

const DEFAULT_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"];

/// Reads the project's files (with `.env` and interpolation); warns about unset variables.
fn read(args: &ProjectArgs) -> anyhow::Result<load::Project> {
    let files = if args.files.is_empty() {
        let found = DEFAULT_FILES.iter().map(PathBuf::from).find(|p| p.exists());
        vec![found
            .with_context(|| format!("no compose file: pass -f, or create one of {}", DEFAULT_FILES.join(", ")))?]
    } else {
        args.files.clone()
    };
    let dir = files[0].parent().filter(|d| !d.as_os_str().is_empty()).map(PathBuf::from).unwrap_or_else(|| ".".into());
    let env = load::environment(&dir, std::env::vars())?;
    let project = load::load(&files, args.project_name.as_deref(), &env)?;
    for v in &project.unset {
        let at = load::locate_variable(&project.sources, v).map(|l| format!("{l}: ")).unwrap_or_default();
        eprintln!("warning: {at}variable {v} is not set; it is interpolated as an empty string");
    }
    Ok(project)
}

/// Converts a read project; prints what is not translated (an error with --strict).
fn convert_reported(
    args: &ProjectArgs,
    project: &load::Project,
    registry_host: Option<String>,
) -> anyhow::Result<Converted> {
    let options = Options { service_per_container: args.service_per_container, registry_host };
    let converted = convert::convert(project, &options)?;
    let mut untranslated = 0;
    for n in &converted.notes {
        match n.kind {
            convert::NoteKind::Untranslated => {
                untranslated += 1;
                let (level, tail) = if args.strict { ("error", "") } else { ("warning", " (ignored)") };
                eprintln!("{level}: {} {}{tail}", n.location, n.message());
            }
            convert::NoteKind::Adjusted(_) => eprintln!("warning: {} {}", n.location, n.message()),
        }
    }
    if args.strict && untranslated > 0 {
        bail!("{untranslated} key(s) cannot be translated (--strict)");
    }
    Ok(converted)
}

/// The registry's `host:port`, from GetAuthorizationToken's proxyEndpoint.
pub(crate) async fn registry_host(client: &ServerClient) -> anyhow::Result<String> {
    let (auth, _): (Value, _) = client
        .ecr("GetAuthorizationToken", &json!({}))
        .await
        .map_err(|e| anyhow::anyhow!("GetAuthorizationToken: {e}"))?;
    let endpoint = auth["authorizationData"][0]["proxyEndpoint"].as_str().context("no proxyEndpoint")?;
    Ok(endpoint.trim_start_matches("http://").trim_start_matches("https://").to_string())
}

/// Whether the project builds images (and so needs the registry's address).
fn has_builds(project: &load::Project) -> bool {
    let services = project.doc.get("services").and_then(|s| s.as_mapping());
    services.is_some_and(|m| m.values().any(|svc| svc.get("build").is_some()))
}

async fn convert_command(args: ConvertArgs) -> anyhow::Result<()> {
    let project = read(&args.project)?;
    let registry = match &args.registry {
        Some(r) => Some(r.clone()),
        None if has_builds(&project) => Some(registry_host(&args.connection.client()?).await?),
        None => None,
    };
    let converted = convert_reported(&args.project, &project, registry)?;
    outln!("{}", serde_json::to_string_pretty(&document(&converted))?);
    Ok(())
}

/// What `convert` prints: the RegisterTaskDefinition inputs and the services.
pub fn document(c: &Converted) -> Value {
    let services: Vec<Value> = c
        .services
        .iter()
        .map(|s| {
            let mut v = json!({"serviceName": s.name, "taskDefinition": s.family, "desiredCount": s.desired_count});
            for (k, x) in &s.settings {
                v[k] = x.clone();
            }
            v
        })
        .collect();
    json!({"taskDefinitions": c.task_definitions, "services": services})
}

/// The project (with the registry's address when it builds images) and a client.
async fn prepare(
    project: &ProjectArgs,
    connection: &Connection,
) -> anyhow::Result<(ServerClient, load::Project, Converted)> {
    let client = connection.client()?;
    let p = read(project)?;
    let registry = if has_builds(&p) { Some(registry_host(&client).await?) } else { None };
    let c = convert_reported(project, &p, registry)?;
    Ok((client, p, c))
}

fn service_name(plan: &convert::ServicePlan, override_name: &Option<String>, several: bool) -> String {
    match (override_name, several) {
        (Some(n), false) => n.clone(),
        (Some(n), true) => format!("{n}-{}", plan.name),
        (None, _) => plan.name.clone(),
    }
}

/// The tag that carries a compose service's fingerprint on the task definitions `compose up`
/// registers: the next `up` of an unchanged project compares it and deploys nothing.
pub const FINGERPRINT_TAG: &str = "berth:compose:fingerprint";

/// What `up` would deploy for one service: its task definition and service settings.
fn fingerprint(td: &Value, plan: &convert::ServicePlan) -> String {
    use sha2::Digest as _;
    // serde_json's maps are sorted, so equal requests print the same.
    let doc = json!({"taskDefinition": td, "desiredCount": plan.desired_count, "settings": plan.settings});
    hex::encode(&sha2::Sha256::digest(doc.to_string().as_bytes())[..16])
}

/// Checks every built image is in berth's registry and pins it by the digest it has there,
/// so a later push to the same tag does not change what this deploy runs.
async fn pin_built_images(client: &ServerClient, converted: &mut Converted) -> anyhow::Result<()> {
    let mut pins = Vec::new();
    for b in &converted.builds {
        let tag = b.image.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
        let (found, _): (Value, _) = client
            .ecr("DescribeImages", &json!({"repositoryName": b.repository, "imageIds": [{"imageTag": tag}]}))
            .await
            .map_err(|_| anyhow::anyhow!("{} is not in the registry yet: run `berth compose build` first", b.image))?;
        let digest = found["imageDetails"][0]["imageDigest"].as_str().map(String::from);
        let Some(digest) = digest else {
            bail!("{} is not in the registry yet: run `berth compose build` first", b.image);
        };
        let name = b.image.rsplit_once(':').map_or(b.image.as_str(), |(n, _)| n);
        pins.push((b.image.clone(), format!("{name}@{digest}")));
    }
    for td in &mut converted.task_definitions {
        for c in td["containerDefinitions"].as_array_mut().into_iter().flatten() {
            if let Some((_, pinned)) = pins.iter().find(|(image, _)| c["image"].as_str() == Some(image.as_str())) {
                c["image"] = json!(pinned);
            }
        }
    }
    Ok(())
}

async fn up(args: UpArgs) -> anyhow::Result<i32> {
    let (client, project, mut converted) = prepare(&args.project, &args.connection).await?;
    let progress = args.output.progress();
    pin_built_images(&client, &mut converted).await?;
    if !args.task {
        return up_services(args, client, project, converted, progress).await;
    }
    let mut td_arns = Vec::new();
    for td in &converted.task_definitions {
        let r = call(&client, "RegisterTaskDefinition", td).await?;
        let arn = r["taskDefinition"]["taskDefinitionArn"].as_str().context("no task definition ARN")?.to_string();
        progress.line(&format!("registered {arn}"));
        td_arns.push(arn);
    }
    let mut results = Vec::new();
    let mut code = 0;
    for td in &td_arns {
        let r = call(
            &client,
            "RunTask",
            &json!({"cluster": args.cluster, "taskDefinition": td, "startedBy": format!("compose/{}", project.name)}),
        )
        .await?;
        let Some(arn) = r["tasks"][0]["taskArn"].as_str().map(String::from) else {
            bail!("RunTask placed no task: {}", r["failures"]);
        };
        progress.line(&format!("started {arn}"));
        let mut state = TaskStatus::Provisioning.as_str().to_string();
        let mut exit = Value::Null;
        if args.follow.wait {
            match crate::run_task::wait_stopped(
                &client,
                &args.cluster,
                &arn,
                td,
                false,
                Duration::from_secs(args.follow.timeout),
                &progress,
            )
            .await?
            {
                crate::run_task::Waited::Stopped(_, c) => {
                    state = TaskStatus::Stopped.as_str().into();
                    exit = json!(c);
                    code = if code == 0 { c } else { code };
                }
                crate::run_task::Waited::TimedOut => {
                    progress.line(&format!("{arn}: timed out; the task is still running"));
                    state = "TIMED_OUT".into();
                    code = crate::run_task::TIMED_OUT;
                }
                crate::run_task::Waited::Unreachable => {
                    state = "UNREACHABLE".into();
                    code = crate::run_task::UNREACHABLE;
                }
            }
        }
        results.push(json!({"taskArn": arn, "taskDefinitionArn": td, "state": state, "exitCode": exit}));
    }
    progress.finish();
    let first = &results[0];
    let mut env = vec![
        ("BERTH_TASK_ARN", first["taskArn"].as_str().unwrap_or("").to_string()),
        ("BERTH_TASK_DEFINITION_ARN", td_arns[0].clone()),
        ("BERTH_STATE", first["state"].as_str().unwrap_or("").to_string()),
    ];
    if let Some(c) = first["exitCode"].as_i64() {
        env.push(("BERTH_EXIT_CODE", c.to_string()));
    }
    let text = results.iter().map(|r| r["taskArn"].as_str().unwrap_or("").to_string()).collect::<Vec<_>>().join("\n");
    args.output.emit(&text, &json!({"project": project.name, "tasks": results}), &env)?;
    Ok(code)
}

/// `compose up` of services: registers and deploys what changed since the last `up`; a
/// service whose task definition and settings are as last deployed is left alone.
async fn up_services(
    args: UpArgs,
    client: ServerClient,
    project: load::Project,
    converted: Converted,
    progress: crate::ui::Progress,
) -> anyhow::Result<i32> {
    let several = converted.services.len() > 1;
    let mut results = Vec::new();
    let mut td_arns = Vec::new();
    for (plan, td_request) in converted.services.iter().zip(&converted.task_definitions) {
        let name = service_name(plan, &args.service_name, several);
        let existing = call(&client, "DescribeServices", &json!({"cluster": args.cluster, "services": [name]})).await?;
        let current = existing["services"]
            .as_array()
            .and_then(|s| s.first())
            .filter(|s| s["status"].as_str() == Some(ServiceStatus::Active.as_str()))
            .cloned();
        let active = current.is_some();
        let print = fingerprint(td_request, plan);
        if let Some(svc) = &current {
            let current_td = svc["taskDefinition"].as_str().unwrap_or_default();
            let described =
                call(&client, "DescribeTaskDefinition", &json!({"taskDefinition": current_td, "include": ["TAGS"]}))
                    .await?;
            let deployed = described["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|t| t["key"].as_str() == Some(FINGERPRINT_TAG))
                .and_then(|t| t["value"].as_str());
            if deployed == Some(print.as_str()) {
                progress.line(&format!("service {name} is unchanged: nothing to deploy"));
                let deployment = svc["deployments"][0]["id"].as_str().unwrap_or("").to_string();
                let arn = svc["serviceArn"].as_str().unwrap_or("").to_string();
                td_arns.push(current_td.to_string());
                results.push((name, arn, deployment, current_td.to_string()));
                continue;
            }
        }
        let mut request = td_request.clone();
        let mut tags = request["tags"].as_array().cloned().unwrap_or_default();
        tags.push(json!({"key": FINGERPRINT_TAG, "value": print}));
        request["tags"] = json!(tags);
        let r = call(&client, "RegisterTaskDefinition", &request).await?;
        let td = r["taskDefinition"]["taskDefinitionArn"].as_str().context("no task definition ARN")?.to_string();
        progress.line(&format!("registered {td}"));
        td_arns.push(td.clone());
        let td = &td;
        let mut body = json!({"cluster": args.cluster, "taskDefinition": td, "desiredCount": plan.desired_count});
        let answer = if active {
            body["service"] = json!(name);
            for key in [
                "deploymentConfiguration",
                "placementConstraints",
                "placementStrategy",
                "healthCheckGracePeriodSeconds",
                "enableECSManagedTags",
                "propagateTags",
            ] {
                if let Some(v) = plan.settings.get(key) {
                    body[key] = v.clone();
                }
            }
            call(&client, "UpdateService", &body).await?
        } else {
            body["serviceName"] = json!(name);
            for (k, v) in &plan.settings {
                body[k] = v.clone();
            }
            call(&client, "CreateService", &body).await?
        };
        let svc = &answer["service"];
        let deployment = svc["deployments"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|d| d["status"].as_str() == Some("PRIMARY"))
            .and_then(|d| d["id"].as_str())
            .unwrap_or("")
            .to_string();
        progress
            .line(&format!("{} service {name} with {td} ({deployment})", if active { "updated" } else { "created" }));
        results.push((name, svc["serviceArn"].as_str().unwrap_or("").to_string(), deployment, td.clone()));
    }
    let mut worst = Outcome::Completed;
    let mut states = Vec::new();
    for (name, _, _, _) in &results {
        let state = if args.follow.wait {
            let (o, _) =
                follow(&client, &args.cluster, name, Duration::from_secs(args.follow.timeout), &progress).await?;
            if worst == Outcome::Completed {
                worst = o;
            }
            o.state()
        } else {
            "IN_PROGRESS"
        };
        states.push(state);
    }
    progress.finish();
    let services: Vec<Value> = results
        .iter()
        .zip(&states)
        .map(|((n, arn, d, td), s)| json!({"serviceName": n, "serviceArn": arn, "deploymentId": d, "taskDefinitionArn": td, "state": s}))
        .collect();
    let (_, arn, dep, td) = &results[0];
    let env = vec![
        ("BERTH_TASK_DEFINITION_ARN", td.clone()),
        ("BERTH_SERVICE_ARN", arn.clone()),
        ("BERTH_DEPLOYMENT_ID", dep.clone()),
        ("BERTH_STATE", states[0].to_string()),
    ];
    let text = services
        .iter()
        .map(|s| {
            format!(
                "{} {} {}",
                s["serviceName"].as_str().unwrap_or(""),
                s["deploymentId"].as_str().unwrap_or(""),
                s["state"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    args.output.emit(
        &text,
        &json!({"project": project.name, "taskDefinitionArns": td_arns, "services": services}),
        &env,
    )?;
    Ok(worst as i32)
}

async fn down(args: DownArgs) -> anyhow::Result<()> {
    let client = args.connection.client()?;
    let converted = convert_reported(&args.project, &read(&args.project)?, Some("REGISTRY".into()))?;
    let several = converted.services.len() > 1;
    let mut deleted = Vec::new();
    for plan in &converted.services {
        let name = service_name(plan, &args.service_name, several);
        match client
            .ecs::<Value>("DeleteService", &json!({"cluster": args.cluster, "service": name, "force": true}))
            .await
        {
            Ok((r, _)) => deleted.push(
                json!({"serviceName": name, "serviceArn": r["service"]["serviceArn"], "state": r["service"]["status"]}),
            ),
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
                .filter(|t| t["lastStatus"].as_str() != Some(TaskStatus::Stopped.as_str()))
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

async fn ps(args: DownArgs) -> anyhow::Result<()> {
    let client = args.connection.client()?;
    let converted = convert_reported(&args.project, &read(&args.project)?, Some("REGISTRY".into()))?;
    let several = converted.services.len() > 1;
    let mut rows = Vec::new();
    let mut all = Vec::new();
    for plan in &converted.services {
        let name = service_name(plan, &args.service_name, several);
        for t in tasks_of(&client, &args.cluster, Some(&name), false).await? {
            let task = t["taskArn"].as_str().unwrap_or("").rsplit('/').next().unwrap_or("").to_string();
            // One row per compose service (a container of the task), with its own ports.
            for c in t["containers"].as_array().into_iter().flatten() {
                rows.push(vec![
                    c["name"].as_str().unwrap_or("").to_string(),
                    task.clone(),
                    c["lastStatus"].as_str().unwrap_or("").to_string(),
                    c["healthStatus"].as_str().unwrap_or("").to_string(),
                    container_ports(c),
                ]);
            }
            all.push(t);
        }
    }
    rows.sort();
    args.output.emit(&table(&["SERVICE", "TASK", "STATUS", "HEALTH", "PORTS"], &rows), &json!(all), &[])
}

async fn build(args: DownArgs) -> anyhow::Result<()> {
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
