//! The directory walk under a scan: every directory opened relative to its parent,
//! every file and symlink stat'ed relative to its directory, subdirectories walked in
//! parallel, and `.cowignore` rules applied as git applies `.gitignore`.
//!
//! The result is a tree of directories whose entries are in git's order, so the order
//! of what is found never depends on thread timing. Directories are told apart from
//! files by the type `readdir` reports, so they cost no `stat`; a `.cowignore` is read
//! only where a directory lists one. A directory whose stat data match its record in
//! the [directory cache](super::DirCache) is not read at all: its entries come from
//! the record.

use crate::fs::IoResultExt;
use std::borrow::Cow;
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use rayon::prelude::*;
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use super::clock::LazyClock;
use super::dircache::{self, DirCache, Entries};
use super::index::{StatData, Timestamp};
use super::warning::Warning;
use super::{Error, IGNORE_FILE, Result};
use crate::object::{EntryMode, ObjectId, name_order};

/// A directory as the walk found it.
pub(super) struct WalkedDir<'c> {
    /// Its listing for the next directory cache: the old one when it still held, a new
    /// one when the directory was read, `None` when it may not be recorded (racy).
    pub listing: Option<Cow<'c, [u8]>>,
    /// The tree id its cache record holds, when its listing still held.
    pub recorded_tree: Option<ObjectId>,
    /// That id, when it may be taken if every file and subdirectory is unchanged too:
    /// the cache's tree ids are valid, no ignore rule applies here, and nothing listed
    /// vanished or could not be read.
    pub cached_tree: Option<ObjectId>,
    /// Its entries in git's order (ignored and skipped ones left out).
    pub entries: Vec<Walked<'c>>,
}

/// One entry of a [`WalkedDir`].
pub(super) enum Walked<'c> {
    /// A regular file or symlink, with its `lstat` data.
    File {
        /// Its name in the directory.
        name: Cow<'c, [u8]>,
        /// File, executable or symlink.
        mode: EntryMode,
        /// Its stat data.
        stat: StatData,
        /// The device it is on: with the inode, which file it is.
        dev: u64,
    },
    /// A subdirectory; `None` when it was left out (unreadable or vanished).
    Dir {
        /// Its name in the directory.
        name: Cow<'c, [u8]>,
        /// What it holds.
        dir: Option<Box<WalkedDir<'c>>>,
    },
}

impl Walked<'_> {
    /// Its name in the directory, and whether it is a directory.
    pub(super) fn name_and_is_dir(&self) -> (&[u8], bool) {
        match self {
            Walked::File { name, .. } => (name, false),
            Walked::Dir { name, .. } => (name, true),
        }
    }
}

/// How a walk treats what it finds.
pub(super) struct WalkOptions<'a, 'c> {
    /// Leave out directories that cannot be read (with a warning) instead of failing.
    pub skip_unreadable: bool,
    /// The directory cache, for the entries of unchanged directories.
    pub cache: Option<&'c DirCache>,
    /// Whether the cache's tree ids may be taken at all.
    pub trees_valid: bool,
    /// Remove the temporary files an interrupted checkout of an earlier version left
    /// (the caller holds the repository lock).
    pub remove_leftovers: bool,
    /// The racy tick.
    pub clock: &'a LazyClock<'a>,
}

/// Walks the directory open as `root` (at `root_path`, for messages), leaving out
/// `.cow` and what `.cowignore` files exclude, taking the entries of unchanged
/// directories from the cache. Problems that do not stop the walk are added to
/// `warnings`.
pub(super) fn walk<'c>(
    root: BorrowedFd<'_>,
    root_path: &Path,
    options: &WalkOptions<'_, 'c>,
    warnings: &mut Vec<Warning>,
) -> Result<WalkedDir<'c>> {
    let walker = Walker {
        root: root_path,
        skip_unreadable: options.skip_unreadable,
        cache: options.cache,
        trees_valid: options.trees_valid,
        remove_leftovers: options.remove_leftovers,
        clock: options.clock,
        warnings: Mutex::new(Vec::new()),
    };
    let listed = rustix::fs::openat(
        root,
        c".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .and_then(|fd| walker.list(fd, b""))
    .context("read directory", root_path)?;
    let dir = walker.walk_dir(listed, b"", None)?;
    warnings.append(&mut walker.warnings.into_inner().expect("no panics while held"));
    Ok(dir)
}

struct Walker<'a, 'c> {
    root: &'a Path,
    skip_unreadable: bool,
    cache: Option<&'c DirCache>,
    /// Whether the cache's tree ids may be taken at all.
    trees_valid: bool,
    remove_leftovers: bool,
    clock: &'a LazyClock<'a>,
    warnings: Mutex<Vec<Warning>>,
}

