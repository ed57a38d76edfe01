//! Push, fetch, pull and clone, over any [`Remote`](crate::remote::Remote).
//!
//! A push sends what is reachable from the pushed commits and not from the remote's
//! refs (which the remote is known to have), data first, then moves the remote's refs
//! by compare-and-swap: a ref someone else moved meanwhile refuses the push ("fetch
//! first"), and a push that is not a fast-forward is refused unless forced. A fetch
//! brings every object the remote's refs reach that this store lacks, verified, and
//! only then moves the remote-tracking refs `refs/remotes/NAME/BRANCH`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ops::OpInfo;
use super::{Error, Repository, Result};
use crate::object::{Kind, ObjectId};
use crate::odb;
use crate::refs::{Expected, Head, RefName};
use crate::remote::{self, Progress, RefUpdate, Remote, Spec, Transfer, Url};

/// What to push.
#[derive(Clone, Debug, Default)]
pub struct PushOptions {
    /// Branches (short or full names); none means the current branch.
    pub branches: Vec<String>,
    /// Every branch.
    pub all: bool,
    /// Every tag too.
    pub tags: bool,
    /// Move remote refs even where that drops commits (not a fast-forward).
    pub force: bool,
    /// Delete `branches` on the remote instead (`git push --delete`).
    pub delete: bool,
}

/// One ref a push or fetch moved (or found up to date).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefChange {
    /// The ref moved: the remote's for a push, the remote-tracking one for a fetch.
    pub name: String,
    /// Its value before (`None`: it did not exist).
    pub old: Option<ObjectId>,
    /// Its value after.
    pub new: Option<ObjectId>,
    /// Not a fast-forward (a forced push, or a remote branch that was rewritten).
    pub forced: bool,
}

/// What a push did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushOutcome {
    /// Where it went.
    pub url: String,
    /// Refs moved on the remote.
    pub updated: Vec<RefChange>,
    /// Refs that were up to date already.
    pub up_to_date: Vec<String>,
    /// What was sent.
    pub transfer: Transfer,
}

/// How to fetch.
#[derive(Clone, Copy, Debug, Default)]
pub struct FetchOptions {
    /// Delete remote-tracking branches whose branch the remote no longer has (git's
    /// `fetch --prune`).
    pub prune: bool,
}

/// What a fetch did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchOutcome {
    /// Where it came from.
    pub url: String,
    /// Local refs moved (remote-tracking refs, new tags).
    pub updated: Vec<RefChange>,
    /// The remote's refs as fetched.
    pub remote_refs: BTreeMap<String, ObjectId>,
    /// The remote's default branch.
    pub remote_head: Option<String>,
    /// What was received.
    pub transfer: Transfer,
    /// Refs left as they were, and why (a name that clashes with a local ref).
    pub warnings: Vec<String>,
}

/// What a pull did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullOutcome {
    /// The fetch.
    pub fetch: FetchOutcome,
    /// The branch pulled into.
    pub branch: String,
    /// Its commit before.
    pub old: Option<ObjectId>,
    /// Its commit after (equal to `old` when up to date).
    pub new: ObjectId,
}

/// Settings of a new remote (a clone's `origin`).
#[derive(Clone, Debug, Default)]
pub struct CloneOptions {
    /// For an object store: endpoint, region, addressing, credentials.
    pub s3: remote::S3Options,
    /// One writer at a time (see [`Spec::single_writer`]).
    pub single_writer: bool,
}

/// What a clone did.
#[derive(Debug)]
pub struct CloneOutcome {
    /// The new repository.
    pub repository: Repository,
    /// The fetch into it.
    pub fetch: FetchOutcome,
    /// The branch checked out (`None`: the remote was empty).
    pub branch: Option<String>,
}

/// Full name of a branch given short or full.
fn branch_name(name: &str) -> Result<RefName> {
    if name.starts_with("refs/") {
        Ok(RefName::new(name)?)
    } else {
        Ok(RefName::branch(name)?)
    }
}

