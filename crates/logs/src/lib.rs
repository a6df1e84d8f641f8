//! berth-logs — CloudWatch Logs for berth: log groups, streams and events kept in their
//! own SQLite file ([`store`]), the operations of the `logs` API over it ([`Logs`]), the
//! filter pattern language ([`pattern`]) and the retention sweep.
//!
//! ```text
//!  agents (awslogs) ─PutLogEvents─►┐
//!  aws logs / berth logs ─────────►├─ Logs ─ reads ─► read connection ─┐
//!                                  └─ writes ─► writer thread ─► logs.db (WAL)
//!                                                    └─ committed id ─► followers
//! ```

mod events;
mod groups;
pub mod pattern;
pub mod store;
mod streams;
mod tokens;

use std::time::Duration;

use berth_model::logs::LogsError;
pub use store::LogStore;

/// The CloudWatch Logs service of one server.
#[derive(Clone)]
pub struct Logs {
    store: LogStore,
    account: String,
    max_groups: i64,
}

/// The caller's region: every region is its own namespace of log groups.
pub type Region<'a> = &'a str;

impl Logs {
    /// Opens the log database in `data_dir`.
    pub fn open(data_dir: &std::path::Path, account: &str) -> Result<Logs, String> {
        Ok(Logs { store: LogStore::open(data_dir)?, account: account.to_string(), max_groups: groups::MAX_GROUPS })
    }

    /// How many log groups a region may hold (CloudWatch's quota, 1,000,000, by default).
    pub fn with_group_limit(mut self, max_groups: i64) -> Logs {
        self.max_groups = max_groups;
        self
    }

    pub fn store(&self) -> &LogStore {
        &self.store
    }

    /// Deletes the events of every group older than its retention, every `every`.
    pub fn spawn_retention_sweep(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let logs = self.clone();
        tokio::spawn(async move {
            loop {
                match logs.sweep(None).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(events = n, "retention removed expired log events"),
                    Err(e) => tracing::warn!(error = %e, "log retention sweep failed"),
                }
                tokio::time::sleep(every).await;
            }
        })
    }

    /// Deletes expired events (of one group, or of all); returns how many.
    pub async fn sweep(&self, group_id: Option<i64>) -> Result<usize, LogsError> {
        let now = now_ms();
        self.store
            .write(move |conn| {
                let mut groups = conn
                    .prepare_cached("SELECT id, retention_days FROM log_groups WHERE retention_days IS NOT NULL")
                    .map_err(store::db)?;
                let rows: Vec<(i64, i64)> = groups
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .and_then(|rows| rows.collect())
                    .map_err(store::db)?;
                let mut removed = 0;
                for (id, days) in rows.into_iter().filter(|(id, _)| group_id.is_none_or(|g| g == *id)) {
                    removed += conn
                        .prepare_cached("DELETE FROM log_events WHERE group_id = ?1 AND ts < ?2")
                        .and_then(|mut s| s.execute((id, now - days * 86_400_000)))
                        .map_err(store::db)?;
                }
                Ok(removed)
            })
            .await
    }
}

pub use berth_model::time::now_ms;

/// A `limit` within `1..=max`, or `default` when absent.
fn limit(value: Option<i64>, default: usize, max: usize) -> Result<usize, LogsError> {
    match value {
        None => Ok(default),
        Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
        Some(n) => Err(LogsError::invalid_parameter(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {max}"
        ))),
    }
}