/// The `.cowignore` rules in force in a directory: the nearest file's, then its
/// parents'. The nearest rule that matches decides, as in git.
struct Rules<'a> {
    matcher: Gitignore,
    parent: Option<&'a Rules<'a>>,
}

impl Rules<'_> {
    fn ignores(&self, path: &Path, is_dir: bool) -> bool {
        let mut rules = Some(self);
        while let Some(r) = rules {
            match r.matcher.matched(path, is_dir) {
                Match::None => rules = r.parent,
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
            }
        }
        false
    }
}

/// An open directory, its entries, its listing for the next directory cache and the
/// tree id its cache record holds.
struct Listed<'c> {
    handle: Handle,
    entries: Listing<'c>,
    record: Option<Cow<'c, [u8]>>,
    recorded_tree: Option<ObjectId>,
}

/// An open directory: a descriptor, or a descriptor being read.
enum Handle {
    Fd(OwnedFd),
    Dir(Dir),
}

impl Handle {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Handle::Fd(fd) => fd.as_fd(),
            Handle::Dir(dir) => dir.fd().expect("a directory read through a descriptor"),
        }
    }
}

/// The entries of a directory: from its cache record, or read just now.
enum Listing<'c> {
    Cached(Entries<'c>),
    Read(Vec<(Vec<u8>, FileType)>),
}

impl<'c> Listing<'c> {
    fn contains(&self, name: &[u8]) -> bool {
        match self {
            Listing::Cached(entries) => entries.clone().any(|(n, _)| n == name),
            Listing::Read(entries) => entries.iter().any(|(n, _)| n == name),
        }
    }

    fn into_iter(self) -> Box<dyn Iterator<Item = (Cow<'c, [u8]>, FileType)> + 'c> {
        match self {
            Listing::Cached(entries) => Box::new(entries.map(|(n, t)| (Cow::Borrowed(n), t))),
            Listing::Read(entries) => {
                Box::new(entries.into_iter().map(|(n, t)| (Cow::Owned(n), t)))
            }
        }
    }
}

/// What a directory entry turned out to be.
enum Kind {
    Dir,
    File(EntryMode, StatData, u64),
    Special,
}

impl<'c> Walker<'_, 'c> {
    fn warn(&self, warning: Warning) {
        self.warnings
            .lock()
            .expect("no panics while held")
            .push(warning);
    }

    fn fs_path(&self, rel: &[u8]) -> PathBuf {
        if rel.is_empty() {
            self.root.to_owned()
        } else {
            self.root.join(OsStr::from_bytes(rel))
        }
    }

