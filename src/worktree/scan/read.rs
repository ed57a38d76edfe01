//! Reading one file or symlink of the working directory: opened beneath the root,
//! checked to be the file the walk found, hashed (and stored) in bounded memory, and
//! read again when it changes meanwhile.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{FileType, Mode, OFlags};

use super::{FileJob, OnChange, ScanOptions};
use crate::object::{EntryMode, Hasher, Kind, ObjectId};
use crate::odb::{self, Odb, Written};
use crate::worktree::beneath;
use crate::worktree::clock::LazyClock;
use crate::worktree::index::IndexEntry;
use crate::worktree::walk::stat_data as stat_of;
use crate::worktree::{Error, Result};

/// Files up to this size are read whole and hashed before compressing, so an object
/// already in the store costs no compression; larger ones stream in one pass.
const BUFFERED_FILE_LIMIT: u64 = 1 << 20;

pub(super) struct Hashed {
    pub(super) entry: IndexEntry,
    pub(super) written: Option<Written>,
    pub(super) bytes_read: u64,
}

/// How often a file that changes while it is read is read again before giving up.
const ATTEMPTS: usize = 3;

/// What became of a file to read.
pub(super) enum Outcome {
    Hashed(Hashed),
    /// It is gone.
    Vanished,
    /// It cannot be read, and [`ScanOptions::skip_unreadable`] is on.
    Unreadable,
    /// It kept changing while it was read, and [`ScanOptions::on_change`] is not
    /// [`OnChange::Fail`]: what was stored as last read, or `None` when it is left out.
    Changed(Option<Hashed>),
}

/// Hashes (and with `store`, stores) one file or symlink of the working directory open
/// as `root` (at `root_path`, for messages).
///
/// The file is opened below `root` without following any symlink on the way
/// ([`beneath`]), and must be the file the walk found (device, inode and type): a
/// directory swapped for a symlink since the walk, or a file replaced, is a change,
/// and after [`ATTEMPTS`] of them the scan fails rather than store something else —
/// or, as [`ScanOptions::on_change`] says, leaves it out or stores the last attempt's
/// bytes (read from the walked file only, up to the size it had when opened).
pub(super) fn hash_file(
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
    for n in 1..=ATTEMPTS {
        // The last attempt keeps what it read, even if the file changes meanwhile.
        let tolerant = n == ATTEMPTS && options.on_change == OnChange::Warn;
        let attempt = if job.mode == EntryMode::Link {
            hash_link(odb, root, job, options.store)
        } else {
            hash_regular(odb, root, job, options.store, tolerant)
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
        if let Some(read) = attempt {
            let mut entry = read.entry;
            entry.racy = clock.is_racy(job.dev, entry.stat.mtime);
            let hashed = Hashed {
                entry,
                written: read.written,
                bytes_read: read.bytes_read,
            };
            return Ok(match read.torn {
                false => Outcome::Hashed(hashed),
                true => Outcome::Changed(Some(hashed)),
            });
        }
    }
    match options.on_change {
        OnChange::Fail => Err(Error::FileChanged { path: path() }),
        OnChange::Skip | OnChange::Warn => Ok(Outcome::Changed(None)),
    }
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

/// What one attempt read.
struct ReadFile {
    entry: IndexEntry,
    written: Option<Written>,
    bytes_read: u64,
    /// The file changed while it was read (a tolerant attempt keeps what it read).
    torn: bool,
}

/// One attempt's result: `None` when the file changed while it was read.
type Attempt = Option<ReadFile>;

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
    Ok(Some(ReadFile {
        entry,
        written,
        bytes_read: target.len() as u64,
        torn: false,
    }))
}

/// The id of `size` bytes of blob content read from `file`; `None` when it does not
/// hold exactly `size` bytes (it changed).
pub(in crate::worktree) fn hash_stream(
    file: &mut impl Read,
    size: u64,
) -> io::Result<Option<ObjectId>> {
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
///
/// A `tolerant` attempt reads the first `size` bytes (the size when opened), or all
/// there are if it shrank and fits in memory, and keeps them even when the file
/// changed meanwhile ([`ReadFile::torn`]); the id is always the hash of exactly the bytes
/// read. It still gives up (`None`) when the file is no longer the walked one, or
/// when a large file shrank below the size it streams.
fn hash_regular(
    odb: &Odb,
    root: BorrowedFd<'_>,
    job: &FileJob,
    store: bool,
    tolerant: bool,
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
    let mut torn = false;
    let mut bytes_read = size;
    let (id, written) = if size <= BUFFERED_FILE_LIMIT {
        let mut data = Vec::with_capacity(size as usize);
        file.by_ref()
            .take(size + 1)
            .read_to_end(&mut data)
            .map_err(read_err)?;
        if data.len() as u64 != size {
            if !tolerant {
                return Ok(None);
            }
            // It grew (keep the size it had) or shrank (keep what there was).
            data.truncate(size as usize);
            torn = true;
            bytes_read = data.len() as u64;
        }
        store_or_hash(odb, &data, store)?
    } else if store {
        // Tolerant, the stream ends at `size` bytes however much the file grew.
        let mut limited = file.by_ref().take(if tolerant { size } else { u64::MAX });
        match odb.write_blob_stream(size, &mut limited, job.previous.as_ref()) {
            Ok(written) => (written.id, Some(written)),
            Err(odb::Error::SizeChanged { .. }) => return Ok(None),
            Err(odb::Error::Input(source)) => return Err(Failure::Read(source)),
            Err(e) => return Err(e.into()),
        }
    } else {
        let mut limited = file.by_ref().take(if tolerant { size } else { u64::MAX });
        match hash_stream(&mut limited, size).map_err(read_err)? {
            Some(id) => (id, None),
            None => return Ok(None),
        }
    };
    let after = rustix::fs::fstat(&file).map_err(|e| Failure::Read(e.into()))?;
    if !stat_of(&after).same_file(&before) {
        if !tolerant {
            return Ok(None);
        }
        torn = true;
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
    Ok(Some(ReadFile {
        entry,
        written,
        bytes_read,
        torn,
    }))
}
