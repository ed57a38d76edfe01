//! A snapshot as a tar archive (`cow archive`), as `git archive` writes one.

use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{Error, Repository, Result};
use crate::object::{EntryMode, ObjectId, RepoPathBuf, is_within};
use crate::revision::Rev;

/// How [`Repository::archive`] encodes the archive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// A plain tar stream.
    #[default]
    Tar,
    /// A tar stream compressed as one zstd frame (`.tar.zst`).
    TarZstd,
}

/// Knobs for [`Repository::archive`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ArchiveOptions<'a> {
    /// Put before every name, as given (`project/` puts everything in a directory;
    /// `git archive --prefix`). A relative path without `.` or `..` components.
    pub prefix: &'a [u8],
    /// Plain or compressed.
    pub format: ArchiveFormat,
}

/// What [`Repository::archive`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchiveOutcome {
    /// The commit archived.
    pub commit: ObjectId,
    /// Files and symlinks written.
    pub files: u64,
    /// Directories written (the prefix's among them, when it names one).
    pub dirs: u64,
    /// Bytes of file content (before tar's headers and padding, and compression).
    pub content_bytes: u64,
}

/// A blob at most this large is read whole before its entry is written; a larger one
/// is streamed (verified as it goes) from another thread.
const READ_WHOLE: u64 = 8 << 20;

impl Repository {
    /// Writes the snapshot of revision `rev` — or only `paths` of it (a directory
    /// means everything below it), with the directories above them — to `out` as a
    /// tar archive, in git's tree order, as `git archive` does: a directory entry
    /// (`name/`, mode 0755) before its content, including empty directories (which
    /// git cannot store); files with mode 0644 or 0755 as stored; symlinks as
    /// symlink entries with their stored target, verbatim; every entry with the
    /// commit's committer time as mtime, uid and gid 0, user and group `root`.
    /// Names and link targets too long for a tar header use GNU long-name entries;
    /// names that are not UTF-8 are kept as bytes. Every blob is verified against
    /// its id; a corrupt one fails the archive (whose output is then incomplete: the
    /// caller writes to a temporary file and keeps it only on success). Needs only
    /// the store.
    pub fn archive<'a>(
        &self,
        rev: impl Into<Rev<'a>>,
        paths: &[RepoPathBuf],
        out: &mut dyn Write,
        options: &ArchiveOptions,
    ) -> Result<ArchiveOutcome> {
        let rev = rev.into();
        let commit_id = self.resolve_commit(&rev)?;
        let commit = self.odb.find_commit(&commit_id)?;
        for path in paths {
            if self.odb.tree_entry_at(&commit.tree, path)?.is_none() {
                return Err(crate::revision::Error::PathNotFound {
                    rev: rev.to_string(),
                    path: path.as_bytes().to_vec(),
                }
                .into());
            }
        }
        let prefix = options.prefix;
        let bad_prefix = prefix.starts_with(b"/")
            || prefix
                .split(|&b| b == b'/')
                .any(|c| c == b"." || c == b"..")
            || prefix.contains(&0);
        if bad_prefix {
            return Err(Error::ArchivePrefix(
                String::from_utf8_lossy(prefix).into_owned(),
            ));
        }
        let paths: Vec<&[u8]> = if paths.iter().any(|p| p.is_root()) {
            Vec::new()
        } else {
            paths.iter().map(|p| p.as_bytes()).collect()
        };
        let mut writer = Writer {
            repo: self,
            paths,
            prefix,
            mtime: u64::try_from(commit.committer.time.seconds).unwrap_or(0),
            outcome: ArchiveOutcome {
                commit: commit_id,
                files: 0,
                dirs: 0,
                content_bytes: 0,
            },
        };
        let output = |e: io::Error| Error::ArchiveOutput(e);
        match options.format {
            ArchiveFormat::Tar => {
                let mut builder = tar::Builder::new(out);
                writer.write_all(&mut builder, commit.tree)?;
                builder.finish().map_err(output)?;
            }
            ArchiveFormat::TarZstd => {
                let mut encoder = zstd::stream::write::Encoder::new(out, 3).map_err(output)?;
                let mut builder = tar::Builder::new(&mut encoder);
                writer.write_all(&mut builder, commit.tree)?;
                builder.finish().map_err(output)?;
                drop(builder);
                encoder.finish().map_err(output)?;
            }
        }
        Ok(writer.outcome)
    }
}

struct Writer<'a> {
    repo: &'a Repository,
    /// Only these paths (and the directories above them); empty for all.
    paths: Vec<&'a [u8]>,
    prefix: &'a [u8],
    mtime: u64,
    outcome: ArchiveOutcome,
}

