//! Access inside the working directory through directory descriptors, never by
//! re-resolving a path.
//!
//! Another user who can write into the working directory can swap a directory for a
//! symlink at any instant (`renameat2(RENAME_EXCHANGE)` in a loop). A path checked
//! with `lstat` and then opened again is resolved twice, and the second resolution may
//! go through the symlink. So every file and directory below the root is reached from
//! an open descriptor: with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` in one
//! call where the kernel has it (Linux 5.6), otherwise one component at a time with
//! `openat(O_NOFOLLOW)`. Either way no symlink is followed anywhere in the path, and
//! what was opened is what is then read, written or removed, with `*at` calls
//! relative to it.
//!
//! These are `rustix`'s `*at` calls rather than `cap-std`'s `Dir`: a `Dir` resolves
//! paths the way `RESOLVE_BENEATH` does, following symlinks that stay inside it, but a
//! snapshot path through a symlink is a different path and must be refused too; and
//! the operations here all take one name relative to one directory, which is what the
//! system calls already are.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Whether `openat2` failed as unsupported once (an old kernel, or a sandbox that
/// filters it): the component walk is used from then on.
static NO_OPENAT2: AtomicBool = AtomicBool::new(false);

/// Opens `rel` (a `/`-separated path of plain names) below the directory `dir` with
/// `flags`, following no symlink in any component. A symlink on the way fails with
/// `ELOOP` (or `ENOTDIR`); with `O_PATH | O_NOFOLLOW`, a symlink as the last
/// component is opened itself.
pub(crate) fn open_beneath(
    dir: BorrowedFd<'_>,
    rel: &[u8],
    flags: OFlags,
    mode: Mode,
) -> io::Result<OwnedFd> {
    let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    if rel.is_empty() {
        return Ok(rustix::fs::openat(dir, c".", flags, mode)?);
    }
    if !NO_OPENAT2.load(Ordering::Relaxed) {
        let resolve =
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        // EAGAIN: the kernel saw a rename during the lookup and could not rule out an
        // escape; looking up again is what it asks for.
        for _ in 0..8 {
            match rustix::fs::openat2(dir, OsStr::from_bytes(rel), flags, mode, resolve) {
                Err(Errno::AGAIN) => continue,
                Err(Errno::NOSYS | Errno::PERM) => {
                    NO_OPENAT2.store(true, Ordering::Relaxed);
                    break;
                }
                other => return Ok(other?),
            }
        }
    }
    let (parent, name) = match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => (Some(open_dir_walk(dir, &rel[..i])?), &rel[i + 1..]),
        None => (None, rel),
    };
    let parent = parent.as_ref().map_or(dir, |fd| fd.as_fd());
    Ok(rustix::fs::openat(
        parent,
        OsStr::from_bytes(name),
        flags,
        mode,
    )?)
}

/// Opens the directory `rel` below `dir` one component at a time, never following a
/// symlink.
fn open_dir_walk(dir: BorrowedFd<'_>, rel: &[u8]) -> io::Result<OwnedFd> {
    let mut current: Option<OwnedFd> = None;
    for name in rel.split(|&b| b == b'/') {
        let at = current.as_ref().map_or(dir, |fd| fd.as_fd());
        current = Some(open_subdir(at, name)?);
    }
    Ok(current.expect("a path has at least one component"))
}

/// Opens the directory `rel` below `dir` (`dir` itself when `rel` is empty), never
/// following a symlink.
pub(crate) fn open_dir(dir: BorrowedFd<'_>, rel: &[u8]) -> io::Result<OwnedFd> {
    open_beneath(dir, rel, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())
}

/// Opens the subdirectory `name` of `dir`, refusing a symlink.
pub(crate) fn open_subdir(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(
        dir,
        OsStr::from_bytes(name),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens the directory at `path` (the working directory's root, chosen by the user:
/// symlinks in it are followed, as a shell would).
pub(crate) fn open_root(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Whether an error from [`open_beneath`] means a component is no longer a real
/// directory: a symlink or a file took its place.
pub(crate) fn is_swapped(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::ELOOP | libc::ENOTDIR | libc::EXDEV)
    )
}

/// Removes `name` from `dir`: a file or symlink itself (never what a symlink points
/// to), a directory with everything in it, each level opened from the one above it.
/// Nothing there is not an error.
pub(crate) fn remove_all_at(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    let name = OsStr::from_bytes(name);
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => return Ok(()),
        Err(Errno::ISDIR | Errno::PERM) => {}
        Err(e) => return Err(e.into()),
    }
    let sub = match open_subdir(dir, name.as_bytes()) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    empty_dir(sub.as_fd())?;
    match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Removes everything in the directory open as `dir`.
fn empty_dir(dir: BorrowedFd<'_>) -> io::Result<()> {
    let mut names = Vec::new();
    let mut listing = rustix::fs::Dir::read_from(dir)?;
    while let Some(entry) = listing.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push((name.to_vec(), entry.file_type()));
        }
    }
    for (name, file_type) in names {
        if file_type == FileType::Directory {
            remove_all_at(dir, &name)?;
        } else {
            match rustix::fs::unlinkat(dir, OsStr::from_bytes(&name), AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => {}
                // Listed as a file but a directory now: removed as one.
                Err(Errno::ISDIR | Errno::PERM) => remove_all_at(dir, &name)?,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn fd(path: &Path) -> OwnedFd {
        open_root(path).unwrap()
    }

    #[test]
    fn no_symlink_is_followed_on_the_way_or_at_the_end() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/f"), b"in").unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("f"), b"out").unwrap();
        symlink(&outside, root.join("l")).unwrap();
        symlink("a", root.join("inner")).unwrap();
        let root_fd = fd(&root);
        for fallback in [false, true] {
            NO_OPENAT2.store(fallback, Ordering::Relaxed);
            let read = OFlags::RDONLY;
            assert!(open_beneath(root_fd.as_fd(), b"a/b/f", read, Mode::empty()).is_ok());
            for through in [&b"l/f"[..], b"inner/b/f", b"l"] {
                let err = open_beneath(root_fd.as_fd(), through, read, Mode::empty())
                    .expect_err("through a symlink");
                assert!(is_swapped(&err), "{through:?}: {err}");
            }
            let link = open_beneath(root_fd.as_fd(), b"l", OFlags::PATH, Mode::empty()).unwrap();
            let target = rustix::fs::readlinkat(&link, c"", Vec::new()).unwrap();
            assert_eq!(target.as_bytes(), outside.as_os_str().as_bytes());
        }
        NO_OPENAT2.store(false, Ordering::Relaxed);
    }

    #[test]
    fn remove_all_removes_a_symlink_not_its_target() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("d/e")).unwrap();
        std::fs::write(root.join("d/e/f"), b"x").unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("keep"), b"keep").unwrap();
        symlink(&outside, root.join("d/link")).unwrap();
        symlink(&outside, root.join("top")).unwrap();
        let root_fd = fd(&root);
        remove_all_at(root_fd.as_fd(), b"top").unwrap();
        remove_all_at(root_fd.as_fd(), b"d").unwrap();
        remove_all_at(root_fd.as_fd(), b"missing").unwrap();
        assert!(std::fs::read_dir(&root).unwrap().next().is_none());
        assert_eq!(std::fs::read(outside.join("keep")).unwrap(), b"keep");
    }
}
