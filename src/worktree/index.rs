//! The stat cache (`.cow/index`): for every file of the working directory, the stat data
//! it had when its content was last hashed, and that content's blob id.
//!
//! A file whose mode, size, mtime (nanoseconds) and inode still match its entry is not
//! read again. ctime is recorded but not compared: it changes with `chmod`, `chown` and
//! link counts, none of which change content (like git's `core.trustctime=false`, jj and
//! Mercurial).
//!
//! **Racy entries.** A file modified in the same filesystem-timestamp tick as it was
//! hashed can change again without its stat data changing. Every command that hashes
//! files first waits for the filesystem clock to tick ([`settle_clock`]) and notes that
//! tick; an entry whose mtime is not older than it is marked racy and re-hashed on its
//! next use, so a change is never missed.
//!
//! The file is binary, little-endian, with a SHA-256 trailer; a missing, truncated or
//! corrupt cache is ignored and rebuilt, never trusted.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{Error, Result};
use crate::object::{EntryMode, ObjectId};

const MAGIC: &[u8; 8] = b"COWINDEX";
const VERSION: u32 = 1;
const FLAG_RACY: u8 = 1;
const FLAG_STORED: u8 = 2;

/// A filesystem timestamp.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Default)]
pub struct Timestamp {
    /// Seconds since the epoch.
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nsecs: u32,
}

/// The stat data a cache entry is compared on.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct StatData {
    /// Size in bytes (for a symlink, of its target).
    pub size: u64,
    /// Last modification.
    pub mtime: Timestamp,
    /// Last status change (recorded, not compared).
    pub ctime: Timestamp,
    /// Inode number.
    pub ino: u64,
}

impl StatData {
    /// The stat data of `meta` (from `lstat` or `fstat`).
    pub fn from_metadata(meta: &fs::Metadata) -> StatData {
        StatData {
            size: meta.len(),
            mtime: Timestamp {
                secs: meta.mtime(),
                nsecs: meta.mtime_nsec() as u32,
            },
            ctime: Timestamp {
                secs: meta.ctime(),
                nsecs: meta.ctime_nsec() as u32,
            },
            ino: meta.ino(),
        }
    }

    /// Whether two stats describe the same unchanged file (ctime aside).
    pub fn same_file(&self, other: &StatData) -> bool {
        self.size == other.size && self.mtime == other.mtime && self.ino == other.ino
    }
}

/// What the cache knows of one path.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IndexEntry {
    /// File, executable or symlink.
    pub mode: EntryMode,
    /// The blob id of the content when `stat` was taken.
    pub id: ObjectId,
    /// The stat data.
    pub stat: StatData,
    /// Modified in the tick it was hashed in: must be hashed again before it is trusted.
    pub racy: bool,
    /// The blob is known to be in the object store (status hashes without storing).
    pub stored: bool,
}

impl IndexEntry {
    /// Whether this entry still describes a file with `mode` and `stat` and can be
    /// trusted without reading it.
    pub fn is_fresh(&self, mode: EntryMode, stat: &StatData) -> bool {
        !self.racy && self.mode == mode && self.stat.same_file(stat)
    }
}

/// The stat cache: path (bytes, `/`-separated) to entry.
///
/// Loaded and scanned caches keep their entries sorted in one array, their paths in
/// one buffer: no allocation per entry, lookups by binary search. The first
/// [`insert`](Index::insert) or [`remove_tree`](Index::remove_tree) turns it into a
/// map, so edits stay cheap too.
#[derive(Clone, Default)]
pub struct Index {
    entries: Entries,
}

#[derive(Clone)]
enum Entries {
    /// Sorted by path; each path is `paths[start..end]`.
    Packed { paths: Vec<u8>, slots: Vec<Slot> },
    /// Editable.
    Map(BTreeMap<Vec<u8>, IndexEntry>),
}

