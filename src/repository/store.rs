//! Where the store is: the `.cow` directory inside the working directory, or a store
//! elsewhere that a `.cow` file names (`cowdir: PATH`, as git's `gitdir:` file), or a
//! store opened directly, whose working directory is its `core.worktree` (or none: a
//! bare store).
//!
//! A `.cow` file sits in a directory other users may be able to write, and so may name
//! anything. It is read with a size limit and without blocking, and followed only to a
//! store whose own `core.worktree` is the directory the file is in: a planted file
//! cannot turn someone's store into the store of another directory.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use super::{COW_DIR, Config, Error, Repository, Result};
use crate::fs::IoResultExt;
use crate::refs::{Head, RefName, RefStore};

/// What a `.cow` file starts with, before the store's path.
pub const LINK_PREFIX: &str = "cowdir: ";

/// The largest `.cow` file read: a path and a little more (`PATH_MAX` is 4096).
const MAX_LINK_LEN: u64 = 8192;

/// The config key naming a store's working directory.
const WORKTREE_KEY: &str = "core.worktree";

/// What [`Repository::init_with_store`] made.
#[derive(Debug)]
pub struct StoreInit {
    /// The new repository.
    pub repository: Repository,
    /// The `.cow` file written in the working directory, or `None` when the directory
    /// is not writable (a read-only source): its commands then name the store
    /// themselves.
    pub link: Option<PathBuf>,
}

/// Whether `dir` holds a store's files: HEAD, `objects/`, `config` and `lock`, as
/// `init` makes them (a git repository has the first three, never a `lock` file).
fn is_store(dir: &Path) -> bool {
    dir.join("HEAD").is_file()
        && dir.join("objects").is_dir()
        && dir.join("config").is_file()
        && dir.join("lock").is_file()
}

/// The repository whose working directory is `dir` (canonical) through its `.cow`
/// directory or file; `None` when it has neither (or a `.cow` directory without HEAD,
/// as discovery always skipped).
pub(super) fn find_link_at(dir: &Path) -> Result<Option<Repository>> {
    let dot = dir.join(COW_DIR);
    let Ok(meta) = fs::metadata(&dot) else {
        return Ok(None);
    };
    if meta.is_dir() {
        if !dot.join("HEAD").is_file() {
            return Ok(None);
        }
        if !dot.join("objects").is_dir() {
            return Err(Error::NotARepository(dir.to_owned()));
        }
        return Ok(Some(Repository::from_parts(Some(dir.to_owned()), dot)));
    }
    let store = read_link(&dot, dir)?;
    let store = match fs::canonicalize(&store) {
        Ok(store) if is_store(&store) => store,
        _ => {
            return Err(Error::InvalidLink {
                file: dot,
                reason: format!(
                    "points at {}, which is not a cow store",
                    crate::quote::quote_fs_path(&store)
                ),
            });
        }
    };
    let work_dir = configured_work_dir(&store)?;
    let same = work_dir
        .as_deref()
        .is_some_and(|w| fs::canonicalize(w).is_ok_and(|w| w == dir));
    if !same {
        return Err(Error::LinkMismatch {
            file: dot,
            store,
            work_dir,
        });
    }
    check_apart(&store, dir)?;
    Ok(Some(Repository::from_parts(Some(dir.to_owned()), store)))
}

/// The repository at `dir` (canonical): through its `.cow`, or `dir` being a store.
pub(super) fn find_at(dir: &Path) -> Result<Option<Repository>> {
    if let Some(repo) = find_link_at(dir)? {
        return Ok(Some(repo));
    }
    if fs::symlink_metadata(dir.join(COW_DIR)).is_err() && is_store(dir) {
        return open_store(dir, None).map(Some);
    }
    Ok(None)
}

/// Opens store `store` with working directory `work_dir`, or its `core.worktree`.
pub(super) fn open_store(store: &Path, work_dir: Option<&Path>) -> Result<Repository> {
    let store = fs::canonicalize(store).context("open", store)?;
    if !is_store(&store) {
        return Err(Error::NotARepository(store));
    }
    let work_dir = match work_dir {
        Some(dir) => Some(fs::canonicalize(dir).context("open", dir)?),
        // A working directory that cannot be reached now (an unmounted disk) still
        // leaves the store usable for what needs none.
        None => configured_work_dir(&store)?.map(|w| fs::canonicalize(&w).unwrap_or(w)),
    };
    if let Some(work_dir) = &work_dir {
        check_apart(&store, work_dir)?;
    }
    Ok(Repository::from_parts(work_dir, store))
}

/// The store's `core.worktree`, relative to the store if not absolute.
fn configured_work_dir(store: &Path) -> Result<Option<PathBuf>> {
    let config = Config::load(&store.join("config"))?;
    Ok(config
        .get(WORKTREE_KEY)
        .filter(|w| !w.is_empty())
        .map(|w| store.join(w)))
}

