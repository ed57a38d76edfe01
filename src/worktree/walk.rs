//! The directory walk under a scan: every directory read once through a descriptor,
//! every file and symlink stat'ed relative to its directory, subdirectories walked in
//! parallel, and `.cowignore` rules applied as git applies `.gitignore`.
//!
//! The result is a tree of directories whose entries are in git's order, so the order
//! of what is found never depends on thread timing. Directories are told apart from
//! files by the type `readdir` reports, so they cost no `stat`; a `.cowignore` is read
//! only where `readdir` lists one.

use std::ffi::OsStr;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use rayon::prelude::*;
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;

use super::index::StatData;
use super::scan::Warning;
use super::{Error, IGNORE_FILE, Result};
use crate::object::{EntryMode, name_order};

/// A directory as the walk found it.
#[derive(Default)]
pub(super) struct WalkedDir {
    /// Its entries in git's order (ignored and skipped ones left out).
    pub entries: Vec<Walked>,
}

/// One entry of a [`WalkedDir`].
pub(super) enum Walked {
    /// A regular file or symlink, with its `lstat` data.
    File {
        /// Its name in the directory.
        name: Vec<u8>,
        /// Its path from the root, `/`-separated.
        rel: Vec<u8>,
        /// File, executable or symlink.
        mode: EntryMode,
        /// Its stat data.
        stat: StatData,
    },
    /// A subdirectory; `None` when it was left out (unreadable or vanished).
    Dir {
        /// Its name in the directory.
        name: Vec<u8>,
        /// What it holds.
        dir: Option<WalkedDir>,
    },
}

/// Walks `root`, leaving out `.cow` and what `.cowignore` files exclude. Problems that
/// do not stop the walk are added to `warnings`.
pub(super) fn walk(
    root: &Path,
    skip_unreadable: bool,
    warnings: &mut Vec<Warning>,
) -> Result<WalkedDir> {
    let opened = rustix::fs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .and_then(read_dir)
    .map_err(|e| Error::io("read directory", root)(e.into()))?;
    let walker = Walker {
        root,
        skip_unreadable,
        warnings: Mutex::new(Vec::new()),
    };
    let dir = walker.walk_dir(opened, b"", None)?;
    warnings.append(&mut walker.warnings.into_inner().expect("no panics while held"));
    Ok(dir)
}

struct Walker<'a> {
    root: &'a Path,
    skip_unreadable: bool,
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

/// An open directory and the entries read from it.
struct Opened {
    dir: Dir,
    listed: Vec<Listed>,
}

/// An entry read from a directory, before it is stat'ed.
struct Listed {
    name: Vec<u8>,
    file_type: FileType,
}

/// What a directory entry turned out to be.
enum Kind {
    Dir,
    File(EntryMode, StatData),
    Special,
}

