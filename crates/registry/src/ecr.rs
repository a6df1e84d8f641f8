//! The ECR API (`AmazonEC2ContainerRegistry_V20150921.*`): decode, run, encode. Names,
//! shapes and error types follow the published ECR model.

use std::sync::Arc;

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{
    digest::Digest,
    error::EcrError,
    lifecycle::Policy,
    meta::{EcrTag, Edit, ImageRecord, Meta, Preview, Repo, RepositoryRecord},
    names,
    push::{DeleteError, PushError},
    token, Registry,
};

pub const TARGET_PREFIX: &str = "AmazonEC2ContainerRegistry_V20150921.";

/// Every operation berth answers, by its ECR name.
pub const OPERATIONS: &[&str] = &[
    "CreateRepository",
    "DescribeRepositories",
    "DeleteRepository",
    "GetAuthorizationToken",
    "ListImages",
    "DescribeImages",
    "BatchGetImage",
    "BatchDeleteImage",
    "PutImage",
    "PutImageTagMutability",
    "PutImageScanningConfiguration",
    "PutLifecyclePolicy",
    "GetLifecyclePolicy",
    "DeleteLifecyclePolicy",
    "StartLifecyclePolicyPreview",
    "GetLifecyclePolicyPreview",
    "SetRepositoryPolicy",
    "GetRepositoryPolicy",
    "DeleteRepositoryPolicy",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
];

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, EcrError> {
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        EcrError::new("InvalidParameterException", format!("Invalid request at '{}': {}", e.path(), e.inner()))
    })
}

fn reply(v: Value) -> Result<Vec<u8>, EcrError> {
    serde_json::to_vec(&v).map_err(|e| EcrError::server(e.to_string()))
}

fn required<'a>(v: &'a Option<String>, field: &str) -> Result<&'a str, EcrError> {
    v.as_deref().ok_or_else(|| {
        EcrError::invalid(format!(
            "Invalid parameter at '{field}' failed to satisfy constraint: 'Member must not be null'"
        ))
    })
}

fn check_name(name: &str) -> Result<(), EcrError> {
    if names::valid_repository_name(name) {
        Ok(())
    } else {
        Err(EcrError::invalid(format!(
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'Repository name {}' (got '{name}')",
            names::REPOSITORY_NAME_RULE
        )))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RepoRequest {
    registry_id: Option<String>,
    repository_name: Option<String>,
}

/// The request shape of the paginated image listings (ListImages, DescribeImages,
/// GetLifecyclePolicyPreview).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImagesRequest {
    #[serde(flatten)]
    repo: RepoRequest,
    image_ids: Option<Vec<ImageId>>,
    next_token: Option<String>,
    max_results: Option<i64>,
    #[serde(default)]
    filter: TagFilter,
}

/// The request shape of BatchGetImage and BatchDeleteImage.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchRequest {
    #[serde(flatten)]
    repo: RepoRequest,
    image_ids: Option<Vec<ImageId>>,
    /// BatchGetImage only.
    accepted_media_types: Option<Vec<String>>,
}

/// A reply of one page: `items` under `key`, and `nextToken` when more remain.
fn paged_reply(key: &str, items: Vec<Value>, next: Option<String>, mut extra: Value) -> Result<Vec<u8>, EcrError> {
    extra[key] = Value::Array(items);
    if let Some(n) = next {
        extra["nextToken"] = json!(n);
    }
    reply(extra)
}

#[derive(Deserialize, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ImageId {
    #[serde(skip_serializing_if = "Option::is_none")]
    image_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_tag: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct TagFilter {
    tag_status: Option<String>,
}

impl TagFilter {
    fn keeps(&self, tagged: bool) -> Result<bool, EcrError> {
        match self.tag_status.as_deref() {
            None | Some("ANY") => Ok(true),
            Some("TAGGED") => Ok(tagged),
            Some("UNTAGGED") => Ok(!tagged),
            Some(other) => Err(EcrError::invalid(format!("tagStatus must be TAGGED, UNTAGGED or ANY, not '{other}'"))),
        }
    }
}

