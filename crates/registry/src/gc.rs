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