impl Default for Entries {
    fn default() -> Self {
        Entries::Packed {
            paths: Vec::new(),
            slots: Vec::new(),
        }
    }
}

#[derive(Clone, Copy)]
struct Slot {
    start: usize,
    end: usize,
    entry: IndexEntry,
}

impl PartialEq for Index {
    fn eq(&self, other: &Index) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Index {}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (String::from_utf8_lossy(k), v)))
            .finish()
    }
}

/// The entries of an [`Index`] in path order.
pub struct Iter<'a>(IterInner<'a>);

enum IterInner<'a> {
    Packed(&'a [u8], std::slice::Iter<'a, Slot>),
    Map(std::collections::btree_map::Iter<'a, Vec<u8>, IndexEntry>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a IndexEntry);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterInner::Packed(paths, slots) => slots
                .next()
                .map(|slot| (&paths[slot.start..slot.end], &slot.entry)),
            IterInner::Map(map) => map.next().map(|(k, v)| (k.as_slice(), v)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterInner::Packed(_, slots) => slots.size_hint(),
            IterInner::Map(map) => map.size_hint(),
        }
    }
}

impl Index {
    /// An empty cache.
    pub fn new() -> Index {
        Index::default()
    }

    /// An empty cache with room for `entries` entries whose paths take `path_bytes`
    /// bytes in all.
    pub(super) fn with_capacity(entries: usize, path_bytes: usize) -> Index {
        Index {
            entries: Entries::Packed {
                paths: Vec::with_capacity(path_bytes),
                slots: Vec::with_capacity(entries),
            },
        }
    }

    /// Loads the cache at `path`; `None` when it is missing or not valid (it is then
    /// rebuilt from scratch by the next scan).
    pub fn load(path: &Path) -> Option<Index> {
        let data = fs::read(path).ok()?;
        Index::decode(data)
    }

    /// The entry for `path`.
    pub fn get(&self, path: &[u8]) -> Option<&IndexEntry> {
        match &self.entries {
            Entries::Packed { paths, slots } => slots
                .binary_search_by(|slot| paths[slot.start..slot.end].cmp(path))
                .ok()
                .map(|i| &slots[i].entry),
            Entries::Map(map) => map.get(path),
        }
    }

    /// Adds an entry after all others: `path` must sort after every path already in
    /// the cache (otherwise it is inserted where it belongs, at a higher cost).
    pub(super) fn push_sorted(&mut self, path: &[u8], entry: IndexEntry) {
        if let Entries::Packed { paths, slots } = &mut self.entries
            && slots
                .last()
                .is_none_or(|last| &paths[last.start..last.end] < path)
        {
            let start = paths.len();
            paths.extend_from_slice(path);
            slots.push(Slot {
                start,
                end: paths.len(),
                entry,
            });
            return;
        }
        self.insert(path.to_vec(), entry);
    }

    /// The entries as an editable map.
    fn map_mut(&mut self) -> &mut BTreeMap<Vec<u8>, IndexEntry> {
        if let Entries::Packed { paths, slots } = &self.entries {
            let map = slots
                .iter()
                .map(|slot| (paths[slot.start..slot.end].to_vec(), slot.entry))
                .collect();
            self.entries = Entries::Map(map);
        }
        match &mut self.entries {
            Entries::Map(map) => map,
            Entries::Packed { .. } => unreachable!("just made a map"),
        }
    }

    /// Adds or replaces an entry.
    pub fn insert(&mut self, path: Vec<u8>, entry: IndexEntry) {
        self.map_mut().insert(path, entry);
    }

