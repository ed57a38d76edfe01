//! The local backend: a repository's `.cow/objects` directory.
//!
//! ```text
//! objects/ab/cdef…            loose objects, in 256 fan-out directories
//! objects/pack/pack-<sum>.pack, .idx, .mtimes
//! ```
//!
//! New files are temporary files in the directory of their final name (prefixes from
//! [`crate::temp`], so the next lock holder removes what a killed writer left),
//! renamed into place. Ranged reads are `pread`; whole indexes are mapped.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use memmap2::MmapOptions;

use super::{FileBytes, FileInfo, FileKind, NewFile, RangeRead, ReadBackend, WriteBackend};

/// A directory of objects on a local filesystem.
#[derive(Debug)]
pub struct LocalBackend {
    dir: PathBuf,
    /// Directories that gained or lost an entry since the last sync (loose objects'
    /// fan-out directories, `objects` when one of those was made, `pack`).
    unsynced: Arc<Mutex<Vec<PathBuf>>>,
}

impl LocalBackend {
    /// The objects directory `dir` (a repository's `.cow/objects`).
    pub fn new(dir: impl Into<PathBuf>) -> LocalBackend {
        LocalBackend {
            dir: dir.into(),
            unsynced: Arc::default(),
        }
    }

    /// The objects directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn pack_dir(&self) -> PathBuf {
        self.dir.join("pack")
    }

    fn path(&self, kind: FileKind, name: &str) -> PathBuf {
        stored_path(&self.dir, kind, name)
    }
}

/// The path of file `name` of `kind` in the objects directory `dir`.
///
/// Built in one allocation of the right size: every read opens a file by it, and
/// `join` after `join` reallocated a long absolute path several times.
fn stored_path(dir: &Path, kind: FileKind, name: &str) -> PathBuf {
    let (head, tail) = match kind {
        FileKind::Loose if name.len() > 2 && name.is_char_boundary(2) => (&name[..2], &name[2..]),
        FileKind::Loose => (name, ""),
        FileKind::Pack => ("pack", ".pack"),
        FileKind::Index => ("pack", ".idx"),
        FileKind::Times => ("pack", ".mtimes"),
    };
    let mut path = dir.as_os_str().to_owned();
    path.reserve(name.len() + 16);
    path.push("/");
    path.push(head);
    if kind != FileKind::Loose {
        path.push("/pack-");
        path.push(name);
        path.push(tail);
    } else if !tail.is_empty() {
        path.push("/");
        path.push(tail);
    }
    PathBuf::from(path)
}

fn note(unsynced: &Mutex<Vec<PathBuf>>, dir: &Path) {
    let mut dirs = unsynced.lock().expect("no panics while held");
    if !dirs.iter().any(|d| d == dir) {
        dirs.push(dir.to_owned());
    }
}

