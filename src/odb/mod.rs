//! The object database: put, get and look up objects by id — the only layer that knows
//! how bytes are stored.
//!
//! Objects are stored as loose files (one zstd frame each, ) or in packs
//! (records, deltas, blocks and a dictionary, with an index; `pack`), and gc repacks
//! them ([`Odb::repack`], geometrically: large packs stay as they are). Every read is checked against the id it was asked for;
//! corruption is an [`Error`] naming the object, never wrong bytes.
//!
//! The files themselves are kept by a storage [`backend`]: the local `.cow/objects`
//! directory ([`Odb::at`]) or any other [`Backend`] ([`Odb::with_backend`]).
//!
//! - `mod.rs`: the facade — writes, reads, lookups by id and prefix;
//! - `packed.rs`: the packed read path (open packs, finding a good copy, delta chains,
//!   the block cache); `compress.rs`: the per-thread zstd contexts;
//! - `loose.rs`, `pack.rs`, `cruft.rs`: the file formats; `repack.rs`: repacking;
//! - `files.rs`: counts, sizes, ages, removal and locations of stored files.

pub mod backend;
mod chunked;
mod compress;
mod cruft;
mod files;
mod loose;
mod pack;
mod packed;
mod repack;
#[cfg(test)]
mod testing;
mod transfer;

use crate::fs::IoResultExt;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use crate::object::{Commit, DecodeError, EntryMode, Kind, ObjectId, Prefix, RepoPath, Tree};

use backend::{Backend, FileKind, LocalBackend};
pub use chunked::{ChunkList, ChunkParams, ChunkRef, MAX_CHUNK_CHAIN, chunk_key};
use compress::compress;
pub use files::{ObjectCounts, StoredCopy, StoredSize};
pub use loose::MAX_IN_MEMORY_SIZE;
pub use pack::PackInfo;
use pack::{Pack, PackWriter};
use packed::{CachedBlock, Copy, Place};
pub use repack::{
    Candidate, GEOMETRIC_FACTOR, MAX_DELTA_CHAIN, PackGeometry, PackSummary, RepackOptions,
    RepackOutcome, RepackPlan, WritePackOutcome, geometric_split,
};
pub use transfer::{VerifiedPack, index_object_ids};

use std::sync::{Arc, Mutex, RwLock};

/// An error from the object database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No object has this id.
    #[error("object {id} not found")]
    NotFound {
        /// The id looked for.
        id: ObjectId,
    },
    /// The stored bytes of an object are damaged.
    #[error("object {id} is corrupt: {reason}")]
    Corrupt {
        /// The object.
        id: ObjectId,
        /// What was found.
        reason: String,
    },
    /// The object is of another kind than the caller needs.
    #[error("object {id} is a {actual}, not a {expected}")]
    ObjectKind {
        /// The object.
        id: ObjectId,
        /// The kind wanted.
        expected: Kind,
        /// The kind found.
        actual: Kind,
    },
    /// The object's content does not parse as its kind.
    #[error("object {id} is malformed")]
    Decode {
        /// The object.
        id: ObjectId,
        /// What is wrong.
        source: DecodeError,
    },
    /// The object is too large to hold in memory; stream it instead.
    #[error("object {id} is {size} bytes, more than {limit} can be read into memory")]
    TooLarge {
        /// The object.
        id: ObjectId,
        /// Its declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Content being stored did not have the size announced for it (a file that
    /// changed while it was read).
    #[error("expected {expected} bytes but read {actual}")]
    SizeChanged {
        /// Bytes announced.
        expected: u64,
        /// Bytes found.
        actual: u64,
    },
    /// A pack or its index is damaged.
    #[error("{pack}{}: {reason}", offset.map(|o| format!(" at offset {o}")).unwrap_or_default())]
    BadPack {
        /// The pack (or index file).
        pack: String,
        /// Where in the pack, when known.
        offset: Option<u64>,
        /// What is wrong.
        reason: String,
    },
    /// A filesystem operation failed.
    #[error(transparent)]
    Io(#[from] crate::fs::IoError),
    /// The reader of content being stored failed.
    #[error("could not read the content to store")]
    Input(#[source] io::Error),
    /// Compressing an object failed (zstd could not allocate).
    #[error("could not compress")]
    Compress(#[source] io::Error),
    /// The writer an object's content was streamed to failed.
    #[error("could not write the content out")]
    Output(#[source] io::Error),
}

/// Result type of the object database.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An object read from the store: its kind and its content (without header).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    /// Blob, tree or commit.
    pub kind: Kind,
    /// The content bytes, verified against the id.
    pub data: Vec<u8>,
}

/// What a write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// The id of the object.
    pub id: ObjectId,
    /// Whether the object was new to the store (false: it was there already and
    /// nothing was written).
    pub new: bool,
    /// Bytes added to the store (compressed size; 0 when not new).
    pub stored_bytes: u64,
}

/// Counters of the work an [`Odb`] has done since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Objects read (decompressed and verified).
    pub reads: u64,
    /// Objects written (new ones only).
    pub writes: u64,
}

/// The object database of one repository.
#[derive(Debug)]
pub struct Odb {
    backend: Arc<dyn Backend>,
    level: AtomicI32,
    reads: AtomicU64,
    writes: AtomicU64,
    packs: RwLock<Vec<Arc<Pack>>>,
    pending: Mutex<Option<PackWriter>>,
    /// Recently decompressed blocks (pack name, offset), newest last.
    blocks: Mutex<Vec<CachedBlock>>,
    /// How large blobs are cut into chunks.
    chunking: RwLock<ChunkParams>,
    /// Large blobs being chunked now.
    chunk_writers: chunked::Slots,
}

impl std::fmt::Debug for PackWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackWriter({} objects)", self.len())
    }
}

