//! The ECR API (`AmazonEC2ContainerRegistry_V20150921.*`): decode, run, encode. Names,
//! shapes and error types follow the published ECR model. This module dispatches;
//! the operations live in `repositories`, `images` and `policies`, over the helpers of
//! `common` (decoding, replies, paging, lookups, ECR's errors).

mod common;
mod images;
mod policies;
mod repositories;

use crate::{error::EcrError, Registry};

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
}
