//! Images: list, describe, get, delete and put manifests.

use berth_model::ecr::{
    BatchDeleteImageResponse, BatchGetImageResponse, BatchRequest, DescribeImagesResponse, Image, ImageDetail,
    ListImagesResponse, PutImageResponse,
};

use super::common::*;

impl Registry {
    pub(super) fn list_images(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        let req: ImagesRequest = decode(body)?;
        let max = max_results(req.max_results, 100, 1000)?;
        let all = self.with_repo(region, &req.repo, |_, repo| {
            let mut ids = Vec::new();
            for digest in repo.images.keys() {
                let tags = repo.tags_of(digest);
                if tags.is_empty() {
                    if keeps(&req.filter, false)? {
                        ids.push((format!("{digest}/"), ImageIdentifier::digest(digest)));
                    }
                } else if keeps(&req.filter, true)? {
                    for t in tags {
                        let id = ImageIdentifier { image_digest: Some(digest.clone()), image_tag: Some(t.clone()) };
                        ids.push((format!("{digest}/{t}"), id));
                    }
                }
            }
            Ok::<_, EcrError>(ids)
        })??;
        let (image_ids, next_token) = page(all, req.next_token.as_deref(), max);
        reply(&ListImagesResponse { image_ids, next_token })
    }

    pub(super) fn image_detail(&self, repo: &Repo, image: &ImageRecord) -> ImageDetail {
        ImageDetail {
            registry_id: self.inner.account.clone(),
            repository_name: repo.record.name.clone(),
            image_digest: image.digest.clone(),
            image_tags: repo.tags_of(&image.digest),
            image_size_in_bytes: image.size,
            image_pushed_at: image.pushed_at,
            image_manifest_media_type: image.media_type.clone(),
            image_status: berth_model::ecr::ImageStatus::Active,
            artifact_media_type: image.artifact_type.clone(),
            subject_manifest_digest: image.subject.clone(),
        }
    }