/// Objects larger than this are never packed: they stay loose, written and read as
/// streams in bounded memory.
pub const MAX_PACKED_SIZE: u64 = 16 << 20;

/// The writer [`Odb::stream_blob`] writes to, noting whether anything went out.
struct Output<'w> {
    inner: &'w mut dyn io::Write,
    written: u64,
    failed: bool,
}

impl io::Write for Output<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf).inspect_err(|_| self.failed = true)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().inspect_err(|_| self.failed = true)
    }
}

impl Odb {
    /// The zstd level new objects are compressed at (`cow gc` recompresses).
    pub const DEFAULT_LEVEL: i32 = 3;

    /// The zstd level new objects are written at.
    pub fn level(&self) -> i32 {
        self.level.load(Ordering::Relaxed)
    }

    /// Sets the zstd level for objects written from now on (1 to 19).
    pub fn set_level(&self, level: i32) {
        self.level.store(level.clamp(1, 19), Ordering::Relaxed);
    }

    /// Opens the object database in `dir` (a repository's `.cow/objects`).
    pub fn at(dir: impl Into<PathBuf>) -> Odb {
        Odb::with_backend(Arc::new(LocalBackend::new(dir)))
    }

    /// Opens the object database whose files `backend` stores.
    pub fn with_backend(backend: Arc<dyn Backend>) -> Odb {
        let odb = Odb {
            backend,
            level: AtomicI32::new(Self::DEFAULT_LEVEL),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            packs: RwLock::new(Vec::new()),
            pending: Mutex::new(None),
            blocks: Mutex::new(Vec::new()),
            chunking: RwLock::new(ChunkParams::DEFAULT),
            chunk_writers: chunked::Slots::new(chunked::CHUNK_WRITERS),
        };
        odb.reload_packs();
        odb
    }

    /// The storage backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Starts collecting new objects into one pack instead of loose files (see
    /// [`Odb::finish_pack`]). Large objects stay loose.
    pub fn begin_pack(&self) -> Result<()> {
        let writer = PackWriter::new(Arc::clone(&self.backend))?;
        *self.pending.lock().expect("no panics while held") = Some(writer);
        Ok(())
    }

    /// Drops the pack [`Odb::begin_pack`] started, and what it held.
    pub fn abort_pack(&self) {
        self.pending.lock().expect("no panics while held").take();
    }

    /// Ends the pack [`Odb::begin_pack`] started. With fewer than `min_objects`
    /// objects, they are written loose instead (a pack per tiny commit would only add
    /// files); otherwise the pack is synced and renamed into place.
    pub fn finish_pack(&self, min_objects: usize) -> Result<Option<PackInfo>> {
        let Some(writer) = self.pending.lock().expect("no panics while held").take() else {
            return Ok(None);
        };
        // Chunks are never loose.
        if writer.len() >= min_objects || writer.holds_chunks() {
            let info = writer.finish()?;
            self.reload_packs();
            return Ok(info);
        }
        // Loosen: read each object back from the unfinished pack.
        for (id, kind, data) in writer.drain_objects()? {
            self.write_loose_buf(id, kind, &data)?;
        }
        Ok(None)
    }

    /// Counters of reads and writes so far.
    pub fn stats(&self) -> Stats {
        Stats {
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
        }
    }

    /// Whether the store has the object. An empty file (what a crash can leave of an
    /// object that was never synced) does not count, so the next write replaces it.
    pub fn contains(&self, id: &ObjectId) -> bool {
        self.is_pending(id)
            || self
                .find_copy(id, |place| match place {
                    Place::Packed(..) => Copy::Good(()),
                    Place::Loose if self.loose_present(id) => Copy::Good(()),
                    Place::Loose => Copy::Absent,
                })
                .is_ok_and(|found| found.is_some())
    }

