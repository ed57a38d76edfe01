//! Moving a working directory between snapshots: plan, then apply.
//!
//! [`plan`](plan()) compares three trees — the current snapshot (H), the target (T)
//! and the working directory as scanned (W) — and has no side effects: a refusal or a
//! dry run returns the plan untouched. Subtrees whose ids are equal in H and T are
//! skipped (the working directory keeps whatever it has there); a path is changed only
//! when W still holds what H had (nothing would be lost) or already holds what T has.
//! Anything else is a [`Conflict`], unless forced. [`apply`](apply()) then performs
//! the operations in order, writing each file to a temporary name and renaming it into
//! place, and never through a symlink.
//!
//! The two halves live apart: the planner in `plan.rs`, side-effect free, and the
//! applier in `apply.rs`, the only code here that changes the working directory. The
//! types they share — options, steps, conflicts and outcome — are here.

mod apply;
mod plan;
#[cfg(test)]
mod tests;

pub use apply::{apply, apply_into};
pub use plan::{plan, plan_into};

use std::fmt;

use super::Error;
use crate::object::{EntryMode, ObjectId, RepoPath, RepoPathBuf};

/// Knobs for [`plan`](plan()).
#[derive(Clone, Copy, Debug, Default)]
pub struct PlanOptions<'a> {
    /// Overwrite or delete tracked files whose changes are in no snapshot.
    pub discard_changes: bool,
    /// Replace untracked or ignored files (and special files) that are in the way.
    pub replace_untracked: bool,
    /// With [`discard_changes`](Self::discard_changes) (which has every path in scope
    /// looked at, whether the snapshots differ there or not), still refuse to overwrite
    /// or delete a tracked file whose content is in no snapshot (neither the target's
    /// nor in the store): `restore`'s rule, which must not lose unsaved work.
    pub keep_unsaved: bool,
    /// With [`keep_unsaved`](Self::keep_unsaved): blobs a snapshot holds (reachable
    /// from a ref), whose loss from the working directory loses nothing. `None`: only
    /// the current and target snapshots' content counts as saved.
    pub saved: Option<&'a std::collections::HashSet<ObjectId>>,
    /// Only these paths (and what is below them); empty for all.
    pub paths: &'a [RepoPathBuf],
}

impl PlanOptions<'_> {
    fn forced(&self) -> bool {
        self.discard_changes || self.replace_untracked
    }
}

/// Why a path cannot be changed without losing data.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ConflictKind {
    /// A tracked file or directory has changes that are in no snapshot.
    Modified,
    /// An untracked file or directory is where the target puts something.
    Untracked,
    /// An ignored file or directory is where the target puts something.
    Ignored,
}

/// A path the plan would have to overwrite or delete, losing data.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Conflict {
    /// The path. A name no snapshot can hold (a nested repository's `.cow`) is
    /// reported as the directory that holds it.
    pub path: RepoPathBuf,
    /// Why it is in the way.
    pub kind: ConflictKind,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.kind {
            ConflictKind::Modified => "modified",
            ConflictKind::Untracked => "untracked",
            ConflictKind::Ignored => "ignored",
        };
        write!(f, "{} ({why})", self.path.quoted())
    }
}

/// One step of a plan, on a `/`-separated path from the root.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Op {
    /// Delete a file or symlink.
    Remove {
        /// The path.
        path: RepoPathBuf,
    },
    /// Delete a directory once its tracked content is gone; left in place when it
    /// still holds untracked or ignored files.
    RemoveDir {
        /// The path.
        path: RepoPathBuf,
    },
    /// Delete a file or a whole directory that is in the way (checked safe, or forced).
    Purge {
        /// The path.
        path: RepoPathBuf,
    },
    /// Create a directory.
    MkDir {
        /// The path.
        path: RepoPathBuf,
    },
    /// Write a file or symlink from a blob, replacing what is there.
    Write {
        /// The path.
        path: RepoPathBuf,
        /// File, executable or symlink.
        mode: EntryMode,
        /// The blob.
        id: ObjectId,
    },
    /// Flip the executable bit of a file whose content is already right.
    SetMode {
        /// The path.
        path: RepoPathBuf,
        /// The new mode.
        mode: EntryMode,
        /// The (unchanged) blob.
        id: ObjectId,
    },
}

impl Op {
    /// The path the step acts on.
    pub fn path(&self) -> &RepoPath {
        match self {
            Op::Remove { path }
            | Op::RemoveDir { path }
            | Op::Purge { path }
            | Op::MkDir { path }
            | Op::Write { path, .. }
            | Op::SetMode { path, .. } => path,
        }
    }
}

/// What a checkout would do, or why it cannot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The steps, in the order they must run.
    pub ops: Vec<Op>,
    /// Paths that would lose data (empty when forced).
    pub conflicts: Vec<Conflict>,
}

/// What [`apply`](apply()) did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Files and symlinks written.
    pub written: u64,
    /// Files, symlinks and directories removed.
    pub removed: u64,
    /// Directories created.
    pub created_dirs: u64,
    /// Executable bits changed.
    pub modes_changed: u64,
    /// Files copied into place rather than renamed, because they were staged on
    /// another filesystem than their directory's (a mount inside the working
    /// directory): the old file was gone before the copy was complete.
    pub copied: u64,
}

/// `path`'s parent directory and last component.
fn split_parent(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

/// The refusal of `path`, a path the plan built from names of trees.
fn unsafe_path(path: &[u8]) -> Error {
    Error::UnsafePath {
        path: RepoPathBuf::from_vec_unchecked(path.to_vec()),
    }
}
