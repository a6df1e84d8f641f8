//! The ECS error kinds. Every error berth returns on the ECS API is one of these; the
//! variant name is the AWS `__type` and the only place the mapping lives is [`EcsError::code`].

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EcsError {
    #[error("{0}")]
    Client(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("Cluster not found.")]
    ClusterNotFound,
    #[error("{0}")]
    ClusterContainsContainerInstances(String),
    #[error("{0}")]
    ClusterContainsServices(String),
    #[error("{0}")]
    ClusterContainsTasks(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    AttributeLimitExceeded(String),
    #[error("{0}")]
    ResourceInUse(String),
    #[error("Service not found.")]
    ServiceNotFound,
    #[error("Service was not ACTIVE.")]
    ServiceNotActive,
    #[error("{0}")]
    NamespaceNotFound(String),
    #[error("{0}")]
    NoUpdateAvailable(String),
    #[error("{0}")]
    MissingVersion(String),
    #[error("{0}")]
    Server(String),
}

impl EcsError {
    /// The AWS error type, as sent in `__type`.
    pub fn code(&self) -> &'static str {
        match self {
            EcsError::Client(_) => "ClientException",
            EcsError::InvalidParameter(_) => "InvalidParameterException",
            EcsError::ClusterNotFound => "ClusterNotFoundException",
            EcsError::ClusterContainsContainerInstances(_) => "ClusterContainsContainerInstancesException",
            EcsError::ClusterContainsServices(_) => "ClusterContainsServicesException",
            EcsError::ClusterContainsTasks(_) => "ClusterContainsTasksException",
            EcsError::LimitExceeded(_) => "LimitExceededException",
            EcsError::ResourceNotFound(_) => "ResourceNotFoundException",
            EcsError::AttributeLimitExceeded(_) => "AttributeLimitExceededException",
            EcsError::ResourceInUse(_) => "ResourceInUseException",
            EcsError::ServiceNotFound => "ServiceNotFoundException",
            EcsError::ServiceNotActive => "ServiceNotActiveException",
            EcsError::NamespaceNotFound(_) => "NamespaceNotFoundException",
            EcsError::NoUpdateAvailable(_) => "NoUpdateAvailableException",
            EcsError::MissingVersion(_) => "MissingVersionException",
            EcsError::Server(_) => "ServerException",
        }
    }

    /// HTTP status: AWS JSON protocols use 400 for client faults and 500 for server faults.
    pub fn http_status(&self) -> u16 {
        match self {
            EcsError::Server(_) => 500,
            _ => 400,
        }
    }

    pub fn client(msg: impl Into<String>) -> Self {
        EcsError::Client(msg.into())
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        EcsError::InvalidParameter(msg.into())
    }
}
