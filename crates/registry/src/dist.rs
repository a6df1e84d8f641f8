//! The OCI distribution operations, free of HTTP: the API layer parses requests, streams
//! bodies into uploads and files out of blobs, and calls these.

use std::{path::PathBuf, sync::Arc};

use serde_json::Value;

use crate::{
    blobs::UploadFile,
    digest::Digest,
    error::DistError,
    manifest,
    meta::{BlobLink, Edit, ImageRecord},
    names,
    push::{DeleteError, PushError, Pushed},
    Registry,
};

/// An upload in progress: where it goes, its file (taken while a request writes to it)
/// and when a request last touched it.
pub struct UploadSlot {
    region: String,
    repo: String,
    file: Arc<tokio::sync::Mutex<Option<UploadFile>>>,
    touched: f64,
}

/// Uploads open at once; one more is refused until one finishes, is cancelled or expires.
/// Each holds a file, two descriptors and a write buffer of up to 1 MiB.
pub const MAX_OPEN_UPLOADS: usize = 256;
/// An upload no request has touched for this long is discarded by the maintenance pass.
pub const UPLOAD_IDLE_EXPIRY: std::time::Duration = std::time::Duration::from_secs(15 * 60);

pub type UploadHandle = Arc<tokio::sync::Mutex<Option<UploadFile>>>;

impl Registry {
    /// Checks an `Authorization` header; returns what its token allows.
    pub fn authenticate(&self, header: Option<&str>) -> Result<crate::token::Grant, DistError> {
        let now = Registry::now() as u64;
        self.inner.token_key.verify_header(header, now).map_err(|e| DistError::unauthorized(e.to_string()))
    }

    /// Checks that the repository exists.
    pub fn check_repo(&self, region: &str, name: &str) -> Result<(), DistError> {
        if !names::valid_repository_name(name) {
            return Err(DistError::new(400, "NAME_INVALID", format!("invalid repository name '{name}'")));
        }
        match self.read(|m| m.repo(region, name).is_some()) {
            true => Ok(()),
            false => Err(DistError::name_unknown(name)),
        }
    }

    /// The file and size of a blob present in the repository.
    pub fn blob_file(&self, region: &str, name: &str, digest: &str) -> Result<(PathBuf, u64), DistError> {
        self.check_repo(region, name)?;
        let d = Digest::parse(digest)
            .ok_or_else(|| DistError::digest_invalid(format!("'{digest}' is not a sha256 digest")))?;
        let size = self
            .read(|m| m.repo(region, name).and_then(|r| r.blobs.get(d.as_str()).map(|l| l.size)))
            .ok_or_else(|| DistError::blob_unknown(digest))?;
        Ok((self.inner.blobs.path(&d), size))
    }

