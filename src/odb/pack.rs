//! Packs: many objects in one file.
//!
//! A `.pack` is `CWPACK\0\x01`, then one record per object, then the SHA-256 of all
//! that came before. A record is: a type byte (1 blob, 2 tree, 3 commit, 4 tag; `0x80`
//! set for a delta), the content size as a varint, for a delta the 32-byte id of its
//! base (or, with `0x10` also set, the base's position in the pack's sorted index as a
//! varint), the frame length as a varint, and one zstd frame of the content (a delta's
//! frame is compressed with its base's content as the dictionary). No record's content
//! is larger than [`super::MAX_PACKED_SIZE`]; a reader refuses a larger declared size
//! before allocating anything for it.
//!
//! A pack may start with a dictionary record (type 5: its length as a varint, then the
//! raw dictionary): records with `0x40` set in their type byte are compressed with it.
//! Every pack a repack writes starts with one, empty when it has no dictionary: that
//! tells gc its own packs, which it may keep as they are, from the packs a commit
//! writes quickly (each object alone, at the commit's level), which it rolls up.
//!
//! Small objects may share one frame (solid compression, so similar files compress
//! against each other): a block record (type 6, `0x40` if it uses the dictionary, the
//! content length and frame length as varints, then the frame) holds their contents
//! back to back, and each member has a record of its own with `0x20` set: type, size,
//! then as varints the distance back to its block record and where its content starts
//! in the block. A member is never a delta, and a block never exceeds
//! [`MAX_BLOCK_SIZE`].
//!
//! Every pack cow writes is self-contained, but for chunk deltas in the packs a store
//! writes for itself (see [`PackWriter::allow_external_chunk_bases`]): a delta's base is in the same pack
//! ([`PackWriter::finish`] refuses a pack that names a base it does not hold), so gc can
//! rewrite or remove one pack without breaking another. A reader resolves a base named
//! by id in any pack or loose file, as the format allows.
//!
//! Large blobs are stored in chunks (see [`super::chunked`]): a chunk record (type 7,
//! `0x80` set for a delta against another chunk, its base named as above) holds one
//! chunk of content under the chunk's own key, and a chunk-list record (type 8: the
//! list's encoded size, the blob's size and the frame length as varints, then one zstd
//! frame of the encoded list) stands under the blob's id. Chunk keys are listed in the
//! index with [`CHUNK_ENTRY`] set in their offset, so that lookups of objects never
//! see them; chunk lists with [`LIST_ENTRY`], so that finding a blob's chunks needs no
//! read of the pack.
//!
//! The `.idx` beside it is `CWIDX\0\0\x01`, a fan-out table of 256 big-endian u32
//! counts, the sorted ids, their big-endian u64 record offsets, the pack's checksum and
//! the SHA-256 of the index itself: a lookup is one binary search and one read. A pack
//! is named after its checksum. Both are written to temporary files, synced, and
//! renamed into `objects/pack/` (the pack first), so a reader never sees half of one.
//! A cruft pack (see [`super::cruft`]) has a third file, renamed in before the index.

use crate::fs::IoResultExt;
use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::{Arc, OnceLock};

use sha2::{Digest, Sha256};

use super::backend::{Backend, FileBytes, FileKind, NewFile, RangeRead, ReadBackend};
use super::{Error, MAX_PACKED_SIZE, Result};
use crate::object::{Hasher, Kind, ObjectId, Prefix};

const PACK_MAGIC: &[u8; 8] = b"CWPACK\0\x01";
pub(super) const IDX_MAGIC: &[u8; 8] = b"CWIDX\0\0\x01";
const DELTA: u8 = 0x80;
const WITH_DICT: u8 = 0x40;
const IN_BLOCK: u8 = 0x20;
const BASE_BY_INDEX: u8 = 0x10;
const DICT_RECORD: u8 = 5;
const BLOCK_RECORD: u8 = 6;
const CHUNK_RECORD: u8 = 7;
const LIST_RECORD: u8 = 8;
/// Set in an index entry's offset for a chunk (a key, not an object id).
pub(super) const CHUNK_ENTRY: u64 = 1 << 63;
/// Set in an index entry's offset for a blob stored as a chunk list.
pub(super) const LIST_ENTRY: u64 = 1 << 62;
const FLAGS: u8 = DELTA | WITH_DICT | IN_BLOCK | BASE_BY_INDEX;

/// The largest block of small objects compressed together that a pack may hold.
pub(crate) const MAX_BLOCK_SIZE: u64 = 4 << 20;

fn kind_code(kind: Kind) -> u8 {
    match kind {
        Kind::Blob => 1,
        Kind::Tree => 2,
        Kind::Commit => 3,
        Kind::Tag => 4,
    }
}

fn code_kind(code: u8) -> Option<Kind> {
    Some(match code {
        1 => Kind::Blob,
        2 => Kind::Tree,
        3 => Kind::Commit,
        4 => Kind::Tag,
        _ => return None,
    })
}

pub(super) fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

pub(super) fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// Streams objects into a new pack.
pub(crate) struct PackWriter {
    backend: Arc<dyn Backend>,
    file: Box<dyn NewFile>,
    hasher: Sha256,
    offset: u64,
    entries: HashMap<ObjectId, u64>,
    /// Every object the pack will hold, sorted, when declared up front.
    expected: Option<Vec<ObjectId>>,
    /// For a cruft pack: each object's time (unix seconds), for its `.mtimes`.
    times: Option<HashMap<ObjectId, u64>>,
    /// The bases deltas were written against: each must be in the pack.
    bases: Vec<ObjectId>,
    /// Whether a chunk or chunk list was added.
    chunked: bool,
    /// Whether a chunk may be a delta against a chunk of another pack.
    external_chunk_bases: bool,
}

/// A finished pack: its name (checksum) and paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackInfo {
    /// The hex checksum that names the pack.
    pub name: String,
    /// Objects in it.
    pub objects: u64,
    /// Size of the `.pack` in bytes.
    pub bytes: u64,
}

impl PackWriter {
    /// Starts a pack in `backend`.
    pub(crate) fn new(backend: Arc<dyn Backend>) -> Result<PackWriter> {
        let file = backend.create(FileKind::Pack).context(
            "create a temporary file in",
            backend.location(FileKind::Pack, ""),
        )?;
        let mut writer = PackWriter {
            backend,
            file,
            hasher: Sha256::new(),
            offset: 0,
            entries: HashMap::new(),
            expected: None,
            times: None,
            bases: Vec::new(),
            chunked: false,
            external_chunk_bases: false,
        };
        writer.append(PACK_MAGIC)?;
        Ok(writer)
    }

