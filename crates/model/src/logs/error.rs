//! CloudWatch Logs' errors: `{"__type": CODE, "message": …}` with status 400.

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct LogsError {
    pub code: &'static str,
    pub message: String,
}

impl LogsError {
    fn new(code: &'static str, message: impl Into<String>) -> LogsError {
        LogsError { code, message: message.into() }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> LogsError {
        LogsError::new("InvalidParameterException", message)
    }

    pub fn group_not_found() -> LogsError {
        LogsError::new("ResourceNotFoundException", "The specified log group does not exist.")
    }

    pub fn stream_not_found() -> LogsError {
        LogsError::new("ResourceNotFoundException", "The specified log stream does not exist.")
    }

    pub fn resource_not_found(message: impl Into<String>) -> LogsError {
        LogsError::new("ResourceNotFoundException", message)
    }

    pub fn group_exists() -> LogsError {
        LogsError::new("ResourceAlreadyExistsException", "The specified log group already exists")
    }

    pub fn stream_exists() -> LogsError {
        LogsError::new("ResourceAlreadyExistsException", "The specified log stream already exists")
    }

    pub fn limit_exceeded(message: impl Into<String>) -> LogsError {
        LogsError::new("LimitExceededException", message)
    }

    pub fn too_many_tags(message: impl Into<String>) -> LogsError {
        LogsError::new("TooManyTagsException", message)
    }

    pub fn unavailable(message: impl Into<String>) -> LogsError {
        LogsError::new("ServiceUnavailableException", message)
    }

    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "__type": self.code, "message": self.message }))
            .expect("error bodies serialize")
    }

    /// 500 for the server's own failures, 400 for everything the caller can fix.
    pub fn status(&self) -> u16 {
        if self.code == "ServiceUnavailableException" {
            503
        } else {
            400
        }
    }
}
