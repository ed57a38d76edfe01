//! Retention: `forget` drops snapshots from a branch's first-parent chain by restic's
//! policy ([`policy`]), rewriting the chain from the oldest forgotten snapshot on.
//!
//! A snapshot chain is a linked list: forgetting a snapshot in the middle gives the
//! next newer kept one a new first parent, so its id changes, and so do the ids of
//! every kept snapshot after it. Only the parent lines change: tree, author,
//! committer, other headers and message are byte for byte the same, so forgetting
//! is deterministic, and forgetting again by the same policy changes nothing. Trees
//! and blobs are untouched; what only forgotten snapshots held stays in the store
//! until `gc` removes it. Branches and tags that pointed at a rewritten commit move
//! to its twin, as one operation (`undo` brings the old chain back until a gc with
//! no grace period removes it).

pub mod policy;

use std::collections::HashMap;

use super::commit::PackGuard;
use super::ops::OpInfo;
use super::{Error, Repository, Result};
use crate::object::{Commit, Kind, ObjectId, Time};
use crate::refs::{Expected, Head, RefName};
use policy::{Policy, Reason};

/// What `forget` refuses.
#[derive(Debug, thiserror::Error)]
pub enum ForgetError {
    /// No rule and no tag to keep: restic refuses this too.
    #[error("no policy was specified, no snapshots will be removed")]
    EmptyPolicy,
    /// A `keep_tags` name that no tag has.
    #[error("no tag named '{0}'")]
    NoSuchTag(String),
    /// A commit whose header is not in the canonical layout cannot be rewritten with
    /// only its parent lines changed.
    #[error("commit {0} is not in git's canonical layout; cannot rewrite its parents")]
    NotCanonical(ObjectId),
}

/// Knobs for [`Repository::forget`].
#[derive(Clone, Debug, Default)]
pub struct ForgetOptions {
    /// The branch whose chain is thinned (`None`: HEAD's branch).
    pub branch: Option<String>,
    /// restic's `--keep-*` rules.
    pub policy: Policy,
    /// Tags whose snapshots are kept (restic's `--keep-tag`). Every tagged snapshot is
    /// kept anyway; naming tags makes a policy of tags alone valid, and a name that
    /// no tag has is refused.
    pub keep_tags: Vec<String>,
    /// Work out what would be kept and rewritten, and change nothing.
    pub dry_run: bool,
}

/// One snapshot of the chain and its fate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForgetSnapshot {
    /// The commit.
    pub id: ObjectId,
    /// Its author time, in its recorded offset (the snapshot's time).
    pub time: Time,
    /// Why it is kept; empty when it is forgotten.
    pub reasons: Vec<Reason>,
    /// Its id after the rewrite (equal to `id` when its parents did not change);
    /// `None` when it is forgotten.
    pub new_id: Option<ObjectId>,
}

impl ForgetSnapshot {
    /// Whether it is kept.
    pub fn is_kept(&self) -> bool {
        self.new_id.is_some()
    }
}

/// A branch, tag or detached HEAD moved to a rewritten commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefMove {
    /// The ref (`HEAD` for a detached HEAD).
    pub name: RefName,
    /// The commit it pointed at.
    pub old: ObjectId,
    /// Its rewritten twin.
    pub new: ObjectId,
}

/// What [`Repository::forget`] did, or (dry run) would do.
#[derive(Clone, Debug)]
pub struct ForgetOutcome {
    /// The branch whose chain it was.
    pub branch: RefName,
    /// The chain's snapshots, from the tip back along first parents.
    pub snapshots: Vec<ForgetSnapshot>,
    /// Refs moved to rewritten commits.
    pub refs: Vec<RefMove>,
    /// Whether nothing was changed.
    pub dry_run: bool,
}

impl ForgetOutcome {
    /// The kept snapshots, newest first.
    pub fn kept(&self) -> impl Iterator<Item = &ForgetSnapshot> {
        self.snapshots.iter().filter(|s| s.is_kept())
    }

