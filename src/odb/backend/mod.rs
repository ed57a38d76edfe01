//! Where the object database keeps its bytes: named immutable files, by kind.
//!
//! [`Odb`](super::Odb) decides what goes in a file — loose frames, pack records,
//! indexes — and a backend only stores the files. Every call is designed as if it
//! were a network request to an object store (rustic_core's `ReadBackend` and
//! `WriteBackend` have the same shape):
//!
//! - files are immutable and named by their content (an object id, a pack checksum), so
//!   a file that exists is complete and never changes; writing a name again writes the
//!   same bytes;
//! - a new file is written whole, under no name, and gets its name when it is finished
//!   ([`NewFile::finish`]) — no rename of visible files, no append, no partial file a
//!   reader could see;
//! - reads are of a whole file or of a byte range ([`RangeRead`]);
//! - listing is expensive: the odb lists packs when it opens and when an object it
//!   looks for is missing, never per object;
//! - [`WriteBackend::sync`] is the one durability barrier: after it returns, every
//!   file finished before it survives a crash (a ref may then point at them).
//!
//! [`LocalBackend`] is a repository's `.cow/objects` directory; [`MemoryBackend`]
//! keeps files in memory (for tests, and as the reference of the contract).
//!
//! Errors are plain `io::Error`s: the odb adds what it was doing and
//! [`ReadBackend::location`] of the file.

mod local;
mod memory;

use std::fmt;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

pub use local::LocalBackend;
pub use memory::MemoryBackend;

/// The kinds of file an object database holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FileKind {
    /// A loose object: one zstd frame of its canonical bytes; named by its id (64 hex).
    Loose,
    /// A pack: records of many objects (and the pack's dictionary); named by its
    /// checksum (64 hex).
    Pack,
    /// A pack's index, named as its pack. A pack is visible to readers only once its
    /// index exists: it is written after the pack and removed before it.
    Index,
    /// A cruft pack's object ages (`.mtimes`), named as its pack.
    Times,
}

impl FileKind {
    /// Every kind.
    pub const ALL: [FileKind; 4] = [
        FileKind::Loose,
        FileKind::Pack,
        FileKind::Index,
        FileKind::Times,
    ];
}

/// What a backend knows of a stored file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// Its size in bytes.
    pub size: u64,
    /// When it was written, where the backend records that.
    pub modified: Option<SystemTime>,
}

/// A whole file's bytes: owned, or (local backend) mapped into memory.
pub struct FileBytes(Bytes);

enum Bytes {
    Owned(Vec<u8>),
    Mapped(memmap2::Mmap),
}

impl FileBytes {
    /// Bytes held in memory.
    pub fn owned(bytes: Vec<u8>) -> FileBytes {
        FileBytes(Bytes::Owned(bytes))
    }

    pub(crate) fn mapped(map: memmap2::Mmap) -> FileBytes {
        FileBytes(Bytes::Mapped(map))
    }
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Bytes::Owned(bytes) => bytes,
            Bytes::Mapped(map) => map,
        }
    }
}

impl fmt::Debug for FileBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FileBytes({} bytes)", self.len())
    }
}

/// An open stored file, read by ranges (a pack's records).
pub trait RangeRead: Send + Sync {
    /// The file's size.
    fn len(&self) -> u64;

    /// Whether the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `buf` with the bytes at `offset`; an error if the file ends before.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

/// Reading stored files.
pub trait ReadBackend: Send + Sync + fmt::Debug {
    /// Where a file is (or would be), for messages: a path, or a URL-like name.
    fn location(&self, kind: FileKind, name: &str) -> PathBuf;

    /// The names of the files of `kind` that start with `prefix`, in any order. For a
    /// loose object, a prefix of at least two digits names one fan-out directory.
    fn list(&self, kind: FileKind, prefix: &str) -> io::Result<Vec<String>>;

    /// Size and time of a file; `None` when there is no such file.
    fn stat(&self, kind: FileKind, name: &str) -> io::Result<Option<FileInfo>>;

    /// The whole file; `None` when there is no such file.
    fn read(&self, kind: FileKind, name: &str) -> io::Result<Option<FileBytes>>;

    /// The file, for reads of byte ranges; `None` when there is no such file.
    fn open(&self, kind: FileKind, name: &str) -> io::Result<Option<Arc<dyn RangeRead>>>;

    /// The file as a stream, in bounded memory; `None` when there is no such file.
    fn reader(&self, kind: FileKind, name: &str) -> io::Result<Option<Box<dyn Read + Send>>>;
}

/// Writing and removing stored files.
pub trait WriteBackend: ReadBackend {
    /// Starts a new file of `kind`; it is named (and visible) once finished.
    fn create(&self, kind: FileKind) -> io::Result<Box<dyn NewFile>>;

    /// Removes a file; removing one that is not there is not an error.
    fn remove(&self, kind: FileKind, name: &str) -> io::Result<()>;

    /// The durability barrier: every file finished (or removed) before this call
    /// survives a crash once it returns.
    fn sync(&self) -> io::Result<()>;
}

/// A file being written. Dropped unfinished, it leaves nothing behind.
pub trait NewFile: Write + Send {
    /// Reads back bytes already written (a pack writer loosening what it held).
    fn read_back(&mut self, buf: &mut [u8], offset: u64) -> io::Result<()>;