impl Writer<'_> {
    fn write_all<W: Write>(&mut self, tar: &mut tar::Builder<W>, tree: ObjectId) -> Result<()> {
        // `git archive --prefix=dir/` starts with the prefix's directory.
        if self.prefix.ends_with(b"/") {
            self.dir(tar, b"")?;
        }
        self.tree(tar, &mut Vec::new(), tree)
    }

    /// Whether `path` is one to write (at or below a path asked for), or on the way
    /// to one.
    fn wanted(&self, path: &[u8]) -> (bool, bool) {
        if self.paths.is_empty() {
            return (true, false);
        }
        let inside = self.paths.iter().any(|p| is_within(path, p));
        let above = self
            .paths
            .iter()
            .any(|p| p.len() > path.len() && is_within(p, path));
        (inside, above)
    }

    fn tree<W: Write>(
        &mut self,
        tar: &mut tar::Builder<W>,
        path: &mut Vec<u8>,
        tree: ObjectId,
    ) -> Result<()> {
        let tree = self.repo.odb.find_tree(&tree)?;
        for entry in tree.into_entries() {
            let len = path.len();
            if len > 0 {
                path.push(b'/');
            }
            path.extend_from_slice(&entry.name);
            let (inside, above) = self.wanted(path);
            if inside || above {
                match entry.mode {
                    EntryMode::Tree => {
                        self.dir(tar, path)?;
                        self.tree(tar, path, entry.id)?;
                    }
                    _ if !inside => {}
                    EntryMode::Link => self.link(tar, path, &entry.id)?,
                    mode => self.file(tar, path, mode, &entry.id)?,
                }
            }
            path.truncate(len);
        }
        Ok(())
    }

    fn header(&self, kind: tar::EntryType, mode: u32, size: u64) -> Result<tar::Header> {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size);
        header.set_mtime(self.mtime);
        header.set_uid(0);
        header.set_gid(0);
        let names = header
            .set_username("root")
            .and_then(|()| header.set_groupname("root"));
        names.map_err(Error::ArchiveOutput)?;
        Ok(header)
    }

    /// The name of `path` in the archive: the prefix, then the path.
    fn name(&self, path: &[u8], dir: bool) -> Vec<u8> {
        let mut name = [self.prefix, path].concat();
        if dir && !name.ends_with(b"/") {
            name.push(b'/');
        }
        name
    }

    fn dir<W: Write>(&mut self, tar: &mut tar::Builder<W>, path: &[u8]) -> Result<()> {
        let mut header = self.header(tar::EntryType::Directory, 0o755, 0)?;
        let name = self.name(path, true);
        tar.append_data(&mut header, bytes_path(&name), io::empty())
            .map_err(Error::ArchiveOutput)?;
        self.outcome.dirs += 1;
        Ok(())
    }

    fn link<W: Write>(
        &mut self,
        tar: &mut tar::Builder<W>,
        path: &[u8],
        id: &ObjectId,
    ) -> Result<()> {
        let target = self.repo.odb.find_blob(id)?;
        let mut header = self.header(tar::EntryType::Symlink, 0o777, 0)?;
        let name = self.name(path, false);
        tar.append_link(&mut header, bytes_path(&name), bytes_path(&target))
            .map_err(Error::ArchiveOutput)?;
        self.outcome.files += 1;
        Ok(())
    }

    fn file<W: Write>(
        &mut self,
        tar: &mut tar::Builder<W>,
        path: &[u8],
        mode: EntryMode,
        id: &ObjectId,
    ) -> Result<()> {
        let odb = &self.repo.odb;
        let (_, size) = odb.read_header(id)?;
        let bits = if mode == EntryMode::BlobExecutable {
            0o755
        } else {
            0o644
        };
        let mut header = self.header(tar::EntryType::Regular, bits, size)?;
        let name = self.name(path, false);
        if size <= READ_WHOLE {
            let data = odb.find_blob(id)?;
            if data.len() as u64 != size {
                return Err(size_mismatch(id));
            }
            tar.append_data(&mut header, bytes_path(&name), data.as_slice())
                .map_err(Error::ArchiveOutput)?;
        } else {
            // Streamed through a pipe from a thread that reads and verifies the blob:
            // memory stays bounded whatever the file's size.
            let (reader, mut pipe) = io::pipe().map_err(Error::ArchiveOutput)?;
            let (streamed, appended) = std::thread::scope(|s| {
                let streamer = s.spawn(move || odb.stream_blob(id, &mut pipe));
                let appended = tar.append_data(&mut header, bytes_path(&name), reader.take(size));
                let streamed = streamer.join().expect("the blob streamer does not panic");
                (streamed, appended)
            });
            // The blob's own error (corruption) explains a short read best.
            let streamed = streamed?;
            appended.map_err(Error::ArchiveOutput)?;
            if streamed != size {
                return Err(size_mismatch(id));
            }
        }
        self.outcome.files += 1;
        self.outcome.content_bytes += size;
        Ok(())
    }
}

/// A blob whose content is not as long as its stored header says.
fn size_mismatch(id: &ObjectId) -> Error {
    Error::ArchiveOutput(io::Error::other(format!(
        "object {id}: its content is not the size its header says"
    )))
}

fn bytes_path(bytes: &[u8]) -> &Path {
    Path::new(std::ffi::OsStr::from_bytes(bytes))
}
