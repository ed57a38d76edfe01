//! Loose objects: one file per object, holding one zstd frame of its canonical bytes
//! (`<kind> <size>\0` + content), at `objects/<2 hex>/<62 hex>`.

use crate::fs::IoResultExt;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use super::backend::{FileKind, NewFile};
use super::{Error, Object, Odb, Result, Written};
use crate::object::{Hasher, Kind, ObjectId, Prefix, header};

/// The largest object [`Odb::read`] holds in memory; larger ones are streamed.
pub const MAX_IN_MEMORY_SIZE: u64 = 2 << 30;

const CHUNK: usize = 64 * 1024;

impl Odb {
    /// Where a loose object is (or would be), for messages.
    fn loose_location(&self, hex: &str) -> PathBuf {
        self.backend.location(FileKind::Loose, hex)
    }

    fn new_loose(&self) -> Result<Box<dyn NewFile>> {
        Ok(self
            .backend
            .create(FileKind::Loose)
            .context_with("create a temporary file in", || {
                self.backend.location(FileKind::Loose, "")
            })?)
    }

    /// Whether a loose copy of `id` is there and not empty (an object is never empty:
    /// it holds at least a zstd frame header; an empty file is what a crash can leave
    /// of an object that was never synced, and the next write replaces it).
    pub(super) fn loose_present(&self, id: &ObjectId) -> bool {
        let mut buf = [0u8; 64];
        let hex = id.hex_buf(&mut buf);
        matches!(self.backend.stat(FileKind::Loose, hex), Ok(Some(info)) if info.size > 0)
    }

    /// Gives a finished new file of `stored_bytes` its name as object `id`. When
    /// `check_exists`, an object already there wins and the new file is dropped
    /// (callers that checked before compressing pass `false`).
    fn persist(
        &self,
        file: Box<dyn NewFile>,
        id: ObjectId,
        stored_bytes: u64,
        check_exists: bool,
    ) -> Result<Written> {
        if check_exists && self.loose_present(&id) {
            return Ok(Written {
                id,
                new: false,
                stored_bytes: 0,
            });
        }
        let mut buf = [0u8; 64];
        let hex = id.hex_buf(&mut buf);
        // Durable before it is visible under its id: an object that exists is never
        // written again, so it must never exist with other bytes.
        file.finish(hex, true)
            .context_with("write object", || self.loose_location(hex))?;
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
            .map_err(Error::Compress)?;
        enc.finish().map_err(Error::Compress)?;
        let mut file = self.new_loose()?;
        file.write_all(&compressed)
            .context_with("write", || self.loose_location(&id.to_string()))?;
        self.persist(file, id, compressed.len() as u64, false)
    }

    pub(super) fn write_loose_stream(
        &self,
        kind: Kind,
        size: u64,
        mut reader: impl Read,
    ) -> Result<Written> {
        let file = self.new_loose()?;
        let path = self.backend.location(FileKind::Loose, "");
        let hdr = header(kind, size);
        let counted = CountingWriter {
            inner: file,
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
        let hex = id.to_string();
        let Some(file) = self
            .backend
            .reader(FileKind::Loose, &hex)
            .context_with("open", || self.loose_location(&hex))?
        else {
            return Ok(None);
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
        let mut hex = [0u8; 64];
        let file = self
            .backend
            .open(FileKind::Loose, id.hex_buf(&mut hex))
            .ok()??;
        if file.len() > SMALL_LOOSE {
            return None;
        }
        let mut bytes = vec![0u8; file.len() as usize];
        file.read_exact_at(&mut bytes, 0).ok()?;
        // The frame's own size claim sizes the buffer: trust it only so far.
        let capacity = zstd::bulk::Decompressor::upper_bound(&bytes)?;
        if capacity > SMALL_LOOSE_CONTENT {
            return None;
        }
        let mut raw = super::compress::decompress(&bytes, capacity).ok()?;
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
        self.list_loose(prefix.as_str())
    }

    pub(super) fn loose_ids(&self) -> Result<Vec<ObjectId>> {
        self.list_loose("")
    }

    fn list_loose(&self, prefix: &str) -> Result<Vec<ObjectId>> {
        let names = self
            .backend
            .list(FileKind::Loose, prefix)
            .context("read directory", self.backend.location(FileKind::Loose, ""))?;
        Ok(names.iter().filter_map(|n| n.parse().ok()).collect())
    }
}

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
    decoder: zstd::stream::Decoder<'static, io::BufReader<Box<dyn Read + Send>>>,
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
