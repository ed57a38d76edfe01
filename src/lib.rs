//! cow: a content-addressed snapshotting version store.
//!
//! A snapshot copies nothing that did not change. Files are stored as content-hashed
//! blobs and directories as trees; a commit points at a root tree, and each new snapshot
//! reuses the objects of every unchanged file and subtree, storing only what was
//! modified. Object ids are exactly git's SHA-256 ids, so `git` can check every id cow
//! prints.
//!
//! # Snapshot a directory
//!
//! ```
//! use cow::Repository;
//! use cow::object::{RepoPath, Signature, Time};
//! use cow::repository::{CommitOptions, PathContent};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("hello.txt"), "hello\n")?;
//!
//! let repo = Repository::init(dir.path())?;
//! let me = Signature::new("A U Thor", "author@example.com", Time::parse("1700000000 +0000").unwrap())?;
//! let options = CommitOptions {
//!     author: Some(me.clone()),
//!     committer: Some(me),
//!     ..CommitOptions::default()
//! };
//! let first = repo.commit("first snapshot", &options)?;
//! assert_eq!(first.files, 1);
//!
//! // A second snapshot stores only what changed: one blob and the root tree.
//! std::fs::write(dir.path().join("hello.txt"), "hello again\n")?;
//! let second = repo.commit("second snapshot", &options)?;
//! assert_eq!(second.new_objects, 3); // blob, root tree, commit
//!
//! // Any revision reads back exactly. Every method that names a commit takes a
//! // revision string or an id alike (`impl Into<Rev>`).
//! match repo.read_path("HEAD~1", RepoPath::from_bytes(b"hello.txt")?)? {
//!     PathContent::Blob { data, .. } => assert_eq!(data, b"hello\n"),
//!     PathContent::Tree { .. } => unreachable!(),
//! }
//! let subjects: Vec<String> = repo
//!     .log(second.id)?
//!     .map(|entry| entry.map(|(_, commit)| commit.summary()))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(subjects, ["second snapshot", "first snapshot"]);
//! # Ok(())
//! # }
//! ```
//!
//! # Build a snapshot in memory
//!
//! The lower layers are public: programs can write blobs, build trees and write commits
//! without a working directory.
//!
//! ```
//! use cow::object::{Commit, Entry, EntryMode, Signature, Time, Tree};
//! use cow::refs::Expected;
//! use cow::Repository;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let repo = Repository::init(dir.path())?;
//! let blob = repo.odb().write_blob(b"fn main() {}\n")?.id;
//! let tree = Tree::from_entries(vec![Entry { mode: EntryMode::Blob, name: b"main.rs".to_vec(), id: blob }])?;
//! let tree = repo.odb().write_tree(&tree)?.id;
//! let who = Signature::new("Bot", "bot@example.com", Time::parse("1700000000 +0000").unwrap())?;
//! let commit = Commit {
//!     tree,
//!     parents: vec![],
//!     author: who.clone(),
//!     committer: who,
//!     extra_headers: vec![],
//!     message: b"generated\n".to_vec(),
//! };
//! let id = repo.odb().write_commit(&commit)?.id;
//! repo.odb().sync()?; // durable before a ref points at it
//! repo.refs().update_head(id, Expected::Absent)?;
//! assert_eq!(repo.resolve("main:main.rs")?, blob);
//! # Ok(())
//! # }
//! ```
//!
//! # Layers
//!
//! Each module uses only the ones above it in this list (a test holds the code to it):
//!
//! - [`progress`]: the [`progress::Progress`] trait long operations report to;
//! - [`quote`]: git's quoting of paths in output and messages, never lossy;
//! - [`fs`]: atomic file writes, directory syncs, the one io error with its path;
//! - [`object`]: ids, blobs, trees and commits, and their canonical bytes (git's);
//! - [`odb`]: the object database, the only layer that knows how bytes are stored,
//!   over a storage backend ([`odb::backend`]);
//! - [`reach`]: the objects reachable from some and not from others;
//! - [`refs`]: HEAD, branches and tags, updated in transactions (objects only as ids);
//! - [`oplog`]: the operation log, every ref-changing command as an immutable
//!   operation holding the view of the refs after it;
//! - [`revision`]: revision syntax (`main~2`, `v1:src`, `main@{op:3}`), over refs,
//!   the odb and the operation log's views;
//! - [`worktree`]: scanning and snapshotting a directory, the stat cache, checkout's
//!   plan and its application, all through descriptors below the working directory;
//! - [`diff`]: tree against tree or working directory, renames, patches and stats;
//! - [`remote`]: other repositories and object storage (an S3 client driven by its own
//!   runtime, so every layer above stays synchronous);
//! - [`repository`]: the [`Repository`] facade the command line is built on, holding
//!   the repository lock and the roots of reachability.
#![deny(missing_docs)]

pub mod diff;
pub mod fs;
pub mod object;
pub mod odb;
pub mod oplog;
pub mod progress;
pub mod quote;
pub mod reach;
pub mod refs;
pub mod remote;
pub mod repository;
pub mod revision;
mod temp;
pub mod worktree;

pub use object::{Kind, ObjectId};
pub use repository::{Error, Repository};
pub use revision::Rev;

// What most programs need, at the crate root: the options and outcomes of the
// repository's operations, the objects they read, and diffs.
pub use diff::{
    DiffOptions, FileChange, FileStat, PatchOptions, Side, StatOptions, Status as ChangeStatus,
};
pub use object::{Commit, RepoPath, RepoPathBuf, Signature, Time, Tree};
pub use repository::{
    CheckoutOptions, CheckoutOutcome, CloneOptions, CloneOutcome, CommitOptions, CommitOutcome,
    Diff, FetchOptions, FetchOutcome, FsckOptions, FsckReport, GcOptions, GcOutcome, Log,
    PullOutcome, PushOptions, PushOutcome, ResetMode, ResetOutcome, RevertOutcome, Status,
    StatusOptions, WalkOptions,
};
