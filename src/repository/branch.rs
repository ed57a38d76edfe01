//! Branches and tags.

use std::collections::HashSet;

use super::ops::OpInfo;
use super::{Error, Repository, Result};
use crate::object::ObjectId;
use crate::refs::{Expected, Head, RefName};
use crate::revision::Rev;

/// A branch or tag and the commit it points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefInfo {
    /// The short name (`main`, `v1.0`).
    pub name: String,
    /// The commit.
    pub id: ObjectId,
    /// Whether HEAD is attached to it (branches only).
    pub current: bool,
}

impl Repository {
    /// Every branch, sorted by name, the one HEAD is on marked current.
    pub fn branches(&self) -> Result<Vec<RefInfo>> {
        let head = self.refs.head()?;
        Ok(self
            .refs
            .list("refs/heads/")?
            .into_iter()
            .map(|(name, id)| RefInfo {
                current: head == Head::Branch(name.clone()),
                name: name.shorten().to_owned(),
                id,
            })
            .collect())
    }

    /// Every remote-tracking branch (`refs/remotes/REMOTE/BRANCH`), named
    /// `REMOTE/BRANCH`, sorted.
    pub fn remote_branches(&self) -> Result<Vec<RefInfo>> {
        Ok(self
            .refs
            .list("refs/remotes/")?
            .into_iter()
            .map(|(name, id)| RefInfo {
                name: name.as_str()["refs/remotes/".len()..].to_owned(),
                id,
                current: false,
            })
            .collect())
    }

    /// Creates branch `name` at revision `start` (default HEAD); refuses if it exists.
    pub fn create_branch(&self, name: &str, start: Option<Rev<'_>>) -> Result<ObjectId> {
        let _lock = self.lock()?;
        let branch = RefName::branch(name)?;
        let id = self.resolve_commit(start.unwrap_or(Rev::HEAD))?;
        if self.refs.find(&branch)?.is_some() {
            return Err(Error::BranchExists(name.to_owned()));
        }
        let mut tx = self.refs.transaction();
        tx.update(branch, id, Expected::Absent);
        self.commit_refs(
            tx.prepare()?,
            OpInfo::new(format!("create branch {name} at {}", id.to_hex_prefix(12))),
        )?;
        Ok(id)
    }

    /// Creates branch `name` at revision `start` (default HEAD), or moves it there if it
    /// exists (`branch -f`). Refuses the branch HEAD is on (moving it would leave the
    /// working directory behind: that is [`reset`](Self::reset)). Returns the commit
    /// it pointed at before, if any, and the one it points at now.
    pub fn force_branch(
        &self,
        name: &str,
        start: Option<Rev<'_>>,
    ) -> Result<(Option<ObjectId>, ObjectId)> {
        let _lock = self.lock()?;
        let branch = RefName::branch(name)?;
        if self.refs.head()? == Head::Branch(branch.clone()) {
            return Err(Error::ForceUpdateCurrentBranch(name.to_owned()));
        }
        let id = self.resolve_commit(start.unwrap_or(Rev::HEAD))?;
        let old = self.refs.find(&branch)?;
        let mut tx = self.refs.transaction();
        tx.update(branch, id, Expected::from_option(old));
        let info = OpInfo::new(format!("force branch {name} to {}", id.to_hex_prefix(12)));
        self.commit_refs(tx.prepare()?, info)?;
        Ok((old, id))
    }

    /// Renames branch `old` (default: the one HEAD is on) to `new`, HEAD moving with
    /// it when it is on `old`, in one transaction. Refuses when `new` exists, unless
    /// `force` (git's `-M`), which still refuses to replace the branch HEAD is on.
    /// Renaming the unborn branch HEAD is on only points HEAD at the new name.
    pub fn rename_branch(&self, old: Option<&str>, new: &str, force: bool) -> Result<()> {
        let _lock = self.lock()?;
        let head = self.refs.head()?;
        let old = match old {
            Some(name) => RefName::branch(name)?,
            None => match &head {
                Head::Branch(name) => name.clone(),
                Head::Detached(_) => return Err(Error::Detached("rename")),
            },
        };
        let new_name = RefName::branch(new)?;
        let is_current = head == Head::Branch(old.clone());
        let id = self.refs.find(&old)?;
        if id.is_none() && !is_current {
            return Err(Error::NoSuchRef(format!("branch '{}'", old.shorten())));
        }
        if old == new_name {
            return Ok(());
        }
        let existing = self.refs.find(&new_name)?;
        if existing.is_some() {
            if !force {
                return Err(Error::BranchExists(new.to_owned()));
            }
            if head == Head::Branch(new_name.clone()) {
                return Err(Error::ForceUpdateCurrentBranch(new.to_owned()));
            }
        }
        let old_shown = old.shorten().to_owned();
        let mut tx = self.refs.transaction();
        if let Some(id) = id {
            tx.delete(old, Expected::Value(id));
            tx.update(new_name.clone(), id, Expected::from_option(existing));
        }
        if is_current {
            tx.set_head(Head::Branch(new_name), Expected::head(&head));
        }
        let info = OpInfo::new(format!("rename branch {} to {new}", old_shown));
        self.commit_refs(tx.prepare()?, info)?;
        Ok(())
    }

