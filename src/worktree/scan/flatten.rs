//! Flattening the walk: the directories found become nodes, children after their
//! parent, and every file is matched with its stat-cache entry or becomes a job to
//! read.

use std::borrow::Cow;
use std::iter::Peekable;

use rayon::prelude::*;

use super::{Child, FileJob, FileRef};
use crate::object::{EntryMode, ObjectId};
use crate::odb::Odb;
use crate::worktree::index::{Index, IndexEntry, Iter as IndexIter, StatData};
use crate::worktree::walk::{Walked, WalkedDir};

/// The directories found, flattened: children after their parent, files in path order,
/// each file matched with the stat cache.
#[derive(Default)]
pub(super) struct Flat<'c> {
    /// The children of each directory; node 0 is the root.
    pub(super) nodes: Vec<Vec<Child<'c>>>,
    /// How deep each directory is (the root is 0).
    pub(super) depths: Vec<usize>,
    /// The files to read.
    pub(super) jobs: Vec<FileJob>,
    /// Files the stat cache vouched for.
    pub(super) hits: usize,
    /// Whether the entry of such a file changes all the same (now known to be stored).
    pub(super) hits_changed: bool,
    /// Bytes the paths of all files take.
    pub(super) path_bytes: usize,
    /// Each directory's listing for the next directory cache, if it may be recorded.
    pub(super) listings: Vec<Option<Cow<'c, [u8]>>>,
    /// Each directory's tree id in its old cache record, and that id when it may be
    /// taken (see [`WalkedDir`]).
    pub(super) old_trees: Vec<(Option<ObjectId>, Option<ObjectId>)>,
    /// Whether a directory was read, so the directory cache changes.
    pub(super) dirs_read: bool,
}

/// What files are matched with: the stat cache, and the store when a commit needs
/// their blobs there.
pub(super) struct Matcher<'i> {
    pub(super) odb: &'i Odb,
    pub(super) store: bool,
    pub(super) index: Option<&'i Index>,
}

/// Directories less deep than this have their subdirectories flattened in parallel,
/// each with its own pass over its part of the stat cache.
const SPLIT_DEPTH: usize = 2;

/// Calls `f` with the path and reference of every file below node `node` (at `path`),
/// in path order.
pub(super) fn visit_files(
    nodes: &[Vec<Child<'_>>],
    node: usize,
    path: &mut Vec<u8>,
    f: &mut impl FnMut(&[u8], FileRef),
) {
    let parent_len = path.len();
    for child in &nodes[node] {
        let (Child::File { name, .. } | Child::Dir { name, .. }) = child;
        push_component(path, name);
        match child {
            Child::File { file, .. } => f(path, *file),
            Child::Dir { node, .. } => visit_files(nodes, *node, path, f),
        }
        path.truncate(parent_len);
    }
}

/// Flattens `dir` (at `depth`, at `path` from the root) and everything below it, the
/// subdirectories of directories less deep than [`SPLIT_DEPTH`] in parallel.
pub(super) fn flatten_split<'c>(
    mut dir: WalkedDir<'c>,
    depth: usize,
    path: &mut Vec<u8>,
    matcher: &Matcher<'_>,
) -> Flat<'c> {
    let mut flat = Flat::default();
    if depth >= SPLIT_DEPTH {
        let mut prefix = path.clone();
        prefix.push(b'/');
        let mut cached = matcher
            .index
            .map(|index| index.iter_from(&prefix).peekable());
        flatten(dir, depth, path, matcher, &mut flat, &mut cached);
        return flat;
    }
    flat.add_dir(&mut dir, depth);
    let mut subdirs = Vec::new();
    let parent_len = path.len();
    for entry in dir.entries {
        push_component(path, entry.name_and_is_dir().0);
        match entry {
            Walked::File {
                name,
                mode,
                stat,
                dev,
            } => {
                // Few files this high up: each looked up on its own.
                let cached = matcher.index.and_then(|index| index.get(path));
                let file = flat.match_file(matcher, cached, path, mode, stat, dev);
                flat.nodes[0].push(Child::File { name, file });
            }
            Walked::Dir {
                name,
                dir: Some(dir),
            } => {
                subdirs.push((flat.nodes[0].len(), dir, path.clone()));
                flat.nodes[0].push(Child::Dir { name, node: 0 });
            }
            Walked::Dir { dir: None, .. } => {}
        }
        path.truncate(parent_len);
    }
    let parts: Vec<(usize, Flat<'c>)> = subdirs
        .into_par_iter()
        .map(|(at, dir, mut path)| (at, flatten_split(*dir, depth + 1, &mut path, matcher)))
        .collect();
    for (at, part) in parts {
        let root = flat.append(part);
        if let Child::Dir { node, .. } = &mut flat.nodes[0][at] {
            *node = root;
        }
    }
    flat
}

