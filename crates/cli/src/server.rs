//! `berth server` / `berth up`: start a [`berth_server::Server`] from the flags, print how
//! to use it, and (for `up`) join the local Docker engine as an agent.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use berth_control::{HealthConfig, ServiceControllerConfig};
use berth_runtime::docker::DockerRuntime;
use berth_server::{Server, ServerConfig};

use crate::{credentials, ServerArgs};

pub async fn run(args: ServerArgs, mode: &str) -> anyhow::Result<()> {
    if !berth_model::arn::valid_region(&args.region) {
        anyhow::bail!("--region '{}' is not a region name (for example us-east-1)", args.region);
    }
    berth_server::raise_descriptor_limit();
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let data_dir = args.data_dir.canonicalize()?;
    let credentials_path = data_dir.join("credentials");
    let credential = credentials::load_or_create(&credentials_path)?;
    let mut config = ServerConfig::new(args.listen, data_dir.clone(), credential.clone());
    config.account_id = args.account_id.clone();
    config.accept_any_credentials = args.insecure_accept_any_credentials;
    config.registry_host = args.registry_host.clone();
    config.registry_gc_grace = Duration::from_secs(args.registry_gc_grace_secs);
    config.health = HealthConfig {
        heartbeat_timeout: Duration::from_secs(args.heartbeat_timeout),
        disconnected_grace: Duration::from_secs(args.disconnected_grace),
        ..HealthConfig::default()
    };
    config.service_controller = ServiceControllerConfig {
        settle: Duration::from_millis(args.task_settle_ms),
        dns_drain_max: Duration::from_secs(args.dns_drain_max_secs),
        ..ServiceControllerConfig::default()
    };
    config.connections.max_connections = args.max_connections;
    config.lb = berth_lb::LbConfig {
        listen: args.lb_listen,
        initial_check_interval: Duration::from_millis(args.lb_initial_check_ms.max(1)),
        threads: args.lb_threads.max(1),
    };
    config.lb_dns_name = args.lb_dns_name.clone();
    config.task_pool = args.task_cidr;
    for spec in &args.scale_commands {
        let Some((group, command)) = spec.split_once('=').filter(|(g, c)| !g.is_empty() && !c.is_empty()) else {
            anyhow::bail!("--scale-command takes GROUP=COMMAND, not '{spec}'");
        };
        config.managed_scaling.commands.insert(group.to_string(), command.to_string());
    }
    config.managed_scaling.scale_in_idle = Duration::from_secs(args.scale_in_idle_secs);
    config.task_routes = args.task_routes;
    if args.dns_listen != "off" {
        let listen = args
            .dns_listen
            .parse()
            .with_context(|| format!("--dns-listen '{}' is not ADDRESS:PORT", args.dns_listen))?;
        config.dns_listen = Some(listen);
        config.dns_fallback = args.dns_listen == crate::DEFAULT_DNS_LISTEN;
    }
    let mut server = Server::start(config).await?;
    let endpoint = server.endpoint();
    let registry_host = server.registry_host().to_string();
    println!("berth {mode} listening on {endpoint}");
    println!("data directory: {}", data_dir.display());
    println!("Use it with the aws CLI:");
    println!(
        "  export AWS_SHARED_CREDENTIALS_FILE={} AWS_PROFILE={} AWS_DEFAULT_REGION={} BERTH_ENDPOINT_URL={endpoint}",
        credentials_path.display(),
        credentials::PROFILE,
        args.region
    );
    println!("  aws --endpoint-url {endpoint} ecs list-clusters");
    if let Some(dns) = server.dns_addr() {
        // Every address: this host's loopback answers too.
        let ask = if dns.ip().is_unspecified() { std::net::Ipv4Addr::LOCALHOST.into() } else { dns.ip() };
        println!("DNS for Cloud Map namespaces at {dns} (UDP and TCP); try: dig @{ask} -p {} NAME", dns.port());
    }
    println!("Registry (ECR) at {registry_host}:");
    println!(
        "  aws --endpoint-url {endpoint} ecr get-login-password | docker login --username AWS --password-stdin {registry_host}"
    );
    if mode == "up" {
        start_local_agent(&endpoint, &data_dir, credential, &args.region).await;
    }
    shutdown_signal().await;
    server.shutdown();
    server.join().await;
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
    let docker = Arc::new(docker);
    // One agent joins the default cluster; another offers the same engine as Fargate
    // capacity, so FARGATE tasks run here too.
    for fargate in [false, true] {
        let config = crate::agent::local_config(endpoint, data_dir, credential.clone(), region, fargate);
        let docker = docker.clone();
        tokio::spawn(async move {
            if let Err(e) = berth_agent::run(config, docker).await {
                tracing::error!(error = %e, fargate, "a local agent stopped");
            }
        });
    }
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
