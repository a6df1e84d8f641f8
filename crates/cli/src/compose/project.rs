//! A Compose project read, converted to ECS shapes (with built images pinned), and the
//! `berth compose convert` command.

use std::path::PathBuf;

use anyhow::{bail, Context};
use berth_client::ServerClient;
use clap::Args;
use serde_json::json;

use crate::calls::Connection;
use berth_compose::{
    convert::{self, Converted, Options},
    load,
};
use berth_model::{
    ecr::{DescribeImagesResponse, GetAuthorizationTokenResponse, ImageIdentifier, ImagesRequest, RepoRequest},
    task_definition::Registration,
};

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

impl ProjectArgs {
    pub fn new(files: Vec<PathBuf>, project_name: Option<String>, service_per_container: bool) -> ProjectArgs {
        ProjectArgs { files, project_name, service_per_container, strict: false }
    }
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

const DEFAULT_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"];

/// Reads the project's files (with `.env` and interpolation); warns about unset variables.
pub(super) fn read(args: &ProjectArgs) -> anyhow::Result<load::Project> {
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
pub(super) fn convert_reported(
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
pub async fn registry_host(client: &ServerClient) -> anyhow::Result<String> {
    let (auth, _): (GetAuthorizationTokenResponse, _) = client
        .ecr("GetAuthorizationToken", &serde_json::Map::new())
        .await
        .map_err(|e| anyhow::anyhow!("GetAuthorizationToken: {e}"))?;
    let endpoint = &auth.authorization_data.first().context("no authorizationData")?.proxy_endpoint;
    Ok(endpoint.trim_start_matches("http://").trim_start_matches("https://").to_string())
}

/// Whether the project builds images (and so needs the registry's address).
pub(super) fn has_builds(project: &load::Project) -> bool {
    let services = project.doc.get("services").and_then(|s| s.as_mapping());
    services.is_some_and(|m| m.values().any(|svc| svc.get("build").is_some()))
}

pub(super) async fn convert_command(args: ConvertArgs) -> anyhow::Result<()> {
    let project = read(&args.project)?;
    let registry = match &args.registry {
        Some(r) => Some(r.clone()),
        None if has_builds(&project) => Some(registry_host(&args.connection.client()?).await?),
        None => None,
    };
    let converted = convert_reported(&args.project, &project, registry)?;
    outln!("{}", serde_json::to_string_pretty(&converted.document())?);
    Ok(())
}

/// The project (with the registry's address when it builds images) and a client.
pub(super) async fn prepare(
    project: &ProjectArgs,
    connection: &Connection,
) -> anyhow::Result<(ServerClient, load::Project, Converted)> {
    let client = connection.client()?;
    let p = read(project)?;
    let registry = if has_builds(&p) { Some(registry_host(&client).await?) } else { None };
    let c = convert_reported(project, &p, registry)?;
    Ok((client, p, c))
}

pub(super) fn service_name(plan: &convert::ServicePlan, override_name: &Option<String>, several: bool) -> String {
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
pub(super) fn fingerprint(td: &Registration, plan: &convert::ServicePlan) -> String {
    use sha2::Digest as _;
    // serde_json's maps are sorted, so equal requests print the same.
    let doc = json!({"taskDefinition": td, "desiredCount": plan.desired_count, "settings": plan.settings});
    hex::encode(&sha2::Sha256::digest(doc.to_string().as_bytes())[..16])
}

/// DescribeImages of one image of `repository`.
pub fn describe_images(repository: &str, id: ImageIdentifier) -> ImagesRequest {
    ImagesRequest {
        repo: RepoRequest { registry_id: None, repository_name: Some(repository.into()) },
        image_ids: Some(vec![id]),
        ..Default::default()
    }
}

/// Checks every built image is in berth's registry and pins it by the digest it has there,
/// so a later push to the same tag does not change what this deploy runs.
pub(super) async fn pin_built_images(client: &ServerClient, converted: &mut Converted) -> anyhow::Result<()> {
    let mut pins = Vec::new();
    for b in &converted.builds {
        let tag = b.image.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
        let (found, _): (DescribeImagesResponse, _) = client
            .ecr("DescribeImages", &describe_images(&b.repository, ImageIdentifier::tag(tag)))
            .await
            .map_err(|_| anyhow::anyhow!("{} is not in the registry yet: run `berth compose build` first", b.image))?;
        let digest = found.image_details.first().map(|d| d.image_digest.clone());
        let Some(digest) = digest else {
            bail!("{} is not in the registry yet: run `berth compose build` first", b.image);
        };
        let name = b.image.rsplit_once(':').map_or(b.image.as_str(), |(n, _)| n);
        pins.push((b.image.clone(), format!("{name}@{digest}")));
    }
    for td in &mut converted.task_definitions {
        for c in td.container_definitions.iter_mut().flatten() {
            if let Some((_, pinned)) = pins.iter().find(|(image, _)| c.image.as_deref() == Some(image.as_str())) {
                c.image = Some(pinned.clone());
            }
        }
    }
    Ok(())
}
