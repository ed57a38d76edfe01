//! Building a snapshot of a directory: a sorted walk that honours `.cowignore`, parallel
//! hashing and compression of files, and trees folded bottom-up.

use crate::fs::IoResultExt;
use std::borrow::Cow;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::iter::Peekable;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use rustix::fs::{FileType, Mode, OFlags};

use super::beneath;
use super::dircache::DirCache;
use super::index::{Index, IndexEntry, Iter as IndexIter, StatData, Timestamp};
use super::walk::{WalkOptions, Walked, WalkedDir, stat_data as stat_of};
use super::{Error, Result};
use crate::object::{EntryMode, EntryRef, Hasher, Kind, ObjectId, Trees, encode_sorted};
use crate::odb::{self, Odb, Written};

/// Files up to this size are read whole and hashed before compressing, so an object
/// already in the store costs no compression; larger ones stream in one pass.
const BUFFERED_FILE_LIMIT: u64 = 1 << 20;

/// How far a scan has come, reported after each file read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Files read so far.
    pub files_done: u64,
    /// Files to read in all: those the stat cache cannot vouch for.
    pub files_total: u64,
    /// Bytes of file content read so far.
    pub bytes_done: u64,
}

/// Knobs for [`scan`].
#[derive(Default, Clone, Copy)]
pub struct ScanOptions<'a> {
    /// Write new blobs and trees to the store (a commit); off, only their ids are
    /// computed (status).
    pub store: bool,
    /// A tree known to be in the store with everything it reaches: HEAD's. With
    /// [`store`](Self::store), no tree is written when the working directory's root
    /// tree is this one: the store has them all. The tree ids of the directory cache
    /// are taken only when they were recorded as parts of this tree.
    pub stored_tree: Option<ObjectId>,
    /// The stat cache: files whose stat data match a fresh entry are not read.
    pub index: Option<&'a Index>,
    /// The directory cache: directories whose stat data match their record are not
    /// read.
    pub dirs: Option<&'a DirCache>,
    /// The tick before which files and directories must have been modified to be
    /// trusted next time; the others are recorded as racy.
    pub clock: Clock<'a>,
    /// Called after each file read, from any thread.
    pub progress: Option<&'a (dyn Fn(Progress) + Sync)>,
    /// Leave out files and directories that cannot be read (with a warning) instead
    /// of failing.
    pub skip_unreadable: bool,
    /// Remove the temporary files that an interrupted checkout of an earlier cow left
    /// in the working directory (they are never part of a snapshot either way). Only
    /// for a caller that holds the repository lock, so no checkout is running.
    pub remove_leftovers: bool,
}

/// Where a scan's racy tick comes from.
#[derive(Clone, Copy, Debug)]
pub enum Clock<'a> {
    /// A tick from [`settle_clock`](super::settle_clock) taken before the scan.
    Settled(Timestamp),
    /// Settle the clock in this directory (the repository's `.cow`) just before the
    /// first file or directory is read: a scan that reads none waits for no tick.
    SettleIn(&'a Path),
}

impl Default for Clock<'_> {
    /// The epoch: everything the scan reads is recorded as racy.
    fn default() -> Self {
        Clock::Settled(Timestamp::default())
    }
}

/// A [`Clock`] settled at most once, by whichever thread needs it first.
pub(super) struct LazyClock<'a> {
    clock: Clock<'a>,
    settled: OnceLock<Timestamp>,
    /// The device the tick was measured on: the settling directory's, or for a tick
    /// given, the working directory's.
    home_dev: u64,
}

/// How far before the tick a file on another filesystem may have been modified and
/// still share a timestamp with a later edit: the coarsest granularity in common use
/// (FAT's two seconds; ext4 with 128-byte inodes and many network and FUSE mounts
/// keep whole seconds).
const COARSE_GRANULARITY_SECS: i64 = 2;

