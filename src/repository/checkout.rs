//! Moving the working directory between snapshots, and restoring paths.

use super::ops::OpInfo;
use super::{Error, Repository, Result};
use crate::object::{ObjectId, RepoPathBuf};
use crate::progress::Progress;
use crate::refs::{Expected, Head, RefName};
use crate::revision::Rev;
use crate::worktree::{self, Applied, Plan, PlanOptions};

/// Knobs for [`Repository::checkout`] and [`Repository::restore`].
#[derive(Clone, Copy, Default)]
pub struct CheckoutOptions<'a> {
    /// Discard local changes and replace untracked or ignored files in the way, making
    /// every path either snapshot tracks equal to the target (like `git checkout -f`).
    pub force: bool,
    /// Work out and return the plan without changing anything.
    pub dry_run: bool,
    /// Told of the files written (step `"write"`, unit `"files"`), from any thread.
    pub progress: Option<&'a (dyn Progress + Sync)>,
}

impl std::fmt::Debug for CheckoutOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckoutOptions")
            .field("force", &self.force)
            .field("dry_run", &self.dry_run)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// What a checkout or restore did (or, in a dry run, would do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutOutcome {
    /// The commit checked out (or restored from).
    pub target: ObjectId,
    /// Where HEAD points afterwards.
    pub head: Head,
    /// The operations, in order.
    pub plan: Plan,
    /// What was done (all zero in a dry run).
    pub applied: Applied,
}

