//! The working directory: scanning it with ignore rules and building snapshots of it.

mod beneath;
mod checkout;
mod clock;
mod dircache;
mod index;
mod scan;
mod walk;
mod warning;

pub use checkout::{
    Applied, Conflict, ConflictKind, Op, Plan, PlanOptions, apply, apply_into, plan, plan_into,
};
pub use clock::Clock;
pub use dircache::DirCache;
pub use index::{Index, IndexEntry, Iter as IndexIter, StatData, Timestamp, settle_clock};
pub use scan::{OnChange, Progress, Scan, ScanOptions, scan};
pub use warning::Warning;

use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use crate::object::{RepoPath, RepoPathBuf};
use crate::odb;

/// The file that holds ignore rules, in any directory, with gitignore syntax.
pub const IGNORE_FILE: &str = ".cowignore";

/// An error from the working directory.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed.
    #[error(transparent)]
    Io(#[from] crate::fs::IoError),
    /// A file kept changing while it was read.
    #[error(
        "{} changed while it was being read; try again",
        crate::quote::quote_fs_path(path)
    )]
    FileChanged {
        /// The file.
        path: PathBuf,
    },
    /// A path would leave the working directory or go through a symlink.
    #[error(
        "refusing to write '{}': it is not a plain path inside the working directory",
        path.quoted()
    )]
    UnsafePath {
        /// The path.
        path: RepoPathBuf,
    },
    /// A snapshot holds something this system cannot check out.
    #[error("cannot check out '{}': {reason}", path.quoted())]
    Unsupported {
        /// The path.
        path: RepoPathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The object store failed.
    #[error(transparent)]
    Odb(#[from] odb::Error),
    /// A tree could not be built.
    #[error(transparent)]
    Build(#[from] crate::object::BuildError),
}

/// Opens the file at the snapshot path `path` below the working directory `root` for
/// reading, through descriptors: no symlink is followed on the way or at the end, so
/// a swapped directory cannot make it read a file outside the tree. `None` when it is
/// no longer a regular file reached through directories (a directory on the way was
/// swapped for a symlink, or a FIFO took its place: refused without blocking).
pub(crate) fn open_file(root: &Path, path: &RepoPath) -> io::Result<Option<std::fs::File>> {
    use rustix::fs::{FileType, Mode, OFlags};
    let root = beneath::open_root(root)?;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK;
    let fd = match beneath::open_beneath(root.as_fd(), path.as_bytes(), flags, Mode::empty()) {
        Err(e) if beneath::is_swapped(&e) => return Ok(None),
        fd => fd?,
    };
    if FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode) != FileType::RegularFile {
        return Ok(None);
    }
    Ok(Some(fd.into()))
}

/// The target of the symlink at the snapshot path `path` below `root`, read from the
/// link itself (opened with `O_PATH`), never through a symlink on the way. `None` when
/// it is no longer a symlink reached through directories.
pub(crate) fn read_link(root: &Path, path: &RepoPath) -> io::Result<Option<Vec<u8>>> {
    use rustix::fs::{Mode, OFlags};
    let root = beneath::open_root(root)?;
    let fd = match beneath::open_beneath(root.as_fd(), path.as_bytes(), OFlags::PATH, Mode::empty())
    {
        Err(e) if beneath::is_swapped(&e) => return Ok(None),
        fd => fd?,
    };
    match rustix::fs::readlinkat(&fd, c"", Vec::new()) {
        Ok(target) => Ok(Some(target.into_bytes())),
        // Not a symlink (readlinkat on an empty name reads the link the fd is).
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::INVAL) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Whether `name` is the name of a temporary file an interrupted checkout of an
/// earlier cow left ([`crate::temp::OLD_CHECKOUT_FILE`]).
pub(crate) fn is_leftover(name: &[u8]) -> bool {
    let Some(rest) = name.strip_prefix(crate::temp::OLD_CHECKOUT_FILE.as_bytes()) else {
        return false;
    };
    let mut parts = rest.splitn(3, |&b| b == b'-');
    let number = |part: Option<&[u8]>| {
        part.is_some_and(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
    };
    number(parts.next()) && number(parts.next()) && parts.next().is_some()
}

/// Result type of the working directory.
pub type Result<T, E = Error> = std::result::Result<T, E>;