    pub(super) fn describe_images(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        let req: ImagesRequest = decode(body)?;
        let account = self.inner.account.clone();
        if let Some(ids) = &req.image_ids {
            let details = self.with_repo(region, &req.repo, |_, repo| {
                ids.iter()
                    .map(|id| {
                        resolve(repo, id)
                            .map(|i| self.image_detail(repo, i))
                            .map_err(|_| image_not_found(id, &repo.record.name, &account))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })??;
            return reply(&DescribeImagesResponse { image_details: details, next_token: None });
        }
        let max = max_results(req.max_results, 100, 1000)?;
        let all = self.with_repo(region, &req.repo, |_, repo| {
            let mut out = Vec::new();
            for image in repo.images.values() {
                if keeps(&req.filter, !repo.tags_of(&image.digest).is_empty())? {
                    out.push((image.digest.clone(), self.image_detail(repo, image)));
                }
            }
            Ok::<_, EcrError>(out)
        })??;
        let (image_details, next_token) = page(all, req.next_token.as_deref(), max);
        reply(&DescribeImagesResponse { image_details, next_token })
    }

    /// An `Image` (BatchGetImage, PutImage): the manifest under its identifier.
    pub(super) fn image(
        &self,
        repository: &str,
        digest: &str,
        tag: Option<&str>,
        manifest: &str,
        media_type: &str,
    ) -> Image {
        Image {
            registry_id: self.inner.account.clone(),
            repository_name: repository.into(),
            image_id: ImageIdentifier { image_digest: Some(digest.into()), image_tag: tag.map(String::from) },
            image_manifest: manifest.into(),
            image_manifest_media_type: media_type.into(),
        }
    }

    pub(super) fn batch_get_image(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        let req: BatchRequest = decode(body)?;
        let ids = check_ids(&req.image_ids)?;
        let accepted: Vec<&str> = req.accepted_media_types.iter().flatten().map(String::as_str).collect();
        let (images, failures) = self.with_repo(region, &req.repo, |_, repo| {
            let (mut images, mut failures) = (Vec::new(), Vec::new());
            for id in ids {
                match resolve(repo, id) {
                    Ok(i) if crate::dist::accepts(&accepted, &i.media_type) => images.push(self.image(
                        &repo.record.name,
                        &i.digest,
                        id.image_tag.as_deref(),
                        &i.manifest,
                        &i.media_type,
                    )),
                    Ok(i) => failures.push(failure(
                        id,
                        "UnsupportedImageType",
                        &format!("The image's media type {} is not among the accepted media types", i.media_type),
                    )),
                    Err(code) => failures.push(failure(id, code, "Requested image not found")),
                }
            }
            (images, failures)
        })?;
        reply(&BatchGetImageResponse { images, failures })
    }

    pub(super) async fn batch_delete_image(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        let req: BatchRequest = decode(body)?;
        let ids = check_ids(&req.image_ids)?.to_vec();
        self.with_repo(region, &req.repo, |_, _| ())?;
        let name = req.repo.repository_name.clone().unwrap_or_default();
        let (mut deleted, mut failures) = (Vec::new(), Vec::new());
        for id in &ids {
            let result = match (&id.image_digest, &id.image_tag) {
                (None, None) => {
                    failures.push(failure(
                        id,
                        "MissingDigestAndTag",
                        "Invalid request parameters: both tag and digest cannot be null",
                    ));
                    continue;
                }
                (Some(d), _) if Digest::parse(d).is_none() => {
                    failures.push(failure(id, "InvalidImageDigest", "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"));
                    continue;
                }
                (Some(d), Some(t))
                    if self.read(|m| m.repo(region, &name).and_then(|r| r.tags.get(t).cloned())).as_deref()
                        != Some(d.as_str()) =>
                {
                    failures.push(failure(
                        id,
                        "ImageTagDoesNotMatchDigest",
                        "Invalid request parameters: given tag does not map to the given digest",
                    ));
                    continue;
                }
                (Some(d), None) => self.delete_image(region, &name, d).await.map(|_| d.clone()),
                (_, Some(t)) => self.delete_tag(region, &name, t, true).await,
            };
            match result {
                Ok(digest) => {
                    deleted.push(ImageIdentifier { image_digest: Some(digest), image_tag: id.image_tag.clone() })
                }
                Err(DeleteError::NotFound) => failures.push(failure(id, "ImageNotFound", "Requested image not found")),
                Err(DeleteError::ReferencedByIndex) => failures.push(failure(
                    id,
                    "ImageReferencedByManifestList",
                    "Requested image is referenced by an image index",
                )),
                Err(DeleteError::NoRepository) => {
                    return Err(EcrError::repository_not_found(&name, &self.inner.account))
                }
                Err(DeleteError::Store(e)) => return Err(e.into()),
            }
        }
        if !deleted.is_empty() {
            self.spawn_collect();
        }
        reply(&BatchDeleteImageResponse { image_ids: deleted, failures })
    }

    pub(super) async fn put_image(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Req {
            #[serde(flatten)]
            repo: RepoRequest,
            image_manifest: Option<String>,
            image_manifest_media_type: Option<String>,
            image_tag: Option<String>,
            image_digest: Option<String>,
        }
        let req: Req = decode(body)?;
        self.with_repo(region, &req.repo, |_, _| ())?;
        let name = req.repo.repository_name.clone().unwrap_or_default();
        let manifest_text = required(&req.image_manifest, "imageManifest")?.to_string();
        let expected = match &req.image_digest {
            Some(d) => Some(
                Digest::parse(d)
                    .ok_or_else(|| EcrError::invalid(format!("imageDigest '{d}' is not a sha256 digest")))?,
            ),
            None => None,
        };
        let tag = req.image_tag.clone();
        let pushed = self
            .push_image(region, &name, tag.clone(), expected, manifest_text.clone().into_bytes(), req.image_manifest_media_type.clone())
            .await
            .map_err(|e| match e {
                PushError::Invalid(d) => EcrError::invalid(d.message),
                PushError::NoRepository => EcrError::repository_not_found(&name, &self.inner.account),
                PushError::BlobsMissing(d) => EcrError::new("LayersNotFoundException", format!("The image manifest references layers that are not in the repository: {}", d.join(", "))),
                PushError::ManifestsMissing(d) => EcrError::new("ReferencedImagesNotFoundException", format!("The image index references images that are not in the repository: {}", d.join(", "))),
                PushError::DigestMismatch { expected, actual } => EcrError::new("ImageDigestDoesNotMatchException", format!("The image digest {expected} does not match the manifest's digest {actual}")),
                PushError::TagImmutable { tag } => EcrError::new("ImageTagAlreadyExistsException", format!("The image tag '{tag}' already exists in the '{name}' repository and cannot be overwritten because the repository is immutable.")),
                PushError::Store(e) => e.into(),
            })?;
        if pushed.unchanged {
            return Err(EcrError::new(
                "ImageAlreadyExistsException",
                format!(
                    "Image with digest '{}'{} already exists in the repository with name '{name}' in registry with id '{}'",
                    pushed.digest,
                    tag.as_ref().map(|t| format!(" and tag '{t}'")).unwrap_or_default(),
                    self.inner.account
                ),
            ));
        }
        self.after_push(region, &name);
        let image = self.image(&name, pushed.digest.as_str(), tag.as_deref(), &manifest_text, &pushed.media_type);
        reply(&PutImageResponse { image })
    }
}
