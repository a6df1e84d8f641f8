//! The ECS cluster query language: `subject operator [argument]`, combined with
//! `and`/`&&`, `or`/`||`, `not`/`!` and parentheses. Used by `memberOf` placement
//! constraints and by ListContainerInstances' `filter`.
//!
//! Subjects: `agentConnected`, `agentVersion`, `attribute:NAME`, `ec2InstanceId`,
//! `registeredAt`, `runningTasksCount`, `task:group`. Operators: `==`/`equals`,
//! `!=`/`not_equals`, `>`/`greater_than`, `>=`/`greater_than_equal`, `<`/`less_than`,
//! `<=`/`less_than_equal`, `exists`, `!exists`/`not_exists`, `in`, `!in`/`not_in`,
//! `=~`/`matches`, `!~`/`not_matches` (regular expressions must match the whole value).

mod error;
mod eval;
mod lexer;
mod parser;

pub use error::{QueryError, MAX_EXPRESSION_LEN};
pub use eval::Facts;
pub use parser::{parse, Expr};