/// Refuses a store inside its working directory (each snapshot would hold the store)
/// and a working directory inside its store; both paths canonical.
fn check_apart(store: &Path, work_dir: &Path) -> Result<()> {
    if store.starts_with(work_dir) {
        return Err(Error::Nested {
            inner: store.to_owned(),
            outer: work_dir.to_owned(),
        });
    }
    if work_dir.starts_with(store) {
        return Err(Error::Nested {
            inner: work_dir.to_owned(),
            outer: store.to_owned(),
        });
    }
    Ok(())
}

/// The store path a `.cow` file names, relative paths taken from `dir`. The file is
/// read without blocking (a FIFO planted there) and at most [`MAX_LINK_LEN`] bytes.
fn read_link(file: &Path, dir: &Path) -> Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let invalid = |reason: &str| Error::InvalidLink {
        file: file.to_owned(),
        reason: reason.to_owned(),
    };
    let handle = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(file)
        .context("open", file)?;
    if !handle.metadata().context("stat", file)?.is_file() {
        return Err(invalid("not a directory or a regular file"));
    }
    let mut bytes = Vec::new();
    handle
        .take(MAX_LINK_LEN + 1)
        .read_to_end(&mut bytes)
        .context("read", file)?;
    if bytes.len() as u64 > MAX_LINK_LEN {
        return Err(invalid(
            "too large for a .cow file (expected `cowdir: PATH`)",
        ));
    }
    parse_link(&bytes).map(|p| dir.join(p)).ok_or_else(|| {
        invalid("not a .cow file: expected one line `cowdir: PATH` naming the store")
    })
}

/// The path in `cowdir: PATH\n` (the newline optional), any bytes but NUL and newline.
fn parse_link(bytes: &[u8]) -> Option<&Path> {
    let rest = bytes.strip_prefix(LINK_PREFIX.as_bytes())?;
    let path = rest.strip_suffix(b"\n").unwrap_or(rest);
    if path.is_empty() || path.contains(&b'\n') || path.contains(&0) {
        return None;
    }
    Some(Path::new(OsStr::from_bytes(path)))
}

/// `path` made absolute with its existing part resolved (symlinks included) and the
/// rest, which does not exist yet, appended (`..` there taken lexically: nothing
/// missing can be a symlink).
pub(super) fn resolve_missing(path: &Path) -> io::Result<PathBuf> {
    let path = std::path::absolute(path)?;
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    loop {
        match fs::canonicalize(existing) {
            Ok(mut resolved) => {
                for part in rest.into_iter().rev() {
                    match part {
                        Component::ParentDir => {
                            resolved.pop();
                        }
                        Component::Normal(name) => resolved.push(name),
                        _ => {}
                    }
                }
                return Ok(resolved);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let mut parts = existing.components();
                let Some(last) = parts.next_back() else {
                    return Err(e);
                };
                rest.push(last);
                existing = parts.as_path();
            }
            Err(e) => return Err(e),
        }
    }
}

impl Repository {
    /// Creates a bare store at `store` (made if missing; it must be absent or an empty
    /// directory): a repository without a working directory, as `git init --bare`, to
    /// push backups to or copy a store into. A failed init leaves nothing behind.
    pub fn init_bare(store: impl AsRef<Path>) -> Result<Repository> {
        let given = store.as_ref();
        let store = resolve_missing(given).context("resolve", given)?;
        create_store(&store, None, || Ok(()))?;
        Ok(Repository::from_parts(None, store))
    }

    /// Creates a repository whose store is `store` (made if missing; it must be absent
    /// or an empty directory) and whose working directory is `work_dir` (made if
    /// missing), as `git init --separate-git-dir` does. The store records the working
    /// directory (`core.worktree`), and a `.cow` file in the working directory names the
    /// store (`cowdir: PATH`) so that commands run there find it; a working directory
    /// that is not writable (a read-only source) gets none, and its commands name the
    /// store instead. Refuses a store inside the working directory or the other way
    /// round. A failed init leaves nothing behind.
    pub fn init_with_store(
        work_dir: impl AsRef<Path>,
        store: impl AsRef<Path>,
    ) -> Result<StoreInit> {
        let (work_given, store_given) = (work_dir.as_ref(), store.as_ref());
        // Checked before anything is made: nothing is left behind by a refusal.
        let store = resolve_missing(store_given).context("resolve", store_given)?;
        check_apart(
            &store,
            &resolve_missing(work_given).context("resolve", work_given)?,
        )?;
        fs::create_dir_all(work_given).context("create directory", work_given)?;
        let work_dir = fs::canonicalize(work_given).context("resolve", work_given)?;
        let link = work_dir.join(COW_DIR);
        if fs::symlink_metadata(&link).is_ok() {
            return Err(Error::AlreadyExists(work_dir));
        }
        check_apart(&store, &work_dir)?;
        let work_text = work_dir.to_str().ok_or_else(|| {
            Error::Config(format!(
                "core.worktree: the path {} is not UTF-8",
                crate::quote::quote_fs_path(&work_dir)
            ))
        })?;
        if store.as_os_str().as_bytes().contains(&b'\n') {
            return Err(Error::InvalidLink {
                file: link,
                reason: "the store's path holds a newline, which a .cow file cannot name".into(),
            });
        }
        let wrote_link = create_store(&store, Some(work_text), || write_link(&link, &store))?;
        Ok(StoreInit {
            repository: Repository::from_parts(Some(work_dir), store),
            link: wrote_link.then_some(link),
        })
    }
}