    /// Whether the pack being written holds `id`.
    fn is_pending(&self, id: &ObjectId) -> bool {
        self.pending
            .lock()
            .expect("no panics while held")
            .as_ref()
            .is_some_and(|w| w.contains(id))
    }

    /// [`Odb::contains`] without looking for packs written since the last look: a
    /// writer asks this for every object it stores, and a miss only costs a duplicate.
    fn contains_known(&self, id: &ObjectId) -> bool {
        !self.packed_copies(id).is_empty() || self.is_pending(id) || self.loose_present(id)
    }

    /// Stores an object whose content is in memory. Nothing is written when the object
    /// exists already.
    pub fn write(&self, kind: Kind, data: &[u8]) -> Result<Written> {
        if kind == Kind::Blob && data.len() as u64 >= self.chunk_params().threshold {
            let written = self.write_chunked(data.len() as u64, data, None)?;
            self.count_write(&written);
            return Ok(written);
        }
        let id = ObjectId::hash(kind, data);
        if self.contains_known(&id) {
            return Ok(Written {
                id,
                new: false,
                stored_bytes: 0,
            });
        }
        let packing = self.pending.lock().expect("no panics while held").is_some();
        let written = if packing && (data.len() as u64) <= MAX_PACKED_SIZE {
            // Compress outside the lock; writers on other threads append meanwhile.
            let frame = compress(data, self.level()).map_err(Error::Compress)?;
            let mut pending = self.pending.lock().expect("no panics while held");
            match pending.as_mut() {
                Some(w) if w.contains(&id) => Written {
                    id,
                    new: false,
                    stored_bytes: 0,
                },
                Some(w) => Written {
                    id,
                    new: true,
                    stored_bytes: w.add_frame(id, kind, data.len() as u64, None, &frame)?,
                },
                None => {
                    drop(pending);
                    self.write_loose_buf(id, kind, data)?
                }
            }
        } else {
            self.write_loose_buf(id, kind, data)?
        };
        self.count_write(&written);
        Ok(written)
    }

    /// Stores an object of `size` bytes streamed from `reader`, in one pass and in
    /// bounded memory: a blob of at least [`ChunkParams::threshold`] bytes in chunks
    /// (see [`ChunkParams`]), anything else as one loose object. Fails with
    /// [`Error::SizeChanged`] when the reader yields more or fewer than `size` bytes
    /// (and, but for chunks nothing refers to, stores nothing).
    pub fn write_stream(&self, kind: Kind, size: u64, reader: impl Read + Send) -> Result<Written> {
        let written = if kind == Kind::Blob && size >= self.chunk_params().threshold {
            self.write_chunked(size, reader, None)?
        } else {
            self.write_loose_stream(kind, size, reader)?
        };
        self.count_write(&written);
        Ok(written)
    }

    /// [`Odb::write_stream`] of a blob that is a new version of `previous`: when both
    /// are stored in chunks, a new chunk may be stored as a delta against the chunk at
    /// the same offset of `previous` (see [`MAX_CHUNK_CHAIN`]).
    pub fn write_blob_stream(
        &self,
        size: u64,
        reader: impl Read + Send,
        previous: Option<&ObjectId>,
    ) -> Result<Written> {
        if size < self.chunk_params().threshold {
            return self.write_stream(Kind::Blob, size, reader);
        }
        let written = self.write_chunked(size, reader, previous)?;
        self.count_write(&written);
        Ok(written)
    }