    /// Opens a new upload session; returns its id.
    pub async fn start_upload(&self, region: &str, name: &str) -> Result<String, DistError> {
        self.check_repo(region, name)?;
        if self.open_uploads() >= MAX_OPEN_UPLOADS {
            return Err(DistError::new(
                429,
                "TOOMANYREQUESTS",
                format!("{MAX_OPEN_UPLOADS} uploads are open; finish or cancel one, or retry later"),
            ));
        }
        let file = self.inner.blobs.create_upload().await?;
        let id = file.id.clone();
        let slot = UploadSlot {
            region: region.to_string(),
            repo: name.to_string(),
            file: Arc::new(tokio::sync::Mutex::new(Some(file))),
            touched: Registry::now(),
        };
        self.inner.uploads.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), slot);
        Ok(id)
    }

    /// How many uploads are in progress.
    pub fn open_uploads(&self) -> usize {
        self.inner.uploads.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// The upload `id`, which must belong to this repository.
    pub fn upload(&self, region: &str, name: &str, id: &str) -> Result<UploadHandle, DistError> {
        let mut uploads = self.inner.uploads.lock().unwrap_or_else(|p| p.into_inner());
        match uploads.get_mut(id) {
            Some(s) if s.region == region && s.repo == name => {
                s.touched = Registry::now();
                Ok(s.file.clone())
            }
            _ => Err(DistError::upload_unknown()),
        }
    }

    /// Discards uploads untouched for `idle` that no request is writing to; returns how many.
    pub async fn expire_uploads(&self, idle: std::time::Duration) -> usize {
        let cutoff = Registry::now() - idle.as_secs_f64();
        let stale: Vec<UploadHandle> = {
            let mut uploads = self.inner.uploads.lock().unwrap_or_else(|p| p.into_inner());
            let ids: Vec<String> = uploads
                .iter()
                .filter(|(_, s)| s.touched <= cutoff && s.file.try_lock().is_ok())
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter().filter_map(|id| uploads.remove(id)).map(|s| s.file).collect()
        };
        let mut expired = 0;
        for handle in stale {
            if let Some(f) = handle.lock().await.take() {
                self.inner.blobs.discard(f).await;
                expired += 1;
            }
        }
        expired
    }

    fn take_upload(&self, region: &str, name: &str, id: &str) -> Result<UploadHandle, DistError> {
        let handle = self.upload(region, name, id)?;
        self.inner.uploads.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        Ok(handle)
    }

    /// Completes an upload whose bytes are all written: checks them against `digest`, makes
    /// the blob visible and links it into the repository. A mismatch discards the upload.
    pub async fn finish_upload(&self, region: &str, name: &str, id: &str, digest: &str) -> Result<Digest, DistError> {
        let handle = self.take_upload(region, name, id)?;
        let Some(expected) = Digest::parse(digest) else {
            if let Some(f) = handle.lock().await.take() {
                self.inner.blobs.discard(f).await;
            }
            return Err(DistError::digest_invalid(format!(
                "'{digest}' is not a sha256 digest; the upload was discarded"
            )));
        };
        let file = handle.lock().await.take().ok_or_else(DistError::upload_unknown)?;
        let actual = file.digest();
        if actual != expected {
            self.inner.blobs.discard(file).await;
            return Err(DistError::digest_invalid(format!(
                "the uploaded content has digest {actual}, not {expected}; nothing was stored"
            )));
        }
        let size = file.size();
        let _gc = self.inner.gc_lock.read().await;
        self.inner.blobs.commit(file, &expected).await?;
        self.link_blob(region, name, &expected, size).await?;
        Ok(expected)
    }

    pub async fn cancel_upload(&self, region: &str, name: &str, id: &str) -> Result<(), DistError> {
        let handle = self.take_upload(region, name, id)?;
        let file = handle.lock().await.take();
        if let Some(f) = file {
            self.inner.blobs.discard(f).await;
        }
        Ok(())
    }

    async fn link_blob(&self, region: &str, name: &str, digest: &Digest, size: u64) -> Result<(), DistError> {
        let (region, name, digest) = (region.to_string(), name.to_string(), digest.to_string());
        self.write(move |meta, edits| {
            let repo = meta.repo(&region, &name).ok_or_else(|| DistError::name_unknown(&name))?;
            if !repo.blobs.contains_key(&digest) {
                let link = BlobLink { size, linked_at: Registry::now() };
                edits.push(Edit::PutBlob { region, repo: name, digest, link });
            }
            Ok(())
        })
        .await
    }

    /// Links a blob another repository of the region holds, without uploading it again.
    /// `false` when neither the source nor the target has it (the caller then starts a normal upload).
    pub async fn mount(&self, region: &str, name: &str, digest: &str, from: &str) -> Result<bool, DistError> {
        self.check_repo(region, name)?;
        let Some(d) = Digest::parse(digest) else { return Ok(false) };
        let _gc = self.inner.gc_lock.read().await;
        // The target itself holding the blob counts: nothing needs uploading.
        let size = self.read(|m| {
            [name, from].iter().find_map(|r| m.repo(region, r).and_then(|r| r.blobs.get(d.as_str()).map(|l| l.size)))
        });
        match size {
            Some(size) if self.inner.blobs.exists(&d) => {
                self.link_blob(region, name, &d, size).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// A manifest by tag or digest.
    pub fn manifest(&self, region: &str, name: &str, reference: &str) -> Result<Arc<ImageRecord>, DistError> {
        self.check_repo(region, name)?;
        self.read(|m| {
            let repo = m.repo(region, name)?;
            let digest = if Digest::looks_like(reference) { reference } else { repo.tags.get(reference)? };
            repo.images.get(digest).cloned()
        })
        .ok_or_else(|| DistError::manifest_unknown(reference))
    }

    /// `PUT /v2/<name>/manifests/<reference>`.
    pub async fn put_manifest(
        &self,
        region: &str,
        name: &str,
        reference: &str,
        body: Vec<u8>,
        content_type: Option<String>,
    ) -> Result<Pushed, DistError> {
        self.check_repo(region, name)?;
        let (tag, expected) = if Digest::looks_like(reference) {
            let d = Digest::parse(reference)
                .ok_or_else(|| DistError::digest_invalid(format!("'{reference}' is not a sha256 digest")))?;
            (None, Some(d))
        } else {
            (Some(reference.to_string()), None)
        };
        let pushed = self.push_image(region, name, tag, expected, body, content_type).await.map_err(|e| match e {
            PushError::Invalid(e) => e,
            PushError::NoRepository => DistError::name_unknown(name),
            PushError::BlobsMissing(d) => DistError::new(
                400,
                "MANIFEST_BLOB_UNKNOWN",
                format!("the manifest references blobs this repository does not have: {}", d.join(", ")),
            ),
            PushError::ManifestsMissing(d) => DistError::new(
                400,
                "MANIFEST_BLOB_UNKNOWN",
                format!("the index references manifests this repository does not have: {}", d.join(", ")),
            ),
            PushError::DigestMismatch { expected, actual } => DistError::digest_invalid(format!(
                "the manifest's digest is {actual}, not {expected} as the reference says"
            )),
            PushError::TagImmutable { tag } => DistError::new(
                400,
                "TAG_INVALID",
                format!("The image tag '{tag}' already exists in the '{name}' repository and cannot be overwritten because the repository is immutable."),
            ),
            PushError::Store(e) => e.into(),
        })?;
        self.after_push(region, name);
        Ok(pushed)
    }

    /// Runs the repository's lifecycle policy in the background after a push.
    pub(crate) fn after_push(&self, region: &str, name: &str) {
        if self.read(|m| m.repo(region, name).is_some_and(|r| r.record.lifecycle_policy.is_some())) {
            let (registry, region, name) = (self.clone(), region.to_string(), name.to_string());
            tokio::spawn(async move {
                if let Err(e) = registry.apply_lifecycle(&region, &name).await {
                    tracing::warn!(repository = %name, error = %e, "lifecycle evaluation failed");
                }
            });
        }
    }

    /// `DELETE /v2/<name>/manifests/<reference>`: a digest deletes the image and its tags,
    /// a tag removes just the tag.
    pub async fn delete_manifest(&self, region: &str, name: &str, reference: &str) -> Result<(), DistError> {
        self.check_repo(region, name)?;
        let result = if Digest::looks_like(reference) {
            self.delete_image(region, name, reference).await.map(|_| ())
        } else {
            self.delete_tag(region, name, reference, false).await.map(|_| ())
        };
        if result.is_ok() {
            // Blobs only the deleted image used go once the grace period allows.
            let registry = self.clone();
            tokio::spawn(async move {
                if let Err(e) = registry.collect_garbage().await {
                    tracing::warn!(error = %e, "registry garbage collection after a delete failed");
                }
            });
        }
        result.map_err(|e| match e {
            DeleteError::NoRepository => DistError::name_unknown(name),
            DeleteError::NotFound => DistError::manifest_unknown(reference),
            DeleteError::ReferencedByIndex => DistError::new(
                405,
                "DENIED",
                format!("{reference} is listed by an index in this repository; delete the index first"),
            ),
            DeleteError::Store(e) => e.into(),
        })
    }

    /// The repository's tags, sorted.
    pub fn tags(&self, region: &str, name: &str) -> Result<Vec<String>, DistError> {
        self.check_repo(region, name)?;
        Ok(self.read(|m| m.repo(region, name).map(|r| r.tags.keys().cloned().collect()).unwrap_or_default()))
    }

    /// The region's repositories, sorted.
    pub fn catalog(&self, region: &str) -> Vec<String> {
        self.read(|m| m.repos_in(region).map(|r| r.record.name.clone()).collect())
    }

    /// Descriptors of the manifests whose subject is `digest`, optionally of one artifact type.
    pub fn referrers(
        &self,
        region: &str,
        name: &str,
        digest: &str,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Value>, DistError> {
        self.check_repo(region, name)?;
        if Digest::parse(digest).is_none() {
            return Err(DistError::digest_invalid(format!("'{digest}' is not a sha256 digest")));
        }
        Ok(self.read(|m| {
            let Some(repo) = m.repo(region, name) else { return Vec::new() };
            repo.images
                .values()
                .filter(|i| i.subject.as_deref() == Some(digest))
                .filter(|i| artifact_type.is_none() || i.artifact_type.as_deref() == artifact_type)
                .map(|i| {
                    let mut d = serde_json::json!({
                        "mediaType": i.media_type,
                        "digest": i.digest,
                        "size": i.manifest.len(),
                    });
                    if let Some(a) = &i.artifact_type {
                        d["artifactType"] = Value::String(a.clone());
                    }
                    if let Some(a) = &i.annotations {
                        d["annotations"] = a.clone();
                    }
                    d
                })
                .collect()
        }))
    }
}

/// Whether a manifest media type is acceptable to a client's `Accept` header.
pub fn accepts(accept: &[&str], media_type: &str) -> bool {
    accept.is_empty()
        || accept.iter().any(|a| {
            let a = manifest::bare_media_type(a);
            a == media_type || a == "*/*" || a == "application/*"
        })
}
