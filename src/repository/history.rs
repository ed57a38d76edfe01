//! Rewriting where history points: reset, amend, revert, and the commits a detached
//! HEAD leaves behind.

use std::collections::{BTreeMap, HashSet};

use super::Result;
use super::commit::{Recipe, clean_message};
use super::ops::OpInfo;
use super::{CheckoutOptions, CheckoutOutcome, CommitOptions, CommitOutcome, Error, Repository};
use crate::diff::{ChangeKind, DiffOptions};
use crate::object::{Commit, Entry, EntryMode, ObjectId, RepoPathBuf, Tree};
use crate::refs::{Expected, Head};
use crate::revision::Rev;
use crate::worktree::{Conflict, ConflictKind};

/// What a path is set to: a mode and a blob or tree, or `None` to remove it.
type Target = Option<(EntryMode, ObjectId)>;

/// One path of a tree edit and what it is set to.
type PathEdit = (RepoPathBuf, Target);

/// What a revert made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevertOutcome {
    /// The new commit.
    pub id: ObjectId,
    /// The commit whose changes it undoes.
    pub reverted: ObjectId,
    /// The new commit's root tree.
    pub tree: ObjectId,
    /// The commit it follows (HEAD before).
    pub parent: ObjectId,
    /// The branch that moved, or `None` when HEAD is detached.
    pub branch: Option<crate::refs::RefName>,
    /// How the working directory moved.
    pub checkout: CheckoutOutcome,
}

/// What [`Repository::reset`] does besides moving the branch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResetMode {
    /// Move the branch only (git's `--soft`).
    Soft,
    /// The same as [`Soft`](Self::Soft) in cow, which has no staging area to reset
    /// (git's `--mixed`, its default).
    #[default]
    Mixed,
    /// Also move the working directory, as a checkout does (git's `--hard`).
    Hard,
}

/// What a reset did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResetOutcome {
    /// The commit HEAD pointed at before (`None` on an unborn branch).
    pub old: Option<ObjectId>,
    /// The commit HEAD points at now.
    pub target: ObjectId,
    /// HEAD: the branch that moved, or the detached commit.
    pub head: Head,
    /// The mode.
    pub mode: ResetMode,
    /// For [`ResetMode::Hard`], how the working directory moved.
    pub checkout: Option<CheckoutOutcome>,
}

