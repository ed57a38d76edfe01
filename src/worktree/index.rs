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

use crate::fs::{AtomicFile, Durability};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::Result;
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
/// A loaded or scanned cache keeps its entries encoded as in the file, sorted, in one
/// buffer with the offset of each: no allocation per entry, entries decoded when
/// looked at, lookups by binary search. The first [`insert`](Index::insert) or
/// [`remove_tree`](Index::remove_tree) turns it into a map, so edits stay cheap too.
#[derive(Clone)]
pub struct Index {
    entries: Entries,
    /// The SHA-256 trailer of the file it was loaded from.
    checksum: Option<[u8; 32]>,
}

#[derive(Clone)]
enum Entries {
    /// Sorted by path; entry `i` is encoded at `data[offsets[i]..]`, its path's length
    /// first. `data` starts with room for the file's 16-byte header.
    Packed { data: Vec<u8>, offsets: Vec<u32> },
    /// Editable.
    Map(BTreeMap<Vec<u8>, IndexEntry>),
}

/// Bytes of an encoded entry besides its path and the path's length.
const ENTRY_FIELDS: usize = 4 + 1 + 8 + 12 + 12 + 8 + 32;

impl Default for Index {
    fn default() -> Index {
        Index::with_capacity(0, 0)
    }
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
    Packed(&'a [u8], std::slice::Iter<'a, u32>),
    Map(std::collections::btree_map::Range<'a, Vec<u8>, IndexEntry>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], IndexEntry);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterInner::Packed(data, offsets) => {
                let at = *offsets.next()? as usize;
                Some(decode_entry(data, at))
            }
            IterInner::Map(map) => map.next().map(|(k, v)| (k.as_slice(), *v)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            IterInner::Packed(_, offsets) => offsets.size_hint(),
            IterInner::Map(map) => map.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl Index {
    /// An empty cache.
    pub fn new() -> Index {
        Index::default()
    }

    /// An empty cache with room for `entries` entries whose paths take `path_bytes`
    /// bytes in all.
    pub(super) fn with_capacity(entries: usize, path_bytes: usize) -> Index {
        let mut data = Vec::with_capacity(16 + entries * (4 + ENTRY_FIELDS) + path_bytes);
        data.resize(16, 0);
        Index {
            entries: Entries::Packed {
                data,
                offsets: Vec::with_capacity(entries),
            },
            checksum: None,
        }
    }

    /// Loads the cache at `path`; `None` when it is missing or not valid (it is then
    /// rebuilt from scratch by the next scan).
    pub fn load(path: &Path) -> Option<Index> {
        let data = fs::read(path).ok()?;
        Index::decode(data)
    }

    /// The entry for `path`.
    pub fn get(&self, path: &[u8]) -> Option<IndexEntry> {
        match &self.entries {
            Entries::Packed { data, offsets } => offsets
                .binary_search_by(|&at| entry_path(data, at as usize).cmp(path))
                .ok()
                .map(|i| decode_entry(data, offsets[i] as usize).1),
            Entries::Map(map) => map.get(path).copied(),
        }
    }

    /// Adds an entry after all others: `path` must sort after every path already in
    /// the cache (otherwise it is inserted where it belongs, at a higher cost).
    pub(super) fn push_sorted(&mut self, path: &[u8], entry: IndexEntry) {
        if let Entries::Packed { data, offsets } = &mut self.entries
            && offsets
                .last()
                .is_none_or(|&last| entry_path(data, last as usize) < path)
            && let Ok(at) = u32::try_from(data.len())
        {
            offsets.push(at);
            encode_entry(data, path, &entry);
            return;
        }
        self.insert(path.to_vec(), entry);
    }

    /// The entries as an editable map.
    fn map_mut(&mut self) -> &mut BTreeMap<Vec<u8>, IndexEntry> {
        if let Entries::Packed { .. } = &self.entries {
            let map = self.iter().map(|(k, v)| (k.to_vec(), v)).collect();
            self.entries = Entries::Map(map);
            self.checksum = None;
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
            Entries::Packed { offsets, .. } => offsets.len(),
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
            Entries::Packed { data, offsets } => IterInner::Packed(data, offsets.iter()),
            Entries::Map(map) => IterInner::Map(map.range::<[u8], _>(..)),
        })
    }

    /// Entries in path order from the first whose path is not before `path`.
    pub(super) fn iter_from(&self, path: &[u8]) -> Iter<'_> {
        use std::ops::Bound;
        Iter(match &self.entries {
            Entries::Packed { data, offsets } => {
                let start = offsets.partition_point(|&at| entry_path(data, at as usize) < path);
                IterInner::Packed(data, offsets[start..].iter())
            }
            Entries::Map(map) => {
                IterInner::Map(map.range::<[u8], _>((Bound::Included(path), Bound::Unbounded)))
            }
        })
    }

