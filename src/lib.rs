//! cow: a content-addressed snapshotting version store.
#![deny(missing_docs)]

pub mod object;
pub mod odb;
pub mod refs;
