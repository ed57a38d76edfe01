//! Ref transactions: several ref changes checked together, then applied together.
//!
//! Every command's ref changes go through one [`Transaction`] (`checkout -b` creates a
//! branch and moves HEAD in one), so that they can be recorded as one operation. Its
//! [`commit`](Transaction::commit) works in two phases, as git's and gitoxide's do:
//!
//! 1. **Prepare**: take every ref's lock file (in name order, so two transactions
//!    never wait on each other in a cycle), check each holds the value the edit
//!    expects, and write and sync each new value into its lock file. Any failure here
//!    removes every lock file taken and changes nothing.
//! 2. **Apply**: in the order the edits were added, rename each lock file over its ref
//!    (or remove the ref) and sync its directory before the next edit, so that a crash
//!    keeps a prefix of the edits in that order (the branch `checkout -b` creates is
//!    durable before HEAD names it).
//!
//! The apply phase cannot be refused by a concurrent writer (it holds every lock), so
//! a transaction that prepared applies whole unless the filesystem fails or the
//! process dies mid-way; then a ref already renamed keeps its new value, and the lock
//! files left behind are removed by the next writer.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

use super::{Error, Expected, Head, LockFile, RefName, RefStore, Result, Value};
use crate::fs::IoResultExt;
use crate::object::ObjectId;

/// What an edit does to its ref.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Change {
    /// Make the ref hold this value (created if missing).
    Set(Value),
    /// Remove the ref.
    Delete,
}

/// Which ref an edit changes.
#[derive(Clone, Debug)]
enum Target {
    /// This ref itself (symbolic refs are not followed).
    Ref(RefName),
    /// Whatever HEAD resolves to when the transaction commits: the current branch, or
    /// HEAD itself when detached.
    HeadTarget,
}

#[derive(Clone, Debug)]
struct Edit {
    target: Target,
    expected: Expected,
    change: Change,
}

/// One ref a committed transaction changed: its name and its value before and after
/// (`None`: absent), as an operation log records them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Applied {
    /// The ref.
    pub name: RefName,
    /// What it held before.
    pub old: Option<Value>,
    /// What it holds now.
    pub new: Option<Value>,
}

/// A set of ref changes, each with the value it expects to replace, applied together
/// by [`commit`](Transaction::commit): every lock taken and every expected value
/// checked before any ref changes, so a refused transaction changes nothing.
#[derive(Debug)]
#[must_use = "a transaction does nothing until it is committed"]
pub struct Transaction<'s> {
    store: &'s RefStore,
    edits: Vec<Edit>,
}

impl<'s> Transaction<'s> {
    pub(super) fn new(store: &'s RefStore) -> Self {
        Transaction {
            store,
            edits: Vec::new(),
        }
    }

    fn push(&mut self, target: Target, expected: Expected, change: Change) -> &mut Self {
        self.edits.push(Edit {
            target,
            expected,
            change,
        });
        self
    }

    /// Sets ref `name` to `new`, if it holds `expected`.
    pub fn update(&mut self, name: RefName, new: ObjectId, expected: Expected) -> &mut Self {
        self.push(Target::Ref(name), expected, Change::Set(Value::Id(new)))
    }

    /// Deletes ref `name`, if it holds `expected`.
    pub fn delete(&mut self, name: RefName, expected: Expected) -> &mut Self {
        self.push(Target::Ref(name), expected, Change::Delete)
    }

    /// Points HEAD at a branch (a symbolic ref) or a commit, if HEAD holds `expected`
    /// (see [`Expected::head`]).
    pub fn set_head(&mut self, head: Head, expected: Expected) -> &mut Self {
        let value = match head {
            Head::Branch(name) => Value::Symbolic(name),
            Head::Detached(id) => Value::Id(id),
        };
        self.push(Target::Ref(RefName::head()), expected, Change::Set(value))
    }

    /// Moves the ref HEAD resolves to when the transaction commits (the current
    /// branch, or HEAD itself when detached) to `new`, if that ref holds `expected`.
    pub fn update_head(&mut self, new: ObjectId, expected: Expected) -> &mut Self {
        self.push(Target::HeadTarget, expected, Change::Set(Value::Id(new)))
    }