impl Walker<'_> {
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

    /// Stats, filters and sorts the entries of the directory at `rel` from the root,
    /// then walks its subdirectories in parallel.
    fn walk_dir(&self, opened: Opened, rel: &[u8], rules: Option<&Rules<'_>>) -> Result<WalkedDir> {
        let Opened { dir, listed } = opened;
        let fd = dir
            .fd()
            .map_err(|e| Error::io("read directory", self.fs_path(rel))(e.into()))?;

        let own_rules;
        let rules = if listed.iter().any(|l| l.name == IGNORE_FILE.as_bytes()) {
            own_rules = Rules {
                matcher: self.read_rules(rel),
                parent: rules,
            };
            Some(&own_rules)
        } else {
            rules
        };

        let mut entries = Vec::with_capacity(listed.len());
        for Listed { name, file_type } in listed {
            let child_rel = join(rel, &name);
            let kind = match file_type {
                FileType::Directory => Kind::Dir,
                FileType::RegularFile | FileType::Symlink | FileType::Unknown => {
                    match rustix::fs::statat(fd, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(stat) => kind_of(&stat),
                        Err(Errno::NOENT) => {
                            self.warn(Warning::Vanished {
                                path: PathBuf::from(OsStr::from_bytes(&child_rel)),
                            });
                            continue;
                        }
                        Err(e) => {
                            return Err(Error::io("stat", self.fs_path(&child_rel))(e.into()));
                        }
                    }
                }
                _ => Kind::Special,
            };
            if let Some(rules) = rules
                && rules.ignores(&self.fs_path(&child_rel), matches!(kind, Kind::Dir))
            {
                continue;
            }
            if name.eq_ignore_ascii_case(b".cow") {
                // The repository's own `.cow` is left out silently; any other is reported.
                if !rel.is_empty() || name != b".cow" {
                    self.warn(Warning::ReservedName {
                        path: PathBuf::from(OsStr::from_bytes(&child_rel)),
                    });
                }
                continue;
            }
            entries.push(match kind {
                Kind::Dir => Walked::Dir { name, dir: None },
                Kind::File(mode, stat) => Walked::File {
                    name,
                    rel: child_rel,
                    mode,
                    stat,
                },
                Kind::Special => {
                    self.warn(Warning::SpecialFile {
                        path: PathBuf::from(OsStr::from_bytes(&child_rel)),
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

        entries.par_iter_mut().try_for_each(|entry| {
            if let Walked::Dir { name, dir } = entry {
                *dir = self.walk_subdir(fd, rel, name, rules)?;
            }
            Ok::<_, Error>(())
        })?;
        Ok(WalkedDir { entries })
    }

    /// Walks subdirectory `name` of the directory open as `parent` (at `rel`); `None`
    /// when it vanished, or cannot be read and may be skipped (with a warning).
    fn walk_subdir(
        &self,
        parent: BorrowedFd<'_>,
        rel: &[u8],
        name: &[u8],
        rules: Option<&Rules<'_>>,
    ) -> Result<Option<WalkedDir>> {
        let rel = join(rel, name);
        let opened = rustix::fs::openat(
            parent,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .and_then(read_dir);
        match opened {
            Ok(opened) => self.walk_dir(opened, &rel, rules).map(Some),
            Err(e) => {
                let path = PathBuf::from(OsStr::from_bytes(&rel));
                let warning = match e {
                    Errno::NOENT => Warning::Vanished { path },
                    Errno::ACCESS if self.skip_unreadable => Warning::Unreadable { path },
                    _ => return Err(Error::io("read directory", self.fs_path(&rel))(e.into())),
                };
                self.warn(warning);
                Ok(None)
            }
        }
    }

    /// The rules of the `.cowignore` in directory `rel`. A line that is not a valid
    /// pattern is reported and left out; a file that cannot be read has no rules.
    fn read_rules(&self, rel: &[u8]) -> Gitignore {
        let dir = self.fs_path(rel);
        let mut builder = GitignoreBuilder::new(&dir);
        if let Some(err) = builder.add(dir.join(IGNORE_FILE))
            && let Some(message) = rule_errors(err)
        {
            self.warn(Warning::IgnoreRule { message });
        }
        builder.build().unwrap_or_else(|err| {
            self.warn(Warning::IgnoreRule {
                message: err.to_string(),
            });
            Gitignore::empty()
        })
    }
}

impl Walked {
    fn name_and_is_dir(&self) -> (&[u8], bool) {
        match self {
            Walked::File { name, .. } => (name, false),
            Walked::Dir { name, .. } => (name, true),
        }
    }
}

/// Reads the names and types in the directory open as `fd`, `.` and `..` left out.
fn read_dir(fd: OwnedFd) -> rustix::io::Result<Opened> {
    let mut dir = Dir::new(fd)?;
    let mut listed = Vec::new();
    while let Some(entry) = dir.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        listed.push(Listed {
            name: name.to_vec(),
            file_type: entry.file_type(),
        });
    }
    Ok(Opened { dir, listed })
}

/// The messages of the pattern errors in `err`; I/O errors (an unreadable or vanished
/// `.cowignore`) are not reported, as git does not report them.
fn rule_errors(err: ignore::Error) -> Option<String> {
    match err {
        ignore::Error::Partial(errs) => {
            let messages: Vec<String> = errs
                .into_iter()
                .filter(|e| !e.is_io())
                .map(|e| e.to_string())
                .collect();
            (!messages.is_empty()).then(|| messages.join("\n"))
        }
        err if err.is_io() => None,
        err => Some(err.to_string()),
    }
}

fn kind_of(stat: &Stat) -> Kind {
    match FileType::from_raw_mode(stat.st_mode as _) {
        FileType::Directory => Kind::Dir,
        FileType::Symlink => Kind::File(EntryMode::Link, stat_data(stat)),
        FileType::RegularFile => {
            let mode = if stat.st_mode & 0o100 != 0 {
                EntryMode::BlobExecutable
            } else {
                EntryMode::Blob
            };
            Kind::File(mode, stat_data(stat))
        }
        _ => Kind::Special,
    }
}

// The field types of `Stat` differ between targets: the casts are not all no-ops.
#[allow(clippy::unnecessary_cast)]
fn stat_data(stat: &Stat) -> StatData {
    use super::index::Timestamp;
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
