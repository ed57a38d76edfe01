//! cow: a content-addressed snapshotting version store.
#![deny(missing_docs)]

pub mod object;
pub mod odb;
pub mod refs;
pub mod repository;
pub mod worktree;

pub use object::{Kind, ObjectId};
pub use repository::{Error, Repository};
