//! Every temporary name cow writes, in one list.
//!
//! A writer makes each file or directory under a temporary name and renames it into
//! place when it is complete; a writer killed before that leaves the temporary behind.
//! The code that makes a temporary takes its name from its entry here, and the cleanup
//! that the next holder of the repository lock runs ([`clean_leftovers`]) removes what
//! any entry matches. Adding a kind of temporary is adding an entry to [`ALL`].
//!
//! Inside `.cow` only lock holders write, so everything an entry matches there is a
//! leftover once the lock is held. The working directory is the user's: there an entry
//! matches only what cow's own writer would have left (see [`Temp::is_leftover_dir`]).

use std::fs;
use std::path::Path;

/// Where a temporary is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// The top of the working directory, beside `.cow`.
    WorkDir,
    /// `.cow` itself.
    CowDir,
    /// `.cow/objects`.
    Objects,
    /// `.cow/objects/pack`.
    PackDir,
    /// `.cow/refs` and every directory below it.
    Refs,
    /// `.cow/oplog`.
    OpLog,
}

/// How an entry's name matches a leftover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// A name that starts with [`Temp::name`]: a file (or directory) under a temporary
    /// name, renamed into place when complete.
    Prefix,
    /// A name that ends with [`Temp::name`] (a lock file beside the file it replaces).
    Suffix,
    /// Exactly [`Temp::name`].
    Exact,
    /// `pack-<sum>` followed by [`Temp::name`] with no `pack-<sum>.idx` beside it: a
    /// pack is renamed into place before its index, and removed after it, so a writer
    /// killed in between leaves a pack (or sidecar) that no reader looks at.
    WithoutIndex,
}

/// One kind of temporary file or directory.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Temp {
    /// The prefix, suffix or name (see [`Pattern`]).
    pub(crate) name: &'static str,
    /// How [`Temp::name`] matches.
    pub(crate) pattern: Pattern,
    /// Where it is made.
    pub(crate) place: Place,
}

/// A loose object being written (`objects/.tmp-obj-…`, renamed to `objects/ab/cd…`).
pub(crate) const LOOSE_OBJECT: Temp = Temp {
    name: ".tmp-obj-",
    pattern: Pattern::Prefix,
    place: Place::Objects,
};
/// A pack being written.
pub(crate) const PACK: Temp = Temp {
    name: ".tmp-pack-",
    pattern: Pattern::Prefix,
    place: Place::PackDir,
};
/// A pack index being written (a half-written index is always under this name).
pub(crate) const PACK_INDEX: Temp = Temp {
    name: ".tmp-idx-",
    pattern: Pattern::Prefix,
    place: Place::PackDir,
};
/// A cruft pack's object ages being written.
pub(crate) const PACK_MTIMES: Temp = Temp {
    name: ".tmp-mtimes-",
    pattern: Pattern::Prefix,
    place: Place::PackDir,
};
/// A pack renamed into place whose index never was (or whose index gc removed first).
pub(crate) const PACK_WITHOUT_INDEX: Temp = Temp {
    name: ".pack",
    pattern: Pattern::WithoutIndex,
    place: Place::PackDir,
};
/// A cruft pack's `.mtimes` whose index is gone.
pub(crate) const MTIMES_WITHOUT_INDEX: Temp = Temp {
    name: ".mtimes",
    pattern: Pattern::WithoutIndex,
    place: Place::PackDir,
};
/// The stat cache being written.
pub(crate) const STAT_CACHE: Temp = Temp {
    name: ".tmp-index-",
    pattern: Pattern::Prefix,
    place: Place::CowDir,
};
/// The directory cache being written.
pub(crate) const DIR_CACHE: Temp = Temp {
    name: ".tmp-dircache-",
    pattern: Pattern::Prefix,
    place: Place::CowDir,
};
/// The probe file that measures the filesystem's timestamp tick.
pub(crate) const CLOCK_PROBE: Temp = Temp {
    name: ".tmp-clock-",
    pattern: Pattern::Prefix,
    place: Place::CowDir,
};
/// The config being written.
pub(crate) const CONFIG: Temp = Temp {
    name: ".tmp-config-",
    pattern: Pattern::Prefix,
    place: Place::CowDir,
};
/// The directory a checkout stages verified files in.
pub(crate) const CHECKOUT_STAGING: Temp = Temp {
    name: ".tmp-checkout-",
    pattern: Pattern::Prefix,
    place: Place::CowDir,
};
/// The directory a checkout stages verified files in when the store is on another
/// filesystem than the working directory (a rename cannot cross filesystems): private
/// (0700), at the top of the working directory. The walk never snapshots one.
pub(crate) const WORK_STAGING: Temp = Temp {
    name: ".cow-stage-",
    pattern: Pattern::Prefix,
    place: Place::WorkDir,
};
/// HEAD's lock file.
pub(crate) const HEAD_LOCK: Temp = Temp {
    name: "HEAD.lock",
    pattern: Pattern::Exact,
    place: Place::CowDir,
};
/// A ref's lock file (`refs/heads/main.lock`), renamed over the ref.
pub(crate) const REF_LOCK: Temp = Temp {
    name: ".lock",
    pattern: Pattern::Suffix,
    place: Place::Refs,
};
/// An operation, view or pending mark of the operation log being written.
pub(crate) const OPLOG: Temp = Temp {
    name: ".tmp-op-",
    pattern: Pattern::Prefix,
    place: Place::OpLog,
};
/// The store `init` builds before renaming it to `.cow`.
pub(crate) const INIT: Temp = Temp {
    name: ".cow-init-",
    pattern: Pattern::Prefix,
    place: Place::WorkDir,
};