    /// The entries of the directory open as `fd` (at `rel` from the root): from its
    /// cache record when its stat data still match, otherwise read, after the clock
    /// has settled so that a racy directory is known as one.
    fn list(&self, fd: OwnedFd, rel: &[u8]) -> rustix::io::Result<Listed<'c>> {
        if let Some(cache) = self.cache
            && let Some(cached) = cache.get(rel)
            && stat_data(&rustix::fs::fstat(&fd)?) == *cached.stat
        {
            return Ok(Listed {
                handle: Handle::Fd(fd),
                entries: Listing::Cached(cached.entries),
                record: Some(Cow::Borrowed(cached.listing)),
                recorded_tree: cached.tree,
            });
        }
        let raw = rustix::fs::fstat(&fd)?;
        // Settled before the directory is read: a change made after has a later mtime.
        self.clock.get();
        let stat = stat_data(&raw);
        let mut dir = Dir::new(fd)?;
        let mut entries = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                entries.push((name.to_vec(), entry.file_type()));
            }
        }
        // In git's order as far as the types tell, so entries taken from the record
        // later need next to no sorting.
        entries.sort_unstable_by(|(a, a_type), (b, b_type)| {
            name_order(
                a,
                *a_type == FileType::Directory,
                b,
                *b_type == FileType::Directory,
            )
        });
        let dev = raw.st_dev as u64;
        let racy = self.clock.is_racy(dev, stat.mtime) || self.clock.is_racy(dev, stat.ctime);
        let record = if racy {
            None
        } else {
            dircache::encode_record(rel, &stat, entries.iter().map(|(n, t)| (&n[..], *t)))
                .map(Cow::Owned)
        };
        Ok(Listed {
            handle: Handle::Dir(dir),
            entries: Listing::Read(entries),
            record,
            recorded_tree: None,
        })
    }

    /// Stats, filters and sorts the entries of the directory at `rel` from the root,
    /// then walks its subdirectories in parallel.
    fn walk_dir(
        &self,
        listed: Listed<'c>,
        rel: &[u8],
        rules: Option<&Rules<'_>>,
    ) -> Result<WalkedDir<'c>> {
        let Listed {
            handle,
            entries: listing,
            record,
            recorded_tree,
        } = listed;
        // Whether a listed entry vanished or could not be read: the tree then lacks it.
        let mut lost = false;
        let fd = handle.fd();

        let own_rules;
        let rules = if listing.contains(IGNORE_FILE.as_bytes()) {
            own_rules = Rules {
                matcher: self.read_rules(fd, rel),
                parent: rules,
            };
            Some(&own_rules)
        } else {
            rules
        };

        let mut entries = Vec::new();
        for (name, file_type) in listing.into_iter() {
            let child_path = || join(rel, &name);
            let kind = match file_type {
                FileType::Directory => Kind::Dir,
                FileType::RegularFile | FileType::Symlink | FileType::Unknown => {
                    match rustix::fs::statat(fd, &*name, AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(stat) => kind_of(&stat),
                        Err(Errno::NOENT) => {
                            self.warn(Warning::Vanished {
                                path: PathBuf::from(OsStr::from_bytes(&child_path())),
                            });
                            lost = true;
                            continue;
                        }
                        Err(e) => {
                            return Err(crate::fs::IoError::new(
                                "stat",
                                self.fs_path(&child_path()),
                                e.into(),
                            )
                            .into());
                        }
                    }
                }
                _ => Kind::Special,
            };
            if let Some(rules) = rules
                && rules.ignores(&self.fs_path(&child_path()), matches!(kind, Kind::Dir))
            {
                continue;
            }
            if matches!(kind, Kind::File(..)) && super::is_leftover(&name) {
                // Never part of a snapshot; removed once no checkout can be running.
                if self.remove_leftovers {
                    let _ = rustix::fs::unlinkat(fd, OsStr::from_bytes(&name), AtFlags::empty());
                }
                continue;
            }
            if rel.is_empty() && matches!(kind, Kind::Dir) && crate::temp::is_work_staging(&name) {
                // A checkout's private staging directory (a store on another
                // filesystem): never part of a snapshot; the next writer removes one a
                // killed checkout left.
                continue;
            }
            if name.eq_ignore_ascii_case(b".cow") {
                // The repository's own `.cow` is left out silently; any other is reported.
                if !rel.is_empty() || *name != *b".cow" {
                    self.warn(Warning::ReservedName {
                        path: PathBuf::from(OsStr::from_bytes(&child_path())),
                    });
                }
                continue;
            }
            entries.push(match kind {
                Kind::Dir => Walked::Dir { name, dir: None },
                Kind::File(mode, stat, dev) => Walked::File {
                    name,
                    mode,
                    stat,
                    dev,
                },
                Kind::Special => {
                    self.warn(Warning::SpecialFile {
                        path: PathBuf::from(OsStr::from_bytes(&child_path())),
                    });
                    continue;
                }
            });
        }
        entries.sort_unstable_by(|a, b| {
            let (a, a_dir) = a.name_and_is_dir();
            let (b, b_dir) = b.name_and_is_dir();
            name_order(a, a_dir, b, b_dir)
        });

        let walk = |entry: &mut Walked<'c>| {
            if let Walked::Dir { name, dir } = entry {
                *dir = self.walk_subdir(fd, rel, name, rules)?;
            }
            Ok::<_, Error>(())
        };
        // Only subdirectories are worth handing to other threads.
        let mut subdirs: Vec<&mut Walked<'c>> = entries
            .iter_mut()
            .filter(|e| matches!(e, Walked::Dir { .. }))
            .collect();
        if subdirs.len() > 1 {
            subdirs.par_iter_mut().try_for_each(|e| walk(e))?;
        } else if let Some(e) = subdirs.pop() {
            walk(e)?;
        }
        lost |= entries
            .iter()
            .any(|e| matches!(e, Walked::Dir { dir: None, .. }));
        Ok(WalkedDir {
            listing: record,
            recorded_tree,
            // A tree built under ignore rules is built again: an edited rule changes no
            // directory's stat data.
            cached_tree: recorded_tree.filter(|_| self.trees_valid && rules.is_none() && !lost),
            entries,
        })
    }

    /// Walks subdirectory `name` of the directory open as `parent` (at `rel`); `None`
    /// when it vanished, or cannot be read and may be skipped (with a warning).
    fn walk_subdir(
        &self,
        parent: BorrowedFd<'_>,
        rel: &[u8],
        name: &[u8],
        rules: Option<&Rules<'_>>,
    ) -> Result<Option<Box<WalkedDir<'c>>>> {
        let rel = join(rel, name);
        let listed = rustix::fs::openat(
            parent,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .and_then(|fd| self.list(fd, &rel));
        match listed {
            Ok(listed) => self
                .walk_dir(listed, &rel, rules)
                .map(|d| Some(Box::new(d))),
            Err(e) => {
                let path = PathBuf::from(OsStr::from_bytes(&rel));
                let warning = match e {
                    Errno::NOENT => Warning::Vanished { path },
                    Errno::ACCESS if self.skip_unreadable => Warning::Unreadable { path },
                    // Listed as a directory, and a symlink or a file now.
                    Errno::LOOP | Errno::NOTDIR => return Err(Error::FileChanged { path }),
                    _ => {
                        return Err(crate::fs::IoError::new(
                            "read directory",
                            self.fs_path(&rel),
                            e.into(),
                        )
                        .into());
                    }
                };
                self.warn(warning);
                Ok(None)
            }
        }
    }

    /// The rules of the `.cowignore` in directory `rel`, open as `fd`. A line that is
    /// not a valid pattern is reported and left out; a file that cannot be read (or is
    /// not a regular file) has no rules, as git has none for it.
    fn read_rules(&self, fd: BorrowedFd<'_>, rel: &[u8]) -> Gitignore {
        let dir = self.fs_path(rel);
        let mut builder = GitignoreBuilder::new(&dir);
        if let Some(text) = read_ignore_file(fd) {
            let file = dir.join(IGNORE_FILE);
            let mut messages = Vec::new();
            for (i, line) in text.split(|&b| b == b'\n').enumerate() {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                // As git does, a byte-order mark at the start is not part of the rule.
                let line = if i == 0 {
                    line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line)
                } else {
                    line
                };
                // A line that is not UTF-8 cannot be a pattern here; like an unreadable
                // file, it is left out without a word.
                let Ok(line) = std::str::from_utf8(line) else {
                    continue;
                };
                if let Err(err) = builder.add_line(Some(file.clone()), line) {
                    messages.push(format!("{}: line {}: {err}", file.display(), i + 1));
                }
            }
            if !messages.is_empty() {
                self.warn(Warning::IgnoreRule {
                    message: messages.join("\n"),
                });
            }
        }
        builder.build().unwrap_or_else(|err| {
            self.warn(Warning::IgnoreRule {
                message: err.to_string(),
            });
            Gitignore::empty()
        })
    }
}