impl<'a> LazyClock<'a> {
    /// A clock for a scan of the working directory `root` (open as `root_fd`).
    pub(super) fn new(clock: Clock<'a>, root_fd: BorrowedFd<'_>) -> LazyClock<'a> {
        let stat = match clock {
            Clock::SettleIn(dir) => rustix::fs::stat(dir).or_else(|_| rustix::fs::fstat(root_fd)),
            Clock::Settled(_) => rustix::fs::fstat(root_fd),
        };
        LazyClock {
            clock,
            settled: OnceLock::new(),
            #[allow(clippy::unnecessary_cast)]
            home_dev: stat.map_or(u64::MAX, |s| s.st_dev as u64),
        }
    }

    /// The tick; the first call settles the clock if it has not been.
    pub(super) fn get(&self) -> Timestamp {
        match self.clock {
            Clock::Settled(tick) => tick,
            Clock::SettleIn(dir) => *self.settled.get_or_init(|| super::settle_clock(dir)),
        }
    }

    /// Whether a file on device `dev` with timestamp `time` may change again without
    /// its timestamp changing: it is racy, and is read again next time.
    ///
    /// The tick was measured on one filesystem, whose clock granularity it reflects. A
    /// file on another (a mount inside the working directory) may keep coarser times:
    /// an edit within the same second there leaves mtime as it was, so such a file is
    /// racy when modified within [`COARSE_GRANULARITY_SECS`] of the tick.
    pub(super) fn is_racy(&self, dev: u64, time: Timestamp) -> bool {
        is_racy(self.home_dev, self.get(), dev, time)
    }
}

/// Whether a file on device `dev` with timestamp `time` is racy against `tick`,
/// measured on device `home_dev` (see [`LazyClock::is_racy`]).
pub(super) fn is_racy(home_dev: u64, tick: Timestamp, dev: u64, time: Timestamp) -> bool {
    if dev == home_dev {
        time >= tick
    } else {
        time.secs >= tick.secs.saturating_sub(COARSE_GRANULARITY_SECS)
    }
}

/// Something a scan left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// A FIFO, socket or device file, which was not opened.
    SpecialFile {
        /// Its path relative to the root.
        path: PathBuf,
    },
    /// A file or directory named `.cow` (in any letter case) below the root: the name
    /// is reserved and cannot be stored.
    ReservedName {
        /// Its path relative to the root.
        path: PathBuf,
    },
    /// A file or directory that could not be read (with `skip_unreadable`).
    Unreadable {
        /// Its path relative to the root.
        path: PathBuf,
    },
    /// A file or directory that disappeared while the scan ran.
    Vanished {
        /// Its path relative to the root.
        path: PathBuf,
    },
    /// A `.cowignore` line that is not a valid pattern.
    IgnoreRule {
        /// What is wrong, with the file and line.
        message: String,
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::SpecialFile { path } => {
                write!(
                    f,
                    "skipped '{}': not a regular file, symlink or directory",
                    path.display()
                )
            }
            Warning::ReservedName { path } => {
                write!(f, "skipped '{}': the name .cow is reserved", path.display())
            }
            Warning::IgnoreRule { message } => write!(f, "ignored a bad rule: {message}"),
            Warning::Unreadable { path } => {
                write!(f, "skipped '{}': permission denied", path.display())
            }
            Warning::Vanished { path } => {
                write!(
                    f,
                    "skipped '{}': it disappeared while being read",
                    path.display()
                )
            }
        }
    }
}

/// What a scan found and made.
#[derive(Clone, Debug)]
pub struct Scan {
    /// The root tree of the working directory.
    pub tree: ObjectId,
    /// The trees the scan built, by id, so a diff against them needs no store reads
    /// (with [`ScanOptions::store`] off, they are not in the store). Trees whose ids it
    /// took from the directory cache are not here: they are parts of
    /// [`ScanOptions::stored_tree`], in the store.
    pub trees: Trees,
    /// Files and symlinks found.
    pub files: u64,
    /// Files and symlinks whose content was read (the rest came from the stat cache).
    pub hashed: u64,
    /// Objects (blobs and trees) that were new to the store.
    pub new_objects: u64,
    /// Compressed bytes those new objects added to the store.
    pub bytes_added: u64,
    /// What was left out.
    pub warnings: Vec<Warning>,
    /// A fresh stat cache for everything found; `None` when it equals
    /// [`ScanOptions::index`] (nothing to save).
    pub index: Option<Index>,
    /// A fresh directory cache for every directory found; `None` when it equals
    /// [`ScanOptions::dirs`] (nothing to save). Save it with the checksum of the stat
    /// cache saved with it ([`Scan::index`], or else [`ScanOptions::index`]).
    pub dirs: Option<DirCache>,
}

