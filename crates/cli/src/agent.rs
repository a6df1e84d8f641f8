//! `berth agent`: join a cluster and run its tasks on the local Docker engine.

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::{bail, Context};
use berth_agent::AgentConfig;
use berth_runtime::docker::DockerRuntime;
use clap::Args;

use crate::credentials;

#[derive(Args, Clone)]
pub struct AgentArgs {
    /// The berth server's endpoint, e.g. http://10.0.0.1:7480.
    #[arg(long)]
    server: String,
    /// The cluster to join (`default` is created if missing).
    #[arg(long, default_value = "default")]
    cluster: String,
    /// Where the agent keeps its identity (so a restart stays the same instance).
    #[arg(long, default_value = "berth-agent-data")]
    data_dir: PathBuf,
    /// A custom attribute, KEY=VALUE; repeatable.
    #[arg(long = "attribute", value_name = "KEY=VALUE")]
    attributes: Vec<String>,
    /// Reported as ecs.availability-zone (default `local`).
    #[arg(long)]
    availability_zone: Option<String>,
    /// Reported as ecs.instance-type (default `berth.host`).
    #[arg(long)]
    instance_type: Option<String>,
    /// CPU units to offer (default 1024 per core).
    #[arg(long)]
    cpu: Option<i64>,
    /// Memory to offer in MiB (default: the host's memory minus 256 MiB).
    #[arg(long)]
    memory: Option<i64>,
    /// The region to register in (default AWS_DEFAULT_REGION, else us-east-1).
    #[arg(long, env = "AWS_DEFAULT_REGION", default_value = "us-east-1")]
    region: String,
    /// Seconds between heartbeats.
    #[arg(long, default_value_t = 5)]
    heartbeat_interval: u64,
    /// Seconds between measurements of the running tasks' CPU and memory (the AWS/ECS
    /// metrics service auto scaling reacts to); 0 turns measuring off.
    #[arg(long, default_value_t = 2.0)]
    stats_interval: f64,
    /// When images are pulled, as the ECS agent's setting: `default` (pull every time, run
    /// the cached image if the pull fails), `always`, `once`, `prefer-cached`.
    #[arg(long, env = "ECS_IMAGE_PULL_BEHAVIOR", default_value = "default")]
    image_pull_behavior: berth_agent::ImagePullBehavior,
    /// Offer this host as Fargate capacity (tasks of any cluster with launchType FARGATE
    /// or a FARGATE/FARGATE_SPOT provider) instead of joining --cluster as a container
    /// instance.
    #[arg(long)]
    fargate: bool,
    /// Join the Auto Scaling group an EC2 capacity provider names (its ARN or name).
    #[arg(long)]
    auto_scaling_group: Option<String>,
    /// Route the other hosts' awsvpc task subnets to them and accept forwarded traffic to
    /// this host's (needs root, `ip` and `iptables`).
    #[arg(long)]
    task_routes: bool,
}

fn parse_attributes(raw: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    raw.iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => bail!("--attribute takes KEY=VALUE, not '{a}'"),
        })
        .collect()
}

pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let config = AgentConfig {
        server: args.server.clone(),
        cluster: args.cluster.clone(),
        data_dir: args.data_dir.clone(),
        credential: credentials::from_environment()?,
        region: args.region.clone(),
        attributes: parse_attributes(&args.attributes)?,
        availability_zone: args.availability_zone.clone(),
        instance_type: args.instance_type.clone(),
        cpu: args.cpu,
        memory: args.memory,
        heartbeat_interval: Duration::from_secs(args.heartbeat_interval.max(1)),
        poll_wait: Duration::from_secs(20),
        image_pull_behavior: args.image_pull_behavior,
        fargate: args.fargate,
        auto_scaling_group: args.auto_scaling_group.clone(),
        task_routes: args.task_routes,
        stats_interval: (args.stats_interval > 0.0).then(|| Duration::from_secs_f64(args.stats_interval.max(0.1))),
    };
    let docker = DockerRuntime::connect().await.context("connecting to the Docker engine")?;
    berth_agent::run(config, Arc::new(docker)).await?;
    Ok(())
}

/// An agent `berth up` runs beside the server: the default cluster's instance, or (with
/// `fargate`) the host's Fargate capacity.
pub fn local_config(
    endpoint: &str,
    data_dir: &std::path::Path,
    credential: berth_sigv4::Credential,
    region: &str,
    fargate: bool,
) -> AgentConfig {
    let dir = data_dir.join(if fargate { "fargate-agent" } else { "agent" });
    AgentConfig {
        region: region.to_string(),
        fargate,
        ..AgentConfig::new(endpoint, berth_model::cluster::DEFAULT_CLUSTER, dir, credential)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes() {
        assert_eq!(
            parse_attributes(&["a=b".into(), "c=".into()]).unwrap(),
            vec![("a".into(), "b".into()), ("c".into(), "".into())]
        );
        assert!(parse_attributes(&["nope".into()]).is_err());
    }
}