    /// Starts a pack whose records may be compressed with a shared dictionary
    /// (see [`PackWriter::add_frame_with_dictionary`]). An empty dictionary still
    /// writes the record: it marks a pack a repack wrote ([`Pack::is_repacked`]).
    pub(crate) fn with_dictionary(
        backend: Arc<dyn Backend>,
        dictionary: &[u8],
    ) -> Result<PackWriter> {
        let mut writer = PackWriter::new(backend)?;
        let mut head = vec![DICT_RECORD];
        put_varint(&mut head, dictionary.len() as u64);
        writer.append(&head)?;
        writer.append(dictionary)?;
        Ok(writer)
    }

    /// Declares every object the pack will hold, so that a delta names its base by
    /// its place in the index (a byte or three) rather than by its 32-byte id.
    /// [`PackWriter::finish`] then refuses a pack holding anything else.
    pub fn expect_objects(&mut self, mut ids: Vec<ObjectId>) {
        ids.sort_unstable();
        ids.dedup();
        self.expected = Some(ids);
    }

    /// Makes this a cruft pack: [`PackWriter::finish`] records each object's time
    /// (unix seconds; objects missing from `times` get the time of the finish) in a
    /// `.mtimes` sidecar, renamed into place before the index.
    pub fn set_times(&mut self, times: HashMap<ObjectId, u64>) {
        self.times = Some(times);
    }

    /// Adds an object whose frame was compressed with the pack's dictionary.
    pub fn add_frame_with_dictionary(
        &mut self,
        id: ObjectId,
        kind: Kind,
        size: u64,
        frame: &[u8],
    ) -> Result<u64> {
        self.add_record(id, kind_code(kind) | WITH_DICT, size, None, frame)
    }

    /// Where the pack is being written, for messages.
    fn location(&self) -> std::path::PathBuf {
        self.backend.location(FileKind::Pack, "")
    }