/// A file the stat cache cannot vouch for: it is read.
struct FileJob {
    /// Its path from the root, `/`-separated.
    path: Vec<u8>,
    mode: EntryMode,
    stat: StatData,
    /// The device the walk found it on.
    dev: u64,
    /// Once read, its entry; `None` when it was left out.
    entry: Option<IndexEntry>,
    /// Left out because it could not be read (rather than because it vanished).
    unreadable: bool,
}

/// A file of a directory node.
#[derive(Clone, Copy)]
enum FileRef {
    /// Unchanged since its stat-cache entry: its mode and blob.
    Cached { mode: EntryMode, id: ObjectId },
    /// Read: `jobs[i]`.
    Job(usize),
}

enum Child<'c> {
    File { name: Cow<'c, [u8]>, file: FileRef },
    Dir { name: Cow<'c, [u8]>, node: usize },
}

/// The directories found, flattened: children after their parent, files in path order,
/// each file matched with the stat cache.
#[derive(Default)]
struct Flat<'c> {
    /// The children of each directory; node 0 is the root.
    nodes: Vec<Vec<Child<'c>>>,
    /// How deep each directory is (the root is 0).
    depths: Vec<usize>,
    /// The files to read.
    jobs: Vec<FileJob>,
    /// Files the stat cache vouched for.
    hits: usize,
    /// Whether the entry of such a file changes all the same (now known to be stored).
    hits_changed: bool,
    /// Bytes the paths of all files take.
    path_bytes: usize,
    /// Each directory's listing for the next directory cache, if it may be recorded.
    listings: Vec<Option<Cow<'c, [u8]>>>,
    /// Each directory's tree id in its old cache record, and that id when it may be
    /// taken (see [`super::walk::WalkedDir`]).
    old_trees: Vec<(Option<ObjectId>, Option<ObjectId>)>,
    /// Whether a directory was read, so the directory cache changes.
    dirs_read: bool,
}

/// What files are matched with: the stat cache, and the store when a commit needs
/// their blobs there.
struct Matcher<'i> {
    odb: &'i Odb,
    store: bool,
    index: Option<&'i Index>,
}

/// Directories less deep than this have their subdirectories flattened in parallel,
/// each with its own pass over its part of the stat cache.
const SPLIT_DEPTH: usize = 2;

struct Hashed {
    entry: IndexEntry,
    written: Option<Written>,
    bytes_read: u64,
}

