//! ELB's errors: a code (the model's `error.code`, e.g. `LoadBalancerNotFound`), a
//! message, and whether the caller was at fault. The XML shape is the api crate's.

use crate::EcsError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ElbError {
    pub code: &'static str,
    pub message: String,
    pub status: u16,
}

impl ElbError {
    fn sender(code: &'static str, message: impl Into<String>) -> ElbError {
        ElbError { code, message: message.into(), status: 400 }
    }

    /// Whether the fault is the caller's (`Sender`) or the service's (`Receiver`).
    pub fn fault(&self) -> &'static str {
        if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        }
    }

    pub fn validation(message: impl Into<String>) -> ElbError {
        ElbError::sender("ValidationError", message)
    }

    pub fn load_balancer_not_found() -> ElbError {
        ElbError::sender("LoadBalancerNotFound", "One or more load balancers not found")
    }

    pub fn target_group_not_found() -> ElbError {
        ElbError::sender("TargetGroupNotFound", "One or more target groups not found")
    }

    pub fn listener_not_found() -> ElbError {
        ElbError::sender("ListenerNotFound", "One or more listeners not found")
    }

    pub fn rule_not_found() -> ElbError {
        ElbError::sender("RuleNotFound", "One or more rules not found")
    }

    pub fn duplicate_load_balancer_name() -> ElbError {
        ElbError::sender("DuplicateLoadBalancerName", "A load balancer with the same name already exists")
    }

    pub fn duplicate_target_group_name() -> ElbError {
        ElbError::sender("DuplicateTargetGroupName", "A target group with the same name already exists")
    }

    pub fn duplicate_listener() -> ElbError {
        ElbError::sender("DuplicateListener", "A listener already exists on this port for this load balancer")
    }

    pub fn priority_in_use(priority: i64) -> ElbError {
        ElbError::sender("PriorityInUse", format!("Priority '{priority}' is currently in use"))
    }

    pub fn resource_in_use(message: impl Into<String>) -> ElbError {
        ElbError::sender("ResourceInUse", message)
    }

    pub fn invalid_configuration(message: impl Into<String>) -> ElbError {
        ElbError::sender("InvalidConfigurationRequest", message)
    }

    pub fn invalid_target(message: impl Into<String>) -> ElbError {
        ElbError::sender("InvalidTarget", message)
    }

    pub fn incompatible_protocols(message: impl Into<String>) -> ElbError {
        ElbError::sender("IncompatibleProtocols", message)
    }

    pub fn unsupported_protocol(message: impl Into<String>) -> ElbError {
        ElbError::sender("UnsupportedProtocol", message)
    }

    pub fn operation_not_permitted(message: impl Into<String>) -> ElbError {
        ElbError::sender("OperationNotPermitted", message)
    }

    pub fn duplicate_tag_keys(key: &str) -> ElbError {
        ElbError::sender("DuplicateTagKeys", format!("Tag key '{key}' is duplicated"))
    }

    pub fn too_many_tags() -> ElbError {
        ElbError::sender(
            "TooManyTags",
            "The quota for the number of tags that can be assigned to a load balancer has been reached",
        )
    }

    pub fn unknown_operation(action: &str) -> ElbError {
        ElbError {
            code: "InvalidAction",
            message: format!("The action {action} is not valid for this web service."),
            status: 400,
        }
    }

    pub fn missing_parameter(name: &str) -> ElbError {
        ElbError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_first(name)
        ))
    }

    pub fn internal(message: impl Into<String>) -> ElbError {
        ElbError { code: "InternalFailure", message: message.into(), status: 500 }
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

impl From<EcsError> for ElbError {
    fn from(e: EcsError) -> ElbError {
        match e {
            EcsError::Server(m) => ElbError::internal(m),
            other => ElbError::validation(other.to_string()),
        }
    }
}

/// A required member, or ELB's validation error naming it.
pub fn required<'a, T>(value: &'a Option<T>, name: &str) -> Result<&'a T, ElbError> {
    value.as_ref().ok_or_else(|| ElbError::missing_parameter(name))
}
