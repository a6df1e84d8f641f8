//! `berth compose logs [-f] [SERVICE…]`: the project's output from berth's logs, as
//! `docker compose logs` shows it (`compose up` sends every container without a
//! `logging` section to the awslogs driver, group `/berth/compose/PROJECT`).

use std::path::PathBuf;

use clap::Args;

use super::project::*;
use crate::{calls::Connection, logs::LogFollower, ls::tasks_of, ui::Format};

#[derive(Args)]
pub struct LogsArgs {
    /// Only these compose services' output.
    services: Vec<String>,
    /// Keep printing new lines until interrupted.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Only lines since: a duration ago (`10m`, `2h`) or a time.
    #[arg(long)]
    since: Option<String>,
    /// `json`: one JSON object a line.
    #[arg(long, value_enum, default_value = "text")]
    output: Format,
    /// Compose file(s) (`-f` is --follow here, as in `docker compose logs`).
    #[arg(long = "file")]
    files: Vec<PathBuf>,
    #[arg(short = 'p', long)]
    project_name: Option<String>,
    #[arg(long)]
    service_per_container: bool,
    #[arg(long, default_value = "default")]
    cluster: String,
    #[arg(long)]
    service_name: Option<String>,
    #[command(flatten)]
    connection: Connection,
}

pub(super) async fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let project = ProjectArgs::new(args.files.clone(), args.project_name.clone(), args.service_per_container);
    let converted = convert_reported(&project, &read(&project)?, Some("REGISTRY".into()))?;
    let several = converted.services.len() > 1;
    let names: Vec<String> = converted.services.iter().map(|p| service_name(p, &args.service_name, several)).collect();
    let client = args.connection.client()?;
    let since = args.since.as_deref().map(|s| crate::logs::parse_since(s, berth_model::time::now_ms())).transpose()?;
    let mut follower = LogFollower::new(client.clone(), since, args.output == Format::Json);
    loop {
        for name in &names {
            let tasks = tasks_of(&client, &args.cluster, Some(name), true).await?;
            if args.services.is_empty() {
                follower.add_tasks(&tasks, None).await?;
            }
            for wanted in &args.services {
                follower.add_tasks(&tasks, Some(wanted)).await?;
            }
        }
        if !args.follow {
            return follower.drain().await;
        }
        follower.poll(std::time::Duration::from_secs(2)).await?;
    }
}
