//! A backend that keeps its files in memory: for tests (the object database's suite
//! runs against it as well as against the local directory) and for short-lived
//! stores. It keeps the contract of [`super`] as a remote store would: whole-file
//! writes named when finished, no rename, ranges copied out of the stored bytes.

use std::collections::BTreeMap;
use std::io::{self, Cursor, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::{FileBytes, FileInfo, FileKind, NewFile, RangeRead, ReadBackend, WriteBackend};

type Files = BTreeMap<(FileKind, String), (Arc<Vec<u8>>, SystemTime)>;

/// Files in memory. Clones share the same files.
#[derive(Clone, Debug, Default)]
pub struct MemoryBackend {
    files: Arc<Mutex<Files>>,
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    fn get(&self, kind: FileKind, name: &str) -> Option<(Arc<Vec<u8>>, SystemTime)> {
        self.files
            .lock()
            .expect("no panics while held")
            .get(&(kind, name.to_owned()))
            .cloned()
    }

    /// Replaces the bytes of a stored file (tests: damage what a read must detect).
    pub fn overwrite(&self, kind: FileKind, name: &str, bytes: Vec<u8>) {
        self.files.lock().expect("no panics while held").insert(
            (kind, name.to_owned()),
            (Arc::new(bytes), SystemTime::now()),
        );
    }
}

struct Stored(Arc<Vec<u8>>);

impl RangeRead for Stored {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        read_range(&self.0, buf, offset)
    }
}

fn read_range(bytes: &[u8], buf: &mut [u8], offset: u64) -> io::Result<()> {
    let range = usize::try_from(offset)
        .ok()
        .and_then(|start| bytes.get(start..start.checked_add(buf.len())?))
        .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
    buf.copy_from_slice(range);
    Ok(())
}

impl ReadBackend for MemoryBackend {
    fn location(&self, kind: FileKind, name: &str) -> PathBuf {
        let kind = match kind {
            FileKind::Loose => "loose",
            FileKind::Pack => "pack",
            FileKind::Index => "index",
            FileKind::Times => "times",
        };
        PathBuf::from(format!("memory:{kind}/{name}"))
    }

    fn list(&self, kind: FileKind, prefix: &str) -> io::Result<Vec<String>> {
        Ok(self
            .files
            .lock()
            .expect("no panics while held")
            .keys()
            .filter(|(k, name)| *k == kind && name.starts_with(prefix))
            .map(|(_, name)| name.clone())
            .collect())
    }

    fn stat(&self, kind: FileKind, name: &str) -> io::Result<Option<FileInfo>> {
        Ok(self.get(kind, name).map(|(bytes, modified)| FileInfo {
            size: bytes.len() as u64,
            modified: Some(modified),
        }))
    }

    fn read(&self, kind: FileKind, name: &str) -> io::Result<Option<FileBytes>> {
        Ok(self
            .get(kind, name)
            .map(|(bytes, _)| FileBytes::owned(bytes.to_vec())))
    }

    fn open(&self, kind: FileKind, name: &str) -> io::Result<Option<Arc<dyn RangeRead>>> {
        Ok(self
            .get(kind, name)
            .map(|(bytes, _)| Arc::new(Stored(bytes)) as Arc<dyn RangeRead>))
    }

    fn reader(&self, kind: FileKind, name: &str) -> io::Result<Option<Box<dyn Read + Send>>> {
        Ok(self
            .get(kind, name)
            .map(|(bytes, _)| Box::new(Cursor::new(bytes.to_vec())) as Box<dyn Read + Send>))
    }
}

impl WriteBackend for MemoryBackend {
    fn create(&self, kind: FileKind) -> io::Result<Box<dyn NewFile>> {
        Ok(Box::new(MemoryNewFile {
            store: self.clone(),
            kind,
            bytes: Vec::new(),
        }))
    }

    fn remove(&self, kind: FileKind, name: &str) -> io::Result<()> {
        self.files
            .lock()
            .expect("no panics while held")
            .remove(&(kind, name.to_owned()));
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        Ok(())
    }
}

struct MemoryNewFile {
    store: MemoryBackend,
    kind: FileKind,
    bytes: Vec<u8>,
}

impl Write for MemoryNewFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl NewFile for MemoryNewFile {
    fn read_back(&mut self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        read_range(&self.bytes, buf, offset)
    }

    fn finish(self: Box<Self>, name: &str, _durable: bool) -> io::Result<()> {
        let MemoryNewFile { store, kind, bytes } = *self;
        store.overwrite(kind, name, bytes);
        Ok(())
    }
}