impl Repository {
    /// Moves the current branch (or a detached HEAD) to revision `rev`. With
    /// [`ResetMode::Hard`] the working directory becomes `rev`'s too, moved as a
    /// checkout moves it: refused with [`Error::CheckoutConflicts`], changing nothing,
    /// when any tracked file has changes that are in no snapshot (even one HEAD and
    /// `rev` agree on, which a checkout would carry over) or an untracked or ignored
    /// file is in the way, unless `options.force`. In a dry run nothing changes.
    pub fn reset<'a>(
        &self,
        rev: impl Into<Rev<'a>>,
        mode: ResetMode,
        options: &CheckoutOptions,
    ) -> Result<ResetOutcome> {
        let _lock = self.lock()?;
        let target = self.resolve_commit(rev)?;
        let old = self.refs.head_commit()?;
        if mode == ResetMode::Hard && !options.force {
            // `reset --hard` means the working directory becomes REV's: a tracked file
            // with changes in no snapshot would be lost even where HEAD and REV agree
            // (a checkout would carry it over), so every one refuses it.
            let unsaved: Vec<Conflict> = self
                .status(&super::StatusOptions::default())?
                .changes
                .into_iter()
                .filter(|c| c.kind() != ChangeKind::Added)
                .map(|c| Conflict {
                    path: c.path,
                    kind: ConflictKind::Modified,
                })
                .collect();
            if !unsaved.is_empty() {
                return Err(Error::CheckoutConflicts(unsaved));
            }
        }
        let head = match self.refs.head()? {
            Head::Detached(_) => Head::Detached(target),
            branch => branch,
        };
        let refs = if options.dry_run {
            None
        } else {
            let mut tx = self.refs.transaction();
            tx.update_head(target, Expected::from_option(old));
            Some(tx.prepare()?)
        };
        let flag = match mode {
            ResetMode::Soft => "--soft",
            ResetMode::Mixed => "--mixed",
            ResetMode::Hard => "--hard",
        };
        let info = OpInfo::new(format!("reset {flag} to {}", target.to_hex_prefix(12)));
        let checkout = match mode {
            ResetMode::Hard => Some(self.move_worktree(
                target,
                head.clone(),
                refs,
                options,
                info.moving_worktree(),
            )?),
            ResetMode::Soft | ResetMode::Mixed => {
                if let Some(refs) = refs {
                    self.commit_refs(refs, info)?;
                }
                None
            }
        };
        Ok(ResetOutcome {
            old,
            target,
            head,
            mode,
            checkout,
        })
    }

    /// Replaces HEAD's commit with one of the working directory's snapshot, with the
    /// same parents and author (name, email and date), committed now, as `git commit
    /// --amend` does. The message is `message` cleaned as [`commit`](Self::commit)
    /// cleans it, or with `None` the old one. `options.author` replaces the author.
    /// Refused with [`Error::UnbornHead`] before the first commit, and with
    /// [`Error::AmendEmpty`] when a commit that changed something would change
    /// nothing from its parent, unless `options.allow_empty`.
    pub fn amend(
        &self,
        message: Option<&str>,
        options: &CommitOptions<'_>,
    ) -> Result<CommitOutcome> {
        let _lock = self.lock()?;
        let head = self.refs.head_commit()?.ok_or(Error::UnbornHead("amend"))?;
        let old = self.odb.find_commit(&head)?;
        let message = match message {
            Some(m) => clean_message(m).into_bytes(),
            None => old.message.clone(),
        };
        if message.is_empty() {
            return Err(Error::EmptyMessage);
        }
        let committer = match &options.committer {
            Some(c) => c.clone(),
            None => self.signatures()?.1,
        };
        // As git: a commit that changed something may not become one that changes
        // nothing, unless `allow_empty`.
        let parent_tree = match old.parents.first() {
            Some(p) => self.odb.find_commit(p)?.tree,
            None => ObjectId::empty_tree(),
        };
        let unchanged_if = (!options.allow_empty && old.tree != parent_tree).then_some(parent_tree);
        let made = self.snapshot_commit(
            Recipe {
                parents: old.parents,
                author: options.author.clone().unwrap_or(old.author),
                committer,
                message,
                unchanged_if,
                what: "commit (amend)",
            },
            options,
        );
        match made {
            Err(Error::NothingToCommit) => Err(Error::AmendEmpty),
            made => made,
        }
    }

    /// Records a new commit on HEAD that undoes revision `rev`'s changes (against its
    /// first parent), with git's message (`Revert "<subject>"`), and moves the working
    /// directory with it.
    ///
    /// Only clean reverts are made: every path `rev` changed must be in HEAD as `rev`
    /// left it (refused with [`Error::RevertConflicts`] naming the others), and the
    /// working directory must hold no change to those paths that is in no snapshot
    /// (refused with [`Error::RevertUnsaved`]). A refusal changes nothing. Merges are
    /// refused ([`Error::RevertMerge`]); so is a commit that changed nothing
    /// ([`Error::NothingToCommit`]).
    pub fn revert<'a>(
        &self,
        rev: impl Into<Rev<'a>>,
        options: &CommitOptions<'_>,
    ) -> Result<RevertOutcome> {
        let _lock = self.lock()?;
        let reverted = self.resolve_commit(rev)?;
        let head = self.refs.head()?;
        let head_id = self
            .refs
            .head_commit()?
            .ok_or(Error::UnbornHead("revert"))?;
        let head_tree = self.odb.find_commit(&head_id)?.tree;
        let commit = self.odb.find_commit(&reverted)?;
        if commit.parents.len() > 1 {
            return Err(Error::RevertMerge(reverted));
        }
        let base_tree = match commit.parents.first() {
            Some(p) => Some(self.odb.find_commit(p)?.tree),
            None => None,
        };
        let diff = self.diff_trees(
            base_tree,
            Some(commit.tree),
            &DiffOptions {
                renames: None,
                ..DiffOptions::default()
            },
        )?;
        let changes = &diff.changes;
        if changes.is_empty() {
            return Err(Error::NothingToCommit);
        }
        // Clean only: HEAD holds every touched path as the reverted commit left it —
        // whatever is there, so that a file that became a directory compares the
        // whole directory (HEAD may have added to it since).
        let mut changed_since = Vec::new();
        let mut edits: Vec<PathEdit> = Vec::new();
        for change in changes {
            let path = &change.new_path;
            let in_head = self.odb.tree_entry_at(&head_tree, path)?;
            let in_reverted = self.odb.tree_entry_at(&commit.tree, path)?;
            if in_head != in_reverted {
                changed_since.push(path.clone());
            }
            edits.push((path.clone(), change.old.map(|s| (s.mode, s.id))));
        }
        if !changed_since.is_empty() {
            return Err(Error::RevertConflicts {
                commit: reverted,
                paths: changed_since,
            });
        }
        // Unsaved work on those paths refuses the revert before anything is written.
        let status = self.status(&super::StatusOptions::default())?;
        let touched = |p: &crate::object::RepoPath| {
            edits
                .iter()
                .any(|(e, _)| p.starts_with(e) || e.starts_with(p))
        };
        let unsaved: Vec<RepoPathBuf> = status
            .changes
            .iter()
            .filter(|c| touched(&c.path))
            .map(|c| c.path.clone())
            .collect();
        if !unsaved.is_empty() {
            return Err(Error::RevertUnsaved(unsaved));
        }
        let (author, committer) = self.signatures_for(options)?;
        let tree = self
            .edit_tree(Some(head_tree), &edits, 0)?
            .expect("the root tree is always written");
        let new = Commit {
            tree,
            parents: vec![head_id],
            author,
            committer,
            extra_headers: Vec::new(),
            message: revert_message(&commit, reverted),
        };
        let written = self.odb.write_commit(&new)?;
        self.odb.sync()?;
        let mut tx = self.refs.transaction();
        tx.update_head(written.id, Expected::Value(head_id));
        // Undoing a revert brings its files back as well as its branch.
        let info = OpInfo::new(format!(
            "revert {}: {}",
            written.id.to_hex_prefix(12),
            new.summary()
        ));
        let checkout = self.move_worktree(
            written.id,
            head.clone(),
            Some(tx.prepare()?),
            &CheckoutOptions::default(),
            info.moving_worktree(),
        )?;
        Ok(RevertOutcome {
            id: written.id,
            reverted,
            tree,
            parent: head_id,
            branch: match head {
                Head::Branch(name) => Some(name),
                Head::Detached(_) => None,
            },
            checkout,
        })
    }

    /// `base` (a tree, or `None`: empty) with each path of `edits` set to its entry or
    /// removed; `depth` components of every path are already walked. Directories an
    /// edit empties are dropped. Writes the new trees; `None` when the result is empty.
    fn edit_tree(
        &self,
        base: Option<ObjectId>,
        edits: &[PathEdit],
        depth: usize,
    ) -> Result<Option<ObjectId>> {
        let mut entries: BTreeMap<Vec<u8>, Entry> = match base {
            Some(id) => self
                .odb
                .find_tree(&id)?
                .into_entries()
                .into_iter()
                .map(|e| (e.name.clone(), e))
                .collect(),
            None => BTreeMap::new(),
        };
        // Group the edits by the name they go through at this depth.
        let mut groups: BTreeMap<Vec<u8>, (Option<Target>, Vec<PathEdit>)> = BTreeMap::new();
        for (path, entry) in edits {
            let mut names = path.components().skip(depth);
            let Some(name) = names.next() else { continue };
            let group = groups.entry(name.to_vec()).or_default();
            match names.next() {
                None => group.0 = Some(*entry),
                Some(_) => group.1.push((path.clone(), *entry)),
            }
        }
        for (name, (own, below)) in groups {
            let current = entries.remove(&name);
            let mut result = current.clone();
            if let Some(own) = own {
                result = own.map(|(mode, id)| Entry {
                    mode,
                    name: name.clone(),
                    id,
                });
            }
            if !below.is_empty() && result.as_ref().is_none_or(|e| e.mode.is_tree()) {
                let sub_base = result.as_ref().map(|e| e.id);
                result = self
                    .edit_tree(sub_base, &below, depth + 1)?
                    .map(|id| Entry {
                        mode: EntryMode::Tree,
                        name: name.clone(),
                        id,
                    });
            }
            if let Some(entry) = result {
                entries.insert(name, entry);
            }
        }
        if entries.is_empty() && depth > 0 {
            return Ok(None);
        }
        let tree = Tree::from_entries(entries.into_values().collect())?;
        Ok(Some(self.odb.write_tree(&tree)?.id))
    }

    /// The commits reachable from `old` that no branch, tag or remote-tracking branch
    /// reaches, nor `new`: what moving a detached HEAD away from `old` leaves behind,
    /// newest first (by committer date).
    pub fn orphaned_commits(&self, old: ObjectId, new: Option<ObjectId>) -> Result<Vec<ObjectId>> {
        let mut kept: HashSet<ObjectId> = HashSet::new();
        let mut todo: Vec<ObjectId> = self
            .refs
            .list("refs/")?
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        todo.extend(new);
        while let Some(id) = todo.pop() {
            if kept.contains(&id) {
                continue;
            }
            let Ok(commit) = self.odb.find_commit(&id) else {
                continue; // a ref to something else than a commit keeps nothing
            };
            kept.insert(id);
            todo.extend(commit.parents);
        }
        let mut lost: Vec<(i64, ObjectId)> = Vec::new();
        let mut seen = HashSet::new();
        let mut todo = vec![old];
        while let Some(id) = todo.pop() {
            if kept.contains(&id) || !seen.insert(id) {
                continue;
            }
            let commit = self.odb.find_commit(&id)?;
            lost.push((commit.committer.time.seconds, id));
            todo.extend(commit.parents);
        }
        lost.sort_by_key(|&(time, _)| std::cmp::Reverse(time));
        Ok(lost.into_iter().map(|(_, id)| id).collect())
    }
}

/// git's message for reverting `commit`: `Revert "<subject>"` (`Reapply "…"` for a
/// revert of a revert), a blank line, `This reverts commit <id>.`.
fn revert_message(commit: &Commit, id: ObjectId) -> Vec<u8> {
    // The subject as git's sequencer takes it: the first line of the message.
    let start = commit
        .message
        .iter()
        .position(|&b| b != b'\n')
        .unwrap_or(commit.message.len());
    let rest = &commit.message[start..];
    let subject = &rest[..rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len())];
    let mut out = Vec::new();
    match subject.strip_prefix(b"Revert \"") {
        Some(inner) if !inner.starts_with(b"Revert \"") => {
            out.extend_from_slice(b"Reapply \"");
            out.extend_from_slice(inner);
        }
        _ => {
            out.extend_from_slice(b"Revert \"");
            out.extend_from_slice(subject);
            out.push(b'"');
        }
    }
    out.extend_from_slice(format!("\n\nThis reverts commit {id}.\n").as_bytes());
    out
}
