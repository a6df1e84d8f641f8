//! The log database: its own SQLite file (`logs.db` beside the cluster state), written by
//! one thread that commits whatever batches are waiting in one transaction, so log volume
//! never touches the cluster state's writer and many small batches cost one fsync.
//! Reads use their own connection (WAL lets them run beside the writer).

use std::{
    path::Path,
    sync::{mpsc, Arc, Mutex},
};

use berth_model::logs::LogsError;
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::{oneshot, watch};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log_groups (
    id INTEGER PRIMARY KEY,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    retention_days INTEGER,
    class TEXT NOT NULL,
    kms_key_id TEXT,
    tags TEXT NOT NULL DEFAULT '{}',
    UNIQUE (region, name)
);
CREATE TABLE IF NOT EXISTS log_streams (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    first_ts INTEGER,
    last_ts INTEGER,
    last_ingest INTEGER,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    cursor TEXT,
    UNIQUE (group_id, name)
);
CREATE TABLE IF NOT EXISTS log_events (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL,
    stream_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    ingest INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_events_by_stream ON log_events (stream_id, ts, id);
CREATE INDEX IF NOT EXISTS log_events_by_group ON log_events (group_id, ts, id);
";

/// The file's name in the data directory.
pub const FILE: &str = "logs.db";

/// Work the writer runs inside the shared transaction; it answers `Ok` to keep its
/// changes, and returns what hands the caller its result once the commit is known.
type Job = Box<dyn FnOnce(&Connection) -> (bool, Deliver) + Send>;
type Deliver = Box<dyn FnOnce(Result<(), String>) + Send>;

/// The most jobs one transaction takes.
const MAX_JOBS_PER_COMMIT: usize = 256;

/// A handle on the log database; clones share it.
#[derive(Clone)]
pub struct LogStore {
    jobs: mpsc::Sender<Job>,
    read: Arc<Mutex<Connection>>,
    /// The newest event id committed: followers wait on it.
    committed: watch::Receiver<i64>,
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    Ok(conn)
}

/// The newest event's id (0 when there is none).
pub(crate) fn newest_event(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COALESCE(MAX(id), 0) FROM log_events", [], |r| r.get(0))
}

impl LogStore {
    /// Opens (creating) `DIR/logs.db` and starts its writer thread.
    pub fn open(dir: &Path) -> Result<LogStore, String> {
        let path = dir.join(FILE);
        let writer = open_connection(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        writer.execute_batch(SCHEMA).map_err(|e| format!("{}: {e}", path.display()))?;
        let read = open_connection(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let newest = newest_event(&writer).map_err(|e| e.to_string())?;
        let (committed_tx, committed) = watch::channel(newest);
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("berth-logs-writer".into())
            .spawn(move || run_writer(writer, queue, committed_tx))
            .map_err(|e| e.to_string())?;
        Ok(LogStore { jobs, read: Arc::new(Mutex::new(read)), committed })
    }

    /// Runs `work` in the writer's next transaction and answers once it is committed.
    pub async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, LogsError> + Send + 'static,
    ) -> Result<T, LogsError> {
        let (tx, rx) = oneshot::channel::<Result<T, LogsError>>();
        let job: Job = Box::new(move |conn| {
            let result = work(conn);
            let ok = result.is_ok();
            let deliver: Deliver = Box::new(move |commit| {
                let _ = tx.send(match commit {
                    Ok(()) => result,
                    Err(e) => Err(LogsError::unavailable(format!("the log database could not commit: {e}"))),
                });
            });
            (ok, deliver)
        });
        self.jobs.send(job).map_err(|_| LogsError::unavailable("the log database writer has stopped"))?;
        rx.await.map_err(|_| LogsError::unavailable("the log database writer has stopped"))?
    }

    /// Runs a read on the read connection (off the async threads).
    pub async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, LogsError> + Send + 'static,
    ) -> Result<T, LogsError> {
        let read = self.read.clone();
        tokio::task::spawn_blocking(move || {
            let conn = read.lock().unwrap_or_else(|p| p.into_inner());
            work(&conn)
        })
        .await
        .map_err(|e| LogsError::unavailable(e.to_string()))?
    }

    /// The newest committed event id, updated after each commit.
    pub fn committed(&self) -> watch::Receiver<i64> {
        self.committed.clone()
    }
}

fn run_writer(mut conn: Connection, queue: mpsc::Receiver<Job>, committed: watch::Sender<i64>) {
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_JOBS_PER_COMMIT {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut delivers = Vec::with_capacity(jobs.len());
        let outcome = (|| -> rusqlite::Result<()> {
            let mut tx = conn.transaction()?;
            for job in jobs.drain(..) {
                let sp = tx.savepoint()?;
                let (keep, deliver) = job(&sp);
                if keep {
                    sp.commit()?;
                } // else dropped: rolled back
                delivers.push(deliver);
            }
            tx.commit()
        })();
        let outcome = outcome.map_err(|e| e.to_string());
        if let Err(e) = &outcome {
            tracing::error!(error = %e, "log database commit failed");
        }
        // Jobs an error kept from running were dropped with the transaction: their callers
        // hear that the writer could not take them.
        if let Ok(newest) = newest_event(&conn) {
            committed.send_if_modified(|v| std::mem::replace(v, newest) != newest);
        }
        for deliver in delivers {
            deliver(outcome.clone());
        }
    }
}

/// Converts a database error into the service's.
pub fn db(e: rusqlite::Error) -> LogsError {
    LogsError::unavailable(format!("log database: {e}"))
}

/// A log group's row.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    pub id: i64,
    pub name: String,
    pub created: i64,
    pub retention_days: Option<i32>,
    pub class: String,
    pub kms_key_id: Option<String>,
    pub tags: std::collections::BTreeMap<String, String>,
}

pub const GROUP_COLUMNS: &str = "id, name, created, retention_days, class, kms_key_id, tags";

pub fn group_row(r: &rusqlite::Row) -> rusqlite::Result<GroupRow> {
    let tags: String = r.get(6)?;
    Ok(GroupRow {
        id: r.get(0)?,
        name: r.get(1)?,
        created: r.get(2)?,
        retention_days: r.get(3)?,
        class: r.get(4)?,
        kms_key_id: r.get(5)?,
        tags: serde_json::from_str(&tags).unwrap_or_default(),
    })
}

/// The group `name` in `region`, if it exists.
pub fn find_group(conn: &Connection, region: &str, name: &str) -> Result<Option<GroupRow>, LogsError> {
    conn.prepare_cached(&format!("SELECT {GROUP_COLUMNS} FROM log_groups WHERE region = ?1 AND name = ?2"))
        .and_then(|mut s| s.query_row((region, name), group_row).optional())
        .map_err(db)
}

/// The group, or CloudWatch's error for a missing one.
pub fn group(conn: &Connection, region: &str, name: &str) -> Result<GroupRow, LogsError> {
    find_group(conn, region, name)?.ok_or_else(LogsError::group_not_found)
}

/// The id of stream `name` of the group, if it exists.
pub fn find_stream(conn: &Connection, group_id: i64, name: &str) -> Result<Option<i64>, LogsError> {
    conn.prepare_cached("SELECT id FROM log_streams WHERE group_id = ?1 AND name = ?2")
        .and_then(|mut s| s.query_row((group_id, name), |r| r.get(0)).optional())
        .map_err(db)
}
