//! Delivers task state changes to the server. Reports are full snapshots, so only the
//! newest per task matters: a newer one replaces an undelivered older one, and a failed
//! delivery is retried until it lands (or is replaced). Nothing observed is lost while
//! the server is down.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use berth_model::task::TaskStateChange;
use tokio::sync::Notify;

use crate::{client::ServerClient, Session};

#[derive(Clone)]
pub struct Reporter {
    pending: Arc<Mutex<HashMap<String, TaskStateChange>>>,
    wake: Arc<Notify>,
}

impl Reporter {
    pub fn new() -> Reporter {
        Reporter { pending: Arc::default(), wake: Arc::new(Notify::new()) }
    }

    pub fn send(&self, change: TaskStateChange) {
        let key = change.task.clone().unwrap_or_default();
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(key, change);
        self.wake.notify_one();
    }

    /// Delivers reports until the process ends.
    pub async fn run(self, client: ServerClient, session: Session) {
        loop {
            let batch: Vec<(String, TaskStateChange)> =
                self.pending.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
            if batch.is_empty() {
                self.wake.notified().await;
                continue;
            }
            let mut failed = false;
            for (key, change) in batch {
                let token = session.token();
                if let Err(e) = client.submit(&token, &change).await {
                    tracing::warn!(task = %key, error = %e, "reporting task state failed; will retry");
                    let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                    pending.entry(key).or_insert(change);
                    failed = true;
                }
            }
            if failed {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

impl Default for Reporter {
    fn default() -> Self {
        Reporter::new()
    }
}
