//! Building a snapshot of a directory: a sorted walk that honours `.cowignore`, parallel
//! hashing and compression of files, and trees folded bottom-up.
//!
//! The stages, one file each: the walk ([`walk`](super::walk)) lists what is there;
//! `flatten.rs` turns it into nodes and matches files with the stat cache; `read.rs`
//! reads the files it cannot vouch for; `build.rs` folds the trees. This file runs
//! them and assembles the [`Scan`].

mod build;
mod flatten;
mod read;

pub(in crate::worktree) use read::hash_stream;

use crate::fs::IoResultExt;
use std::borrow::Cow;
use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use self::build::build_trees;
use self::flatten::{Flat, Matcher, find_sorted, flatten_split, visit_files};
use self::read::{Outcome, hash_file};
use super::clock::{Clock, LazyClock};
use super::dircache::DirCache;
use super::index::{Index, IndexEntry, StatData};
use super::walk::WalkOptions;
use super::warning::Warning;
use super::{Error, Result, beneath};
use crate::object::{EntryMode, Kind, ObjectId, Trees};
use crate::odb::Odb;

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

/// What a scan does with a file that kept changing while it was read, after the
/// retries (`commit --on-change`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OnChange {
    /// Fail with [`Error::FileChanged`]: a version-control snapshot must not record a
    /// torn file. The default.
    #[default]
    Fail,
    /// Leave the file out of the snapshot (as if it were absent), with a
    /// [`Warning::ChangedWhileRead`].
    Skip,
    /// Store the bytes the last attempt read (at most the size the file had when that
    /// attempt opened it: for a file only appended to, a version it really had), with a
    /// [`Warning::ChangedWhileRead`]. A file that shrank or was replaced meanwhile has
    /// no such bytes and is left out as with [`Skip`](Self::Skip).
    Warn,
}

impl OnChange {
    /// The name the command line and config use: `fail`, `skip` or `warn`.
    pub fn as_str(self) -> &'static str {
        match self {
            OnChange::Fail => "fail",
            OnChange::Skip => "skip",
            OnChange::Warn => "warn",
        }
    }
}

impl std::str::FromStr for OnChange {
    type Err = String;

    /// Parses `fail`, `skip` or `warn` (any letter case, as git reads config values).
    fn from_str(s: &str) -> std::result::Result<OnChange, String> {
        match s.to_ascii_lowercase().as_str() {
            "fail" => Ok(OnChange::Fail),
            "skip" => Ok(OnChange::Skip),
            "warn" => Ok(OnChange::Warn),
            _ => Err(format!("'{s}' is not one of fail, skip, warn")),
        }
    }
}

impl std::fmt::Display for OnChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// What to do with a file that keeps changing while it is read.
    pub on_change: OnChange,
    /// Remove the temporary files that an interrupted checkout of an earlier cow left
    /// in the working directory (they are never part of a snapshot either way). Only
    /// for a caller that holds the repository lock, so no checkout is running.
    pub remove_leftovers: bool,
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
    /// It kept changing while it was read: left out (`entry` is `None`) or stored as
    /// last read. Either way it gets no stat-cache entry, so the next scan reads it.
    changed: bool,
    /// The blob its stat-cache entry recorded (its last version): a large file's
    /// new chunks may be stored as deltas against that version's.
    previous: Option<ObjectId>,
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

/// Scans every file, symlink and directory under `root` (leaving out `.cow` and what
/// `.cowignore` files exclude) and computes the root tree, storing new blobs and trees
/// when [`ScanOptions::store`] is on.
///
/// Files whose stat data match a fresh entry of [`ScanOptions::index`] are not read.
/// Only objects not already in the store are written; files are read in bounded memory
/// whatever their size, and a file that changes while it is read is read again (then
/// [`ScanOptions::on_change`] decides).
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
            Outcome::Changed(stored) => {
                job.changed = true;
                stored
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
        let path = || PathBuf::from(OsStr::from_bytes(&job.path));
        if job.changed {
            warnings.push(Warning::ChangedWhileRead {
                path: path(),
                stored: job.entry.is_some(),
            });
        }
        if job.entry.is_some() {
            files += 1;
            continue;
        }
        if job.changed {
            continue;
        }
        let path = path();
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
                    // A file stored as last read while it changed is not vouched for.
                    FileRef::Job(i) => jobs[i].entry.filter(|_| !jobs[i].changed),
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
