//! The `berth` binary: `berth server` (the control plane), `berth up` (everything on one
//! machine with embedded defaults), `berth agent`, and the user commands.

/// `println!` for command output: a reader that went away (`berth ls | head -1`) ends the
/// command quietly, as it does for other Unix tools, instead of a panic.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            panic!("writing to stdout: {e}");
        }
    }};
}

mod agent;
mod bench;
mod calls;
mod compose;
mod credentials;
mod events;
mod explain;
mod follow;
mod logs;
mod ls;
mod rollout;
mod run_task;
mod server;
mod service;
mod service_manage;
mod service_stats;
mod task;
mod ui;

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand};

/// Where `berth server` and `berth up` listen when `--listen` is not given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7480";
/// The account id in ARNs when `--account-id` is not given.
pub const DEFAULT_ACCOUNT_ID: &str = "000000000000";

#[derive(Parser)]
#[command(name = "berth", version, about = "A self-hosted container orchestrator that speaks the Amazon ECS API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the control plane: the ECS API on one HTTP listener, state in DATA_DIR.
    Server(ServerArgs),
    /// Run everything on this machine with embedded defaults: the control plane and one
    /// agent (in the `default` cluster) driving the local Docker engine.
    Up(ServerArgs),
    /// Run the node agent: register this host with a berth server and run its tasks.
    Agent(agent::AgentArgs),
    /// Benchmarks of berth itself (`berth bench placement`).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Service commands (`berth service wait`).
    #[command(subcommand)]
    Service(service::ServiceCommand),
    /// Task commands (`berth task plan`, `berth task run`).
    #[command(subcommand)]
    Task(task::TaskCommand),
    /// A docker-compose project as ECS task definitions and services.
    #[command(subcommand)]
    Compose(compose::ComposeCommand),
    /// List clusters, services, tasks or container instances.
    Ls(ls::LsArgs),
    /// Service events, oldest first (`--follow` for new ones).
    Events(events::EventsCommand),
    /// Container output of a service's or some tasks' awslogs containers (`--follow` for new lines).
    Logs(logs::LogsArgs),
}

#[derive(Args, Clone)]
pub struct ServerArgs {
    /// Address to listen on (port 0 picks a free port and prints it).
    #[arg(long, default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Directory for the database and the generated credentials.
    #[arg(long, default_value = "berth-data")]
    data_dir: PathBuf,
    /// The AWS account id in ARNs.
    #[arg(long, default_value = DEFAULT_ACCOUNT_ID)]
    account_id: String,
    /// The region printed for clients to use. Every region a request is signed for is
    /// its own namespace of resources.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Accept any well-formed SigV4 signature without checking the secret. Only for
    /// local tools that sign with dummy keys.
    #[arg(long)]
    insecure_accept_any_credentials: bool,
    /// Seconds without a heartbeat before an instance is marked agentConnected=false.
    #[arg(long, default_value_t = 30)]
    heartbeat_timeout: u64,
    /// Seconds an instance may stay disconnected before its tasks are marked STOPPED.
    #[arg(long, default_value_t = 120)]
    disconnected_grace: u64,
    /// Milliseconds a service task without a health check must stay RUNNING before it
    /// counts as healthy in a deployment (ECS waits 40 s).
    #[arg(long, default_value_t = 1000)]
    task_settle_ms: u64,
    /// `host:port` of the registry in repository URIs and for agents' pulls (default: the
    /// listen address, with 127.0.0.1 for an unspecified address).
    #[arg(long)]
    registry_host: Option<String>,
    /// Seconds a registry blob that no image references is kept (a push uploads blobs
    /// before the manifest that references them).
    #[arg(long, default_value_t = 3600)]
    registry_gc_grace_secs: u64,
    /// Connections served at once (more wait in the kernel's backlog); lowered to fit
    /// the process's open-file limit.
    #[arg(long, default_value_t = berth_api::listener::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// The address load balancer listeners bind (each listener's port comes from
    /// CreateListener).
    #[arg(long, default_value = "0.0.0.0")]
    lb_listen: std::net::IpAddr,
    /// Milliseconds between health checks of a newly registered target until it is first
    /// healthy (then the target group's interval applies; ELB waits the interval).
    #[arg(long, default_value_t = 1000)]
    lb_initial_check_ms: u64,
    /// The DNS name every load balancer reports (default: `localhost` when --lb-listen is
    /// a loopback address, else this host's name).
    #[arg(long)]
    lb_dns_name: Option<String>,
    /// Threads serving load balancer listeners, each with its own event loop (more for
    /// hosts with many cores and heavy traffic).
    #[arg(long, default_value_t = 1)]
    lb_threads: usize,
    /// The block each host's awsvpc task subnet (a /24) is carved from. Pick one no
    /// network of the hosts uses.
    #[arg(long, default_value = berth_model::network::DEFAULT_TASK_POOL)]
    task_cidr: berth_model::network::SubnetPool,
    /// GROUP=COMMAND: how managed scaling grows or shrinks the Auto Scaling group GROUP of
    /// an EC2 capacity provider (run with `sh -c`; see the README); repeatable.
    #[arg(long = "scale-command", value_name = "GROUP=COMMAND")]
    scale_commands: Vec<String>,
    /// Seconds a host of a managed-scaling group stays empty before it is scaled in.
    #[arg(long, default_value_t = 60)]
    scale_in_idle_secs: u64,
    /// Route every host's awsvpc task subnet to that host, so the load balancer's `ip`
    /// targets on other hosts are reachable (needs root and `ip`).
    #[arg(long)]
    task_routes: bool,
    /// Where the DNS server for Cloud Map namespaces listens, UDP and TCP (port 53, so
    /// containers can use it). When the default cannot be bound (the port is taken or
    /// berth is not root), it runs on a free loopback port instead; the address in use is
    /// printed at start. `off` runs no DNS server.
    #[arg(long, default_value = DEFAULT_DNS_LISTEN)]
    dns_listen: String,
    /// The longest a service's task, once deregistered from Cloud Map, waits for its DNS
    /// records' TTL to pass before it is stopped (so clients stop resolving it first).
    #[arg(long, default_value_t = 10)]
    dns_drain_max_secs: u64,
}

const DEFAULT_DNS_LISTEN: &str = "0.0.0.0:53";

fn main() {
    // A user's mistake is one clear line, whatever RUST_BACKTRACE says; bugs still panic.
    let code = match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("berth: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

/// Runs the command; returns the process exit code.
fn run() -> anyhow::Result<i32> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Server(args) => runtime.block_on(server::run(args, "server")).map(|()| 0),
        Command::Up(args) => runtime.block_on(server::run(args, "up")).map(|()| 0),
        Command::Agent(args) => runtime.block_on(agent::run(args)).map(|()| 0),
        Command::Task(command) => runtime.block_on(task::run(command)),
        Command::Bench(command) => runtime.block_on(bench::run(command)).map(|()| 0),
        Command::Compose(command) => runtime.block_on(compose::run(command)),
        Command::Ls(args) => runtime.block_on(ls::run(args)).map(|()| 0),
        Command::Events(command) => runtime.block_on(events::run(command)).map(|()| 0),
        Command::Logs(args) => runtime.block_on(logs::run(args)).map(|()| 0),
        Command::Service(command) => runtime.block_on(service::run(command)).map(|outcome| outcome as i32),
    }
}
