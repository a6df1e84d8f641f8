//! What a malformed expression is refused with, and how long one may be.

/// A malformed expression: where, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// 0-based character position in the expression.
    pub position: usize,
    pub message: String,
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at position {}: {}", self.position, self.message)
    }
}

/// Longest expression ECS accepts.
pub const MAX_EXPRESSION_LEN: usize = 2000;
