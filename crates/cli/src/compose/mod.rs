//! `berth compose convert|up|down|ps|build|logs`: a Compose project as ECS task definitions and
//! services on berth.

mod balancer;
mod discovery;
mod logs;
mod manage;
mod project;
mod up;

use clap::Subcommand;

use manage::DownArgs;
use project::ConvertArgs;
pub use project::{describe_images, registry_host, FINGERPRINT_TAG};
use up::UpArgs;

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
    /// The services' output from berth's logs (`-f` to follow).
    Logs(logs::LogsArgs),
}

pub async fn run(command: ComposeCommand) -> anyhow::Result<i32> {
    match command {
        ComposeCommand::Convert(args) => project::convert_command(args).await.map(|_| 0),
        ComposeCommand::Up(args) => up::up(args).await,
        ComposeCommand::Down(args) => manage::down(args).await.map(|_| 0),
        ComposeCommand::Ps(args) => manage::ps(args).await.map(|_| 0),
        ComposeCommand::Build(args) => manage::build(args).await.map(|_| 0),
        ComposeCommand::Logs(args) => logs::logs(args).await.map(|_| 0),
    }
}
