//! The `awslogs` log driver, done by the agent: a container whose `logConfiguration`
//! names `awslogs` writes to the engine's own json-file log (so `docker logs` works and
//! nothing is lost while the server is away), and a shipper per container follows that
//! log and sends it to the server's CloudWatch Logs with PutLogEvents.
//!
//! - Before the container starts, its stream is created (and its group, with
//!   `awslogs-create-group`); a missing group fails the start as Docker's driver does.
//! - Every batch carries the position of its last line; the server stores it with the
//!   events in one transaction, so a restarted agent asks for it and resumes exactly
//!   after it: no line lost, none sent twice.
//! - Batches go as soon as the previous one is answered (at most 10,000 events or 1 MiB),
//!   so a quiet container's line leaves at once and a chatty one's lines batch up.
//! - `mode: blocking` (the default) stops reading while 4 MiB wait unsent (the engine's
//!   log file holds the rest); `mode: non-blocking` drops lines beyond `max-buffer-size`
//!   instead, counts them, and says so in the stream.

mod lines;
mod shipper;

use std::{collections::HashMap, sync::Arc, time::Duration};

use berth_client::{ClientError, ServerClient};
use berth_model::{
    logs::{AwsLogsOptions, CreateLogGroupRequest, Empty, LogStreamRequest, AWSLOGS},
    task_definition::ContainerDefinition,
};
use berth_runtime::ContainerRuntime;
use tokio::{sync::Mutex, task::JoinHandle};

use crate::Session;

pub use lines::{parse_timestamp, Assembler, Cursor, Event};

/// Where one container's output goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    pub options: AwsLogsOptions,
    pub stream: String,
}

/// The awslogs destination of a container definition, if it uses the driver.
pub fn destination(
    def: &ContainerDefinition,
    task_id: &str,
    container_id: &str,
) -> Option<Result<Destination, String>> {
    let config = def.log_configuration.as_ref().filter(|l| l.log_driver == AWSLOGS)?;
    Some(AwsLogsOptions::parse(&config.options.clone().unwrap_or_default()).map(|options| Destination {
        stream: options.stream_name(def.name.as_deref().unwrap_or_default(), task_id, container_id),
        options,
    }))
}

/// The shippers of one agent.
pub struct LogShipping<R> {
    runtime: Arc<R>,
    server: Option<(ServerClient, Session)>,
    running: Mutex<HashMap<String, JoinHandle<()>>>,
}

/// How long a call to the server may take before it is tried again.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

impl<R: ContainerRuntime> LogShipping<R> {
    pub fn new(runtime: Arc<R>, server: Option<(ServerClient, Session)>) -> Arc<LogShipping<R>> {
        Arc::new(LogShipping { runtime, server, running: Mutex::new(HashMap::new()) })
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        operation: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, ClientError> {
        let (client, session) =
            self.server.as_ref().ok_or_else(|| ClientError::Transport("this agent ships no logs".into()))?;
        client.agent_logs(&session.token(), operation, body, CALL_TIMEOUT).await
    }

    /// Creates the container's stream (and group, when asked to) before it starts; the
    /// error is the container's start failure, worded as Docker's driver words it.
    pub async fn prepare(&self, to: &Destination) -> Result<(), String> {
        let mut attempts = 0;
        loop {
            match self.ensure_stream(to).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_transient() && attempts < 20 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(ClientError::Api { code, message, .. }) => {
                    return Err(format!(
                        "CannotStartContainerError: Error response from daemon: failed to initialize logging driver: failed to create Cloudwatch log stream: {code}: {message}"
                    ))
                }
                Err(e) => return Err(format!("CannotStartContainerError: failed to initialize logging driver: {e}")),
            }
        }
    }

    async fn ensure_stream(&self, to: &Destination) -> Result<(), ClientError> {
        let exists = |r: Result<Empty, ClientError>| match r {
            Err(ClientError::Api { code, .. }) if code == "ResourceAlreadyExistsException" => Ok(()),
            other => other.map(|_| ()),
        };
        if to.options.create_group {
            let group = CreateLogGroupRequest { log_group_name: to.options.group.clone(), ..Default::default() };
            exists(self.call("CreateLogGroup", &group).await)?;
        }
        let stream = LogStreamRequest { log_group_name: to.options.group.clone(), log_stream_name: to.stream.clone() };
        exists(self.call("CreateLogStream", &stream).await)
    }

    /// Starts shipping container `id`'s output (once per container).
    pub async fn ship(self: &Arc<Self>, id: &str, to: Destination) {
        let mut running = self.running.lock().await;
        running.retain(|_, h| !h.is_finished());
        if running.contains_key(id) {
            return;
        }
        let shipping = self.clone();
        let container = id.to_string();
        running.insert(id.to_string(), tokio::spawn(async move { shipping.run_shipper(container, to).await }));
    }

    /// Waits (up to `wait`) until the shippers of these containers have sent everything
    /// (the containers have stopped, so their output has ended).
    pub async fn finish(&self, ids: &[String], wait: Duration) {
        let handles: Vec<(String, JoinHandle<()>)> = {
            let mut running = self.running.lock().await;
            ids.iter().filter_map(|id| running.remove(id).map(|h| (id.clone(), h))).collect()
        };
        let deadline = tokio::time::Instant::now() + wait;
        for (id, mut handle) in handles {
            if tokio::time::timeout_at(deadline, &mut handle).await.is_err() {
                // It keeps what it read and goes on trying; what it had not read yet goes
                // with the container.
                tracing::warn!(container = %id, "its output was not all shipped before the container was removed");
            }
        }
    }
}