fn absent_is_none<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(found) => Ok(Some(found)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// An open file read with `pread`.
struct LocalFile {
    file: fs::File,
    len: u64,
}

impl RangeRead for LocalFile {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
}

impl ReadBackend for LocalBackend {
    fn location(&self, kind: FileKind, name: &str) -> PathBuf {
        self.path(kind, name)
    }

    fn list(&self, kind: FileKind, prefix: &str) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        if kind == FileKind::Loose {
            let fans: Vec<String> = match prefix.get(..2) {
                Some(fan) => vec![fan.to_owned()],
                None => (0..=255u8)
                    .map(|b| format!("{b:02x}"))
                    .filter(|f| f.starts_with(prefix))
                    .collect(),
            };
            for fan in fans {
                let dir = self.dir.join(&fan);
                let Some(entries) = absent_is_none(fs::read_dir(&dir))? else {
                    continue;
                };
                for entry in entries {
                    let name = entry?.file_name();
                    let Some(rest) = name.to_str().filter(|n| n.len() == 62) else {
                        continue;
                    };
                    let name = format!("{fan}{rest}");
                    if name.starts_with(prefix) {
                        out.push(name);
                    }
                }
            }
            return Ok(out);
        }
        let suffix = match kind {
            FileKind::Pack => ".pack",
            FileKind::Index => ".idx",
            _ => ".mtimes",
        };
        let Some(entries) = absent_is_none(fs::read_dir(self.pack_dir()))? else {
            return Ok(out);
        };
        for entry in entries {
            let name = entry?.file_name();
            let Some(name) = name
                .to_str()
                .and_then(|n| n.strip_prefix("pack-"))
                .and_then(|n| n.strip_suffix(suffix))
            else {
                continue;
            };
            if name.starts_with(prefix) {
                out.push(name.to_owned());
            }
        }
        Ok(out)
    }

    fn stat(&self, kind: FileKind, name: &str) -> io::Result<Option<FileInfo>> {
        Ok(
            absent_is_none(fs::metadata(self.path(kind, name)))?.map(|m| FileInfo {
                size: m.len(),
                modified: m.modified().ok(),
            }),
        )
    }

    fn read(&self, kind: FileKind, name: &str) -> io::Result<Option<FileBytes>> {
        let Some(mut file) = absent_is_none(fs::File::open(self.path(kind, name)))? else {
            return Ok(None);
        };
        if kind == FileKind::Index {
            // Mapped privately and read-only, as git maps its pack indexes: a command
            // touches only the fan-out table and the few pages its binary searches
            // land on, instead of reading the whole file (3 MB for a kernel tree).
            //
            // SAFETY: the mapping is private and read-only, and cow never changes an
            // index in place: it writes each one under a temporary name and renames
            // it into place, and gc only unlinks old ones, which leaves an existing
            // mapping valid. Another program truncating the file while it is mapped
            // would make reads fault (SIGBUS); git accepts the same risk.
            if let Ok(map) = unsafe { MmapOptions::new().map_copy_read_only(&file) } {
                return Ok(Some(FileBytes::mapped(map)));
            }
            // Where mapping fails (some FUSE filesystems), the file is read instead.
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(Some(FileBytes::owned(bytes)))
    }

    fn open(&self, kind: FileKind, name: &str) -> io::Result<Option<Arc<dyn RangeRead>>> {
        let Some(file) = absent_is_none(fs::File::open(self.path(kind, name)))? else {
            return Ok(None);
        };
        let len = file.metadata()?.len();
        Ok(Some(Arc::new(LocalFile { file, len })))
    }

    fn reader(&self, kind: FileKind, name: &str) -> io::Result<Option<Box<dyn Read + Send>>> {
        Ok(absent_is_none(fs::File::open(self.path(kind, name)))?
            .map(|f| Box::new(f) as Box<dyn Read + Send>))
    }
}

impl WriteBackend for LocalBackend {
    fn create(&self, kind: FileKind) -> io::Result<Box<dyn NewFile>> {
        let (dir, temp) = match kind {
            FileKind::Loose => (self.dir.clone(), crate::temp::LOOSE_OBJECT),
            FileKind::Pack => (self.pack_dir(), crate::temp::PACK),
            FileKind::Index => (self.pack_dir(), crate::temp::PACK_INDEX),
            FileKind::Times => (self.pack_dir(), crate::temp::PACK_MTIMES),
        };
        if kind != FileKind::Loose && !dir.is_dir() {
            fs::create_dir_all(&dir)?;
            note(&self.unsynced, &self.dir);
        }
        let mut builder = tempfile::Builder::new();
        builder.prefix(temp.name);
        if kind == FileKind::Loose {
            // Objects are immutable: read-only from creation (the open handle can
            // write).
            builder.permissions(fs::Permissions::from_mode(0o444));
        }
        let file = builder.tempfile_in(&dir)?;
        Ok(Box::new(LocalNewFile {
            file,
            kind,
            dir: self.dir.clone(),
            unsynced: Arc::clone(&self.unsynced),
        }))
    }

    fn remove(&self, kind: FileKind, name: &str) -> io::Result<()> {
        let path = self.path(kind, name);
        absent_is_none(fs::remove_file(&path))?;
        let parent = path.parent().expect("stored files are in a directory");
        if kind == FileKind::Loose && fs::remove_dir(parent).is_ok() {
            // The fan-out directory emptied (rmdir fails, harmlessly, on the others).
            note(&self.unsynced, &self.dir);
        } else {
            note(&self.unsynced, parent);
        }
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        let dirs = std::mem::take(&mut *self.unsynced.lock().expect("no panics while held"));
        // (At most 258: the fan-out directories, `objects` and `pack`.)
        for (i, dir) in dirs.iter().enumerate() {
            let synced = fs::File::open(dir).and_then(|d| d.sync_all());
            match synced {
                Ok(()) => {}
                // Removed since (an emptied fan-out directory): nothing to sync.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    // Still to do: the next sync tries again.
                    self.unsynced
                        .lock()
                        .expect("no panics while held")
                        .extend(dirs[i..].iter().cloned());
                    return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display())));
                }
            }
        }
        Ok(())
    }
}

/// A new local file: a temporary file beside its final name.
struct LocalNewFile {
    file: tempfile::NamedTempFile,
    kind: FileKind,
    dir: PathBuf,
    unsynced: Arc<Mutex<Vec<PathBuf>>>,
}

impl Write for LocalNewFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl NewFile for LocalNewFile {
    fn read_back(&mut self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.as_file().read_exact_at(buf, offset)
    }

    fn finish(self: Box<Self>, name: &str, durable: bool) -> io::Result<()> {
        let path = stored_path(&self.dir, self.kind, name);
        if durable {
            // Durable before it is visible under its name: a file that exists is
            // never written again, so it must never exist with other bytes (a crash
            // can leave a file renamed before its data reached the disk empty).
            self.file.as_file().sync_data()?;
        }
        let parent = path.parent().expect("stored files are in a directory");
        // Rename first and make a loose object's fan-out directory only when it is
        // missing: one system call in the common case instead of a mkdir that fails.
        let file = match self.file.persist(&path) {
            Ok(_) => None,
            Err(e) if e.error.kind() == io::ErrorKind::NotFound && self.kind == FileKind::Loose => {
                Some(e.file)
            }
            Err(e) => return Err(e.error),
        };
        if let Some(file) = file {
            match fs::create_dir(parent) {
                Ok(()) => note(&self.unsynced, &self.dir),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            file.persist(&path).map_err(|e| e.error)?;
        }
        note(&self.unsynced, parent);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_paths_are_the_layout() {
        let dir = Path::new("/r/.cow/objects");
        let cases = [
            (FileKind::Loose, "abcdef", "/r/.cow/objects/ab/cdef"),
            (FileKind::Loose, "ab", "/r/.cow/objects/ab"),
            (FileKind::Loose, "", "/r/.cow/objects/"),
            (
                FileKind::Pack,
                "0123",
                "/r/.cow/objects/pack/pack-0123.pack",
            ),
            (
                FileKind::Index,
                "0123",
                "/r/.cow/objects/pack/pack-0123.idx",
            ),
            (
                FileKind::Times,
                "0123",
                "/r/.cow/objects/pack/pack-0123.mtimes",
            ),
        ];
        for (kind, name, want) in cases {
            assert_eq!(
                stored_path(dir, kind, name),
                Path::new(want),
                "{kind:?} {name}"
            );
        }
    }
}
