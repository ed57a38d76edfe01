//! Differences between snapshots: tree against tree, where either side may be a
//! working directory scanned into memory; renames; and the renderings git users know
//! (name-status, stat, numstat, unified patch).

mod patch;
mod rename;
mod tree;

pub use patch::{FileStat, PatchOptions, file_stats, write_numstat, write_patch, write_stat};
pub use rename::{MAX_SCORE, detect_renames, parse_threshold, similarity};
pub use tree::{Change, ChangeKind, Side, TreeSource, WithTrees, diff_trees, diff_trees_in};

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::object::{EntryMode, ObjectId};
use crate::odb::{self, Odb};

/// An error while diffing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object store failed.
    #[error(transparent)]
    Odb(#[from] odb::Error),
    /// A working-directory file could not be read.
    #[error("could not {action} '{}'", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing the output failed.
    #[error("could not write the diff")]
    Write(#[source] std::io::Error),
}

/// What happened to a file between two snapshots.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    /// Only in the new snapshot.
    Added,
    /// Only in the old snapshot.
    Deleted,
    /// Content or executable bit changed.
    Modified,
    /// A regular file became a symlink or the other way round.
    TypeChanged,
    /// Moved, possibly with edits ([`FileChange::similarity`]).
    Renamed,
}

impl Status {
    /// git's letter for `--name-status`.
    pub fn letter(self) -> char {
        match self {
            Status::Added => 'A',
            Status::Deleted => 'D',
            Status::Modified => 'M',
            Status::TypeChanged => 'T',
            Status::Renamed => 'R',
        }
    }
}

/// One changed file (or symlink) between two snapshots.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FileChange {
    /// What happened.
    pub status: Status,
    /// The path in the old snapshot (equal to `new_path` unless renamed).
    pub old_path: Vec<u8>,
    /// The path in the new snapshot.
    pub new_path: Vec<u8>,
    /// The old entry (`None` when added).
    pub old: Option<Side>,
    /// The new entry (`None` when deleted).
    pub new: Option<Side>,
    /// For a rename, how similar the contents are, in percent.
    pub similarity: Option<u8>,
}

/// Knobs for [`diff`].
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// Find renames whose similarity reaches this score (out of [`MAX_SCORE`]);
    /// `None` turns rename detection off. Default: 50%, as git.
    pub renames: Option<u64>,
    /// Only paths equal to or below one of these (empty: all).
    pub paths: Vec<Vec<u8>>,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            renames: Some(MAX_SCORE / 2),
            paths: Vec::new(),
        }
    }
}

/// Where file contents come from.
pub trait BlobSource {
    /// The content of `side`, found at `path` of its snapshot.
    fn blob(&self, side: &Side, path: &[u8]) -> Result<Vec<u8>, Error>;
}

impl BlobSource for Odb {
    fn blob(&self, side: &Side, _path: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(self.find_blob(&side.id)?)
    }
}

/// Contents from the store, or, for blobs a status scan hashed without storing, from
/// the working directory.
pub struct WorktreeBlobs<'a> {
    /// The store.
    pub odb: &'a Odb,
    /// The working directory.
    pub root: &'a Path,
}

impl BlobSource for WorktreeBlobs<'_> {
    fn blob(&self, side: &Side, path: &[u8]) -> Result<Vec<u8>, Error> {
        if self.odb.contains(&side.id) {
            return Ok(self.odb.find_blob(&side.id)?);
        }
        let fs_path = self.root.join(OsStr::from_bytes(path));
        let io = |action| {
            move |source| Error::Io {
                action,
                path: fs_path.clone(),
                source,
            }
        };
        if side.mode == EntryMode::Link {
            let target = std::fs::read_link(self.root.join(OsStr::from_bytes(path)))
                .map_err(io("read symlink"))?;
            Ok(target.as_os_str().as_bytes().to_vec())
        } else {
            std::fs::read(self.root.join(OsStr::from_bytes(path))).map_err(io("read"))
        }
    }
}

/// git's rule: content is binary when its first 8,000 bytes contain a NUL.
pub fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(8000)].contains(&0)
}

/// The files that differ between trees `old` and `new` (`None`: empty), in path
/// order, with renames paired up as the options ask. Subtrees with equal ids are never
/// opened; contents are read only to compare rename candidates.
pub fn diff(
    trees: &dyn TreeSource,
    blobs: &dyn BlobSource,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    options: &DiffOptions,
) -> Result<Vec<FileChange>, Error> {
    let mut changes = Vec::new();
    diff_trees_in(trees, old, new, &options.paths, &mut |change| {
        if !change.is_tree() {
            let path = change.path.clone();
            let status = match change.kind() {
                ChangeKind::Added => Status::Added,
                ChangeKind::Deleted => Status::Deleted,
                ChangeKind::Modified => Status::Modified,
                ChangeKind::TypeChanged => Status::TypeChanged,
            };
            changes.push(FileChange {
                status,
                old_path: path.clone(),
                new_path: path,
                old: change.old,
                new: change.new,
                similarity: None,
            });
        }
        Ok(true)
    })?;
    match options.renames {
        Some(min_score) => detect_renames(changes, blobs, min_score),
        None => Ok(changes),
    }
}

/// The id git shows for "no object" in patches, abbreviated.
pub(crate) fn zero_id() -> ObjectId {
    ObjectId::from_bytes([0; 32])
}
