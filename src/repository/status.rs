//! What changed between HEAD and the working directory.

use super::{Repository, Result};
use crate::diff::{self, Change, ChangeKind, WithTrees};
use crate::object::{ObjectId, RepoPathBuf};
use crate::refs::Head;

/// Knobs for [`Repository::status`].
#[derive(Clone, Debug, Default)]
pub struct StatusOptions {
    /// List every file of a new directory instead of the directory alone (git's
    /// `--untracked-files=all`).
    pub all_untracked: bool,
    /// Report only these paths and what lies below them (empty: everything), as git's
    /// `status -- PATH…`. The comparison with HEAD opens only the directories that lead
    /// to them; the working directory is still scanned whole, through the caches.
    pub paths: Vec<RepoPathBuf>,
}

/// The working directory compared with HEAD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// Where HEAD points.
    pub head: Head,
    /// The commit HEAD points at (`None` before the first commit).
    pub head_commit: Option<ObjectId>,
    /// Changed paths in git's order. A new directory is one entry (its tree) unless
    /// [`StatusOptions::all_untracked`]; a deleted directory lists its files.
    pub changes: Vec<Change>,
    /// Files and symlinks in the working directory.
    pub files: u64,
    /// How many of them had to be read (stat data changed or racy).
    pub hashed: u64,
}

impl Status {
    /// Whether the working directory equals HEAD's snapshot.
    pub fn is_clean(&self) -> bool {
        self.changes.is_empty()
    }
}

impl Repository {
    /// Compares the working directory with HEAD (within [`StatusOptions::paths`]). Only
    /// files whose stat data changed since the stat cache was written are read;
    /// subtrees equal to HEAD's are not compared at all. Refreshes the stat cache.
    /// Writes no objects.
    pub fn status(&self, options: &StatusOptions) -> Result<Status> {
        let head = self.refs.head()?;
        let head_commit = self.refs.head_commit()?;
        let head_tree = match head_commit {
            Some(id) => Some(self.odb.find_commit(&id)?.tree),
            None => None,
        };
        let (scan, loaded) = self.scan(
            false,
            head_tree,
            None,
            false,
            crate::worktree::OnChange::Fail,
        )?;
        let mut changes = Vec::new();
        let src = WithTrees {
            odb: &self.odb,
            trees: &scan.trees,
        };
        let root = Some(scan.tree).filter(|t| head_tree.is_some() || *t != ObjectId::empty_tree());
        diff::diff_trees_in(&src, head_tree, root, &options.paths, &mut |change| {
            // A new directory is shown whole unless all untracked files are wanted; an
            // empty one is always shown itself.
            let new_dir = change.kind() == ChangeKind::Added && !options.all_untracked;
            let empty = change
                .old
                .or(change.new)
                .is_some_and(|s| s.id == ObjectId::empty_tree());
            let descend = change.is_tree() && !empty && !new_dir;
            if !change.is_tree() || !descend {
                changes.push(change.clone());
            }
            Ok(descend)
        })?;
        self.save_scanned_if_free(&scan, loaded.as_ref());
        Ok(Status {
            head,
            head_commit,
            changes,
            files: scan.files,
            hashed: scan.hashed,
        })
    }
}
