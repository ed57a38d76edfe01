//! What snapshots hold and what they cost (restic's `stats`): per snapshot its files,
//! directories and logical bytes (what a restore writes), its distinct contents and
//! the bytes it takes on disk; for the store, the same across every snapshot, the
//! bytes of the store's files, and the garbage a gc would free.
//!
//! Each distinct tree is read once per call, however many snapshots or paths hold
//! it: its entries are kept, and its file, directory and byte counts are summed once
//! (a subtree repeated under two names is counted twice, as a restore writes it
//! twice, but read once). Blob sizes come from record headers; stored sizes from
//! record headers and file sizes ([`Odb::stored_size`]); no blob is decompressed.
//!
//! [`Odb::stored_size`]: crate::odb::Odb::stored_size

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{Repository, Result};
use crate::object::{EntryMode, ObjectId, TreeRefIter};
use crate::odb::{self, Odb};

/// The figures of one snapshot, or of several taken together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SnapshotStats {
    /// Files: regular files, executables and symlinks, one per path.
    pub files: u64,
    /// Directories below the root, one per path.
    pub dirs: u64,
    /// The sum of the files' sizes, as a restore writes them (a symlink's size is
    /// its target's length).
    pub logical_bytes: u64,
    /// Distinct contents (blob ids).
    pub unique_contents: u64,
    /// Their sizes, each counted once.
    pub unique_bytes: u64,
    /// Bytes on disk of every object the snapshot reaches (its commit, trees and
    /// blobs), each stored thing counted once: one copy of each object (the one a
    /// read uses), a chunked blob by its list and its distinct chunks, a delta by
    /// itself (not its base), a member of a block by its share of the block.
    pub stored_bytes: u64,
}

impl SnapshotStats {
    /// Logical bytes per unique byte: how much deduplication saves (1 when every
    /// file is distinct; 0 when there are no bytes).
    pub fn dedup_ratio(&self) -> f64 {
        ratio(self.logical_bytes, self.unique_bytes)
    }

    /// Unique bytes per stored byte: how much compression (and deltas) save.
    pub fn compression_ratio(&self) -> f64 {
        ratio(self.unique_bytes, self.stored_bytes)
    }
}

/// The figures of the store as a whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Snapshots: commits reachable from refs (branches, tags, a detached HEAD).
    pub snapshots: u64,
    /// The sum of every snapshot's logical bytes: what restoring each would write.
    pub logical_bytes: u64,
    /// Distinct contents across every snapshot.
    pub unique_contents: u64,
    /// Their sizes, each counted once.
    pub unique_bytes: u64,
    /// Bytes of the store's files: loose objects, packs and their indexes (what
    /// `count-objects` counts).
    pub stored_bytes: u64,
    /// Stored things nothing keeps alive: objects and chunks that neither refs, the
    /// stat cache nor the operation log reach, each copy counted.
    pub unreachable: u64,
    /// Their bytes on disk: garbage a gc frees once it is older than the grace
    /// period (pack headers and indexes, and what repacking saves, left out).
    pub unreachable_bytes: u64,
}

impl StoreStats {
    /// Logical bytes of every snapshot per unique byte.
    pub fn dedup_ratio(&self) -> f64 {
        ratio(self.logical_bytes, self.unique_bytes)
    }

    /// Unique bytes per byte of the store's files.
    pub fn compression_ratio(&self) -> f64 {
        ratio(self.unique_bytes, self.stored_bytes)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// What [`Repository::stats`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsReport {
    /// Each snapshot asked for, in the order given (a commit named twice, once).
    pub snapshots: Vec<(ObjectId, SnapshotStats)>,
    /// All of them together: files, directories and logical bytes summed, contents
    /// and stored things counted once across them.
    pub total: SnapshotStats,
    /// The store as a whole, when asked for.
    pub store: Option<StoreStats>,
}

/// Knobs for [`Repository::stats`].
#[derive(Clone, Copy, Debug, Default)]
pub struct StatsOptions {
    /// Also measure the store as a whole (every snapshot refs reach, and garbage).
    pub store: bool,
}

/// A tree's entries, as far as counting goes.
struct TreeEntries {
    blobs: Vec<ObjectId>,
    trees: Vec<ObjectId>,
}

/// Files, directories and logical bytes under one tree.
#[derive(Clone, Copy, Default)]
struct Counts {
    files: u64,
    dirs: u64,
    bytes: u64,
}

/// The caches of one [`Repository::stats`] call.
struct Walker<'o> {
    odb: &'o Odb,
    trees: HashMap<ObjectId, Arc<TreeEntries>>,
    counts: HashMap<ObjectId, Counts>,
    blob_sizes: HashMap<ObjectId, u64>,
    stored: HashMap<ObjectId, odb::StoredSize>,
}