/// Appends `name` to the `/`-separated `path` (no separator at the root).
fn push_component(path: &mut Vec<u8>, name: &[u8]) {
    if !path.is_empty() {
        path.push(b'/');
    }
    path.extend_from_slice(name);
}

/// Appends `dir` (at `depth`, at `path` from the root) and everything below it to
/// `flat`, matching each file with its stat-cache entry from `cached`, an iterator over
/// the cache in path order.
fn flatten<'c>(
    mut dir: WalkedDir<'c>,
    depth: usize,
    path: &mut Vec<u8>,
    matcher: &Matcher<'_>,
    flat: &mut Flat<'c>,
    cached: &mut Option<Peekable<IndexIter<'_>>>,
) {
    let index = flat.add_dir(&mut dir, depth);
    let parent_len = path.len();
    for entry in dir.entries {
        push_component(path, entry.name_and_is_dir().0);
        match entry {
            Walked::File {
                name,
                mode,
                stat,
                dev,
            } => {
                let entry = cached.as_mut().and_then(|c| find_sorted(c, path));
                let file = flat.match_file(matcher, entry, path, mode, stat, dev);
                flat.nodes[index].push(Child::File { name, file });
            }
            Walked::Dir { name, dir } => {
                if let Some(dir) = dir {
                    let node = flat.nodes.len();
                    flatten(*dir, depth + 1, path, matcher, flat, cached);
                    flat.nodes[index].push(Child::Dir { name, node });
                }
            }
        }
        path.truncate(parent_len);
    }
}

impl<'c> Flat<'c> {
    /// Adds a node for `dir` at `depth`, taking all but its entries; returns its
    /// index.
    fn add_dir(&mut self, dir: &mut WalkedDir<'c>, depth: usize) -> usize {
        self.nodes.push(Vec::with_capacity(dir.entries.len()));
        self.depths.push(depth);
        self.dirs_read |= !matches!(dir.listing, Some(Cow::Borrowed(_)));
        self.listings.push(dir.listing.take());
        self.old_trees.push((dir.recorded_tree, dir.cached_tree));
        self.nodes.len() - 1
    }

    /// The file at `path` as its stat-cache entry `cached` vouches for it, or a job to
    /// read it.
    fn match_file(
        &mut self,
        matcher: &Matcher<'_>,
        cached: Option<IndexEntry>,
        path: &[u8],
        mode: EntryMode,
        stat: StatData,
        dev: u64,
    ) -> FileRef {
        self.path_bytes += path.len();
        let store = matcher.store;
        let previous = cached.map(|c| c.id);
        if let Some(cached) = cached
            && cached.is_fresh(mode, &stat)
            && (!store || cached.stored || matcher.odb.contains(&cached.id))
        {
            self.hits += 1;
            self.hits_changed |= store && !cached.stored;
            return FileRef::Cached {
                mode: cached.mode,
                id: cached.id,
            };
        }
        self.jobs.push(FileJob {
            path: path.to_vec(),
            mode,
            stat,
            dev,
            entry: None,
            unreadable: false,
            changed: false,
            previous,
        });
        FileRef::Job(self.jobs.len() - 1)
    }

    /// Appends `other`, the flattening of a subdirectory; returns the index its root
    /// node now has.
    fn append(&mut self, mut other: Flat<'c>) -> usize {
        let (node_offset, job_offset) = (self.nodes.len(), self.jobs.len());
        for children in &mut other.nodes {
            for child in children {
                match child {
                    Child::Dir { node, .. } => *node += node_offset,
                    Child::File {
                        file: FileRef::Job(i),
                        ..
                    } => *i += job_offset,
                    Child::File { .. } => {}
                }
            }
        }
        self.nodes.append(&mut other.nodes);
        self.depths.append(&mut other.depths);
        self.jobs.append(&mut other.jobs);
        self.listings.append(&mut other.listings);
        self.old_trees.append(&mut other.old_trees);
        self.hits += other.hits;
        self.hits_changed |= other.hits_changed;
        self.path_bytes += other.path_bytes;
        self.dirs_read |= other.dirs_read;
        node_offset
    }
}

/// The entry for `path` from `cached`, an iterator in path order that has passed
/// every path before `path` already: entries before it are skipped.
pub(super) fn find_sorted(cached: &mut Peekable<IndexIter<'_>>, path: &[u8]) -> Option<IndexEntry> {
    while let Some((p, _)) = cached.peek() {
        match (*p).cmp(path) {
            std::cmp::Ordering::Less => {
                cached.next();
            }
            std::cmp::Ordering::Equal => return cached.next().map(|(_, entry)| entry),
            std::cmp::Ordering::Greater => return None,
        }
    }
    None
}
