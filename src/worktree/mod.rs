//! The working directory: scanning it with ignore rules and building snapshots of it.

mod beneath;
mod checkout;
mod dircache;
mod index;
mod path;
mod scan;
mod walk;

pub use checkout::{Applied, Conflict, ConflictKind, Op, Plan, PlanOptions, apply, plan};
pub use dircache::DirCache;
pub use index::{Index, IndexEntry, Iter as IndexIter, StatData, Timestamp, settle_clock};
pub use path::{quote_path, quote_path_status, to_fs_path};
pub use scan::{Clock, Progress, Scan, ScanOptions, Warning, scan};

use std::io;
use std::path::PathBuf;

use crate::odb;

/// The file that holds ignore rules, in any directory, with gitignore syntax.
pub const IGNORE_FILE: &str = ".cowignore";

/// An error from the working directory.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed.
    #[error("could not {action} '{}'", path.display())]
    Io {
        /// What was being done, as a verb.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file kept changing while it was read.
    #[error("'{}' changed while it was being read; try again", path.display())]
    FileChanged {
        /// The file.
        path: PathBuf,
    },
    /// A path would leave the working directory or go through a symlink.
    #[error("refusing to write '{path}': it is not a plain path inside the working directory")]
    UnsafePath {
        /// The path.
        path: String,
    },
    /// A snapshot holds something this system cannot check out.
    #[error("cannot check out '{path}': {reason}")]
    Unsupported {
        /// The path, quoted as git quotes it.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The object store failed.
    #[error(transparent)]
    Odb(#[from] odb::Error),
    /// A tree could not be built.
    #[error(transparent)]
    Build(#[from] crate::object::BuildError),
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source: crate::odb::without_tempfile_path(source),
        }
    }
}

/// Whether `name` is the name of a temporary file an interrupted checkout of an
/// earlier cow left ([`crate::temp::OLD_CHECKOUT_FILE`]).
pub(crate) fn is_leftover(name: &[u8]) -> bool {
    let Some(rest) = name.strip_prefix(crate::temp::OLD_CHECKOUT_FILE.as_bytes()) else {
        return false;
    };
    let mut parts = rest.splitn(3, |&b| b == b'-');
    let number = |part: Option<&[u8]>| {
        part.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
    };
    number(parts.next()) && number(parts.next()) && parts.next().is_some()
}

/// Result type of the working directory.
pub type Result<T, E = Error> = std::result::Result<T, E>;