    /// The file's bytes without the checksum.
    fn encode(&self) -> Cow<'_, [u8]> {
        let mut out = match &self.entries {
            Entries::Packed { data, .. } => Cow::Borrowed(&data[..]),
            Entries::Map(map) => {
                let mut out = vec![0; 16];
                out.reserve(map.len() * (4 + ENTRY_FIELDS + 64));
                for (path, e) in map {
                    encode_entry(&mut out, path, e);
                }
                Cow::Owned(out)
            }
        };
        let mut head = [0; 16];
        head[..8].copy_from_slice(MAGIC);
        head[8..12].copy_from_slice(&VERSION.to_le_bytes());
        head[12..].copy_from_slice(&(self.len() as u32).to_le_bytes());
        if out[..16] != head {
            out.to_mut()[..16].copy_from_slice(&head);
        }
        out
    }

    /// Decodes a cache file, keeping its bytes. The checksum is verified while the
    /// entries are found.
    fn decode(mut data: Vec<u8>) -> Option<Index> {
        let body_len = data.len().checked_sub(32)?;
        let (body, sum) = data.split_at(body_len);
        let (valid, offsets) = rayon::join(
            || <[u8; 32]>::from(Sha256::digest(body)) == sum,
            || decode_offsets(body),
        );
        let offsets = offsets.filter(|_| valid)?;
        let checksum = data[body_len..].try_into().ok();
        data.truncate(body_len);
        Some(Index {
            entries: Entries::Packed { data, offsets },
            checksum,
        })
    }

    /// The checksum (the SHA-256 trailer) of the file the cache was loaded from.
    pub fn checksum(&self) -> Option<[u8; 32]> {
        self.checksum
    }

    /// Writes the cache atomically (temporary file, then rename) into `cow_dir/index`;
    /// returns the file's checksum.
    pub fn save(&self, cow_dir: &Path) -> Result<[u8; 32]> {
        let body = self.encode();
        let sum: [u8; 32] = Sha256::digest(&body).into();
        // A cache: after a crash an older one (or none) is only slower.
        let mut file = AtomicFile::create(&cow_dir.join("index"), crate::temp::STAT_CACHE.name)?;
        file.write_all(&body)?;
        file.write_all(&sum)?;
        file.commit(Durability::NoSync)?;
        Ok(sum)
    }
}