/// The distinct things a set of snapshots reaches.
#[derive(Default)]
struct Reach {
    trees: HashSet<ObjectId>,
    blobs: HashSet<ObjectId>,
    commits: HashSet<ObjectId>,
}

impl<'o> Walker<'o> {
    fn new(odb: &'o Odb) -> Self {
        Walker {
            odb,
            trees: HashMap::new(),
            counts: HashMap::new(),
            blob_sizes: HashMap::new(),
            stored: HashMap::new(),
        }
    }

    fn tree(&mut self, id: &ObjectId) -> Result<Arc<TreeEntries>> {
        if let Some(tree) = self.trees.get(id) {
            return Ok(Arc::clone(tree));
        }
        let data = self.odb.read_kind(id, crate::object::Kind::Tree)?;
        let mut entries = TreeEntries {
            blobs: Vec::new(),
            trees: Vec::new(),
        };
        for entry in TreeRefIter::new(&data) {
            let entry = entry.map_err(|source| odb::Error::Decode { id: *id, source })?;
            match entry.mode {
                EntryMode::Tree => entries.trees.push(entry.id),
                _ => entries.blobs.push(entry.id),
            }
        }
        let entries = Arc::new(entries);
        self.trees.insert(*id, Arc::clone(&entries));
        Ok(entries)
    }

    fn blob_size(&mut self, id: &ObjectId) -> Result<u64> {
        if let Some(&size) = self.blob_sizes.get(id) {
            return Ok(size);
        }
        let (_, size) = self.odb.read_header(id)?;
        self.blob_sizes.insert(*id, size);
        Ok(size)
    }

    /// Files, directories and bytes under tree `root`, each distinct subtree summed
    /// once (post-order, on a heap stack: a hostile deep tree cannot overflow ours).
    fn counts(&mut self, root: ObjectId) -> Result<Counts> {
        let mut stack = vec![(root, false)];
        while let Some((id, children_done)) = stack.pop() {
            if self.counts.contains_key(&id) {
                continue;
            }
            let tree = self.tree(&id)?;
            if !children_done {
                stack.push((id, true));
                for sub in &tree.trees {
                    if !self.counts.contains_key(sub) {
                        stack.push((*sub, false));
                    }
                }
                continue;
            }
            let mut counts = Counts::default();
            for blob in &tree.blobs {
                counts.files += 1;
                counts.bytes = counts.bytes.saturating_add(self.blob_size(blob)?);
            }
            for sub in &tree.trees {
                // A tree that holds itself (through a hash cycle no real store can
                // have) would never be summed: count it as empty.
                let inner = self.counts.get(sub).copied().unwrap_or_default();
                counts.dirs = counts.dirs.saturating_add(1).saturating_add(inner.dirs);
                counts.files = counts.files.saturating_add(inner.files);
                counts.bytes = counts.bytes.saturating_add(inner.bytes);
            }
            self.counts.insert(id, counts);
        }
        Ok(self.counts.get(&root).copied().unwrap_or_default())
    }

    /// Adds what commit `id` reaches to `reach`, skipping trees already in it.
    fn reach(&mut self, id: ObjectId, tree: ObjectId, reach: &mut Reach) -> Result<()> {
        reach.commits.insert(id);
        let mut todo = vec![tree];
        while let Some(id) = todo.pop() {
            if !reach.trees.insert(id) {
                continue;
            }
            let tree = self.tree(&id)?;
            reach.blobs.extend(tree.blobs.iter().copied());
            todo.extend(tree.trees.iter().filter(|t| !reach.trees.contains(t)));
        }
        Ok(())
    }

    fn stored(&mut self, id: &ObjectId) -> Result<&odb::StoredSize> {
        if !self.stored.contains_key(id) {
            let size = self
                .odb
                .stored_size(id)?
                .ok_or(odb::Error::NotFound { id: *id })?;
            self.stored.insert(*id, size);
        }
        Ok(&self.stored[id])
    }

