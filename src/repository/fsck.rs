//! Checking a repository: every object's hash, and every object reachable from every
//! ref present, well-formed and of the kind its parent says.

use std::collections::{HashMap, HashSet};
use std::fmt;

use rayon::prelude::*;

use super::{Repository, Result};
use crate::object::{EntryMode, Kind, ObjectId, RepoPathBuf};
use crate::progress::Progress;

/// Knobs for [`Repository::fsck`].
#[derive(Clone, Copy, Default)]
pub struct FsckOptions<'a> {
    /// Skip re-hashing every stored object; only check that what refs reach exists,
    /// parses and has the right kind (commits and trees are still read in full).
    pub connectivity_only: bool,
    /// Told of the objects verified (step `"verify"`), then of those the walk from the
    /// refs reached (step `"connectivity"`, no total), unit `"objects"`, from any
    /// thread.
    pub progress: Option<&'a (dyn Progress + Sync)>,
}

impl std::fmt::Debug for FsckOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsckOptions")
            .field("connectivity_only", &self.connectivity_only)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// One thing wrong with a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The object concerned, if it is one.
    pub id: Option<ObjectId>,
    /// The ref concerned, or the ref through which the object was reached.
    pub reference: Option<String>,
    /// The commit through which the object was reached.
    pub commit: Option<ObjectId>,
    /// The path of the object in that commit's snapshot.
    pub path: Option<RepoPathBuf>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Store errors name the object (or ref) themselves.
        let named = |what: &str| self.message.contains(what);
        match (&self.id, &self.reference) {
            (Some(id), _) if named(&id.to_string()) => write!(f, "{}", self.message)?,
            (Some(id), _) => write!(f, "object {id}: {}", self.message)?,
            (None, Some(r)) if named(r) => write!(f, "{}", self.message)?,
            (None, Some(r)) => write!(f, "ref {r}: {}", self.message)?,
            (None, None) => write!(f, "{}", self.message)?,
        }
        let mut context = Vec::new();
        if let Some(path) = &self.path {
            context.push(format!("path '{}'", path.quoted()));
        }
        if let Some(c) = self.commit.filter(|c| Some(*c) != self.id) {
            context.push(format!("in commit {}", c.to_hex_prefix(12)));
        }
        if let (Some(r), Some(_)) = (&self.reference, &self.id) {
            context.push(format!("from {r}"));
        }
        if !context.is_empty() {
            write!(f, " ({})", context.join(" "))?;
        }
        Ok(())
    }
}

/// What [`Repository::fsck`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FsckReport {
    /// Objects whose content was read and verified.
    pub objects_checked: u64,
    /// Everything wrong, in the order found.
    pub problems: Vec<Problem>,
    /// What is not damage but worth knowing: refs changed outside cow that the
    /// operation log does not record yet, or an operation a killed command was
    /// recording (the next command that writes finishes it).
    pub notes: Vec<String>,
}

/// A path the walk built from names of decoded trees (valid names, so unchecked).
fn snapshot_path(path: &[u8]) -> RepoPathBuf {
    RepoPathBuf::from_vec_unchecked(path.to_vec())
}

/// Error text with its causes, on one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = e.source();
    }
    text
}

struct Checker<'r> {
    repo: &'r Repository,
    progress: Option<&'r (dyn Progress + Sync)>,
    /// Objects the walk has read, for progress.
    walked: u64,
    report: FsckReport,
    /// Objects known good (verified by the full pass, or read in this walk), by kind.
    kinds: HashMap<ObjectId, Kind>,
    /// Objects found broken, with the problem that reports them.
    broken: HashMap<ObjectId, usize>,
    seen_trees: HashSet<ObjectId>,
    seen_commits: HashSet<ObjectId>,
}

