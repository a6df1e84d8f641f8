//! ECS's status words, one enum each, spelled on the wire as ECS spells them. The wire
//! structs hold these, so a typo does not compile. Variants are declared in lifecycle
//! order, so `<` compares how far along something is.

/// Defines a status enum: its ECS spelling, serde in that spelling, order as declared,
/// and the default a fresh record starts with.
macro_rules! status {
    ($(#[$doc:meta])* $name:ident (default $default:ident) { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// Every value, in lifecycle order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Every value's spelling, in lifecycle order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

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

        impl Default for $name {
            fn default() -> $name {
                $name::$default
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&text).ok_or_else(|| {
                    let all: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    serde::de::Error::custom(format!(
                        "'{text}' is not a valid {}; expected one of {}",
                        stringify!($name),
                        all.join(", ")
                    ))
                })
            }
        }
    };
}

/// Other modules' enums with fixed spellings (ELB's states and protocols) use it too.
pub(crate) use status;

status!(
    /// The task lifecycle in ECS's order (a task's `lastStatus`, and a container's). A task
    /// only moves forward; one that fails before RUNNING skips to STOPPED.
    TaskStatus (default Provisioning) {
        Provisioning => "PROVISIONING",
        Pending => "PENDING",
        Activating => "ACTIVATING",
        Running => "RUNNING",
        Deactivating => "DEACTIVATING",
        Stopping => "STOPPING",
        Deprovisioning => "DEPROVISIONING",
        Stopped => "STOPPED",
    }
);

status!(
    /// A task's `desiredStatus`.
    DesiredStatus (default Running) { Pending => "PENDING", Running => "RUNNING", Stopped => "STOPPED" }
);

status!(
    /// A task's or container's `healthStatus`.
    HealthStatus (default Unknown) { Healthy => "HEALTHY", Unhealthy => "UNHEALTHY", Unknown => "UNKNOWN" }
);

status!(
    /// A deployment's `rolloutState`.
    RolloutState (default InProgress) { InProgress => "IN_PROGRESS", Completed => "COMPLETED", Failed => "FAILED" }
);

status!(
    /// A deployment's `status`.
    DeploymentStatus (default Primary) { Primary => "PRIMARY", Active => "ACTIVE", Inactive => "INACTIVE" }
);

status!(
    /// A service's `status`.
    ServiceStatus (default Active) { Active => "ACTIVE", Draining => "DRAINING", Inactive => "INACTIVE" }
);

status!(
    /// A container instance's `status`.
    InstanceStatus (default Active) {
        Registering => "REGISTERING",
        Active => "ACTIVE",
        Draining => "DRAINING",
        Deregistering => "DEREGISTERING",
        RegistrationFailed => "REGISTRATION_FAILED",
        Inactive => "INACTIVE",
    }
);

status!(
    /// A cluster's `status`.
    ClusterStatus (default Active) {
        Provisioning => "PROVISIONING",
        Active => "ACTIVE",
        Deprovisioning => "DEPROVISIONING",
        Failed => "FAILED",
        Inactive => "INACTIVE",
    }
);

status!(
    /// A task definition revision's `status`.
    TaskDefinitionStatus (default Active) {
        Active => "ACTIVE",
        Inactive => "INACTIVE",
        DeleteInProgress => "DELETE_IN_PROGRESS",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_through_serde() {
        for h in HealthStatus::ALL {
            assert_eq!(HealthStatus::parse(h.as_str()), Some(*h));
            let json = serde_json::to_string(h).unwrap();
            assert_eq!(json, format!("\"{}\"", h.as_str()));
            assert_eq!(serde_json::from_str::<HealthStatus>(&json).unwrap(), *h);
        }
        assert_eq!(RolloutState::parse("IN_PROGRESS"), Some(RolloutState::InProgress));
        assert_eq!(InstanceStatus::RegistrationFailed.as_str(), "REGISTRATION_FAILED");
        assert_eq!(ServiceStatus::parse("running"), None);
        assert_eq!(TaskDefinitionStatus::DeleteInProgress.to_string(), "DELETE_IN_PROGRESS");
    }

    #[test]
    fn an_unknown_word_is_refused_with_the_valid_ones() {
        let e = serde_json::from_str::<TaskStatus>("\"RUNING\"").unwrap_err().to_string();
        assert!(e.contains("'RUNING' is not a valid TaskStatus"), "{e}");
        assert!(e.contains("RUNNING"), "{e}");
    }

    #[test]
    fn the_lifecycle_is_ordered() {
        assert!(TaskStatus::Pending < TaskStatus::Running);
        assert!(TaskStatus::Running < TaskStatus::Stopped);
        assert_eq!(TaskStatus::default(), TaskStatus::Provisioning);
        assert_eq!(HealthStatus::default(), HealthStatus::Unknown);
    }
}
