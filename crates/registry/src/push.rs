//! The push path shared by the OCI `PUT /manifests/` and ECR's PutImage, and image deletion
//! shared by `DELETE /manifests/`, BatchDeleteImage and lifecycle expiry.

use std::sync::Arc;

use crate::{
    digest::Digest,
    error::DistError,
    manifest,
    meta::{Edit, ImageRecord},
    names, Registry, StoreFailure,
};

/// Why a push was refused. Each caller words it in its own protocol.
#[derive(Debug)]
pub enum PushError {
    Invalid(DistError),
    NoRepository,
    BlobsMissing(Vec<String>),
    ManifestsMissing(Vec<String>),
    DigestMismatch { expected: String, actual: String },
    TagImmutable { tag: String },
    Store(StoreFailure),
}

impl From<StoreFailure> for PushError {
    fn from(e: StoreFailure) -> Self {
        PushError::Store(e)
    }
}

pub struct Pushed {
    pub digest: Digest,
    pub media_type: String,
    pub subject: Option<String>,
    /// Neither the image nor the tag changed: the same manifest was pushed again.
    pub unchanged: bool,
}

impl Registry {
    /// Validates and stores a manifest, tagging it when `tag` is set. Nothing is stored
    /// unless everything it references is present in the repository.
    pub async fn push_image(
        &self,
        region: &str,
        repo: &str,
        tag: Option<String>,
        expected: Option<Digest>,
        bytes: Vec<u8>,
        content_type: Option<String>,
    ) -> Result<Pushed, PushError> {
        if let Some(t) = &tag {
            if !names::valid_tag(t) {
                return Err(PushError::Invalid(DistError::new(
                    400,
                    "TAG_INVALID",
                    format!("tag '{t}' must match [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}"),
                )));
            }
        }
        let parsed = manifest::parse(&bytes, content_type.as_deref()).map_err(PushError::Invalid)?;
        let manifest = String::from_utf8(bytes)
            .map_err(|_| PushError::Invalid(DistError::manifest_invalid("manifest is not UTF-8")))?;
        let digest = Digest::of(manifest.as_bytes());
        if let Some(e) = expected {
            if e != digest {
                return Err(PushError::DigestMismatch { expected: e.to_string(), actual: digest.to_string() });
            }
        }
        let (region, repo) = (region.to_string(), repo.to_string());
        let _gc = self.inner.gc_lock.read().await;
        let d = digest.clone();
        let pushed = self
            .write(move |meta, edits| {
                let r = meta.repo(&region, &repo).ok_or(PushError::NoRepository)?;
                let missing: Vec<String> = parsed
                    .blobs
                    .iter()
                    .filter(|b| !r.blobs.contains_key(b.digest.as_str()))
                    .map(|b| b.digest.to_string())
                    .collect();
                if !missing.is_empty() {
                    return Err(PushError::BlobsMissing(missing));
                }
                // A descriptor's size must be the stored blob's: clients trust it to read the blob.
                if let Some((b, stored)) = parsed
                    .blobs
                    .iter()
                    .find_map(|b| r.blobs.get(b.digest.as_str()).filter(|l| l.size != b.size).map(|l| (b, l.size)))
                {
                    return Err(PushError::Invalid(DistError::manifest_invalid(format!(
                        "{} is {stored} bytes, but the manifest says {}",
                        b.digest, b.size
                    ))));
                }
                let missing: Vec<String> = parsed
                    .children
                    .iter()
                    .filter(|c| !r.images.contains_key(c.digest.as_str()))
                    .map(|c| c.digest.to_string())
                    .collect();
                if !missing.is_empty() {
                    return Err(PushError::ManifestsMissing(missing));
                }
                let existing_tag = tag.as_ref().and_then(|t| r.tags.get(t));
                if let (Some(t), Some(old)) = (&tag, existing_tag) {
                    if old != d.as_str() && r.record.image_tag_mutability.starts_with("IMMUTABLE") {
                        return Err(PushError::TagImmutable { tag: t.clone() });
                    }
                }
                let image_exists = r.images.contains_key(d.as_str());
                if !image_exists {
                    let image = ImageRecord {
                        digest: d.to_string(),
                        media_type: parsed.media_type.clone(),
                        artifact_type: parsed.artifact_type.clone(),
                        manifest,
                        pushed_at: Registry::now(),
                        size: parsed.size,
                        blobs: parsed.blobs.iter().map(|b| b.digest.to_string()).collect(),
                        children: parsed.children.iter().map(|c| c.digest.to_string()).collect(),
                        subject: parsed.subject.as_ref().map(|s| s.digest.to_string()),
                        annotations: parsed.annotations.clone(),
                    };
                    edits.push(Edit::PutImage { region: region.clone(), repo: repo.clone(), image: Arc::new(image) });
                }
                let tag_changes = tag.is_some() && existing_tag.map(String::as_str) != Some(d.as_str());
                if let (true, Some(t)) = (tag_changes, &tag) {
                    edits.push(Edit::PutTag {
                        region: region.clone(),
                        repo: repo.clone(),
                        tag: t.clone(),
                        digest: d.to_string(),
                    });
                }
                Ok(Pushed {
                    digest: d.clone(),
                    media_type: parsed.media_type.clone(),
                    subject: parsed.subject.as_ref().map(|s| s.digest.to_string()),
                    unchanged: image_exists && !tag_changes,
                })
            })
            .await?;
        Ok(pushed)
    }