    fn append(&mut self, bytes: &[u8]) -> Result<()> {
        self.file
            .write_all(bytes)
            .context("write a pack in", self.location())?;
        self.hasher.update(bytes);
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Whether the pack already holds `id`.
    pub fn contains(&self, id: &ObjectId) -> bool {
        self.entries.contains_key(id)
    }

    /// Bytes written so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Objects added so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds an object given its content size and its zstd frame (compressed with the
    /// content of `base` as dictionary when `base` is given). Returns the bytes the
    /// record takes.
    pub fn add_frame(
        &mut self,
        id: ObjectId,
        kind: Kind,
        size: u64,
        base: Option<&ObjectId>,
        frame: &[u8],
    ) -> Result<u64> {
        let code = kind_code(kind) | if base.is_some() { DELTA } else { 0 };
        self.add_record(id, code, size, base, frame)
    }

    /// Where `id` will sit in the index, if the pack's objects were declared.
    fn rank(&self, id: &ObjectId) -> Option<usize> {
        self.expected.as_ref()?.binary_search(id).ok()
    }

    fn add_record(
        &mut self,
        id: ObjectId,
        code: u8,
        size: u64,
        base: Option<&ObjectId>,
        frame: &[u8],
    ) -> Result<u64> {
        let start = self.offset;
        let mut head = Vec::with_capacity(48);
        head.push(code);
        put_varint(&mut head, size);
        self.bases.extend(base);
        match base.map(|b| (b, self.rank(b))) {
            Some((_, Some(rank))) => {
                head[0] |= BASE_BY_INDEX;
                put_varint(&mut head, rank as u64);
            }
            Some((base, None)) => head.extend_from_slice(base.as_bytes()),
            None => {}
        }
        put_varint(&mut head, frame.len() as u64);
        self.append(&head)?;
        self.append(frame)?;
        self.entries.insert(id, start);
        Ok(self.offset - start)
    }

    /// Adds a chunk of a large blob under its key (see [`super::chunked::chunk_key`]),
    /// given its size and zstd frame (compressed with the content of the chunk `base`
    /// as dictionary when `base` is given). Returns the bytes the record takes.
    pub fn add_chunk(
        &mut self,
        key: ObjectId,
        size: u64,
        base: Option<&ObjectId>,
        frame: &[u8],
    ) -> Result<u64> {
        let code = CHUNK_RECORD | if base.is_some() { DELTA } else { 0 };
        let n = self.add_record(key, code, size, base, frame)?;
        if self.external_chunk_bases && base.is_some() {
            // Checked by whoever allowed it (see `allow_external_chunk_bases`).
            self.bases.pop();
        }
        if let Some(offset) = self.entries.get_mut(&key) {
            *offset |= CHUNK_ENTRY;
        }
        self.chunked = true;
        Ok(n)
    }

    /// Adds the chunk list of blob `id` (`blob_size` bytes of content): `frame` is the
    /// zstd frame of the encoded list, `list_len` bytes. Returns the bytes the record
    /// takes.
    pub fn add_chunk_list(
        &mut self,
        id: ObjectId,
        blob_size: u64,
        list_len: u64,
        frame: &[u8],
    ) -> Result<u64> {
        let start = self.offset;
        let mut head = vec![LIST_RECORD];
        put_varint(&mut head, list_len);
        put_varint(&mut head, blob_size);
        put_varint(&mut head, frame.len() as u64);
        self.append(&head)?;
        self.append(frame)?;
        self.entries.insert(id, start | LIST_ENTRY);
        self.chunked = true;
        Ok(self.offset - start)
    }

    /// Lets chunks be deltas against chunks of other packs: packs a store writes for
    /// itself (a commit's, gc's), whose bases reachability keeps (see
    /// `reach::reachable_stored`); never a pack for another store.
    pub fn allow_external_chunk_bases(&mut self) {
        self.external_chunk_bases = true;
    }

    /// Whether the pack holds chunks or chunk lists (which are never written loose).
    pub fn holds_chunks(&self) -> bool {
        self.chunked
    }

    /// Adds a block: `frame` is the zstd frame (with the pack's dictionary when
    /// `uses_dictionary`) of the members' contents back to back, in the order given.
    /// Returns the bytes the block and its member records take.
    pub fn add_block(
        &mut self,
        members: &[(ObjectId, Kind, u64)],
        uses_dictionary: bool,
        frame: &[u8],
    ) -> Result<u64> {
        let total: u64 = members.iter().map(|m| m.2).sum();
        if total > MAX_BLOCK_SIZE {
            return Err(crate::fs::IoError::new(
                "write a block to",
                self.location(),
                io::ErrorKind::InvalidInput.into(),
            )
            .into());
        }
        let block = self.offset;
        let mut head = vec![BLOCK_RECORD | if uses_dictionary { WITH_DICT } else { 0 }];
        put_varint(&mut head, total);
        put_varint(&mut head, frame.len() as u64);
        self.append(&head)?;
        self.append(frame)?;
        let mut start = 0;
        for (id, kind, size) in members {
            let at = self.offset;
            let mut head = vec![kind_code(*kind) | IN_BLOCK];
            put_varint(&mut head, *size);
            put_varint(&mut head, at - block);
            put_varint(&mut head, start);
            self.append(&head)?;
            self.entries.insert(*id, at);
            start += size;
        }
        Ok(self.offset - block)
    }

    /// Compresses and adds an object.
    pub fn add(&mut self, id: ObjectId, kind: Kind, content: &[u8], level: i32) -> Result<u64> {
        let frame = super::compress::compress(content, level).map_err(Error::Compress)?;
        self.add_frame(id, kind, content.len() as u64, None, &frame)
    }

    /// Reads back every object added so far (for writing them loose instead) and
    /// drops the unfinished pack.
    pub fn drain_objects(mut self) -> Result<Vec<(ObjectId, Kind, Vec<u8>)>> {
        let path = self.location();
        let mut data = vec![0u8; self.offset as usize];
        self.file
            .flush()
            .and_then(|()| self.file.read_back(&mut data, 0))
            .context("read back", &path)?;
        let mut out = Vec::with_capacity(self.entries.len());
        for (id, offset) in &self.entries {
            let mut pos = *offset as usize;
            let corrupt =
                || crate::fs::IoError::new("read back", &path, io::ErrorKind::InvalidData.into());
            let code = *data.get(pos).ok_or_else(corrupt)?;
            pos += 1;
            let kind = code_kind(code & !FLAGS).ok_or_else(corrupt)?;
            let size = get_varint(&data, &mut pos).ok_or_else(corrupt)?;
            let len = get_varint(&data, &mut pos).ok_or_else(corrupt)? as usize;
            let frame = data.get(pos..pos + len).ok_or_else(corrupt)?;
            let content =
                super::compress::decompress(frame, size as usize).context("decompress", &path)?;
            out.push((*id, kind, content));
        }
        Ok(out)
    }

    /// Writes the checksum and the index, syncs both and renames them into place.
    /// Returns `None` (and leaves nothing) for an empty pack. Refuses a pack with a
    /// delta whose base it does not hold: packs are self-contained.
    pub fn finish(mut self) -> Result<Option<PackInfo>> {
        if self.entries.is_empty() {
            return Ok(None);
        }
        if let Some(base) = self.bases.iter().find(|b| !self.entries.contains_key(b)) {
            return Err(crate::fs::IoError::new(
                "finish a pack in",
                self.location(),
                io::Error::other(format!("a delta's base {base} is not in the pack")),
            )
            .into());
        }
        if let Some(expected) = &self.expected
            && (expected.len() != self.entries.len()
                || expected.iter().any(|id| !self.entries.contains_key(id)))
        {
            return Err(crate::fs::IoError::new(
                "finish a pack in",
                self.location(),
                io::Error::other("the pack does not hold the objects declared for it"),
            )
            .into());
        }
        let sum: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
        let location = self.location();
        self.file
            .write_all(&sum)
            .context("write a pack in", &location)?;
        let name = hex::encode(sum);
        let mut ids: Vec<(ObjectId, u64)> = self.entries.iter().map(|(id, o)| (*id, *o)).collect();
        ids.sort();
        let mut idx = Vec::with_capacity(8 + 1024 + ids.len() * 40 + 64);
        idx.extend_from_slice(IDX_MAGIC);
        let mut fanout = [0u32; 256];
        for (id, _) in &ids {
            fanout[id.as_bytes()[0] as usize] += 1;
        }
        let mut running = 0u32;
        for count in fanout {
            running += count;
            idx.extend_from_slice(&running.to_be_bytes());
        }
        for (id, _) in &ids {
            idx.extend_from_slice(id.as_bytes());
        }
        for (_, offset) in &ids {
            idx.extend_from_slice(&offset.to_be_bytes());
        }
        idx.extend_from_slice(&sum);
        let idx_sum: [u8; 32] = Sha256::digest(&idx).into();
        idx.extend_from_slice(&idx_sum);
        let backend = &self.backend;
        // Written whole before the pack gets its name (an index is what makes a pack
        // visible, so it is named last).
        let new_file = |kind: FileKind, bytes: &[u8]| -> Result<Box<dyn NewFile>> {
            let mut file = backend
                .create(kind)
                .context("create a temporary file in", backend.location(kind, ""))?;
            file.write_all(bytes)
                .context("write", backend.location(kind, &name))?;
            Ok(file)
        };
        let idx_file = new_file(FileKind::Index, &idx)?;
        let times = match &self.times {
            Some(times) => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let sidecar = super::cruft::encode(
                    &sum,
                    ids.iter()
                        .map(|(id, _)| times.get(id).copied().unwrap_or(now)),
                );
                Some(new_file(FileKind::Times, &sidecar)?)
            }
            None => None,
        };
        let bytes = self.offset + 32;
        let finish = |file: Box<dyn NewFile>, kind: FileKind| {
            file.finish(&name, true)
                .context("write", backend.location(kind, &name))
        };
        finish(self.file, FileKind::Pack)?;
        match times {
            Some(file) => finish(file, FileKind::Times)?,
            // The same pack written before as a cruft pack: its times are stale.
            None if backend
                .stat(FileKind::Times, &name)
                .ok()
                .flatten()
                .is_some() =>
            {
                backend
                    .remove(FileKind::Times, &name)
                    .context("remove", backend.location(FileKind::Times, &name))?;
            }
            None => {}
        }
        finish(idx_file, FileKind::Index)?;
        backend
            .sync()
            .context("sync", backend.location(FileKind::Pack, ""))?;
        Ok(Some(PackInfo {
            name,
            objects: ids.len() as u64,
            bytes,
        }))
    }
}

/// What a record holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// An object, whole (or as a delta): its content hashes to its id.
    Object,
    /// A chunk of a large blob: its content hashes to its key.
    Chunk,
    /// The chunk list of a blob of `blob_size` bytes (the record's size is the
    /// encoded list's).
    List {
        /// The blob's size.
        blob_size: u64,
    },
}

