//! Large blobs in chunks, below git's ids.
//!
//! A blob of at least [`ChunkParams::threshold`] bytes is cut by FastCDC (the 2020
//! algorithm, `fastcdc::v2020::StreamCDC`) into chunks of content-defined boundaries.
//! Each chunk is stored once, in a pack, under its key: the BLAKE3 hash of its content
//! (in key-derivation mode), never an object id, which is SHA-256 of a git header and
//! the content.
//! The blob's id (git's, of the whole content) names a chunk-list record: the chunks'
//! keys and sizes in order. An edit to a large file therefore stores the chunks it
//! touched and a new list; identical chunks anywhere in the store are stored once.
//!
//! Chunk keys are storage, not objects: pack indexes mark them, and no lookup by id or
//! prefix, listing or `cat-file` ever sees one. Every read of a chunked blob checks
//! each chunk against its key and the whole content against the blob's id.
//!
//! The chunker's parameters decide where cuts fall, so they are a storage constant:
//! the repository records them at init (`[chunking]` in `.cow/config`) and the
//! `fastcdc` crate is pinned to one exact version.
//!
//! A chunk list is encoded as: the number of chunks (varint), then for each its
//! 32-byte key and its size (varint), then the SHA-256 of all that came before (so a
//! damaged list is told from an intact one before any chunk is read).

use std::io::{self, Read, Write};
use std::sync::mpsc;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::compress::compress;
use super::pack::{PackWriter, Role, get_varint, put_varint};
use super::packed::{Copy, Namespace, Place};
use super::{Error, MAX_PACKED_SIZE, Odb, Result, Written};
use crate::object::{Hasher, Kind, ObjectId};

/// The parameters of the chunker and when it applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkParams {
    /// Smallest chunk, in bytes (the last chunk of a blob may be smaller).
    pub min: u32,
    /// Average chunk size the cut points aim at.
    pub avg: u32,
    /// Largest chunk.
    pub max: u32,
    /// FastCDC's normalisation level (0 to 3): how tightly sizes cluster around `avg`.
    pub normalization: u8,
    /// Blobs of at least this many bytes are stored in chunks; smaller ones whole.
    pub threshold: u64,
}

impl ChunkParams {
    /// What a new repository records: 256 KiB to 4 MiB chunks around 1 MiB (restic's
    /// and borg's averages are 1 and 2 MiB), normalisation level 1 (FastCDC's
    /// default), for blobs of 1 MiB and more. Measured (BENCHMARKS.md): five versions
    /// of a 1.5, 3 or 6 MB text file with 20 edited lines each stored 3–4 KB per
    /// version in chunks (deltas against the last version's chunks) against 0.56–2.2
    /// MB stored whole, until a gc; after gc, chunked stores were 2–6% larger than
    /// whole ones (chunks keep the commit's compression level).
    pub const DEFAULT: ChunkParams = ChunkParams {
        min: 256 << 10,
        avg: 1 << 20,
        max: 4 << 20,
        normalization: 1,
        threshold: 1 << 20,
    };

    /// Checks the parameters against what FastCDC accepts and what a pack may hold.
    pub fn check(&self) -> Result<(), String> {
        use fastcdc::v2020 as cdc;
        let (min, avg, max) = (self.min as usize, self.avg as usize, self.max as usize);
        let in_range =
            |v: usize, lo: usize, hi: usize| (lo..=hi).contains(&v) && v.is_multiple_of(2);
        let valid = in_range(min, cdc::MINIMUM_MIN, cdc::MINIMUM_MAX)
            && in_range(avg, cdc::AVERAGE_MIN, cdc::AVERAGE_MAX)
            && in_range(max, cdc::MAXIMUM_MIN, cdc::MAXIMUM_MAX)
            && min <= avg
            && avg <= max
            && max as u64 <= MAX_PACKED_SIZE;
        if !valid {
            return Err(format!(
                "chunk sizes {min}/{avg}/{max} are out of range (even sizes, min \
                 {}..={}, avg {}..={}, max {}..={}, min <= avg <= max)",
                cdc::MINIMUM_MIN,
                cdc::MINIMUM_MAX,
                cdc::AVERAGE_MIN,
                cdc::AVERAGE_MAX,
                cdc::MAXIMUM_MIN,
                cdc::MAXIMUM_MAX.min(MAX_PACKED_SIZE as usize),
            ));
        }
        if self.normalization > 3 {
            return Err(format!(
                "chunk normalization {} is out of range (0 to 3)",
                self.normalization
            ));
        }
        if self.threshold < u64::from(self.min) {
            return Err(format!(
                "chunking threshold {} is below the smallest chunk {min}",
                self.threshold
            ));
        }
        Ok(())
    }

