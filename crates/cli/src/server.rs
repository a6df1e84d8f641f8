//! `berth server` / `berth up`: open the store, load the state, serve the API.

use std::sync::Arc;

use anyhow::Context;
use berth_api::{Api, ApiConfig};
use berth_control::{Control, HealthConfig, ServiceControllerConfig};
use berth_registry::{Registry, RegistryConfig, TokenKey};
use berth_runtime::docker::DockerRuntime;
use berth_store::SqliteStore;
use std::time::Duration;

use crate::{credentials, ServerArgs};

pub async fn run(args: ServerArgs, mode: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let data_dir = args.data_dir.canonicalize()?;
    let credentials_path = data_dir.join("credentials");
    let credential = credentials::load_or_create(&credentials_path)?;
    let store: Arc<dyn berth_store::Store> = Arc::new(SqliteStore::open(&data_dir).context("opening the state store")?);
    let (records, revision) = store.load().context("loading the state store")?;
    let control =
        Control::open_loaded(store.clone(), &records, revision).map_err(|e| anyhow::anyhow!("loading state: {e}"))?;
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let local = listener.local_addr()?;
    let registry_host = args.registry_host.clone().unwrap_or_else(|| {
        let ip = if local.ip().is_unspecified() { std::net::Ipv4Addr::LOCALHOST.into() } else { local.ip() };
        std::net::SocketAddr::new(ip, local.port()).to_string()
    });
    let registry = Registry::open_loaded(
        RegistryConfig {
            data_dir: data_dir.clone(),
            account: args.account_id.clone(),
            host: registry_host.clone(),
            token_key: TokenKey::derive(credential.secret_access_key.as_bytes()),
            gc_grace: Duration::from_secs(args.registry_gc_grace_secs),
        },
        store,
        &records,
    )
    .map_err(|e| anyhow::anyhow!("loading the registry: {e}"))?;
    drop(records);
    registry.spawn_maintenance(Duration::from_secs(600));
    control.spawn_instance_health(HealthConfig {
        heartbeat_timeout: Duration::from_secs(args.heartbeat_timeout),
        disconnected_grace: Duration::from_secs(args.disconnected_grace),
        ..HealthConfig::default()
    });
    control.spawn_service_controller(ServiceControllerConfig {
        settle: Duration::from_millis(args.task_settle_ms),
        ..ServiceControllerConfig::default()
    });
    if args.insecure_accept_any_credentials {
        tracing::warn!("--insecure-accept-any-credentials is ON: any well-formed signature is accepted, whatever its secret. Do not expose this server.");
    }
    let api = Api::new(
        control,
        registry,
        ApiConfig {
            account_id: args.account_id.clone(),
            credentials: vec![credential.clone()],
            accept_any_credentials: args.insecure_accept_any_credentials,
        },
    );
    let endpoint = format!("http://{local}");
    println!("berth {mode} listening on {endpoint}");
    println!("data directory: {}", data_dir.display());
    println!("Use it with the aws CLI:");
    println!(
        "  export AWS_SHARED_CREDENTIALS_FILE={} AWS_PROFILE={} AWS_DEFAULT_REGION={}",
        credentials_path.display(),
        credentials::PROFILE,
        args.region
    );
    println!("  aws --endpoint-url {endpoint} ecs list-clusters");
    println!("Registry (ECR) at {registry_host}:");
    println!(
        "  aws --endpoint-url {endpoint} ecr get-login-password | docker login --username AWS --password-stdin {registry_host}"
    );
    if mode == "up" {
        start_local_agent(&endpoint, &data_dir, credential, &args.region).await;
    }
    berth_api::serve(listener, api, shutdown_signal()).await;
    tracing::info!("stopped");
    Ok(())
}

/// `berth up`'s agent: the local Docker engine joins the `default` cluster. Without a
/// reachable engine the server runs alone and says why.
async fn start_local_agent(
    endpoint: &str,
    data_dir: &std::path::Path,
    credential: berth_sigv4::Credential,
    region: &str,
) {
    let docker = match DockerRuntime::connect().await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "no Docker engine: berth up runs without a local agent");
            return;
        }
    };
    let config = crate::agent::local_config(endpoint, data_dir, credential, region);
    tokio::spawn(async move {
        if let Err(e) = berth_agent::run(config, Arc::new(docker)).await {
            tracing::error!(error = %e, "the local agent stopped");
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