fn max_results(v: Option<i64>, default: usize, max: i64) -> Result<usize, EcrError> {
    match v {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        Some(n) => Err(EcrError::invalid(format!("maxResults must be between 1 and {max}, not {n}"))),
    }
}

/// One page of `items` (sorted by key) after the key in `next_token`.
fn page<T: Clone>(items: Vec<(String, T)>, next_token: Option<&str>, max: usize) -> (Vec<T>, Option<String>) {
    let start = match next_token {
        Some(t) => items.iter().position(|(k, _)| k.as_str() > t).unwrap_or(items.len()),
        None => 0,
    };
    let rest = &items[start..];
    let next = (rest.len() > max).then(|| rest[max - 1].0.clone());
    (rest.iter().take(max).map(|(_, v)| v.clone()).collect(), next)
}

impl Registry {
    /// Runs one ECR operation for a caller in `region`.
    pub async fn ecr(&self, region: &str, operation: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        match operation {
            "CreateRepository" => self.create_repository(region, body).await,
            "DescribeRepositories" => self.describe_repositories(region, body),
            "DeleteRepository" => self.delete_repository(region, body).await,
            "GetAuthorizationToken" => self.get_authorization_token(region, body),
            "ListImages" => self.list_images(region, body),
            "DescribeImages" => self.describe_images(region, body),
            "BatchGetImage" => self.batch_get_image(region, body),
            "BatchDeleteImage" => self.batch_delete_image(region, body).await,
            "PutImage" => self.put_image(region, body).await,
            "PutImageTagMutability" | "PutImageScanningConfiguration" => {
                self.update_repository_setting(region, operation, body).await
            }
            "PutLifecyclePolicy" | "DeleteLifecyclePolicy" | "SetRepositoryPolicy" | "DeleteRepositoryPolicy" => {
                self.set_policy(region, operation, body).await
            }
            "GetLifecyclePolicy" | "GetRepositoryPolicy" => self.get_policy(region, operation, body),
            "StartLifecyclePolicyPreview" => self.start_preview(region, body).await,
            "GetLifecyclePolicyPreview" => self.get_preview(region, body),
            "TagResource" | "UntagResource" => self.tag_resource(region, operation, body).await,
            "ListTagsForResource" => self.list_tags(region, body),
            other => Err(EcrError::new("UnknownOperationException", format!("Operation '{other}' is not supported."))),
        }
    }

    fn check_registry(&self, registry_id: &Option<String>) -> Result<(), EcrError> {
        match registry_id {
            Some(id) if id != &self.inner.account => Err(EcrError::invalid(format!(
                "registryId '{id}' is not this registry; berth's registry id is '{}'",
                self.inner.account
            ))),
            _ => Ok(()),
        }
    }

    fn repository_json(&self, r: &RepositoryRecord) -> Value {
        let mut encryption = json!({"encryptionType": r.encryption_type});
        if let Some(k) = &r.kms_key {
            encryption["kmsKey"] = json!(k);
        }
        json!({
            "repositoryArn": r.arn,
            "registryId": self.inner.account,
            "repositoryName": r.name,
            "repositoryUri": format!("{}/{}", self.inner.host, r.name),
            "createdAt": r.created_at,
            "imageTagMutability": r.image_tag_mutability,
            "imageScanningConfiguration": {"scanOnPush": r.scan_on_push},
            "encryptionConfiguration": encryption,
        })
    }

    /// Looks up a repository named in a request.
    fn with_repo<R>(&self, region: &str, req: &RepoRequest, f: impl FnOnce(&Meta, &Repo) -> R) -> Result<R, EcrError> {
        self.check_registry(&req.registry_id)?;
        let name = required(&req.repository_name, "repositoryName")?;
        self.read(|m| m.repo(region, name).map(|r| f(m, r)))
            .ok_or_else(|| EcrError::repository_not_found(name, &self.inner.account))
    }