    /// Removes the entry for `path`, and every entry below it when it is a directory.
    pub fn remove_tree(&mut self, path: &[u8]) {
        let entries = self.map_mut();
        entries.remove(path);
        let mut prefix = path.to_vec();
        prefix.push(b'/');
        let below: Vec<Vec<u8>> = entries
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in below {
            entries.remove(&k);
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        match &self.entries {
            Entries::Packed { slots, .. } => slots.len(),
            Entries::Map(map) => map.len(),
        }
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries in path order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(match &self.entries {
            Entries::Packed { paths, slots } => IterInner::Packed(paths, slots.iter()),
            Entries::Map(map) => IterInner::Map(map.iter()),
        })
    }

    fn encode(&self) -> Vec<u8> {
        let path_bytes = match &self.entries {
            Entries::Packed { paths, .. } => paths.len(),
            Entries::Map(_) => self.len() * 64,
        };
        let mut out = Vec::with_capacity(16 + self.len() * 85 + path_bytes + 32);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.len() as u32).to_le_bytes());
        for (path, e) in self.iter() {
            out.extend_from_slice(&(path.len() as u32).to_le_bytes());
            out.extend_from_slice(path);
            out.extend_from_slice(&mode_number(e.mode).to_le_bytes());
            let flags = if e.racy { FLAG_RACY } else { 0 } | if e.stored { FLAG_STORED } else { 0 };
            out.push(flags);
            out.extend_from_slice(&e.stat.size.to_le_bytes());
            for t in [e.stat.mtime, e.stat.ctime] {
                out.extend_from_slice(&t.secs.to_le_bytes());
                out.extend_from_slice(&t.nsecs.to_le_bytes());
            }
            out.extend_from_slice(&e.stat.ino.to_le_bytes());
            out.extend_from_slice(e.id.as_bytes());
        }
        let sum: [u8; 32] = Sha256::digest(&out).into();
        out.extend_from_slice(&sum);
        out
    }

    /// Decodes a cache file, keeping its bytes as the path buffer. The checksum is
    /// verified while the entries are parsed.
    fn decode(data: Vec<u8>) -> Option<Index> {
        let body_len = data.len().checked_sub(32)?;
        let (body, sum) = data.split_at(body_len);
        let (valid, slots) = rayon::join(
            || <[u8; 32]>::from(Sha256::digest(body)) == sum,
            || decode_slots(body),
        );
        let slots = slots.filter(|_| valid)?;
        Some(Index {
            entries: Entries::Packed { paths: data, slots },
        })
    }

    /// Writes the cache atomically (temporary file, then rename) into `cow_dir/index`.
    pub fn save(&self, cow_dir: &Path) -> Result<()> {
        let mut temp = tempfile::Builder::new()
            .prefix(".tmp-index-")
            .tempfile_in(cow_dir)
            .map_err(Error::io("create a temporary file in", cow_dir))?;
        temp.write_all(&self.encode())
            .map_err(Error::io("write", temp.path()))?;
        let path = cow_dir.join("index");
        temp.persist(&path)
            .map_err(|e| Error::io("write", &path)(e.error))?;
        Ok(())
    }
}