    /// Whether the transaction holds no edit.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// Checks every edit's expected value and applies them all, in the order they were
    /// added; returns each ref's value before and after. Refuses, changing nothing,
    /// when any ref holds something other than its edit expects, is locked by another
    /// process, or is named by two edits. The same as [`prepare`](Self::prepare)
    /// followed by [`Prepared::commit`].
    pub fn commit(self) -> Result<Vec<Applied>> {
        self.prepare()?.commit()
    }

    /// The first phase alone: takes every lock, checks every expected value and
    /// writes every new value, changing no ref. The returned [`Prepared`] holds the
    /// locks until it is committed or dropped (which removes them), so a command can
    /// learn that its ref changes will go through before it does work they depend on
    /// (a checkout prepares its new branch before it moves the working directory).
    pub fn prepare(self) -> Result<Prepared<'s>> {
        let store = self.store;
        let mut names = Vec::with_capacity(self.edits.len());
        for edit in &self.edits {
            names.push(match &edit.target {
                Target::Ref(name) => name.clone(),
                Target::HeadTarget => store.follow(&RefName::head())?.0,
            });
        }
        // Prepare, in name order.
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|&a, &b| names[a].cmp(&names[b]));
        if let Some(pair) = order.windows(2).find(|w| names[w[0]] == names[w[1]]) {
            return Err(Error::DuplicateEdit(names[pair[0]].to_string()));
        }
        // `refs/heads/a` and `refs/heads/a/b` cannot both exist: refuse two edits that
        // would need both before any lock is taken (each lock alone sees no conflict,
        // and the apply phase would move one and then fail on the other).
        let all: BTreeSet<&str> = names.iter().map(RefName::as_str).collect();
        for name in &names {
            let full = name.as_str();
            if let Some((i, _)) = full
                .match_indices('/')
                .find(|&(i, _)| all.contains(&full[..i]))
            {
                return Err(Error::NameTaken {
                    name: full.to_owned(),
                    other: full[..i].to_owned(),
                });
            }
        }
        let mut prepared: Vec<Option<(LockFile, Option<Value>)>> =
            (0..names.len()).map(|_| None).collect();
        for i in order {
            let (name, edit) = (&names[i], &self.edits[i]);
            let mut lock = store.lock(name)?;
            let old = store.check_expected(name, &edit.expected)?;
            if let Change::Set(value) = &edit.change {
                let mut file = lock.file.take().expect("a new lock holds its file");
                file.write_all(format!("{value}\n").as_bytes())
                    .and_then(|()| file.sync_all())
                    .context("write", &lock.path)?;
            }
            prepared[i] = Some((lock, old));
        }
        let prepared = prepared
            .into_iter()
            .map(|slot| slot.expect("every edit was prepared"))
            .collect();
        Ok(Prepared {
            store,
            names,
            edits: self.edits,
            prepared,
        })
    }
}

/// A transaction whose locks are taken, expected values checked and new values
/// written (see [`Transaction::prepare`]); dropping it changes nothing.
#[derive(Debug)]
#[must_use = "a prepared transaction changes nothing until it is committed"]
pub struct Prepared<'s> {
    store: &'s RefStore,
    names: Vec<RefName>,
    edits: Vec<Edit>,
    prepared: Vec<(LockFile, Option<Value>)>,
}

