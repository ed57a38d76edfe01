//! History: walking commits by first parent.

use super::{Repository, Result};
use crate::object::{Commit, ObjectId};
use crate::revision::Rev;

/// Commits from a starting point back along first parents, newest first.
pub struct Log<'r> {
    repo: &'r Repository,
    next: Option<ObjectId>,
}

impl Iterator for Log<'_> {
    type Item = Result<(ObjectId, Commit)>;

    fn next(&mut self) -> Option<Self::Item> {
        let id = self.next.take()?;
        Some(match self.repo.odb.find_commit(&id) {
            Ok(commit) => {
                self.next = commit.parents.first().copied();
                Ok((id, commit))
            }
            Err(e) => Err(e.into()),
        })
    }
}

impl Repository {
    /// The history from commit `start`, newest first, following first parents.
    pub fn log<'a>(&self, start: impl Into<Rev<'a>>) -> Result<Log<'_>> {
        Ok(Log {
            repo: self,
            next: Some(self.resolve_commit(start)?),
        })
    }
}

/// Knobs for [`Repository::walk`].
#[derive(Clone, Debug, Default)]
pub struct WalkOptions {
    /// Follow only first parents (`git log --first-parent`); by default every parent.
    pub first_parent: bool,
    /// Leave out commits committed before this (unix seconds), and stop walking past
    /// them, as `git log --since` does.
    pub since: Option<i64>,
    /// Leave out commits committed after this (unix seconds), walking on past them.
    pub until: Option<i64>,
}

/// Commits reachable from several starting points, each once, newest commit date
/// first (ties in the order they were reached): `git log`'s default order.
pub struct Walk<'r> {
    repo: &'r Repository,
    options: WalkOptions,
    queue: std::collections::BinaryHeap<Queued>,
    seen: std::collections::HashSet<ObjectId>,
    seq: u64,
}

/// A commit waiting in a [`Walk`]: the newest commit date first, then the first reached.
struct Queued {
    date: i64,
    seq: u64,
    id: ObjectId,
    commit: Commit,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.date
            .cmp(&other.date)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl Walk<'_> {
    fn push(&mut self, id: ObjectId) -> Result<()> {
        if !self.seen.insert(id) {
            return Ok(());
        }
        let commit = self.repo.odb.find_commit(&id)?;
        self.seq += 1;
        self.queue.push(Queued {
            date: commit.committer.time.seconds,
            seq: self.seq,
            id,
            commit,
        });
        Ok(())
    }
}

impl Iterator for Walk<'_> {
    type Item = Result<(ObjectId, Commit)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let Queued {
                date, id, commit, ..
            } = self.queue.pop()?;
            if self.options.since.is_some_and(|since| date < since) {
                continue;
            }
            let parents = if self.options.first_parent {
                &commit.parents[..commit.parents.len().min(1)]
            } else {
                &commit.parents[..]
            };
            for &parent in parents {
                if let Err(e) = self.push(parent) {
                    return Some(Err(e));
                }
            }
            if self.options.until.is_some_and(|until| date > until) {
                continue;
            }
            return Some(Ok((id, commit)));
        }
    }
}

impl Repository {
    /// The commits reachable from `starts`, each once, newest commit date first, as
    /// `git log` lists them (with several starts, `git log --all`).
    pub fn walk<'a, R: Into<Rev<'a>>>(
        &self,
        starts: impl IntoIterator<Item = R>,
        options: &WalkOptions,
    ) -> Result<Walk<'_>> {
        let mut walk = Walk {
            repo: self,
            options: options.clone(),
            queue: Default::default(),
            seen: Default::default(),
            seq: 0,
        };
        for start in starts {
            walk.push(self.resolve_commit(start)?)?;
        }
        Ok(walk)
    }
}
