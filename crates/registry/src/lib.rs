//! berth-registry: the built-in ECR. Blobs are content-addressed files under the data
//! directory ([`blobs`]); repositories, images, tags and blob links live in berth's store
//! ([`meta`]) next to the rest of the state. [`ecr`] holds the ECR API operations and
//! [`dist`] the OCI distribution operations the HTTP layer calls; both share the push
//! path, the lifecycle evaluation ([`lifecycle`]) and garbage collection ([`gc`]).

pub mod blobs;
pub mod digest;
pub mod dist;
pub mod ecr;
pub mod error;
mod gc;
pub mod lifecycle;
pub mod manifest;
pub mod meta;
pub mod names;
mod push;
pub mod token;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use berth_store::{Record, Store};

pub use error::{DistError, EcrError};
use meta::{Edit, Meta};
pub use token::TokenKey;

pub struct RegistryConfig {
    pub data_dir: PathBuf,
    pub account: String,
    /// `host:port` clients use to reach `/v2/` (the host part of every repositoryUri).
    pub host: String,
    /// The key tokens are signed with.
    pub token_key: TokenKey,
    /// How long a blob nobody references is kept (a push uploads blobs before the
    /// manifest that references them).
    pub gc_grace: Duration,
}

/// The registry, shared by every request handler.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    account: String,
    host: String,
    token_key: TokenKey,
    gc_grace: Duration,
    blobs: blobs::BlobStore,
    store: Arc<dyn Store>,
    /// Readers take it shared; a writer takes it exclusively only to apply edits that are
    /// already on disk, never across the store's fsync.
    meta: RwLock<Meta>,
    /// Serializes writers: held from deciding the edits to applying them.
    writer: Mutex<()>,
    uploads: Mutex<HashMap<String, dist::UploadSlot>>,
    /// Held shared while blobs are being made visible and linked, exclusively while the
    /// collector decides what to delete: a blob is never collected between its rename into
    /// place and the link that keeps it.
    gc_lock: tokio::sync::RwLock<()>,
}

/// A store commit failed; nothing was applied.
#[derive(Debug)]
pub struct StoreFailure(pub String);

impl From<StoreFailure> for EcrError {
    fn from(e: StoreFailure) -> Self {
        EcrError::server(e.0)
    }
}

impl From<StoreFailure> for DistError {
    fn from(e: StoreFailure) -> Self {
        DistError::internal(e.0)
    }
}

impl Registry {
    /// Opens the blob directory and loads the registry's records from `store`.
    pub fn open(config: RegistryConfig, store: Arc<dyn Store>) -> Result<Registry, String> {
        let (records, _) = store.load().map_err(|e| e.to_string())?;
        Registry::open_loaded(config, store, &records)
    }

    /// Like [`Registry::open`], from records already loaded from `store`.
    pub fn open_loaded(config: RegistryConfig, store: Arc<dyn Store>, records: &[Record]) -> Result<Registry, String> {
        let blobs = blobs::BlobStore::open(&config.data_dir).map_err(|e| format!("registry storage: {e}"))?;
        let meta = Meta::from_records(records)?;
        Ok(Registry {
            inner: Arc::new(Inner {
                account: config.account,
                host: config.host,
                token_key: config.token_key,
                gc_grace: config.gc_grace,
                blobs,
                store,
                meta: RwLock::new(meta),
                writer: Mutex::new(()),
                uploads: Mutex::new(HashMap::new()),
                gc_lock: tokio::sync::RwLock::new(()),
            }),
        })
    }

    pub fn host(&self) -> &str {
        &self.inner.host
    }

    pub fn token_key(&self) -> &TokenKey {
        &self.inner.token_key
    }

    /// Runs `f` against the metadata.
    pub fn read<R>(&self, f: impl FnOnce(&Meta) -> R) -> R {
        let meta = self.inner.meta.read().unwrap_or_else(|p| p.into_inner());
        f(&meta)
    }

