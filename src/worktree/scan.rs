//! Building a snapshot of a directory: a sorted walk that honours `.cowignore`, parallel
//! hashing and compression of files, and trees folded bottom-up.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use super::index::{Index, IndexEntry, StatData, Timestamp};
use super::{Error, IGNORE_FILE, Result};
use crate::object::{Entry, EntryMode, Hasher, Kind, ObjectId, Tree};
use crate::odb::{self, Odb, Written};

/// Files up to this size are read whole and hashed before compressing, so an object
/// already in the store costs no compression; larger ones stream in one pass.
const BUFFERED_FILE_LIMIT: u64 = 1 << 20;

/// How far a scan has come, reported after each file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Files done so far.
    pub files_done: u64,
    /// Files to store in all.
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
    /// The stat cache: files whose stat data match a fresh entry are not read.
    pub index: Option<&'a Index>,
    /// The tick from [`settle_clock`](super::settle_clock) taken before the scan: files
    /// modified at or after it are recorded as racy.
    pub clock: Timestamp,
    /// Called after each file, from any thread.
    pub progress: Option<&'a (dyn Fn(Progress) + Sync)>,
    /// Leave out files and directories that cannot be read (with a warning) instead
    /// of failing.
    pub skip_unreadable: bool,
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
    /// Every tree of the working directory by id, so a diff against it needs no store
    /// reads (with [`ScanOptions::store`] off, they are not in the store).
    pub trees: HashMap<ObjectId, Tree>,
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
    /// A fresh stat cache for everything found.
    pub index: Index,
}

struct FileJob {
    path: PathBuf,
    rel: Vec<u8>,
    mode: EntryMode,
    stat: StatData,
}

enum Child {
    File { name: Vec<u8>, job: usize },
    Dir { name: Vec<u8>, node: usize },
}

struct Hashed {
    entry: IndexEntry,
    written: Option<Written>,
    /// Whether the content was read (not taken from the stat cache).
    read: bool,
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
    let (nodes, skipped_dirs, jobs, mut warnings) = walk(root, options.skip_unreadable)?;

    let done = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let total = jobs.len() as u64;
    let results: Vec<Option<Hashed>> = jobs
        .par_iter()
        .map(|job| {
            let hashed = hash_file(odb, job, options)?;
            let files_done = done.fetch_add(1, Ordering::Relaxed) + 1;
            let read = hashed.as_ref().map_or(0, |h| h.bytes_read);
            let bytes_done = bytes.fetch_add(read, Ordering::Relaxed) + read;
            if let Some(progress) = options.progress {
                progress(Progress {
                    files_done,
                    files_total: total,
                    bytes_done,
                });
            }
            Ok(hashed)
        })
        .collect::<Result<_>>()?;

    let mut skipped = Vec::new();
    let results: Vec<Option<Hashed>> = jobs
        .iter()
        .zip(results)
        .map(|(job, r)| match r {
            Some(h) => Some(h),
            None => {
                skipped.push(job);
                None
            }
        })
        .collect();
    let relative = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_owned();
    for job in skipped {
        let path = relative(&job.path);
        warnings.push(if job.path.exists() {
            Warning::Unreadable { path }
        } else {
            Warning::Vanished { path }
        });
    }
    let done_ok = || results.iter().flatten();
    let written = done_ok().filter_map(|h| h.written);
    let mut new_objects = written.clone().filter(|w| w.new).count() as u64;
    let mut bytes_added = written.map(|w| w.stored_bytes).sum::<u64>();
    let hashed = done_ok().filter(|h| h.read).count() as u64;
    let mut trees = HashMap::with_capacity(nodes.len());
    // Children are always created after their parent, so reverse order is bottom-up.
    let mut tree_ids: Vec<Option<ObjectId>> = vec![None; nodes.len()];
    for (index, children) in nodes.iter().enumerate().rev() {
        if skipped_dirs.contains(&index) {
            continue;
        }
        let entries = children
            .iter()
            .filter_map(|child| match child {
                Child::File { name, job } => results[*job].as_ref().map(|r| Entry {
                    mode: r.entry.mode,
                    name: name.clone(),
                    id: r.entry.id,
                }),
                Child::Dir { name, node } => tree_ids[*node].map(|id| Entry {
                    mode: EntryMode::Tree,
                    name: name.clone(),
                    id,
                }),
            })
            .collect();
        let tree = Tree::from_entries(entries)?;
        let id = if options.store {
            let written = odb.write_tree(&tree)?;
            new_objects += written.new as u64;
            bytes_added += written.stored_bytes;
            written.id
        } else {
            tree.id()
        };
        tree_ids[index] = Some(id);
        trees.insert(id, tree);
    }
    let mut index = Index::new();
    for (job, result) in jobs.into_iter().zip(results) {
        if let Some(result) = result {
            index.insert(job.rel, result.entry);
        }
    }
    warnings.sort_by_key(|w| w.to_string());
    Ok(Scan {
        tree: tree_ids[0].expect("the root is node 0"),
        trees,
        files: index.len() as u64,
        hashed,
        new_objects,
        bytes_added,
        warnings,
        index,
    })
}