    async fn create_repository(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Req {
            registry_id: Option<String>,
            repository_name: Option<String>,
            #[serde(default)]
            tags: Vec<EcrTag>,
            image_tag_mutability: Option<String>,
            image_scanning_configuration: Option<Scanning>,
            encryption_configuration: Option<Encryption>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Scanning {
            #[serde(default)]
            scan_on_push: bool,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Encryption {
            encryption_type: Option<String>,
            kms_key: Option<String>,
        }
        let req: Req = decode(body)?;
        self.check_registry(&req.registry_id)?;
        let name = required(&req.repository_name, "repositoryName")?.to_string();
        check_name(&name)?;
        let mutability = req.image_tag_mutability.unwrap_or_else(|| "MUTABLE".into());
        check_mutability(&mutability)?;
        validate_tags(&req.tags)?;
        let (encryption_type, kms_key) = match req.encryption_configuration {
            Some(e) => {
                let t = e.encryption_type.unwrap_or_else(|| "AES256".into());
                if !["AES256", "KMS", "KMS_DSSE"].contains(&t.as_str()) {
                    return Err(EcrError::invalid(format!(
                        "encryptionType must be AES256, KMS or KMS_DSSE, not '{t}'"
                    )));
                }
                if t == "AES256" && e.kms_key.is_some() {
                    return Err(EcrError::invalid("kmsKey can only be given with encryptionType KMS or KMS_DSSE"));
                }
                (t, e.kms_key)
            }
            None => ("AES256".into(), None),
        };
        let record = RepositoryRecord {
            arn: format!("arn:aws:ecr:{region}:{}:repository/{name}", self.inner.account),
            name: name.clone(),
            created_at: Registry::now(),
            image_tag_mutability: mutability,
            scan_on_push: req.image_scanning_configuration.is_some_and(|s| s.scan_on_push),
            encryption_type,
            kms_key,
            tags: req.tags,
            ..RepositoryRecord::default()
        };
        let (region_s, account) = (region.to_string(), self.inner.account.clone());
        let record = Arc::new(record);
        let stored = record.clone();
        self.write(move |meta, edits| {
            if meta.repo(&region_s, &name).is_some() {
                return Err(EcrError::new(
                    "RepositoryAlreadyExistsException",
                    format!("The repository with name '{name}' already exists in the registry with id '{account}'"),
                ));
            }
            edits.push(Edit::PutRepo { region: region_s, record: stored });
            Ok(())
        })
        .await?;
        reply(json!({"repository": self.repository_json(&record)}))
    }

    fn describe_repositories(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Req {
            registry_id: Option<String>,
            repository_names: Option<Vec<String>>,
            next_token: Option<String>,
            max_results: Option<i64>,
        }
        let req: Req = decode(body)?;
        self.check_registry(&req.registry_id)?;
        if let Some(names) = &req.repository_names {
            if req.next_token.is_some() || req.max_results.is_some() {
                return Err(EcrError::invalid("repositoryNames cannot be combined with nextToken or maxResults"));
            }
            let repos = self.read(|m| {
                names
                    .iter()
                    .map(|n| {
                        m.repo(region, n)
                            .map(|r| self.repository_json(&r.record))
                            .ok_or_else(|| EcrError::repository_not_found(n, &self.inner.account))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })?;
            return reply(json!({ "repositories": repos }));
        }
        let max = max_results(req.max_results, 100, 1000)?;
        let all = self
            .read(|m| m.repos_in(region).map(|r| (r.record.name.clone(), self.repository_json(&r.record))).collect());
        let (items, next) = page(all, req.next_token.as_deref(), max);
        paged_reply("repositories", items, next, json!({}))
    }

    async fn delete_repository(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Req {
            registry_id: Option<String>,
            repository_name: Option<String>,
            #[serde(default)]
            force: bool,
        }
        let req: Req = decode(body)?;
        self.check_registry(&req.registry_id)?;
        let name = required(&req.repository_name, "repositoryName")?.to_string();
        let (region_s, account) = (region.to_string(), self.inner.account.clone());
        let record = self
            .write(move |meta, edits| {
                let repo = meta.repo(&region_s, &name).ok_or_else(|| EcrError::repository_not_found(&name, &account))?;
                if !repo.images.is_empty() && !req.force {
                    return Err(EcrError::new(
                        "RepositoryNotEmptyException",
                        format!("The repository with name '{name}' in registry with id '{account}' cannot be deleted because it still contains images"),
                    ));
                }
                edits.push(Edit::DeleteRepo { region: region_s, name });
                Ok(repo.record.clone())
            })
            .await?;
        self.spawn_collect();
        reply(json!({"repository": self.repository_json(&record)}))
    }

    /// Collects garbage in the background (after deletes).
    fn spawn_collect(&self) {
        let registry = self.clone();
        tokio::spawn(async move {
            if let Err(e) = registry.collect_garbage().await {
                tracing::warn!(error = %e, "registry garbage collection failed");
            }
        });
    }

    fn get_authorization_token(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Req {
            registry_ids: Option<Vec<String>>,
        }
        let req: Req = decode(body)?;
        for id in req.registry_ids.unwrap_or_default() {
            self.check_registry(&Some(id))?;
        }
        let expires = Registry::now() as u64 + token::LIFETIME_SECS;
        reply(json!({"authorizationData": [{
            "authorizationToken": self.inner.token_key.authorization_token(region, expires),
            "expiresAt": expires as f64,
            "proxyEndpoint": format!("http://{}", self.inner.host),
        }]}))
    }

    fn list_images(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
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

    fn image_detail(&self, repo: &Repo, image: &ImageRecord) -> Value {
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

    fn describe_images(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
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
    fn image_json(&self, repository: &str, digest: &str, tag: Option<&str>, manifest: &str, media_type: &str) -> Value {
        strip_nulls(json!({
            "registryId": self.inner.account,
            "repositoryName": repository,
            "imageId": {"imageDigest": digest, "imageTag": tag},
            "imageManifest": manifest,
            "imageManifestMediaType": media_type,
        }))
    }

    fn batch_get_image(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
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

    async fn batch_delete_image(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
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

    async fn put_image(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
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

    async fn update_repository_setting(&self, region: &str, operation: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Req {
            #[serde(flatten)]
            repo: RepoRequest,
            image_tag_mutability: Option<String>,
            image_scanning_configuration: Option<Value>,
        }
        let req: Req = decode(body)?;
        let record = self.with_repo(region, &req.repo, |_, r| (*r.record).clone())?;
        let mut record = record;
        if operation == "PutImageTagMutability" {
            let m = required(&req.image_tag_mutability, "imageTagMutability")?;
            check_mutability(m)?;
            record.image_tag_mutability = m.to_string();
        } else {
            let c = req.image_scanning_configuration.as_ref().ok_or_else(|| {
                EcrError::invalid("Invalid parameter at 'imageScanningConfiguration' failed to satisfy constraint: 'Member must not be null'")
            })?;
            record.scan_on_push = c["scanOnPush"].as_bool().unwrap_or(false);
        }
        let out = if operation == "PutImageTagMutability" {
            json!({"registryId": self.inner.account, "repositoryName": record.name, "imageTagMutability": record.image_tag_mutability})
        } else {
            json!({"registryId": self.inner.account, "repositoryName": record.name, "imageScanningConfiguration": {"scanOnPush": record.scan_on_push}})
        };
        self.save_repo(region, record).await?;
        reply(out)
    }

    /// Writes a changed repository record, unless the repository was deleted meanwhile.
    async fn save_repo(&self, region: &str, record: RepositoryRecord) -> Result<(), EcrError> {
        let (region, account) = (region.to_string(), self.inner.account.clone());
        self.write(move |meta, edits| {
            if meta.repo(&region, &record.name).is_none() {
                return Err(EcrError::repository_not_found(&record.name, &account));
            }
            edits.push(Edit::PutRepo { region, record: Arc::new(record) });
            Ok(())
        })
        .await
    }

    async fn set_policy(&self, region: &str, operation: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Req {
            #[serde(flatten)]
            repo: RepoRequest,
            lifecycle_policy_text: Option<String>,
            policy_text: Option<String>,
        }
        let req: Req = decode(body)?;
        let mut record = self.with_repo(region, &req.repo, |_, r| (*r.record).clone())?;
        let base = json!({"registryId": self.inner.account, "repositoryName": record.name});
        let mut out = base.clone();
        match operation {
            "PutLifecyclePolicy" => {
                let text = required(&req.lifecycle_policy_text, "lifecyclePolicyText")?;
                Policy::parse(text)?;
                record.lifecycle_policy = Some(text.to_string());
                out["lifecyclePolicyText"] = json!(text);
            }
            "DeleteLifecyclePolicy" => {
                let text = record
                    .lifecycle_policy
                    .take()
                    .ok_or_else(|| lifecycle_not_found(&record.name, &self.inner.account))?;
                out["lifecyclePolicyText"] = json!(text);
                if let Some(at) = record.lifecycle_evaluated_at.take() {
                    out["lastEvaluatedAt"] = json!(at);
                }
            }
            "SetRepositoryPolicy" => {
                let text = required(&req.policy_text, "policyText")?;
                let doc: Value = serde_json::from_str(text).map_err(|_| invalid_repository_policy())?;
                if !doc.get("Statement").is_some_and(|s| s.is_array() || s.is_object()) {
                    return Err(invalid_repository_policy());
                }
                record.repository_policy = Some(text.to_string());
                out["policyText"] = json!(text);
            }
            _ => {
                let text = record
                    .repository_policy
                    .take()
                    .ok_or_else(|| repository_policy_not_found(&record.name, &self.inner.account))?;
                out["policyText"] = json!(text);
            }
        }
        let name = record.name.clone();
        self.save_repo(region, record).await?;
        if operation == "PutLifecyclePolicy" {
            let (registry, region, name) = (self.clone(), region.to_string(), name);
            tokio::spawn(async move {
                if let Err(e) = registry.apply_lifecycle(&region, &name).await {
                    tracing::warn!(repository = %name, error = %e, "lifecycle evaluation failed");
                }
                let _ = registry.collect_garbage().await;
            });
        }
        reply(out)
    }

    fn get_policy(&self, region: &str, operation: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        let req: RepoRequest = decode(body)?;
        let record = self.with_repo(region, &req, |_, r| r.record.clone())?;
        let mut out = json!({"registryId": self.inner.account, "repositoryName": record.name});
        if operation == "GetLifecyclePolicy" {
            let text = record
                .lifecycle_policy
                .as_ref()
                .ok_or_else(|| lifecycle_not_found(&record.name, &self.inner.account))?;
            out["lifecyclePolicyText"] = json!(text);
            if let Some(at) = record.lifecycle_evaluated_at {
                out["lastEvaluatedAt"] = json!(at);
            }
        } else {
            let text = record
                .repository_policy
                .as_ref()
                .ok_or_else(|| repository_policy_not_found(&record.name, &self.inner.account))?;
            out["policyText"] = json!(text);
        }
        reply(out)
    }

    async fn start_preview(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Req {
            #[serde(flatten)]
            repo: RepoRequest,
            lifecycle_policy_text: Option<String>,
        }
        let req: Req = decode(body)?;
        let (mut record, candidates) = self.with_repo(region, &req.repo, |m, r| {
            ((*r.record).clone(), Registry::candidates(m, region, &r.record.name))
        })?;
        let text = match req.lifecycle_policy_text.or_else(|| record.lifecycle_policy.clone()) {
            Some(t) => t,
            None => return Err(lifecycle_not_found(&record.name, &self.inner.account)),
        };
        let expiring = Policy::parse(&text)?.evaluate(&candidates, Registry::now());
        record.preview = Some(Preview { policy: text.clone(), expiring });
        let name = record.name.clone();
        self.save_repo(region, record).await?;
        reply(
            json!({"registryId": self.inner.account, "repositoryName": name, "lifecyclePolicyText": text, "status": "COMPLETE"}),
        )
    }

    fn get_preview(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        let req: ImagesRequest = decode(body)?;
        if req.image_ids.is_some() && (req.next_token.is_some() || req.max_results.is_some()) {
            return Err(EcrError::invalid("imageIds cannot be combined with nextToken or maxResults"));
        }
        let max = max_results(req.max_results, 100, 100)?;
        let account = self.inner.account.clone();
        let (name, preview, results) = self.with_repo(region, &req.repo, |_, r| {
            let preview = r.record.preview.clone();
            let mut results = Vec::new();
            for (digest, priority) in preview.iter().flat_map(|p| p.expiring.iter()) {
                let tags = r.tags_of(digest);
                if !req.filter.keeps(!tags.is_empty())? {
                    continue;
                }
                let asked = |id: &ImageId| {
                    id.image_digest.as_deref() == Some(digest.as_str())
                        || id.image_tag.as_ref().is_some_and(|t| tags.contains(t))
                };
                if req.image_ids.as_ref().is_some_and(|ids| !ids.iter().any(asked)) {
                    continue;
                }
                let mut item = json!({
                    "imageDigest": digest,
                    "action": {"type": "EXPIRE"},
                    "appliedRulePriority": priority,
                });
                if let Some(i) = r.images.get(digest) {
                    item["imagePushedAt"] = json!(i.pushed_at);
                }
                if !tags.is_empty() {
                    item["imageTags"] = json!(tags);
                }
                results.push((digest.clone(), item));
            }
            Ok::<_, EcrError>((r.record.name.clone(), preview, results))
        })??;
        let preview = preview.ok_or_else(|| {
            EcrError::new(
                "LifecyclePolicyPreviewNotFoundException",
                format!(
                    "There is no dry run for the repository with name '{name}' in the registry with id '{account}'"
                ),
            )
        })?;
        let total = preview.expiring.len();
        let (items, next) = page(results, req.next_token.as_deref(), max);
        let summary = json!({
            "registryId": account, "repositoryName": name, "lifecyclePolicyText": preview.policy,
            "status": "COMPLETE", "summary": {"expiringImageTotalCount": total},
        });
        paged_reply("previewResults", items, next, summary)
    }

    /// The repository an ECR ARN names: `arn:aws:ecr:REGION:ACCOUNT:repository/NAME`.
    fn repo_of_arn(&self, region: &str, arn: &Option<String>) -> Result<String, EcrError> {
        let arn = required(arn, "resourceArn")?;
        let prefix = format!("arn:aws:ecr:{region}:{}:repository/", self.inner.account);
        let name = arn.strip_prefix(&prefix).ok_or_else(|| {
            EcrError::invalid(format!(
                "Invalid parameter at 'resourceArn': '{arn}' is not a repository ARN of this registry ({prefix}NAME)"
            ))
        })?;
        if self.read(|m| m.repo(region, name).is_none()) {
            return Err(EcrError::repository_not_found(name, &self.inner.account));
        }
        Ok(name.to_string())
    }

    async fn tag_resource(&self, region: &str, operation: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Req {
            resource_arn: Option<String>,
            tags: Option<Vec<EcrTag>>,
            tag_keys: Option<Vec<String>>,
        }
        let req: Req = decode(body)?;
        let name = self.repo_of_arn(region, &req.resource_arn)?;
        let mut record = self
            .read(|m| m.repo(region, &name).map(|r| (*r.record).clone()))
            .ok_or_else(|| EcrError::repository_not_found(&name, &self.inner.account))?;
        if operation == "TagResource" {
            let tags = req.tags.ok_or_else(|| {
                EcrError::invalid("Invalid parameter at 'tags' failed to satisfy constraint: 'Member must not be null'")
            })?;
            validate_tags(&tags)?;
            for t in tags {
                record.tags.retain(|x| x.key != t.key);
                record.tags.push(t);
            }
            if record.tags.len() > 50 {
                return Err(EcrError::new("TooManyTagsException", "A repository can have at most 50 tags."));
            }
        } else {
            let keys = req.tag_keys.ok_or_else(|| {
                EcrError::invalid(
                    "Invalid parameter at 'tagKeys' failed to satisfy constraint: 'Member must not be null'",
                )
            })?;
            record.tags.retain(|t| !keys.contains(&t.key));
        }
        self.save_repo(region, record).await?;
        reply(json!({}))
    }

    fn list_tags(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Req {
            resource_arn: Option<String>,
        }
        let req: Req = decode(body)?;
        let name = self.repo_of_arn(region, &req.resource_arn)?;
        let tags = self.read(|m| m.repo(region, &name).map(|r| r.record.tags.clone()).unwrap_or_default());
        reply(json!({ "tags": tags }))
    }
}

fn check_mutability(m: &str) -> Result<(), EcrError> {
    match m {
        "MUTABLE" | "IMMUTABLE" => Ok(()),
        other => Err(EcrError::invalid(format!("imageTagMutability must be MUTABLE or IMMUTABLE, not '{other}'"))),
    }
}

fn validate_tags(tags: &[EcrTag]) -> Result<(), EcrError> {
    if tags.len() > 50 {
        return Err(EcrError::new("TooManyTagsException", "A repository can have at most 50 tags."));
    }
    for t in tags {
        if t.key.is_empty() || t.key.chars().count() > 128 || t.value.chars().count() > 256 || t.key.starts_with("aws:")
        {
            return Err(EcrError::new(
                "InvalidTagParameterException",
                format!(
                    "Invalid tag '{}': keys are 1 to 128 characters not starting with 'aws:', values at most 256",
                    t.key
                ),
            ));
        }
    }
    Ok(())
}

fn check_ids(ids: &Option<Vec<ImageId>>) -> Result<&[ImageId], EcrError> {
    match ids {
        Some(ids) if (1..=100).contains(&ids.len()) => Ok(ids),
        Some(_) => Err(EcrError::invalid(
            "Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must have length between 1 and 100'",
        )),
        None => Err(EcrError::invalid(
            "Invalid parameter at 'imageIds' failed to satisfy constraint: 'Member must not be null'",
        )),
    }
}

/// Finds an image by digest and/or tag; the error is ECR's failure code.
fn resolve<'a>(repo: &'a Repo, id: &ImageId) -> Result<&'a ImageRecord, &'static str> {
    let by_tag = match &id.image_tag {
        Some(t) => Some(repo.tags.get(t).ok_or("ImageNotFound")?),
        None => None,
    };
    let digest = match (&id.image_digest, by_tag) {
        (Some(d), _) if Digest::parse(d).is_none() => return Err("InvalidImageDigest"),
        (Some(d), Some(t)) if d != t => return Err("ImageTagDoesNotMatchDigest"),
        (Some(d), _) => d,
        (None, Some(t)) => t,
        (None, None) => return Err("MissingDigestAndTag"),
    };
    repo.images.get(digest.as_str()).map(|i| i.as_ref()).ok_or("ImageNotFound")
}

fn failure(id: &ImageId, code: &str, reason: &str) -> Value {
    json!({"imageId": strip_nulls(json!(id)), "failureCode": code, "failureReason": reason})
}

fn image_not_found(id: &ImageId, repo: &str, account: &str) -> EcrError {
    EcrError::new(
        "ImageNotFoundException",
        format!(
            "The image with imageId {{imageDigest:'{}', imageTag:'{}'}} does not exist within the repository with name '{repo}' in the registry with id '{account}'",
            id.image_digest.as_deref().unwrap_or("null"),
            id.image_tag.as_deref().unwrap_or("null")
        ),
    )
}

fn repository_policy_not_found(name: &str, account: &str) -> EcrError {
    EcrError::new(
        "RepositoryPolicyNotFoundException",
        format!(
            "Repository policy does not exist for the repository with name '{name}' in the registry with id '{account}'"
        ),
    )
}

fn lifecycle_not_found(name: &str, account: &str) -> EcrError {
    EcrError::new(
        "LifecyclePolicyNotFoundException",
        format!(
            "Lifecycle policy does not exist for the repository with name '{name}' in the registry with id '{account}'"
        ),
    )
}

fn invalid_repository_policy() -> EcrError {
    EcrError::invalid(
        "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'",
    )
}

/// Drops `null` members (from optional identifiers) recursively.
fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, strip_nulls(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}
