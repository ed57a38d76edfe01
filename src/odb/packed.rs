//! The packed read path: which packs are open, finding a good copy of an object
//! among packs and the loose file (a damaged copy gives way to an intact one; a
//! pack a gc removed is looked for again), delta chains, and the block cache.

use std::io;
use std::sync::Arc;

use super::backend::FileKind;
use super::pack::{self, Pack, RecordHeader, Role};
use super::{Error, MAX_IN_MEMORY_SIZE, Object, Odb, Result, chunked};
use crate::object::{Kind, ObjectId};

/// Which ids a lookup is after: objects, or chunks of chunked blobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Namespace {
    /// Objects (git's ids), packed or loose.
    Objects,
    /// Chunks (their keys), only ever packed.
    Chunks,
}

/// A record read and checked: its header, its content (for a chunk list, the encoded
/// list) and, for a chunk list, the list.
pub(super) struct Record {
    /// The record's header.
    pub(super) header: RecordHeader,
    /// Its content.
    pub(super) data: Vec<u8>,
    /// The decoded chunk list, for a chunk list.
    pub(super) list: Option<chunked::ChunkList>,
    /// The zstd frame as stored (empty for a member of a block): a copy can take it
    /// as it is when it decompresses alone, or against the same base.
    pub(super) frame: Vec<u8>,
}

/// A decompressed block: (pack name, offset) and its content.
pub(super) type CachedBlock = ((String, u64), Arc<Vec<u8>>);

/// How many decompressed blocks [`Odb`] keeps: members of a block are usually read
/// together (a checkout or gc walks them in order).
const BLOCK_CACHE: usize = 8;

/// The most delta hops a read follows; packs cow writes stay well below it.
pub(super) const MAX_DELTA_DEPTH: usize = 50;

/// How many times one lookup reloads the pack list while packs keep changing under it
/// (a `gc` replacing the pack it just listed).
const MAX_RELOADS: usize = 8;

/// Where a copy of an object is stored.
#[derive(Clone, Copy)]
pub(super) enum Place<'p> {
    /// In a pack, at a record offset.
    Packed(&'p Pack, u64),
    /// As a loose file (which may not exist).
    Loose,
}

/// What reading one copy of an object gave (see [`Odb::find_copy`]).
pub(super) enum Copy<T> {
    /// The copy is intact.
    Good(T),
    /// There is no such copy.
    Absent,
    /// The copy is damaged or unreadable; another may be intact.
    Bad(Error),
    /// The copy failed after part of it was used: no other copy may follow.
    Fatal(Error),
}

impl<T> From<Result<Option<T>>> for Copy<T> {
    fn from(result: Result<Option<T>>) -> Copy<T> {
        match result {
            Ok(Some(found)) => Copy::Good(found),
            Ok(None) => Copy::Absent,
            Err(e) => Copy::Bad(e),
        }
    }
}

/// What [`Odb::refresh_packs`] saw change.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Refresh {
    /// A pack not open before was opened.
    pub(super) added: bool,
    /// A listed pack was gone by the time it was opened.
    pub(super) vanished: bool,
}

impl Odb {
    /// Opens every pack in `objects/pack` (indexes that do not open are skipped here;
    /// [`Odb::check_packs`] reports them).
    pub fn reload_packs(&self) {
        self.refresh_packs();
    }

    /// Re-reads the list of packs, keeping those already open (a pack is named after
    /// its checksum, so one name is always the same content) and opening new ones.
    pub(super) fn refresh_packs(&self) -> Refresh {
        let old = self.packs();
        let mut packs = Vec::new();
        let mut refresh = Refresh::default();
        if let Ok(mut names) = self.backend.list(FileKind::Index, "") {
            names.sort();
            #[cfg(test)]
            super::tests::after_listing_packs();
            for name in names {
                if let Some(open) = old.iter().find(|p| p.name == name) {
                    packs.push(Arc::clone(open));
                    continue;
                }
                match Pack::open(&*self.backend, &name) {
                    Ok(pack) => {
                        refresh.added = true;
                        packs.push(Arc::new(pack));
                    }
                    // Removed (by gc) between the listing and the open: its objects
                    // are in a pack the listing may have missed.
                    Err(Error::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
                        refresh.vanished = true;
                    }
                    Err(_) => {}
                }
            }
        }
        *self.packs.write().expect("no panics while held") = packs;
        refresh
    }