/// A record's header, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordHeader {
    /// What the record holds.
    pub role: Role,
    /// The object's kind (a blob for chunks and chunk lists).
    pub kind: Kind,
    /// Its content size.
    pub size: u64,
    /// The base of a delta.
    pub base: Option<ObjectId>,
    /// Compressed with the pack's dictionary.
    pub uses_dictionary: bool,
    /// Where the frame starts.
    pub frame_offset: u64,
    /// The frame's length.
    pub frame_len: u64,
    /// For a member of a block: the block record's offset, and where the content
    /// starts in the block (the frame fields are then zero).
    pub block: Option<(u64, u64)>,
    /// The bytes of the record before its frame (a member's whole record).
    pub head_len: u64,
}

/// An open pack and its index.
pub(crate) struct Pack {
    /// The pack's name (its checksum in hex).
    pub name: String,
    pack: Arc<dyn RangeRead>,
    pack_len: u64,
    idx: FileBytes,
    count: usize,
    /// The dictionary record, read on first use: most commands never need it.
    dictionary: OnceLock<Option<Vec<u8>>>,
}

impl std::fmt::Debug for Pack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pack(pack-{}, {} objects)", self.name, self.count)
    }
}

impl Pack {
    /// Opens `pack-<name>.idx` and its pack, checking the index's shape (not its
    /// checksum or the pack's content: see [`Pack::verify`]).
    pub fn open(backend: &dyn ReadBackend, name: &str) -> Result<Pack> {
        // Paths exist only for messages: made on error, not on every open.
        let idx_path = || backend.location(FileKind::Index, name);
        let bad = |reason: &str| Error::BadPack {
            pack: idx_path().display().to_string(),
            offset: None,
            reason: reason.to_owned(),
        };
        let absent = || io::Error::from(io::ErrorKind::NotFound);
        let idx = backend
            .read(FileKind::Index, name)
            .and_then(|idx| idx.ok_or_else(absent))
            .context_with("read", idx_path)?;
        if idx.len() < 8 + 1024 + 64 || &idx[..8] != IDX_MAGIC {
            return Err(bad("not a pack index"));
        }
        // The index's own checksum is checked by `verify` (fsck), not on every open:
        // hashing a kernel tree's 3 MB index cost each command ~2 ms, and every object
        // read through it is verified against its id anyway.
        let count =
            u32::from_be_bytes(idx[8 + 255 * 4..8 + 256 * 4].try_into().expect("4 bytes")) as usize;
        if idx.len() != 8 + 1024 + count * 40 + 64 {
            return Err(bad("index size does not match its object count"));
        }
        let pack = backend
            .open(FileKind::Pack, name)
            .and_then(|pack| pack.ok_or_else(absent))
            .context_with("open", || backend.location(FileKind::Pack, name))?;
        let pack_len = pack.len();
        Ok(Pack {
            name: name.to_owned(),
            pack,
            pack_len,
            idx,
            count,
            dictionary: OnceLock::new(),
        })
    }

    /// The pack's dictionary, if it has one (read once, on first use).
    fn dictionary(&self) -> Result<Option<&[u8]>> {
        if let Some(dictionary) = self.dictionary.get() {
            return Ok(dictionary.as_deref());
        }
        let read = self.read_dictionary()?;
        Ok(self.dictionary.get_or_init(|| read).as_deref())
    }

    /// The dictionary record right after the magic, if the pack has one.
    fn read_dictionary(&self) -> Result<Option<Vec<u8>>> {
        let mut head = [0u8; 11];
        let head = self.read_head(8, &mut head)?;
        if head.first() != Some(&DICT_RECORD) {
            return Ok(None);
        }
        let mut pos = 1;
        let len = get_varint(head, &mut pos).ok_or_else(|| self.bad(8, "bad dictionary length"))?;
        if len > 1 << 24 || 8 + pos as u64 + len > self.pack_len.saturating_sub(32) {
            return Err(self.bad(8, "dictionary runs past the end of the pack"));
        }
        let mut dict = vec![0u8; len as usize];
        self.pack
            .read_exact_at(&mut dict, 8 + pos as u64)
            .map_err(|e| self.bad(8, format!("could not read: {e}")))?;
        Ok(Some(dict))
    }

    fn id_at(&self, i: usize) -> &[u8] {
        let start = 8 + 1024 + i * 32;
        &self.idx[start..start + 32]
    }

    /// The stored offset of entry `i`, with [`CHUNK_ENTRY`] set for a chunk.
    fn raw_offset_at(&self, i: usize) -> u64 {
        let start = 8 + 1024 + self.count * 32 + i * 8;
        u64::from_be_bytes(self.idx[start..start + 8].try_into().expect("8 bytes"))
    }

    fn offset_at(&self, i: usize) -> u64 {
        self.raw_offset_at(i) & !(CHUNK_ENTRY | LIST_ENTRY)
    }

    fn is_list_at(&self, i: usize) -> bool {
        self.raw_offset_at(i) & LIST_ENTRY != 0
    }

    fn is_chunk_at(&self, i: usize) -> bool {
        self.raw_offset_at(i) & CHUNK_ENTRY != 0
    }

    fn fanout(&self, b: usize) -> usize {
        u32::from_be_bytes(
            self.idx[8 + b * 4..8 + b * 4 + 4]
                .try_into()
                .expect("4 bytes"),
        ) as usize
    }

    /// Objects in the pack.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether a repack wrote the pack: its packs start with a dictionary record
    /// (empty when there is no dictionary); a commit's quick packs do not.
    pub fn is_repacked(&self) -> bool {
        let mut head = [0u8; 1];
        matches!(self.read_head(8, &mut head), Ok([DICT_RECORD]))
    }

