//! Placement constraints and strategies as RunTask, CreateService and task definitions
//! spell them. The scheduler parses them into its own rules (and says what is wrong with
//! one); here they are only the wire shape.

use serde::{Deserialize, Serialize};

/// `{"type": "distinctInstance" | "memberOf", "expression": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PlacementConstraint {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
}

/// `{"type": "random" | "spread" | "binpack", "field": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct PlacementStrategy {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl PlacementConstraint {
    pub fn new(kind: &str, expression: Option<&str>) -> PlacementConstraint {
        PlacementConstraint { kind: Some(kind.into()), expression: expression.map(String::from) }
    }

    pub fn member_of(expression: &str) -> PlacementConstraint {
        PlacementConstraint::new("memberOf", Some(expression))
    }
}

impl PlacementStrategy {
    pub fn new(kind: &str, field: Option<&str>) -> PlacementStrategy {
        PlacementStrategy { kind: Some(kind.into()), field: field.map(String::from) }
    }

    pub fn spread(field: &str) -> PlacementStrategy {
        PlacementStrategy::new("spread", Some(field))
    }

    pub fn binpack(field: &str) -> PlacementStrategy {
        PlacementStrategy::new("binpack", Some(field))
    }
}