/// Appends the encoding of an entry to `out`.
fn encode_entry(out: &mut Vec<u8>, path: &[u8], e: &IndexEntry) {
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

/// The path of the entry encoded at `data[at..]` (checked on load).
fn entry_path(data: &[u8], at: usize) -> &[u8] {
    let len = u32::from_le_bytes(data[at..at + 4].try_into().expect("four bytes")) as usize;
    &data[at + 4..at + 4 + len]
}

/// The entry encoded at `data[at..]` (checked on load).
fn decode_entry(data: &[u8], at: usize) -> (&[u8], IndexEntry) {
    let path = entry_path(data, at);
    let f = &data[at + 4 + path.len()..][..ENTRY_FIELDS];
    let u32_at = |i: usize| u32::from_le_bytes(f[i..i + 4].try_into().expect("four bytes"));
    let u64_at = |i: usize| u64::from_le_bytes(f[i..i + 8].try_into().expect("eight bytes"));
    let flags = f[4];
    let entry = IndexEntry {
        mode: mode_from_number(u32_at(0)).expect("checked on load"),
        id: ObjectId::from_bytes(f[45..77].try_into().expect("32 bytes")),
        stat: StatData {
            size: u64_at(5),
            mtime: Timestamp {
                secs: u64_at(13) as i64,
                nsecs: u32_at(21),
            },
            ctime: Timestamp {
                secs: u64_at(25) as i64,
                nsecs: u32_at(33),
            },
            ino: u64_at(37),
        },
        racy: flags & FLAG_RACY != 0,
        stored: flags & FLAG_STORED != 0,
    };
    (path, entry)
}

/// The offset of each entry of a cache file's body; `None` when it is not a valid
/// cache or its paths are not strictly sorted.
fn decode_offsets(body: &[u8]) -> Option<Vec<u32>> {
    u32::try_from(body.len()).ok()?;
    let mut r = Reader(body);
    if r.take(8)? != MAGIC || r.u32()? != VERSION {
        return None;
    }
    let count = r.u32()? as usize;
    // Refuse a count the file cannot hold before allocating for it.
    if count > body.len() / (4 + ENTRY_FIELDS) {
        return None;
    }
    let mut offsets: Vec<u32> = Vec::with_capacity(count);
    let mut prev: Option<&[u8]> = None;
    for _ in 0..count {
        let at = body.len() - r.0.len();
        let len = r.u32()? as usize;
        let path = r.take(len)?;
        if prev.is_some_and(|prev| prev >= path) {
            return None;
        }
        prev = Some(path);
        let fields = r.take(ENTRY_FIELDS)?;
        mode_from_number(u32::from_le_bytes(fields[..4].try_into().ok()?))?;
        offsets.push(at as u32);
    }
    r.0.is_empty().then_some(offsets)
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
        .prefix(crate::temp::CLOCK_PROBE.name)
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
    fn packed_caches_look_up_edit_and_refuse_unsorted_paths() {
        let dir = tempfile::tempdir().unwrap();
        let mut packed = Index::with_capacity(3, 8);
        packed.push_sorted(b"a/b", entry(1));
        packed.push_sorted(b"a/c", entry(2));
        packed.push_sorted(b"z", entry(3));
        assert_eq!(packed.get(b"a/c"), Some(entry(2)));
        assert_eq!(packed.get(b"a"), None);
        packed.save(dir.path()).unwrap();
        let path = dir.path().join("index");
        let loaded = Index::load(&path).unwrap();
        assert_eq!(loaded, packed);
        assert_eq!(loaded.get(b"z"), Some(entry(3)));
        // Edits turn it into a map and keep every other entry.
        let mut edited = loaded.clone();
        edited.insert(b"m".to_vec(), entry(4));
        edited.remove_tree(b"a");
        let paths: Vec<&[u8]> = edited.iter().map(|(p, _)| p).collect();
        assert_eq!(paths, [&b"m"[..], b"z"]);

        // A file whose paths are out of order is not trusted.
        let mut bytes = fs::read(&path).unwrap();
        let at = bytes.windows(3).position(|w| w == b"a/b").unwrap();
        bytes[at..at + 3].copy_from_slice(b"b/b");
        let body = bytes.len() - 32;
        let sum: [u8; 32] = Sha256::digest(&bytes[..body]).into();
        bytes[body..].copy_from_slice(&sum);
        fs::write(&path, &bytes).unwrap();
        assert_eq!(Index::load(&path), None);
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
