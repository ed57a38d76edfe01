//! Loose objects: one file per object, holding one zstd frame of its canonical bytes
//! (`<kind> <size>\0` + content), at `objects/<2 hex>/<62 hex>`.

use crate::fs::IoResultExt;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use super::{Error, Object, Odb, Result, Written};
use crate::object::{Hasher, Kind, ObjectId, Prefix, header};

/// The largest object [`Odb::read`] holds in memory; larger ones are streamed.
pub const MAX_IN_MEMORY_SIZE: u64 = 2 << 30;

const CHUNK: usize = 64 * 1024;

impl Odb {
    /// The path of a loose object.
    pub(crate) fn loose_path(&self, id: &ObjectId) -> PathBuf {
        let mut buf = [0u8; 64];
        let hex = id.hex_buf(&mut buf);
        self.dir.join(&hex[..2]).join(&hex[2..])
    }

    fn temp_file(&self) -> Result<tempfile::NamedTempFile> {
        tempfile::Builder::new()
            .prefix(crate::temp::LOOSE_OBJECT.name)
            // Objects are immutable: read-only from creation (the open handle can write).
            .permissions(fs::Permissions::from_mode(0o444))
            .tempfile_in(&self.dir)
            .context("create a temporary file in", &self.dir)
            .map_err(Error::from)
    }

    /// Moves a finished temporary file of `stored_bytes` into place as object `id`.
    /// When `check_exists`, an object already there wins and the temporary file is
    /// dropped (callers that checked before compressing pass `false`).
    fn persist(
        &self,
        temp: tempfile::NamedTempFile,
        id: ObjectId,
        stored_bytes: u64,
        check_exists: bool,
    ) -> Result<Written> {
        let path = self.loose_path(&id);
        if check_exists && present(&path) {
            return Ok(Written {
                id,
                new: false,
                stored_bytes: 0,
            });
        }
        // Durable before it is visible under its id: an object that exists is never
        // written again, so it must never exist with other bytes (a crash can leave a
        // file renamed before its data reached the disk empty or worse).
        temp.as_file().sync_data().context("sync", temp.path())?;
        // Rename first and make the fan-out directory only when it is missing: one
        // system call in the common case instead of a mkdir that fails.
        let temp = match temp.persist(&path) {
            Ok(_) => None,
            Err(e) if e.error.kind() == io::ErrorKind::NotFound => Some(e.file),
            Err(e) => return Err(crate::fs::IoError::new("write object", &path, e.error).into()),
        };
        let parent = path.parent().expect("loose paths have a fan-out directory");
        if let Some(temp) = temp {
            match fs::create_dir(parent) {
                Ok(()) => self.unsynced_dir(&self.dir),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(crate::fs::IoError::new("create directory", parent, e).into()),
            }
            temp.persist(&path)
                .map_err(|e| e.error)
                .context("write object", &path)?;
        }
        self.unsynced_dir(parent);
        Ok(Written {
            id,
            new: true,
            stored_bytes,
        })
    }

    pub(super) fn write_loose_buf(&self, id: ObjectId, kind: Kind, data: &[u8]) -> Result<Written> {
        let hdr = header(kind, data.len() as u64);
        let mut compressed = Vec::with_capacity(data.len() / 2 + 64);
        let enc = zstd::stream::Encoder::new(&mut compressed, self.level())
            .and_then(|mut enc| {
                enc.set_pledged_src_size(Some((hdr.len() + data.len()) as u64))?;
                enc.write_all(&hdr)?;
                enc.write_all(data)?;
                Ok(enc)
            })
            .context("compress", &self.dir)?;
        enc.finish().context("compress", &self.dir)?;
        let mut temp = self.temp_file()?;
        temp.write_all(&compressed).context("write", temp.path())?;
        self.persist(temp, id, compressed.len() as u64, false)
    }

