//! The ECS cluster query language: `subject operator [argument]`, combined with
//! `and`/`&&`, `or`/`||`, `not`/`!` and parentheses. Used by `memberOf` placement
//! constraints and by ListContainerInstances' `filter`.
//!
//! Subjects: `agentConnected`, `agentVersion`, `attribute:NAME`, `ec2InstanceId`,
//! `registeredAt`, `runningTasksCount`, `task:group`. Operators: `==`/`equals`,
//! `!=`/`not_equals`, `>`/`greater_than`, `>=`/`greater_than_equal`, `<`/`less_than`,
//! `<=`/`less_than_equal`, `exists`, `!exists`/`not_exists`, `in`, `!in`/`not_in`,
//! `=~`/`matches`, `!~`/`not_matches` (regular expressions must match the whole value).

mod eval;
mod lexer;
mod parser;

pub use eval::Facts;
pub use parser::{parse, Expr};

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
