//! The directory cache (`.cow/dircache`): for every directory of the working directory,
//! its stat data, the entries it held when it was last read, and its tree id.
//!
//! Reading a directory costs several times a `stat` of it (on ext4 about 10 µs against
//! 1 µs; 5,000 directories in a kernel tree). A directory's mtime and ctime change
//! whenever an entry is added to it, removed or renamed, so a directory whose stat data
//! still match its record holds the same names with the same types, and a scan takes
//! them from here instead of reading it (git's untracked cache rests on the same rule).
//! Only names and types are cached: every file is still stat'ed against the stat cache.
//!
//! **Tree ids** (git's cache-tree). A record also keeps its directory's tree id when
//! that tree is part of the tree named in the header (HEAD's, when the cache was
//! written), built from the stat cache whose checksum the header holds. A scan that
//! finds the same HEAD tree and the same stat cache, the directory's listing unchanged,
//! every file in it vouched for by that stat cache and every subdirectory's tree taken
//! likewise, takes the id instead of building the tree: the tree cannot differ, and it
//! is in the store. Directories under a `.cowignore` always have their trees built (an
//! edited rule changes no directory's stat data).
//!
//! **Racy records.** A directory changed in the same filesystem-timestamp tick as it was
//! read can change again without its stat data changing. A directory whose mtime or
//! ctime is not older than the tick settled before it was read
//! ([`settle_clock`](super::settle_clock)) is not recorded, so it is read again next
//! time.
//!
//! The file is binary, little-endian, with a SHA-256 trailer; a missing, truncated or
//! corrupt cache is ignored and rebuilt, never trusted.

use crate::fs::{AtomicFile, Durability};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fs;
use std::path::Path;

use rustix::fs::FileType;
use sha2::{Digest, Sha256};

use super::Result;
use super::index::{StatData, Timestamp};
use crate::object::{ObjectId, validate_name};

const MAGIC: &[u8; 8] = b"COWDIRS\0";
const VERSION: u32 = 2;
/// Magic, version, count, the stat cache's checksum and the tree the records' trees
/// belong to.
const HEADER: usize = 8 + 4 + 4 + 32 + 32;

/// The directory cache: directory path (bytes, `/`-separated, empty for the root) to
/// its stat data, entries and tree id.
#[derive(Clone, Default)]
pub struct DirCache {
    /// The checksum of the stat cache the tree ids were built from.
    index_sum: Option<[u8; 32]>,
    /// The tree every recorded tree id is part of.
    tree: Option<ObjectId>,
    /// The records, each encoded as in the file.
    data: Vec<u8>,
    /// The records, sorted by path.
    records: Vec<Record>,
    /// Each record's position, by path.
    by_path: HashMap<Box<[u8]>, usize>,
}

/// Where one record lies in [`DirCache::data`].
#[derive(Clone)]
struct Record {
    /// The whole record but its tree id.
    listing: (usize, usize),
    path: (usize, usize),
    stat: StatData,
    /// The encoded entries.
    entries: (usize, usize),
    tree: Option<ObjectId>,
}

/// A directory's record.
pub(super) struct Cached<'a> {
    /// The record without its tree id, to copy into a new cache.
    pub listing: &'a [u8],
    /// The directory's stat data when it was read.
    pub stat: &'a StatData,
    /// Its entries.
    pub entries: Entries<'a>,
    /// Its tree id (which may be taken only as the module docs tell).
    pub tree: Option<ObjectId>,
}

/// The entries of a cached directory: names and the types `readdir` reported.
#[derive(Clone, Copy)]
pub(super) struct Entries<'a> {
    data: &'a [u8],
}

impl<'a> Iterator for Entries<'a> {
    type Item = (&'a [u8], FileType);

    fn next(&mut self) -> Option<Self::Item> {
        let (&code, rest) = self.data.split_first()?;
        let len = u16::from_le_bytes([rest[0], rest[1]]) as usize;
        let (name, rest) = rest[2..].split_at(len);
        self.data = rest;
        Some((name, type_from_code(code).expect("checked on load")))
    }
}

impl std::fmt::Debug for DirCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirCache")
            .field("directories", &self.records.len())
            .field("tree", &self.tree)
            .finish()
    }
}

