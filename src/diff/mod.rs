//! Differences between snapshots: tree against tree, where either side may be a
//! working directory scanned into memory; renames; and the renderings git users know
//! (name-status, stat, numstat, unified patch).

mod combined;
mod patch;
mod rename;
mod tree;

pub use combined::{
    CombinedChange, ParentSide, diff_combined, write_combined_name_status, write_combined_patch,
};
pub use patch::{
    FileStat, PatchOptions, StatOptions, file_stats, write_numstat, write_patch, write_stat,
};
pub use rename::{
    MAX_SCORE, RENAME_LIMIT, RenameOptions, detect_renames, parse_threshold, similarity,
};
pub use tree::{Change, ChangeKind, Side, TreeSource, WithTrees, diff_trees, diff_trees_in};

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::object::{EntryMode, ObjectId, RepoPath, RepoPathBuf};
use crate::odb::{self, Odb};

/// An error while diffing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The object store failed.
    #[error(transparent)]
    Odb(#[from] odb::Error),
    /// A working-directory file could not be read.
    #[error(transparent)]
    Io(#[from] crate::fs::IoError),
    /// A working-directory file is no longer what the scan found: a directory on its
    /// path became something else, or it is no longer a regular file (or symlink).
    #[error(
        "{} changed while it was being read; try again",
        crate::quote::quote_fs_path(path)
    )]
    Changed {
        /// The file.
        path: PathBuf,
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
    pub old_path: RepoPathBuf,
    /// The path in the new snapshot.
    pub new_path: RepoPathBuf,
    /// The old entry (`None` when added).
    pub old: Option<Side>,
    /// The new entry (`None` when deleted).
    pub new: Option<Side>,
    /// For a rename, how similar the contents are, in percent.
    pub similarity: Option<u8>,
}

/// Content larger than this many bytes is binary without being looked at, as git's
/// `core.bigFileThreshold` (512 MiB) makes it: patches say "Binary files … differ"
/// and `--stat` shows sizes, which come from object headers, so such files are
/// never read to render a diff.
pub const BIG_FILE_THRESHOLD: u64 = 512 << 20;

/// git's NUL rule looks at this many leading bytes.
const BINARY_PROBE: usize = 8000;

/// Knobs for [`diff`].
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// Find renames whose similarity reaches this score (out of [`MAX_SCORE`]);
    /// `None` turns rename detection off. Default: 50%, as git.
    pub renames: Option<u64>,
    /// Only paths equal to or below one of these (empty: all).
    pub paths: Vec<RepoPathBuf>,
    /// Renames with edits are looked for only while sources times destinations
    /// stay within this number squared (git's `diff.renameLimit`, `-l`); 0 means no
    /// limit. Default [`RENAME_LIMIT`].
    pub rename_limit: usize,
    /// Content above this size counts as binary (default [`BIG_FILE_THRESHOLD`]).
    pub big_file_threshold: u64,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            renames: Some(MAX_SCORE / 2),
            paths: Vec::new(),
            rename_limit: RENAME_LIMIT,
            big_file_threshold: BIG_FILE_THRESHOLD,
        }
    }
}

/// What [`diff`] found.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Outcome {
    /// The changed files, in path order.
    pub changes: Vec<FileChange>,
    /// Set when there were too many candidates to look for renames with edits (only
    /// exact renames were paired): the rename limit that would have allowed it, as
    /// git reports it (the larger of the number of sources and destinations).
    pub rename_limit_needed: Option<usize>,
}

/// Where file contents come from.
pub trait BlobSource {
    /// The content of `side`, found at `path` of its snapshot.
    fn blob(&self, side: &Side, path: &RepoPath) -> Result<Vec<u8>, Error>;
    /// The size of that content in bytes, from an object's header or a file's
    /// metadata: the content itself is not read.
    fn size(&self, side: &Side, path: &RepoPath) -> Result<u64, Error>;
    /// Streams that content into `out` in bounded memory; returns its size. A
    /// failing `out` stops the read.
    fn stream(&self, side: &Side, path: &RepoPath, out: &mut dyn Write) -> Result<u64, Error>;
}

/// The size of blob `id` from its header.
fn blob_size(odb: &Odb, id: &ObjectId) -> Result<u64, Error> {
    match odb.read_header(id)? {
        (crate::object::Kind::Blob, size) => Ok(size),
        (actual, _) => Err(odb::Error::ObjectKind {
            id: *id,
            expected: crate::object::Kind::Blob,
            actual,
        }
        .into()),
    }
}

impl BlobSource for Odb {
    fn blob(&self, side: &Side, _path: &RepoPath) -> Result<Vec<u8>, Error> {
        Ok(self.find_blob(&side.id)?)
    }

    fn size(&self, side: &Side, _path: &RepoPath) -> Result<u64, Error> {
        blob_size(self, &side.id)
    }