impl Checker<'_> {
    /// Notes an object read and found good.
    fn known(&mut self, id: ObjectId, kind: Kind) {
        if self.kinds.insert(id, kind).is_none() {
            self.report.objects_checked += 1;
        }
        self.walked += 1;
        if let Some(progress) = self.progress
            && self.walked.is_multiple_of(64)
        {
            progress.update("connectivity", self.walked, 0, "objects");
        }
    }

    fn problem(
        &mut self,
        id: Option<ObjectId>,
        reference: Option<&str>,
        commit: Option<ObjectId>,
        path: Option<&[u8]>,
        message: String,
    ) {
        self.report.problems.push(Problem {
            id,
            reference: reference.map(str::to_owned),
            commit,
            path: path.map(snapshot_path),
            message,
        });
    }

    /// Records a broken object once; a later sighting adds where it was reached.
    fn broken(
        &mut self,
        id: ObjectId,
        reference: Option<&str>,
        commit: Option<ObjectId>,
        path: Option<&[u8]>,
        message: String,
    ) {
        match self.broken.get(&id) {
            Some(&i) => {
                let p = &mut self.report.problems[i];
                if p.commit.is_none() && commit.is_some() {
                    p.reference = reference.map(str::to_owned);
                    p.commit = commit;
                    p.path = path.map(snapshot_path);
                }
            }
            None => {
                self.broken.insert(id, self.report.problems.len());
                self.problem(Some(id), reference, commit, path, message);
            }
        }
    }

    /// Reads an object's kind, reporting it missing or corrupt once.
    fn kind(
        &mut self,
        id: ObjectId,
        reference: &str,
        commit: Option<ObjectId>,
        path: Option<&[u8]>,
    ) -> Option<Kind> {
        if let Some(kind) = self.kinds.get(&id) {
            return Some(*kind);
        }
        if self.broken.contains_key(&id) {
            self.broken(id, Some(reference), commit, path, String::new());
            return None;
        }
        match self.repo.odb.read_header(&id) {
            Ok((kind, _)) => Some(kind),
            Err(e) => {
                self.broken(id, Some(reference), commit, path, chain(&e));
                None
            }
        }
    }

    fn check_commit_chain(&mut self, tip: ObjectId, reference: &str) {
        // Each ref is checked on its own, even when another already reached its tip.
        match self.kind(tip, reference, None, None) {
            Some(Kind::Commit) => {}
            Some(kind) => {
                let message = format!("ref {reference} points at {kind} {tip}, not a commit");
                self.problem(None, Some(reference), None, None, message);
                return;
            }
            None => return,
        }
        let mut todo = vec![(tip, None)];
        while let Some((id, child)) = todo.pop() {
            if !self.seen_commits.insert(id) {
                continue;
            }
            match self.kind(id, reference, child, None) {
                Some(Kind::Commit) => {}
                Some(kind) => {
                    let message = format!("is a {kind}, where a parent commit was expected");
                    self.problem(Some(id), Some(reference), child, None, message);
                    continue;
                }
                None => continue,
            }
            let commit = match self.repo.odb.find_commit(&id) {
                Ok(c) => c,
                Err(e) => {
                    self.problem(Some(id), Some(reference), None, None, chain(&e));
                    continue;
                }
            };
            self.known(id, Kind::Commit);
            self.check_tree(commit.tree, reference, id, &mut Vec::new());
            todo.extend(commit.parents.into_iter().map(|p| (p, Some(id))));
        }
    }

    fn check_tree(&mut self, id: ObjectId, reference: &str, commit: ObjectId, path: &mut Vec<u8>) {
        if !self.seen_trees.insert(id) {
            return;
        }
        let shown = |p: &Vec<u8>| if p.is_empty() { None } else { Some(p.clone()) };
        let tree = match self.repo.odb.find_tree(&id) {
            Ok(t) => t,
            Err(e) => {
                // Found once (by the full pass, say): add where it was reached.
                self.broken(
                    id,
                    Some(reference),
                    Some(commit),
                    shown(path).as_deref(),
                    chain(&e),
                );
                return;
            }
        };
        self.known(id, Kind::Tree);
        for entry in tree.entries() {
            let len = path.len();
            if len > 0 {
                path.push(b'/');
            }
            path.extend_from_slice(&entry.name);
            if entry.mode == EntryMode::Tree {
                self.check_tree(entry.id, reference, commit, path);
            } else {
                match self.kind(entry.id, reference, Some(commit), Some(path)) {
                    Some(Kind::Blob) => self.known(entry.id, Kind::Blob),
                    Some(kind) => {
                        let what = if entry.mode == EntryMode::Link {
                            "symlink"
                        } else {
                            "file"
                        };
                        self.problem(
                            Some(entry.id),
                            Some(reference),
                            Some(commit),
                            Some(path),
                            format!("is a {kind}, but the tree lists it as a {what}"),
                        );
                    }
                    None => {}
                }
            }
            path.truncate(len);
        }
    }
}