    /// Fills in the unique and stored figures of `stats` from `reach`.
    fn measure(&mut self, reach: &Reach, stats: &mut SnapshotStats) -> Result<()> {
        stats.unique_contents = reach.blobs.len() as u64;
        stats.unique_bytes = 0;
        for blob in &reach.blobs {
            stats.unique_bytes = stats.unique_bytes.saturating_add(self.blob_size(blob)?);
        }
        let mut chunks: HashSet<ObjectId> = HashSet::new();
        let mut stored = 0u64;
        for id in reach.commits.iter().chain(&reach.trees).chain(&reach.blobs) {
            let size = self.stored(id)?;
            stored = stored.saturating_add(size.bytes);
            for (key, bytes) in &size.chunks {
                if chunks.insert(*key) {
                    stored = stored.saturating_add(*bytes);
                }
            }
        }
        stats.stored_bytes = stored;
        Ok(())
    }
}

impl Repository {
    /// Measures snapshots `commits` (each alone, then all together) and, with
    /// [`StatsOptions::store`], the store as a whole: restic's `stats`, in one pass
    /// that reads each distinct tree once.
    #[doc(alias = "du")]
    pub fn stats(&self, commits: &[ObjectId], options: &StatsOptions) -> Result<StatsReport> {
        let mut walker = Walker::new(&self.odb);
        let mut report = StatsReport::default();
        let mut all = Reach::default();
        let mut seen = HashSet::new();
        for &id in commits {
            if !seen.insert(id) {
                continue;
            }
            let tree = self.odb.find_commit(&id)?.tree;
            let counts = walker.counts(tree)?;
            let mut stats = SnapshotStats {
                files: counts.files,
                dirs: counts.dirs,
                logical_bytes: counts.bytes,
                ..SnapshotStats::default()
            };
            let mut reach = Reach::default();
            walker.reach(id, tree, &mut reach)?;
            walker.measure(&reach, &mut stats)?;
            report.total.files = report.total.files.saturating_add(stats.files);
            report.total.dirs = report.total.dirs.saturating_add(stats.dirs);
            report.total.logical_bytes = report.total.logical_bytes.saturating_add(counts.bytes);
            walker.reach(id, tree, &mut all)?;
            report.snapshots.push((id, stats));
        }
        walker.measure(&all, &mut report.total)?;
        if options.store {
            report.store = Some(self.store_stats(&mut walker)?);
        }
        Ok(report)
    }

    /// The store's figures (see [`StoreStats`]).
    fn store_stats(&self, walker: &mut Walker<'_>) -> Result<StoreStats> {
        let tips = self.ref_roots().ref_tips()?;
        let mut store = StoreStats::default();
        let mut reach = Reach::default();
        let mut commits = Vec::new();
        let mut todo = Vec::new();
        for tip in tips {
            // Only commits are snapshots; a tag or tree a ref names is reached by gc
            // all the same, and counted there.
            if self.odb.read_header(&tip)?.0 == crate::object::Kind::Commit {
                todo.push(tip);
            }
        }
        let mut seen = HashSet::new();
        while let Some(id) = todo.pop() {
            if !seen.insert(id) {
                continue;
            }
            let commit = self.odb.find_commit(&id)?;
            todo.extend(commit.parents.iter().filter(|p| !seen.contains(p)));
            commits.push((id, commit.tree));
        }
        for (id, tree) in commits {
            store.snapshots += 1;
            let counts = walker.counts(tree)?;
            store.logical_bytes = store.logical_bytes.saturating_add(counts.bytes);
            walker.reach(id, tree, &mut reach)?;
        }
        store.unique_contents = reach.blobs.len() as u64;
        for blob in &reach.blobs {
            store.unique_bytes = store.unique_bytes.saturating_add(walker.blob_size(blob)?);
        }
        let counts = self.odb.count_objects()?;
        store.stored_bytes = counts.loose_bytes + counts.pack_bytes;
        // Garbage: what gc's own roots (refs, stat cache, operation log) do not reach.
        let keep: HashSet<ObjectId> = self.reachable()?.into_iter().map(|r| r.id).collect();
        (store.unreachable, store.unreachable_bytes) = self.odb.unreachable_bytes(&keep)?;
        Ok(store)
    }
}