impl DirCache {
    /// An empty cache.
    pub fn new() -> DirCache {
        DirCache::default()
    }

    /// Loads the cache at `path`; `None` when it is missing or not valid.
    pub fn load(path: &Path) -> Option<DirCache> {
        DirCache::decode(&fs::read(path).ok()?)
    }

    /// Number of directories recorded.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no directory is recorded.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Number of directories recorded with their tree id.
    pub fn trees(&self) -> usize {
        self.records.iter().filter(|r| r.tree.is_some()).count()
    }

    /// The tree every recorded tree id is part of.
    pub fn tree(&self) -> Option<ObjectId> {
        self.tree
    }

    /// The checksum of the stat cache the recorded tree ids were built from.
    pub(super) fn index_sum(&self) -> Option<[u8; 32]> {
        self.index_sum
    }

    /// The record of directory `path`.
    pub(super) fn get(&self, path: &[u8]) -> Option<Cached<'_>> {
        let r = &self.records[*self.by_path.get(path)?];
        Some(Cached {
            listing: &self.data[r.listing.0..r.listing.1],
            stat: &r.stat,
            entries: Entries {
                data: &self.data[r.entries.0..r.entries.1],
            },
            tree: r.tree,
        })
    }

    /// A cache of `records`, each a listing made by [`encode_record`] (or taken from
    /// [`Cached::listing`]) and the directory's tree id if it is part of `tree`, in any
    /// order. The stat cache's checksum is set when the cache is saved.
    pub(super) fn from_records(
        mut records: Vec<(Cow<'_, [u8]>, Option<ObjectId>)>,
        tree: Option<ObjectId>,
    ) -> DirCache {
        records.sort_unstable_by(|a, b| record_path(&a.0).cmp(record_path(&b.0)));
        records.dedup_by(|a, b| record_path(&a.0) == record_path(&b.0));
        let mut data = Vec::with_capacity(records.iter().map(|r| r.0.len() + 33).sum());
        for (listing, tree) in &records {
            data.extend_from_slice(listing);
            match tree {
                Some(id) => {
                    data.push(1);
                    data.extend_from_slice(id.as_bytes());
                }
                None => data.push(0),
            }
        }
        let parsed = decode_records(&data, records.len()).expect("records made by encode_record");
        DirCache {
            index_sum: None,
            tree,
            by_path: by_path(&data, &parsed),
            data,
            records: parsed,
        }
    }

    /// Writes the cache atomically (temporary file, then rename) into
    /// `cow_dir/dircache`, its tree ids vouched for by the stat cache with checksum
    /// `index_sum` (`None`: by none, so they are not used).
    pub fn save(&self, cow_dir: &Path, index_sum: Option<[u8; 32]>) -> Result<()> {
        let mut head = Vec::with_capacity(HEADER);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&VERSION.to_le_bytes());
        head.extend_from_slice(&(self.records.len() as u32).to_le_bytes());
        head.extend_from_slice(&index_sum.unwrap_or([0; 32]));
        head.extend_from_slice(self.tree.as_ref().map_or(&[0; 32], |t| t.as_bytes()));
        let mut hasher = Sha256::new();
        hasher.update(&head);
        hasher.update(&self.data);
        let sum: [u8; 32] = hasher.finalize().into();
        let mut file = AtomicFile::create(&cow_dir.join("dircache"), crate::temp::DIR_CACHE.name)?;
        for part in [&head[..], &self.data, &sum] {
            file.write_all(part)?;
        }
        file.commit(Durability::NoSync)?;
        Ok(())
    }

    fn decode(data: &[u8]) -> Option<DirCache> {
        let (body, sum) = data.split_at_checked(data.len().checked_sub(32)?)?;
        let actual: [u8; 32] = Sha256::digest(body).into();
        if actual != sum {
            return None;
        }
        let (head, records) = body.split_at_checked(HEADER)?;
        if &head[..8] != MAGIC || u32::from_le_bytes(head[8..12].try_into().ok()?) != VERSION {
            return None;
        }
        let count = u32::from_le_bytes(head[12..16].try_into().ok()?) as usize;
        let index_sum: [u8; 32] = head[16..48].try_into().ok()?;
        let tree: [u8; 32] = head[48..80].try_into().ok()?;
        let data = records.to_vec();
        let parsed = decode_records(&data, count)?;
        Some(DirCache {
            index_sum: Some(index_sum).filter(|s| *s != [0; 32]),
            tree: Some(ObjectId::from_bytes(tree)).filter(|t| t.as_bytes() != &[0; 32]),
            by_path: by_path(&data, &parsed),
            data,
            records: parsed,
        })
    }
}

