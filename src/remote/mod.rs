//! Remotes: where a repository's snapshots go off the machine.
//!
//! An object store (AWS S3, Ceph RGW, MinIO, R2, SeaweedFS, Garage) is reached through
//! the `object_store` crate, whose client is async: the remote layer owns one runtime
//! and blocks on it, so every layer above stays synchronous.
//!
//! This first part opens an S3-compatible store and probes whether it honours
//! conditional writes, which moving a remote ref by compare-and-swap depends on (some
//! servers accept `If-None-Match` and `If-Match` and ignore them). Push, fetch and clone
//! build on it.

mod s3;

pub use s3::{Probe, S3Location, S3Options, S3Store, probe_conditional_writes};

/// An error from a remote.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A remote URL that cow cannot use.
    #[error("invalid remote URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The object store refused or failed a request.
    #[error("could not {action} '{key}' in the object store")]
    Store {
        /// What was being done.
        action: &'static str,
        /// The key.
        key: String,
        /// The client's error.
        #[source]
        source: object_store::Error,
    },
    /// The client could not be set up (its settings, or its runtime).
    #[error("could not set up the object store client: {0}")]
    Setup(String),
}

/// Result type of remotes.
pub type Result<T, E = Error> = std::result::Result<T, E>;