/// Scans every file, symlink and directory under `root` (leaving out `.cow` and what
/// `.cowignore` files exclude) and computes the root tree, storing new blobs and trees
/// when [`ScanOptions::store`] is on.
///
/// Files whose stat data match a fresh entry of [`ScanOptions::index`] are not read.
/// Only objects not already in the store are written; files are read in bounded memory
/// whatever their size, and a file that changes while it is read is read again.
#[doc(alias = "write-tree")]
pub fn scan(odb: &Odb, root: &Path, options: &ScanOptions<'_>) -> Result<Scan> {
    let root_fd = beneath::open_root(root).context("read directory", root)?;
    let root_fd = root_fd.as_fd();
    let clock = LazyClock::new(options.clock, root_fd);
    // The directory cache's tree ids hold for the stat cache with its checksum, and as
    // parts of its tree; they hold now only for the same stat cache and HEAD tree.
    let index_sum = options.index.and_then(Index::checksum);
    let trees_valid = options.dirs.is_some_and(|dirs| {
        dirs.index_sum().is_some()
            && dirs.index_sum() == index_sum
            && dirs.tree().is_some()
            && dirs.tree() == options.stored_tree
    });
    let mut warnings = Vec::new();
    let walk_options = WalkOptions {
        skip_unreadable: options.skip_unreadable,
        cache: options.dirs,
        trees_valid,
        remove_leftovers: options.remove_leftovers,
        clock: &clock,
    };
    let walked = super::walk::walk(root_fd, root, &walk_options, &mut warnings)?;
    let matcher = Matcher {
        odb,
        store: options.store,
        index: options.index,
    };
    let Flat {
        nodes,
        depths,
        mut jobs,
        hits,
        hits_changed,
        path_bytes,
        listings,
        old_trees,
        dirs_read,
    } = flatten_split(walked, 0, &mut Vec::new(), &matcher);

    let done = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let new_objects = AtomicU64::new(0);
    let bytes_added = AtomicU64::new(0);
    let total = jobs.len() as u64;
    jobs.par_iter_mut().try_for_each(|job| {
        let result = match hash_file(odb, root_fd, root, job, &clock, options)? {
            Outcome::Hashed(hashed) => Some(hashed),
            Outcome::Vanished => None,
            Outcome::Unreadable => {
                job.unreadable = true;
                None
            }
        };
        let files_done = done.fetch_add(1, Ordering::Relaxed) + 1;
        let read = result.as_ref().map_or(0, |h| h.bytes_read);
        let bytes_done = bytes.fetch_add(read, Ordering::Relaxed) + read;
        if let Some(w) = result.as_ref().and_then(|h| h.written) {
            new_objects.fetch_add(w.new as u64, Ordering::Relaxed);
            bytes_added.fetch_add(w.stored_bytes, Ordering::Relaxed);
        }
        job.entry = result.map(|h| h.entry);
        if let Some(progress) = options.progress {
            progress(Progress {
                files_done,
                files_total: total,
                bytes_done,
            });
        }
        Ok::<_, Error>(())
    })?;
    let mut files = hits as u64;
    for job in &jobs {
        if job.entry.is_some() {
            files += 1;
            continue;
        }
        let path = PathBuf::from(OsStr::from_bytes(&job.path));
        warnings.push(if job.unreadable {
            Warning::Unreadable { path }
        } else {
            Warning::Vanished { path }
        });
    }

    // Every path is matched with at most one cache entry: when every entry was
    // matched and vouched for, unchanged, the refreshed cache is the same.
    let index_changed =
        !jobs.is_empty() || hits_changed || options.index.is_none_or(|old| old.len() != hits);
    let index = index_changed.then(|| {
        let mut index = Index::with_capacity(files as usize, path_bytes);
        let mut cached = options.index.map(|index| index.iter().peekable());
        let mut refresh = |path: &[u8], file: FileRef| {
            let entry =
                match file {
                    FileRef::Cached { .. } => cached
                        .as_mut()
                        .and_then(|c| find_sorted(c, path))
                        .map(|mut e| {
                            e.stored |= options.store;
                            e
                        }),
                    FileRef::Job(i) => jobs[i].entry,
                };
            if let Some(entry) = entry {
                index.push_sorted(path, entry);
            }
        };
        visit_files(&nodes, 0, &mut Vec::new(), &mut refresh);
        index
    });

    let built = build_trees(nodes, &depths, &old_trees, &jobs)?;
    let (tree, trees, levels) = (built.root, built.trees, built.levels);

    // The next directory cache. A commit's trees all become part of HEAD's tree (or
    // are, when it is refused); a status's are when nothing changed. Otherwise only the
    // ids taken from the old cache are known to be part of HEAD's tree.
    let head = if options.store {
        Some(tree)
    } else {
        options.stored_tree
    };
    let record_all = options.store || options.stored_tree == Some(tree);
    let mut records = Vec::with_capacity(listings.len());
    let mut trees_changed = false;
    for (node, listing) in listings.into_iter().enumerate() {
        let Some(listing) = listing else { continue };
        let id = built.ids[node];
        let recorded = (record_all || built.taken[node]).then_some(id);
        trees_changed |= recorded != old_trees[node].0;
        records.push((listing, recorded));
    }
    let dirs_changed = dirs_read
        || trees_changed
        || index_changed
        || options.dirs.is_none_or(|old| {
            old.len() != records.len() || old.tree() != head || old.index_sum() != index_sum
        });
    let dirs = dirs_changed.then(|| DirCache::from_records(records, head));

    if options.store && options.stored_tree != Some(tree) {
        for level in &levels {
            level.par_iter().try_for_each(|id| {
                let content = trees.encoded(id).expect("every built tree is kept");
                let written = odb.write(Kind::Tree, content)?;
                new_objects.fetch_add(written.new as u64, Ordering::Relaxed);
                bytes_added.fetch_add(written.stored_bytes, Ordering::Relaxed);
                Ok::<_, Error>(())
            })?;
        }
    }
    warnings.sort_by_key(|w| w.to_string());
    Ok(Scan {
        tree,
        trees,
        files,
        hashed: jobs.iter().filter(|j| j.entry.is_some()).count() as u64,
        new_objects: new_objects.into_inner(),
        bytes_added: bytes_added.into_inner(),
        warnings,
        index,
        dirs,
    })
}