    /// The open packs.
    pub(crate) fn packs(&self) -> Vec<Arc<Pack>> {
        self.packs.read().expect("no panics while held").clone()
    }

    /// Checks every pack file: opens its index and verifies checksums and order.
    pub fn check_packs(&self) -> Vec<Error> {
        let mut problems = Vec::new();
        // A pack without its index is what a writer killed between the two leaves (or
        // one mid-way, right now): no reader looks at it, and the next writer removes
        // it (as git, whose fsck ignores such a pack).
        let mut names = match self.backend.list(FileKind::Index, "") {
            Ok(names) => names,
            Err(e) => {
                let dir = self.backend.location(FileKind::Index, "");
                return vec![crate::fs::IoError::new("read directory", dir, e).into()];
            }
        };
        names.sort();
        for name in names {
            match Pack::open(&*self.backend, &name) {
                Ok(pack) => problems.extend(pack.verify()),
                // Removed since the listing (by a gc running meanwhile).
                Err(_) if matches!(self.backend.stat(FileKind::Index, &name), Ok(None)) => {}
                Err(e) => problems.push(e),
            }
        }
        problems
    }

    /// The packs holding a copy of object `id`, with the offset of each copy.
    pub(super) fn packed_copies(&self, id: &ObjectId) -> Vec<(Arc<Pack>, u64)> {
        self.copies_in(Namespace::Objects, id)
    }

    /// The packs holding a copy of chunk `key`, with the offset of each copy.
    pub(super) fn chunk_copies(&self, key: &ObjectId) -> Vec<(Arc<Pack>, u64)> {
        self.copies_in(Namespace::Chunks, key)
    }

    fn copies_in(&self, namespace: Namespace, id: &ObjectId) -> Vec<(Arc<Pack>, u64)> {
        let packs = self.packs.read().expect("no panics while held");
        packs
            .iter()
            .filter_map(|p| {
                match namespace {
                    Namespace::Objects => p.find(id),
                    Namespace::Chunks => p.find_chunk(id),
                }
                .map(|o| (Arc::clone(p), o))
            })
            .collect()
    }

