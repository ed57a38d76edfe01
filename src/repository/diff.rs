//! Diffs between snapshots and against the working directory.

use super::{Repository, Result};
use crate::diff::{self, CombinedChange, DiffOptions, Outcome, WithTrees, WorktreeBlobs};
use crate::object::{Kind, ObjectId};
use crate::odb;

impl Repository {
    /// The tree a revision names: a commit's root tree, or a tree itself. `HEAD` on a
    /// branch with no commits yet is the empty side (`None`).
    pub fn resolve_tree(&self, rev: &str) -> Result<Option<ObjectId>> {
        if rev == "HEAD" && self.refs.head_commit()?.is_none() {
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
    ) -> Result<Outcome> {
        Ok(diff::diff(&self.odb, &self.odb, old, new, options)?)
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
    pub fn diff_revs(&self, old: &str, new: &str, options: &DiffOptions) -> Result<Outcome> {
        self.diff_trees(self.resolve_tree(old)?, self.resolve_tree(new)?, options)
    }

    /// The files that differ between revision `old` and the working directory. Files
    /// whose stat data match the stat cache are not read; nothing is stored. Render
    /// the result with [`Repository::blobs`], which reads working-directory content.
    pub fn diff_worktree(&self, old: &str, options: &DiffOptions) -> Result<Outcome> {
        let old = self.resolve_tree(old)?;
        let head_tree = match self.refs.head_commit()? {
            Some(id) => Some(self.odb.find_commit(&id)?.tree),
            None => None,
        };
        let (scan, loaded) = self.scan(false, head_tree, None, false)?;
        let trees = WithTrees {
            odb: &self.odb,
            trees: &scan.trees,
        };
        let new = Some(scan.tree).filter(|t| old.is_some() || *t != ObjectId::empty_tree());
        let changes = diff::diff(&trees, &self.blobs(), old, new, options)?;
        self.save_scanned_if_free(&scan, loaded.as_ref());
        Ok(changes)
    }

    /// File contents for rendering diffs: from the store, or from the working
    /// directory for content that is in no snapshot yet.
    pub fn blobs(&self) -> WorktreeBlobs<'_> {
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