    pub(super) fn write_loose_stream(
        &self,
        kind: Kind,
        size: u64,
        mut reader: impl Read,
    ) -> Result<Written> {
        let temp = self.temp_file()?;
        let path = temp.path().to_owned();
        let hdr = header(kind, size);
        let counted = CountingWriter {
            inner: temp,
            count: 0,
        };
        let mut enc = zstd::stream::Encoder::new(counted, self.level())
            .context("start compressing", &path)?;
        enc.write_all(&hdr).context("write", &path)?;
        let mut hasher = Hasher::new(kind, size);
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::Input(e));
                }
            };
            total += n as u64;
            if total > size {
                return Err(Error::SizeChanged {
                    expected: size,
                    actual: total,
                });
            }
            hasher.update(&buf[..n]);
            enc.write_all(&buf[..n]).context("write", &path)?;
        }
        if total != size {
            return Err(Error::SizeChanged {
                expected: size,
                actual: total,
            });
        }
        let counted = enc.finish().context("write", &path)?;
        let stored_bytes = counted.count;
        self.persist(counted.inner, hasher.finalize(), stored_bytes, true)
    }

    /// Opens a loose object and parses its header; returns the decoder positioned at the
    /// content, plus any content bytes already read with the header.
    fn open_loose(&self, id: &ObjectId) -> Result<Option<OpenObject>> {
        let path = self.loose_path(id);
        let file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(crate::fs::IoError::new("open", &path, e).into()),
        };
        let corrupt = |reason: String| Error::Corrupt { id: *id, reason };
        let mut decoder = zstd::stream::Decoder::new(file)
            .map_err(|e| corrupt(format!("could not decompress: {e}")))?;
        let mut head = [0u8; 64];
        let mut filled = 0;
        let nul = loop {
            if let Some(i) = head[..filled].iter().position(|&b| b == 0) {
                break i;
            }
            if filled == head.len() {
                return Err(corrupt("no object header".into()));
            }
            match decoder.read(&mut head[filled..]) {
                Ok(0) => return Err(corrupt("no object header".into())),
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(corrupt(format!("could not decompress: {e}"))),
            }
        };
        let (kind, size) = parse_header(&head[..nul]).ok_or_else(|| {
            corrupt(format!(
                "malformed header {:?}",
                String::from_utf8_lossy(&head[..nul])
            ))
        })?;
        Ok(Some(OpenObject {
            id: *id,
            kind,
            size,
            first: head[nul + 1..filled].to_vec(),
            decoder,
        }))
    }

    pub(super) fn read_loose_header(&self, id: &ObjectId) -> Result<Option<(Kind, u64)>> {
        Ok(self.open_loose(id)?.map(|o| (o.kind, o.size)))
    }

    /// A small loose object read in one go, decompressed with this thread's reused
    /// context (a streaming decoder makes a new one each time), and verified; `None`
    /// when that does not work out, for whatever reason: the streaming path then
    /// reads it, and reports what is wrong.
    fn read_small_loose(&self, id: &ObjectId) -> Option<Object> {
        let mut file = fs::File::open(self.loose_path(id)).ok()?;
        if file.metadata().ok()?.len() > SMALL_LOOSE {
            return None;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).ok()?;
        // The frame's own size claim sizes the buffer: trust it only so far.
        let capacity = zstd::bulk::Decompressor::upper_bound(&bytes)?;
        if capacity > SMALL_LOOSE_CONTENT {
            return None;
        }
        let mut raw = super::decompress(&bytes, capacity).ok()?;
        let nul = raw.iter().take(64).position(|&b| b == 0)?;
        let (kind, size) = parse_header(&raw[..nul])?;
        raw.drain(..=nul);
        if raw.len() as u64 != size || ObjectId::hash(kind, &raw) != *id {
            return None;
        }
        Some(Object { kind, data: raw })
    }

    pub(super) fn read_loose(&self, id: &ObjectId) -> Result<Option<Object>> {
        if let Some(obj) = self.read_small_loose(id) {
            return Ok(Some(obj));
        }
        let Some(obj) = self.open_loose(id)? else {
            return Ok(None);
        };
        if obj.size > MAX_IN_MEMORY_SIZE {
            return Err(Error::TooLarge {
                id: *id,
                size: obj.size,
                limit: MAX_IN_MEMORY_SIZE,
            });
        }
        let kind = obj.kind;
        // Never trust the declared size for the allocation; grow as bytes arrive.
        let mut data = Vec::with_capacity(obj.size.min(1 << 20) as usize);
        obj.copy_verified(&mut data)?;
        Ok(Some(Object { kind, data }))
    }

    /// Streams a loose object's content into `out`, verifying it; `None` when there is
    /// no loose copy.
    pub(super) fn stream_loose(
        &self,
        id: &ObjectId,
        kind: Kind,
        out: &mut dyn Write,
    ) -> Result<Option<u64>> {
        let Some(obj) = self.open_loose(id)? else {
            return Ok(None);
        };
        if obj.kind != kind {
            return Err(Error::ObjectKind {
                id: *id,
                expected: kind,
                actual: obj.kind,
            });
        }
        obj.copy_verified(out).map(Some)
    }

    /// Reads a loose object through, verifying it; its kind and size, `None` when there
    /// is no loose copy.
    pub(super) fn verify_loose(&self, id: &ObjectId) -> Result<Option<(Kind, u64)>> {
        let Some(obj) = self.open_loose(id)? else {
            return Ok(None);
        };
        let kind = obj.kind;
        Ok(Some((kind, obj.copy_verified(&mut io::sink())?)))
    }

    pub(super) fn loose_ids_with_prefix(&self, prefix: &Prefix) -> Result<Vec<ObjectId>> {
        let hex = prefix.as_str();
        let mut ids = Vec::new();
        self.scan_fanout(&hex[..2], &mut |id| {
            if prefix.matches(&id) {
                ids.push(id);
            }
        })?;
        Ok(ids)
    }

    pub(super) fn loose_ids(&self) -> Result<Vec<ObjectId>> {
        let mut ids = Vec::new();
        for b in 0..=255u8 {
            self.scan_fanout(&format!("{b:02x}"), &mut |id| ids.push(id))?;
        }
        Ok(ids)
    }

    fn scan_fanout(&self, fan: &str, found: &mut dyn FnMut(ObjectId)) -> Result<()> {
        let dir = self.dir.join(fan);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(crate::fs::IoError::new("read directory", &dir, e).into()),
        };
        for entry in entries {
            let entry = entry.context("read directory", &dir)?;
            let name = entry.file_name();
            let Some(rest) = name.to_str().filter(|n| n.len() == 62) else {
                continue;
            };
            if let Ok(id) = format!("{fan}{rest}").parse() {
                found(id);
            }
        }
        Ok(())
    }
}

