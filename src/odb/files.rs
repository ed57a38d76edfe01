//! What is stored where: counts, sizes and ages of the stored files, where each copy
//! of an object is, and removing files — for `count-objects`, gc's pruning decision
//! and diagnostics, without anyone above the odb touching a file.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::backend::FileKind;
use super::pack::{Pack, PackWriter, Role};
use super::packed::{Copy, Namespace, Place};
use super::{Error, Odb, PackInfo, Result};
use crate::object::{Kind, ObjectId};

/// Loose and packed objects and their bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjectCounts {
    /// Loose objects.
    pub loose: u64,
    /// Bytes of loose object files.
    pub loose_bytes: u64,
    /// Packs.
    pub packs: u64,
    /// Objects in packs.
    pub packed: u64,
    /// Bytes of packs and their indexes.
    pub pack_bytes: u64,
    /// Loose objects a pack also holds (git's `prune-packable`): a gc removes them.
    pub prune_packable: u64,
    /// Distinct chunks of chunked blobs (not counted in `packed`).
    pub chunks: u64,
    /// Their content bytes (before compression).
    pub chunk_bytes: u64,
    /// Distinct blobs stored in chunks.
    pub chunked_blobs: u64,
    /// Their content bytes: what they would take without sharing chunks, before
    /// compression. Minus `chunk_bytes`, what deduplication saves.
    pub chunked_bytes: u64,
}

/// Where one copy of an object is stored (as `git verify-pack -v` shows it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCopy {
    /// The file holding it: a loose object's, or a pack's.
    pub file: PathBuf,
    /// The pack's name, for a packed copy.
    pub pack: Option<String>,
    /// Where its record starts in the pack (0 for a loose copy).
    pub offset: u64,
    /// Its kind, as its record says.
    pub kind: Kind,
    /// Its content size, as its record says.
    pub size: u64,
    /// The base of a delta.
    pub base: Option<ObjectId>,
    /// The bytes of the zstd frame that holds its content: its own, or for a member of
    /// a block the block's; a loose copy's whole file.
    pub frame: Range<u64>,
    /// For a member of a block: the offset of the block's record.
    pub block: Option<u64>,
}

/// The bytes on disk one stored copy of an object takes (see [`Odb::stored_size`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredSize {
    /// Its own bytes: a loose object's file; a pack record (a delta's without its
    /// base's); for a member of a block, its record and its share of the block
    /// record, in proportion to its content; for a blob stored in chunks, its chunk
    /// list's record.
    pub bytes: u64,
    /// For a blob stored in chunks: each distinct chunk's key and the bytes of its
    /// record (a chunk delta's without its base's). Other blobs may share chunks, so
    /// a caller adding up several blobs counts each key once.
    pub chunks: Vec<(ObjectId, u64)>,
}

