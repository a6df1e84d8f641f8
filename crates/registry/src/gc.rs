//! Garbage collection of blobs and lifecycle expiry of images.
//!
//! A blob file is kept while any repository links it. A link is dropped once no image in
//! its repository references it and it is older than the grace period (so the blobs of a
//! push in progress, uploaded before their manifest, survive). The collector holds the GC
//! lock exclusively, so no upload can make a blob visible, and no manifest can start
//! referencing a link, while it decides.

use std::collections::HashSet;

use crate::{
    digest::Digest,
    lifecycle::{Candidate, Policy},
    meta::{Edit, Meta},
    push::DeleteError,
    EcrError, Registry,
};

/// What one collection removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Collected {
    pub links: usize,
    pub blobs: usize,
}

impl Registry {
    pub async fn collect_garbage(&self) -> Result<Collected, String> {
        let _exclusive = self.inner.gc_lock.write().await;
        let cutoff = Registry::now() - self.inner.gc_grace.as_secs_f64();
        let links = self
            .write(move |meta: &Meta, edits| {
                for ((region, name), repo) in &meta.repos {
                    let used: HashSet<&str> =
                        repo.images.values().flat_map(|i| i.blobs.iter().map(String::as_str)).collect();
                    for (digest, link) in &repo.blobs {
                        if !used.contains(digest.as_str()) && link.linked_at <= cutoff {
                            edits.push(Edit::DeleteBlob {
                                region: region.clone(),
                                repo: name.clone(),
                                digest: digest.clone(),
                            });
                        }
                    }
                }
                Ok::<_, crate::StoreFailure>(edits.len())
            })
            .await
            .map_err(|e| e.0)?;
        let linked: HashSet<String> = self.read(|m| m.repos.values().flat_map(|r| r.blobs.keys().cloned()).collect());
        let mut blobs = 0;
        for digest in self.inner.blobs.list().map_err(|e| e.to_string())? {
            if !linked.contains(digest.as_str()) {
                self.inner.blobs.remove(&digest).map_err(|e| e.to_string())?;
                blobs += 1;
            }
        }
        if links + blobs > 0 {
            tracing::info!(links, blobs, "registry garbage collected");
        }
        Ok(Collected { links, blobs })
    }

    /// Whether a blob file is stored (for tests and the benchmark).
    pub fn blob_stored(&self, digest: &str) -> bool {
        Digest::parse(digest).is_some_and(|d| self.inner.blobs.exists(&d))
    }

    /// The images of a repository as lifecycle evaluation sees them.
    pub(crate) fn candidates(meta: &Meta, region: &str, name: &str) -> Vec<Candidate> {
        let Some(repo) = meta.repo(region, name) else { return Vec::new() };
        repo.images
            .values()
            .map(|i| Candidate { digest: i.digest.clone(), tags: repo.tags_of(&i.digest), pushed_at: i.pushed_at })
            .collect()
    }