/// Calls `f` with the path and reference of every file below node `node` (at `path`),
/// in path order.
fn visit_files(
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

/// The trees of a scan.
struct Built {
    /// The root tree's id.
    root: ObjectId,
    /// Each directory's tree id.
    ids: Vec<ObjectId>,
    /// Whether each directory's id was taken from the directory cache (not built).
    taken: Vec<bool>,
    /// The trees built.
    trees: Trees,
    /// The ids of the trees built, a depth at a time, the deepest first.
    levels: Vec<Vec<ObjectId>>,
}

/// Builds the tree of every directory in `nodes`, bottom-up, the directories of each
/// depth in parallel, or takes its id from the directory cache (`old_trees`) when
/// every file in it was vouched for and every subdirectory's id was taken too.
fn build_trees(
    nodes: Vec<Vec<Child<'_>>>,
    depths: &[usize],
    old_trees: &[(Option<ObjectId>, Option<ObjectId>)],
    jobs: &[FileJob],
) -> Result<Built> {
    let max_depth = depths.iter().copied().max().unwrap_or(0);
    let mut levels: Vec<Vec<(usize, Vec<Child<'_>>)>> =
        (0..=max_depth).map(|_| Vec::new()).collect();
    for (node, children) in nodes.into_iter().enumerate() {
        levels[depths[node]].push((node, children));
    }
    let mut ids = vec![ObjectId::empty_tree(); depths.len()];
    let mut taken = vec![false; depths.len()];
    let mut trees = Trees::new();
    let mut level_ids = Vec::with_capacity(levels.len());
    for level in levels.into_iter().rev() {
        let built: Vec<(usize, ObjectId, Option<Vec<u8>>)> = level
            .into_par_iter()
            .map(|(node, children)| {
                if let Some(id) = old_trees[node].1
                    && children.iter().all(|child| match child {
                        Child::File { file, .. } => matches!(file, FileRef::Cached { .. }),
                        Child::Dir { node, .. } => taken[*node],
                    })
                {
                    return Ok((node, id, None));
                }
                let entries = children.iter().filter_map(|child| match child {
                    Child::File { name, file } => {
                        let (mode, id) = match *file {
                            FileRef::Cached { mode, id } => (mode, id),
                            FileRef::Job(i) => jobs[i].entry.map(|e| (e.mode, e.id))?,
                        };
                        Some(EntryRef { mode, name, id })
                    }
                    Child::Dir { name, node } => Some(EntryRef {
                        mode: EntryMode::Tree,
                        name,
                        id: ids[*node],
                    }),
                });
                let mut content = Vec::with_capacity(children.len() * 52);
                encode_sorted(entries, &mut content)?;
                Ok((node, ObjectId::hash(Kind::Tree, &content), Some(content)))
            })
            .collect::<Result<_>>()?;
        let mut this_level = Vec::with_capacity(built.len());
        for (node, id, content) in built {
            ids[node] = id;
            match content {
                Some(content) => {
                    this_level.push(id);
                    trees.insert_encoded(id, content);
                }
                None => taken[node] = true,
            }
        }
        level_ids.push(this_level);
    }
    Ok(Built {
        root: ids[0],
        ids,
        taken,
        trees,
        levels: level_ids,
    })
}

/// Flattens `dir` (at `depth`, at `path` from the root) and everything below it, the
/// subdirectories of directories less deep than [`SPLIT_DEPTH`] in parallel.
fn flatten_split<'c>(
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
fn find_sorted(cached: &mut Peekable<IndexIter<'_>>, path: &[u8]) -> Option<IndexEntry> {
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

/// How often a file that changes while it is read is read again before giving up.
const ATTEMPTS: usize = 3;

/// What became of a file to read.
enum Outcome {
    Hashed(Hashed),
    /// It is gone.
    Vanished,
    /// It cannot be read, and [`ScanOptions::skip_unreadable`] is on.
    Unreadable,
}

/// Hashes (and with `store`, stores) one file or symlink of the working directory open
/// as `root` (at `root_path`, for messages).
///
/// The file is opened below `root` without following any symlink on the way
/// ([`beneath`]), and must be the file the walk found (device, inode and type): a
/// directory swapped for a symlink since the walk, or a file replaced, is a change,
/// and after [`ATTEMPTS`] of them the scan fails rather than store something else.
fn hash_file(
    odb: &Odb,
    root: BorrowedFd<'_>,
    root_path: &Path,
    job: &FileJob,
    clock: &LazyClock<'_>,
    options: &ScanOptions<'_>,
) -> Result<Outcome> {
    // Settled before the file is read: a change made after the read has a later mtime.
    clock.get();
    let path = || root_path.join(OsStr::from_bytes(&job.path));
    for _ in 0..ATTEMPTS {
        let attempt = if job.mode == EntryMode::Link {
            hash_link(odb, root, job, options.store)
        } else {
            hash_regular(odb, root, job, options.store)
        };
        let attempt = match attempt {
            Ok(attempt) => attempt,
            Err(Failure::Open(e)) | Err(Failure::Read(e))
                if e.kind() == io::ErrorKind::NotFound =>
            {
                return Ok(Outcome::Vanished);
            }
            Err(Failure::Open(e)) if beneath::is_swapped(&e) => None,
            Err(Failure::Open(e)) | Err(Failure::Read(e))
                if options.skip_unreadable && e.kind() == io::ErrorKind::PermissionDenied =>
            {
                return Ok(Outcome::Unreadable);
            }
            Err(Failure::Open(e)) => return Err(crate::fs::IoError::new("open", path(), e).into()),
            Err(Failure::Read(e)) => return Err(crate::fs::IoError::new("read", path(), e).into()),
            Err(Failure::Store(e)) => return Err(e.into()),
        };
        if let Some((mut entry, written, bytes_read)) = attempt {
            entry.racy = clock.is_racy(job.dev, entry.stat.mtime);
            return Ok(Outcome::Hashed(Hashed {
                entry,
                written,
                bytes_read,
            }));
        }
    }
    Err(Error::FileChanged { path: path() })
}

/// Why an attempt at reading a file failed.
enum Failure {
    Open(io::Error),
    Read(io::Error),
    Store(odb::Error),
}

impl From<odb::Error> for Failure {
    fn from(e: odb::Error) -> Failure {
        Failure::Store(e)
    }
}

/// One attempt's result: `None` when the file changed while it was read.
type Attempt = Option<(IndexEntry, Option<Written>, u64)>;

fn store_or_hash(
    odb: &Odb,
    data: &[u8],
    store: bool,
) -> Result<(ObjectId, Option<Written>), Failure> {
    if store {
        let written = odb.write(Kind::Blob, data)?;
        Ok((written.id, Some(written)))
    } else {
        Ok((ObjectId::hash(Kind::Blob, data), None))
    }
}

/// Whether the open file's `stat` is the file the walk found.
#[allow(clippy::unnecessary_cast)]
fn is_walked_file(stat: &rustix::fs::Stat, job: &FileJob, file_type: FileType) -> bool {
    FileType::from_raw_mode(stat.st_mode as _) == file_type
        && stat.st_dev as u64 == job.dev
        && stat.st_ino as u64 == job.stat.ino
}

/// One attempt at a symlink. It is opened itself (`O_PATH`), its target read from that
/// descriptor: a symlink never changes in place, so the target is the one of the
/// inode the walk found, or the attempt fails.
fn hash_link(
    odb: &Odb,
    root: BorrowedFd<'_>,
    job: &FileJob,
    store: bool,
) -> Result<Attempt, Failure> {
    let fd = beneath::open_beneath(root, &job.path, OFlags::PATH, Mode::empty())
        .map_err(Failure::Open)?;
    let stat = rustix::fs::fstat(&fd).map_err(|e| Failure::Read(e.into()))?;
    if !is_walked_file(&stat, job, FileType::Symlink) || !stat_of(&stat).same_file(&job.stat) {
        return Ok(None);
    }
    let target =
        rustix::fs::readlinkat(&fd, c"", Vec::new()).map_err(|e| Failure::Read(e.into()))?;
    let target = target.as_bytes();
    let (id, written) = store_or_hash(odb, target, store)?;
    let entry = IndexEntry {
        mode: EntryMode::Link,
        id,
        stat: job.stat,
        racy: false,
        stored: store,
    };
    Ok(Some((entry, written, target.len() as u64)))
}

/// The id of `size` bytes of blob content read from `file`; `None` when it does not
/// hold exactly `size` bytes (it changed).
pub(super) fn hash_stream(file: &mut impl Read, size: u64) -> io::Result<Option<ObjectId>> {
    let mut hasher = Hasher::new(Kind::Blob, size);
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > size {
            return Ok(None);
        }
        hasher.update(&buf[..n]);
    }
    Ok((total == size).then(|| hasher.finalize()))
}

/// One attempt at a regular file. The stat data recorded is the open file's, taken
/// before reading and checked after.
fn hash_regular(
    odb: &Odb,
    root: BorrowedFd<'_>,
    job: &FileJob,
    store: bool,
) -> Result<Attempt, Failure> {
    let fd = beneath::open_beneath(
        root,
        &job.path,
        OFlags::RDONLY | OFlags::NONBLOCK,
        Mode::empty(),
    )
    .map_err(Failure::Open)?;
    let raw = rustix::fs::fstat(&fd).map_err(|e| Failure::Read(e.into()))?;
    if !is_walked_file(&raw, job, FileType::RegularFile) {
        return Ok(None);
    }
    let mut file = fs::File::from(fd);
    let before = stat_of(&raw);
    let size = before.size;
    let read_err = |e: io::Error| Failure::Read(e);
    let (id, written) = if size <= BUFFERED_FILE_LIMIT {
        let mut data = Vec::with_capacity(size as usize);
        file.by_ref()
            .take(size + 1)
            .read_to_end(&mut data)
            .map_err(read_err)?;
        if data.len() as u64 != size {
            return Ok(None);
        }
        store_or_hash(odb, &data, store)?
    } else if store {
        match odb.write_stream(Kind::Blob, size, &mut file) {
            Ok(written) => (written.id, Some(written)),
            Err(odb::Error::SizeChanged { .. }) => return Ok(None),
            Err(odb::Error::Input(source)) => return Err(Failure::Read(source)),
            Err(e) => return Err(e.into()),
        }
    } else {
        match hash_stream(&mut file, size).map_err(read_err)? {
            Some(id) => (id, None),
            None => return Ok(None),
        }
    };
    let after = rustix::fs::fstat(&file).map_err(|e| Failure::Read(e.into()))?;
    if !stat_of(&after).same_file(&before) {
        return Ok(None);
    }
    let mode = if raw.st_mode & 0o100 != 0 {
        EntryMode::BlobExecutable
    } else {
        EntryMode::Blob
    };
    let entry = IndexEntry {
        mode,
        id,
        stat: before,
        racy: false,
        stored: store,
    };
    Ok(Some((entry, written, size)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, nsecs: u32) -> Timestamp {
        Timestamp { secs, nsecs }
    }

    /// A file on the filesystem the tick was measured on is racy from the tick on; on
    /// another, whose times may be whole seconds (or FAT's two), from two seconds
    /// before the tick's second: an edit there within the same second as the snapshot
    /// leaves `S.000000000`, below a nanosecond tick of that second.
    #[test]
    fn racy_is_judged_by_each_file_system_s_granularity() {
        let tick = at(1000, 500_000_000);
        let (home, other) = (7, 8);
        assert!(!is_racy(home, tick, home, at(1000, 0)));
        assert!(!is_racy(home, tick, home, at(1000, 499_999_999)));
        assert!(is_racy(home, tick, home, at(1000, 500_000_000)));
        assert!(is_racy(home, tick, home, at(1001, 0)));
        assert!(is_racy(home, tick, other, at(1000, 0)));
        assert!(is_racy(home, tick, other, at(998, 0)));
        assert!(!is_racy(home, tick, other, at(997, 999_999_999)));
    }
}
