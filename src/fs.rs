//! The bottom layer: file writes that are atomic, directory syncs that make them
//! durable, and the one io-error type every layer above reports a failed filesystem
//! call with.
//!
//! Every error names what was being done and to which path ([`IoError`]); a call site
//! adds that context with [`IoResultExt::context`] (jj's `file_util.rs` has the same
//! helper), so no layer needs its own constructor.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A filesystem call failed: what was being done, on which path, and why.
#[derive(Debug, thiserror::Error)]
#[error("could not {action} {}", crate::quote::quote_fs_path(path))]
pub struct IoError {
    /// What was being done, as a verb phrase ("read", "create a temporary file in").
    pub action: &'static str,
    /// The file or directory it was done to.
    pub path: PathBuf,
    /// Why it failed.
    #[source]
    pub source: io::Error,
}

impl IoError {
    /// An error for `action` on `path`.
    pub fn new(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> IoError {
        IoError {
            action,
            path: path.into(),
            source: without_tempfile_path(source),
        }
    }

    /// The kind of the underlying io error.
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }
}

/// Adds the action and path to a failed io call.
pub trait IoResultExt<T> {
    /// Turns the error into an [`IoError`] naming `action` and `path`.
    fn context(self, action: &'static str, path: impl AsRef<Path>) -> Result<T, IoError>;

    /// Like [`context`](Self::context), with the path made only on error (for hot
    /// paths, where the path exists only for the message).
    fn context_with<P: AsRef<Path>>(
        self,
        action: &'static str,
        path: impl FnOnce() -> P,
    ) -> Result<T, IoError>;
}

impl<T, E: Into<io::Error>> IoResultExt<T> for Result<T, E> {
    fn context(self, action: &'static str, path: impl AsRef<Path>) -> Result<T, IoError> {
        self.map_err(|e| IoError::new(action, path.as_ref(), e.into()))
    }

    fn context_with<P: AsRef<Path>>(
        self,
        action: &'static str,
        path: impl FnOnce() -> P,
    ) -> Result<T, IoError> {
        self.map_err(|e| IoError::new(action, path().as_ref(), e.into()))
    }
}

/// The io error of a `tempfile` call without the " at path …" that `tempfile` adds:
/// the message names the directory already, so the random name would repeat it.
fn without_tempfile_path(error: io::Error) -> io::Error {
    if error.raw_os_error().is_some() || error.get_ref().is_none() {
        return error;
    }
    let text = error.to_string();
    let Some(at) = text.rfind(" at path ") else {
        return error;
    };
    let cause = &text[..at];
    // "Permission denied (os error 13)": keep the code, so the kind and errno survive.
    let code = cause
        .strip_suffix(')')
        .and_then(|c| c.rsplit_once("(os error "))
        .and_then(|(_, n)| n.parse().ok());
    match code {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(error.kind(), cause.to_owned()),
    }
}

/// Whether a write must be on disk before it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// The file's bytes and its name in the directory are synced: after a crash the
    /// file is there, whole.
    Sync,
    /// Nothing is synced: after a crash the file may be the old one (never a mix).
    /// For caches that can be rebuilt.
    NoSync,
}

/// Makes the entries of `dir` (files renamed into it, directories made in it) durable.
pub fn sync_dir(dir: &Path) -> Result<(), IoError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .context("sync", dir)
}

/// A file being written under a temporary name in the directory of its final path,
/// renamed into place by [`AtomicFile::commit`]; dropped uncommitted, it is removed.
pub struct AtomicFile {
    temp: tempfile::NamedTempFile,
    path: PathBuf,
}

impl fmt::Debug for AtomicFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AtomicFile")
            .field("temp", &self.temp.path())
            .field("path", &self.path)
            .finish()
    }
}

impl AtomicFile {
    /// Starts writing `path`: a new temporary file beside it whose name starts with
    /// `prefix` (one of the names in `crate::temp`, so an interrupted writer's
    /// leftover is recognised).
    pub fn create(path: &Path, prefix: &str) -> Result<AtomicFile, IoError> {
        let dir = parent(path);
        let temp = tempfile::Builder::new()
            .prefix(prefix)
            .tempfile_in(dir)
            .context("create a temporary file in", dir)?;
        Ok(AtomicFile {
            temp,
            path: path.to_owned(),
        })
    }

    /// The temporary file, for writing.
    pub fn file(&mut self) -> &mut File {
        self.temp.as_file_mut()
    }

    /// The temporary file's path.
    pub fn temp_path(&self) -> &Path {
        self.temp.path()
    }

    /// Appends `bytes`.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        self.temp
            .write_all(bytes)
            .context("write", self.temp.path())
    }

    /// Renames the file into place (replacing what was there), after syncing it and
    /// then its directory when `durability` is [`Durability::Sync`].
    pub fn commit(self, durability: Durability) -> Result<(), IoError> {
        if durability == Durability::Sync {
            self.temp
                .as_file()
                .sync_all()
                .context("write", self.temp.path())?;
        }
        self.temp
            .persist(&self.path)
            .map_err(|e| e.error)
            .context("write", &self.path)?;
        if durability == Durability::Sync {
            sync_dir(parent(&self.path))?;
        }
        Ok(())
    }
}

/// Replaces the file at `path` with `bytes` atomically: a reader sees the old file or
/// the new one, never a part. `prefix` names the temporary file (see
/// [`AtomicFile::create`]).
pub fn write_atomic(
    path: &Path,
    prefix: &str,
    bytes: &[u8],
    durability: Durability,
) -> Result<(), IoError> {
    let mut file = AtomicFile::create(path, prefix)?;
    file.write_all(bytes)?;
    file.commit(durability)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        for (content, durability) in [
            (&b"one"[..], Durability::Sync),
            (b"two", Durability::NoSync),
        ] {
            write_atomic(&path, ".tmp-test-", content, durability).unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), content);
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["file"]);
    }

    #[test]
    fn an_uncommitted_file_is_removed_and_the_old_one_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        std::fs::write(&path, "old").unwrap();
        let mut file = AtomicFile::create(&path, ".tmp-test-").unwrap();
        file.write_all(b"new").unwrap();
        let temp = file.temp_path().to_owned();
        assert!(temp.exists());
        drop(file);
        assert!(!temp.exists());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
    }

    #[test]
    fn errors_name_the_action_and_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing").join("file");
        let err = write_atomic(&missing, ".tmp-test-", b"x", Durability::NoSync).unwrap_err();
        assert_eq!(err.action, "create a temporary file in");
        assert_eq!(err.path, missing.parent().unwrap());
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        // tempfile's " at path …" suffix is gone: the message names the directory once.
        assert!(
            !err.source.to_string().contains(" at path "),
            "{}",
            err.source
        );
        assert_eq!(
            err.to_string(),
            format!(
                "could not create a temporary file in '{}'",
                missing.parent().unwrap().display()
            )
        );
    }
}