    fn level(&self) -> fastcdc::v2020::Normalization {
        use fastcdc::v2020::Normalization;
        match self.normalization {
            0 => Normalization::Level0,
            1 => Normalization::Level1,
            2 => Normalization::Level2,
            _ => Normalization::Level3,
        }
    }

    /// Cuts `reader`'s bytes into chunks.
    pub fn chunker<R: Read>(&self, reader: R) -> fastcdc::v2020::StreamCDC<R> {
        fastcdc::v2020::StreamCDC::with_level(
            reader,
            self.min as usize,
            self.avg as usize,
            self.max as usize,
            self.level(),
        )
    }
}

impl Default for ChunkParams {
    fn default() -> Self {
        ChunkParams::DEFAULT
    }
}

/// The key a chunk is stored under: the BLAKE3 hash of its content in key-derivation
/// mode with this context (so it is no other BLAKE3 use's hash either).
const CHUNK_KEY_CONTEXT: &str = "cow 2026-12-07 chunk key v1";

/// The key a chunk is stored under: BLAKE3 of its content in key-derivation mode:
/// a cryptographic hash, cheaper than a second SHA-256 over every large file, and
/// never an object id (those are SHA-256 of a git header and the content).
pub fn chunk_key(content: &[u8]) -> ObjectId {
    let mut h = blake3::Hasher::new_derive_key(CHUNK_KEY_CONTEXT);
    h.update(content);
    ObjectId::from_slice(h.finalize().as_bytes()).expect("32 bytes")
}

/// One chunk of a chunked blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkRef {
    /// The chunk's key (not an object id).
    pub key: ObjectId,
    /// Where it starts in the blob.
    pub offset: u64,
    /// Its size.
    pub len: u64,
}

/// The chunks of a blob, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkList {
    chunks: Vec<ChunkRef>,
    size: u64,
}

impl ChunkList {
    /// The chunks, in order.
    pub fn chunks(&self) -> &[ChunkRef] {
        &self.chunks
    }

    /// The blob's size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The index of the chunk holding byte `offset` (a binary search), `None` past
    /// the end.
    pub fn chunk_at(&self, offset: u64) -> Option<usize> {
        let i = self.chunks.partition_point(|c| c.offset + c.len <= offset);
        (i < self.chunks.len()).then_some(i)
    }

    fn from_sizes(parts: impl IntoIterator<Item = (ObjectId, u64)>) -> ChunkList {
        let mut offset = 0;
        let chunks = parts
            .into_iter()
            .map(|(key, len)| {
                let c = ChunkRef { key, offset, len };
                offset += len;
                c
            })
            .collect();
        ChunkList {
            chunks,
            size: offset,
        }
    }

    /// The encoded list (see the module's documentation).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.chunks.len() * 36 + 40);
        put_varint(&mut out, self.chunks.len() as u64);
        for c in &self.chunks {
            out.extend_from_slice(c.key.as_bytes());
            put_varint(&mut out, c.len);
        }
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// Decodes a list that must describe `size` bytes; says what is wrong otherwise.
    pub(crate) fn decode(bytes: &[u8], size: u64) -> Result<ChunkList, String> {
        let body_len = bytes
            .len()
            .checked_sub(32)
            .ok_or("chunk list is truncated")?;
        let (body, sum) = bytes.split_at(body_len);
        if Sha256::digest(body).as_slice() != sum {
            return Err("chunk list checksum mismatch".into());
        }
        let mut pos = 0;
        let count = get_varint(body, &mut pos).ok_or("bad chunk count")?;
        // Each entry takes at least 33 bytes: a crafted count cannot allocate much.
        if count > (body.len() / 33) as u64 {
            return Err("chunk count larger than the list".into());
        }
        let mut parts = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let key = body
                .get(pos..pos + 32)
                .and_then(ObjectId::from_slice)
                .ok_or("chunk list is truncated")?;
            pos += 32;
            let len = get_varint(body, &mut pos)
                .filter(|&l| l > 0 && l <= MAX_PACKED_SIZE)
                .ok_or("bad chunk size")?;
            parts.push((key, len));
        }
        if pos != body.len() {
            return Err("trailing bytes after the chunk list".into());
        }
        let list = ChunkList::from_sizes(parts);
        if list.size != size {
            return Err(format!(
                "chunks add up to {} bytes, the blob has {size}",
                list.size
            ));
        }
        Ok(list)
    }
}

