//! berth-compose — docker-compose projects as ECS requests. Pure: it reads the files it is
//! given (and the `env_file`s they name) and returns task definitions, services and the
//! notes about what did not translate; the `berth compose` commands send them.
//!
//! ```text
//!  compose files ─load─► Project (merged, interpolated) ─convert─► Converted (task defs, services, notes)
//! ```

pub mod convert;
pub mod load;

pub use convert::{convert, Converted, Options, PublishedPort};
pub use load::{load, load_sources, Project};