    fn stream(&self, side: &Side, _path: &RepoPath, out: &mut dyn Write) -> Result<u64, Error> {
        Ok(self.stream_blob(&side.id, out)?)
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

impl WorktreeBlobs<'_> {
    fn io_error(&self, action: &'static str, path: &RepoPath) -> impl Fn(std::io::Error) -> Error {
        let path = self.fs_path(path);
        move |source| crate::fs::IoError::new(action, path.clone(), source).into()
    }

    /// The file at `path`, named for messages (it is reached through descriptors).
    fn fs_path(&self, path: &RepoPath) -> PathBuf {
        path.to_fs_path(self.root)
    }

    /// The regular file at `path`, opened through descriptors (never through a
    /// symlink, so never outside the working directory).
    fn open(&self, path: &RepoPath) -> Result<std::fs::File, Error> {
        crate::worktree::open_file(self.root, path)
            .map_err(self.io_error("open", path))?
            .ok_or_else(|| Error::Changed {
                path: self.fs_path(path),
            })
    }
}

impl BlobSource for WorktreeBlobs<'_> {
    fn size(&self, side: &Side, path: &RepoPath) -> Result<u64, Error> {
        if self.odb.contains(&side.id) {
            return blob_size(self.odb, &side.id);
        }
        // A symlink's size is its target's length, as its blob's is.
        if side.mode == EntryMode::Link {
            return Ok(self.blob(side, path)?.len() as u64);
        }
        let meta = self
            .open(path)?
            .metadata()
            .map_err(self.io_error("stat", path))?;
        Ok(meta.len())
    }

    fn stream(&self, side: &Side, path: &RepoPath, out: &mut dyn Write) -> Result<u64, Error> {
        if side.mode == EntryMode::Link {
            let target = self.blob(side, path)?;
            out.write_all(&target).map_err(Error::Write)?;
            return Ok(target.len() as u64);
        }
        if self.odb.contains(&side.id) {
            return Ok(self.odb.stream_blob(&side.id, out)?);
        }
        let mut file = self.open(path)?;
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error("read", path)(e)),
            };
            out.write_all(&buf[..n]).map_err(Error::Write)?;
            total += n as u64;
        }
    }

    fn blob(&self, side: &Side, path: &RepoPath) -> Result<Vec<u8>, Error> {
        if self.odb.contains(&side.id) {
            return Ok(self.odb.find_blob(&side.id)?);
        }
        if side.mode == EntryMode::Link {
            return crate::worktree::read_link(self.root, path)
                .map_err(self.io_error("read symlink", path))?
                .ok_or_else(|| Error::Changed {
                    path: self.fs_path(path),
                });
        }
        let mut data = Vec::new();
        self.open(path)?
            .read_to_end(&mut data)
            .map_err(self.io_error("read", path))?;
        Ok(data)
    }
}

/// git's rule: content is binary when its first 8,000 bytes contain a NUL.
pub fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(BINARY_PROBE)].contains(&0)
}

/// A writer that keeps the first `limit` bytes and then refuses more, which stops
/// the read that feeds it.
struct Head {
    data: Vec<u8>,
    limit: usize,
}

impl Write for Head {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let room = self.limit - self.data.len();
        if room == 0 {
            return Err(std::io::Error::other("enough bytes read"));
        }
        let n = buf.len().min(room);
        self.data.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The first `limit` bytes of `side`'s content (all of it when shorter), read no
/// further than that where the source streams.
fn head(
    blobs: &dyn BlobSource,
    side: &Side,
    path: &RepoPath,
    limit: usize,
) -> Result<Vec<u8>, Error> {
    let mut head = Head {
        data: Vec::new(),
        limit,
    };
    match blobs.stream(side, path, &mut head) {
        Ok(_) => Ok(head.data),
        // The read stopped because the writer had what it wanted.
        Err(_) if head.data.len() == limit => Ok(head.data),
        Err(e) => Err(e),
    }
}

/// Whether `side`'s content, `size` bytes, is binary as git decides it: above
/// `threshold` without looking, else by the NUL rule on its first 8,000 bytes.
fn is_binary_blob(
    blobs: &dyn BlobSource,
    side: &Side,
    path: &RepoPath,
    size: u64,
    threshold: u64,
) -> Result<bool, Error> {
    if size > threshold {
        return Ok(true);
    }
    Ok(is_binary(&head(blobs, side, path, BINARY_PROBE)?))
}

/// The files that differ between trees `old` and `new` (`None`: empty), in path
/// order, with renames paired up as the options ask. Subtrees with equal ids are never
/// opened; contents are read only to compare rename candidates whose sizes allow a
/// match (see [`detect_renames`]).
pub fn diff(
    trees: &dyn TreeSource,
    blobs: &dyn BlobSource,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    options: &DiffOptions,
) -> Result<Outcome, Error> {
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
        Some(min_score) => detect_renames(
            changes,
            blobs,
            &RenameOptions {
                min_score,
                limit: options.rename_limit,
                big_file_threshold: options.big_file_threshold,
            },
        ),
        None => Ok(Outcome {
            changes,
            rename_limit_needed: None,
        }),
    }
}

/// The id git shows for "no object" in patches, abbreviated.
pub(crate) fn zero_id() -> ObjectId {
    ObjectId::from_bytes([0; 32])
}
