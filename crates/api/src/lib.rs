//! berth-api: the HTTP face of berth. One listener; `POST /` carries AWS JSON 1.1
//! requests routed on `X-Amz-Target`, each verified with SigV4 before it reaches an
//! operation. Each operation lives in its own file: decode → typed request → control →
//! response. Errors map to AWS error types in [`error`].

pub mod agent;
pub mod autoscaling;
pub mod berth;
pub mod body;
pub mod cbor;
pub mod cloudwatch;
pub mod discovery;
pub mod ecs;
pub mod elb;
pub mod error;
pub mod listener;
pub mod logs;
pub mod query;
pub mod registry;
pub mod server;

pub use berth_sigv4 as sigv4;
pub use listener::{serve, serve_with, ConnectionLimits};
pub use server::{Api, ApiConfig};
