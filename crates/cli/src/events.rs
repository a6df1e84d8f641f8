//! `berth events`: service events of a cluster, oldest first; `--follow` keeps printing
//! new ones as they happen.

use std::{collections::HashSet, time::Duration};

use berth_model::ecs::{op, DescribeServicesRequest};
use clap::Args;
use serde_json::json;

use crate::{
    calls::{request, Connection},
    ls::service_arns,
};

#[derive(Args)]
pub struct EventsArgs {
    #[arg(long, default_value = "default")]
    cluster: String,
    /// Only this service's events.
    #[arg(long)]
    service: Option<String>,
    /// Keep watching for new events.
    #[arg(long)]
    follow: bool,
    /// `json` prints one JSON object per event and line.
    #[arg(long, value_enum, default_value = "text")]
    output: crate::ui::Format,
}

#[derive(Args)]
pub struct EventsCommand {
    #[command(flatten)]
    args: EventsArgs,
    #[command(flatten)]
    connection: Connection,
}

/// The events of the services, oldest first, as (createdAt, service, id, message).
async fn collect(
    client: &berth_client::ServerClient,
    cluster: &str,
    service: Option<&str>,
) -> anyhow::Result<Vec<(f64, String, String, String)>> {
    let names = match service {
        Some(s) => vec![s.to_string()],
        None => service_arns(client, cluster).await?,
    };
    let mut out = Vec::new();
    for chunk in names.chunks(10) {
        let req = DescribeServicesRequest {
            cluster: Some(cluster.into()),
            services: Some(chunk.to_vec()),
            include: Vec::new(),
        };
        let d = request::<op::DescribeServices>(client, &req).await?;
        for s in &d.services {
            for e in &s.events {
                out.push((e.created_at, s.service_name.clone(), e.id.clone(), e.message.clone()));
            }
        }
        if let (Some(s), Some(f)) = (service, d.failures.first()) {
            anyhow::bail!("service {s}: {}", f.reason.as_deref().unwrap_or("not found"));
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(out)
}

fn print(event: &(f64, String, String, String), format: crate::ui::Format) {
    if format == crate::ui::Format::Json {
        let line = json!({"createdAt": event.0, "serviceName": event.1, "id": event.2, "message": event.3});
        outln!("{line}");
        return;
    }
    outln!("{}  {}", crate::ui::format_time(event.0 as i64), event.3);
}

pub async fn run(command: EventsCommand) -> anyhow::Result<()> {
    let client = command.connection.client()?;
    let a = command.args;
    let mut seen = HashSet::new();
    let mut pause = Duration::from_secs(1);
    let mut unreachable = false;
    loop {
        match collect(&client, &a.cluster, a.service.as_deref()).await {
            Ok(events) => {
                if unreachable {
                    eprintln!("reached {} again", client.endpoint());
                    unreachable = false;
                    pause = Duration::from_secs(1);
                }
                for e in events {
                    if seen.insert(e.2.clone()) {
                        print(&e, a.output);
                    }
                }
            }
            // Following rides out a server restart, like `tail -F`.
            Err(e) if a.follow && crate::calls::is_transient(&e) => {
                if !unreachable {
                    eprintln!("{e}; retrying");
                    unreachable = true;
                }
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e),
        }
        if !a.follow {
            return Ok(());
        }
        tokio::time::sleep(pause).await;
    }
}