impl Repository {
    /// The remote named `name`, or, when no remote has that name and it looks like
    /// one, the URL `name` itself (with settings from the environment).
    fn remote_spec(&self, name: &str) -> Result<(Spec, bool)> {
        match self.remote(name) {
            Ok(spec) => Ok((spec, true)),
            // Not a configured remote: a URL, or a path to a repository (as git takes).
            Err(_) if name.contains('/') || Path::new(name).is_dir() => {
                let cwd = std::env::current_dir().unwrap_or_default();
                let url = Url::parse(name, &cwd)?;
                Ok((
                    Spec {
                        name: name.to_owned(),
                        url,
                        s3: remote::S3Options::default(),
                        single_writer: false,
                    },
                    false,
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// Opens the remote a spec names.
    pub fn open_remote(&self, spec: &Spec) -> Result<Box<dyn Remote>> {
        Ok(match &spec.url {
            Url::Path(path) => {
                let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
                let own = || remote::Error::Refused("a repository cannot be its own remote".into());
                if Some(path.as_path()) == self.work_dir.as_deref() || path == self.cow_dir {
                    return Err(own().into());
                }
                let remote = super::path_remote::PathRemote::open(&path)?;
                // Another path to this store (a `.cow` file naming it, say).
                if remote.store() == self.cow_dir {
                    return Err(own().into());
                }
                Box::new(remote)
            }
            Url::S3(location) => Box::new(remote::StoreRemote::open_s3(
                location,
                &spec.s3,
                spec.single_writer,
                self.transfer_dir(&spec.name),
            )?),
        })
    }

    /// Where transfers with a remote stage packs (kept across a killed fetch).
    fn transfer_dir(&self, name: &str) -> PathBuf {
        let safe: String = name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                    b as char
                } else {
                    '_'
                }
            })
            .collect();
        self.cow_dir.join("transfer").join(safe)
    }

    /// The first object reachable from `tips` and not from `haves` that this store
    /// does not have (`None`: everything is here). A damaged object is an error.
    fn first_missing(&self, tips: &[ObjectId], haves: &[ObjectId]) -> Result<Option<ObjectId>> {
        let reached = match crate::reach::reachable(&self.odb, tips, haves) {
            Ok(reached) => reached,
            Err(odb::Error::NotFound { id }) => return Ok(Some(id)),
            Err(e) => return Err(e.into()),
        };
        for r in reached.iter().filter(|r| r.kind == Kind::Blob) {
            if !self.odb.contains(&r.id) {
                return Ok(Some(r.id));
            }
            if let Some(key) = self.odb.missing_chunk(&r.id)? {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    /// Pushes branches (and tags) to `remote` (a configured name or a URL).
    pub fn push(
        &self,
        remote: &str,
        options: &PushOptions,
        progress: &dyn Progress,
    ) -> Result<PushOutcome> {
        let (spec, named) = self.remote_spec(remote)?;
        let mut opened = self.open_remote(&spec)?;
        let tracking = named.then_some(spec.name.as_str());
        self.push_to(opened.as_mut(), tracking, options, progress)
    }

    /// Pushes to an open remote; `tracking` names the remote whose remote-tracking
    /// refs (`refs/remotes/NAME/…`) follow what was pushed.
    pub fn push_to(
        &self,
        remote: &mut dyn Remote,
        tracking: Option<&str>,
        options: &PushOptions,
        progress: &dyn Progress,
    ) -> Result<PushOutcome> {
        if options.delete {
            return self.delete_remote_refs(remote, tracking, &options.branches);
        }
        let mut names: Vec<RefName> = Vec::new();
        if options.all {
            names.extend(self.refs.list("refs/heads/")?.into_iter().map(|r| r.0));
        }
        if options.tags {
            names.extend(self.refs.list("refs/tags/")?.into_iter().map(|r| r.0));
        }
        for branch in &options.branches {
            names.push(branch_name(branch)?);
        }
        if names.is_empty() && !options.all && !options.tags {
            match self.refs.head()? {
                Head::Branch(name) => names.push(name),
                Head::Detached(_) => {
                    return Err(Error::Rejected {
                        name: "HEAD".into(),
                        reason: "HEAD is detached: name the branch to push".into(),
                    });
                }
            }
        }
        names.sort();
        names.dedup();
        let mut local = Vec::new();
        for name in names {
            let id = self
                .refs
                .find(&name)?
                .ok_or_else(|| Error::NoSuchRef(name.as_str().to_owned()))?;
            local.push((name, id));
        }
        let remote_refs = remote.refs()?;
        let mut outcome = PushOutcome {
            url: remote.url(),
            updated: Vec::new(),
            up_to_date: Vec::new(),
            transfer: Transfer::default(),
        };
        let mut updates = Vec::new();
        for (name, new) in &local {
            let old = remote_refs.refs.get(name.as_str()).copied();
            if old == Some(*new) {
                outcome.up_to_date.push(name.as_str().to_owned());
                continue;
            }
            let mut forced = false;
            if let Some(old) = old {
                let fast_forward = self.odb.contains(&old) && self.is_ancestor(old, *new)?;
                if !fast_forward {
                    if !options.force {
                        return Err(Error::Rejected {
                            name: name.as_str().to_owned(),
                            reason: if self.odb.contains(&old) {
                                "not a fast-forward: the remote has commits this branch does \
                                 not contain (pull first, or push --force to drop them)"
                                    .into()
                            } else {
                                "the remote has commits this repository does not have \
                                 (fetch first)"
                                    .into()
                            },
                        });
                    }
                    forced = true;
                }
            }
            updates.push(RefUpdate {
                name: name.as_str().to_owned(),
                old,
                new: Some(*new),
            });
            outcome.updated.push(RefChange {
                name: name.as_str().to_owned(),
                old,
                new: Some(*new),
                forced,
            });
        }
        if !updates.is_empty() {
            let include: Vec<ObjectId> = updates.iter().filter_map(|u| u.new).collect();
            let exclude: Vec<ObjectId> = remote_refs
                .refs
                .values()
                .copied()
                .filter(|id| self.odb.contains(id))
                .collect();
            let objects = crate::reach::reachable_stored(&self.odb, &include, &exclude)?;
            outcome.transfer = remote.send(&self.odb, objects, progress)?;
            let head = match self.refs.head()? {
                Head::Branch(name) => Some(name.as_str().to_owned()),
                Head::Detached(_) => None,
            };
            remote
                .update_refs(&updates, head.as_deref())
                .map_err(|e| match e {
                    remote::Error::RefMoved { name } => Error::Rejected {
                        name,
                        reason: "the remote's branch moved while pushing (fetch first)".into(),
                    },
                    e => e.into(),
                })?;
        }
        outcome.transfer.requests = remote.requests();
        // Every pushed branch is now on the remote as it is here, moved or not.
        let pushed: Vec<RefChange> = local
            .iter()
            .map(|(name, id)| RefChange {
                name: name.as_str().to_owned(),
                old: None,
                new: Some(*id),
                forced: false,
            })
            .collect();
        self.follow_remote(tracking, &pushed)?;
        Ok(outcome)
    }

    /// Deletes `branches` on the remote, each only if it still holds what was read.
    fn delete_remote_refs(
        &self,
        remote: &mut dyn Remote,
        tracking: Option<&str>,
        branches: &[String],
    ) -> Result<PushOutcome> {
        if branches.is_empty() {
            return Err(Error::Rejected {
                name: "--delete".into(),
                reason: "name the branches to delete".into(),
            });
        }
        let remote_refs = remote.refs()?;
        let mut updates = Vec::new();
        for branch in branches {
            let name = branch_name(branch)?;
            let old = remote_refs
                .refs
                .get(name.as_str())
                .copied()
                .ok_or_else(|| {
                    Error::NoSuchRef(format!("{} on {}", name.as_str(), remote.url()))
                })?;
            updates.push(RefUpdate {
                name: name.as_str().to_owned(),
                old: Some(old),
                new: None,
            });
        }
        remote.update_refs(&updates, None).map_err(|e| match e {
            remote::Error::RefMoved { name } => Error::Rejected {
                name,
                reason: "the remote's branch moved meanwhile (fetch first)".into(),
            },
            e => e.into(),
        })?;
        let updated: Vec<RefChange> = updates
            .into_iter()
            .map(|u| RefChange {
                name: u.name,
                old: u.old,
                new: None,
                forced: false,
            })
            .collect();
        self.follow_remote(tracking, &updated)?;
        Ok(PushOutcome {
            url: remote.url(),
            updated,
            up_to_date: Vec::new(),
            transfer: Transfer {
                requests: remote.requests(),
                ..Transfer::default()
            },
        })
    }

    /// Moves the remote-tracking refs of remote `tracking` (if named) as a push moved
    /// the remote's branches.
    fn follow_remote(&self, tracking: Option<&str>, pushed: &[RefChange]) -> Result<()> {
        let Some(remote_name) = tracking else {
            return Ok(());
        };
        let _lock = self.lock()?;
        let mut tx = self.refs.transaction();
        for change in pushed {
            let Some(branch) = change.name.strip_prefix("refs/heads/") else {
                continue;
            };
            let name = RefName::new(&format!("refs/remotes/{remote_name}/{branch}"))?;
            match change.new {
                Some(id) => {
                    tx.update(name, id, Expected::Any);
                }
                None if self.refs.find(&name)?.is_some() => {
                    tx.delete(name, Expected::Any);
                }
                None => {}
            }
        }
        if !tx.is_empty() {
            self.commit_refs(tx.prepare()?, OpInfo::new(format!("push to {remote_name}")))?;
        }
        Ok(())
    }

    /// Fetches from `remote` (a configured name or a URL): every object its refs reach
    /// that this store lacks, verified, then its branches as `refs/remotes/NAME/…` and
    /// tags this repository does not have.
    pub fn fetch(
        &self,
        remote: &str,
        options: &FetchOptions,
        progress: &dyn Progress,
    ) -> Result<FetchOutcome> {
        let (spec, named) = self.remote_spec(remote)?;
        let mut opened = self.open_remote(&spec)?;
        self.fetch_from(
            opened.as_mut(),
            named.then_some(spec.name.as_str()),
            options,
            progress,
        )
    }

    /// Fetches from an open remote; `tracking` names the remote whose remote-tracking
    /// refs (`refs/remotes/NAME/…`) are set to its branches.
    pub fn fetch_from(
        &self,
        remote: &mut dyn Remote,
        tracking: Option<&str>,
        options: &FetchOptions,
        progress: &dyn Progress,
    ) -> Result<FetchOutcome> {
        let _lock = self.lock()?;
        let refs = remote.refs()?;
        let mut outcome = FetchOutcome {
            url: remote.url(),
            updated: Vec::new(),
            remote_refs: refs.refs.clone(),
            remote_head: refs.head.clone(),
            transfer: Transfer::default(),
            warnings: Vec::new(),
        };
        let wants: Vec<ObjectId> = {
            let mut w: Vec<ObjectId> = refs.refs.values().copied().collect();
            w.sort();
            w.dedup();
            w
        };
        // A ref moves only to a commit whose every object is here. A commit being here
        // is not enough: a fetch killed mid-way (or a remote missing an object) can
        // leave a commit without its trees or blobs, so the walk runs every time.
        let haves: Vec<ObjectId> = self.roots().ref_tips()?;
        if self.first_missing(&wants, &haves)?.is_some() {
            let wants: Vec<ObjectId> = wants
                .iter()
                .copied()
                .filter(|w| !haves.contains(w))
                .collect();
            outcome.transfer = remote.receive(&self.odb, &wants, &haves, progress)?;
            // Received, and still not here: the remote does not have it.
            if let Some(id) = self.first_missing(&wants, &haves)? {
                return Err(remote::Error::Corrupt {
                    what: remote.url(),
                    reason: format!("object {id} is missing"),
                }
                .into());
            }
        }
        outcome.transfer.requests = remote.requests();
        let existing = self.refs.names("refs/")?;
        let mut tx = self.refs.transaction();
        for (name, id) in &refs.refs {
            let (local_name, only_new) = if let Some(branch) = name.strip_prefix("refs/heads/") {
                let Some(remote_name) = tracking else {
                    continue;
                };
                (format!("refs/remotes/{remote_name}/{branch}"), false)
            } else if name.starts_with("refs/tags/") {
                (name.clone(), true)
            } else {
                continue;
            };
            let local_name = RefName::new(&local_name)?;
            let old = self.refs.find(&local_name)?;
            if old == Some(*id) || (only_new && old.is_some()) {
                continue;
            }
            // As git: a name that clashes with a local ref (`a` beside `a/b`) is left
            // out with a warning; the rest of the fetch goes on.
            if old.is_none()
                && let Some(other) = existing
                    .iter()
                    .find(|other| crate::refs::names_clash(other.as_str(), local_name.as_str()))
            {
                outcome.warnings.push(format!(
                    "{} not updated: {other} exists",
                    local_name.as_str()
                ));
                continue;
            }
            let forced = match old {
                Some(old) => !self.is_ancestor(old, *id)?,
                None => false,
            };
            tx.update(local_name.clone(), *id, Expected::from_option(old));
            outcome.updated.push(RefChange {
                name: local_name.as_str().to_owned(),
                old,
                new: Some(*id),
                forced,
            });
        }
        if let (true, Some(remote_name)) = (options.prune, tracking) {
            let prefix = format!("refs/remotes/{remote_name}/");
            for (name, id) in self.refs.list(&prefix)? {
                let branch = &name.as_str()[prefix.len()..];
                if !refs.refs.contains_key(&format!("refs/heads/{branch}")) {
                    tx.delete(name.clone(), Expected::Value(id));
                    outcome.updated.push(RefChange {
                        name: name.as_str().to_owned(),
                        old: Some(id),
                        new: None,
                        forced: false,
                    });
                }
            }
        }
        if !tx.is_empty() {
            self.commit_refs(
                tx.prepare()?,
                OpInfo::new(format!("fetch from {}", outcome.url)),
            )?;
        }
        Ok(outcome)
    }

    /// Fetches from `remote` and fast-forwards the current branch to the remote's
    /// branch of the same name; refuses, naming both tips, when they have diverged.
    pub fn pull(
        &self,
        remote: &str,
        options: &super::CheckoutOptions,
        progress: &dyn Progress,
    ) -> Result<PullOutcome> {
        let branch = match self.refs.head()? {
            Head::Branch(name) => name,
            Head::Detached(_) => {
                return Err(Error::Rejected {
                    name: "HEAD".into(),
                    reason: "HEAD is detached: check out the branch to pull into".into(),
                });
            }
        };
        let fetch = self.fetch(remote, &FetchOptions::default(), progress)?;
        let target = fetch
            .remote_refs
            .get(branch.as_str())
            .copied()
            .ok_or_else(|| Error::NoSuchRef(format!("{} on {}", branch.shorten(), fetch.url)))?;
        let _lock = self.lock()?;
        let old = self.refs.find(&branch)?;
        let pulled = |new| PullOutcome {
            fetch: fetch.clone(),
            branch: branch.shorten().to_owned(),
            old,
            new,
        };
        if let Some(old) = old {
            if old == target || self.is_ancestor(target, old)? {
                return Ok(pulled(old));
            }
            if !self.is_ancestor(old, target)? {
                return Err(Error::Diverged {
                    branch: branch.shorten().to_owned(),
                    local: old,
                    remote: target,
                });
            }
        }
        let info = OpInfo::new(format!(
            "pull: fast-forward {} to {}",
            branch.shorten(),
            target.to_hex_prefix(12)
        ));
        self.fast_forward(&branch, old, target, options, info.moving_worktree())?;
        Ok(pulled(target))
    }

    /// Clones `url` into `dir` (created; it must be missing or empty): a new
    /// repository with the remote as `origin`, every object fetched, and the remote's
    /// default branch checked out. A clone that fails removes what it made.
    pub fn clone_from(
        url: &str,
        dir: impl AsRef<Path>,
        options: &CloneOptions,
        progress: &dyn Progress,
    ) -> Result<CloneOutcome> {
        let dir = dir.as_ref();
        // The top-most directory this clone makes (all of it goes on failure).
        let created = match std::fs::read_dir(dir) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(Error::CloneTarget(dir.to_owned()));
                }
                None
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let top = dir
                    .ancestors()
                    .take_while(|a| !a.as_os_str().is_empty() && !a.exists())
                    .last()
                    .unwrap_or(dir)
                    .to_owned();
                std::fs::create_dir_all(dir)
                    .map_err(|e| crate::fs::IoError::new("create", dir, e))?;
                Some(top)
            }
            Err(e) => return Err(crate::fs::IoError::new("read", dir, e).into()),
        };
        let cleanup = |e: Error| {
            if let Some(top) = &created {
                let _ = std::fs::remove_dir_all(top);
            } else if let Ok(entries) = std::fs::read_dir(dir) {
                for entry in entries.flatten() {
                    let _ = std::fs::remove_dir_all(entry.path())
                        .or_else(|_| std::fs::remove_file(entry.path()));
                }
            }
            e
        };
        let cloned = (|| {
            let repo = Repository::init(dir)?;
            let spec = repo.add_remote_spec("origin", url, options)?;
            let mut remote = repo.open_remote(&spec)?;
            let fetch = repo.fetch_from(
                remote.as_mut(),
                Some(&spec.name),
                &FetchOptions::default(),
                progress,
            )?;
            let branch = fetch
                .remote_head
                .clone()
                .filter(|h| h.starts_with("refs/heads/") && fetch.remote_refs.contains_key(h))
                .or_else(|| {
                    fetch
                        .remote_refs
                        .keys()
                        .find(|k| k.starts_with("refs/heads/"))
                        .cloned()
                });
            if let Some(name) = &branch {
                let name = RefName::new(name)?;
                let target = fetch.remote_refs[name.as_str()];
                let _lock = repo.lock()?;
                let info = OpInfo::new(format!("clone: check out {}", name.shorten()));
                let options = super::CheckoutOptions::default();
                repo.fast_forward(&name, None, target, &options, info.moving_worktree())?;
            }
            Ok(CloneOutcome {
                repository: repo,
                fetch,
                branch: branch.map(|b| b.trim_start_matches("refs/heads/").to_owned()),
            })
        })();
        cloned.map_err(cleanup)
    }
}

impl Repository {
    /// Stores the remote a clone came from (not probed: a clone only reads, and the
    /// first push probes).
    fn add_remote_spec(&self, name: &str, url: &str, options: &CloneOptions) -> Result<Spec> {
        self.add_remote_unprobed(
            name,
            url,
            super::AddRemote {
                s3: options.s3.clone(),
                single_writer: options.single_writer,
                base_dir: None,
            },
        )
    }
}