    /// Every entry in the pack, objects and chunks, sorted, with its offset: what the
    /// pack stores, for repacking, counting and transfers.
    pub fn entries(&self) -> impl Iterator<Item = (ObjectId, u64)> + '_ {
        (0..self.count).map(|i| {
            (
                ObjectId::from_slice(self.id_at(i)).expect("32 bytes"),
                self.offset_at(i),
            )
        })
    }

    /// The objects in the pack (no chunks), sorted, with their offsets.
    pub fn object_entries(&self) -> impl Iterator<Item = (ObjectId, u64)> + '_ {
        (0..self.count).filter(|&i| !self.is_chunk_at(i)).map(|i| {
            (
                ObjectId::from_slice(self.id_at(i)).expect("32 bytes"),
                self.offset_at(i),
            )
        })
    }

    /// The chunks in the pack, sorted by key, with their offsets.
    pub fn chunk_entries(&self) -> impl Iterator<Item = (ObjectId, u64)> + '_ {
        (0..self.count).filter(|&i| self.is_chunk_at(i)).map(|i| {
            (
                ObjectId::from_slice(self.id_at(i)).expect("32 bytes"),
                self.offset_at(i),
            )
        })
    }

    /// Whether any entry is a chunk.
    pub fn has_chunks(&self) -> bool {
        (0..self.count).any(|i| self.is_chunk_at(i))
    }

    /// The index range of the ids whose first byte is `first`, by the fan-out table
    /// (clamped, so a crafted table cannot send a search out of bounds).
    fn bucket(&self, first: u8) -> (usize, usize) {
        let first = first as usize;
        let lo = if first == 0 {
            0
        } else {
            self.fanout(first - 1)
        };
        let hi = self.fanout(first).min(self.count);
        (lo.min(hi), hi)
    }

    /// The offset of object `id`'s record (never a chunk's): one binary search within
    /// its fan-out bucket.
    pub fn find(&self, id: &ObjectId) -> Option<u64> {
        self.position(id)
            .filter(|&i| !self.is_chunk_at(i))
            .map(|i| self.offset_at(i))
    }

    /// The offset of blob `id`'s record when the index lists it as a chunk list.
    pub fn find_list(&self, id: &ObjectId) -> Option<u64> {
        self.position(id)
            .filter(|&i| self.is_list_at(i) && !self.is_chunk_at(i))
            .map(|i| self.offset_at(i))
    }

    /// The blobs the index lists as chunk lists, sorted, with their offsets.
    pub fn list_entries(&self) -> impl Iterator<Item = (ObjectId, u64)> + '_ {
        (0..self.count)
            .filter(|&i| self.is_list_at(i) && !self.is_chunk_at(i))
            .map(|i| {
                (
                    ObjectId::from_slice(self.id_at(i)).expect("32 bytes"),
                    self.offset_at(i),
                )
            })
    }

    /// The offset of the chunk `key`'s record (never an object's).
    pub fn find_chunk(&self, key: &ObjectId) -> Option<u64> {
        self.position(key)
            .filter(|&i| self.is_chunk_at(i))
            .map(|i| self.offset_at(i))
    }

    /// The offset of the record stored under `id`: an object's or a chunk's.
    pub fn find_stored(&self, id: &ObjectId) -> Option<u64> {
        self.position(id).map(|i| self.offset_at(i))
    }

    /// Where `id` is in the index.
    fn position(&self, id: &ObjectId) -> Option<usize> {
        let (mut lo, mut hi) = self.bucket(id.as_bytes()[0]);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.id_at(mid).cmp(id.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// The index of the first id not below `key` (the leading bytes of an id): one
    /// binary search within the fan-out bucket of its first byte.
    fn lower_bound(&self, key: &[u8]) -> usize {
        let (mut lo, mut hi) = self.bucket(key.first().copied().unwrap_or(0));
        while lo < hi {
            let mid = (lo + hi) / 2;
            if &self.id_at(mid)[..key.len()] < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The ids in the pack that start with `prefix`, in order: a binary search for the
    /// first, then the ones after it.
    pub fn ids_with_prefix<'a>(
        &'a self,
        prefix: &'a Prefix,
    ) -> impl Iterator<Item = ObjectId> + 'a {
        // The prefix's digits as bytes, an odd last digit as the high half of a byte:
        // the smallest id with the prefix starts with exactly these bytes.
        let hex = prefix.as_str().as_bytes();
        let mut key = [0u8; 32];
        for (i, pair) in hex.chunks(2).enumerate() {
            let digit = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
            key[i] = digit(pair[0]) << 4 | pair.get(1).map_or(0, |&c| digit(c));
        }
        let key = &key[..hex.len().div_ceil(2)];
        (self.lower_bound(key)..self.count)
            .map(|i| (i, ObjectId::from_slice(self.id_at(i)).expect("32 bytes")))
            .take_while(|(_, id)| prefix.matches(id))
            .filter(|&(i, _)| !self.is_chunk_at(i))
            .map(|(_, id)| id)
    }

    /// The ids just before and just after `id` in the pack's order (leaving out `id`
    /// itself): of all the pack's ids, those that share the longest prefix with it.
    pub fn neighbours(&self, id: &ObjectId) -> [Option<ObjectId>; 2] {
        let at = self.lower_bound(id.as_bytes());
        let after = if at < self.count && self.id_at(at) == id.as_bytes() {
            at + 1
        } else {
            at
        };
        let get = |i: usize| ObjectId::from_slice(self.id_at(i)).expect("32 bytes");
        // Chunks are not objects: skip over them.
        let before = (0..at).rev().find(|&i| !self.is_chunk_at(i)).map(get);
        let after = (after..self.count).find(|&i| !self.is_chunk_at(i)).map(get);
        [before, after]
    }

    fn bad(&self, offset: u64, reason: impl Into<String>) -> Error {
        Error::BadPack {
            pack: format!("pack-{}", self.name),
            offset: Some(offset),
            reason: reason.into(),
        }
    }

    /// Reads up to `buf.len()` bytes at `offset` (fewer at the end of the pack).
    fn read_head<'b>(&self, offset: u64, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        let want = buf.len().min(self.pack_len.saturating_sub(offset) as usize);
        self.pack
            .read_exact_at(&mut buf[..want], offset)
            .map_err(|e| self.bad(offset, format!("could not read: {e}")))?;
        Ok(&buf[..want])
    }

    /// Reads a record's header at `offset`.
    pub fn header(&self, offset: u64) -> Result<RecordHeader> {
        let mut buf = [0u8; 64];
        let buf = self.read_head(offset, &mut buf)?;
        let code = *buf
            .first()
            .ok_or_else(|| self.bad(offset, "record past the end"))?;
        let mut pos = 1;
        let size = get_varint(buf, &mut pos).ok_or_else(|| self.bad(offset, "bad size"))?;
        let (kind, role) = match code & !FLAGS {
            CHUNK_RECORD if code & (WITH_DICT | IN_BLOCK) == 0 => (Kind::Blob, Role::Chunk),
            LIST_RECORD if code == LIST_RECORD => {
                let blob_size =
                    get_varint(buf, &mut pos).ok_or_else(|| self.bad(offset, "bad size"))?;
                (Kind::Blob, Role::List { blob_size })
            }
            other => (
                code_kind(other).ok_or_else(|| self.bad(offset, "unknown record type"))?,
                Role::Object,
            ),
        };
        if code & IN_BLOCK != 0 {
            if code & (DELTA | WITH_DICT | BASE_BY_INDEX) != 0 {
                return Err(self.bad(offset, "unknown record type"));
            }
            let back = get_varint(buf, &mut pos).ok_or_else(|| self.bad(offset, "bad block"))?;
            let start = get_varint(buf, &mut pos).ok_or_else(|| self.bad(offset, "bad block"))?;
            let block = offset
                .checked_sub(back)
                .filter(|_| back > 0)
                .ok_or_else(|| self.bad(offset, "block offset out of range"))?;
            if start.saturating_add(size) > MAX_BLOCK_SIZE {
                return Err(self.bad(offset, "member runs past the end of its block"));
            }
            return Ok(RecordHeader {
                role,
                kind,
                size,
                base: None,
                uses_dictionary: false,
                frame_offset: 0,
                frame_len: 0,
                block: Some((block, start)),
                head_len: pos as u64,
            });
        }
        let base = match (code & DELTA != 0, code & BASE_BY_INDEX != 0) {
            (true, true) => {
                let rank = get_varint(buf, &mut pos)
                    .filter(|&r| r < self.count as u64)
                    .ok_or_else(|| self.bad(offset, "bad delta base"))?;
                Some(ObjectId::from_slice(self.id_at(rank as usize)).expect("32 bytes"))
            }
            (true, false) => {
                let id = buf.get(pos..pos + 32).and_then(ObjectId::from_slice);
                pos += 32;
                Some(id.ok_or_else(|| self.bad(offset, "bad delta base"))?)
            }
            (false, true) => return Err(self.bad(offset, "unknown record type")),
            (false, false) => None,
        };
        if size > MAX_PACKED_SIZE {
            return Err(self.bad(offset, declared_too_large(size)));
        }
        let frame_len =
            get_varint(buf, &mut pos).ok_or_else(|| self.bad(offset, "bad frame length"))?;
        let frame_offset = self.frame_in_bounds(offset, pos, frame_len)?;
        if matches!(role, Role::List { blob_size } if blob_size == 0 || size == 0) {
            return Err(self.bad(offset, "bad chunk list"));
        }
        Ok(RecordHeader {
            role,
            kind,
            size,
            base,
            uses_dictionary: code & WITH_DICT != 0,
            frame_offset,
            frame_len,
            block: None,
            head_len: pos as u64,
        })
    }

    /// Reads and decompresses the block record at `offset` (whole: members of one
    /// block are usually read together, and callers cache it).
    pub fn block(&self, offset: u64) -> Result<Vec<u8>> {
        let header = self.block_header(offset)?;
        let frame = self.frame(&header)?;
        self.decompress(offset, &header, &frame, None)
    }

    /// Reads the header of the block record at `offset`.
    pub fn block_header(&self, offset: u64) -> Result<RecordHeader> {
        let mut buf = [0u8; 24];
        let buf = self.read_head(offset, &mut buf)?;
        let code = buf.first().copied();
        if code.map(|c| c & !WITH_DICT) != Some(BLOCK_RECORD) {
            return Err(self.bad(offset, "member's block record is not a block"));
        }
        let mut pos = 1;
        let size = get_varint(buf, &mut pos)
            .filter(|&s| s <= MAX_BLOCK_SIZE)
            .ok_or_else(|| self.bad(offset, "bad block size"))?;
        let frame_len =
            get_varint(buf, &mut pos).ok_or_else(|| self.bad(offset, "bad frame length"))?;
        let header = RecordHeader {
            role: Role::Object,
            kind: Kind::Blob,
            size,
            base: None,
            uses_dictionary: code.is_some_and(|c| c & WITH_DICT != 0),
            frame_offset: self.frame_in_bounds(offset, pos, frame_len)?,
            frame_len,
            block: None,
            head_len: pos as u64,
        };
        Ok(header)
    }

    /// Where the frame of the record at `offset` starts, `head_len` bytes in; refuses a
    /// frame that runs past the pack's content or is longer than the largest packed
    /// object can compress to (so reading it never allocates more than that).
    fn frame_in_bounds(&self, offset: u64, head_len: usize, frame_len: u64) -> Result<u64> {
        let frame_offset = offset
            .checked_add(head_len as u64)
            .filter(|_| frame_len <= max_frame_len())
            .ok_or_else(|| self.bad(offset, "bad frame length"))?;
        match frame_offset.checked_add(frame_len) {
            Some(end) if end <= self.pack_len.saturating_sub(32) => Ok(frame_offset),
            _ => Err(self.bad(offset, "frame runs past the end of the pack")),
        }
    }

    /// Reads a record's frame.
    pub fn frame(&self, header: &RecordHeader) -> Result<Vec<u8>> {
        self.frame_in_bounds(header.frame_offset, 0, header.frame_len)?;
        let mut frame = vec![0u8; header.frame_len as usize];
        self.pack
            .read_exact_at(&mut frame, header.frame_offset)
            .map_err(|e| self.bad(header.frame_offset, format!("could not read: {e}")))?;
        Ok(frame)
    }

    /// Decompresses the frame of the record at `offset`: with `base` (a delta's base
    /// content), with the pack's dictionary, or alone.
    pub fn decompress(
        &self,
        offset: u64,
        header: &RecordHeader,
        frame: &[u8],
        base: Option<&[u8]>,
    ) -> Result<Vec<u8>> {
        let size = header.size;
        let failed = |e: io::Error| self.bad(offset, format!("could not decompress: {e}"));
        let dictionary = match (base, header.uses_dictionary) {
            (Some(base), _) => super::compress::Dictionary::Base(base),
            (None, true) => match self.dictionary()? {
                Some(shared) => super::compress::Dictionary::Pack {
                    name: &self.name,
                    content: shared,
                },
                None => {
                    return Err(self.bad(offset, "record needs a dictionary the pack lacks"));
                }
            },
            (None, false) => super::compress::Dictionary::None,
        };
        let data =
            super::compress::decompress_with(frame, size as usize, dictionary).map_err(failed)?;
        if data.len() as u64 != size {
            return Err(self.bad(
                offset,
                format!("declared size {size} but content has {} bytes", data.len()),
            ));
        }
        Ok(data)
    }

    /// Checks the index's checksum, the pack's checksum against its content and its
    /// index, and that the index is sorted; returns what is wrong.
    pub fn verify(&self) -> Vec<Error> {
        let mut problems = Vec::new();
        let (body, sum) = self.idx.split_at(self.idx.len() - 32);
        if Sha256::digest(body).as_slice() != sum {
            problems.push(Error::BadPack {
                pack: format!("pack-{}.idx", self.name),
                offset: None,
                reason: "index checksum mismatch".into(),
            });
        }
        let mut hasher = Sha256::new();
        let body_len = self.pack_len.saturating_sub(32);
        let mut buf = vec![0u8; 1 << 20];
        let mut pos = 0;
        let mut magic = [0u8; 8];
        if self.pack.read_exact_at(&mut magic, 0).is_err() || &magic != PACK_MAGIC {
            problems.push(self.bad(0, "not a pack"));
        } else if let Err(e) = self.dictionary() {
            problems.push(e);
        }
        while pos < body_len {
            let n = buf.len().min((body_len - pos) as usize);
            if let Err(e) = self.pack.read_exact_at(&mut buf[..n], pos) {
                problems.push(self.bad(pos, format!("could not read: {e}")));
                return problems;
            }
            hasher.update(&buf[..n]);
            pos += n as u64;
        }
        let mut stored = [0u8; 32];
        let _ = self.pack.read_exact_at(&mut stored, body_len);
        let actual: [u8; 32] = hasher.finalize().into();
        let in_idx = &self.idx[self.idx.len() - 64..self.idx.len() - 32];
        if actual != stored || actual != in_idx {
            problems.push(self.bad(
                body_len,
                format!(
                    "pack checksum mismatch: content hashes to {}",
                    hex::encode(actual)
                ),
            ));
        }
        if self.name != hex::encode(stored) {
            problems.push(self.bad(
                body_len,
                format!(
                    "file name does not match the pack's checksum {}",
                    hex::encode(stored)
                ),
            ));
        }
        for i in 1..self.count {
            if self.id_at(i - 1) >= self.id_at(i) {
                problems.push(self.bad(self.offset_at(i), "index ids out of order"));
            }
        }
        problems
    }
}

