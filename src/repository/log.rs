//! History: walking commits by first parent.

use super::{Repository, Result};
use crate::object::{Commit, ObjectId};

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
    pub fn log(&self, start: ObjectId) -> Log<'_> {
        Log {
            repo: self,
            next: Some(start),
        }
    }
}
