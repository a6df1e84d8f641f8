//! Application Auto Scaling's errors: `{"__type": CODE, "Message": …}`, status 400.

use crate::EcsError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AutoScalingError {
    pub code: &'static str,
    pub message: String,
}

impl AutoScalingError {
    fn new(code: &'static str, message: impl Into<String>) -> AutoScalingError {
        AutoScalingError { code, message: message.into() }
    }

    pub fn validation(message: impl Into<String>) -> AutoScalingError {
        AutoScalingError::new("ValidationException", message)
    }

    pub fn not_found(message: impl Into<String>) -> AutoScalingError {
        AutoScalingError::new("ObjectNotFoundException", message)
    }

    pub fn resource_not_found(message: impl Into<String>) -> AutoScalingError {
        AutoScalingError::new("ResourceNotFoundException", message)
    }

    pub fn limit_exceeded(message: impl Into<String>) -> AutoScalingError {
        AutoScalingError::new("LimitExceededException", message)
    }

    pub fn too_many_tags(message: impl Into<String>) -> AutoScalingError {
        AutoScalingError::new("TooManyTagsException", message)
    }

    pub fn invalid_next_token() -> AutoScalingError {
        AutoScalingError::new("InvalidNextTokenException", "Invalid token")
    }

    pub fn internal(message: impl Into<String>) -> AutoScalingError {
        AutoScalingError::new("InternalServiceException", message)
    }

    pub fn unknown_operation(operation: &str) -> AutoScalingError {
        AutoScalingError::new("UnknownOperationException", format!("Operation '{operation}' is not supported."))
    }

    pub fn status(&self) -> u16 {
        if self.code == "InternalServiceException" {
            500
        } else {
            400
        }
    }

    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "__type": self.code, "Message": self.message }))
            .expect("error bodies serialize")
    }
}

impl From<EcsError> for AutoScalingError {
    fn from(e: EcsError) -> AutoScalingError {
        match e {
            EcsError::Server(m) => AutoScalingError::internal(m),
            other => AutoScalingError::validation(other.to_string()),
        }
    }
}

/// A required member, or the validation error AWS gives for it.
pub fn required<'a, T>(value: &'a Option<T>, name: &str) -> Result<&'a T, AutoScalingError> {
    value.as_ref().ok_or_else(|| {
        AutoScalingError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(name)
        ))
    })
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}
