//! Images: list, describe, get, delete and put manifests.

use super::*;

impl Registry {
    pub(super) fn list_images(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        let req: ImagesRequest = decode(body)?;
        let max = max_results(req.max_results, 100, 1000)?;
        let all = self.with_repo(region, &req.repo, |_, repo| {
            let mut ids = Vec::new();
            for digest in repo.images.keys() {
                let tags = repo.tags_of(digest);
                if tags.is_empty() {
                    if req.filter.keeps(false)? {
                        ids.push((format!("{digest}/"), json!({"imageDigest": digest})));
                    }
                } else if req.filter.keeps(true)? {
                    for t in tags {
                        ids.push((format!("{digest}/{t}"), json!({"imageDigest": digest, "imageTag": t})));
                    }
                }
            }
            Ok::<_, EcrError>(ids)
        })??;
        let (items, next) = page(all, req.next_token.as_deref(), max);
        paged_reply("imageIds", items, next, json!({}))
    }

    pub(super) fn image_detail(&self, repo: &Repo, image: &ImageRecord) -> Value {
        let mut d = json!({
            "registryId": self.inner.account,
            "repositoryName": repo.record.name,
            "imageDigest": image.digest,
            "imageSizeInBytes": image.size,
            "imagePushedAt": image.pushed_at,
            "imageManifestMediaType": image.media_type,
            "imageStatus": "ACTIVE",
        });
        let tags = repo.tags_of(&image.digest);
        if !tags.is_empty() {
            d["imageTags"] = json!(tags);
        }
        if let Some(a) = &image.artifact_type {
            d["artifactMediaType"] = json!(a);
        }
        if let Some(s) = &image.subject {
            d["subjectManifestDigest"] = json!(s);
        }
        d
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
            return reply(json!({ "imageDetails": details }));
        }
        let max = max_results(req.max_results, 100, 1000)?;
        let all = self.with_repo(region, &req.repo, |_, repo| {
            let mut out = Vec::new();
            for image in repo.images.values() {
                if req.filter.keeps(!repo.tags_of(&image.digest).is_empty())? {
                    out.push((image.digest.clone(), self.image_detail(repo, image)));
                }
            }
            Ok::<_, EcrError>(out)
        })??;
        let (items, next) = page(all, req.next_token.as_deref(), max);
        paged_reply("imageDetails", items, next, json!({}))
    }

    /// An `Image` (BatchGetImage, PutImage): the manifest under its identifier.
    pub(super) fn image_json(
        &self,
        repository: &str,
        digest: &str,
        tag: Option<&str>,
        manifest: &str,
        media_type: &str,
    ) -> Value {
        strip_nulls(json!({
            "registryId": self.inner.account,
            "repositoryName": repository,
            "imageId": {"imageDigest": digest, "imageTag": tag},
            "imageManifest": manifest,
            "imageManifestMediaType": media_type,
        }))
    }

    pub(super) fn batch_get_image(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        let req: BatchRequest = decode(body)?;
        let ids = check_ids(&req.image_ids)?;
        let accepted: Vec<&str> = req.accepted_media_types.iter().flatten().map(String::as_str).collect();
        let (images, failures) = self.with_repo(region, &req.repo, |_, repo| {
            let (mut images, mut failures) = (Vec::new(), Vec::new());
            for id in ids {
                match resolve(repo, id) {
                    Ok(i) if crate::dist::accepts(&accepted, &i.media_type) => images.push(self.image_json(
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
        reply(json!({ "images": images, "failures": failures }))
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
                Ok(digest) => deleted.push(json!({"imageDigest": digest, "imageTag": id.image_tag})),
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
        let deleted: Vec<Value> = deleted.into_iter().map(strip_nulls).collect();
        reply(json!({ "imageIds": deleted, "failures": failures }))
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
        let image = self.image_json(&name, pushed.digest.as_str(), tag.as_deref(), &manifest_text, &pushed.media_type);
        reply(json!({ "image": image }))
    }
}