impl Prepared<'_> {
    /// The refs this transaction changes, in the order it changes them.
    pub fn names(&self) -> &[RefName] {
        &self.names
    }

    /// Each ref this transaction changes and what it does to it, in order.
    pub fn changes(&self) -> impl Iterator<Item = (&RefName, &Change)> {
        self.names.iter().zip(self.edits.iter().map(|e| &e.change))
    }

    /// The second phase: applies every edit, in the order given; returns each ref's
    /// value before and after.
    pub fn commit(self) -> Result<Vec<Applied>> {
        let Prepared {
            store,
            names,
            edits,
            mut prepared,
        } = self;
        // Apply, in the order given, each change made durable (its directory synced)
        // before the next is made: a crash keeps a prefix of the edits, so HEAD never
        // names a branch that `checkout -b` created and the crash lost.
        let mut applied = Vec::with_capacity(names.len());
        for ((name, edit), (lock, old)) in names.iter().zip(&edits).zip(&mut prepared) {
            let path = store.path(name);
            let dir = path.parent().expect("refs live in a directory");
            let new = match &edit.change {
                Change::Set(value) => {
                    std::fs::rename(&lock.path, &path).context("update ref", &path)?;
                    lock.path = PathBuf::new(); // renamed: nothing to clean up
                    crate::fs::sync_dir(dir)?;
                    Some(value.clone())
                }
                Change::Delete if old.is_none() => None,
                Change::Delete => {
                    std::fs::remove_file(&path).context("delete ref", &path)?;
                    crate::fs::sync_dir(dir)?;
                    None
                }
            };
            applied.push(Applied {
                name: name.clone(),
                old: old.take(),
                new,
            });
        }
        // Lock files of deleted refs go before their emptied directories do.
        drop(prepared);
        for (name, edit) in names.iter().zip(&edits) {
            if edit.change == Change::Delete {
                store.remove_empty_parents(name);
            }
        }
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Kind;

    fn store() -> (tempfile::TempDir, RefStore) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("refs/heads")).unwrap();
        let refs = RefStore::at(dir.path());
        refs.set_head(&Head::Branch(RefName::branch("main").unwrap()))
            .unwrap();
        (dir, refs)
    }

    fn id(s: &str) -> ObjectId {
        ObjectId::hash(Kind::Blob, s.as_bytes())
    }

    fn leftovers(dir: &std::path::Path) -> Vec<PathBuf> {
        walkdir::WalkDir::new(dir)
            .into_iter()
            .flatten()
            .map(|e| e.into_path())
            .filter(|p| p.to_string_lossy().ends_with(".lock"))
            .collect()
    }

    #[test]
    fn a_new_branch_and_head_move_together_and_report_old_values() {
        let (dir, refs) = store();
        let main = RefName::branch("main").unwrap();
        let topic = RefName::branch("topic").unwrap();
        refs.update(&main, id("a"), Expected::Absent).unwrap();
        let mut tx = refs.transaction();
        tx.update(topic.clone(), id("a"), Expected::Absent)
            .set_head(
                Head::Branch(topic.clone()),
                Expected::Symbolic(main.clone()),
            );
        let applied = tx.commit().unwrap();
        assert_eq!(
            applied,
            [
                Applied {
                    name: topic.clone(),
                    old: None,
                    new: Some(Value::Id(id("a"))),
                },
                Applied {
                    name: RefName::head(),
                    old: Some(Value::Symbolic(main)),
                    new: Some(Value::Symbolic(topic.clone())),
                },
            ]
        );
        assert_eq!(refs.head().unwrap(), Head::Branch(topic));
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn one_unmet_expectation_changes_nothing_and_leaves_no_lock() {
        let (dir, refs) = store();
        let main = RefName::branch("main").unwrap();
        let topic = RefName::branch("topic").unwrap();
        refs.update(&main, id("a"), Expected::Absent).unwrap();
        // The first edit would succeed; the second expects a value main does not hold.
        let mut tx = refs.transaction();
        tx.update(topic.clone(), id("b"), Expected::Absent).update(
            main.clone(),
            id("c"),
            Expected::Value(id("b")),
        );
        let err = tx.commit().unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err}");
        assert_eq!(refs.find(&topic).unwrap(), None);
        assert_eq!(refs.find(&main).unwrap(), Some(id("a")));
        assert!(leftovers(dir.path()).is_empty());

        // HEAD expected on another branch: refused too.
        let mut tx = refs.transaction();
        tx.set_head(Head::Detached(id("a")), Expected::Symbolic(topic.clone()));
        assert!(matches!(tx.commit(), Err(Error::Conflict { .. })));
        assert_eq!(refs.head().unwrap(), Head::Branch(main));
    }

    #[test]
    fn a_held_lock_refuses_the_whole_transaction() {
        let (dir, refs) = store();
        std::fs::write(dir.path().join("refs/heads/b.lock"), "").unwrap();
        let mut tx = refs.transaction();
        tx.update(RefName::branch("a").unwrap(), id("a"), Expected::Absent)
            .update(RefName::branch("b").unwrap(), id("b"), Expected::Absent);
        assert!(matches!(tx.commit(), Err(Error::Locked { .. })));
        assert!(!dir.path().join("refs/heads/a").exists());
        assert!(!dir.path().join("refs/heads/a.lock").exists());
        // The other process's lock is not ours to remove.
        assert!(dir.path().join("refs/heads/b.lock").exists());
    }

    #[test]
    fn two_edits_of_one_ref_are_refused() {
        let (_dir, refs) = store();
        let main = RefName::branch("main").unwrap();
        let mut tx = refs.transaction();
        // update_head names main too, through HEAD.
        tx.update(main.clone(), id("a"), Expected::Any)
            .update_head(id("b"), Expected::Any);
        assert!(matches!(tx.commit(), Err(Error::DuplicateEdit(_))));
        assert_eq!(refs.find(&main).unwrap(), None);
    }

    #[test]
    fn update_head_follows_head_when_it_commits() {
        let (_dir, refs) = store();
        let mut tx = refs.transaction();
        tx.update_head(id("a"), Expected::Absent);
        let applied = tx.commit().unwrap();
        assert_eq!(applied[0].name, RefName::branch("main").unwrap());
        refs.set_head(&Head::Detached(id("a"))).unwrap();
        let mut tx = refs.transaction();
        tx.update_head(id("b"), Expected::Value(id("a")));
        assert_eq!(tx.commit().unwrap()[0].name, RefName::head());
        assert_eq!(refs.head().unwrap(), Head::Detached(id("b")));
        assert_eq!(
            refs.find(&RefName::branch("main").unwrap()).unwrap(),
            Some(id("a"))
        );
    }

    #[test]
    fn deletes_remove_emptied_directories() {
        let (dir, refs) = store();
        let deep = RefName::branch("feature/x").unwrap();
        refs.update(&deep, id("a"), Expected::Absent).unwrap();
        let mut tx = refs.transaction();
        tx.delete(deep, Expected::Value(id("a")))
            .delete(RefName::tag("never").unwrap(), Expected::Any);
        let applied = tx.commit().unwrap();
        assert_eq!(applied[0].old, Some(Value::Id(id("a"))));
        assert_eq!(
            (applied[1].old.clone(), applied[1].new.clone()),
            (None, None)
        );
        assert!(!dir.path().join("refs/heads/feature").exists());
        assert!(leftovers(dir.path()).is_empty());
    }

    /// `refs/heads/a` and `refs/heads/a/b` cannot both exist: a transaction naming both
    /// must be refused whole in its prepare phase. Today both lock files are taken
    /// (`a.lock`, and `a/b.lock` in a new directory `a/`), so the apply phase renames
    /// `a/b` into place and then fails to rename `a.lock` over the directory `a`:
    /// half-applied, with an io error rather than a name conflict.
    #[test]
    fn a_ref_and_a_ref_below_it_are_refused_before_anything_moves() {
        for below_first in [true, false] {
            let (dir, refs) = store();
            let a = RefName::branch("a").unwrap();
            let ab = RefName::branch("a/b").unwrap();
            let mut tx = refs.transaction();
            if below_first {
                tx.update(ab.clone(), id("1"), Expected::Absent).update(
                    a.clone(),
                    id("2"),
                    Expected::Absent,
                );
            } else {
                tx.update(a.clone(), id("2"), Expected::Absent).update(
                    ab.clone(),
                    id("1"),
                    Expected::Absent,
                );
            }
            let err = tx.commit().unwrap_err();
            assert_eq!(
                refs.find(&ab).unwrap(),
                None,
                "half-applied (below_first: {below_first}): {err}"
            );
            assert!(matches!(err, Error::NameTaken { .. }), "{err}");
            assert_eq!(refs.find(&a).unwrap(), None);
            assert!(leftovers(dir.path()).is_empty());
            assert!(
                !dir.path().join("refs/heads/a").exists(),
                "a directory is left"
            );
        }
    }
}