/// Makes a store at `store` (absolute; made if missing, else it must be an empty
/// directory) with `core.worktree` set to `work_dir`, then runs `then`; if either
/// fails, removes what it made.
fn create_store<T>(
    store: &Path,
    work_dir: Option<&str>,
    then: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let created = match fs::symlink_metadata(store) {
        Ok(meta) => {
            let empty = meta.is_dir()
                && fs::read_dir(store)
                    .context("read directory", store)?
                    .next()
                    .is_none();
            if !empty {
                return Err(Error::StoreNotEmpty(store.to_owned()));
            }
            false
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(store).context("create directory", store)?;
            true
        }
        Err(e) => return Err(crate::fs::IoError::new("open", store, e).into()),
    };
    let made = populate(store, work_dir).and_then(|()| then());
    if made.is_err() {
        if created {
            let _ = fs::remove_dir_all(store);
        } else if let Ok(entries) = fs::read_dir(store) {
            for entry in entries.flatten() {
                let path = entry.path();
                let _ = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
            }
        }
    }
    made
}

/// Makes an empty store's files in the empty directory `store`, HEAD last (what makes
/// it a store to readers).
fn populate(store: &Path, work_dir: Option<&str>) -> Result<()> {
    for sub in ["objects", "refs/heads", "refs/tags"] {
        let path = store.join(sub);
        fs::create_dir_all(&path).context("create directory", &path)?;
    }
    let mut config = Config::for_new_repository();
    if let Some(work_dir) = work_dir {
        config.set(WORKTREE_KEY, work_dir)?;
    }
    config.save(&store.join("config"))?;
    let lock = store.join("lock");
    fs::write(&lock, "").context("create", &lock)?;
    RefStore::at(store).set_head(&Head::Branch(RefName::branch("main")?))?;
    crate::fs::sync_dir(store)?;
    Ok(())
}

/// Writes the `.cow` file naming `store`; `false` when its directory is not writable.
/// Never follows or replaces what is there (`O_EXCL`).
fn write_link(link: &Path, store: &Path) -> Result<bool> {
    use std::io::Write;
    let mut text = LINK_PREFIX.as_bytes().to_vec();
    text.extend_from_slice(store.as_os_str().as_bytes());
    text.push(b'\n');
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(link);
    let mut file = match file {
        Ok(file) => file,
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EACCES | libc::EPERM | libc::EROFS)
            ) =>
        {
            return Ok(false);
        }
        Err(e) => return Err(crate::fs::IoError::new("create", link, e).into()),
    };
    let written = file
        .write_all(&text)
        .and_then(|()| file.sync_all())
        .context("write", link);
    if let Err(e) = written {
        let _ = fs::remove_file(link);
        return Err(e.into());
    }
    if let Some(parent) = link.parent() {
        crate::fs::sync_dir(parent)?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_one_line_naming_a_path() {
        assert_eq!(parse_link(b"cowdir: /s\n"), Some(Path::new("/s")));
        assert_eq!(parse_link(b"cowdir: ../s"), Some(Path::new("../s")));
        assert_eq!(
            parse_link(b"cowdir: /\xff\n").map(|p| p.as_os_str().as_bytes()),
            Some(&b"/\xff"[..])
        );
        for bad in [
            &b""[..],
            b"cowdir: ",
            b"cowdir: \n",
            b"gitdir: /s\n",
            b"cowdir: /s\n\n",
            b"cowdir: /s\nmore\n",
            b"cowdir: /a\0b\n",
            b"\x00\x01\x02",
        ] {
            assert_eq!(parse_link(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_missing_path_resolves_below_what_exists() {
        let tmp = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(tmp.path()).unwrap();
        fs::create_dir(base.join("real")).unwrap();
        std::os::unix::fs::symlink(base.join("real"), base.join("link")).unwrap();
        assert_eq!(
            resolve_missing(&base.join("link/new/../store")).unwrap(),
            base.join("real/store")
        );
        assert_eq!(
            resolve_missing(&base.join("link")).unwrap(),
            base.join("real")
        );
    }
}