/// Feeds what is read through it to the blob hasher, and stops a reader that yields
/// more than announced.
struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    size: u64,
    total: u64,
    /// The reader's own error (the chunker only passes its text along).
    failed: Option<io::Error>,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = loop {
            match self.inner.read(buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.failed = Some(io::Error::new(e.kind(), e.to_string()));
                    return Err(e);
                }
            }
        };
        self.total += n as u64;
        if self.total > self.size {
            return Err(io::Error::other("file grew"));
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// The longest chain of chunk deltas a write makes: reading a chunk decompresses
/// every chunk along its chain, so a chain this long is ended by a chunk stored whole.
pub const MAX_CHUNK_CHAIN: usize = 8;

/// `data` compressed against `base` as `zstd --patch-from` does: `base` is the
/// frame's prefix (content-only, which a reader loads as a raw dictionary), the
/// window reaches all of it, and long-distance matching finds its long runs wherever
/// they are (a dictionary's content would be indexed only in part).
fn delta_frame(data: &[u8], base: &[u8], level: i32) -> Result<Vec<u8>> {
    use zstd::zstd_safe::{self, CParameter};
    let failed =
        |code: usize| Error::Compress(io::Error::other(zstd_safe::get_error_name(code).to_owned()));
    let reach = (data.len() + base.len()).max(1 << 10);
    let window_log = usize::BITS - (reach - 1).leading_zeros();
    let mut cctx = zstd_safe::CCtx::try_create()
        .ok_or_else(|| Error::Compress(io::Error::other("could not allocate")))?;
    for p in [
        CParameter::CompressionLevel(level),
        CParameter::WindowLog(window_log),
        CParameter::EnableLongDistanceMatching(true),
    ] {
        cctx.set_parameter(p).map_err(failed)?;
    }
    cctx.ref_prefix(base).map_err(failed)?;
    let mut out = Vec::with_capacity(zstd_safe::compress_bound(data.len()));
    cctx.compress2(&mut out, data).map_err(failed)?;
    Ok(out)
}

/// How many large blobs are chunked a batch at a time at once (see [`Slots`]).
pub(super) const CHUNK_WRITERS: usize = 2;

/// At most `limit` holders at once; no waiting.
#[derive(Debug)]
pub(super) struct Slots {
    taken: std::sync::Mutex<usize>,
    limit: usize,
}

/// A slot of [`Slots`], given back when dropped.
pub(super) struct Slot<'s>(&'s Slots);

impl Slots {
    pub(super) fn new(limit: usize) -> Slots {
        Slots {
            taken: std::sync::Mutex::new(0),
            limit,
        }
    }

    /// Takes a free slot, if there is one.
    pub(super) fn try_acquire(&self) -> Option<Slot<'_>> {
        let mut taken = self.taken.lock().expect("no panics while held");
        (*taken < self.limit).then(|| {
            *taken += 1;
            Slot(self)
        })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.taken.lock().expect("no panics while held") -= 1;
    }
}

/// A chunk's zstd frame, and the chunk it is a delta against.
type ChunkFrame = (Vec<u8>, Option<ObjectId>);

/// Chunks compressed in parallel at a time (and so, with those read ahead, about
/// twice this many chunks of the largest size is what a write holds in memory).
fn batch_len() -> usize {
    rayon::current_num_threads().clamp(2, 8)
}

/// Where a chunked write puts its records: the pack [`Odb::begin_pack`] started, or
/// a pack of its own.
enum Sink {
    Pending,
    Own(Box<PackWriter>),
}

impl Odb {
    /// The chunker's parameters.
    pub fn chunk_params(&self) -> ChunkParams {
        *self.chunking.read().expect("no panics while held")
    }

    /// Sets the chunker's parameters (a repository's, from its config).
    pub fn set_chunk_params(&self, params: ChunkParams) {
        *self.chunking.write().expect("no panics while held") = params;
    }

    /// Whether any pack (or the pack being written) holds chunks.
    pub fn has_chunks(&self) -> bool {
        self.pending
            .lock()
            .expect("no panics while held")
            .as_ref()
            .is_some_and(|w| w.holds_chunks())
            || self.packs().iter().any(|p| p.has_chunks())
    }

    /// Whether the store holds `id` as an object or as a chunk's key.
    pub fn contains_stored(&self, id: &ObjectId) -> bool {
        self.contains(id) || self.contains_chunk(id)
    }