    /// The forgotten snapshots, newest first.
    pub fn removed(&self) -> impl Iterator<Item = &ForgetSnapshot> {
        self.snapshots.iter().filter(|s| !s.is_kept())
    }

    /// The kept commits that got a new id: (old, new), newest first.
    pub fn rewritten(&self) -> impl Iterator<Item = (ObjectId, ObjectId)> + '_ {
        self.snapshots
            .iter()
            .filter_map(|s| s.new_id.filter(|n| *n != s.id).map(|n| (s.id, n)))
    }
}

/// The commit's bytes with `parents` as its parent lines, all else as it was; `None`
/// when its header is not in canonical layout (so that bytes might change elsewhere).
fn with_parents(raw: &[u8], commit: &Commit, parents: &[ObjectId]) -> Option<Vec<u8>> {
    let mut old = format!("tree {}\n", commit.tree);
    for p in &commit.parents {
        old += &format!("parent {p}\n");
    }
    let rest = raw.strip_prefix(old.as_bytes())?;
    let mut out = format!("tree {}\n", commit.tree).into_bytes();
    for p in parents {
        out.extend_from_slice(format!("parent {p}\n").as_bytes());
    }
    out.extend_from_slice(rest);
    Some(out)
}

impl Repository {
    /// Forgets snapshots of a branch's first-parent chain by restic's retention
    /// `policy`, rewriting the chain from the oldest forgotten snapshot on (see the
    /// module docs), and moves the branches and tags (and a detached HEAD) that
    /// pointed at rewritten commits, as one operation.
    ///
    /// Kept besides what the policy keeps: the tip, and every snapshot a tag, another
    /// branch or a detached HEAD points at. Refused with [`ForgetError::EmptyPolicy`]
    /// when no rule and no tag is given. Never removes objects: `gc` does.
    pub fn forget(&self, options: &ForgetOptions) -> Result<ForgetOutcome> {
        if options.policy.is_empty() && options.keep_tags.is_empty() {
            return Err(ForgetError::EmptyPolicy.into());
        }
        let _lock = if options.dry_run {
            None
        } else {
            Some(self.lock()?)
        };
        let branch = match &options.branch {
            Some(name) => RefName::branch(name)?,
            None => match self.refs.head()? {
                Head::Branch(name) => name,
                Head::Detached(_) => return Err(Error::Detached("forget snapshots of")),
            },
        };
        let tip = self
            .refs
            .find(&branch)?
            .ok_or_else(|| Error::NoSuchRef(branch.shorten().to_owned()))?;
        let tags = self.refs.list("refs/tags/")?;
        for name in &options.keep_tags {
            let full = RefName::tag(name)?;
            if !tags.iter().any(|(t, _)| *t == full) {
                return Err(ForgetError::NoSuchTag(name.clone()).into());
            }
        }

        // The chain, tip first: raw bytes are kept to rewrite them byte for byte.
        let mut chain: Vec<(ObjectId, Vec<u8>, Commit)> = Vec::new();
        let mut next = Some(tip);
        while let Some(id) = next {
            let raw = self.odb.read_kind(&id, Kind::Commit)?;
            let commit =
                Commit::decode(&raw).map_err(|source| crate::odb::Error::Decode { id, source })?;
            next = commit.parents.first().copied();
            chain.push((id, raw, commit));
        }
        let position: HashMap<ObjectId, usize> =
            chain.iter().enumerate().map(|(i, c)| (c.0, i)).collect();

        let times: Vec<Time> = chain.iter().map(|c| c.2.author.time).collect();
        let mut reasons = policy::apply(&times, &options.policy, Time::now().seconds);
        reasons[0].push(Reason::Tip);
        for (name, id) in &tags {
            if let Some(&i) = position.get(id) {
                reasons[i].push(Reason::Tag(name.shorten().to_owned()));
            }
        }
        for (name, id) in self.refs.list("refs/heads/")? {
            if name != branch
                && let Some(&i) = position.get(&id)
            {
                reasons[i].push(Reason::Branch(name.shorten().to_owned()));
            }
        }
        let detached = match self.refs.head()? {
            Head::Detached(id) => Some(id),
            Head::Branch(_) => None,
        };
        if let Some(&i) = detached.as_ref().and_then(|id| position.get(id)) {
            reasons[i].push(Reason::Head);
        }

        // Rewrite from the oldest forgotten snapshot towards the tip: each kept one
        // gets the next older kept one's new id as its first parent.
        let mut new_ids: Vec<Option<ObjectId>> = vec![None; chain.len()];
        let oldest_forgotten = reasons.iter().rposition(Vec::is_empty);
        let mut older_kept: Option<ObjectId> = None;
        let mut objects: Vec<Vec<u8>> = Vec::new();
        for i in (0..chain.len()).rev() {
            if reasons[i].is_empty() {
                continue;
            }
            let (id, raw, commit) = &chain[i];
            let new_id = if oldest_forgotten.is_some_and(|f| i < f) {
                let mut parents = commit.parents.clone();
                match older_kept {
                    Some(p) => parents[0] = p,
                    None => {
                        parents.remove(0);
                    }
                }
                let bytes =
                    with_parents(raw, commit, &parents).ok_or(ForgetError::NotCanonical(*id))?;
                let new_id = ObjectId::hash(Kind::Commit, &bytes);
                if new_id != *id {
                    objects.push(bytes);
                }
                new_id
            } else {
                *id
            };
            new_ids[i] = Some(new_id);
            older_kept = Some(new_id);
        }

        let snapshots: Vec<ForgetSnapshot> = chain
            .iter()
            .zip(reasons)
            .zip(&new_ids)
            .map(|(((id, _, commit), reasons), new_id)| ForgetSnapshot {
                id: *id,
                time: commit.author.time,
                reasons,
                new_id: *new_id,
            })
            .collect();
        let twin = |id: &ObjectId| {
            position
                .get(id)
                .and_then(|&i| new_ids[i])
                .filter(|new| new != id)
        };
        let mut refs = Vec::new();
        for (name, id) in std::iter::once((branch.clone(), tip)).chain(
            self.refs
                .list("refs/heads/")?
                .into_iter()
                .filter(|(name, _)| *name != branch),
        ) {
            if let Some(new) = twin(&id) {
                refs.push(RefMove { name, old: id, new });
            }
        }
        for (name, id) in tags {
            if let Some(new) = twin(&id) {
                refs.push(RefMove { name, old: id, new });
            }
        }
        if let Some(id) = detached
            && let Some(new) = twin(&id)
        {
            refs.push(RefMove {
                name: RefName::head(),
                old: id,
                new,
            });
        }
        let outcome = ForgetOutcome {
            branch,
            snapshots,
            refs,
            dry_run: options.dry_run,
        };
        if options.dry_run || outcome.refs.is_empty() {
            return Ok(outcome);
        }

        // Invariant 4: the new commits are durable before any ref names them.
        self.odb.begin_pack()?;
        let packing = PackGuard(&self.odb);
        for bytes in &objects {
            self.odb.write(Kind::Commit, bytes)?;
        }
        packing.finish()?;
        self.odb.sync()?;
        let mut tx = self.refs.transaction();
        for r in &outcome.refs {
            if r.name == RefName::head() {
                tx.set_head(Head::Detached(r.new), Expected::Value(r.old));
            } else {
                tx.update(r.name.clone(), r.new, Expected::Value(r.old));
            }
        }
        let removed = outcome.removed().count();
        let info = OpInfo::new(format!(
            "forget {removed} snapshot{} of {}: keep {}, rewrite {}",
            if removed == 1 { "" } else { "s" },
            outcome.branch.shorten(),
            outcome.kept().count(),
            outcome.rewritten().count()
        ));
        self.commit_refs(tx.prepare()?, info)?;
        Ok(outcome)
    }
}