fn unix_secs(time: Option<SystemTime>) -> u64 {
    time.unwrap_or_else(SystemTime::now)
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Odb {
    fn size_of(&self, kind: FileKind, name: &str) -> u64 {
        match self.backend.stat(kind, name) {
            Ok(Some(info)) => info.size,
            _ => 0,
        }
    }

    /// Counts loose and packed objects and the bytes they take.
    #[doc(alias = "count-objects")]
    pub fn count_objects(&self) -> Result<ObjectCounts> {
        let mut counts = ObjectCounts::default();
        let loose: HashSet<ObjectId> = self.loose_ids()?.into_iter().collect();
        for id in &loose {
            counts.loose += 1;
            counts.loose_bytes += self.size_of(FileKind::Loose, &id.to_string());
            if !self.packed_copies(id).is_empty() {
                counts.prune_packable += 1;
            }
        }
        let chunked = self.has_chunks();
        let mut chunks: HashMap<ObjectId, u64> = HashMap::new();
        let mut lists: HashMap<ObjectId, u64> = HashMap::new();
        for pack in self.packs() {
            counts.packs += 1;
            counts.packed += pack.object_entries().count() as u64;
            counts.pack_bytes += self.size_of(FileKind::Pack, &pack.name)
                + self.size_of(FileKind::Index, &pack.name);
            if !chunked {
                continue;
            }
            for (key, offset) in pack.chunk_entries() {
                chunks.insert(key, pack.header(offset)?.size);
            }
            for (id, offset) in pack.list_entries() {
                if let super::pack::Role::List { blob_size } = pack.header(offset)?.role {
                    lists.insert(id, blob_size);
                }
            }
        }
        counts.chunks = chunks.len() as u64;
        counts.chunk_bytes = chunks.values().sum();
        counts.chunked_blobs = lists.len() as u64;
        counts.chunked_bytes = lists.values().sum();
        Ok(counts)
    }

    /// The bytes on disk of the copy of `id` a read would use (a packed copy before a
    /// loose one), from record headers and file sizes: nothing is decompressed but a
    /// chunked blob's list. `None` when the store lacks it.
    pub fn stored_size(&self, id: &ObjectId) -> Result<Option<StoredSize>> {
        self.find_copy(id, |place| match place {
            Place::Packed(pack, offset) => self.packed_size(id, pack, offset).into(),
            Place::Loose => match self.backend.stat(FileKind::Loose, &id.to_string()) {
                Ok(Some(info)) if info.size > 0 => Copy::Good(StoredSize {
                    bytes: info.size,
                    chunks: Vec::new(),
                }),
                _ => Copy::Absent,
            },
        })
    }

    /// [`Odb::stored_size`] of the copy of `id` at `offset` in `pack`.
    fn packed_size(&self, id: &ObjectId, pack: &Pack, offset: u64) -> Result<Option<StoredSize>> {
        let header = pack.header(offset)?;
        let mut out = StoredSize {
            bytes: Self::record_bytes(pack, &header)?,
            chunks: Vec::new(),
        };
        if let Role::List { .. } = header.role {
            let record =
                self.read_record(Namespace::Objects, id, pack, offset, 0, &mut Vec::new())?;
            let list = record.list.ok_or_else(|| Error::Corrupt {
                id: *id,
                reason: "its chunk list does not decode".to_owned(),
            })?;
            let mut keys: Vec<ObjectId> = list.chunks().iter().map(|c| c.key).collect();
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                let Some((pack, offset)) = self.chunk_copies(&key).into_iter().next() else {
                    continue;
                };
                let chunk = pack.header(offset)?;
                out.chunks.push((key, Self::record_bytes(&pack, &chunk)?));
            }
        }
        Ok(Some(out))
    }

    /// The bytes of the record `header` heads: its header and frame; for a member of
    /// a block, its record and its share of the block record's, in proportion to its
    /// content.
    fn record_bytes(pack: &Pack, header: &super::pack::RecordHeader) -> Result<u64> {
        let Some((block, _)) = header.block else {
            return Ok(header.head_len + header.frame_len);
        };
        let block = pack.block_header(block)?;
        let block_bytes = block.head_len + block.frame_len;
        // In u128: a block's sizes are bounded, but the product of two u64 is not.
        let share =
            u128::from(block_bytes) * u128::from(header.size) / u128::from(block.size.max(1));
        Ok(header.head_len + u64::try_from(share).unwrap_or(u64::MAX))
    }

    /// The bytes of every packed copy of `id` (an object, or a chunk by its key), as
    /// [`StoredSize::bytes`] counts one: what dropping it from every pack frees.
    pub fn packed_bytes(&self, id: &ObjectId) -> Result<u64> {
        let mut bytes = 0;
        for pack in self.packs() {
            if let Some(offset) = pack.find_stored(id) {
                bytes += Self::record_bytes(&pack, &pack.header(offset)?)?;
            }
        }
        Ok(bytes)
    }

    /// What a gc that kept only `keep` (objects, and chunks by key) would find to
    /// drop: the stored things outside it and their bytes on disk, each copy counted
    /// (loose files, and pack records as [`StoredSize::bytes`] counts them). Pack
    /// headers and indexes are left out.
    pub fn unreachable_bytes(&self, keep: &HashSet<ObjectId>) -> Result<(u64, u64)> {
        let (mut things, mut bytes) = (0, 0);
        for id in self.loose_ids()? {
            if !keep.contains(&id) {
                things += 1;
                bytes += self.size_of(FileKind::Loose, &id.to_string());
            }
        }
        for pack in self.packs() {
            for (id, offset) in pack.entries() {
                if !keep.contains(&id) {
                    things += 1;
                    bytes += Self::record_bytes(&pack, &pack.header(offset)?)?;
                }
            }
        }
        Ok((things, bytes))
    }

    /// Every loose object id.
    pub fn loose_object_ids(&self) -> Result<Vec<ObjectId>> {
        self.loose_ids()
    }

    /// The size of a loose object's file and how long ago it was written; `None`
    /// when there is no loose copy.
    pub fn loose_size_and_age(&self, id: &ObjectId) -> Option<(u64, Duration)> {
        let info = self.backend.stat(FileKind::Loose, &id.to_string()).ok()??;
        let age = info
            .modified
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .unwrap_or(Duration::ZERO);
        Some((info.size, age))
    }

    /// Each packed object for which `skip` is false, with the time it was written
    /// (unix seconds): a cruft pack records each object's own time, any other pack's
    /// file time is when its objects were written; the newest where an object is in
    /// more than one pack.
    pub fn packed_times(&self, skip: impl Fn(&ObjectId) -> bool) -> HashMap<ObjectId, u64> {
        let mut out: HashMap<ObjectId, u64> = HashMap::new();
        for pack in self.packs() {
            let pack_time = self.pack_time(&pack.name);
            let times = super::cruft::read_times(&*self.backend, &pack);
            for (i, (id, _)) in pack.entries().enumerate() {
                if skip(&id) {
                    continue;
                }
                let time = times.as_ref().map_or(pack_time, |t| t[i]);
                let newest = out.entry(id).or_insert(time);
                *newest = (*newest).max(time);
            }
        }
        out
    }

    /// When a pack was written: its file time (now, when unknown), in unix seconds.
    pub(super) fn pack_time(&self, name: &str) -> u64 {
        unix_secs(
            self.backend
                .stat(FileKind::Pack, name)
                .ok()
                .flatten()
                .and_then(|i| i.modified),
        )
    }

    /// Whether a pack is a cruft pack: one with a `.mtimes` sidecar.
    pub(super) fn is_cruft_pack(&self, name: &str) -> bool {
        matches!(self.backend.stat(FileKind::Times, name), Ok(Some(_)))
    }

    /// The names (checksums) of the open packs.
    pub fn pack_names(&self) -> Vec<String> {
        self.packs().iter().map(|p| p.name.clone()).collect()
    }

    /// Removes a loose copy; whether there was one to remove.
    pub fn remove_loose(&self, id: &ObjectId) -> bool {
        let name = id.to_string();
        self.loose_present(id) && self.backend.remove(FileKind::Loose, &name).is_ok()
    }

    /// Removes a pack: its index first (without it, no reader looks in the pack, and
    /// the next writer removes what a kill leaves of the rest), then the pack and its
    /// times. Best effort: what stays is removed by the next gc.
    pub(crate) fn remove_pack(&self, name: &str) {
        for kind in [FileKind::Index, FileKind::Pack, FileKind::Times] {
            let _ = self.backend.remove(kind, name);
        }
    }

    /// Where each copy of `id` is stored: each pack's, then the loose one.
    pub fn locate(&self, id: &ObjectId) -> Result<Vec<StoredCopy>> {
        let mut out = Vec::new();
        for (pack, offset) in self.packed_copies(id) {
            let header = pack.header(offset)?;
            let frame = match header.block {
                Some((block, _)) => {
                    let block = pack.block_header(block)?;
                    block.frame_offset..block.frame_offset + block.frame_len
                }
                None => header.frame_offset..header.frame_offset + header.frame_len,
            };
            out.push(StoredCopy {
                file: self.backend.location(FileKind::Pack, &pack.name),
                pack: Some(pack.name.clone()),
                offset,
                kind: header.kind,
                size: header.size,
                base: header.base,
                frame,
                block: header.block.map(|b| b.0),
            });
        }
        if let Some((kind, size)) = self.read_loose_header(id)? {
            let name = id.to_string();
            out.push(StoredCopy {
                file: self.backend.location(FileKind::Loose, &name),
                pack: None,
                offset: 0,
                kind,
                size,
                base: None,
                frame: 0..self.size_of(FileKind::Loose, &name),
                block: None,
            });
        }
        Ok(out)
    }

    /// Writes a pack holding `records` as given — per object its id, kind, declared
    /// size and zstd frame, none of it checked — for tests and fuzzing that need
    /// damaged or hostile packs; never for storing objects. Returns the pack and the
    /// offset of each record.
    #[doc(hidden)]
    pub fn craft_pack(
        &self,
        records: &[(ObjectId, Kind, u64, &[u8])],
    ) -> Result<(PackInfo, Vec<u64>)> {
        let mut writer = PackWriter::new(std::sync::Arc::clone(&self.backend))?;
        let mut offsets = Vec::new();
        for (id, kind, size, frame) in records {
            let taken = writer.add_frame(*id, *kind, *size, None, frame)?;
            offsets.push(writer.offset() - taken);
        }
        let info = writer.finish()?.expect("records were added");
        self.reload_packs();
        Ok((info, offsets))
    }
}
