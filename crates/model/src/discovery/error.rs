//! Cloud Map's errors: the `__type` (the model's shape name, e.g. `NamespaceNotFound`), a
//! message, and the members some errors carry (the id of what already exists, the
//! operation a duplicate request duplicates).

use serde_json::{Map, Value};

use crate::EcsError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DiscoveryError {
    pub code: &'static str,
    pub message: String,
    pub status: u16,
    /// Extra members of the error document (`NamespaceId`, `DuplicateOperationId`, …).
    pub members: Vec<(&'static str, String)>,
}

impl DiscoveryError {
    fn new(code: &'static str, message: impl Into<String>) -> DiscoveryError {
        DiscoveryError { code, message: message.into(), status: 400, members: Vec::new() }
    }

    fn with(mut self, member: &'static str, value: impl Into<String>) -> DiscoveryError {
        self.members.push((member, value.into()));
        self
    }

    pub fn invalid_input(message: impl Into<String>) -> DiscoveryError {
        DiscoveryError::new("InvalidInput", message)
    }

    pub fn namespace_not_found(id: &str) -> DiscoveryError {
        DiscoveryError::new("NamespaceNotFound", format!("Namespace not found: {id}"))
    }

    pub fn service_not_found(id: &str) -> DiscoveryError {
        DiscoveryError::new("ServiceNotFound", format!("Service not found: {id}"))
    }

    pub fn instance_not_found(id: &str) -> DiscoveryError {
        DiscoveryError::new("InstanceNotFound", format!("Instance not found: {id}"))
    }

    pub fn operation_not_found(id: &str) -> DiscoveryError {
        DiscoveryError::new("OperationNotFound", format!("Operation not found: {id}"))
    }

    pub fn resource_not_found(arn: &str) -> DiscoveryError {
        DiscoveryError::new("ResourceNotFoundException", format!("Resource not found: {arn}"))
    }

    pub fn resource_in_use(message: impl Into<String>) -> DiscoveryError {
        DiscoveryError::new("ResourceInUse", message)
    }

    pub fn custom_health_not_found(service: &str) -> DiscoveryError {
        DiscoveryError::new(
            "CustomHealthNotFound",
            format!("Service {service} has no HealthCheckCustomConfig: its instances' health cannot be updated"),
        )
    }

    pub fn namespace_already_exists(name: &str, id: &str, creator: Option<&str>) -> DiscoveryError {
        let e = DiscoveryError::new("NamespaceAlreadyExists", format!("Namespace {name} already exists"))
            .with("NamespaceId", id);
        match creator {
            Some(c) => e.with("CreatorRequestId", c),
            None => e,
        }
    }

    pub fn service_already_exists(name: &str, id: &str, arn: &str, creator: Option<&str>) -> DiscoveryError {
        let e = DiscoveryError::new("ServiceAlreadyExists", format!("Service {name} already exists"))
            .with("ServiceId", id)
            .with("ServiceArn", arn);
        match creator {
            Some(c) => e.with("CreatorRequestId", c),
            None => e,
        }
    }

    /// A CreatorRequestId already used for another request: Cloud Map's DuplicateRequest,
    /// naming the operation that used it.
    pub fn duplicate_request(message: impl Into<String>, operation_id: &str) -> DiscoveryError {
        DiscoveryError::new("DuplicateRequest", message).with("DuplicateOperationId", operation_id)
    }

    pub fn too_many_tags(arn: &str) -> DiscoveryError {
        DiscoveryError::new("TooManyTagsException", "A resource can have at most 50 tags").with("ResourceName", arn)
    }

    pub fn internal(message: impl Into<String>) -> DiscoveryError {
        DiscoveryError { status: 500, ..DiscoveryError::new("InternalFailure", message) }
    }

    /// The JSON error document.
    pub fn body(&self) -> Vec<u8> {
        let mut doc = Map::new();
        doc.insert("__type".into(), Value::from(self.code));
        doc.insert("Message".into(), Value::from(self.message.clone()));
        for (k, v) in &self.members {
            doc.insert((*k).into(), Value::from(v.clone()));
        }
        serde_json::to_vec(&doc).expect("error documents serialize")
    }
}

impl From<EcsError> for DiscoveryError {
    fn from(e: EcsError) -> DiscoveryError {
        match e {
            EcsError::Server(m) => DiscoveryError::internal(m),
            other => DiscoveryError::invalid_input(other.to_string()),
        }
    }
}

/// A required member, or Cloud Map's error naming it.
pub fn required<'a, T>(value: &'a Option<T>, name: &str) -> Result<&'a T, DiscoveryError> {
    value.as_ref().ok_or_else(|| {
        DiscoveryError::invalid_input(format!(
            "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
        ))
    })
}
