//! Remotes: where a repository's snapshots go off the machine.
//!
//! A remote is another cow repository (a path, or `file://` URL) or a place in an
//! S3-compatible object store (AWS S3, Ceph RGW, MinIO, R2, SeaweedFS, Garage). Both
//! are reached through the [`Remote`] trait, which moves objects and refs and nothing
//! else; push, fetch, pull and clone are built on it one layer up, in `repository`.
//!
//! An object store is reached through the `object_store` crate, whose client is async:
//! the remote layer owns one runtime and blocks on it, so every layer above stays
//! synchronous. Its layout (`store.rs`) needs no listing on push or fetch, and moves
//! refs by one conditional write, which a probe checks the service honours (some
//! servers accept `If-None-Match` and `If-Match` and ignore them).

mod s3;
mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::object::ObjectId;
use crate::odb::Odb;
use crate::reach::Reached;

pub use s3::{Probe, S3Location, S3Options, S3Store, probe_conditional_writes};
pub use store::StoreRemote;

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
    /// What the remote holds is damaged or not what cow writes: a file that does not
    /// parse, does not hash to its name, or an object that does not match its id.
    #[error("the remote is corrupt: {what}: {reason}")]
    Corrupt {
        /// The file or object (its key, pack name or id).
        what: String,
        /// What is wrong.
        reason: String,
    },
    /// The remote was written by a newer cow, or is not a cow remote.
    #[error("{url} is not a cow remote this version can use: {reason}")]
    Format {
        /// The remote.
        url: String,
        /// Why.
        reason: String,
    },
    /// The service ignores conditional writes, so two writers could both move a ref.
    #[error(
        "{url} ignores {header} on writes, so concurrent pushes could lose commits; \
         push from one machine at a time and mark the remote single-writer"
    )]
    Unsafe {
        /// The remote.
        url: String,
        /// The header it ignored.
        header: &'static str,
    },
    /// A ref on the remote is not what this push expected: someone else pushed.
    #[error("the remote's {name} changed while pushing; fetch first")]
    RefMoved {
        /// The ref.
        name: String,
    },
    /// A path remote that is not a cow repository, or one the push may not change.
    #[error("{0}")]
    Refused(String),
    /// Reading or writing a local store failed.
    #[error(transparent)]
    Odb(#[from] crate::odb::Error),
    /// A ref of a path remote could not be read or moved.
    #[error(transparent)]
    Refs(#[from] crate::refs::Error),
    /// A file operation failed.
    #[error(transparent)]
    Io(#[from] crate::fs::IoError),
}

/// Result type of remotes.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where a remote is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Url {
    /// Another cow repository: its working directory (`/path`, `file:///path`).
    Path(PathBuf),
    /// A place in an S3-compatible object store (`s3://bucket/prefix`).
    S3(S3Location),
}

impl Url {
    /// Parses a remote URL: `s3://bucket/prefix`, `file:///path`, or a path. A
    /// relative path is taken relative to `base` (the caller's current directory).
    pub fn parse(url: &str, base: &Path) -> Result<Url> {
        let invalid = |reason| Error::InvalidUrl {
            url: url.to_owned(),
            reason,
        };
        if url.starts_with("s3://") {
            return Ok(Url::S3(S3Location::parse(url)?));
        }
        let path = match url.strip_prefix("file://") {
            Some(rest) if rest.starts_with('/') => Path::new(rest),
            Some(_) => return Err(invalid("a file URL is file:///absolute/path")),
            None if url.contains("://") => {
                return Err(invalid("cow reaches paths, file:// and s3:// URLs"));
            }
            None if url.is_empty() => return Err(invalid("it is empty")),
            None => Path::new(url),
        };
        Ok(Url::Path(base.join(path)))
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Url::Path(path) => f.write_str(&crate::quote::quote_path(
                path.as_os_str().as_encoded_bytes(),
            )),
            Url::S3(location) => write!(f, "{location}"),
        }
    }
}

/// A remote as configured: its name, URL and how to reach it.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Its name (`origin`).
    pub name: String,
    /// Where it is.
    pub url: Url,
    /// For an object store: endpoint, region, addressing, credentials.
    pub s3: S3Options,
    /// The user declared that one writer at a time pushes here, so a service that
    /// ignores conditional writes may be used (a concurrent push could lose commits).
    pub single_writer: bool,
}

/// A remote's refs, read as one consistent snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteRefs {
    /// Full ref names (`refs/heads/main`) and the commits they hold.
    pub refs: BTreeMap<String, ObjectId>,
    /// The branch the remote's HEAD names (its default branch), if any.
    pub head: Option<String>,
}

/// A ref change a push asks for, applied only if the ref still holds `old`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefUpdate {
    /// The full ref name on the remote.
    pub name: String,
    /// The value the ref must hold now (`None`: absent).
    pub old: Option<ObjectId>,
    /// The value it gets (`None`: deleted).
    pub new: Option<ObjectId>,
}

/// What a transfer moved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transfer {
    /// Objects sent or received.
    pub objects: u64,
    /// Bytes sent or received over the wire (pack and index files, manifests).
    pub bytes: u64,
    /// Packs sent or received.
    pub packs: u64,
    /// Packs that were already in place and were not sent or received again (a
    /// resumed transfer, or packs whose objects the receiver had).
    pub reused_packs: u64,
    /// Requests made to the remote for the whole command (an object store's GET, PUT
    /// and HEAD calls, reading its refs included); 0 for a path remote.
    pub requests: u64,
}

pub use crate::progress::{NoProgress, Progress};

/// Another store objects and refs move to and from.
pub trait Remote {
    /// Where it is, for messages.
    fn url(&self) -> String;

    /// Requests made to it so far (0 where there are none, as for a path).
    fn requests(&self) -> u64 {
        0
    }

    /// Its refs, as one snapshot. An empty remote has none.
    fn refs(&mut self) -> Result<RemoteRefs>;

    /// Stores `objects` (read from `local`), which the remote lacks, durably: after it
    /// returns, a ref may point at them. Data first; no ref moves.
    fn send(
        &mut self,
        local: &Odb,
        objects: Vec<Reached>,
        progress: &dyn Progress,
    ) -> Result<Transfer>;

    /// Moves refs, each only if it still holds its `old` value — all of them or none.
    /// A ref that moved meanwhile is [`Error::RefMoved`]. `head` names the default
    /// branch when the remote has none yet.
    fn update_refs(&mut self, updates: &[RefUpdate], head: Option<&str>) -> Result<()>;

    /// Brings into `local` every object reachable from `wants` that is not reachable
    /// from `haves` (commits `local` has), each verified against its id before it is
    /// stored. Nothing is stored when anything fails.
    fn receive(
        &mut self,
        local: &Odb,
        wants: &[ObjectId],
        haves: &[ObjectId],
        progress: &dyn Progress,
    ) -> Result<Transfer>;
}