    /// Deletes branch `name`. Refuses the branch HEAD is on, and (unless `force`) a
    /// branch whose commit HEAD does not contain. Returns the commit it pointed at.
    pub fn delete_branch(&self, name: &str, force: bool) -> Result<ObjectId> {
        let _lock = self.lock()?;
        let branch = RefName::branch(name)?;
        let id = self
            .refs
            .find(&branch)?
            .ok_or_else(|| Error::NoSuchRef(format!("branch '{name}'")))?;
        if self.refs.head()? == Head::Branch(branch.clone()) {
            return Err(Error::DeleteCurrentBranch(name.to_owned()));
        }
        if !force && !self.is_ancestor_of_head(id)? {
            return Err(Error::NotMerged(name.to_owned()));
        }
        let mut tx = self.refs.transaction();
        tx.delete(branch, Expected::Value(id));
        self.commit_refs(
            tx.prepare()?,
            OpInfo::new(format!(
                "delete branch {name} (was {})",
                id.to_hex_prefix(12)
            )),
        )?;
        Ok(id)
    }

    fn is_ancestor_of_head(&self, id: ObjectId) -> Result<bool> {
        match self.refs.head_commit()? {
            Some(head) => self.is_ancestor(id, head),
            None => Ok(false),
        }
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors.
    pub(crate) fn is_ancestor(&self, ancestor: ObjectId, descendant: ObjectId) -> Result<bool> {
        let mut todo = vec![descendant];
        let mut seen = HashSet::new();
        while let Some(c) = todo.pop() {
            if c == ancestor {
                return Ok(true);
            }
            if seen.insert(c) {
                todo.extend(self.odb.find_commit(&c)?.parents);
            }
        }
        Ok(false)
    }

    /// Every tag, sorted by name.
    pub fn tags(&self) -> Result<Vec<RefInfo>> {
        Ok(self
            .refs
            .list("refs/tags/")?
            .into_iter()
            .map(|(name, id)| RefInfo {
                name: name.shorten().to_owned(),
                id,
                current: false,
            })
            .collect())
    }

    /// Creates tag `name` at revision `target` (default HEAD); refuses if it exists.
    pub fn create_tag(&self, name: &str, target: Option<Rev<'_>>) -> Result<ObjectId> {
        let _lock = self.lock()?;
        let tag = RefName::tag(name)?;
        let id = self.resolve_commit(target.unwrap_or(Rev::HEAD))?;
        if self.refs.find(&tag)?.is_some() {
            return Err(Error::TagExists(name.to_owned()));
        }
        let mut tx = self.refs.transaction();
        tx.update(tag, id, Expected::Absent);
        self.commit_refs(
            tx.prepare()?,
            OpInfo::new(format!("create tag {name} at {}", id.to_hex_prefix(12))),
        )?;
        Ok(id)
    }

    /// Creates tag `name` at revision `target` (default HEAD), or moves it there if it
    /// exists (`tag -f`). Returns the commit it pointed at before, if any, and the one
    /// it points at now.
    pub fn force_tag(
        &self,
        name: &str,
        target: Option<Rev<'_>>,
    ) -> Result<(Option<ObjectId>, ObjectId)> {
        let _lock = self.lock()?;
        let tag = RefName::tag(name)?;
        let id = self.resolve_commit(target.unwrap_or(Rev::HEAD))?;
        let old = self.refs.find(&tag)?;
        let mut tx = self.refs.transaction();
        tx.update(tag, id, Expected::from_option(old));
        let info = OpInfo::new(format!("force tag {name} to {}", id.to_hex_prefix(12)));
        self.commit_refs(tx.prepare()?, info)?;
        Ok((old, id))
    }

    /// Deletes tag `name`; returns the commit it pointed at.
    pub fn delete_tag(&self, name: &str) -> Result<ObjectId> {
        let _lock = self.lock()?;
        let tag = RefName::tag(name)?;
        let id = self
            .refs
            .find(&tag)?
            .ok_or_else(|| Error::NoSuchRef(format!("tag '{name}'")))?;
        let mut tx = self.refs.transaction();
        tx.delete(tag, Expected::Value(id));
        self.commit_refs(
            tx.prepare()?,
            OpInfo::new(format!("delete tag {name} (was {})", id.to_hex_prefix(12))),
        )?;
        Ok(id)
    }
}