/// The entries of a cache file's body, with their paths as offsets into it; `None`
/// when it is not a valid cache or its paths are not strictly sorted.
fn decode_slots(body: &[u8]) -> Option<Vec<Slot>> {
    let mut r = Reader(body);
    if r.take(8)? != MAGIC || r.u32()? != VERSION {
        return None;
    }
    let count = r.u32()? as usize;
    // Each entry takes at least 81 bytes: refuse a count the file cannot hold.
    if count > body.len() / 81 {
        return None;
    }
    let mut slots: Vec<Slot> = Vec::with_capacity(count);
    for _ in 0..count {
        let len = r.u32()? as usize;
        let start = body.len() - r.0.len();
        let path = r.take(len)?;
        if let Some(prev) = slots.last()
            && &body[prev.start..prev.end] >= path
        {
            return None;
        }
        let mode = mode_from_number(r.u32()?)?;
        let flags = r.take(1)?[0];
        let size = r.u64()?;
        let mut times = [Timestamp::default(); 2];
        for t in &mut times {
            *t = Timestamp {
                secs: r.u64()? as i64,
                nsecs: r.u32()?,
            };
        }
        let ino = r.u64()?;
        let id = ObjectId::from_slice(r.take(32)?)?;
        slots.push(Slot {
            start,
            end: start + len,
            entry: IndexEntry {
                mode,
                id,
                stat: StatData {
                    size,
                    mtime: times[0],
                    ctime: times[1],
                    ino,
                },
                racy: flags & FLAG_RACY != 0,
                stored: flags & FLAG_STORED != 0,
            },
        });
    }
    r.0.is_empty().then_some(slots)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

fn mode_number(mode: EntryMode) -> u32 {
    match mode {
        EntryMode::Tree => 0o40000,
        EntryMode::Blob => 0o100644,
        EntryMode::BlobExecutable => 0o100755,
        EntryMode::Link => 0o120000,
    }
}

fn mode_from_number(n: u32) -> Option<EntryMode> {
    Some(match n {
        0o100644 => EntryMode::Blob,
        0o100755 => EntryMode::BlobExecutable,
        0o120000 => EntryMode::Link,
        _ => return None,
    })
}

/// Waits (at most about 50 ms) for the filesystem clock of `dir` to tick, and returns
/// the new tick: every file modified from now on has an mtime at or after it, and every
/// file modified before the call has an mtime before it. When the clock cannot be read
/// or does not tick in time, returns a conservative time one second in the past.
pub fn settle_clock(dir: &Path) -> Timestamp {
    let fallback = || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp {
            secs: now.as_secs() as i64 - 1,
            nsecs: now.subsec_nanos(),
        }
    };
    let Ok(probe) = tempfile::Builder::new()
        .prefix(".tmp-clock-")
        .tempfile_in(dir)
    else {
        return fallback();
    };
    let touch = || -> Option<Timestamp> {
        use std::os::fd::AsRawFd;
        let now = libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        };
        let times = [now, now];
        // SAFETY: a valid descriptor owned by `probe` and two valid timespecs.
        if unsafe { libc::futimens(probe.as_file().as_raw_fd(), times.as_ptr()) } != 0 {
            return None;
        }
        let meta = probe.as_file().metadata().ok()?;
        Some(StatData::from_metadata(&meta).mtime)
    };
    let Some(first) = touch() else {
        return fallback();
    };
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(1));
        match touch() {
            Some(t) if t > first => return t,
            Some(_) => {}
            None => break,
        }
    }
    fallback().min(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u8) -> IndexEntry {
        IndexEntry {
            mode: EntryMode::BlobExecutable,
            id: ObjectId::from_bytes([n; 32]),
            stat: StatData {
                size: 10,
                mtime: Timestamp { secs: 5, nsecs: 7 },
                ctime: Timestamp { secs: 6, nsecs: 8 },
                ino: 42,
            },
            racy: n.is_multiple_of(2),
            stored: true,
        }
    }

    #[test]
    fn round_trip_and_corruption_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = Index::new();
        index.insert(b"a/b".to_vec(), entry(1));
        index.insert(b"a/c".to_vec(), entry(2));
        index.insert(b"z".to_vec(), entry(3));
        index.save(dir.path()).unwrap();
        let path = dir.path().join("index");
        assert_eq!(Index::load(&path), Some(index.clone()));

        let mut bytes = fs::read(&path).unwrap();
        bytes[20] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert_eq!(Index::load(&path), None);
        fs::write(&path, &bytes[..10]).unwrap();
        assert_eq!(Index::load(&path), None);

        index.remove_tree(b"a");
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn settled_clock_is_after_earlier_writes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "x").unwrap();
        let before = StatData::from_metadata(&fs::metadata(&file).unwrap()).mtime;
        let tick = settle_clock(dir.path());
        assert!(before < tick, "{before:?} {tick:?}");
        fs::write(&file, "y").unwrap();
        let after = StatData::from_metadata(&fs::metadata(&file).unwrap()).mtime;
        assert!(after >= tick);
    }
}
