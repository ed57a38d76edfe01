//! Restoring a snapshot into another directory, one that belongs to no repository.

use std::fs;
use std::path::{Path, PathBuf};

use super::{CheckoutOptions, Error, Repository, Result};
use crate::fs::IoResultExt;
use crate::object::{ObjectId, RepoPathBuf, is_within};
use crate::revision::Rev;
use crate::worktree::{self, Applied, Plan, PlanOptions};

/// What [`Repository::restore_to`] did (or, in a dry run, would do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoredTo {
    /// The commit restored from.
    pub commit: ObjectId,
    /// The directory restored into, as given.
    pub dir: PathBuf,
    /// The operations, in order, on paths from `dir`.
    pub plan: Plan,
    /// What was done (all zero in a dry run).
    pub applied: Applied,
}

impl Repository {
    /// Refuses with [`Error::TargetInStore`] a `path` to write (a restore's DIR, an
    /// archive's file) inside the store, resolved through its existing part (symlinks
    /// included): a path to be made there (`.cow/refs/heads/x`) is refused too, as
    /// its files would become refs or objects.
    pub fn check_outside_store(&self, path: &Path) -> Result<()> {
        if let Ok(real) = super::store::resolve_missing(path)
            && let Ok(store) = fs::canonicalize(&self.cow_dir)
            && real.starts_with(&store)
        {
            return Err(Error::TargetInStore(path.to_owned()));
        }
        Ok(())
    }

    /// Writes the snapshot of revision `source` — or only `paths` of it (a directory
    /// means everything below it), each at its place below `dir` — into `dir`, a
    /// directory that need not be (and normally is not) a working directory; it is
    /// created if missing. Needs nothing but the store: no working directory is read
    /// or changed, and no lock is taken (nothing in the repository changes).
    ///
    /// Files get the snapshot's content and executable bit (the other permission
    /// bits follow the umask, as a checkout's do), symlinks their stored target
    /// verbatim (never followed), and empty directories are made. Files already in
    /// `dir` that equal the snapshot's are kept; one that differs (or a directory,
    /// symlink or special file where the snapshot has something else) refuses the
    /// restore with [`Error::TargetConflicts`], changing nothing, unless `force`, which
    /// replaces it (as `git checkout-index` needs `-f`; restic overwrites without
    /// asking). Files in `dir` the snapshot does not have are left alone.
    ///
    /// Everything below `dir` is reached through directory descriptors and never
    /// through a symlink (a symlink in `dir` where the snapshot has a directory is in
    /// the way, not followed), so no tree, however crafted, writes outside `dir`;
    /// `dir` itself, given by the caller, may be a symlink to a directory (as `cp`
    /// follows one given on its command line). Every blob is read and verified
    /// before anything in `dir` changes; files are staged in a private directory made
    /// inside `dir` and renamed into place, and that directory is removed afterwards.
    pub fn restore_to<'a>(
        &self,
        source: impl Into<Rev<'a>>,
        paths: &[RepoPathBuf],
        dir: &Path,
        options: &CheckoutOptions,
    ) -> Result<RestoredTo> {
        let source = source.into();
        let commit = self.resolve_commit(&source)?;
        let tree = self.odb.find_commit(&commit)?.tree;
        for path in paths {
            if self.odb.tree_entry_at(&tree, path)?.is_none() {
                return Err(crate::revision::Error::PathNotFound {
                    rev: source.to_string(),
                    path: path.as_bytes().to_vec(),
                }
                .into());
            }
        }
        let paths: &[RepoPathBuf] = if paths.iter().any(|p| p.is_root()) {
            &[]
        } else {
            paths
        };
        let existing = fs::symlink_metadata(dir).is_ok();
        self.check_outside_store(dir)?;
        // A directory that does not exist yet is planned against an empty one, and
        // made only once the plan holds: a refused restore leaves nothing behind.
        let empty;
        let plan_root = if existing {
            dir
        } else {
            empty = tempfile::tempdir().context("create a temporary directory", dir)?;
            empty.path()
        };
        let plan_options = PlanOptions {
            discard_changes: false,
            replace_untracked: options.force,
            keep_unsaved: false,
            saved: None,
            paths,
        };
        let plan = worktree::plan_into(&self.odb, plan_root, tree, &plan_options)?;
        if !plan.conflicts.is_empty() {
            return Err(Error::TargetConflicts {
                dir: dir.to_owned(),
                paths: plan.conflicts.into_iter().map(|c| c.path).collect(),
            });
        }
        // The store may sit below DIR (restoring into an ancestor of an outside
        // store): no op may write, replace or remove anything at or inside it.
        if existing
            && let (Ok(real), Ok(store)) = (fs::canonicalize(dir), fs::canonicalize(&self.cow_dir))
            && let Ok(rel) = store.strip_prefix(&real)
        {
            use std::os::unix::ffi::OsStrExt;
            let rel = rel.as_os_str().as_bytes();
            let hits = |op: &worktree::Op| {
                let p = op.path().as_bytes();
                is_within(p, rel) || is_within(rel, p)
            };
            if plan.ops.iter().any(hits) {
                return Err(Error::TargetInStore(
                    dir.join(std::ffi::OsStr::from_bytes(rel)),
                ));
            }
        }
        let applied = if options.dry_run {
            Applied::default()
        } else {
            if !existing {
                fs::create_dir_all(dir).context("create directory", dir)?;
            }
            let applied = worktree::apply_into(&self.odb, dir, &plan, options.progress);
            if applied.is_err() && !existing {
                // Nothing was placed when staging failed (a corrupt blob): the
                // directory made for it goes too. (Only when empty.)
                let _ = fs::remove_dir(dir);
            }
            applied?
        };
        Ok(RestoredTo {
            commit,
            dir: dir.to_owned(),
            plan,
            applied,
        })
    }
}
