//! Repositories: create, describe, delete, their settings, and registry login tokens.

use std::sync::Arc;

use berth_model::ecr::{
    AuthorizationData, DescribeRepositoriesResponse, GetAuthorizationTokenResponse, RepositoryResponse,
    RepositorySettingResponse,
};

use super::common::*;

impl Registry {
    pub(super) async fn create_repository(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
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
        reply(&RepositoryResponse { repository: self.repository(&record) })
    }

    pub(super) fn describe_repositories(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
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
                            .map(|r| self.repository(&r.record))
                            .ok_or_else(|| EcrError::repository_not_found(n, &self.inner.account))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })?;
            return reply(&DescribeRepositoriesResponse { repositories: repos, next_token: None });
        }
        let max = max_results(req.max_results, 100, 1000)?;
        let all =
            self.read(|m| m.repos_in(region).map(|r| (r.record.name.clone(), self.repository(&r.record))).collect());
        let (repositories, next_token) = page(all, req.next_token.as_deref(), max);
        reply(&DescribeRepositoriesResponse { repositories, next_token })
    }

    pub(super) async fn delete_repository(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
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
        reply(&RepositoryResponse { repository: self.repository(&record) })
    }

    /// Collects garbage in the background (after deletes).
    pub(super) fn spawn_collect(&self) {
        let registry = self.clone();
        tokio::spawn(async move {
            if let Err(e) = registry.collect_garbage().await {
                tracing::warn!(error = %e, "registry garbage collection failed");
            }
        });
    }

    pub(super) fn get_authorization_token(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
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
        reply(&GetAuthorizationTokenResponse {
            authorization_data: vec![AuthorizationData {
                authorization_token: self.inner.token_key.authorization_token(region, expires),
                expires_at: expires as f64,
                proxy_endpoint: format!("http://{}", self.inner.host),
            }],
        })
    }

    pub(super) async fn update_repository_setting(
        &self,
        region: &str,
        operation: &str,
        body: &[u8],
    ) -> Result<Vec<u8>, EcrError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Req {
            #[serde(flatten)]
            repo: RepoRequest,
            image_tag_mutability: Option<String>,
            image_scanning_configuration: Option<ImageScanningConfiguration>,
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
            record.scan_on_push = c.scan_on_push;
        }
        let mut out = RepositorySettingResponse {
            registry_id: self.inner.account.clone(),
            repository_name: record.name.clone(),
            ..Default::default()
        };
        if operation == "PutImageTagMutability" {
            out.image_tag_mutability = Some(record.image_tag_mutability.clone());
        } else {
            out.image_scanning_configuration = Some(ImageScanningConfiguration { scan_on_push: record.scan_on_push });
        }
        self.save_repo(region, record).await?;
        reply(&out)
    }

    /// Writes a changed repository record, unless the repository was deleted meanwhile.
    pub(super) async fn save_repo(&self, region: &str, record: RepositoryRecord) -> Result<(), EcrError> {
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
}