/// The directory `restore --target` stages verified files in, inside the target
/// directory (which belongs to no repository, so no lock holder cleans it: the
/// restore removes it itself, even when it fails).
pub(crate) const RESTORE_STAGING: &str = ".cow-restore-";

/// The temporary files a checkout of cow 0.1 wrote beside each file it placed, in any
/// directory of the working directory: `.cow-tmp-<pid>-<n>-<name>`. Checkout writes
/// none there now (it stages files in `.cow`), so they are not in [`ALL`]; one left
/// by an interrupted checkout is never part of a snapshot, and the next commit removes
/// it as its walk comes across it (`worktree::is_leftover`).
pub(crate) const OLD_CHECKOUT_FILE: &str = ".cow-tmp-";

/// Every kind of temporary, which [`clean_leftovers`] removes.
pub(crate) const ALL: &[Temp] = &[
    LOOSE_OBJECT,
    PACK,
    PACK_INDEX,
    PACK_MTIMES,
    PACK_WITHOUT_INDEX,
    MTIMES_WITHOUT_INDEX,
    STAT_CACHE,
    DIR_CACHE,
    CLOCK_PROBE,
    CONFIG,
    CHECKOUT_STAGING,
    WORK_STAGING,
    HEAD_LOCK,
    REF_LOCK,
    OPLOG,
    INIT,
];

/// What `init` puts in its staging directory: a directory in the working directory
/// holding anything else is the user's, whatever its name.
const INIT_CONTENT: &[&str] = &["objects", "refs", "HEAD", "config", "lock"];

impl Temp {
    /// Whether a name matches this entry, by name alone (for
    /// [`Pattern::WithoutIndex`], only the `pack-…` shape; the index is checked by
    /// [`clean_leftovers`]).
    pub(crate) fn matches(&self, name: &str) -> bool {
        match self.pattern {
            Pattern::Prefix => name.starts_with(self.name),
            Pattern::Suffix => name.ends_with(self.name) && name.len() > self.name.len(),
            Pattern::Exact => name == self.name,
            Pattern::WithoutIndex => name.starts_with("pack-") && name.ends_with(self.name),
        }
    }

    /// Whether `path` (matched by name, in the working directory) is what a killed
    /// `init` left: a directory, not a symlink, holding nothing but what `init` makes.
    fn is_leftover_dir(path: &Path) -> bool {
        let Ok(meta) = fs::symlink_metadata(path) else {
            return false;
        };
        if !meta.is_dir() {
            return false;
        }
        let Ok(entries) = fs::read_dir(path) else {
            return false;
        };
        entries.into_iter().all(|e| {
            e.ok().is_some_and(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                INIT_CONTENT.contains(&name.as_ref())
                    || HEAD_LOCK.matches(&name)
                    || CONFIG.matches(&name)
            })
        })
    }
}

/// The length of the random part tempfile appends to a prefix.
const RANDOM_LEN: usize = 6;

/// Whether `name` is a [`WORK_STAGING`] directory's name: the prefix and tempfile's
/// six random letters or digits, nothing else (a user's `.cow-stage-notes` is theirs).
pub(crate) fn is_work_staging(name: &[u8]) -> bool {
    name.strip_prefix(WORK_STAGING.name.as_bytes())
        .is_some_and(|rest| rest.len() == RANDOM_LEN && rest.iter().all(u8::is_ascii_alphanumeric))
}

