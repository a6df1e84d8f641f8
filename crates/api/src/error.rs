//! Everything that can go wrong with a request, and its AWS wire form
//! (`{"__type": ..., "message": ...}` with the status AWS uses).

use berth_model::EcsError;

use crate::sigv4::AuthError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Ecs(#[from] EcsError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Ecr(#[from] berth_registry::EcrError),
    #[error(transparent)]
    Discovery(#[from] berth_model::discovery::DiscoveryError),
    #[error(transparent)]
    Logs(#[from] berth_model::logs::LogsError),
    #[error(transparent)]
    AutoScaling(#[from] berth_model::autoscaling::AutoScalingError),
    #[error("Operation '{0}' is not supported.")]
    UnknownOperation(String),
    #[error("The request body is larger than {0} bytes.")]
    TooLarge(usize),
    #[error("The request body did not arrive in time.")]
    BodyTimeout,
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Ecs(e) => e.code(),
            ApiError::Auth(e) => e.code(),
            ApiError::Ecr(e) => e.code,
            ApiError::Discovery(e) => e.code,
            ApiError::Logs(e) => e.code,
            ApiError::AutoScaling(e) => e.code,
            ApiError::UnknownOperation(_) => "UnknownOperationException",
            ApiError::TooLarge(_) => "SerializationException",
            ApiError::BodyTimeout => "RequestTimeoutException",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            ApiError::Ecs(e) => e.http_status(),
            ApiError::Auth(e) => e.http_status(),
            ApiError::Ecr(e) => e.http_status(),
            ApiError::Discovery(e) => e.status,
            ApiError::Logs(e) => e.status(),
            ApiError::AutoScaling(e) => e.status(),
            ApiError::UnknownOperation(_) => 400,
            ApiError::TooLarge(_) => 413,
            ApiError::BodyTimeout => 408,
        }
    }

    /// The JSON error document.
    pub fn body(&self) -> Vec<u8> {
        if let ApiError::Discovery(e) = self {
            return e.body();
        }
        if let ApiError::AutoScaling(e) = self {
            return e.body();
        }
        serde_json::to_vec(&serde_json::json!({ "__type": self.code(), "message": self.to_string() }))
            .expect("error bodies serialize")
    }
}
