//! berth-store: the durable state store. The control plane keeps its state in memory and
//! writes every change here, as a batch, before it answers; on start it loads everything
//! back. Records are opaque JSON values addressed by `(kind, key)`, so new kinds of
//! resource need no schema change.
//!
//! The default backend is SQLite in WAL mode with `synchronous=FULL`: when
//! [`Store::commit`] returns, the batch survives a crash of the process or the machine.

mod sqlite;

pub use sqlite::SqliteStore;

/// Which writer owns a record. Two writers share the store — the control plane's and the
/// registry's — and each record kind belongs to exactly one of them; each loads only its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Control,
    Registry,
}

/// Every kind the registry writes starts with this.
pub const REGISTRY_KINDS: &str = "ecr.";

/// The writer that owns records of `kind`.
pub fn owner(kind: &str) -> Owner {
    if kind.starts_with(REGISTRY_KINDS) {
        Owner::Registry
    } else {
        Owner::Control
    }
}

/// One change to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    Put { kind: &'static str, key: String, value: Vec<u8> },
    Delete { kind: &'static str, key: String },
}

/// A stored record as loaded on start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: String,
    pub key: String,
    pub value: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("store schema version {found} is newer than this berth understands ({known})")]
    FutureSchema { found: i64, known: i64 },
    #[error("cannot create data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
}

/// The state-store interface: apply a batch atomically and durably, or load it all.
pub trait Store: Send + Sync + 'static {
    /// Applies `batch` in one transaction and makes it durable. Returns the store
    /// revision after the batch (it counts commits).
    fn commit(&self, batch: &[Mutation]) -> Result<u64, StoreError>;
    /// Every record, ordered by kind then key, and the current revision.
    fn load(&self) -> Result<(Vec<Record>, u64), StoreError>;
}