    /// Stores the file under `name`, replacing a file of that name (which holds the
    /// same bytes: names are content). When `durable`, its bytes are on disk before
    /// the name exists (the name itself is made durable by [`WriteBackend::sync`]).
    fn finish(self: Box<Self>, name: &str, durable: bool) -> io::Result<()>;
}

/// A complete storage backend.
pub trait Backend: WriteBackend {}

impl<T: WriteBackend> Backend for T {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stores `bytes` whole as file `name` of `kind`.
    fn write_file(
        backend: &dyn Backend,
        kind: FileKind,
        name: &str,
        bytes: &[u8],
    ) -> io::Result<()> {
        let mut file = backend.create(kind)?;
        file.write_all(bytes)?;
        file.finish(name, true)
    }

    /// The contract every backend keeps, run against both.
    fn contract(backend: &dyn Backend) {
        assert_eq!(
            backend.list(FileKind::Pack, "").unwrap(),
            Vec::<String>::new()
        );
        assert!(backend.read(FileKind::Pack, "p1").unwrap().is_none());
        assert!(backend.stat(FileKind::Pack, "p1").unwrap().is_none());
        assert!(backend.open(FileKind::Pack, "p1").unwrap().is_none());
        assert!(backend.reader(FileKind::Pack, "p1").unwrap().is_none());

        // Unfinished files are invisible, and dropping one leaves nothing.
        let mut file = backend.create(FileKind::Pack).unwrap();
        file.write_all(b"abcdef").unwrap();
        let mut back = [0u8; 3];
        file.read_back(&mut back, 2).unwrap();
        assert_eq!(&back, b"cde");
        assert!(backend.list(FileKind::Pack, "").unwrap().is_empty());
        drop(file);
        assert!(backend.list(FileKind::Pack, "").unwrap().is_empty());

        write_file(backend, FileKind::Pack, "p1", b"pack bytes").unwrap();
        write_file(backend, FileKind::Index, "p1", b"index").unwrap();
        let id = "ab".repeat(32);
        write_file(backend, FileKind::Loose, &id, b"loose").unwrap();
        backend.sync().unwrap();

        assert_eq!(backend.list(FileKind::Pack, "").unwrap(), ["p1"]);
        assert_eq!(backend.list(FileKind::Index, "p").unwrap(), ["p1"]);
        assert!(backend.list(FileKind::Index, "q").unwrap().is_empty());
        assert_eq!(backend.list(FileKind::Loose, "ab").unwrap(), [id.as_str()]);
        assert_eq!(backend.list(FileKind::Loose, "").unwrap(), [id.as_str()]);
        assert!(backend.list(FileKind::Loose, "cd").unwrap().is_empty());
        assert_eq!(
            &*backend.read(FileKind::Loose, &id).unwrap().unwrap(),
            b"loose"
        );
        assert_eq!(
            backend.stat(FileKind::Pack, "p1").unwrap().unwrap().size,
            10
        );

        let open = backend.open(FileKind::Pack, "p1").unwrap().unwrap();
        assert_eq!(open.len(), 10);
        let mut range = [0u8; 5];
        open.read_exact_at(&mut range, 5).unwrap();
        assert_eq!(&range, b"bytes");
        assert!(open.read_exact_at(&mut range, 6).is_err(), "past the end");
        let mut streamed = Vec::new();
        backend
            .reader(FileKind::Pack, "p1")
            .unwrap()
            .unwrap()
            .read_to_end(&mut streamed)
            .unwrap();
        assert_eq!(streamed, b"pack bytes");

        // Names are content: writing one again replaces it with the same bytes.
        write_file(backend, FileKind::Pack, "p1", b"pack bytes").unwrap();
        assert_eq!(backend.list(FileKind::Pack, "").unwrap(), ["p1"]);

        backend.remove(FileKind::Pack, "p1").unwrap();
        backend.remove(FileKind::Pack, "p1").unwrap();
        backend.remove(FileKind::Loose, &id).unwrap();
        assert!(backend.read(FileKind::Pack, "p1").unwrap().is_none());
        assert!(backend.list(FileKind::Loose, "").unwrap().is_empty());
        assert_eq!(backend.list(FileKind::Index, "").unwrap(), ["p1"]);
    }

    #[test]
    fn the_local_backend_keeps_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        std::fs::create_dir(&objects).unwrap();
        contract(&LocalBackend::new(objects.clone()));
        // And nothing is left under a temporary name.
        let mut left: Vec<_> = walkdir::WalkDir::new(&objects)
            .into_iter()
            .map(|e| e.unwrap().path().strip_prefix(&objects).unwrap().to_owned())
            .collect();
        left.sort();
        let left: Vec<_> = left.iter().map(|p| p.display().to_string()).collect();
        assert_eq!(left, ["", "pack", "pack/pack-p1.idx"]);
    }

    #[test]
    fn the_memory_backend_keeps_the_contract() {
        contract(&MemoryBackend::new());
    }
}