    /// The size of what is stored under `id`: a chunk's, a chunk list's (not its
    /// blob's), or an object's content.
    pub fn record_size(&self, id: &ObjectId) -> Result<u64> {
        if let Some((pack, offset)) = self.chunk_copies(id).into_iter().next() {
            return Ok(pack.header(offset)?.size);
        }
        for pack in self.packs() {
            if let Some(offset) = pack.find_list(id) {
                return Ok(pack.header(offset)?.size);
            }
        }
        Ok(self.read_header(id)?.1)
    }

    /// The base of chunk `key` when its first copy is stored as a delta.
    pub fn chunk_base(&self, key: &ObjectId) -> Result<Option<ObjectId>> {
        match self.chunk_copies(key).into_iter().next() {
            Some((pack, offset)) => Ok(pack.header(offset)?.base),
            None => Ok(None),
        }
    }

    /// The bases of every copy of chunk `key` stored as a delta: whichever copy a
    /// repack keeps, its base must stay.
    pub fn chunk_bases(&self, key: &ObjectId) -> Result<Vec<ObjectId>> {
        let mut bases = Vec::new();
        for (pack, offset) in self.chunk_copies(key) {
            bases.extend(pack.header(offset)?.base);
        }
        bases.sort_unstable();
        bases.dedup();
        Ok(bases)
    }

