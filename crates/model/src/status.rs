//! ECS's status words besides the task lifecycle ([`crate::task::TaskStatus`]): health,
//! rollout state, and the status of services and container instances. The wire structs
//! still carry them as strings; code compares against these, never against literals.

/// Defines a status enum with its ECS spelling.
macro_rules! status {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

status!(
    /// A task's or container's `healthStatus`.
    HealthStatus { Healthy => "HEALTHY", Unhealthy => "UNHEALTHY", Unknown => "UNKNOWN" }
);

status!(
    /// A deployment's `rolloutState`.
    RolloutState { InProgress => "IN_PROGRESS", Completed => "COMPLETED", Failed => "FAILED" }
);

status!(
    /// A service's `status`.
    ServiceStatus { Active => "ACTIVE", Draining => "DRAINING", Inactive => "INACTIVE" }
);

status!(
    /// A container instance's `status`.
    InstanceStatus {
        Registering => "REGISTERING",
        Active => "ACTIVE",
        Draining => "DRAINING",
        Deregistering => "DEREGISTERING",
        RegistrationFailed => "REGISTRATION_FAILED",
        Inactive => "INACTIVE",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for h in [HealthStatus::Healthy, HealthStatus::Unhealthy, HealthStatus::Unknown] {
            assert_eq!(HealthStatus::parse(h.as_str()), Some(h));
        }
        assert_eq!(RolloutState::parse("IN_PROGRESS"), Some(RolloutState::InProgress));
        assert_eq!(InstanceStatus::RegistrationFailed.as_str(), "REGISTRATION_FAILED");
        assert_eq!(ServiceStatus::parse("running"), None);
    }
}