    /// Runs `op` against the metadata; the edits it pushes are committed to the store, then
    /// applied, then its result is returned. A failed commit applies nothing. Writers run
    /// one at a time; readers are never kept waiting by the commit's disk sync, only by the
    /// short application of edits that are already durable.
    pub async fn write<R, E>(
        &self,
        op: impl FnOnce(&Meta, &mut Vec<Edit>) -> Result<R, E> + Send + 'static,
    ) -> Result<R, E>
    where
        R: Send + 'static,
        E: From<StoreFailure> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let _writer = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
            let mut edits = Vec::new();
            let (out, mutations) = {
                let meta = inner.meta.read().unwrap_or_else(|p| p.into_inner());
                let out = op(&meta, &mut edits)?;
                let mutations: Vec<_> = edits.iter().flat_map(|e| meta.mutations(e)).collect();
                (out, mutations)
            };
            if !edits.is_empty() {
                // No other writer can change the metadata until `_writer` is released.
                inner.store.commit(&mutations).map_err(|e| StoreFailure(e.to_string()))?;
                let mut meta = inner.meta.write().unwrap_or_else(|p| p.into_inner());
                for e in &edits {
                    meta.apply(e);
                }
            }
            Ok(out)
        })
        .await
        .map_err(|e| E::from(StoreFailure(format!("registry writer: {e}"))))?
    }

    /// Runs lifecycle policies and garbage collection every `interval` until the process ends.
    pub fn spawn_maintenance(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let registry = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                registry.maintain().await;
            }
        })
    }

    /// One maintenance pass: expire images by lifecycle policy, discard idle uploads, then
    /// collect garbage.
    pub async fn maintain(&self) {
        let repos: Vec<(String, String)> = self.read(|m| {
            m.repos.iter().filter(|(_, r)| r.record.lifecycle_policy.is_some()).map(|(k, _)| k.clone()).collect()
        });
        for (region, name) in repos {
            if let Err(e) = self.apply_lifecycle(&region, &name).await {
                tracing::warn!(repository = %name, error = %e, "lifecycle evaluation failed");
            }
        }
        let expired = self.expire_uploads(dist::UPLOAD_IDLE_EXPIRY).await;
        if expired > 0 {
            tracing::info!(expired, "discarded uploads left idle");
        }
        if let Err(e) = self.collect_garbage().await {
            tracing::warn!(error = %e, "registry garbage collection failed");
        }
    }

    pub(crate) fn now() -> f64 {
        berth_model::time::now()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{mpsc, Arc, Mutex};

    use berth_store::{Mutation, Record, Store, StoreError};

    use super::*;

    /// A store whose commits wait until the test lets them finish: a slow disk sync.
    struct SlowDisk {
        release: Mutex<mpsc::Receiver<()>>,
        committing: Mutex<mpsc::Sender<()>>,
    }

    impl Store for SlowDisk {
        fn commit(&self, _batch: &[Mutation]) -> Result<u64, StoreError> {
            let _ = self.committing.lock().unwrap().send(());
            let _ = self.release.lock().unwrap().recv();
            Ok(1)
        }

        fn load(&self) -> Result<(Vec<Record>, u64), StoreError> {
            Ok((Vec::new(), 0))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readers_are_not_kept_waiting_by_a_commit_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (release, released) = mpsc::channel();
        let (committing, started) = mpsc::channel();
        let store = Arc::new(SlowDisk { release: Mutex::new(released), committing: Mutex::new(committing) });
        let config = RegistryConfig {
            data_dir: dir.path().to_path_buf(),
            account: "123456789012".into(),
            host: "127.0.0.1:1".into(),
            token_key: TokenKey::derive(b"k"),
            gc_grace: Duration::ZERO,
        };
        let registry = Registry::open(config, store).unwrap();
        let writer = {
            let r = registry.clone();
            tokio::spawn(async move {
                let body = serde_json::json!({"repositoryName": "web"}).to_string();
                r.ecr("us-east-1", "CreateRepository", body.as_bytes()).await
            })
        };
        // The commit is on "disk" now and will stay there until released.
        tokio::task::spawn_blocking(move || started.recv().unwrap()).await.unwrap();
        // A reader answers meanwhile (and does not see the uncommitted repository yet).
        let reader = {
            let r = registry.clone();
            tokio::task::spawn_blocking(move || r.read(|m| m.repos.len()))
        };
        let seen =
            tokio::time::timeout(Duration::from_secs(10), reader).await.expect("a read during a commit").unwrap();
        assert_eq!(seen, 0);
        release.send(()).unwrap();
        writer.await.unwrap().unwrap();
        assert_eq!(registry.read(|m| m.repos.len()), 1, "applied once durable");
    }
}