    /// Expires what the repository's lifecycle policy says should go. Returns the digests removed.
    pub async fn apply_lifecycle(&self, region: &str, name: &str) -> Result<Vec<String>, EcrError> {
        let (policy, candidates) = self.read(|m| {
            let text = m.repo(region, name).and_then(|r| r.record.lifecycle_policy.clone());
            (text, Registry::candidates(m, region, name))
        });
        let Some(text) = policy else { return Ok(Vec::new()) };
        let expiring = Policy::parse(&text)?.evaluate(&candidates, Registry::now());
        let mut removed = Vec::new();
        for (digest, _) in expiring {
            match self.delete_image(region, name, &digest).await {
                Ok(_) => removed.push(digest),
                Err(DeleteError::Store(e)) => return Err(e.into()),
                Err(_) => {}
            }
        }
        let (region_s, name_s) = (region.to_string(), name.to_string());
        self.write(move |meta, edits| {
            if let Some(r) = meta.repo(&region_s, &name_s) {
                let mut record = (*r.record).clone();
                record.lifecycle_evaluated_at = Some(Registry::now());
                edits.push(Edit::PutRepo { region: region_s, record: std::sync::Arc::new(record) });
            }
            Ok::<_, EcrError>(())
        })
        .await?;
        if !removed.is_empty() {
            tracing::info!(repository = name, images = removed.len(), "lifecycle policy expired images");
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use crate::{digest::Digest, Registry, RegistryConfig, TokenKey};

    fn open(dir: &std::path::Path, grace: Duration) -> Registry {
        let store = Arc::new(berth_store::SqliteStore::open(dir).unwrap());
        let config = RegistryConfig {
            data_dir: dir.to_path_buf(),
            account: "123456789012".into(),
            host: "127.0.0.1:1".into(),
            token_key: TokenKey::derive(b"k"),
            gc_grace: grace,
        };
        Registry::open(config, store).unwrap()
    }

    async fn upload(r: &Registry, repo: &str, bytes: &[u8]) -> Result<Digest, crate::DistError> {
        let id = r.start_upload("us-east-1", repo).await?;
        let handle = r.upload("us-east-1", repo, &id)?;
        handle.lock().await.as_mut().unwrap().write(bytes).await?;
        r.finish_upload("us-east-1", repo, &id, Digest::of(bytes).as_str()).await
    }

    async fn create(r: &Registry, name: &str) {
        let body = serde_json::json!({ "repositoryName": name }).to_string();
        r.ecr("us-east-1", "CreateRepository", body.as_bytes()).await.unwrap();
    }

    #[tokio::test]
    async fn unreferenced_blobs_survive_the_grace_period_only() {
        let dir = tempfile::tempdir().unwrap();
        let r = open(dir.path(), Duration::from_secs(3600));
        create(&r, "web").await;
        let d = upload(&r, "web", b"a layer whose manifest is still coming").await.unwrap();
        assert_eq!(r.collect_garbage().await.unwrap().blobs, 0);
        assert!(r.blob_stored(d.as_str()), "a fresh upload is kept for the grace period");
        drop(r);
        let r = open(dir.path(), Duration::ZERO);
        let collected = r.collect_garbage().await.unwrap();
        assert_eq!((collected.links, collected.blobs), (1, 1));
        assert!(!r.blob_stored(d.as_str()));
    }

    /// Pushes race the collector (with no grace at all): a push may be refused because its
    /// blobs were collected first, but no link ever outlives its file and no stored image
    /// ever lacks a blob.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn collection_racing_pushes_never_breaks_an_image() {
        let dir = tempfile::tempdir().unwrap();
        let r = open(dir.path(), Duration::ZERO);
        create(&r, "web").await;
        let collector = {
            let r = r.clone();
            tokio::spawn(async move {
                for _ in 0..200 {
                    r.collect_garbage().await.unwrap();
                    tokio::task::yield_now().await;
                }
            })
        };
        let mut stored = 0;
        for i in 0..100u32 {
            let layer = format!("layer {i}");
            let layer_size = layer.len();
            let config = upload(&r, "web", b"{}").await.unwrap();
            let Ok(layer) = upload(&r, "web", layer.as_bytes()).await else { continue };
            let manifest = serde_json::json!({
                "schemaVersion": 2, "mediaType": crate::manifest::OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.as_str(), "size": 2},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.as_str(), "size": layer_size}],
            });
            let pushed = r
                .push_image("us-east-1", "web", Some(format!("v{i}")), None, manifest.to_string().into_bytes(), None)
                .await;
            stored += usize::from(pushed.is_ok());
        }
        collector.await.unwrap();
        r.collect_garbage().await.unwrap();
        r.read(|m| {
            let repo = m.repo("us-east-1", "web").unwrap();
            assert_eq!(repo.images.len(), stored);
            for digest in repo.blobs.keys() {
                assert!(r.blob_stored(digest), "link to a missing file: {digest}");
            }
            for image in repo.images.values() {
                for b in &image.blobs {
                    assert!(repo.blobs.contains_key(b) && r.blob_stored(b), "image {} lost {b}", image.digest);
                }
            }
        });
        assert!(stored > 0, "some pushes got through");
    }
}
