//! Repository and lifecycle policies, lifecycle previews, and tags.

use berth_model::ecr::{
    GetLifecyclePolicyPreviewResponse, LifecyclePolicyPreviewResult, LifecyclePolicyPreviewSummary,
    LifecyclePolicyRuleAction, ListTagsForResourceResponse, PolicyResponse, StartLifecyclePolicyPreviewResponse,
};

use super::common::*;

impl Registry {
    pub(super) async fn set_policy(&self, region: &str, operation: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
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
        let mut out = PolicyResponse {
            registry_id: self.inner.account.clone(),
            repository_name: record.name.clone(),
            ..Default::default()
        };
        match operation {
            "PutLifecyclePolicy" => {
                let text = required(&req.lifecycle_policy_text, "lifecyclePolicyText")?;
                Policy::parse(text)?;
                record.lifecycle_policy = Some(text.to_string());
                out.lifecycle_policy_text = Some(text.to_string());
            }
            "DeleteLifecyclePolicy" => {
                let text = record
                    .lifecycle_policy
                    .take()
                    .ok_or_else(|| lifecycle_not_found(&record.name, &self.inner.account))?;
                out.lifecycle_policy_text = Some(text);
                out.last_evaluated_at = record.lifecycle_evaluated_at.take();
            }
            "SetRepositoryPolicy" => {
                let text = required(&req.policy_text, "policyText")?;
                let doc: Value = serde_json::from_str(text).map_err(|_| invalid_repository_policy())?;
                if !doc.get("Statement").is_some_and(|s| s.is_array() || s.is_object()) {
                    return Err(invalid_repository_policy());
                }
                record.repository_policy = Some(text.to_string());
                out.policy_text = Some(text.to_string());
            }
            _ => {
                let text = record
                    .repository_policy
                    .take()
                    .ok_or_else(|| repository_policy_not_found(&record.name, &self.inner.account))?;
                out.policy_text = Some(text);
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
        reply(&out)
    }

    pub(super) fn get_policy(&self, region: &str, operation: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        let req: RepoRequest = decode(body)?;
        let record = self.with_repo(region, &req, |_, r| r.record.clone())?;
        let mut out = PolicyResponse {
            registry_id: self.inner.account.clone(),
            repository_name: record.name.clone(),
            ..Default::default()
        };
        if operation == "GetLifecyclePolicy" {
            let text = record
                .lifecycle_policy
                .as_ref()
                .ok_or_else(|| lifecycle_not_found(&record.name, &self.inner.account))?;
            out.lifecycle_policy_text = Some(text.clone());
            out.last_evaluated_at = record.lifecycle_evaluated_at;
        } else {
            let text = record
                .repository_policy
                .as_ref()
                .ok_or_else(|| repository_policy_not_found(&record.name, &self.inner.account))?;
            out.policy_text = Some(text.clone());
        }
        reply(&out)
    }

    pub(super) async fn start_preview(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
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
        reply(&StartLifecyclePolicyPreviewResponse {
            registry_id: self.inner.account.clone(),
            repository_name: name,
            lifecycle_policy_text: text,
            status: "COMPLETE".into(),
        })
    }

    pub(super) fn get_preview(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
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
                if !keeps(&req.filter, !tags.is_empty())? {
                    continue;
                }
                let asked = |id: &ImageIdentifier| {
                    id.image_digest.as_deref() == Some(digest.as_str())
                        || id.image_tag.as_ref().is_some_and(|t| tags.contains(t))
                };
                if req.image_ids.as_ref().is_some_and(|ids| !ids.iter().any(asked)) {
                    continue;
                }
                let item = LifecyclePolicyPreviewResult {
                    image_digest: digest.clone(),
                    image_pushed_at: r.images.get(digest).map(|i| i.pushed_at),
                    image_tags: tags,
                    action: LifecyclePolicyRuleAction { kind: "EXPIRE".into() },
                    applied_rule_priority: *priority,
                };
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
        let (preview_results, next_token) = page(results, req.next_token.as_deref(), max);
        reply(&GetLifecyclePolicyPreviewResponse {
            registry_id: account,
            repository_name: name,
            lifecycle_policy_text: preview.policy,
            status: "COMPLETE".into(),
            summary: LifecyclePolicyPreviewSummary { expiring_image_total_count: total },
            preview_results,
            next_token,
        })
    }

    /// The repository an ECR ARN names: `arn:aws:ecr:REGION:ACCOUNT:repository/NAME`.
    pub(super) fn repo_of_arn(&self, region: &str, arn: &Option<String>) -> Result<String, EcrError> {
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

    pub(super) async fn tag_resource(&self, region: &str, operation: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
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
        reply(&serde_json::Map::new())
    }

    pub(super) fn list_tags(&self, region: &str, body: &[u8]) -> Result<Vec<u8>, EcrError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Req {
            resource_arn: Option<String>,
        }
        let req: Req = decode(body)?;
        let name = self.repo_of_arn(region, &req.resource_arn)?;
        let tags = self.read(|m| m.repo(region, &name).map(|r| r.record.tags.clone()).unwrap_or_default());
        reply(&ListTagsForResourceResponse { tags })
    }
}
