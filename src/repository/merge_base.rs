//! Merge bases: the best common ancestors of two commits (`git merge-base`).

use std::collections::HashSet;

use super::{Repository, Result};
use crate::object::ObjectId;
use crate::revision::Rev;

impl Repository {
    /// The best common ancestors of `a` and `b`, over all parents: the commits both
    /// reach that no other common ancestor reaches (`git merge-base --all`). Empty when
    /// the two histories share nothing; sorted by id when there are several.
    #[doc(alias = "merge-base")]
    pub fn merge_bases<'a, 'b>(
        &self,
        a: impl Into<Rev<'a>>,
        b: impl Into<Rev<'b>>,
    ) -> Result<Vec<ObjectId>> {
        let (a, b) = (self.resolve_commit(a)?, self.resolve_commit(b)?);
        let from_a = self.ancestors(&[a])?;
        // The common ancestors reached first from `b`: a walk from `b` stops at each
        // commit `a` reaches, so what lies behind a common ancestor is not collected.
        let mut common = Vec::new();
        let mut todo = vec![b];
        let mut seen = HashSet::new();
        while let Some(c) = todo.pop() {
            if !seen.insert(c) {
                continue;
            }
            if from_a.contains(&c) {
                common.push(c);
            } else {
                todo.extend(self.odb.find_commit(&c)?.parents);
            }
        }
        // A candidate that another candidate reaches is not a best one.
        let mut parents = Vec::new();
        for c in &common {
            parents.extend(self.odb.find_commit(c)?.parents);
        }
        let behind = self.ancestors(&parents)?;
        let mut best: Vec<ObjectId> = common.into_iter().filter(|c| !behind.contains(c)).collect();
        best.sort();
        best.dedup();
        Ok(best)
    }

    /// One best common ancestor of `a` and `b` (the first of [`Repository::merge_bases`]),
    /// or `None` when their histories share nothing.
    #[doc(alias = "merge-base")]
    pub fn merge_base<'a, 'b>(
        &self,
        a: impl Into<Rev<'a>>,
        b: impl Into<Rev<'b>>,
    ) -> Result<Option<ObjectId>> {
        Ok(self.merge_bases(a, b)?.into_iter().next())
    }

    /// Every commit reachable from `starts` (themselves included) over all parents.
    fn ancestors(&self, starts: &[ObjectId]) -> Result<HashSet<ObjectId>> {
        let mut seen = HashSet::new();
        let mut todo = starts.to_vec();
        while let Some(c) = todo.pop() {
            if !seen.insert(c) {
                continue;
            }
            todo.extend(self.odb.find_commit(&c)?.parents);
        }
        Ok(seen)
    }
}
