//! The library facade: one [`Repository`] type whose methods are split by topic.

mod archive;
mod branch;
mod checkout;
mod commit;
mod config;
mod diff;
mod forget;
mod fsck;
mod gc;
mod history;
mod lock;
mod log;
mod merge_base;
mod ops;
mod path_remote;
mod read;
mod remotes;
mod restore;
mod roots;
mod stats;
mod status;
mod store;
mod transfer;

pub use crate::worktree::OnChange;
pub use archive::{ArchiveFormat, ArchiveOptions, ArchiveOutcome};
pub use branch::RefInfo;
pub use checkout::{CheckoutOptions, CheckoutOutcome};
pub use commit::{ChangeAction, ChangedWhileRead, CommitOptions, CommitOutcome};
pub use config::{
    Config, GitIdentity, check_key, git_config_paths, git_identity, global_config_path,
};
pub use diff::Diff;
pub use forget::{ForgetError, ForgetOptions, ForgetOutcome, ForgetSnapshot, RefMove, policy};
pub use fsck::{FsckOptions, FsckReport, Problem};
pub use gc::{
    DEFAULT_GRACE, GcOptions, GcOutcome, MAX_DELTA_CHAIN, ObjectCounts, PackGeometry, PackSummary,
    parse_age,
};
pub use history::{ResetMode, ResetOutcome, RevertOutcome};
pub use lock::{DEFAULT_LOCK_TIMEOUT, RepoLock};
pub use log::{Log, Walk, WalkOptions};
pub use ops::{DEFAULT_OPLOG_EXPIRE, OpEntry, OpOutcome, ViewChange, view_changes};
pub use read::PathContent;
pub use remotes::AddRemote;
pub use restore::RestoredTo;
pub use roots::Roots;
pub use stats::{SnapshotStats, StatsOptions, StatsReport, StoreStats};
pub use status::{Status, StatusOptions};
pub use store::{LINK_PREFIX, StoreInit};
pub use transfer::{
    CloneOptions, CloneOutcome, FetchOptions, FetchOutcome, PullOutcome, PushOptions, PushOutcome,
    RefChange,
};

use crate::fs::IoResultExt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::object::BuildError;
use crate::odb::{self, Odb};
use crate::refs::{self, Head, RefName, RefStore};
use crate::revision::{self, Rev};
use crate::worktree;

/// The name of the repository directory inside a working directory.
pub const COW_DIR: &str = ".cow";