/// The longest frame a record may have: what the largest packed object compresses to
/// at worst.
fn max_frame_len() -> u64 {
    zstd::zstd_safe::compress_bound(MAX_PACKED_SIZE as usize) as u64
}

/// Why a record declaring `size` bytes is refused.
fn declared_too_large(size: u64) -> String {
    format!("declares {size} bytes, more than the {MAX_PACKED_SIZE} a packed object may have")
}

/// Hashes `content` as an object of `kind` and compares with `id`.
pub(super) fn check(
    id: &ObjectId,
    kind: Kind,
    content: &[u8],
    pack: &Pack,
    offset: u64,
) -> Result<()> {
    let mut h = Hasher::new(kind, content.len() as u64);
    h.update(content);
    let actual = h.finalize();
    if actual != *id {
        return Err(Error::Corrupt {
            id: *id,
            reason: format!(
                "content hashes to {actual} (pack-{} at offset {offset})",
                pack.name
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odb::testing::{Fixture, TestResult, both};

    both!(
        write_then_find_every_object,
        prefix_search_and_neighbours_agree_with_a_scan,
        blocks_and_deltas_by_index_round_trip,
        a_pack_must_hold_exactly_what_was_declared,
        hostile_member_records_are_refused,
        a_damaged_dictionary_is_reported_when_needed_and_by_verify,
    );

    #[test]
    fn varints_round_trip() {
        for n in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut buf = Vec::new();
            put_varint(&mut buf, n);
            let mut pos = 0;
            assert_eq!(get_varint(&buf, &mut pos), Some(n));
            assert_eq!(pos, buf.len());
        }
        assert_eq!(get_varint(&[0x80], &mut 0), None);
    }

    fn write_then_find_every_object(store: &Fixture) -> TestResult {
        let mut w = PackWriter::new(Arc::clone(&store.backend)).unwrap();
        let mut ids = Vec::new();
        for i in 0..300u32 {
            let data = format!("object {i}\n").into_bytes();
            let id = ObjectId::hash(Kind::Blob, &data);
            w.add(id, Kind::Blob, &data, 3).unwrap();
            ids.push((id, data));
        }
        let info = w.finish().unwrap().unwrap();
        let pack = Pack::open(&*store.backend, &info.name).unwrap();
        assert_eq!(pack.len(), 300);
        assert!(pack.verify().is_empty());
        for (id, data) in &ids {
            let offset = pack.find(id).unwrap();
            let h = pack.header(offset).unwrap();
            let content = pack
                .decompress(offset, &h, &pack.frame(&h).unwrap(), None)
                .unwrap();
            assert_eq!(&content, data);
        }
        assert_eq!(pack.find(&ObjectId::empty_tree()), None);
        // Nothing temporary is left.
        let files = store.files();
        assert_eq!(files.len(), 2, "{files:?}");
        Ok(())
    }

    fn prefix_search_and_neighbours_agree_with_a_scan(store: &Fixture) -> TestResult {
        let mut w = PackWriter::new(Arc::clone(&store.backend))?;
        let mut ids = Vec::new();
        for i in 0..600u32 {
            let data = format!("x{i}\n").into_bytes();
            let id = ObjectId::hash(Kind::Blob, &data);
            w.add(id, Kind::Blob, &data, 1)?;
            ids.push(id);
        }
        let info = w.finish()?.expect("not empty");
        let pack = Pack::open(&*store.backend, &info.name)?;
        ids.sort();
        // Ids of the pack, and ids it does not hold, as probes.
        let absent = (0..100u32).map(|i| ObjectId::hash(Kind::Tree, format!("{i}").as_bytes()));
        for probe in ids.iter().copied().step_by(5).chain(absent) {
            let hex = probe.to_string();
            for len in 4..=7 {
                let prefix = Prefix::from_hex(&hex[..len]).expect("hex");
                let scanned: Vec<ObjectId> = ids
                    .iter()
                    .copied()
                    .filter(|id| prefix.matches(id))
                    .collect();
                assert_eq!(pack.ids_with_prefix(&prefix).collect::<Vec<_>>(), scanned);
            }
            let at = ids.partition_point(|id| *id < probe);
            let after = if ids.get(at) == Some(&probe) {
                at + 1
            } else {
                at
            };
            let expected = [at.checked_sub(1).map(|i| ids[i]), ids.get(after).copied()];
            assert_eq!(pack.neighbours(&probe), expected, "{probe}");
        }
        Ok(())
    }

    /// Content of a member read straight from its block.
    fn read_member(pack: &Pack, id: &ObjectId) -> Result<Vec<u8>> {
        let offset = pack.find(id).unwrap();
        let h = pack.header(offset)?;
        let (block, start) = h.block.expect("a member");
        let content = pack.block(block)?;
        Ok(content[start as usize..(start + h.size) as usize].to_vec())
    }

    fn blocks_and_deltas_by_index_round_trip(store: &Fixture) -> TestResult {
        let objects: Vec<(ObjectId, Vec<u8>)> = (0..20u32)
            .map(|i| {
                let data = format!("member {i} of a block\n").into_bytes();
                (ObjectId::hash(Kind::Blob, &data), data)
            })
            .collect();
        let base = objects[3].0;
        let changed = b"member 3 of a block, changed\n".to_vec();
        let delta_id = ObjectId::hash(Kind::Blob, &changed);
        let mut w = PackWriter::new(Arc::clone(&store.backend)).unwrap();
        let mut ids: Vec<ObjectId> = objects.iter().map(|o| o.0).collect();
        ids.push(delta_id);
        w.expect_objects(ids);
        let content: Vec<u8> = objects.iter().flat_map(|o| o.1.clone()).collect();
        let members: Vec<_> = objects
            .iter()
            .map(|(id, d)| (*id, Kind::Blob, d.len() as u64))
            .collect();
        let frame = zstd::bulk::compress(&content, 3).unwrap();
        w.add_block(&members, false, &frame).unwrap();
        let mut c = zstd::bulk::Compressor::with_dictionary(3, &objects[3].1).unwrap();
        let delta = c.compress(&changed).unwrap();
        w.add_frame(
            delta_id,
            Kind::Blob,
            changed.len() as u64,
            Some(&base),
            &delta,
        )
        .unwrap();
        let info = w.finish().unwrap().unwrap();
        let pack = Pack::open(&*store.backend, &info.name).unwrap();
        assert!(pack.verify().is_empty());
        for (id, data) in &objects {
            assert_eq!(&read_member(&pack, id).unwrap(), data);
        }
        let h = pack.header(pack.find(&delta_id).unwrap()).unwrap();
        assert_eq!(h.base, Some(base));
        // The base is named by its index position: a byte, not 32.
        assert!(h.frame_offset - pack.find(&delta_id).unwrap() < 8, "{h:?}");
        Ok(())
    }

    fn a_pack_must_hold_exactly_what_was_declared(store: &Fixture) -> TestResult {
        let mut w = PackWriter::new(Arc::clone(&store.backend)).unwrap();
        w.expect_objects(vec![ObjectId::hash(Kind::Blob, b"a")]);
        w.add(ObjectId::hash(Kind::Blob, b"b"), Kind::Blob, b"b", 3)
            .unwrap();
        let err = w.finish().unwrap_err().to_string();
        assert!(err.contains("could not finish a pack"), "{err}");
        assert_eq!(store.files(), Vec::<String>::new());
        Ok(())
    }

    fn hostile_member_records_are_refused(store: &Fixture) -> TestResult {
        let data = b"one small object".to_vec();
        let id = ObjectId::hash(Kind::Blob, &data);
        let mut w = PackWriter::new(Arc::clone(&store.backend)).unwrap();
        let frame = zstd::bulk::compress(&data, 3).unwrap();
        w.add_block(&[(id, Kind::Blob, data.len() as u64)], false, &frame)
            .unwrap();
        let info = w.finish().unwrap().unwrap();
        let pack = Pack::open(&*store.backend, &info.name).unwrap();
        let offset = pack.find(&id).unwrap();
        assert_eq!(read_member(&pack, &id).unwrap(), data);
        // A member whose block offset points at itself, at the magic, or whose start
        // runs past the largest block, is refused, not read out of bounds.
        let original = store.read(FileKind::Pack, &info.name);
        let at = offset as usize;
        for (patch, reason) in [
            (
                vec![0x21, data.len() as u8, 0, 0],
                "block offset out of range",
            ),
            (vec![0x21, data.len() as u8, at as u8, 0], "not a block"),
            (vec![0x21, 0x7f, 1, 0xff, 0xff, 0xff, 0x7f], "past the end"),
            (vec![0x31, data.len() as u8, 1, 0], "unknown record type"),
        ] {
            store.patch(FileKind::Pack, &info.name, |bytes| {
                bytes.copy_from_slice(&original);
                bytes[at..at + patch.len()].copy_from_slice(&patch);
            });
            let pack = Pack::open(&*store.backend, &info.name).unwrap();
            let err = pack
                .header(offset)
                .and_then(|h| pack.block(h.block.unwrap().0))
                .unwrap_err()
                .to_string();
            assert!(err.contains(reason), "{patch:?}: {err}");
        }
        Ok(())
    }

    #[test]
    fn an_index_that_cannot_be_mapped_is_read_instead() {
        // A directory opens but cannot be mapped (ENODEV), like a file on some FUSE
        // filesystems; reading it is what then fails, and says so.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pack/pack-0.idx")).unwrap();
        std::fs::write(dir.path().join("pack/pack-0.pack"), b"").unwrap();
        let backend = super::super::backend::LocalBackend::new(dir.path());
        let Err(Error::Io(e)) = Pack::open(&backend, "0") else {
            panic!("a directory was accepted as an index");
        };
        assert_eq!(e.action, "read");
    }

    fn a_damaged_dictionary_is_reported_when_needed_and_by_verify(store: &Fixture) -> TestResult {
        let dictionary = b"a shared dictionary of common words ".repeat(8);
        let data = b"common words, compressed with the dictionary".to_vec();
        let id = ObjectId::hash(Kind::Blob, &data);
        let plain = b"compressed alone".to_vec();
        let plain_id = ObjectId::hash(Kind::Blob, &plain);
        let mut w = PackWriter::with_dictionary(Arc::clone(&store.backend), &dictionary).unwrap();
        let mut c = zstd::bulk::Compressor::with_dictionary(3, &dictionary).unwrap();
        let frame = c.compress(&data).unwrap();
        w.add_frame_with_dictionary(id, Kind::Blob, data.len() as u64, &frame)
            .unwrap();
        w.add(plain_id, Kind::Blob, &plain, 3).unwrap();
        let info = w.finish().unwrap().unwrap();
        let read = |pack: &Pack, id: &ObjectId| {
            let offset = pack.find(id).unwrap();
            let h = pack.header(offset)?;
            pack.decompress(offset, &h, &pack.frame(&h)?, None)
        };
        let pack = Pack::open(&*store.backend, &info.name).unwrap();
        assert_eq!(read(&pack, &id).unwrap(), data);
        // The dictionary's length now runs past the end of the pack. The pack still
        // opens (the dictionary is read on first use), an object that does not need
        // it still reads, and the one that does is refused with the reason.
        store.patch(FileKind::Pack, &info.name, |bytes| {
            assert_eq!(bytes[8], DICT_RECORD);
            bytes[9..12].copy_from_slice(&[0xff, 0xff, 0x03]);
        });
        let pack = Pack::open(&*store.backend, &info.name).unwrap();
        assert_eq!(read(&pack, &plain_id).unwrap(), plain);
        let err = read(&pack, &id).unwrap_err().to_string();
        assert!(err.contains("dictionary runs past the end"), "{err}");
        let problems: Vec<String> = pack.verify().iter().map(|e| e.to_string()).collect();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("dictionary runs past the end")),
            "{problems:?}"
        );
        Ok(())
    }
}