impl Repository {
    /// Moves the working directory and HEAD to revision `rev`: a branch name attaches
    /// HEAD to it, anything else (id, prefix, tag, `HEAD~2`) detaches HEAD.
    ///
    /// Only paths that differ between the current snapshot and the target are touched;
    /// subtrees with equal ids are skipped. Refuses with [`Error::CheckoutConflicts`],
    /// changing nothing, when a file whose content is in no snapshot would be
    /// overwritten or deleted, unless `force`.
    #[doc(alias = "switch")]
    pub fn checkout<'a>(
        &self,
        rev: impl Into<Rev<'a>>,
        options: &CheckoutOptions,
    ) -> Result<CheckoutOutcome> {
        let _lock = self.lock()?;
        let rev = rev.into();
        let name = rev
            .as_spec()
            .and_then(|spec| std::str::from_utf8(spec).ok());
        let branch =
            match name.and_then(|n| RefName::branch(n).ok().or_else(|| RefName::new(n).ok())) {
                Some(name) if name.as_str().starts_with("refs/heads/") => {
                    self.refs.find(&name)?.map(|id| (name, id))
                }
                _ => None,
            };
        let (target, head) = match branch {
            Some((name, id)) => (id, Head::Branch(name)),
            None => {
                let id = self.resolve_commit(&rev)?;
                (id, Head::Detached(id))
            }
        };
        let info = OpInfo::new(format!("checkout {rev}")).moving_worktree();
        self.switch(target, head, None, options, info)
    }

    /// Creates branch `name` at `start` (default HEAD) and checks it out. On a
    /// repository with no commits and no `start`, only points HEAD at the new branch.
    /// A refused checkout creates no branch.
    pub fn checkout_new_branch(
        &self,
        name: &str,
        start: Option<Rev<'_>>,
        options: &CheckoutOptions,
    ) -> Result<CheckoutOutcome> {
        // A checkout is of a working directory, even one that would write nothing.
        self.require_work_dir()?;
        let _lock = self.lock()?;
        let branch = RefName::branch(name)?;
        if self.refs.find(&branch)?.is_some() {
            return Err(Error::BranchExists(name.to_owned()));
        }
        let target = match start {
            Some(rev) => self.resolve_commit(rev)?,
            None => match self.refs.head_commit()? {
                Some(id) => id,
                None => {
                    if !options.dry_run {
                        let mut tx = self.refs.transaction();
                        tx.set_head(
                            Head::Branch(branch.clone()),
                            Expected::head(&self.refs.head()?),
                        );
                        let info = OpInfo::new(format!("checkout -b {name}"));
                        self.commit_refs(tx.prepare()?, info)?;
                    }
                    return Ok(CheckoutOutcome {
                        target: ObjectId::empty_tree(),
                        head: Head::Branch(branch),
                        plan: Plan::default(),
                        applied: Applied::default(),
                    });
                }
            },
        };
        let info = OpInfo::new(format!("checkout -b {name}")).moving_worktree();
        self.switch(
            target,
            Head::Branch(branch.clone()),
            Some(branch),
            options,
            info,
        )
    }

    fn switch(
        &self,
        target: ObjectId,
        head: Head,
        create: Option<RefName>,
        options: &CheckoutOptions,
        info: OpInfo,
    ) -> Result<CheckoutOutcome> {
        let old_head = self.refs.head()?;
        // The new branch and HEAD's move, one transaction, prepared before the working
        // directory moves: a name that cannot be made (`a/b` beside a branch `a`)
        // refuses the checkout with nothing changed.
        let refs = if options.dry_run {
            None
        } else {
            let mut tx = self.refs.transaction();
            if let Some(name) = create {
                tx.update(name, target, Expected::Absent);
            }
            tx.set_head(head.clone(), Expected::head(&old_head));
            Some(tx.prepare()?)
        };
        self.move_worktree(target, head, refs, options, info)
    }

    /// Moves `branch` (HEAD's, or a new one HEAD is set to) from `old` to `target`
    /// and the working directory with it, as a fast-forward does: local changes the
    /// move would lose refuse it, unless `force`. The caller holds the lock.
    pub(crate) fn fast_forward(
        &self,
        branch: &RefName,
        old: Option<ObjectId>,
        target: ObjectId,
        options: &CheckoutOptions,
        info: OpInfo,
    ) -> Result<CheckoutOutcome> {
        let old_head = self.refs.head()?;
        let mut tx = self.refs.transaction();
        tx.update(branch.clone(), target, Expected::from_option(old));
        let head = Head::Branch(branch.clone());
        if old_head != head {
            tx.set_head(head.clone(), Expected::head(&old_head));
        }
        let refs = tx.prepare()?;
        self.move_worktree(target, head, Some(refs), options, info)
    }

    /// Moves the working directory from HEAD's snapshot to `target`'s, then (only if
    /// that went through) applies `refs`, prepared before anything moved.
    pub(super) fn move_worktree(
        &self,
        target: ObjectId,
        head: Head,
        refs: Option<crate::refs::Prepared<'_>>,
        options: &CheckoutOptions,
        info: OpInfo,
    ) -> Result<CheckoutOutcome> {
        let current = match self.refs.head_commit()? {
            Some(id) => Some(self.odb.find_commit(&id)?.tree),
            None => None,
        };
        let target_tree = self.odb.find_commit(&target)?.tree;
        let plan_options = PlanOptions {
            discard_changes: options.force,
            replace_untracked: options.force,
            keep_unsaved: false,
            saved: None,
            paths: &[],
        };
        let (plan, applied) = self.plan_and_apply(current, target_tree, &plan_options, options)?;
        if let Some(refs) = refs {
            self.commit_refs(refs, info)?;
        }
        Ok(CheckoutOutcome {
            target,
            head,
            plan,
            applied,
        })
    }

    /// Plans; refuses on conflicts; in a dry run stops there; otherwise applies the
    /// plan and saves the refreshed stat cache.
    fn plan_and_apply(
        &self,
        current: Option<ObjectId>,
        target_tree: ObjectId,
        plan_options: &PlanOptions<'_>,
        options: &CheckoutOptions,
    ) -> Result<(Plan, Applied)> {
        // Every tree built (no id taken from the directory cache): the planner reads the
        // working directory's trees from the scan, not from the store.
        let (scan, loaded) =
            self.scan(false, None, None, false, crate::worktree::OnChange::Fail)?;
        let work_dir = self.require_work_dir()?;
        let plan = worktree::plan(
            &self.odb,
            work_dir,
            &scan,
            current,
            target_tree,
            plan_options,
        )?;
        if !plan.conflicts.is_empty() {
            self.save_scanned(&scan, loaded.as_ref());
            return Err(Error::CheckoutConflicts(plan.conflicts));
        }
        if options.dry_run {
            return Ok((plan, Applied::default()));
        }
        let mut index = match scan.index {
            Some(index) => index,
            None => loaded.unwrap_or_default(),
        };
        // Waits for the clock to tick past the files it writes (see `apply`).
        let applied = worktree::apply(
            &self.odb,
            work_dir,
            &self.cow_dir,
            &plan,
            &mut index,
            options.progress,
        );
        self.save_index(&index);
        self.save_dir_listings(scan.dirs.as_ref());
        Ok((plan, applied?))
    }

    /// Brings `paths` (a directory means everything below it; the root or no path at
    /// all, everything) back to their state in revision `source`, without moving HEAD.
    /// Paths HEAD has but `source` does not are deleted; untracked files are left
    /// alone.
    ///
    /// Refuses with [`Error::RestoreConflicts`], changing nothing, when that would
    /// overwrite or delete unsaved work — a tracked file whose content is in no
    /// snapshot (neither HEAD's nor `source`'s, nor any a ref reaches) — or an untracked or ignored file in the way; `force` discards both.
    /// Unlike `git restore`, which discards without asking, a backup tool must not lose
    /// work that is in no snapshot.
    pub fn restore<'a>(
        &self,
        source: impl Into<Rev<'a>>,
        paths: &[RepoPathBuf],
        options: &CheckoutOptions,
    ) -> Result<CheckoutOutcome> {
        let _lock = self.lock()?;
        let source = source.into();
        let target = self.resolve_commit(&source)?;
        let target_tree = self.odb.find_commit(&target)?.tree;
        let head_commit = self.refs.head_commit()?;
        let current = match head_commit {
            Some(id) => Some(self.odb.find_commit(&id)?.tree),
            None => None,
        };
        for path in paths {
            let exists = |tree: ObjectId| self.odb.tree_entry_at(&tree, path).map(|e| e.is_some());
            if !exists(target_tree)? && !current.map(exists).transpose()?.unwrap_or(false) {
                return Err(crate::revision::Error::PathNotFound {
                    rev: source.to_string(),
                    path: path.as_bytes().to_vec(),
                }
                .into());
            }
        }
        let mut plan_options = PlanOptions {
            discard_changes: true,
            replace_untracked: options.force,
            keep_unsaved: !options.force,
            saved: None,
            paths,
        };
        let mut result = self.plan_and_apply(current, target_tree, &plan_options, options);
        // A modified file may hold what another snapshot has (an older version an
        // earlier restore brought back): only then is it worth finding every blob the
        // refs reach, and planning again with them counted as saved.
        let saved;
        if let Err(Error::CheckoutConflicts(conflicts)) = &result
            && plan_options.keep_unsaved
            && conflicts
                .iter()
                .any(|c| c.kind == crate::worktree::ConflictKind::Modified)
        {
            saved = self.blobs_in_snapshots()?;
            plan_options.saved = Some(&saved);
            result = self.plan_and_apply(current, target_tree, &plan_options, options);
        }
        let (plan, applied) = result.map_err(|e| match e {
            Error::CheckoutConflicts(conflicts) => Error::RestoreConflicts(conflicts),
            e => e,
        })?;
        Ok(CheckoutOutcome {
            target,
            head: self.refs.head()?,
            plan,
            applied,
        })
    }
}
