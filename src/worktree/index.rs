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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Index {
    entries: BTreeMap<Vec<u8>, IndexEntry>,
}

impl Index {
    /// An empty cache.
    pub fn new() -> Index {
        Index::default()
    }

    /// Loads the cache at `path`; `None` when it is missing or not valid (it is then
    /// rebuilt from scratch by the next scan).
    pub fn load(path: &Path) -> Option<Index> {
        let data = fs::read(path).ok()?;
        Index::decode(&data)
    }

    /// The entry for `path`.
    pub fn get(&self, path: &[u8]) -> Option<&IndexEntry> {
        self.entries.get(path)
    }

    /// Adds or replaces an entry.
    pub fn insert(&mut self, path: Vec<u8>, entry: IndexEntry) {
        self.entries.insert(path, entry);
    }

    /// Removes the entry for `path`, and every entry below it when it is a directory.
    pub fn remove_tree(&mut self, path: &[u8]) {
        self.entries.remove(path);
        let mut prefix = path.to_vec();
        prefix.push(b'/');
        let below: Vec<Vec<u8>> = self
            .entries
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in below {
            self.entries.remove(&k);
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&Vec<u8>, &IndexEntry)> {
        self.entries.iter()
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.entries.len() * 120);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for (path, e) in &self.entries {
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

    fn decode(data: &[u8]) -> Option<Index> {
        let (body, sum) = data.split_at_checked(data.len().checked_sub(32)?)?;
        let actual: [u8; 32] = Sha256::digest(body).into();
        if actual != sum {
            return None;
        }
        let mut r = Reader(body);
        if r.take(8)? != MAGIC || r.u32()? != VERSION {
            return None;
        }
        let count = r.u32()?;
        let mut entries = BTreeMap::new();
        for _ in 0..count {
            let len = r.u32()? as usize;
            let path = r.take(len)?.to_vec();
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
            entries.insert(
                path,
                IndexEntry {
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
            );
        }
        r.0.is_empty().then_some(Index { entries })
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