impl Repository {
    /// Checks the repository: re-hashes every stored object (unless
    /// `connectivity_only`), then walks every commit, tree and blob reachable from HEAD,
    /// branches and tags, reporting what is missing, corrupt, malformed or of the wrong
    /// kind, with the commit and path that reach it.
    pub fn fsck(&self, options: &FsckOptions) -> Result<FsckReport> {
        let mut checker = Checker {
            repo: self,
            progress: options.progress,
            walked: 0,
            report: FsckReport::default(),
            kinds: HashMap::new(),
            broken: HashMap::new(),
            seen_trees: HashSet::new(),
            seen_commits: HashSet::new(),
        };
        if !options.connectivity_only {
            // Every object read through, in parallel, in storage order (so a block is
            // decompressed once, not once per member); reported in id order.
            let ids = self.odb.ids_in_storage_order()?;
            let total = ids.len() as u64;
            let verified = std::sync::atomic::AtomicU64::new(0);
            let mut results: Vec<_> = ids
                .par_chunks(256)
                .flat_map_iter(|ids| {
                    let checked: Vec<_> = ids
                        .iter()
                        .map(|id| (*id, self.odb.verify_each_copy(id)))
                        .collect();
                    if let Some(progress) = options.progress {
                        let n = ids.len() as u64;
                        let done = verified.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                        progress.update("verify", done + n, total, "objects");
                    }
                    checked
                })
                .collect();
            results.sort_unstable_by_key(|r| r.0);
            for (id, copies) in results {
                // Every bad copy is reported, even where another copy is intact (reads
                // use that one; gc keeps it).
                let mut errors = copies.iter().filter_map(|c| c.as_ref().err());
                match copies.iter().find_map(|c| c.as_ref().ok()) {
                    Some((kind, _)) => {
                        checker.kinds.insert(id, *kind);
                    }
                    None => {
                        if let Some(e) = errors.next() {
                            checker.broken(id, None, None, None, chain(e));
                        }
                    }
                }
                for e in errors {
                    checker.problem(Some(id), None, None, None, chain(e));
                }
            }
            checker.report.objects_checked = checker.kinds.len() as u64;
            // Every chunk copy, each against its key (a blob's check above reads one
            // good copy of each of its chunks; this finds the bad ones too).
            for (key, e) in self.odb.verify_chunks() {
                let message = format!("chunk {key}: {}", chain(&e));
                checker.problem(None, None, None, None, message);
            }
            for problem in self.odb.check_packs() {
                checker.problem(None, None, None, None, chain(&problem));
            }
        }
        // The refs among the roots gc keeps (HEAD first, so what a detached HEAD
        // shares with a branch is reported from HEAD); the stat cache's blobs are not
        // checked (they are in no snapshot yet, and a missing one is only re-hashed by
        // the next commit).
        let mut tips: Vec<(String, ObjectId)> = Vec::new();
        let roots = self.ref_roots();
        for e in roots.unlisted {
            checker.problem(None, Some("refs/"), None, None, chain(&e));
        }
        for (name, tip) in roots.refs {
            match tip {
                Ok(id) => tips.push((name.to_string(), id)),
                Err(e) => checker.problem(None, Some(name.as_str()), None, None, chain(&e)),
            }
        }
        for (name, id) in tips {
            checker.check_commit_chain(id, &name);
        }
        // The operation log: every operation readable, the head's view equal to the
        // refs, and what recent views name (gc keeps it) complete where present.
        let (problems, notes) = self.op_log_problems();
        for problem in problems {
            checker.problem(None, Some("oplog"), None, None, problem);
        }
        checker.report.notes = notes;
        if let Ok(op_tips) = self.op_log_tips() {
            // A commit `gc --prune=now` removed is gone whole (undo past that gc is
            // refused); one still here must be complete.
            for id in op_tips.into_iter().filter(|id| self.odb.contains(id)) {
                checker.check_commit_chain(id, "operation log");
            }
        }
        if let Some(progress) = options.progress {
            progress.update("connectivity", checker.walked, checker.walked, "objects");
        }
        Ok(checker.report)
    }
}