/// Removes a [`WORK_STAGING`] directory a killed checkout left in the working
/// directory, through descriptors and never recursively: only a real directory (not a
/// symlink) owned by this user and private to it, holding nothing but what a checkout
/// stages there (files named by numbers, shard directories `s<N>` of such files).
/// Anything else keeps it in place.
fn remove_staging_leftover(work_dir: &Path, name: &str) {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let Ok(root) = rustix::fs::open(work_dir, dir_flags, Mode::empty()) else {
        return;
    };
    let Ok(top) = rustix::fs::openat(&root, name, dir_flags, Mode::empty()) else {
        return;
    };
    let Ok(stat) = rustix::fs::fstat(&top) else {
        return;
    };
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if stat.st_uid != me || stat.st_mode & 0o077 != 0 {
        return;
    }
    let numbered = |n: &[u8]| !n.is_empty() && n.iter().all(u8::is_ascii_digit);
    let names = |dir: &std::os::fd::OwnedFd| -> Vec<(std::ffi::CString, FileType)> {
        rustix::fs::Dir::read_from(dir).map_or_else(
            |_| Vec::new(),
            |entries| {
                entries
                    .flatten()
                    .filter(|e| !matches!(e.file_name().to_bytes(), b"." | b".."))
                    .map(|e| (e.file_name().to_owned(), e.file_type()))
                    .collect()
            },
        )
    };
    for (entry, kind) in names(&top) {
        let bytes = entry.to_bytes();
        if numbered(bytes) && kind != FileType::Directory {
            let _ = rustix::fs::unlinkat(&top, entry.as_c_str(), AtFlags::empty());
        } else if bytes.strip_prefix(b"s").is_some_and(numbered) {
            if let Ok(shard) = rustix::fs::openat(&top, entry.as_c_str(), dir_flags, Mode::empty())
            {
                for (file, kind) in names(&shard) {
                    if numbered(file.to_bytes()) && kind != FileType::Directory {
                        let _ = rustix::fs::unlinkat(&shard, file.as_c_str(), AtFlags::empty());
                    }
                }
            }
            let _ = rustix::fs::unlinkat(&top, entry.as_c_str(), AtFlags::REMOVEDIR);
        }
    }
    let _ = rustix::fs::unlinkat(&root, name, AtFlags::REMOVEDIR);
}

/// Removes a file, or a directory and everything in it (without following symlinks).
fn remove(path: &Path) {
    let is_dir = fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    let _ = if is_dir {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    };
}

/// Removes what a killed `init` left in the working directory, `name`, through
/// descriptors and never recursively: another user who can write there may have
/// swapped it for a symlink, or moved something of someone else's into it after it was
/// checked. So the directory is opened without following a symlink, its files are
/// unlinked, and only empty directories of `init`'s layout are removed; anything else
/// keeps it in place.
fn remove_init_leftover(work_dir: &Path, name: &str) {
    use rustix::fs::{AtFlags, Mode, OFlags};
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let Ok(root) = rustix::fs::open(work_dir, dir_flags, Mode::empty()) else {
        return;
    };
    let Ok(top) = rustix::fs::openat(&root, name, dir_flags, Mode::empty()) else {
        return;
    };
    let Ok(entries) = rustix::fs::Dir::read_from(&top) else {
        return;
    };
    let names: Vec<std::ffi::CString> = entries
        .flatten()
        .map(|e| e.file_name().to_owned())
        .collect();
    for entry_name in &names {
        match entry_name.to_bytes() {
            b"." | b".." => {}
            b"objects" => {
                let _ = rustix::fs::unlinkat(&top, c"objects", AtFlags::REMOVEDIR);
            }
            b"refs" => {
                if let Ok(refs) = rustix::fs::openat(&top, c"refs", dir_flags, Mode::empty()) {
                    for sub in [c"heads", c"tags"] {
                        let _ = rustix::fs::unlinkat(&refs, sub, AtFlags::REMOVEDIR);
                    }
                }
                let _ = rustix::fs::unlinkat(&top, c"refs", AtFlags::REMOVEDIR);
            }
            // A file (unlinking never follows a symlink, and fails on a directory).
            _ => {
                let _ = rustix::fs::unlinkat(&top, entry_name.as_c_str(), AtFlags::empty());
            }
        }
    }
    let _ = rustix::fs::unlinkat(&root, name, AtFlags::REMOVEDIR);
}

