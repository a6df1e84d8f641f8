//! Talking to the server from the CLI: the connection flags, and calls that fail with the
//! server's words (explained where berth knows more, see [`crate::explain`]). Calls take an
//! operation's request type from `berth_model::ecs` and return its response type.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use berth_client::ServerClient;
use berth_model::ecs::Operation;
use clap::Args;
use serde::{de::DeserializeOwned, Serialize};

use crate::{credentials, ui::Progress};

/// How berth's user commands find the server, as the aws CLI does.
#[derive(Args, Clone)]
pub struct Connection {
    /// The server (default: BERTH_ENDPOINT_URL, else a local `berth up` on its default port).
    #[arg(long, env = "BERTH_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    /// The region (default: AWS_REGION / AWS_DEFAULT_REGION, else us-east-1).
    #[arg(long)]
    region: Option<String>,
}

impl Connection {
    /// A signing client: the standard AWS credential chain, else the credentials a local
    /// `berth up` wrote to ./berth-data.
    pub fn client(&self) -> anyhow::Result<ServerClient> {
        let endpoint = self.endpoint_url.clone().unwrap_or_else(|| format!("http://{}", crate::DEFAULT_LISTEN));
        let region = self
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .unwrap_or_else(|| "us-east-1".into());
        let credential = match credentials::from_environment() {
            Ok(c) => c,
            Err(chain) => credentials::load_existing(&PathBuf::from("berth-data/credentials"))
                .with_context(|| format!("no AWS credentials found ({chain:#}), and no ./berth-data/credentials"))?,
        };
        ServerClient::new(&endpoint, credential, &region).map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// A failed call, in words; `transient` when trying again later may work (the server
/// could not be reached, or failed inside).
#[derive(Debug)]
pub struct CallError {
    pub message: String,
    pub transient: bool,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallError {}

/// Whether `error` is a call worth trying again.
pub fn is_transient(error: &anyhow::Error) -> bool {
    error.downcast_ref::<CallError>().is_some_and(|c| c.transient)
}

/// One ECS call; fails with the server's words.
async fn send<T: DeserializeOwned>(
    client: &ServerClient,
    operation: &str,
    body: &(impl Serialize + ?Sized),
) -> anyhow::Result<T> {
    match client.ecs::<T>(operation, &body).await {
        Ok((v, _)) => Ok(v),
        Err(e) => {
            let transient = e.is_transient();
            let body = serde_json::to_value(body).unwrap_or_default();
            let message = crate::explain::explain(client, operation, &body, &e).await;
            Err(CallError { message, transient }.into())
        }
    }
}

/// A typed ECS call: `request::<op::DescribeServices>(&client, &req)`.
pub async fn request<O: Operation>(client: &ServerClient, request: &O::Request) -> anyhow::Result<O::Response> {
    send(client, O::NAME, request).await
}

/// `O`, retried with back-off while the server cannot be reached or fails inside (a
/// restart), until `deadline`. `None` when the deadline passed first.
pub async fn request_retrying<O: Operation>(
    client: &ServerClient,
    request: &O::Request,
    deadline: Instant,
    progress: &Progress,
) -> anyhow::Result<Option<O::Response>> {
    let mut pause = Duration::from_millis(250);
    let mut said = false;
    loop {
        match send::<O::Response>(client, O::NAME, request).await {
            Ok(answer) => {
                if said {
                    progress.line(&format!("reached {} again", client.endpoint()));
                }
                return Ok(Some(answer));
            }
            Err(e) if is_transient(&e) => {
                if !said {
                    let cause = e.downcast_ref::<CallError>().map(|c| c.message.clone()).unwrap_or_default();
                    progress.line(&format!("cannot reach the server ({cause}); retrying until the timeout"));
                    said = true;
                }
                if Instant::now() + pause > deadline {
                    return Ok(None);
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(e) => bail!(e),
        }
    }
}
