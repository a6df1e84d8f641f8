//! CloudWatch's errors. Each has the model's shape name (what the CBOR protocol's `__type`
//! carries) and its query-protocol code (the `<Code>` of the XML error and the
//! `x-amzn-query-error` header), as the model pairs them.

use crate::EcsError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CloudWatchError {
    /// The model's shape name, e.g. `InvalidParameterValueException`.
    pub shape: &'static str,
    /// The query protocol's code, e.g. `InvalidParameterValue`.
    pub code: &'static str,
    pub message: String,
    pub status: u16,
}

impl CloudWatchError {
    fn new(shape: &'static str, code: &'static str, status: u16, message: impl Into<String>) -> CloudWatchError {
        CloudWatchError { shape, code, message: message.into(), status }
    }

    pub fn invalid_value(message: impl Into<String>) -> CloudWatchError {
        CloudWatchError::new("InvalidParameterValueException", "InvalidParameterValue", 400, message)
    }

    pub fn missing(parameter: &str) -> CloudWatchError {
        CloudWatchError::new(
            "MissingRequiredParameterException",
            "MissingParameter",
            400,
            format!("The parameter {parameter} is required."),
        )
    }

    pub fn combination(message: impl Into<String>) -> CloudWatchError {
        CloudWatchError::new("InvalidParameterCombinationException", "InvalidParameterCombination", 400, message)
    }

    /// An alarm that does not exist (DeleteAlarms, SetAlarmState).
    pub fn alarm_not_found(message: impl Into<String>) -> CloudWatchError {
        CloudWatchError::new("ResourceNotFound", "ResourceNotFound", 404, message)
    }

    /// A resource named by ARN that does not exist (tagging).
    pub fn resource_not_found(message: impl Into<String>) -> CloudWatchError {
        CloudWatchError::new("ResourceNotFoundException", "ResourceNotFoundException", 404, message)
    }

    pub fn invalid_format(message: impl Into<String>) -> CloudWatchError {
        CloudWatchError::new("InvalidFormatFault", "InvalidFormat", 400, message)
    }

    pub fn invalid_next_token() -> CloudWatchError {
        CloudWatchError::new("InvalidNextToken", "InvalidNextToken", 400, "The service cannot find the next token.")
    }

    pub fn limit_exceeded(message: impl Into<String>) -> CloudWatchError {
        CloudWatchError::new("LimitExceededFault", "LimitExceeded", 400, message)
    }

    pub fn internal(message: impl Into<String>) -> CloudWatchError {
        CloudWatchError::new("InternalServiceFault", "InternalServiceError", 500, message)
    }

    pub fn unknown_operation(operation: &str) -> CloudWatchError {
        CloudWatchError::new(
            "UnknownOperationException",
            "InvalidAction",
            400,
            format!("The action {operation} is not valid for this web service."),
        )
    }

    /// A parameter that failed to decode: its path and why.
    pub fn bad_parameter(path: &str, why: impl std::fmt::Display) -> CloudWatchError {
        CloudWatchError::invalid_value(format!("The parameter {path} is not valid: {why}"))
    }

    /// Whether the fault is the caller's (`Sender`) or the service's (`Receiver`).
    pub fn fault(&self) -> &'static str {
        if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        }
    }
}

impl From<EcsError> for CloudWatchError {
    fn from(e: EcsError) -> CloudWatchError {
        match e {
            EcsError::Server(m) => CloudWatchError::internal(m),
            other => CloudWatchError::invalid_value(other.to_string()),
        }
    }
}