    /// Deletes an image and every tag on it. Refused while an index in the repository lists it.
    pub async fn delete_image(&self, region: &str, repo: &str, digest: &str) -> Result<Vec<String>, DeleteError> {
        let (region, repo, digest) = (region.to_string(), repo.to_string(), digest.to_string());
        self.write(move |meta, edits| {
            let r = meta.repo(&region, &repo).ok_or(DeleteError::NoRepository)?;
            if !r.images.contains_key(&digest) {
                return Err(DeleteError::NotFound);
            }
            if r.referenced_by_index(&digest) {
                return Err(DeleteError::ReferencedByIndex);
            }
            let tags = r.tags_of(&digest);
            for t in &tags {
                edits.push(Edit::DeleteTag { region: region.clone(), repo: repo.clone(), tag: t.clone() });
            }
            edits.push(Edit::DeleteImage { region: region.clone(), repo: repo.clone(), digest: digest.clone() });
            Ok(tags)
        })
        .await
    }

    /// Removes a tag; with `drop_untagged`, an image left without tags goes too (ECR's
    /// BatchDeleteImage). Returns the digest the tag pointed at.
    pub async fn delete_tag(
        &self,
        region: &str,
        repo: &str,
        tag: &str,
        drop_untagged: bool,
    ) -> Result<String, DeleteError> {
        let (region, repo, tag) = (region.to_string(), repo.to_string(), tag.to_string());
        self.write(move |meta, edits| {
            let r = meta.repo(&region, &repo).ok_or(DeleteError::NoRepository)?;
            let digest = r.tags.get(&tag).cloned().ok_or(DeleteError::NotFound)?;
            let last = r.tags_of(&digest).len() == 1;
            if drop_untagged && last && r.referenced_by_index(&digest) {
                return Err(DeleteError::ReferencedByIndex);
            }
            edits.push(Edit::DeleteTag { region: region.clone(), repo: repo.clone(), tag });
            if drop_untagged && last {
                edits.push(Edit::DeleteImage { region: region.clone(), repo: repo.clone(), digest: digest.clone() });
            }
            Ok(digest)
        })
        .await
    }
}

#[derive(Debug)]
pub enum DeleteError {
    NoRepository,
    NotFound,
    ReferencedByIndex,
    Store(StoreFailure),
}

impl From<StoreFailure> for DeleteError {
    fn from(e: StoreFailure) -> Self {
        DeleteError::Store(e)
    }
}