    /// Whether chunk `key` is stored and so is every base along its first copy's
    /// chain (what a read of it follows).
    pub(super) fn chunk_intact(&self, key: &ObjectId) -> bool {
        let mut at = *key;
        for _ in 0..super::packed::MAX_DELTA_DEPTH {
            if !self.contains_chunk(&at) {
                return false;
            }
            match self.chunk_base(&at) {
                Ok(Some(base)) => at = base,
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
        false
    }

    /// The first chunk of blob `id` the store lacks, when it is stored in chunks.
    pub fn missing_chunk(&self, id: &ObjectId) -> Result<Option<ObjectId>> {
        let Some(list) = self.chunk_list(id)? else {
            return Ok(None);
        };
        Ok(list
            .chunks()
            .iter()
            .map(|c| c.key)
            .find(|key| !self.contains_chunk(key)))
    }

    /// Reads every chunk record of every pack through (in parallel, in storage
    /// order), checking each against its key; returns the copies that fail, by key.
    pub fn verify_chunks(&self) -> Vec<(ObjectId, Error)> {
        let mut records: Vec<(std::sync::Arc<super::pack::Pack>, ObjectId, u64)> = Vec::new();
        for pack in self.packs() {
            let mut chunks: Vec<(ObjectId, u64)> = pack.chunk_entries().collect();
            chunks.sort_unstable_by_key(|c| c.1);
            records.extend(
                chunks
                    .into_iter()
                    .map(|(k, o)| (std::sync::Arc::clone(&pack), k, o)),
            );
        }
        let mut bad: Vec<(ObjectId, Error)> = records
            .par_iter()
            .filter_map(|(pack, key, offset)| {
                self.read_record(Namespace::Chunks, key, pack, *offset, 0, &mut Vec::new())
                    .err()
                    .map(|e| (*key, e))
            })
            .collect();
        bad.sort_by_key(|b| b.0);
        bad
    }

    /// Whether pack `name` holds a chunk delta whose base is in another pack (a
    /// commit's or gc's pack may): such a pack cannot be sent to another store as it
    /// is. A pack that is not open counts as one.
    pub fn pack_needs_other_packs(&self, name: &str) -> Result<bool> {
        let Some(pack) = self.packs().into_iter().find(|p| p.name == name) else {
            return Ok(true);
        };
        for (_, offset) in pack.chunk_entries() {
            if let Some(base) = pack.header(offset)?.base
                && pack.find_chunk(&base).is_none()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// How many distinct chunks the packs hold.
    pub fn chunk_count(&self) -> u64 {
        let mut keys: Vec<ObjectId> = self
            .packs()
            .iter()
            .flat_map(|p| p.chunk_entries().map(|c| c.0).collect::<Vec<_>>())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys.len() as u64
    }

    /// Whether the store holds chunk `key` (in a pack, or the pack being written).
    pub(super) fn contains_chunk(&self, key: &ObjectId) -> bool {
        self.is_pending(key) || !self.chunk_copies(key).is_empty()
    }

    /// Stores a blob of `size` bytes from `reader` in chunks: in one pass the bytes
    /// are hashed for the blob's id and cut into chunks, which are compressed (in
    /// parallel) and added unless stored already; memory holds a few chunks, never
    /// the blob. Fails with [`Error::SizeChanged`] when the reader yields more or
    /// fewer than `size` bytes.
    pub(super) fn write_chunked(
        &self,
        size: u64,
        reader: impl Read + Send,
        previous: Option<&ObjectId>,
    ) -> Result<Written> {
        // A few large files at a time are compressed on every core, a batch of chunks
        // at once; others (a commit reads files in parallel) one chunk at a time, so
        // memory stays a few chunks per file. Never waiting for a slot: a writer runs
        // on the thread pool its batches use, and waiting there could deadlock.
        let slot = self.chunk_writers.try_acquire();
        let batch = if slot.is_some() { batch_len() } else { 1 };
        let params = self.chunk_params();
        let level = self.level();
        // The last version's chunks, as delta bases; unreadable ones are not.
        let previous = match previous {
            Some(id) => self.chunk_list(id).ok().flatten(),
            None => None,
        };
        let mut sink = if self.pending.lock().expect("no panics while held").is_some() {
            Sink::Pending
        } else {
            Sink::Own(Box::new(PackWriter::new(std::sync::Arc::clone(
                &self.backend,
            ))?))
        };
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(batch);
        let (read, stored) = std::thread::scope(|scope| {
            let producer = scope.spawn(move || {
                let mut hashing = HashingReader {
                    inner: reader,
                    hasher: Hasher::new(Kind::Blob, size),
                    size,
                    total: 0,
                    failed: None,
                };
                let mut cut_failed = None;
                for chunk in params.chunker(&mut hashing) {
                    match chunk {
                        Ok(chunk) => {
                            if tx.send(chunk.data).is_err() {
                                break; // the writer failed
                            }
                        }
                        Err(e) => {
                            cut_failed = Some(e);
                            break;
                        }
                    }
                }
                drop(tx);
                if let Some(e) = hashing.failed {
                    return Err(Error::Input(e));
                }
                if cut_failed.is_some() || hashing.total != size {
                    return Err(Error::SizeChanged {
                        expected: size,
                        actual: hashing.total,
                    });
                }
                Ok(hashing.hasher.finalize())
            });
            let stored = self.store_chunks(&rx, &mut sink, level, previous.as_ref(), batch);
            drop(rx); // a producer blocked on a full queue gives up
            let read = producer.join().expect("the chunk reader does not panic");
            (read, stored)
        });
        let id = read?;
        let (parts, mut stored_bytes) = stored?;
        let list = ChunkList::from_sizes(parts);
        debug_assert_eq!(list.size, size);
        let new = !self.contains_known(&id);
        if new {
            let encoded = list.encode();
            let frame = compress(&encoded, level).map_err(Error::Compress)?;
            stored_bytes += self.sink_add(&mut sink, |w| {
                w.add_chunk_list(id, size, encoded.len() as u64, &frame)
            })?;
        }
        if let Sink::Own(writer) = sink {
            writer.finish()?;
            self.reload_packs();
        }
        Ok(Written {
            id,
            new,
            stored_bytes: if new { stored_bytes } else { 0 },
        })
    }

    /// Takes chunks from `rx` until it closes, a batch at a time: each batch keyed and
    /// compressed in parallel (as a delta against `previous`'s chunk at the same
    /// offset where that is much smaller), then added in order unless stored already.
    /// Returns every chunk's key and size, in order, and the bytes added.
    fn store_chunks(
        &self,
        rx: &mpsc::Receiver<Vec<u8>>,
        sink: &mut Sink,
        level: i32,
        previous: Option<&ChunkList>,
        batch_len: usize,
    ) -> Result<(Vec<(ObjectId, u64)>, u64)> {
        let mut parts = Vec::new();
        let mut stored = 0;
        let mut offset = 0u64;
        let mut batch: Vec<(u64, Vec<u8>)> = Vec::with_capacity(batch_len);
        while let Ok(first) = rx.recv() {
            batch.clear();
            let mut next = Some(first);
            while let Some(data) = next.take() {
                let len = data.len() as u64;
                batch.push((offset, data));
                offset += len;
                if batch.len() < batch_len {
                    next = rx.try_recv().ok();
                }
            }
            let prepared: Vec<(ObjectId, Option<ChunkFrame>)> = batch
                .par_iter()
                .map(|(at, data)| {
                    let key = chunk_key(data);
                    // Stored, and readable: a copy that is a delta against a chunk
                    // gone (damage) is written again.
                    if self.contains_chunk(&key) && self.chunk_intact(&key) {
                        return Ok((key, None));
                    }
                    let base = previous
                        .and_then(|p| p.chunk_at(*at).map(|i| p.chunks[i].key))
                        .filter(|b| *b != key);
                    Ok((key, Some(self.compress_chunk(data, base, level)?)))
                })
                .collect::<Result<_>>()?;
            for ((key, stored_as), (_, data)) in prepared.into_iter().zip(&batch) {
                let len = data.len() as u64;
                parts.push((key, len));
                if let Some((frame, base)) = stored_as {
                    stored += self.sink_add(sink, |w| {
                        if w.contains(&key) {
                            return Ok(0);
                        }
                        if base.is_some() {
                            w.allow_external_chunk_bases();
                        }
                        w.add_chunk(key, len, base.as_ref(), &frame)
                    })?;
                }
            }
        }
        Ok((parts, stored))
    }

    /// A new chunk's frame: as a zstd delta against chunk `base` (its content as the
    /// dictionary, as `zstd --patch-from`) when that takes less than half of the
    /// chunk, or than compressing it alone; else alone. A base that cannot be read,
    /// or that ends a chain of [`MAX_CHUNK_CHAIN`] deltas, is not used.
    fn compress_chunk(
        &self,
        data: &[u8],
        base: Option<ObjectId>,
        level: i32,
    ) -> Result<ChunkFrame> {
        let delta = match base {
            Some(base) if self.chunk_chain(&base) < MAX_CHUNK_CHAIN => {
                match self.read_chunk(&base, 0, &mut Vec::new()) {
                    Ok(content) => Some((base, delta_frame(data, &content, level)?)),
                    Err(_) => None,
                }
            }
            _ => None,
        };
        if let Some((base, frame)) = &delta
            && frame.len() < data.len() / 2
        {
            return Ok((frame.clone(), Some(*base)));
        }
        let alone = compress(data, level).map_err(Error::Compress)?;
        Ok(match delta {
            Some((base, frame)) if frame.len() < alone.len() => (frame, Some(base)),
            _ => (alone, None),
        })
    }

    /// How many deltas lead from chunk `key` to a chunk stored whole (0 for one stored
    /// whole); [`MAX_CHUNK_CHAIN`] when that is at least as many or cannot be told.
    fn chunk_chain(&self, key: &ObjectId) -> usize {
        let mut at = *key;
        for depth in 0..MAX_CHUNK_CHAIN {
            match self.chunk_base(&at) {
                Ok(Some(base)) => at = base,
                Ok(None) => return depth,
                Err(_) => break,
            }
        }
        MAX_CHUNK_CHAIN
    }

    /// Adds a record through `add` to the sink's pack.
    fn sink_add(
        &self,
        sink: &mut Sink,
        add: impl FnOnce(&mut PackWriter) -> Result<u64>,
    ) -> Result<u64> {
        match sink {
            Sink::Own(writer) => add(writer),
            Sink::Pending => {
                let mut pending = self.pending.lock().expect("no panics while held");
                match pending.as_mut() {
                    Some(writer) => add(writer),
                    // Ended under us: not how a commit uses it.
                    None => Err(Error::Io(crate::fs::IoError::new(
                        "add a chunk to the pack in",
                        self.backend.location(super::backend::FileKind::Pack, ""),
                        io::Error::other("the pack being written was finished"),
                    ))),
                }
            }
        }
    }

    /// Whether `id` is a chunk's key, or an object stored as a chunk list: what
    /// [`Odb::copy_chunk_record`] copies.
    pub(super) fn is_chunk_record(&self, id: &ObjectId) -> Result<bool> {
        Ok(self.contains_chunk(id) || self.packs().iter().any(|p| p.find_list(id).is_some()))
    }

    /// Copies the record of chunk `id`, or of object `id` stored as a chunk list,
    /// into `writer`, checked (a list, not the chunks it names): its frame as stored
    /// when it decompresses alone, or when it is a chunk delta whose base
    /// `keep_delta` accepts (the writer must then reach that base); otherwise its
    /// content compressed whole. Returns the bytes added.
    pub(super) fn copy_chunk_record(
        &self,
        id: &ObjectId,
        writer: &mut PackWriter,
        level: i32,
        keep_delta: &dyn Fn(&ObjectId) -> bool,
    ) -> Result<u64> {
        let read = |namespace| {
            move |place: Place<'_>| match place {
                Place::Packed(pack, offset) => self
                    .read_record(namespace, id, pack, offset, 0, &mut Vec::new())
                    .map(Some)
                    .into(),
                Place::Loose => Copy::Absent,
            }
        };
        let record = match self.find_copy_in(Namespace::Chunks, id, read(Namespace::Chunks))? {
            Some(record) => record,
            None => self
                .find_copy(id, read(Namespace::Objects))?
                .ok_or(Error::NotFound { id: *id })?,
        };
        let base = record.header.base.filter(|b| keep_delta(b));
        let as_stored = !record.header.uses_dictionary
            && !record.frame.is_empty()
            && record.header.base == base;
        let frame = if as_stored {
            record.frame
        } else {
            compress(&record.data, level).map_err(Error::Compress)?
        };
        let len = record.data.len() as u64;
        match record.header.role {
            Role::Chunk => writer.add_chunk(*id, len, base.as_ref(), &frame),
            Role::List { blob_size } => writer.add_chunk_list(*id, blob_size, len, &frame),
            // A blob stored whole too, whose whole copy came first: as it is.
            Role::Object => writer.add(*id, record.header.kind, &record.data, level),
        }
    }

    /// The chunk lists of every copy of blob `id` stored in chunks (a store may hold
    /// a blob twice, whole and in chunks, or in chunks of two parameters): whichever
    /// copy a repack keeps, its chunks must stay. Damaged copies are left out, unless
    /// no copy reads: then the first error.
    pub fn chunk_lists(&self, id: &ObjectId) -> Result<Vec<ChunkList>> {
        let mut lists = Vec::new();
        let mut failed = None;
        for pack in self.packs() {
            let Some(offset) = pack.find_list(id) else {
                continue;
            };
            match self.read_record(Namespace::Objects, id, &pack, offset, 0, &mut Vec::new()) {
                Ok(record) => lists.extend(record.list),
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        match failed {
            Some(e) if lists.is_empty() => Err(e),
            _ => Ok(lists),
        }
    }

    /// The chunk list of blob `id`, when it is stored in chunks (the first copy's, if
    /// more than one is); `None` when it is stored whole (or absent).
    pub fn chunk_list(&self, id: &ObjectId) -> Result<Option<ChunkList>> {
        Ok(self.chunk_lists(id)?.into_iter().next())
    }

    /// Streams the content of chunked blob `id` (its chunks `list`) into `out`,
    /// checking each chunk against its key and the whole against `id`. On a bad chunk
    /// the error names the blob and the chunk, after the bytes before it went out.
    pub(super) fn stream_chunks(
        &self,
        id: &ObjectId,
        list: &ChunkList,
        out: &mut dyn Write,
    ) -> Result<u64> {
        let mut hasher = Hasher::new(Kind::Blob, list.size);
        for chunk in &list.chunks {
            let data = self.chunk_of(id, chunk)?;
            hasher.update(&data);
            out.write_all(&data).map_err(Error::Output)?;
        }
        let actual = hasher.finalize();
        if actual != *id {
            return Err(Error::Corrupt {
                id: *id,
                reason: format!("its chunks hash to {actual}"),
            });
        }
        Ok(list.size)
    }

    /// Reads one chunk of blob `id`, naming both in an error.
    fn chunk_of(&self, id: &ObjectId, chunk: &ChunkRef) -> Result<Vec<u8>> {
        let named = |e: Error| Error::Corrupt {
            id: *id,
            reason: format!(
                "chunk {} (bytes {}..{}): {e}",
                chunk.key,
                chunk.offset,
                chunk.offset + chunk.len
            ),
        };
        let data = self
            .read_chunk(&chunk.key, 0, &mut Vec::new())
            .map_err(named)?;
        if data.len() as u64 != chunk.len {
            return Err(named(Error::Corrupt {
                id: chunk.key,
                reason: format!("{} bytes, the list says {}", data.len(), chunk.len),
            }));
        }
        Ok(data)
    }

    /// Reads `len` bytes of blob `id` from `offset` (fewer at the end): for a chunked
    /// blob only the chunks that hold them are read (a binary search over its chunk
    /// list), each checked against its key; the whole content's id is not checked, as
    /// that would mean reading it all. A blob stored whole is read whole.
    pub fn read_range(&self, id: &ObjectId, offset: u64, len: u64) -> Result<Vec<u8>> {
        let Some(list) = self.chunk_list(id)? else {
            let data = self.find_blob(id)?;
            let start = offset.min(data.len() as u64) as usize;
            let end = offset.saturating_add(len).min(data.len() as u64) as usize;
            return Ok(data[start..end].to_vec());
        };
        let end = offset.saturating_add(len).min(list.size);
        let mut out = Vec::with_capacity(end.saturating_sub(offset).min(1 << 24) as usize);
        let Some(first) = list.chunk_at(offset) else {
            return Ok(out);
        };
        for chunk in list.chunks[first..].iter().take_while(|c| c.offset < end) {
            let data = self.chunk_of(id, chunk)?;
            let from = offset.saturating_sub(chunk.offset) as usize;
            let to = (end - chunk.offset).min(chunk.len) as usize;
            out.extend_from_slice(&data[from..to]);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odb::testing::{Fixture, TestResult, both};

    both!(scattered_writes_are_stored_as_small_deltas);

    /// Pseudo-random bytes (xorshift), incompressible.
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn scattered_writes_are_stored_as_small_deltas(store: &Fixture) -> TestResult {
        let odb = store.odb();
        let mut data = noise(12 << 20, 7);
        let first = odb.write_blob_stream(data.len() as u64, &data[..], None)?;
        assert!(first.stored_bytes > 12 << 20, "incompressible: {first:?}");
        // 40 writes of 100 bytes, 4 KiB-aligned, spread over the file (as a database
        // updates pages): every chunk is touched.
        for i in 0..40 {
            let at = (i * 300_007) / 4096 * 4096;
            data[at..at + 100].copy_from_slice(&noise(100, i as u64 + 99));
        }
        let second = odb.write_blob_stream(data.len() as u64, &data[..], Some(&first.id))?;
        let list = odb.chunk_list(&second.id)?.expect("chunked");
        let old = odb.chunk_list(&first.id)?.expect("chunked");
        let new_chunks = list
            .chunks()
            .iter()
            .filter(|c| !old.chunks().iter().any(|o| o.key == c.key))
            .count();
        assert!(new_chunks >= 8, "{new_chunks} chunks changed");
        // Each changed chunk as a delta of a few KiB, not a new MiB.
        assert!(
            second.stored_bytes < 64 << 10,
            "{} bytes for {new_chunks} changed chunks",
            second.stored_bytes
        );
        let mut out = Vec::new();
        odb.stream_blob(&second.id, &mut out)?;
        assert!(out == data);
        // Without the previous version, the same edit costs whole chunks.
        let other = store.odb();
        data[5..9].copy_from_slice(b"more");
        let third = other.write_blob_stream(data.len() as u64, &data[..], None)?;
        assert!(third.stored_bytes > 256 << 10, "{third:?}");
        Ok(())
    }

    #[test]
    fn lists_round_trip_and_damage_is_refused() {
        let list = ChunkList::from_sizes([
            (chunk_key(b"a"), 300_000),
            (chunk_key(b"b"), 1),
            (chunk_key(b"c"), 70_000),
        ]);
        let bytes = list.encode();
        assert_eq!(ChunkList::decode(&bytes, 370_001), Ok(list.clone()));
        assert!(ChunkList::decode(&bytes, 370_000).is_err());
        let mut bad = bytes.clone();
        bad[5] ^= 1;
        assert!(ChunkList::decode(&bad, 370_001).is_err());
        assert!(ChunkList::decode(&bytes[..20], 370_001).is_err());
        assert_eq!(list.chunk_at(0), Some(0));
        assert_eq!(list.chunk_at(299_999), Some(0));
        assert_eq!(list.chunk_at(300_000), Some(1));
        assert_eq!(list.chunk_at(300_001), Some(2));
        assert_eq!(list.chunk_at(370_001), None);
    }

    #[test]
    fn a_chunk_key_is_never_an_object_id() {
        // The content `blob 5\0hello` would hash to the blob `hello`'s id without the
        // chunk header.
        let id = ObjectId::hash(Kind::Blob, b"hello");
        assert_ne!(chunk_key(b"blob 5\0hello"), id);
        assert_eq!(
            ObjectId::from_slice(&Sha256::digest(b"blob 5\0hello")).unwrap(),
            id
        );
    }

    #[test]
    fn default_parameters_are_valid() {
        assert_eq!(ChunkParams::DEFAULT.check(), Ok(()));
        let odd = ChunkParams {
            avg: 1_000_001,
            ..ChunkParams::DEFAULT
        };
        assert!(odd.check().is_err());
    }
}
