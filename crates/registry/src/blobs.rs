//! Content-addressed blob files under `DATA/registry/`: `blobs/sha256/<hex>` for stored
//! blobs, `uploads/<id>` for uploads in progress. A blob becomes visible only by a rename
//! after its bytes were hashed, checked and fsynced, so a crash leaves either nothing or a
//! whole blob. Paths are built from parsed digests and hex upload ids only, so no name
//! from a request can reach outside the directory.

use std::{
    io,
    path::{Path, PathBuf},
    sync::Arc,
};

use sha2::{Digest as _, Sha256};
use tokio::{io::AsyncWriteExt, task::JoinHandle};

use crate::digest::Digest;

pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// Opens the store, creating its directories and discarding uploads a previous run left.
    pub fn open(data_dir: &Path) -> io::Result<BlobStore> {
        let root = data_dir.join("registry");
        std::fs::create_dir_all(root.join("blobs/sha256"))?;
        let uploads = root.join("uploads");
        if uploads.exists() {
            std::fs::remove_dir_all(&uploads)?;
        }
        std::fs::create_dir_all(&uploads)?;
        Ok(BlobStore { root })
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    pub fn exists(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    /// Starts a new upload file.
    pub async fn create_upload(&self) -> io::Result<UploadFile> {
        let id = hex::encode(rand::random::<[u8; 16]>());
        let path = self.root.join("uploads").join(&id);
        let file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await?;
        let syncer = Arc::new(file.try_clone().await?.into_std().await);
        Ok(UploadFile {
            id,
            path,
            file: tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file),
            syncer,
            syncing: None,
            unsynced: 0,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Makes an upload's bytes the blob `digest` (the caller has checked the digest). When
    /// the blob is already stored the upload is discarded: identical blobs are kept once.
    pub async fn commit(&self, mut upload: UploadFile, digest: &Digest) -> io::Result<()> {
        upload.file.flush().await?;
        if let Some(pending) = upload.syncing.take() {
            pending.await.map_err(io::Error::other)??;
        }
        upload.file.get_ref().sync_all().await?;
        drop(upload.file);
        let target = self.path(digest);
        if target.is_file() {
            tokio::fs::remove_file(&upload.path).await?;
            return Ok(());
        }
        tokio::fs::rename(&upload.path, &target).await?;
        let dir = self.root.join("blobs/sha256");
        tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all()).await.map_err(io::Error::other)?
    }

    pub async fn discard(&self, upload: UploadFile) {
        drop(upload.file);
        let _ = tokio::fs::remove_file(&upload.path).await;
    }

    pub fn remove(&self, digest: &Digest) -> io::Result<()> {
        match std::fs::remove_file(self.path(digest)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Every stored blob.
    pub fn list(&self) -> io::Result<Vec<Digest>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.root.join("blobs/sha256"))? {
            let name = entry?.file_name();
            if let Some(d) = name.to_str().and_then(|n| Digest::parse(&format!("sha256:{n}"))) {
                out.push(d);
            }
        }
        Ok(out)
    }
}

/// Writes reach the file in pieces of this size.
const WRITE_BUFFER: usize = 1 << 20;
/// After this many bytes the upload asks the kernel to write what it has so far, in the
/// background, so the fsync that ends the upload has little left to do.
const SYNC_EVERY: u64 = 32 << 20;

/// An upload in progress: its file and the running hash of what was written.
pub struct UploadFile {
    pub id: String,
    path: PathBuf,
    file: tokio::io::BufWriter<tokio::fs::File>,
    /// The same file, for background syncs while writing goes on.
    syncer: Arc<std::fs::File>,
    syncing: Option<JoinHandle<io::Result<()>>>,
    unsynced: u64,
    hasher: Sha256,
    size: u64,
}

impl UploadFile {
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.hasher.update(chunk);
        self.file.write_all(chunk).await?;
        self.size += chunk.len() as u64;
        self.unsynced += chunk.len() as u64;
        if self.unsynced >= SYNC_EVERY && self.syncing.as_ref().is_none_or(|h| h.is_finished()) {
            if let Some(done) = self.syncing.take() {
                done.await.map_err(io::Error::other)??;
            }
            self.file.flush().await?;
            self.unsynced = 0;
            let file = self.syncer.clone();
            self.syncing = Some(tokio::task::spawn_blocking(move || file.sync_data()));
        }
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The digest of what was written so far.
    pub fn digest(&self) -> Digest {
        Digest::from_hasher(self.hasher.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commit_is_content_addressed_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        for _ in 0..2 {
            let mut up = store.create_upload().await.unwrap();
            up.write(b"hello ").await.unwrap();
            up.write(b"world").await.unwrap();
            let d = up.digest();
            assert_eq!(d, Digest::of(b"hello world"));
            store.commit(up, &d).await.unwrap();
        }
        assert_eq!(store.list().unwrap(), vec![Digest::of(b"hello world")]);
        assert_eq!(std::fs::read(store.path(&Digest::of(b"hello world"))).unwrap(), b"hello world");
        assert_eq!(std::fs::read_dir(dir.path().join("registry/uploads")).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn reopening_discards_unfinished_uploads() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let mut up = store.create_upload().await.unwrap();
        up.write(b"partial").await.unwrap();
        drop(up);
        let store = BlobStore::open(dir.path()).unwrap();
        assert!(store.list().unwrap().is_empty());
        assert_eq!(std::fs::read_dir(dir.path().join("registry/uploads")).unwrap().count(), 0);
    }
}