    fn count_write(&self, written: &Written) {
        if written.new {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Stores a blob.
    pub fn write_blob(&self, data: &[u8]) -> Result<Written> {
        self.write(Kind::Blob, data)
    }

    /// Stores a tree.
    #[doc(alias = "write-tree")]
    pub fn write_tree(&self, tree: &Tree) -> Result<Written> {
        self.write(Kind::Tree, &tree.encode())
    }

    /// Stores a commit.
    #[doc(alias = "commit-tree")]
    pub fn write_commit(&self, commit: &Commit) -> Result<Written> {
        self.write(Kind::Commit, &commit.encode())
    }

    /// Reads and verifies an object; `None` when it is absent.
    pub fn try_read(&self, id: &ObjectId) -> Result<Option<Object>> {
        let obj = self.read_object(id, 0, &mut Vec::new())?;
        if obj.is_some() {
            self.reads.fetch_add(1, Ordering::Relaxed);
        }
        Ok(obj)
    }

    /// Reads and verifies an object.
    pub fn read(&self, id: &ObjectId) -> Result<Object> {
        self.try_read(id)?.ok_or(Error::NotFound { id: *id })
    }

    /// Reads an object's kind and size without reading its content.
    pub fn read_header(&self, id: &ObjectId) -> Result<(Kind, u64)> {
        self.find_copy(id, |place| match place {
            Place::Packed(pack, offset) => pack
                .header(offset)
                .map(|h| match h.role {
                    pack::Role::List { blob_size } => Some((Kind::Blob, blob_size)),
                    _ => Some((h.kind, h.size)),
                })
                .into(),
            Place::Loose => self.read_loose_header(id).into(),
        })?
        .ok_or(Error::NotFound { id: *id })
    }

    /// Reads an object through, checking its hash and size without holding it in
    /// memory; returns its kind and size. Use it where a header alone would be trusted.
    pub fn verify(&self, id: &ObjectId) -> Result<(Kind, u64)> {
        let found = self
            .find_copy(id, |place| self.verify_copy(id, place))?
            .ok_or(Error::NotFound { id: *id })?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(found)
    }

    /// Reads one copy of an object through, as [`Odb::verify`] does.
    fn verify_copy(&self, id: &ObjectId, place: Place<'_>) -> Copy<(Kind, u64)> {
        match place {
            Place::Packed(pack, offset) => {
                let record = match self.read_record(
                    packed::Namespace::Objects,
                    id,
                    pack,
                    offset,
                    0,
                    &mut Vec::new(),
                ) {
                    Ok(record) => record,
                    Err(e) => return Copy::Bad(e),
                };
                match record.list {
                    None => Copy::Good((record.header.kind, record.data.len() as u64)),
                    Some(list) => self
                        .stream_chunks(id, &list, &mut io::sink())
                        .map(|size| Some((Kind::Blob, size)))
                        .into(),
                }
            }
            Place::Loose => self.verify_loose(id).into(),
        }
    }

    /// Reads every copy of an object through (each pack's, then the loose one), as
    /// [`Odb::verify`] does, and returns what each gave: `fsck` reports a bad copy even
    /// where another is intact. A single [`Error::NotFound`] when there is no copy.
    pub fn verify_each_copy(&self, id: &ObjectId) -> Vec<Result<(Kind, u64)>> {
        let mut results = Vec::new();
        // Every pack's copy, then the loose one, which ends the search unless nothing
        // was found (then packs are reloaded, as for any read).
        let _ = self.find_copy(id, |place| {
            match self.verify_copy(id, place) {
                Copy::Good(found) => results.push(Ok(found)),
                Copy::Bad(e) | Copy::Fatal(e) => results.push(Err(e)),
                Copy::Absent => {}
            }
            match place {
                Place::Loose if !results.is_empty() => Copy::Good(()),
                _ => Copy::Absent,
            }
        });
        if results.is_empty() {
            results.push(Err(Error::NotFound { id: *id }));
        }
        results
    }

    /// Reads an object that must be of `kind`.
    pub fn read_kind(&self, id: &ObjectId, kind: Kind) -> Result<Vec<u8>> {
        let obj = self.read(id)?;
        if obj.kind != kind {
            return Err(Error::ObjectKind {
                id: *id,
                expected: kind,
                actual: obj.kind,
            });
        }
        Ok(obj.data)
    }

    /// Reads and decodes a tree, checking every entry.
    pub fn find_tree(&self, id: &ObjectId) -> Result<Tree> {
        let data = self.read_kind(id, Kind::Tree)?;
        Tree::decode(&data).map_err(|source| Error::Decode { id: *id, source })
    }

    /// The mode and id of what `path` names below `tree` (the root is `tree`
    /// itself), or `None` when a name is missing or a name before the last is not a
    /// directory.
    pub fn tree_entry_at(
        &self,
        tree: &ObjectId,
        path: &RepoPath,
    ) -> Result<Option<(EntryMode, ObjectId)>> {
        let mut at = (EntryMode::Tree, *tree);
        for name in path.components() {
            if !at.0.is_tree() {
                return Ok(None);
            }
            match self.find_tree(&at.1)?.find(name) {
                Some(entry) => at = (entry.mode, entry.id),
                None => return Ok(None),
            }
        }
        Ok(Some(at))
    }

    /// Reads and decodes a commit.
    pub fn find_commit(&self, id: &ObjectId) -> Result<Commit> {
        let data = self.read_kind(id, Kind::Commit)?;
        Commit::decode(&data).map_err(|source| Error::Decode { id: *id, source })
    }

    /// Reads a blob.
    pub fn find_blob(&self, id: &ObjectId) -> Result<Vec<u8>> {
        self.read_kind(id, Kind::Blob)
    }

    /// Streams a blob's content into `out` in bounded memory, verifying it as it goes.
    /// Returns the number of bytes written. On corruption the error comes after the
    /// bytes were written, so callers that must not expose bad bytes write to a
    /// temporary place first.
    pub fn stream_blob(&self, id: &ObjectId, out: &mut dyn io::Write) -> Result<u64> {
        let mut out = Output {
            inner: out,
            written: 0,
            failed: false,
        };
        let n = self
            .find_copy(id, |place| {
                let result = match place {
                    // A packed record is at most MAX_PACKED_SIZE: read whole, then
                    // written; a chunked blob a chunk at a time.
                    Place::Packed(pack, offset) => self
                        .read_record(
                            packed::Namespace::Objects,
                            id,
                            pack,
                            offset,
                            0,
                            &mut Vec::new(),
                        )
                        .and_then(|record| {
                            if let Some(list) = record.list {
                                return self.stream_chunks(id, &list, &mut out).map(Some);
                            }
                            if record.header.kind != Kind::Blob {
                                return Err(Error::ObjectKind {
                                    id: *id,
                                    expected: Kind::Blob,
                                    actual: record.header.kind,
                                });
                            }
                            io::Write::write_all(&mut out, &record.data).map_err(Error::Output)?;
                            Ok(Some(record.data.len() as u64))
                        }),
                    Place::Loose => self.stream_loose(id, Kind::Blob, &mut out),
                };
                match result {
                    // Bytes of this copy went out already: no other copy can follow.
                    Err(e) if out.written > 0 || out.failed => Copy::Fatal(e),
                    result => result.into(),
                }
            })?
            .ok_or(Error::NotFound { id: *id })?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(n)
    }

    /// All ids that start with `prefix`, sorted.
    pub fn ids_with_prefix(&self, prefix: &Prefix) -> Result<Vec<ObjectId>> {
        let search = || -> Result<Vec<ObjectId>> {
            let mut ids = self.loose_ids_with_prefix(prefix)?;
            for pack in self.packs() {
                ids.extend(pack.ids_with_prefix(prefix));
            }
            ids.sort();
            ids.dedup();
            Ok(ids)
        };
        let ids = search()?;
        if !ids.is_empty() {
            return Ok(ids);
        }
        // Moved into a pack written since this store listed them (by gc)?
        let refresh = self.refresh_packs();
        if refresh.added || refresh.vanished {
            return search();
        }
        Ok(ids)
    }

    /// Every object id in the store.
    pub fn all_ids(&self) -> Result<Vec<ObjectId>> {
        let mut ids = self.loose_ids()?;
        for pack in self.packs() {
            ids.extend(pack.object_entries().map(|(id, _)| id));
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Every object id, loose ones first, then each pack's in the order of its
    /// records (reading in this order decompresses each block once).
    pub fn ids_in_storage_order(&self) -> Result<Vec<ObjectId>> {
        let mut ids = self.loose_ids()?;
        for pack in self.packs() {
            let mut entries: Vec<(ObjectId, u64)> = pack.object_entries().collect();
            entries.sort_unstable_by_key(|e| e.1);
            ids.extend(entries.into_iter().map(|(id, _)| id));
        }
        let mut seen = std::collections::HashSet::with_capacity(ids.len());
        ids.retain(|id| seen.insert(*id));
        Ok(ids)
    }

    /// The shortest prefix of `id`, at least `min_len` digits, that no other object in
    /// the store shares.
    pub fn shortest_unique_prefix(&self, id: &ObjectId, min_len: usize) -> Result<String> {
        let mut hex = [0u8; 64];
        let hex = id.hex_buf(&mut hex);
        let dir_prefix = Prefix::from_hex(&hex[..Prefix::MIN_LEN]).expect("4 hex digits");
        // Loose ids sharing the first digits, and in each pack (sorted) the ids on
        // either side of this one: no other id shares a longer prefix with it.
        let mut neighbours = self.loose_ids_with_prefix(&dir_prefix)?;
        for pack in self.packs() {
            neighbours.extend(pack.neighbours(id).into_iter().flatten());
        }
        let mut len = min_len.clamp(Prefix::MIN_LEN, ObjectId::HEX_LEN);
        for other in neighbours.iter().filter(|o| *o != id) {
            let mut buf = [0u8; 64];
            let common = other
                .hex_buf(&mut buf)
                .bytes()
                .zip(hex.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            len = len.max(common + 1);
        }
        Ok(hex[..len.min(ObjectId::HEX_LEN)].to_owned())
    }

    /// Makes every object written so far durable; call it before a ref points at new
    /// objects. Each object's data was synced before it was renamed into place, and a
    /// pack is synced with its directory when finished: what is left is the
    /// directories that gained loose objects. Nothing else is flushed, so the cost
    /// follows what this store wrote, not what other programs wrote to the filesystem.
    pub fn sync(&self) -> Result<()> {
        let location = self.backend.location(FileKind::Loose, "");
        Ok(self.backend.sync().context("sync", location)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odb::testing::{Fixture, TestResult, both};

    both!(
        write_read_and_skip_existing,
        stream_write_equals_buffered_write,
        stream_write_refuses_size_change_and_leaves_nothing,
        corruption_is_named,
        prefixes,
        readers_find_objects_a_gc_moved_after_they_listed_packs,
        a_pack_removed_while_the_list_is_reloaded_is_looked_for_again,
        damaged_copies_along_a_delta_chain_are_tried_once_each,
        a_corrupt_packed_copy_gives_way_to_an_intact_one,
        repack_keeps_every_object_readable_and_removes_old_copies,
    );

    thread_local! {
        /// Run once, by this thread's next pack reload, between listing the packs and
        /// opening what it listed.
        static AFTER_LISTING: std::cell::RefCell<Option<Box<dyn FnOnce()>>> =
            std::cell::RefCell::new(None);
    }

    pub(super) fn after_listing_packs() {
        if let Some(hook) = AFTER_LISTING.with(|h| h.borrow_mut().take()) {
            hook();
        }
    }

    fn write_read_and_skip_existing(store: &Fixture) -> TestResult {
        let odb = store.odb();
        let w = odb.write_blob(b"hello\n")?;
        assert!(w.new && w.stored_bytes > 0);
        assert_eq!(w.id, ObjectId::hash(Kind::Blob, b"hello\n"));
        let again = odb.write_blob(b"hello\n")?;
        assert!(!again.new);
        assert_eq!(again.stored_bytes, 0);
        assert_eq!(odb.find_blob(&w.id)?, b"hello\n");
        assert_eq!(odb.read_header(&w.id)?, (Kind::Blob, 6));
        assert_eq!(
            odb.stats(),
            Stats {
                reads: 1,
                writes: 1
            }
        );
        // Another store over the same files sees it.
        assert_eq!(store.odb().find_blob(&w.id)?, b"hello\n");
        Ok(())
    }

    fn stream_write_equals_buffered_write(store: &Fixture) -> TestResult {
        let odb = store.odb();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let streamed = odb.write_stream(Kind::Blob, data.len() as u64, &data[..])?;
        assert_eq!(streamed.id, ObjectId::hash(Kind::Blob, &data));
        assert!(streamed.new);
        assert!(
            !odb.write_stream(Kind::Blob, data.len() as u64, &data[..])?
                .new
        );
        let mut out = Vec::new();
        assert_eq!(odb.stream_blob(&streamed.id, &mut out)?, data.len() as u64);
        assert_eq!(out, data);
        Ok(())
    }

    fn stream_write_refuses_size_change_and_leaves_nothing(store: &Fixture) -> TestResult {
        let odb = store.odb();
        let err = odb.write_stream(Kind::Blob, 10, &b"short"[..]).unwrap_err();
        assert!(matches!(
            err,
            Error::SizeChanged {
                expected: 10,
                actual: 5
            }
        ));
        let err = odb.write_stream(Kind::Blob, 2, &b"longer"[..]).unwrap_err();
        assert!(matches!(err, Error::SizeChanged { expected: 2, .. }));
        assert!(odb.all_ids()?.is_empty());
        assert_eq!(store.files(), Vec::<String>::new());
        Ok(())
    }

    fn corruption_is_named(store: &Fixture) -> TestResult {
        let odb = store.odb();
        let id = odb.write_blob(b"precious")?.id;
        let name = id.to_string();
        let replace = |bytes: Vec<u8>| store.patch(FileKind::Loose, &name, |b| *b = bytes);
        // Replace the content by a valid frame of other bytes.
        replace(zstd::encode_all(&b"blob 8\0tampered"[..], 3)?);
        let err = odb.read(&id).unwrap_err().to_string();
        assert!(err.contains(&id.to_string()), "{err}");
        // A truncated frame.
        let good = zstd::encode_all(&b"blob 8\0precious"[..], 3)?;
        replace(good[..good.len() - 3].to_vec());
        let err = odb.read(&id).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }), "{err}");
        // A huge declared size is refused before allocating.
        replace(zstd::encode_all(&b"blob 10737418240\0x"[..], 3)?);
        let err = odb.read(&id).unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { .. } | Error::Corrupt { .. }),
            "{err}"
        );
        Ok(())
    }

    fn prefixes(store: &Fixture) -> TestResult {
        let odb = store.odb();
        let id = odb.write_blob(b"a")?.id;
        let p = Prefix::from_hex(&id.to_string()[..5])?;
        assert_eq!(odb.ids_with_prefix(&p)?, vec![id]);
        assert_eq!(odb.shortest_unique_prefix(&id, 7)?.len(), 7);
        Ok(())
    }

    /// Writes a pack holding `objects` (blobs) into the store, as another process
    /// would; returns its name.
    fn write_pack(store: &Fixture, objects: &[&[u8]]) -> Result<String> {
        let mut writer = PackWriter::new(Arc::clone(&store.backend))?;
        for data in objects {
            writer.add(ObjectId::hash(Kind::Blob, data), Kind::Blob, data, 3)?;
        }
        Ok(writer.finish()?.expect("not empty").name)
    }

    fn remove_loose(store: &Fixture, id: &ObjectId) {
        store
            .backend
            .remove(FileKind::Loose, &id.to_string())
            .unwrap();
    }

    /// Every read path, and what each must give for the blob `data`.
    fn assert_readable(odb: &Odb, data: &[u8]) -> TestResult {
        let id = ObjectId::hash(Kind::Blob, data);
        assert!(odb.contains(&id));
        assert_eq!(odb.read_header(&id)?, (Kind::Blob, data.len() as u64));
        assert_eq!(odb.verify(&id)?, (Kind::Blob, data.len() as u64));
        let mut out = Vec::new();
        assert_eq!(odb.stream_blob(&id, &mut out)?, data.len() as u64);
        assert_eq!(out, data);
        assert_eq!(odb.find_blob(&id)?, data);
        Ok(())
    }

    fn readers_find_objects_a_gc_moved_after_they_listed_packs(store: &Fixture) -> TestResult {
        let writer = store.odb();
        let data: &[u8] = b"moved into a pack by gc\n";
        let id = writer.write_blob(data)?.id;
        // The reader lists packs (there are none) and knows the object loose.
        let reader = store.odb();
        // gc: packs it, then removes the loose copy.
        write_pack(store, &[data])?;
        remove_loose(store, &id);
        assert_readable(&reader, data)?;
        // Each path on its own, from a store as stale as the first.
        let other: &[u8] = b"another object\n";
        let other_id = writer.write_blob(other)?.id;
        let readers = [store.odb(), store.odb(), store.odb(), store.odb()];
        write_pack(store, &[other])?;
        remove_loose(store, &other_id);
        assert!(readers[0].contains(&other_id));
        assert!(readers[1].verify(&other_id).is_ok());
        assert!(readers[2].stream_blob(&other_id, &mut io::sink()).is_ok());
        assert!(readers[3].read_header(&other_id).is_ok());
        Ok(())
    }

    fn a_pack_removed_while_the_list_is_reloaded_is_looked_for_again(
        store: &Fixture,
    ) -> TestResult {
        let data: &[u8] = b"repacked twice\n";
        let reader = store.odb();
        let first = write_pack(store, &[data])?;
        // Between the reader's listing (which names the first pack) and its open, a
        // second gc writes a new pack and removes the first.
        let backend = Arc::clone(&store.backend);
        AFTER_LISTING.with(|h| {
            *h.borrow_mut() = Some(Box::new(move || {
                let mut writer = PackWriter::new(Arc::clone(&backend)).expect("pack");
                for data in [data, b"and something new\n"] {
                    let id = ObjectId::hash(Kind::Blob, data);
                    writer.add(id, Kind::Blob, data, 3).expect("add");
                }
                writer.finish().expect("finish");
                backend
                    .remove(FileKind::Index, &first)
                    .expect("remove index");
                backend.remove(FileKind::Pack, &first).expect("remove pack");
            }))
        });
        assert_readable(&reader, data)?;
        assert!(AFTER_LISTING.with(|h| h.borrow().is_none()), "the hook ran");
        Ok(())
    }

    /// Flips a byte in the middle of the frame of `id`'s record in pack `name`.
    fn corrupt_packed_copy(store: &Fixture, name: &str, id: &ObjectId) -> Result<u64> {
        let pack = Pack::open(&*store.backend, name)?;
        let offset = pack.find(id).expect("in the pack");
        let header = pack.header(offset)?;
        store.patch(FileKind::Pack, name, |bytes| {
            bytes[(header.frame_offset + header.frame_len / 2) as usize] ^= 0x55;
        });
        Ok(offset)
    }

    fn damaged_copies_along_a_delta_chain_are_tried_once_each(store: &Fixture) -> TestResult {
        // A chain of deltas, each against the one before, in two packs.
        let versions: Vec<Vec<u8>> = (0..24)
            .map(|i| format!("{}version {i}\n", "a line shared by all\n".repeat(40)).into_bytes())
            .collect();
        let ids: Vec<ObjectId> = versions
            .iter()
            .map(|v| ObjectId::hash(Kind::Blob, v))
            .collect();
        let mut packs = Vec::new();
        for extra in [&b"first"[..], b"second"] {
            let mut writer = PackWriter::new(Arc::clone(&store.backend))?;
            writer.add(ids[0], Kind::Blob, &versions[0], 3)?;
            for i in 1..versions.len() {
                let mut c = zstd::bulk::Compressor::with_dictionary(3, &versions[i - 1])?;
                let frame = c.compress(&versions[i])?;
                let size = versions[i].len() as u64;
                writer.add_frame(ids[i], Kind::Blob, size, Some(&ids[i - 1]), &frame)?;
            }
            writer.add(ObjectId::hash(Kind::Blob, extra), Kind::Blob, extra, 3)?;
            packs.push(writer.finish()?.expect("not empty").name);
        }
        let top = ids[ids.len() - 1];
        assert_eq!(store.odb().find_blob(&top)?, versions[versions.len() - 1]);
        // The chain's root is damaged in both: nothing in the chain can be read, and
        // finding that out tries each copy once, not 2^24 times.
        for name in &packs {
            corrupt_packed_copy(store, name, &ids[0])?;
        }
        let started = std::time::Instant::now();
        let err = store.odb().read(&top).unwrap_err();
        assert!(err.to_string().contains(&ids[0].to_string()), "{err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            started.elapsed()
        );
        Ok(())
    }

    fn a_corrupt_packed_copy_gives_way_to_an_intact_one(store: &Fixture) -> TestResult {
        let odb = store.odb();
        let data = b"a precious object, stored twice\n".repeat(20);
        let id = odb.write_blob(&data)?.id;
        let name = write_pack(store, &[&data])?;
        let offset = corrupt_packed_copy(store, &name, &id)?;
        // The loose copy is intact: every read path finds it.
        let reader = store.odb();
        assert_readable(&reader, &data)?;
        // Each copy is checked on its own: the packed one is reported, with its place.
        let copies = reader.verify_each_copy(&id);
        assert_eq!(copies.len(), 2, "{copies:?}");
        let bad = copies[0].as_ref().unwrap_err().to_string();
        assert!(
            bad.contains(&name) && bad.contains(&format!("offset {offset}")),
            "{bad}"
        );
        assert_eq!(
            copies[1].as_ref().ok(),
            Some(&(Kind::Blob, data.len() as u64))
        );
        // Another pack's intact copy does as well as a loose one.
        remove_loose(store, &id);
        assert!(store.odb().read(&id).is_err());
        let second = write_pack(store, &[&data, b"so that the name differs\n"])?;
        assert_readable(&store.odb(), &data)?;
        // With no intact copy left, the error is the corrupt copy's.
        corrupt_packed_copy(store, &second, &id)?;
        let err = store.odb().read(&id).unwrap_err();
        assert!(
            matches!(err, Error::Corrupt { .. } | Error::BadPack { .. }),
            "{err}"
        );
        Ok(())
    }

    fn repack_keeps_every_object_readable_and_removes_old_copies(store: &Fixture) -> TestResult {
        let odb = store.odb();
        // Versions of one file (deltas), many small files (blocks), a tree, and an
        // unreachable object kept as cruft with its time.
        // Versions of a file too big for a block, which compresses badly alone
        // (pseudo-random lines) but well against the version before.
        let mut state = 1u64;
        let base: String = (0..4000)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                format!("{:016x}\n", state)
            })
            .collect();
        let mut candidates = Vec::new();
        let mut contents = Vec::new();
        for i in 0..5 {
            let data = format!("{base}version {i}\n").into_bytes();
            let id = odb.write_blob(&data)?.id;
            candidates.push(Candidate {
                id,
                kind: Kind::Blob,
                path: b"file.txt".to_vec(),
            });
            contents.push((id, data));
        }
        for i in 0..200 {
            let data = format!("small file {i}\n").into_bytes();
            let id = odb.write_blob(&data)?.id;
            candidates.push(Candidate {
                id,
                kind: Kind::Blob,
                path: format!("dir/f{i:03}").into_bytes(),
            });
            contents.push((id, data));
        }
        let cruft = odb.write_blob(b"unreachable but young\n")?.id;
        let old_pack = write_pack(store, &[b"in an old pack\n"])?;
        let outcome = odb.repack(
            candidates,
            vec![(cruft, 1_700_000_000)],
            &RepackOptions::default(),
        )?;
        assert_eq!(outcome.packed, 206);
        assert!(outcome.deltas >= 1, "{outcome:?}");
        assert!(outcome.in_blocks >= 100, "{outcome:?}");
        assert_eq!(outcome.removed_packs, 1);
        assert_eq!(
            outcome.removed_loose, 206,
            "the cruft object's loose copy too"
        );
        // Everything reads back from a fresh store: from the new pack and the cruft
        // pack, which records the object's time; the old pack is gone.
        let fresh = store.odb();
        for (id, data) in &contents {
            assert_eq!(&fresh.find_blob(id)?, data);
        }
        assert!(fresh.loose_object_ids()?.is_empty());
        let names = fresh.pack_names();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(!names.contains(&old_pack));
        let times = fresh.packed_times(|id| *id != cruft);
        assert_eq!(times.get(&cruft), Some(&1_700_000_000));
        assert!(
            fresh
                .find_blob(&ObjectId::hash(Kind::Blob, b"in an old pack\n"))
                .is_err()
        );
        Ok(())
    }
}
