//! Building a snapshot of a directory: a sorted walk that honours `.cowignore`, parallel
//! hashing and compression of files, and trees folded bottom-up.

use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use super::{Error, IGNORE_FILE, Result};
use crate::object::{Entry, EntryMode, Kind, ObjectId, Tree};
use crate::odb::{self, Odb, Written};

/// Files up to this size are read whole and hashed before compressing, so an object
/// already in the store costs no compression; larger ones stream in one pass.
const BUFFERED_FILE_LIMIT: u64 = 1 << 20;

/// How far a snapshot has come, reported after each file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Files stored so far.
    pub files_done: u64,
    /// Files to store in all.
    pub files_total: u64,
    /// Bytes of file content read so far.
    pub bytes_done: u64,
}

/// Knobs for [`snapshot`].
#[derive(Default, Clone, Copy)]
pub struct SnapshotOptions<'a> {
    /// Called after each file is stored, from any thread.
    pub progress: Option<&'a (dyn Fn(Progress) + Sync)>,
}

/// Something a snapshot left out, and why.
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
        }
    }
}

/// What a snapshot made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The root tree.
    pub tree: ObjectId,
    /// Files and symlinks in the snapshot.
    pub files: u64,
    /// Objects (blobs and trees) that were new to the store.
    pub new_objects: u64,
    /// Compressed bytes those new objects added to the store.
    pub bytes_added: u64,
    /// What was left out.
    pub warnings: Vec<Warning>,
}

struct FileJob {
    path: PathBuf,
    mode: EntryMode,
}

enum Child {
    File { name: Vec<u8>, job: usize },
    Dir { name: Vec<u8>, node: usize },
}

/// Stores every file, symlink and directory under `root` (leaving out `.cow` and what
/// `.cowignore` files exclude) and returns the root tree.
///
/// Only objects not already in the store are written; unchanged files and subtrees
/// cost a hash and no write. Files are read in bounded memory whatever their size.
#[doc(alias = "write-tree")]
pub fn snapshot(odb: &Odb, root: &Path, options: &SnapshotOptions<'_>) -> Result<Snapshot> {
    let (nodes, jobs, mut warnings) = walk(root)?;

    let done = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let total = jobs.len() as u64;
    let blobs: Vec<Written> = jobs
        .par_iter()
        .map(|job| {
            let (written, size) = store_file(odb, job)?;
            let files_done = done.fetch_add(1, Ordering::Relaxed) + 1;
            let bytes_done = bytes.fetch_add(size, Ordering::Relaxed) + size;
            if let Some(progress) = options.progress {
                progress(Progress {
                    files_done,
                    files_total: total,
                    bytes_done,
                });
            }
            Ok(written)
        })
        .collect::<Result<_>>()?;

    let mut new_objects = blobs.iter().filter(|w| w.new).count() as u64;
    let mut bytes_added = blobs.iter().map(|w| w.stored_bytes).sum::<u64>();
    // Children are always created after their parent, so reverse order is bottom-up.
    let mut tree_ids: Vec<Option<ObjectId>> = vec![None; nodes.len()];
    for (index, children) in nodes.iter().enumerate().rev() {
        let entries = children
            .iter()
            .map(|child| match child {
                Child::File { name, job } => Entry {
                    mode: jobs[*job].mode,
                    name: name.clone(),
                    id: blobs[*job].id,
                },
                Child::Dir { name, node } => Entry {
                    mode: EntryMode::Tree,
                    name: name.clone(),
                    id: tree_ids[*node].expect("children are folded before parents"),
                },
            })
            .collect();
        let written = odb.write_tree(&Tree::from_entries(entries)?)?;
        new_objects += written.new as u64;
        bytes_added += written.stored_bytes;
        tree_ids[index] = Some(written.id);
    }
    warnings.sort_by_key(|w| w.to_string());
    Ok(Snapshot {
        tree: tree_ids[0].expect("the root is node 0"),
        files: total,
        new_objects,
        bytes_added,
        warnings,
    })
}

/// Walks `root` in sorted order, returning the directory nodes (node 0 is the root),
/// the files to store, and warnings.
#[allow(clippy::type_complexity)]
fn walk(root: &Path) -> Result<(Vec<Vec<Child>>, Vec<FileJob>, Vec<Warning>)> {
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
            let reserved_name =
                entry.depth() > 0 && entry.file_name().as_bytes().eq_ignore_ascii_case(b".cow");
            if reserved_name && entry.depth() > 1 {
                let mut list = reserved_in_filter.lock().expect("no panics while held");
                list.push(entry.path().to_owned());
            }
            !reserved_name
        })
        .build();

    let mut nodes: Vec<Vec<Child>> = vec![Vec::new()];
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
                    let copy = std::io::Error::new(io.kind(), io.to_string());
                    return Err(Error::io("read", path)(copy));
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
            stack.push(node);
        } else if file_type.is_symlink() || file_type.is_file() {
            let mode = if file_type.is_symlink() {
                EntryMode::Link
            } else {
                let meta = entry.metadata().map_err(|e| {
                    let io = e
                        .into_io_error()
                        .unwrap_or_else(|| std::io::ErrorKind::Other.into());
                    Error::io("stat", entry.path())(io)
                })?;
                if meta.permissions().mode() & 0o100 != 0 {
                    EntryMode::BlobExecutable
                } else {
                    EntryMode::Blob
                }
            };
            jobs.push(FileJob {
                path: entry.path().to_owned(),
                mode,
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
    Ok((nodes, jobs, warnings))
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

/// Stores one file or symlink; returns what was written and the content size.
fn store_file(odb: &Odb, job: &FileJob) -> Result<(Written, u64)> {
    let path = &job.path;
    if job.mode == EntryMode::Link {
        let target = fs::read_link(path).map_err(Error::io("read symlink", path))?;
        let target = target.as_os_str().as_bytes();
        return Ok((odb.write(Kind::Blob, target)?, target.len() as u64));
    }
    let mut file = fs::File::open(path).map_err(Error::io("open", path))?;
    let size = file.metadata().map_err(Error::io("stat", path))?.len();
    if size <= BUFFERED_FILE_LIMIT {
        let mut data = Vec::with_capacity(size as usize);
        file.by_ref()
            .take(BUFFERED_FILE_LIMIT + 1)
            .read_to_end(&mut data)
            .map_err(Error::io("read", path))?;
        if data.len() as u64 <= BUFFERED_FILE_LIMIT {
            let len = data.len() as u64;
            return Ok((odb.write(Kind::Blob, &data)?, len));
        }
        // It grew past the limit while being read: stream it from the start.
        return Err(Error::FileChanged { path: path.clone() });
    }
    match odb.write_stream(Kind::Blob, size, file) {
        Ok(written) => Ok((written, size)),
        Err(odb::Error::SizeChanged { .. }) => Err(Error::FileChanged { path: path.clone() }),
        Err(odb::Error::Io {
            action: "read",
            source,
            ..
        }) => Err(Error::io("read", path)(source)),
        Err(e) => Err(e.into()),
    }
}