/// An error from a repository operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No repository at or above the directory.
    #[error("not a cow repository (or any parent up to /): {}", crate::quote::quote_fs_path(.0))]
    NotARepository(PathBuf),
    /// A command that needs a working directory, run on a store that has none.
    #[error("this store has no working directory: {} is a bare store", crate::quote::quote_fs_path(.0))]
    NoWorkDir(PathBuf),
    /// A `.cow` file that does not point at a store, or cannot be read as one.
    #[error("{}: {reason}", crate::quote::quote_fs_path(file))]
    InvalidLink {
        /// The `.cow` file.
        file: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A `.cow` file points at a store whose working directory is another one.
    #[error(
        "{} points at the store {}, whose working directory is {}",
        crate::quote::quote_fs_path(file),
        crate::quote::quote_fs_path(store),
        work_dir.as_deref().map_or_else(|| "none (a bare store)".to_owned(), crate::quote::quote_fs_path)
    )]
    LinkMismatch {
        /// The `.cow` file.
        file: PathBuf,
        /// The store it names.
        store: PathBuf,
        /// The store's own working directory (`core.worktree`).
        work_dir: Option<PathBuf>,
    },
    /// A store inside its working directory (every snapshot would hold the store), or a
    /// working directory inside its store.
    #[error(
        "{} is inside {}: the store and its working directory must not contain each other",
        crate::quote::quote_fs_path(inner),
        crate::quote::quote_fs_path(outer)
    )]
    Nested {
        /// The store or working directory inside the other.
        inner: PathBuf,
        /// The one that contains it.
        outer: PathBuf,
    },
    /// `init --store` at a path that exists and is not an empty directory.
    #[error("the store {} exists and is not an empty directory", crate::quote::quote_fs_path(.0))]
    StoreNotEmpty(PathBuf),
    /// `init` found a repository already there.
    #[error("{} is already a cow repository", crate::quote::quote_fs_path(.0))]
    AlreadyExists(PathBuf),
    /// Another writer holds the repository lock.
    #[error(
        "the repository is locked by another cow process{}; gave up after {}s",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        waited.as_secs_f32()
    )]
    Locked {
        /// The holder's pid, when it wrote one.
        pid: Option<u32>,
        /// How long this process waited.
        waited: std::time::Duration,
    },
    /// The snapshot equals HEAD's.
    #[error("nothing to commit, working directory matches HEAD")]
    NothingToCommit,
    /// The commit message is empty once cleaned.
    #[error("empty commit message")]
    EmptyMessage,
    /// No author or committer identity is configured: neither `COW_AUTHOR_*` (or
    /// `COW_COMMITTER_*`) nor `user.name` and `user.email` in the repository's or the
    /// global config, nor in git's.
    #[error("no {0} identity: set COW_AUTHOR_NAME and COW_AUTHOR_EMAIL")]
    MissingIdentity(&'static str),
    /// An environment variable holds an invalid value.
    #[error("{name} is invalid: {reason}")]
    InvalidEnv {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A config key or value is invalid.
    #[error("config: {0}")]
    Config(String),
    /// A checkout or restore would lose changes that are in no snapshot.
    #[error(
        "checkout would overwrite or delete changes that are in no snapshot: {}",
        conflict_list(.0)
    )]
    CheckoutConflicts(Vec<worktree::Conflict>),
    /// An in-place restore would lose changes that are in no snapshot.
    #[error(
        "restore would overwrite or delete changes that are in no snapshot: {}",
        conflict_list(.0)
    )]
    RestoreConflicts(Vec<worktree::Conflict>),
    /// An archive's name prefix is absolute or has `.` or `..` components.
    #[error("invalid archive prefix '{0}': it must be a relative path without '.' or '..'")]
    ArchivePrefix(String),
    /// Writing an archive failed.
    #[error("could not write the archive")]
    ArchiveOutput(#[source] std::io::Error),
    /// A restore into another directory was asked to write inside the store.
    #[error("{} is inside the repository's store", crate::quote::quote_fs_path(.0))]
    TargetInStore(PathBuf),
    /// A restore into another directory would overwrite files there that differ
    /// from the snapshot's.
    #[error(
        "{} already holds different files at: {}",
        crate::quote::quote_fs_path(.dir),
        path_list(.paths)
    )]
    TargetConflicts {
        /// The directory restored into.
        dir: PathBuf,
        /// The paths in it (from the directory) that are in the way.
        paths: Vec<crate::object::RepoPathBuf>,
    },
    /// A branch of that name exists.
    #[error("a branch named '{0}' already exists")]
    BranchExists(String),
    /// A tag of that name exists.
    #[error("a tag named '{0}' already exists")]
    TagExists(String),
    /// No such branch or tag.
    #[error("{0} not found")]
    NoSuchRef(String),
    /// The branch HEAD is on cannot be deleted.
    #[error("cannot delete branch '{0}': HEAD is on it (check out another branch first)")]
    DeleteCurrentBranch(String),
    /// HEAD's branch has no commit yet, so there is nothing to work on.
    #[error("cannot {0}: HEAD's branch has no commit yet")]
    UnbornHead(&'static str),
    /// `commit --amend` would turn a commit that changed something into one that
    /// changes nothing.
    #[error("amending would make the commit empty: its snapshot equals its parent's")]
    AmendEmpty,
    /// A command that works on the current branch, run with HEAD detached.
    #[error("cannot {0} the current branch: HEAD is detached")]
    Detached(&'static str),
    /// `revert` of a merge commit.
    #[error("commit {0} is a merge; reverting a merge is not supported")]
    RevertMerge(crate::ObjectId),
    /// `revert` of a commit whose changes no longer apply cleanly.
    #[error(
        "cannot revert {commit} cleanly: changed since in HEAD: {}",
        path_list(.paths)
    )]
    RevertConflicts {
        /// The commit to revert.
        commit: crate::ObjectId,
        /// The paths it changed that HEAD holds differently.
        paths: Vec<crate::object::RepoPathBuf>,
    },
    /// `revert` would change paths whose changes in the working directory are in no
    /// snapshot.
    #[error(
        "cannot revert: the working directory has changes that are in no snapshot to paths the revert changes: {}",
        path_list(.0)
    )]
    RevertUnsaved(Vec<crate::object::RepoPathBuf>),
    /// `branch -f` or `branch -M` of the branch HEAD is on.
    #[error(
        "cannot force update the branch '{0}' used by the working directory (HEAD is on it; use `reset` to move it)"
    )]
    ForceUpdateCurrentBranch(String),
    /// The branch has commits HEAD does not contain.
    #[error("branch '{0}' has commits that HEAD does not contain")]
    NotMerged(String),
    /// A push or pull that would drop commits, or cannot go on as asked.
    #[error("{name}: {reason}")]
    Rejected {
        /// The ref.
        name: String,
        /// Why, and what to do.
        reason: String,
    },
    /// The branch and the remote's have both moved on: a pull cannot fast-forward.
    #[error(
        "{branch} has diverged from the remote's: local {local}, remote {remote} (merging is not supported yet)"
    )]
    Diverged {
        /// The branch.
        branch: String,
        /// Its local tip.
        local: crate::ObjectId,
        /// The remote's tip.
        remote: crate::ObjectId,
    },
    /// A clone's target directory is not empty.
    #[error("destination {} already exists and is not an empty directory", crate::quote::quote_fs_path(.0))]
    CloneTarget(PathBuf),
    /// A remote name that cannot name `refs/remotes/NAME/`.
    #[error("'{name}' is not a valid remote name: {reason}")]
    InvalidRemoteName {
        /// The name given.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A remote of that name is configured already.
    #[error("remote {0} already exists")]
    RemoteExists(String),
    /// No remote of that name is configured.
    #[error("no such remote '{0}'")]
    NoSuchRemote(String),
    /// A remote's settings do not fit together.
    #[error("remote {name}: {reason}")]
    InvalidRemote {
        /// The remote.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A remote failed, or refused.
    #[error(transparent)]
    Remote(#[from] crate::remote::Error),
    /// The object store failed.
    #[error(transparent)]
    Odb(#[from] odb::Error),
    /// A diff failed.
    #[error(transparent)]
    Diff(#[from] crate::diff::Error),
    /// Refs failed.
    #[error(transparent)]
    Refs(#[from] refs::Error),
    /// A revision names nothing, or is malformed.
    #[error(transparent)]
    Revision(#[from] revision::Error),
    /// The working directory failed.
    #[error(transparent)]
    Worktree(#[from] worktree::Error),
    /// An object could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A filesystem operation failed.
    #[error(transparent)]
    Io(#[from] crate::fs::IoError),
    /// The operation log failed.
    #[error(transparent)]
    OpLog(#[from] crate::oplog::Error),
    /// There is no operation to undo or redo, or to abandon.
    #[error("{0}")]
    NothingToUndo(&'static str),
    /// An operation's view names a commit gc has removed (its operation is older
    /// than `gc.opLogExpire`).
    #[error(
        "the operation's view names commit {0}, which is no longer in the store (gc removed it: the operation is older than gc.opLogExpire, or gc --prune=now ran since)"
    )]
    OpViewGone(crate::ObjectId),
    /// `forget` refused.
    #[error(transparent)]
    Forget(#[from] ForgetError),
}

fn conflict_list(conflicts: &[worktree::Conflict]) -> String {
    const SHOWN: usize = 20;
    let mut list: Vec<String> = conflicts
        .iter()
        .take(SHOWN)
        .map(|c| c.to_string())
        .collect();
    if conflicts.len() > SHOWN {
        list.push(format!("and {} more", conflicts.len() - SHOWN));
    }
    list.join(", ")
}

fn path_list(paths: &[crate::object::RepoPathBuf]) -> String {
    const SHOWN: usize = 20;
    let mut list: Vec<String> = paths.iter().take(SHOWN).map(|p| p.quoted()).collect();
    if paths.len() > SHOWN {
        list.push(format!("and {} more", paths.len() - SHOWN));
    }
    list.join(", ")
}

/// Result type of repository operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A cow repository: a store (objects, refs, settings), usually the `.cow` directory
/// inside its working directory, or elsewhere (see [`Repository::init_with_store`]),
/// or with no working directory at all (a bare store).
#[derive(Debug)]
pub struct Repository {
    work_dir: Option<PathBuf>,
    cow_dir: PathBuf,
    odb: Odb,
    refs: RefStore,
    ops: crate::oplog::OpStore,
    lock_timeout: std::time::Duration,
    /// For [`Repository::at_operation`]: the directory holding the view's refs.
    _view_dir: Option<std::sync::Arc<tempfile::TempDir>>,
}

impl Repository {
    /// Creates a repository in `dir` (made if missing), with HEAD on an unborn branch
    /// `main`. Refuses if `dir` already holds one. The store is built in a temporary
    /// directory and renamed into place, so a failed init leaves nothing behind.
    pub fn init(dir: impl AsRef<Path>) -> Result<Repository> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).context("create directory", dir)?;
        let work_dir = fs::canonicalize(dir).context("resolve", dir)?;
        let cow_dir = work_dir.join(COW_DIR);
        if fs::symlink_metadata(&cow_dir).is_ok() {
            return Err(Error::AlreadyExists(work_dir));
        }
        let temp = tempfile::Builder::new()
            .prefix(crate::temp::INIT.name)
            .tempdir_in(&work_dir)
            .context("create a directory in", &work_dir)?;
        for sub in ["objects", "refs/heads", "refs/tags"] {
            let path = temp.path().join(sub);
            fs::create_dir_all(&path).context("create directory", &path)?;
        }
        let staged = RefStore::at(temp.path());
        staged.set_head(&Head::Branch(RefName::branch("main")?))?;
        Config::for_new_repository().save(&temp.path().join("config"))?;
        let lock = temp.path().join("lock");
        fs::write(&lock, "").context("create", &lock)?;
        let staged_path = temp.keep();
        if let Err(e) = fs::rename(&staged_path, &cow_dir) {
            let _ = fs::remove_dir_all(&staged_path);
            return Err(if cow_dir.exists() {
                Error::AlreadyExists(work_dir)
            } else {
                crate::fs::IoError::new("create", &cow_dir, e).into()
            });
        }
        crate::fs::sync_dir(&work_dir)?;
        Repository::open(&work_dir)
    }

    /// Opens the repository at `dir`: a working directory with a `.cow` store inside
    /// it, or a `.cow` file naming the store (`cowdir: PATH`, relative to `dir`), or a
    /// store itself (its working directory is its `core.worktree`; a store without one
    /// is bare).
    pub fn open(dir: impl AsRef<Path>) -> Result<Repository> {
        let dir = dir.as_ref();
        let dir = fs::canonicalize(dir).context("open", dir)?;
        match store::find_at(&dir)? {
            Some(repo) => Ok(repo),
            None => Err(Error::NotARepository(dir)),
        }
    }

    /// Opens the store `store` with `work_dir` as its working directory, or without
    /// one, the store's own `core.worktree` (none: a bare store), as git's `GIT_DIR` and
    /// `GIT_WORK_TREE` do.
    pub fn open_store(store: impl AsRef<Path>, work_dir: Option<&Path>) -> Result<Repository> {
        store::open_store(store.as_ref(), work_dir)
    }

    /// Finds the repository at `start` or in the nearest directory above it with a
    /// `.cow` directory or file; `start` itself may also be a store.
    pub fn discover(start: impl AsRef<Path>) -> Result<Repository> {
        let start = start.as_ref();
        let start = fs::canonicalize(start).context("open", start)?;
        for dir in start.ancestors() {
            if dir == start {
                if let Some(repo) = store::find_at(dir)? {
                    return Ok(repo);
                }
            } else if let Some(repo) = store::find_link_at(dir)? {
                return Ok(repo);
            }
        }
        Err(Error::NotARepository(start))
    }

    /// The repository from its parts, checked by the caller.
    fn from_parts(work_dir: Option<PathBuf>, cow_dir: PathBuf) -> Repository {
        Repository {
            odb: Odb::at(cow_dir.join("objects")),
            refs: RefStore::at(&cow_dir),
            ops: crate::oplog::OpStore::at(&cow_dir),
            _view_dir: None,
            work_dir,
            cow_dir,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// The working directory (absolute), or `None` for a bare store.
    pub fn work_dir(&self) -> Option<&Path> {
        self.work_dir.as_deref()
    }

    /// The working directory, or [`Error::NoWorkDir`] for a bare store: for the
    /// commands that read or write it.
    pub fn require_work_dir(&self) -> Result<&Path> {
        self.work_dir
            .as_deref()
            .ok_or_else(|| Error::NoWorkDir(self.cow_dir.clone()))
    }

    /// The store: the `.cow` directory, or wherever `init --store` put it.
    pub fn cow_dir(&self) -> &Path {
        &self.cow_dir
    }

    /// The object database.
    pub fn odb(&self) -> &Odb {
        &self.odb
    }

    /// The refs.
    pub fn refs(&self) -> &RefStore {
        &self.refs
    }

    /// Where HEAD points.
    pub fn head(&self) -> Result<Head> {
        Ok(self.refs.head()?)
    }

    /// The commit HEAD points at, or `None` before the first commit.
    pub fn head_commit(&self) -> Result<Option<crate::ObjectId>> {
        Ok(self.refs.head_commit()?)
    }

    /// Resolves a revision (see [`revision::resolve`] for the syntax) to an object id.
    #[doc(alias = "rev-parse")]
    pub fn resolve<'a>(&self, rev: impl Into<Rev<'a>>) -> Result<crate::ObjectId> {
        Ok(revision::resolve_with_log(&self.odb, &self.refs, &self.ops, rev)?.id)
    }

    /// Resolves a revision, with the entry mode when it names a path (`REV:path`).
    pub fn resolve_full<'a>(&self, rev: impl Into<Rev<'a>>) -> Result<revision::Resolved> {
        Ok(revision::resolve_with_log(
            &self.odb, &self.refs, &self.ops, rev,
        )?)
    }

    /// Resolves a revision that must name a commit.
    pub fn resolve_commit<'a>(&self, rev: impl Into<Rev<'a>>) -> Result<crate::ObjectId> {
        let id = self.resolve(rev)?;
        let (kind, _) = self.odb.read_header(&id)?;
        if kind != crate::Kind::Commit {
            return Err(odb::Error::ObjectKind {
                id,
                expected: crate::Kind::Commit,
                actual: kind,
            }
            .into());
        }
        Ok(id)
    }
}
