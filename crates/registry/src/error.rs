//! The two ways the registry refuses: ECR API errors (`RepositoryNotFoundException`, …)
//! and OCI distribution errors (`{"errors":[{"code":"NAME_UNKNOWN",…}]}`).

/// An ECR API error: the AWS error type and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct EcrError {
    pub code: &'static str,
    pub message: String,
}

impl EcrError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        EcrError { code, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", message)
    }

    pub fn server(message: impl Into<String>) -> Self {
        Self::new("ServerException", message)
    }

    pub fn repository_not_found(name: &str, account: &str) -> Self {
        Self::new(
            "RepositoryNotFoundException",
            format!("The repository with name '{name}' does not exist in the registry with id '{account}'"),
        )
    }

    pub fn http_status(&self) -> u16 {
        if self.code == "ServerException" {
            500
        } else {
            400
        }
    }
}

/// An OCI distribution error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct DistError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl DistError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        DistError { status, code, message: message.into() }
    }

    pub fn name_unknown(name: &str) -> Self {
        Self::new(404, "NAME_UNKNOWN", format!("repository '{name}' is not known to the registry"))
    }

    pub fn blob_unknown(digest: &str) -> Self {
        Self::new(404, "BLOB_UNKNOWN", format!("blob {digest} is not known in this repository"))
    }

    pub fn manifest_unknown(reference: &str) -> Self {
        Self::new(404, "MANIFEST_UNKNOWN", format!("manifest '{reference}' is not known in this repository"))
    }

    pub fn upload_unknown() -> Self {
        Self::new(
            404,
            "BLOB_UPLOAD_UNKNOWN",
            "the upload is not known (it finished, was cancelled, or the server restarted)",
        )
    }

    pub fn digest_invalid(message: impl Into<String>) -> Self {
        Self::new(400, "DIGEST_INVALID", message)
    }

    pub fn manifest_invalid(message: impl Into<String>) -> Self {
        Self::new(400, "MANIFEST_INVALID", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "UNAUTHORIZED", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "UNKNOWN", message)
    }

    /// The JSON error document.
    pub fn body(&self) -> Vec<u8> {
        let doc = serde_json::json!({"errors": [{"code": self.code, "message": self.message}]});
        serde_json::to_vec(&doc).expect("error documents serialize")
    }
}

impl From<std::io::Error> for DistError {
    fn from(e: std::io::Error) -> Self {
        DistError::internal(format!("storage: {e}"))
    }
}
