//! What the ECR operations share: decoding and replies, ECR's parameter checks and errors,
//! paging, and looking up repositories and images.

pub(super) use serde::{de::DeserializeOwned, Deserialize, Serialize};
pub(super) use serde_json::Value;

pub(super) use berth_model::ecr::{
    EncryptionConfiguration, ImageFailure, ImageIdentifier, ImageScanningConfiguration, ImagesRequest, RepoRequest,
    Repository, TagFilter,
};

pub(super) use crate::{
    digest::Digest,
    error::EcrError,
    lifecycle::Policy,
    meta::{EcrTag, Edit, ImageRecord, Meta, Preview, Repo, RepositoryRecord},
    names,
    push::{DeleteError, PushError},
    token, Registry,
};

pub(super) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, EcrError> {
    let body = if body.is_empty() { b"{}".as_slice() } else { body };
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        EcrError::new("InvalidParameterException", format!("Invalid request at '{}': {}", e.path(), e.inner()))
    })
}

pub(super) fn reply<T: Serialize>(v: &T) -> Result<Vec<u8>, EcrError> {
    serde_json::to_vec(v).map_err(|e| EcrError::server(e.to_string()))
}

pub(super) fn required<'a>(v: &'a Option<String>, field: &str) -> Result<&'a str, EcrError> {
    v.as_deref().ok_or_else(|| {
        EcrError::invalid(format!(
            "Invalid parameter at '{field}' failed to satisfy constraint: 'Member must not be null'"
        ))
    })
}

pub(super) fn check_name(name: &str) -> Result<(), EcrError> {
    if names::valid_repository_name(name) {
        Ok(())
    } else {
        Err(EcrError::invalid(format!(
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'Repository name {}' (got '{name}')",
            names::REPOSITORY_NAME_RULE
        )))
    }
}

/// Whether `filter.tagStatus` keeps an image that is (or is not) `tagged`.
pub(super) fn keeps(filter: &TagFilter, tagged: bool) -> Result<bool, EcrError> {
    match filter.tag_status.as_deref() {
        None | Some("ANY") => Ok(true),
        Some("TAGGED") => Ok(tagged),
        Some("UNTAGGED") => Ok(!tagged),
        Some(other) => Err(EcrError::invalid(format!("tagStatus must be TAGGED, UNTAGGED or ANY, not '{other}'"))),
    }
}

pub(super) fn max_results(v: Option<i64>, default: usize, max: i64) -> Result<usize, EcrError> {
    match v {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        Some(n) => Err(EcrError::invalid(format!("maxResults must be between 1 and {max}, not {n}"))),
    }
}

/// One page of `items` (sorted by key) after the key in `next_token`.
pub(super) fn page<T: Clone>(
    items: Vec<(String, T)>,
    next_token: Option<&str>,
    max: usize,
) -> (Vec<T>, Option<String>) {
    let start = match next_token {
        Some(t) => items.iter().position(|(k, _)| k.as_str() > t).unwrap_or(items.len()),
        None => 0,
    };
    let rest = &items[start..];
    let next = (rest.len() > max).then(|| rest[max - 1].0.clone());
    (rest.iter().take(max).map(|(_, v)| v.clone()).collect(), next)
}

impl Registry {
    pub(super) fn check_registry(&self, registry_id: &Option<String>) -> Result<(), EcrError> {
        match registry_id {
            Some(id) if id != &self.inner.account => Err(EcrError::invalid(format!(
                "registryId '{id}' is not this registry; berth's registry id is '{}'",
                self.inner.account
            ))),
            _ => Ok(()),
        }
    }

    pub(super) fn repository(&self, r: &RepositoryRecord) -> Repository {
        Repository {
            repository_arn: r.arn.clone(),
            registry_id: self.inner.account.clone(),
            repository_name: r.name.clone(),
            repository_uri: format!("{}/{}", self.inner.host, r.name),
            created_at: r.created_at,
            image_tag_mutability: r.image_tag_mutability.clone(),
            image_scanning_configuration: ImageScanningConfiguration { scan_on_push: r.scan_on_push },
            encryption_configuration: EncryptionConfiguration {
                encryption_type: r.encryption_type.clone(),
                kms_key: r.kms_key.clone(),
            },
        }
    }

    /// Looks up a repository named in a request.
    pub(super) fn with_repo<R>(
        &self,
        region: &str,
        req: &RepoRequest,
        f: impl FnOnce(&Meta, &Repo) -> R,
    ) -> Result<R, EcrError> {
        self.check_registry(&req.registry_id)?;
        let name = required(&req.repository_name, "repositoryName")?;
        self.read(|m| m.repo(region, name).map(|r| f(m, r)))
            .ok_or_else(|| EcrError::repository_not_found(name, &self.inner.account))
    }
}

pub(super) fn check_mutability(m: &str) -> Result<(), EcrError> {
    match m {
        "MUTABLE" | "IMMUTABLE" => Ok(()),
        other => Err(EcrError::invalid(format!("imageTagMutability must be MUTABLE or IMMUTABLE, not '{other}'"))),
    }
}

pub(super) fn validate_tags(tags: &[EcrTag]) -> Result<(), EcrError> {
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

pub(super) fn check_ids(ids: &Option<Vec<ImageIdentifier>>) -> Result<&[ImageIdentifier], EcrError> {
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
pub(super) fn resolve<'a>(repo: &'a Repo, id: &ImageIdentifier) -> Result<&'a ImageRecord, &'static str> {
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

pub(super) fn failure(id: &ImageIdentifier, code: &str, reason: &str) -> ImageFailure {
    ImageFailure { image_id: id.clone(), failure_code: code.into(), failure_reason: reason.into() }
}

pub(super) fn image_not_found(id: &ImageIdentifier, repo: &str, account: &str) -> EcrError {
    EcrError::new(
        "ImageNotFoundException",
        format!(
            "The image with imageId {{imageDigest:'{}', imageTag:'{}'}} does not exist within the repository with name '{repo}' in the registry with id '{account}'",
            id.image_digest.as_deref().unwrap_or("null"),
            id.image_tag.as_deref().unwrap_or("null")
        ),
    )
}

pub(super) fn repository_policy_not_found(name: &str, account: &str) -> EcrError {
    EcrError::new(
        "RepositoryPolicyNotFoundException",
        format!(
            "Repository policy does not exist for the repository with name '{name}' in the registry with id '{account}'"
        ),
    )
}

pub(super) fn lifecycle_not_found(name: &str, account: &str) -> EcrError {
    EcrError::new(
        "LifecyclePolicyNotFoundException",
        format!(
            "Lifecycle policy does not exist for the repository with name '{name}' in the registry with id '{account}'"
        ),
    )
}

pub(super) fn invalid_repository_policy() -> EcrError {
    EcrError::invalid(
        "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'",
    )
}