/// Encodes the listing of directory `path` with stat data `stat` and `entries`: its
/// record without a tree id. `None` when a name is too long to record (the directory
/// is then read every time).
pub(super) fn encode_record<'a>(
    path: &[u8],
    stat: &StatData,
    entries: impl Iterator<Item = (&'a [u8], FileType)>,
) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(64 + path.len());
    out.extend_from_slice(&u32::try_from(path.len()).ok()?.to_le_bytes());
    out.extend_from_slice(path);
    out.extend_from_slice(&stat.size.to_le_bytes());
    for t in [stat.mtime, stat.ctime] {
        out.extend_from_slice(&t.secs.to_le_bytes());
        out.extend_from_slice(&t.nsecs.to_le_bytes());
    }
    out.extend_from_slice(&stat.ino.to_le_bytes());
    let count_at = out.len();
    out.extend_from_slice(&[0; 8]);
    let mut count = 0u32;
    for (name, file_type) in entries {
        out.push(type_code(file_type));
        out.extend_from_slice(&u16::try_from(name.len()).ok()?.to_le_bytes());
        out.extend_from_slice(name);
        count += 1;
    }
    let len = u32::try_from(out.len() - count_at - 8).ok()?;
    out[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
    out[count_at + 4..count_at + 8].copy_from_slice(&len.to_le_bytes());
    Some(out)
}

fn by_path(data: &[u8], records: &[Record]) -> HashMap<Box<[u8]>, usize> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| (data[r.path.0..r.path.1].into(), i))
        .collect()
}

fn record_path(record: &[u8]) -> &[u8] {
    let len = u32::from_le_bytes(record[..4].try_into().expect("four bytes")) as usize;
    &record[4..4 + len]
}

/// Parses `count` records filling `data`; `None` unless they are well formed, every
/// name is a valid entry name and the paths are strictly sorted.
fn decode_records(data: &[u8], count: usize) -> Option<Vec<Record>> {
    // A record takes at least 53 bytes: refuse a count the data cannot hold.
    if count > data.len() / 53 {
        return None;
    }
    let mut records: Vec<Record> = Vec::with_capacity(count);
    let mut at = 0;
    let take = |at: &mut usize, n: usize| -> Option<(usize, usize)> {
        let end = at.checked_add(n).filter(|&end| end <= data.len())?;
        let range = (*at, end);
        *at = end;
        Some(range)
    };
    let u32_at = |r: (usize, usize)| u32::from_le_bytes(data[r.0..r.1].try_into().expect("4"));
    let u64_at = |r: (usize, usize)| u64::from_le_bytes(data[r.0..r.1].try_into().expect("8"));
    for _ in 0..count {
        let start = at;
        let len = u32_at(take(&mut at, 4)?) as usize;
        let path = take(&mut at, len)?;
        if let Some(prev) = records.last()
            && data[prev.path.0..prev.path.1] >= data[path.0..path.1]
        {
            return None;
        }
        let size = u64_at(take(&mut at, 8)?);
        let mut times = [Timestamp::default(); 2];
        for t in &mut times {
            *t = Timestamp {
                secs: u64_at(take(&mut at, 8)?) as i64,
                nsecs: u32_at(take(&mut at, 4)?),
            };
        }
        let ino = u64_at(take(&mut at, 8)?);
        let entry_count = u32_at(take(&mut at, 4)?);
        let entries_len = u32_at(take(&mut at, 4)?) as usize;
        let entries = take(&mut at, entries_len)?;
        let mut rest = &data[entries.0..entries.1];
        for _ in 0..entry_count {
            let (&code, after) = rest.split_first()?;
            type_from_code(code)?;
            let (len, after) = after.split_at_checked(2)?;
            let len = u16::from_le_bytes([len[0], len[1]]) as usize;
            let (name, after) = after.split_at_checked(len)?;
            // `.cow` is a valid name here: the walk finds and reports it.
            if !name.eq_ignore_ascii_case(b".cow") && validate_name(name).is_err() {
                return None;
            }
            rest = after;
        }
        if !rest.is_empty() {
            return None;
        }
        let listing = (start, at);
        let tree = match data[take(&mut at, 1)?.0] {
            0 => None,
            1 => Some(ObjectId::from_slice(&data[take(&mut at, 32)?.0..at])?),
            _ => return None,
        };
        records.push(Record {
            listing,
            path,
            stat: StatData {
                size,
                mtime: times[0],
                ctime: times[1],
                ino,
            },
            entries,
            tree,
        });
    }
    (at == data.len()).then_some(records)
}