/// The bytes of the `.cowignore` in the directory open as `dir`, read through the
/// descriptor (never through a symlink); `None` when it cannot be read or is not a
/// regular file.
fn read_ignore_file(dir: BorrowedFd<'_>) -> Option<Vec<u8>> {
    use std::io::Read;
    let fd = rustix::fs::openat(
        dir,
        IGNORE_FILE,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let stat = rustix::fs::fstat(&fd).ok()?;
    if FileType::from_raw_mode(stat.st_mode as _) != FileType::RegularFile {
        return None;
    }
    let mut text = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut text).ok()?;
    Some(text)
}

#[allow(clippy::unnecessary_cast)]
fn kind_of(stat: &Stat) -> Kind {
    let dev = stat.st_dev as u64;
    match FileType::from_raw_mode(stat.st_mode as _) {
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::File(EntryMode::Link, stat_data(stat), dev),
        FileType::RegularFile => {
            let mode = if stat.st_mode & 0o100 != 0 {
                EntryMode::BlobExecutable
            } else {
                EntryMode::Blob
            };
            Kind::File(mode, stat_data(stat), dev)
        }
        _ => Kind::Special,
    }
}

// The field types of `Stat` differ between targets: the casts are not all no-ops.
#[allow(clippy::unnecessary_cast)]
pub(super) fn stat_data(stat: &Stat) -> StatData {
    StatData {
        size: stat.st_size as u64,
        mtime: Timestamp {
            secs: stat.st_mtime as i64,
            nsecs: stat.st_mtime_nsec as u32,
        },
        ctime: Timestamp {
            secs: stat.st_ctime as i64,
            nsecs: stat.st_ctime_nsec as u32,
        },
        ino: stat.st_ino as u64,
    }
}

/// `rel/name`, or `name` at the root.
fn join(rel: &[u8], name: &[u8]) -> Vec<u8> {
    let mut path = Vec::with_capacity(rel.len() + 1 + name.len());
    if !rel.is_empty() {
        path.extend_from_slice(rel);
        path.push(b'/');
    }
    path.extend_from_slice(name);
    path
}