/// Walks `root` in sorted order, returning the directory nodes (node 0 is the root),
/// the files to store, and warnings.
#[allow(clippy::type_complexity)]
fn walk(
    root: &Path,
    skip_unreadable: bool,
) -> Result<(Vec<Vec<Child>>, HashSet<usize>, Vec<FileJob>, Vec<Warning>)> {
    let reserved = Arc::new(Mutex::new(Vec::new()));
    let reserved_in_filter = Arc::clone(&reserved);
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(false)
        .hidden(false)
        .parents(false)
        .follow_links(false)
        .require_git(false)
        .add_custom_ignore_filename(IGNORE_FILE)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |entry| {
            let name = entry.file_name().as_bytes();
            let reserved_name = entry.depth() > 0 && name.eq_ignore_ascii_case(b".cow");
            // The repository's own `.cow` is left out silently; any other is reported.
            if reserved_name && (entry.depth() > 1 || name != b".cow") {
                let mut list = reserved_in_filter.lock().expect("no panics while held");
                list.push(entry.path().to_owned());
            }
            !reserved_name
        })
        .build();

    let mut nodes: Vec<Vec<Child>> = vec![Vec::new()];
    // Directories by path, so one that cannot be read can be left out whole.
    let mut dir_nodes: HashMap<PathBuf, usize> = HashMap::new();
    let mut skipped_dirs = HashSet::new();
    let mut stack: Vec<usize> = vec![0];
    let mut jobs = Vec::new();
    let mut warnings = Vec::new();
    let relative = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_owned();
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(err) => {
                if let Some(io) = err.io_error() {
                    let path = error_path(&err).unwrap_or_else(|| root.to_owned());
                    let kind = io.kind();
                    let skip = match kind {
                        std::io::ErrorKind::NotFound => Some(Warning::Vanished {
                            path: relative(&path),
                        }),
                        std::io::ErrorKind::PermissionDenied if skip_unreadable => {
                            Some(Warning::Unreadable {
                                path: relative(&path),
                            })
                        }
                        _ => None,
                    };
                    match (skip, dir_nodes.get(&path)) {
                        (Some(warning), Some(&node)) if node != 0 => {
                            skipped_dirs.insert(node);
                            warnings.push(warning);
                            continue;
                        }
                        _ => {
                            let copy = std::io::Error::new(kind, io.to_string());
                            return Err(Error::io("read directory", path)(copy));
                        }
                    }
                }
                warnings.push(Warning::IgnoreRule {
                    message: err.to_string(),
                });
                continue;
            }
        };
        let depth = entry.depth();
        if depth == 0 {
            continue;
        }
        stack.truncate(depth);
        let parent = *stack.last().expect("the root stays on the stack");
        let name = entry.file_name().as_bytes().to_vec();
        let file_type = entry
            .file_type()
            .ok_or_else(|| Error::io("stat", entry.path())(std::io::ErrorKind::Other.into()))?;
        if file_type.is_dir() {
            nodes.push(Vec::new());
            let node = nodes.len() - 1;
            nodes[parent].push(Child::Dir { name, node });
            dir_nodes.insert(entry.path().to_owned(), node);
            stack.push(node);
        } else if file_type.is_symlink() || file_type.is_file() {
            let meta = match entry.metadata() {
                Ok(meta) => meta,
                Err(e) => {
                    let io = e
                        .into_io_error()
                        .unwrap_or_else(|| std::io::ErrorKind::Other.into());
                    if io.kind() == std::io::ErrorKind::NotFound {
                        warnings.push(Warning::Vanished {
                            path: relative(entry.path()),
                        });
                        continue;
                    }
                    return Err(Error::io("stat", entry.path())(io));
                }
            };
            jobs.push(FileJob {
                path: entry.path().to_owned(),
                rel: relative(entry.path()).into_os_string().into_vec(),
                mode: mode_of(&meta),
                stat: StatData::from_metadata(&meta),
            });
            nodes[parent].push(Child::File {
                name,
                job: jobs.len() - 1,
            });
        } else if file_type.is_fifo()
            || file_type.is_socket()
            || file_type.is_block_device()
            || file_type.is_char_device()
        {
            warnings.push(Warning::SpecialFile {
                path: relative(entry.path()),
            });
        }
    }
    let reserved = std::mem::take(&mut *reserved.lock().expect("no panics while held"));
    warnings.extend(
        reserved
            .into_iter()
            .map(|p| Warning::ReservedName { path: relative(&p) }),
    );
    Ok((nodes, skipped_dirs, jobs, warnings))
}

fn error_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        _ => None,
    }
}