fn type_code(file_type: FileType) -> u8 {
    match file_type {
        FileType::RegularFile => 1,
        FileType::Directory => 2,
        FileType::Symlink => 3,
        FileType::Fifo => 4,
        FileType::Socket => 5,
        FileType::CharacterDevice => 6,
        FileType::BlockDevice => 7,
        FileType::Unknown => 0,
    }
}

fn type_from_code(code: u8) -> Option<FileType> {
    Some(match code {
        0 => FileType::Unknown,
        1 => FileType::RegularFile,
        2 => FileType::Directory,
        3 => FileType::Symlink,
        4 => FileType::Fifo,
        5 => FileType::Socket,
        6 => FileType::CharacterDevice,
        7 => FileType::BlockDevice,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Kind;

    fn stat(n: u64) -> StatData {
        StatData {
            size: 4096,
            mtime: Timestamp { secs: 5, nsecs: 7 },
            ctime: Timestamp { secs: 6, nsecs: 8 },
            ino: n,
        }
    }

    #[test]
    fn round_trip_and_corruption_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let entries = [
            (&b"a"[..], FileType::RegularFile),
            (b"sub", FileType::Directory),
            (b"l", FileType::Symlink),
            (b".cow", FileType::Directory),
        ];
        let root = encode_record(b"", &stat(1), entries.into_iter()).unwrap();
        let sub = encode_record(b"sub", &stat(2), std::iter::empty()).unwrap();
        let id = ObjectId::hash(Kind::Tree, b"");
        let head = ObjectId::hash(Kind::Tree, b"head");
        let cache = DirCache::from_records(
            vec![
                (Cow::Borrowed(&sub[..]), Some(id)),
                (Cow::Borrowed(&root[..]), None),
            ],
            Some(head),
        );
        assert_eq!((cache.len(), cache.trees()), (2, 1));
        cache.save(dir.path(), Some([7; 32])).unwrap();
        let path = dir.path().join("dircache");
        let loaded = DirCache::load(&path).unwrap();
        assert_eq!(loaded.index_sum(), Some([7; 32]));
        assert_eq!(loaded.tree(), Some(head));
        let got = loaded.get(b"").unwrap();
        assert_eq!(*got.stat, stat(1));
        assert_eq!(got.entries.collect::<Vec<_>>(), entries);
        assert_eq!(got.listing, &root[..]);
        assert_eq!(got.tree, None);
        assert_eq!(loaded.get(b"sub").unwrap().tree, Some(id));
        assert_eq!(loaded.get(b"sub").unwrap().entries.count(), 0);
        assert!(loaded.get(b"other").is_none());

        let mut bytes = fs::read(&path).unwrap();
        bytes[20] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert!(DirCache::load(&path).is_none());
        fs::write(&path, &bytes[..10]).unwrap();
        assert!(DirCache::load(&path).is_none());
    }

    #[test]
    fn names_that_could_leave_a_directory_are_refused() {
        for bad in [&b"a/b"[..], b"..", b".", b""] {
            let mut record =
                encode_record(b"", &stat(1), [(bad, FileType::RegularFile)].into_iter()).unwrap();
            record.push(0);
            assert!(decode_records(&record, 1).is_none(), "{bad:?}");
        }
    }
}