/// Removes everything [`ALL`] matches, as a killed writer left it. Only call it with
/// the repository lock held, when no writer can be using them. Failures are ignored:
/// a leftover is never trusted by a reader, and the next writer tries again.
pub(crate) fn clean_leftovers(work_dir: Option<&Path>, cow_dir: &Path) {
    let objects = cow_dir.join("objects");
    let pack_dir = objects.join("pack");
    let mut dirs = vec![
        (Place::CowDir, cow_dir.to_owned()),
        (Place::Objects, objects),
        (Place::PackDir, pack_dir),
        (Place::OpLog, cow_dir.join("oplog")),
    ];
    if let Some(work_dir) = work_dir {
        dirs.push((Place::WorkDir, work_dir.to_owned()));
    }
    for entry in walkdir::WalkDir::new(cow_dir.join("refs"))
        .into_iter()
        .flatten()
    {
        if entry.file_type().is_dir() {
            dirs.push((Place::Refs, entry.into_path()));
        }
    }
    for (place, dir) in dirs {
        let temps: Vec<&Temp> = ALL.iter().filter(|t| t.place == place).collect();
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue; // every temporary name is ASCII
            };
            let path = entry.path();
            let leftover = temps.iter().any(|t| {
                t.matches(name)
                    && match t.pattern {
                        Pattern::WithoutIndex => {
                            let stem = &name[..name.len() - t.name.len()];
                            !dir.join(format!("{stem}.idx")).exists()
                        }
                        _ if place == Place::WorkDir => {
                            t.name == WORK_STAGING.name || Temp::is_leftover_dir(&path)
                        }
                        _ => true,
                    }
            });
            if leftover && place == Place::WorkDir {
                if is_work_staging(name.as_bytes()) {
                    remove_staging_leftover(&dir, name);
                } else if INIT.matches(name) {
                    remove_init_leftover(&dir, name);
                }
            } else if leftover {
                remove(&path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sample of every entry in [`ALL`], made where its writer makes it, is removed:
    /// a new entry is covered as soon as it is listed.
    #[test]
    fn every_entry_is_cleaned_up() {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path();
        let cow = work.join(".cow");
        let refs = cow.join("refs/heads/topic");
        for dir in [&cow.join("objects/pack"), &refs, &cow.join("oplog")] {
            fs::create_dir_all(dir).unwrap();
        }
        let mut made = Vec::new();
        for temp in ALL {
            let dir = match temp.place {
                Place::WorkDir => work.to_owned(),
                Place::CowDir => cow.clone(),
                Place::Objects => cow.join("objects"),
                Place::PackDir => cow.join("objects/pack"),
                Place::Refs => refs.clone(),
                Place::OpLog => cow.join("oplog"),
            };
            let name = match temp.pattern {
                Pattern::Prefix => format!("{}Ab12Cd", temp.name),
                Pattern::Suffix => format!("x{}", temp.name),
                Pattern::Exact => temp.name.to_owned(),
                Pattern::WithoutIndex => format!("pack-00ff{}", temp.name),
            };
            let path = dir.join(name);
            if temp.name == WORK_STAGING.name {
                fs::create_dir_all(path.join("s1")).unwrap();
                fs::write(path.join("0"), "staged").unwrap();
                fs::write(path.join("s1/7"), "staged").unwrap();
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).unwrap();
            } else if temp.place == Place::WorkDir {
                fs::create_dir_all(path.join("objects")).unwrap();
            } else {
                fs::write(&path, "left").unwrap();
            }
            made.push(path);
        }
        // What is not a leftover stays.
        let keep = [
            cow.join("objects/pack/pack-00ee.pack"),
            cow.join("objects/pack/pack-00ee.idx"),
            cow.join("refs/heads/main"),
            cow.join("HEAD"),
            work.join(".cow-init-mine/notes"),
            // Not tempfile's name, or not only what a checkout stages.
            work.join(".cow-stage-notes/0"),
            work.join(".cow-stage-Zz99Yy/notes"),
        ];
        for path in &keep {
            fs::write(path, "keep").unwrap_or_else(|_| {
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, "keep").unwrap();
            });
        }
        clean_leftovers(Some(work), &cow);
        for path in &made {
            assert!(fs::symlink_metadata(path).is_err(), "{}", path.display());
        }
        for path in &keep {
            assert!(path.exists(), "{}", path.display());
        }
    }

    #[test]
    fn names_match_their_entries_only() {
        assert!(LOOSE_OBJECT.matches(".tmp-obj-AbC123"));
        assert!(!LOOSE_OBJECT.matches("ab"));
        assert!(REF_LOCK.matches("main.lock"));
        assert!(!REF_LOCK.matches(".lock"));
        assert!(!REF_LOCK.matches("main"));
        assert!(PACK_WITHOUT_INDEX.matches("pack-00ff.pack"));
        assert!(!PACK_WITHOUT_INDEX.matches("pack-00ff.idx"));
        assert!(HEAD_LOCK.matches("HEAD.lock") && !HEAD_LOCK.matches("HEAD"));
        // Each prefix is used by one kind only, so no entry shadows another.
        for (i, a) in ALL.iter().enumerate() {
            for b in &ALL[i + 1..] {
                assert!(
                    a.place != b.place || a.pattern != b.pattern || a.name != b.name,
                    "{} is in the list twice",
                    a.name
                );
            }
        }
    }
}