/// The entry mode a file or symlink's metadata calls for: git keeps only the owner's
/// executable bit.
fn mode_of(meta: &fs::Metadata) -> EntryMode {
    if meta.file_type().is_symlink() {
        EntryMode::Link
    } else if meta.permissions().mode() & 0o100 != 0 {
        EntryMode::BlobExecutable
    } else {
        EntryMode::Blob
    }
}

/// How often a file that changes while it is read is read again before giving up.
const ATTEMPTS: usize = 3;

/// Hashes (and with `store`, stores) one file or symlink, unless the stat cache has a
/// fresh entry for it. `None` when the file vanished, or cannot be read and
/// [`ScanOptions::skip_unreadable`] is on.
fn hash_file(odb: &Odb, job: &FileJob, options: &ScanOptions<'_>) -> Result<Option<Hashed>> {
    if let Some(cached) = options.index.and_then(|i| i.get(&job.rel))
        && cached.is_fresh(job.mode, &job.stat)
        && (!options.store || cached.stored || odb.contains(&cached.id))
    {
        let mut entry = *cached;
        entry.stored |= options.store;
        return Ok(Some(Hashed {
            entry,
            written: None,
            read: false,
            bytes_read: 0,
        }));
    }
    for _ in 0..ATTEMPTS {
        let attempt = if job.mode == EntryMode::Link {
            hash_link(odb, job, options.store)
        } else {
            hash_regular(odb, job, options.store)
        };
        let attempt = match attempt {
            Ok(attempt) => attempt,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(None);
            }
            Err(Error::Io { source, .. })
                if options.skip_unreadable
                    && source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        if let Some((mut entry, written, bytes_read)) = attempt {
            entry.racy = entry.stat.mtime >= options.clock;
            return Ok(Some(Hashed {
                entry,
                written,
                read: true,
                bytes_read,
            }));
        }
    }
    Err(Error::FileChanged {
        path: job.path.clone(),
    })
}

type Attempt = Option<(IndexEntry, Option<Written>, u64)>;

fn store_or_hash(odb: &Odb, data: &[u8], store: bool) -> Result<(ObjectId, Option<Written>)> {
    if store {
        let written = odb.write(Kind::Blob, data)?;
        Ok((written.id, Some(written)))
    } else {
        Ok((ObjectId::hash(Kind::Blob, data), None))
    }
}

/// One attempt at a symlink: `None` when it changed while being read.
fn hash_link(odb: &Odb, job: &FileJob, store: bool) -> Result<Attempt> {
    let path = &job.path;
    let target = fs::read_link(path).map_err(Error::io("read symlink", path))?;
    let after = fs::symlink_metadata(path).map_err(Error::io("stat", path))?;
    if !after.file_type().is_symlink() || !StatData::from_metadata(&after).same_file(&job.stat) {
        return Ok(None);
    }
    let target = target.as_os_str().as_bytes();
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

/// One attempt at a regular file: `None` when it changed while being read. The stat
/// data recorded is the open file's, taken before reading and checked after.
fn hash_regular(odb: &Odb, job: &FileJob, store: bool) -> Result<Attempt> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = &job.path;
    let mut file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        // Replaced by a symlink since the walk: a change.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(Error::io("open", path)(e)),
    };
    let meta = file.metadata().map_err(Error::io("stat", path))?;
    if !meta.file_type().is_file() {
        return Ok(None);
    }
    let before = StatData::from_metadata(&meta);
    let size = before.size;
    let (id, written) = if size <= BUFFERED_FILE_LIMIT {
        let mut data = Vec::with_capacity(size as usize);
        file.by_ref()
            .take(size + 1)
            .read_to_end(&mut data)
            .map_err(Error::io("read", path))?;
        if data.len() as u64 != size {
            return Ok(None);
        }
        store_or_hash(odb, &data, store)?
    } else if store {
        match odb.write_stream(Kind::Blob, size, &mut file) {
            Ok(written) => (written.id, Some(written)),
            Err(odb::Error::SizeChanged { .. }) => return Ok(None),
            Err(odb::Error::Io {
                action: "read",
                source,
                ..
            }) => return Err(Error::io("read", path)(source)),
            Err(e) => return Err(e.into()),
        }
    } else {
        let mut hasher = Hasher::new(Kind::Blob, size);
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(Error::io("read", path))?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > size {
                return Ok(None);
            }
            hasher.update(&buf[..n]);
        }
        if total != size {
            return Ok(None);
        }
        (hasher.finalize(), None)
    };
    let after = file.metadata().map_err(Error::io("stat", path))?;
    if !StatData::from_metadata(&after).same_file(&before) {
        return Ok(None);
    }
    let entry = IndexEntry {
        mode: mode_of(&meta),
        id,
        stat: before,
        racy: false,
        stored: store,
    };
    Ok(Some((entry, written, size)))
}
