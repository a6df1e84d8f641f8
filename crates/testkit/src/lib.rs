//! berth-testkit: what berth's tests share. A real server started in-process on port 0
//! with its own data directory, the AWS SDK for Rust pointed at it, a raw signed HTTP
//! client for the cases an SDK refuses to produce, and a handle on a `berth` process for
//! tests that kill it.

mod aws_cli;
mod docker;
mod docker_env;
mod http;
mod link;
mod plain;
mod process;
mod registry;
mod server;

pub use aws_cli::AwsCli;
pub use docker::{docker_cli, docker_run_times, TestImage};
pub use docker_env::{DockerEnv, DEADLINE};
pub use http::{RawClient, RawResponse, Signing};
pub use link::FaultyLink;
pub use plain::{http_get, http_request, http_request_to, installed_clis};
pub use process::{AgentProcess, BerthProcess};
pub use registry::{digest_of, image_manifest, RegistryClient, RegistryResponse};
pub use server::{ecr_client, sdk_client, test_config, TestServer};

/// Polls `probe` every 20 ms until it returns `Ok`, and returns that. After `deadline`
/// it panics with `what` and the last `Err` the probe gave (what it saw instead).
pub async fn wait_for<T>(
    what: &str,
    deadline: std::time::Duration,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let until = tokio::time::Instant::now() + deadline;
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(last) if tokio::time::Instant::now() > until => {
                panic!("timed out waiting for {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
}
