//! Diffs between snapshots and against the working directory.

use std::io::Write;

use super::{Repository, Result};
use crate::diff::{
    self, BlobSource, CombinedChange, DiffOptions, FileChange, FileStat, Outcome, PatchOptions,
    StatOptions, WithTrees, WorktreeBlobs,
};
use crate::object::{Kind, ObjectId};
use crate::odb::{self, Odb};
use crate::revision::Rev;

/// The files that differ between two snapshots, and where their contents are read
/// when the diff is rendered: from the store, and for
/// [`Repository::diff_worktree`] from the working directory too. Rendering through
/// it ([`Diff::write_patch`], [`Diff::file_stats`]) always reads each side from the
/// right place.
pub struct Diff<'r> {
    /// The changed files, in path order.
    pub changes: Vec<FileChange>,
    /// Set when there were too many candidates to look for renames with edits: see
    /// [`Outcome::rename_limit_needed`].
    pub rename_limit_needed: Option<usize>,
    contents: Contents<'r>,
}

impl std::fmt::Debug for Diff<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let worktree = matches!(self.contents, Contents::Worktree(_));
        f.debug_struct("Diff")
            .field("changes", &self.changes)
            .field("rename_limit_needed", &self.rename_limit_needed)
            .field("worktree", &worktree)
            .finish()
    }
}

/// Where a [`Diff`]'s file contents are.
enum Contents<'r> {
    Store(&'r Odb),
    Worktree(WorktreeBlobs<'r>),
}

impl<'r> Diff<'r> {
    fn new(outcome: Outcome, contents: Contents<'r>) -> Self {
        Diff {
            changes: outcome.changes,
            rename_limit_needed: outcome.rename_limit_needed,
            contents,
        }
    }

    /// Where the two sides' contents are read, for renderings of one's own.
    pub fn contents(&self) -> &dyn BlobSource {
        match &self.contents {
            Contents::Store(odb) => *odb,
            Contents::Worktree(blobs) => blobs,
        }
    }

    /// Writes the unified patch, as `git diff` does.
    pub fn write_patch(&self, out: &mut dyn Write, options: &PatchOptions) -> Result<()> {
        Ok(diff::write_patch(
            out,
            self.contents(),
            &self.changes,
            options,
        )?)
    }

    /// The lines added and removed in each changed file, in order, as `--stat` and
    /// `--numstat` show them.
    pub fn file_stats(&self, options: &StatOptions) -> Result<Vec<FileStat>> {
        Ok(diff::file_stats(self.contents(), &self.changes, options)?)
    }
}

impl Repository {
    /// The tree a revision names: a commit's root tree, or a tree itself. `HEAD` on a
    /// branch with no commits yet is the empty side (`None`).
    pub fn resolve_tree<'a>(&self, rev: impl Into<Rev<'a>>) -> Result<Option<ObjectId>> {
        let rev = rev.into();
        if rev == Rev::HEAD && self.refs.head_commit()?.is_none() {
            return Ok(None);
        }
        self.peel_to_tree(self.resolve(rev)?).map(Some)
    }

    /// A commit's root tree, or a tree itself.
    pub(crate) fn peel_to_tree(&self, id: ObjectId) -> Result<ObjectId> {
        match self.odb.read_header(&id)?.0 {
            Kind::Commit => Ok(self.odb.find_commit(&id)?.tree),
            Kind::Tree => Ok(id),
            actual => Err(odb::Error::ObjectKind {
                id,
                expected: Kind::Tree,
                actual,
            }
            .into()),
        }
    }

    /// The files that differ between two trees (`None`: empty), renames paired as the
    /// options ask. Subtrees with equal ids are never read, nor are blobs unless
    /// they are rename candidates whose sizes allow a match.
    pub fn diff_trees(
        &self,
        old: Option<ObjectId>,
        new: Option<ObjectId>,
        options: &DiffOptions,
    ) -> Result<Diff<'_>> {
        let outcome = diff::diff(&self.odb, &self.odb, old, new, options)?;
        Ok(Diff::new(outcome, Contents::Store(&self.odb)))
    }

    /// The files of merge `commit`'s tree that differ from their version in every
    /// parent's tree, each with all parents' sides: what `git show MERGE` shows as a
    /// combined diff (render it with [`diff::write_combined_patch`]).
    #[doc(alias = "diff --cc")]
    pub fn diff_merge(
        &self,
        commit: &crate::object::Commit,
        options: &DiffOptions,
    ) -> Result<Vec<CombinedChange>> {
        let parents = commit
            .parents
            .iter()
            .map(|p| Ok(Some(self.odb.find_commit(p)?.tree)))
            .collect::<Result<Vec<_>>>()?;
        Ok(diff::diff_combined(
            &self.odb,
            &self.odb,
            &parents,
            Some(commit.tree),
            options,
        )?)
    }

    /// The files that differ between revisions `old` and `new`.
    pub fn diff_revs<'a, 'b>(
        &self,
        old: impl Into<Rev<'a>>,
        new: impl Into<Rev<'b>>,
        options: &DiffOptions,
    ) -> Result<Diff<'_>> {
        self.diff_trees(self.resolve_tree(old)?, self.resolve_tree(new)?, options)
    }

    /// The files that differ between revision `old` and the working directory. Files
    /// whose stat data match the stat cache are not read; nothing is stored. The
    /// result renders content that is in no snapshot yet from the working directory.
    pub fn diff_worktree<'a>(
        &self,
        old: impl Into<Rev<'a>>,
        options: &DiffOptions,
    ) -> Result<Diff<'_>> {
        let old = self.resolve_tree(old)?;
        let head_tree = match self.refs.head_commit()? {
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
        let trees = WithTrees {
            odb: &self.odb,
            trees: &scan.trees,
        };
        let new = Some(scan.tree).filter(|t| old.is_some() || *t != ObjectId::empty_tree());
        let outcome = diff::diff(&trees, &self.blobs(), old, new, options)?;
        self.save_scanned_if_free(&scan, loaded.as_ref());
        Ok(Diff::new(outcome, Contents::Worktree(self.blobs())))
    }

    /// File contents for rendering diffs: from the store, or from the working
    /// directory for content that is in no snapshot yet.
    fn blobs(&self) -> WorktreeBlobs<'_> {
        WorktreeBlobs {
            odb: &self.odb,
            root: &self.work_dir,
        }
    }

    /// Whether any of `paths` differs between a commit and its first parent (the empty
    /// tree for a root commit): the test `log -- PATH` applies.
    pub fn commit_touches(
        &self,
        commit: &crate::object::Commit,
        paths: &[crate::object::RepoPathBuf],
    ) -> Result<bool> {
        let parent_tree = match commit.parents.first() {
            Some(p) => Some(self.odb.find_commit(p)?.tree),
            None => None,
        };
        let mut touched = false;
        diff::diff_trees_in(
            &self.odb,
            parent_tree,
            Some(commit.tree),
            paths,
            &mut |_| {
                touched = true;
                Ok(false)
            },
        )?;
        Ok(touched)
    }
}