/// Whether a loose object file is there and not empty (an object is never empty: it
/// holds at least a zstd frame header).
pub(super) fn present(path: &std::path::Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

/// Counts the bytes written through it.
struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct OpenObject {
    id: ObjectId,
    kind: Kind,
    size: u64,
    first: Vec<u8>,
    decoder: zstd::stream::Decoder<'static, io::BufReader<fs::File>>,
}

impl OpenObject {
    /// Copies the content to `out`, checking its length and hash; returns the length.
    fn copy_verified(mut self, out: &mut dyn Write) -> Result<u64> {
        let id = self.id;
        let corrupt = |reason: String| Error::Corrupt { id, reason };
        let mut hasher = Hasher::new(self.kind, self.size);
        let mut total = self.first.len() as u64;
        let check_len = |total: u64| {
            if total > self.size {
                Err(corrupt(format!(
                    "declared size {} but content is longer",
                    self.size
                )))
            } else {
                Ok(())
            }
        };
        check_len(total)?;
        hasher.update(&self.first);
        out.write_all(&self.first).map_err(Error::Output)?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = match self.decoder.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(corrupt(format!("could not decompress: {e}"))),
            };
            total += n as u64;
            check_len(total)?;
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(Error::Output)?;
        }
        if total != self.size {
            return Err(corrupt(format!(
                "declared size {} but content has {total} bytes",
                self.size
            )));
        }
        let actual = hasher.finalize();
        if actual != id {
            return Err(corrupt(format!("content hashes to {actual}")));
        }
        Ok(total)
    }
}

/// Parses `<kind> <size>` (the header without its NUL). The size must be canonical
/// decimal, as git writes it.
/// Loose object files up to this size are read whole (see `read_small_loose`).
const SMALL_LOOSE: u64 = 256 << 10;
/// ... and decompressed in one go when they say they hold at most this much.
const SMALL_LOOSE_CONTENT: usize = 16 << 20;

fn parse_header(h: &[u8]) -> Option<(Kind, u64)> {
    let space = h.iter().position(|&b| b == b' ')?;
    let kind = Kind::from_bytes(&h[..space])?;
    let digits = &h[space + 1..];
    if digits.is_empty()
        || digits.len() > 19
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits.len() > 1 && digits[0] == b'0')
    {
        return None;
    }
    let size = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((kind, size))
}
