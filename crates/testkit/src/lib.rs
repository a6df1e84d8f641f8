//! berth-testkit: what berth's tests share. A real server started in-process on port 0
//! with its own data directory, the AWS SDK for Rust pointed at it, a raw signed HTTP
//! client for the cases an SDK refuses to produce, and a handle on a `berth` process for
//! tests that kill it.

mod docker;
mod http;
mod process;
mod server;

pub use docker::{docker_cli, TestImage};
pub use http::{RawClient, RawResponse, Signing};
pub use process::{AgentProcess, BerthProcess};
pub use server::{sdk_client, TestServer};

/// Polls `check` every 20 ms until it returns `Some` or `deadline` passes.
pub async fn eventually<T>(deadline: std::time::Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if tokio::time::Instant::now() > until {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