    /// [`Odb::find_copy`] of object `id`.
    pub(super) fn find_copy<T>(
        &self,
        id: &ObjectId,
        read: impl FnMut(Place<'_>) -> Copy<T>,
    ) -> Result<Option<T>> {
        self.find_copy_in(Namespace::Objects, id, read)
    }

    /// Finds a copy of `id` that `read` accepts: every read path goes through here.
    ///
    /// Each pack's copy is tried in turn, then the loose one; a copy that `read` finds
    /// bad gives way to the next (an intact copy elsewhere is not hidden by a corrupt
    /// one). When no copy is good, the pack list is reloaded and the packs not tried
    /// yet are searched: `gc` may have moved the object into a new pack and removed
    /// the copy this store knew of. The error of the first bad copy is returned when
    /// none is good; `Ok(None)` when there is no copy at all.
    ///
    /// Chunks (`namespace`) are only ever packed: their search skips the loose step.
    pub(super) fn find_copy_in<T>(
        &self,
        namespace: Namespace,
        id: &ObjectId,
        mut read: impl FnMut(Place<'_>) -> Copy<T>,
    ) -> Result<Option<T>> {
        let mut first_error = None;
        let mut tried: Vec<Arc<Pack>> = Vec::new();
        let mut loose_bad = namespace == Namespace::Chunks;
        let mut reloads = 0;
        loop {
            for (pack, offset) in self.copies_in(namespace, id) {
                if tried.iter().any(|t| Arc::ptr_eq(t, &pack)) {
                    continue;
                }
                match read(Place::Packed(&pack, offset)) {
                    Copy::Good(found) => return Ok(Some(found)),
                    Copy::Absent => {}
                    Copy::Bad(e) => {
                        first_error.get_or_insert(e);
                    }
                    Copy::Fatal(e) => return Err(e),
                }
                tried.push(pack);
            }
            if !loose_bad {
                match read(Place::Loose) {
                    Copy::Good(found) => return Ok(Some(found)),
                    Copy::Absent => {}
                    Copy::Bad(e) => {
                        loose_bad = true;
                        first_error.get_or_insert(e);
                    }
                    Copy::Fatal(e) => return Err(e),
                }
            }
            if reloads == MAX_RELOADS {
                break;
            }
            reloads += 1;
            let refresh = self.refresh_packs();
            if !refresh.added && !refresh.vanished {
                break;
            }
        }
        first_error.map_or(Ok(None), Err)
    }

    /// Reads and verifies the copy of object `id` at `offset` in `pack` (a chunked
    /// blob is read through its chunks, whole, at most [`MAX_IN_MEMORY_SIZE`] bytes).
    /// See [`Odb::read_record`] for `depth` and `unreadable`.
    pub(super) fn read_packed(
        &self,
        id: &ObjectId,
        pack: &Pack,
        offset: u64,
        depth: usize,
        unreadable: &mut Vec<ObjectId>,
    ) -> Result<Object> {
        let record = self.read_record(Namespace::Objects, id, pack, offset, depth, unreadable)?;
        match record.list {
            None => Ok(Object {
                kind: record.header.kind,
                data: record.data,
            }),
            Some(list) => {
                if list.size() > MAX_IN_MEMORY_SIZE {
                    return Err(Error::TooLarge {
                        id: *id,
                        size: list.size(),
                        limit: MAX_IN_MEMORY_SIZE,
                    });
                }
                let mut data = Vec::with_capacity(list.size() as usize);
                self.stream_chunks(id, &list, &mut data)?;
                Ok(Object {
                    kind: Kind::Blob,
                    data,
                })
            }
        }
    }

    /// Reads and verifies the record of `id` at `offset` in `pack`, following delta
    /// bases (any copy of a base will do): an object's content checked against its
    /// id, a chunk's against its key, a chunk list's against its own checksum (its
    /// chunks are not read). `unreadable` collects the bases no copy of
    /// which could be read, so that other copies of deltas against them do not try
    /// again: with damaged copies at every step of a chain, that would take time
    /// exponential in its length.
    pub(super) fn read_record(
        &self,
        namespace: Namespace,
        id: &ObjectId,
        pack: &Pack,
        offset: u64,
        depth: usize,
        unreadable: &mut Vec<ObjectId>,
    ) -> Result<Record> {
        let header = pack.header(offset)?;
        // The index says what the record is: a chunk under a chunk's key, an object
        // (whole, or as a chunk list) under an object's id; anything else is crafted.
        if (header.role == Role::Chunk) != (namespace == Namespace::Chunks) {
            let (listed, found) = match namespace {
                Namespace::Chunks => ("a chunk", "an object"),
                Namespace::Objects => ("an object", "a chunk"),
            };
            return Err(Error::BadPack {
                pack: format!("pack-{}", pack.name),
                offset: Some(offset),
                reason: format!("the index lists {id} as {listed}, the record is {found}"),
            });
        }
        if let Some((block, start)) = header.block {
            let content = self.block(pack, block)?;
            let data = usize::try_from(start)
                .ok()
                .and_then(|s| content.get(s..s.checked_add(header.size as usize)?))
                .ok_or_else(|| Error::BadPack {
                    pack: format!("pack-{}", pack.name),
                    offset: Some(offset),
                    reason: "member runs past the end of its block".into(),
                })?
                .to_vec();
            pack::check(id, header.kind, &data, pack, offset)?;
            return Ok(Record {
                header,
                data,
                list: None,
                frame: Vec::new(),
            });
        }
        let frame = pack.frame(&header)?;
        let data = match header.base {
            None => pack.decompress(offset, &header, &frame, None)?,
            Some(base) => {
                if depth >= MAX_DELTA_DEPTH {
                    return Err(Error::Corrupt {
                        id: *id,
                        reason: format!(
                            "delta chain longer than {MAX_DELTA_DEPTH} (pack-{} at offset {offset})",
                            pack.name
                        ),
                    });
                }
                if unreadable.contains(&base) {
                    return Err(Error::Corrupt {
                        id: *id,
                        reason: format!("its delta base {base} cannot be read"),
                    });
                }
                // A chunk's base is a chunk; an object's an object.
                let found = match header.role {
                    Role::Chunk => self.try_read_chunk(&base, depth + 1, unreadable),
                    _ => self
                        .read_object(&base, depth + 1, unreadable)
                        .map(|o| o.map(|o| o.data)),
                };
                let base_data = match found {
                    Ok(Some(found)) => found,
                    failed => {
                        unreadable.push(base);
                        failed?.ok_or(Error::NotFound { id: base })?
                    }
                };
                pack.decompress(offset, &header, &frame, Some(&base_data))?
            }
        };
        let list = match header.role {
            Role::Object => {
                pack::check(id, header.kind, &data, pack, offset)?;
                None
            }
            Role::Chunk => {
                let actual = chunked::chunk_key(&data);
                if actual != *id {
                    return Err(Error::Corrupt {
                        id: *id,
                        reason: format!(
                            "chunk content hashes to {actual} (pack-{} at offset {offset})",
                            pack.name
                        ),
                    });
                }
                None
            }
            Role::List { blob_size } => Some(
                chunked::ChunkList::decode(&data, blob_size).map_err(|reason| Error::Corrupt {
                    id: *id,
                    reason: format!("{reason} (pack-{} at offset {offset})", pack.name),
                })?,
            ),
        };
        Ok(Record {
            header,
            data,
            list,
            frame,
        })
    }

    /// Reads and verifies a good copy of chunk `key`; `None` when there is none.
    pub(super) fn try_read_chunk(
        &self,
        key: &ObjectId,
        depth: usize,
        unreadable: &mut Vec<ObjectId>,
    ) -> Result<Option<Vec<u8>>> {
        self.find_copy_in(Namespace::Chunks, key, |place| match place {
            Place::Packed(pack, offset) => {
                match self.read_record(Namespace::Chunks, key, pack, offset, depth, unreadable) {
                    Ok(r) if r.header.role == Role::Chunk => Copy::Good(r.data),
                    Ok(_) => Copy::Bad(Error::Corrupt {
                        id: *key,
                        reason: format!(
                            "pack-{} lists it as a chunk at offset {offset}, where no chunk is",
                            pack.name
                        ),
                    }),
                    Err(e) => Copy::Bad(e),
                }
            }
            Place::Loose => Copy::Absent,
        })
    }

    /// Reads and verifies a good copy of chunk `key`.
    pub(super) fn read_chunk(
        &self,
        key: &ObjectId,
        depth: usize,
        unreadable: &mut Vec<ObjectId>,
    ) -> Result<Vec<u8>> {
        self.try_read_chunk(key, depth, unreadable)?
            .ok_or(Error::NotFound { id: *key })
    }

    /// Reads and verifies a good copy of an object; `None` when there is none.
    pub(super) fn read_object(
        &self,
        id: &ObjectId,
        depth: usize,
        unreadable: &mut Vec<ObjectId>,
    ) -> Result<Option<Object>> {
        self.find_copy(id, |place| match place {
            Place::Packed(pack, offset) => self
                .read_packed(id, pack, offset, depth, unreadable)
                .map(Some)
                .into(),
            Place::Loose => self.read_loose(id).into(),
        })
    }

    /// The decompressed block at `offset` in `pack`, from the cache when it is there.
    pub(super) fn block(&self, pack: &Pack, offset: u64) -> Result<Arc<Vec<u8>>> {
        let key = (pack.name.clone(), offset);
        {
            let mut cache = self.blocks.lock().expect("no panics while held");
            if let Some(i) = cache.iter().position(|(k, _)| *k == key) {
                let hit = cache.remove(i);
                let content = Arc::clone(&hit.1);
                cache.push(hit);
                return Ok(content);
            }
        }
        let content = Arc::new(pack.block(offset)?);
        let mut cache = self.blocks.lock().expect("no panics while held");
        if cache.len() >= BLOCK_CACHE {
            cache.remove(0);
        }
        cache.push((key, Arc::clone(&content)));
        Ok(content)
    }
}
