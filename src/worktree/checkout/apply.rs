//! The applier: a [`Plan`]'s steps performed in the working directory through
//! directory descriptors, after every file it writes was staged and verified.

use crate::fs::IoResultExt;
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::{Applied, Op, Plan, split_parent, unsafe_path};
use crate::object::is_within;
use crate::object::{EntryMode, ObjectId};
use crate::odb::Odb;
use crate::progress::Progress;
use crate::worktree::index::{Index, IndexEntry, StatData};
use crate::worktree::walk::stat_data;
use crate::worktree::{Error, Result, beneath};

/// A file's content, written and verified before the working directory is touched.
enum Staged {
    /// A file named `name` in staging directory `shard`, with its stat data.
    File {
        shard: usize,
        name: String,
        stat: StatData,
    },
    /// A symlink's target.
    Link(Vec<u8>),
}

/// Performs a plan's operations in `root`, keeping `index` up to date for every path it
/// writes or removes. Never writes through a symlink or outside `root`: every
/// directory is opened from the one above it without following a symlink, and every
/// file is written, renamed, removed or changed relative to its directory's descriptor
/// (see the `beneath` module), so a directory swapped for a symlink while the checkout runs
/// changes nothing outside.
///
/// Every blob the plan writes is first read, verified and written to a staging
/// directory inside `staging_parent` (the repository's store), or when that is on
/// another filesystem than `root` (files cannot be renamed across), in a private one at
/// the top of `root` ([`crate::temp::WORK_STAGING`]): a missing or corrupt object fails
/// the checkout before anything in the working directory has changed.
/// Only then are the operations run, each file renamed into place. Before returning,
/// it waits for the clock to tick past the files written, and marks those whose
/// timestamps a later edit might not change (on a filesystem with coarse times) as
/// racy in `index`.
pub fn apply(
    odb: &Odb,
    root: &Path,
    staging_parent: &Path,
    plan: &Plan,
    index: &mut Index,
    progress: Option<&(dyn Progress + Sync)>,
) -> Result<Applied> {
    let root_fd = beneath::open_root(root).context("open directory", root)?;
    #[allow(clippy::unnecessary_cast)]
    let device = |stat: rustix::fs::Stat| stat.st_dev as u64;
    let root_dev = rustix::fs::fstat(&root_fd).map(device);
    let parent_dev = rustix::fs::stat(staging_parent).map(device);
    let (prefix, staging_parent) = match (root_dev, parent_dev) {
        (Ok(a), Ok(b)) if a != b => (crate::temp::WORK_STAGING.name, root),
        _ => (crate::temp::CHECKOUT_STAGING.name, staging_parent),
    };
    // Private: in the working directory, other users may be able to look.
    use std::os::unix::fs::PermissionsExt;
    let staging = tempfile::Builder::new()
        .prefix(prefix)
        .permissions(fs::Permissions::from_mode(0o700))
        .tempdir_in(staging_parent)
        .context("create a directory in", staging_parent)?;
    let staging_fd =
        beneath::open_root(staging.path()).context("open directory", staging.path())?;
    let (applied, placed, home_dev) = run_plan(
        odb,
        (root_fd.as_fd(), root),
        (staging_fd, staging.path()),
        plan,
        index,
        progress,
    )?;
    // Wait for the filesystem clock to tick past the files just written, so that an
    // edit made after this returns changes their mtime; where it may not (a coarse
    // clock), their entries are racy and the next status reads them again.
    // Measured where the files were staged, on the device `home_dev` names.
    let tick = crate::worktree::settle_clock(staging.path());
    for (path, dev, mut entry) in placed {
        if crate::worktree::clock::is_racy(home_dev, tick, dev, entry.stat.mtime) {
            entry.racy = true;
            index.insert(path, entry);
        }
    }
    applied
}

/// Performs a plan made by [`plan_into`](super::plan_into) in `root`, a directory that
/// is no repository's working directory (`restore --target`): as [`apply`] does,
/// through directory descriptors, never through a symlink or outside `root`, every
/// blob verified before anything in `root` changes. The files are staged in a private
/// directory made inside `root` itself (so each is renamed into place on the same
/// filesystem), created with `mkdirat` on `root`'s descriptor and removed afterwards,
/// whether the plan went through or not. There is no stat cache to keep up to date.
pub fn apply_into(
    odb: &Odb,
    root: &Path,
    plan: &Plan,
    progress: Option<&(dyn Progress + Sync)>,
) -> Result<Applied> {
    let root_fd = beneath::open_root(root).context("open directory", root)?;
    let staging = PrivateDir::create(root_fd.as_fd(), root)?;
    let staging_fd = beneath::open_subdir(root_fd.as_fd(), staging.name.as_bytes())
        .context("open directory", staging.path())?;
    let mut index = Index::default();
    let result = run_plan(
        odb,
        (root_fd.as_fd(), root),
        (staging_fd, &staging.path()),
        plan,
        &mut index,
        progress,
    );
    let removed = staging.remove();
    let (applied, _, _) = result?;
    removed?;
    applied
}

/// A directory of our own, made inside a directory open as a descriptor, with a name
/// no one can guess beforehand; removed (with what is left in it) by
/// [`PrivateDir::remove`] or when dropped.
struct PrivateDir {
    parent: OwnedFd,
    parent_path: std::path::PathBuf,
    name: String,
    removed: bool,
}

impl PrivateDir {
    fn create(parent: BorrowedFd<'_>, parent_path: &Path) -> Result<PrivateDir> {
        let parent = parent
            .try_clone_to_owned()
            .context("open directory", parent_path)?;
        let mut attempt = 0u32;
        loop {
            let name = format!(
                "{}{}-{:x}",
                crate::temp::RESTORE_STAGING,
                std::process::id(),
                random_u64()
            );
            match rustix::fs::mkdirat(&parent, name.as_str(), Mode::from_raw_mode(0o700)) {
                Ok(()) => {
                    return Ok(PrivateDir {
                        parent,
                        parent_path: parent_path.to_owned(),
                        name,
                        removed: false,
                    });
                }
                Err(Errno::EXIST) if attempt < 16 => attempt += 1,
                Err(e) => {
                    let e = crate::fs::IoError::new("create a directory in", parent_path, e.into());
                    return Err(e.into());
                }
            }
        }
    }

    fn path(&self) -> std::path::PathBuf {
        self.parent_path.join(&self.name)
    }

    fn remove(mut self) -> Result<()> {
        self.removed = true;
        beneath::remove_all_at(self.parent.as_fd(), self.name.as_bytes())
            .context("remove", self.path())?;
        Ok(())
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        if !self.removed {
            let _ = beneath::remove_all_at(self.parent.as_fd(), self.name.as_bytes());
        }
    }
}

/// 64 bits no other process can predict: from the kernel's random pool, or (should
/// that fail) the clock and an address.
fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: writes at most `buf.len()` bytes into `buf`.
    let got = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    match got {
        8 => u64::from_ne_bytes(buf),
        _ => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            now.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32)
        }
    }
}

/// Every file placed by [`run_plan`]: its path, device and index entry.
type Placed = Vec<(Vec<u8>, u64, IndexEntry)>;

/// Stages every blob `plan` writes in the directory `staging` (open, and its path for
/// messages), then runs the plan's operations in `root` (open, and its path). Returns
/// the outcome of the run (an error once staging went through still comes with what
/// was placed), the files placed, and the device the staging directory is on.
fn run_plan(
    odb: &Odb,
    root: (BorrowedFd<'_>, &Path),
    staging: (OwnedFd, &Path),
    plan: &Plan,
    index: &mut Index,
    progress: Option<&(dyn Progress + Sync)>,
) -> Result<(Result<Applied>, Placed, u64)> {
    let (staging_fd, staging_path) = staging;
    let writes = plan
        .ops
        .iter()
        .filter(|op| matches!(op, Op::Write { .. }))
        .count();
    let shards = staging_shards(staging_fd, staging_path, writes)?;
    // Reading, decompressing, verifying and writing the new files is most of the work
    // and independent per file: stage them in parallel, in plan order.
    let written = AtomicU64::new(0);
    let staged: Vec<Staged> = plan
        .ops
        .par_iter()
        .enumerate()
        .filter_map(|(n, op)| match op {
            Op::Write { mode, id, .. } => {
                let shard = n % shards.len();
                let dir = (shards[shard].as_fd(), staging_path);
                let staged = stage(odb, dir, shard, n.to_string(), *mode, id);
                if let Some(progress) = progress {
                    let done = written.fetch_add(1, Ordering::Relaxed) + 1;
                    progress.update("write", done, writes as u64, "files");
                }
                Some(staged)
            }
            _ => None,
        })
        .collect::<Result<_>>()?;
    #[allow(clippy::unnecessary_cast)]
    let home_dev = rustix::fs::fstat(&shards[0]).map_or(u64::MAX, |s| s.st_dev as u64);
    let mut applier = Applier {
        root: root.0,
        root_path: root.1,
        shards: &shards,
        dirs: HashMap::new(),
        applied: Applied::default(),
        placed: Vec::new(),
        copied: AtomicU64::new(0),
    };
    let result = applier.run_all(plan, staged, index);
    applier.applied.copied = applier.copied.load(Ordering::Relaxed);
    let applied = applier.applied;
    Ok((result.map(|()| applied), applier.placed, home_dev))
}

/// Files staged per directory, at most.
const FILES_PER_SHARD: usize = 32;
/// Staging directories, at most.
const MAX_SHARDS: usize = 64;

/// The directories to stage `writes` files in: `staging` (open as `staging_fd`) itself
/// for a few files; otherwise up to [`MAX_SHARDS`] subdirectories of it, marked (where
/// the filesystem supports it) as top of a hierarchy, so that ext4 places each in a
/// different block group rather than all beside `.cow`.
///
/// Creating thousands of files in one directory serializes the threads on that
/// directory's lock, and puts every new inode in one block group, where ext4 without a
/// journal then steps over each inode the last checkout freed there (`recently_deleted`,
/// which was 30% of a kernel checkout's time). git writes each file in its own directory
/// and never concentrates them.
fn staging_shards(staging_fd: OwnedFd, staging: &Path, writes: usize) -> Result<Vec<OwnedFd>> {
    let count = (writes / FILES_PER_SHARD).min(MAX_SHARDS);
    if count < 2 {
        return Ok(vec![staging_fd]);
    }
    // Best effort: other filesystems have no such flag, or refuse it.
    if let Ok(flags) = rustix::fs::ioctl_getflags(&staging_fd) {
        let _ = rustix::fs::ioctl_setflags(&staging_fd, flags | rustix::fs::IFlags::TOPDIR);
    }
    (0..count)
        .map(|i| {
            let name = format!("s{i}");
            let create = || -> io::Result<OwnedFd> {
                rustix::fs::mkdirat(&staging_fd, &name, Mode::from_raw_mode(0o700))?;
                beneath::open_subdir(staging_fd.as_fd(), name.as_bytes())
            };
            Ok(create().context("create directory", staging.join(&name))?)
        })
        .collect()
}

/// Writes blob `id` as file `name` of staging directory `shard` (open as `dir.0`, at
/// `dir.1`), verified; for a symlink, keeps its target.
fn stage(
    odb: &Odb,
    dir: (BorrowedFd<'_>, &Path),
    shard: usize,
    name: String,
    mode: EntryMode,
    id: &ObjectId,
) -> Result<Staged> {
    if mode == EntryMode::Link {
        return Ok(Staged::Link(odb.find_blob(id)?));
    }
    let path = || dir.1.join(&name);
    let fd = rustix::fs::openat(
        dir.0,
        &name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(file_mode(mode)),
    )
    .context("create", path())?;
    let mut file = fs::File::from(fd);
    let mut out = io::BufWriter::with_capacity(64 * 1024, &mut file);
    odb.stream_blob(id, &mut out)?;
    out.flush().context("write", path())?;
    drop(out);
    let stat = rustix::fs::fstat(&file).context("stat", path())?;
    Ok(Staged::File {
        shard,
        name,
        stat: stat_data(&stat),
    })
}

/// The permission bits a new file of `mode` is created with (before the umask).
fn file_mode(mode: EntryMode) -> u32 {
    if mode == EntryMode::BlobExecutable {
        0o777
    } else {
        0o666
    }
}

/// Directory descriptors held open at most; beyond, they are closed and opened again
/// as needed.
const MAX_OPEN_DIRS: usize = 1024;

struct Applier<'a> {
    root: BorrowedFd<'a>,
    root_path: &'a Path,
    shards: &'a [OwnedFd],
    /// Directories opened in this run, each from the one above it and never through a
    /// symlink, by path (the root is not here).
    dirs: HashMap<Vec<u8>, OwnedFd>,
    applied: Applied,
    /// Every file placed: its path, device and index entry.
    placed: Vec<(Vec<u8>, u64, IndexEntry)>,
    /// Files copied into place (placed in parallel, counted here).
    copied: AtomicU64,
}

/// The error for a failed `action` on `path` below `root`: a component that is no
/// longer a real directory (a symlink or a file took its place) is refused as unsafe.
fn fail(root: &Path, action: &'static str, path: &[u8]) -> impl FnOnce(io::Error) -> Error {
    let fs_path = root.join(OsStr::from_bytes(path));
    let path = path.to_vec();
    move |e| {
        if beneath::is_swapped(&e) {
            unsafe_path(&path)
        } else {
            crate::fs::IoError::new(action, fs_path, e).into()
        }
    }
}

impl Applier<'_> {
    /// Opens directory `rel` (and what is above it) if it is not open yet.
    fn open_dir(&mut self, rel: &[u8]) -> Result<()> {
        if rel.is_empty() || self.dirs.contains_key(rel) {
            return Ok(());
        }
        let (parent, name) = split_parent(rel);
        self.open_dir(parent)?;
        let parent_fd = self.dir_fd(parent);
        let fd = beneath::open_subdir(parent_fd, name).map_err(fail(
            self.root_path,
            "open directory",
            rel,
        ))?;
        self.dirs.insert(rel.to_vec(), fd);
        Ok(())
    }

    /// The descriptor of directory `rel`, opened by [`Applier::open_dir`].
    fn dir_fd(&self, rel: &[u8]) -> BorrowedFd<'_> {
        if rel.is_empty() {
            self.root
        } else {
            self.dirs[rel].as_fd()
        }
    }

    /// Opens the directory above `path`, and returns it and the last component.
    fn parent<'p>(&mut self, path: &'p [u8]) -> Result<(BorrowedFd<'_>, &'p [u8])> {
        if self.dirs.len() >= MAX_OPEN_DIRS {
            self.dirs.clear();
        }
        let (parent, name) = split_parent(path);
        self.open_dir(parent)?;
        Ok((self.dir_fd(parent), name))
    }

    /// Forgets what is at or below `path`, which is gone.
    fn forget(&mut self, path: &[u8], index: &mut Index) {
        index.remove_tree(path);
        self.dirs.retain(|d, _| !is_within(d, path));
    }

    /// Runs every operation of `plan`, with the `staged` content of its writes in
    /// order.
    fn run_all(&mut self, plan: &Plan, staged: Vec<Staged>, index: &mut Index) -> Result<()> {
        let mut staged = staged.into_iter();
        let mut ops = plan.ops.as_slice();
        while let Some(op) = ops.first() {
            // A run of writes has no order among its files (their directories exist,
            // and every path is distinct): place them in parallel.
            let writes = ops
                .iter()
                .take_while(|op| matches!(op, Op::Write { .. }))
                .count();
            if writes > 0 {
                let contents = staged.by_ref().take(writes).collect();
                self.write_all(&ops[..writes], contents, index)?;
                ops = &ops[writes..];
            } else {
                self.run(op, index)?;
                ops = &ops[1..];
            }
        }
        Ok(())
    }

    /// Runs `ops`, all writes, in parallel, with their staged `contents`, a batch of
    /// directories at a time. After a failure no further file is placed (those
    /// already under way finish); every file placed is recorded, and the first
    /// failure is returned.
    fn write_all(&mut self, ops: &[Op], contents: Vec<Staged>, index: &mut Index) -> Result<()> {
        assert_eq!(ops.len(), contents.len(), "every write was staged");
        let mut contents = contents.into_iter();
        let mut rest = ops;
        while !rest.is_empty() {
            // As many writes as have at most half the descriptor budget of parents.
            let mut parents: HashSet<&[u8]> = HashSet::new();
            let batch = rest
                .iter()
                .take_while(|op| {
                    parents.insert(split_parent(op.path().as_bytes()).0);
                    parents.len() <= MAX_OPEN_DIRS / 2
                })
                .count();
            if self.dirs.len() + parents.len() > MAX_OPEN_DIRS {
                self.dirs.clear();
            }
            for op in &rest[..batch] {
                self.open_dir(split_parent(op.path().as_bytes()).0)?;
            }
            let batch_contents: Vec<Staged> = contents.by_ref().take(batch).collect();
            self.place_batch(&rest[..batch], batch_contents, index)?;
            rest = &rest[batch..];
        }
        Ok(())
    }

    /// Places a batch of writes whose parent directories are all open.
    fn place_batch(&mut self, ops: &[Op], contents: Vec<Staged>, index: &mut Index) -> Result<()> {
        let failed = AtomicBool::new(false);
        let this = &*self;
        let placed: Vec<Option<Result<(StatData, u64)>>> = ops
            .par_iter()
            .zip(contents)
            .map(|(op, content)| {
                if failed.load(Ordering::Relaxed) {
                    return None;
                }
                let (parent, name) = split_parent(op.path().as_bytes());
                let placed = this.place(this.dir_fd(parent), name, content).map_err(fail(
                    this.root_path,
                    "write",
                    op.path().as_bytes(),
                ));
                if placed.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                Some(placed)
            })
            .collect();
        let mut first_error = None;
        for (op, result) in ops.iter().zip(placed) {
            match result {
                Some(Ok((stat, dev))) => self.record_write(op, stat, dev, index),
                Some(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                None => {}
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn record_write(&mut self, op: &Op, stat: StatData, dev: u64, index: &mut Index) {
        let Op::Write { path, mode, id } = op else {
            unreachable!("only writes are recorded as written")
        };
        self.applied.written += 1;
        let entry = fresh_entry(*mode, *id, stat);
        index.remove_tree(path.as_bytes());
        index.insert(path.as_bytes().to_vec(), entry);
        self.placed.push((path.as_bytes().to_vec(), dev, entry));
    }

    /// Puts a staged file or symlink at `name` in the directory open as `dir`, in
    /// place of the file or symlink there; returns its stat data and device.
    ///
    /// The old file is removed first rather than renamed over: that spares ext4 the
    /// writeback it starts for every rename that replaces a file (`auto_da_alloc`), as
    /// git's unlink and write in place does. If the process dies in between, or the
    /// machine before the data reaches the disk, the file may be missing or empty
    /// afterwards; its content is not lost, because the plan replaces only files whose
    /// content is in a snapshot (or that the user chose to discard), and `status` shows
    /// the file as changed. Across filesystems (a mount inside the working directory)
    /// the file is copied straight to its place, with the same guarantee.
    fn place(
        &self,
        dir: BorrowedFd<'_>,
        name: &[u8],
        content: Staged,
    ) -> io::Result<(StatData, u64)> {
        let name = OsStr::from_bytes(name);
        match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(e.into()),
        }
        #[allow(clippy::unnecessary_cast)]
        let placed = |stat: &rustix::fs::Stat| (stat_data(stat), stat.st_dev as u64);
        match content {
            Staged::Link(target) => {
                rustix::fs::symlinkat(OsStr::from_bytes(&target), dir, name)?;
                Ok(placed(&rustix::fs::statat(
                    dir,
                    name,
                    AtFlags::SYMLINK_NOFOLLOW,
                )?))
            }
            Staged::File {
                shard,
                name: temp,
                stat,
            } => {
                let shard = self.shards[shard].as_fd();
                match rustix::fs::renameat(shard, &temp, dir, name) {
                    Ok(()) => {
                        let dev = rustix::fs::fstat(shard)?.st_dev;
                        #[allow(clippy::unnecessary_cast)]
                        Ok((stat, dev as u64))
                    }
                    Err(Errno::XDEV) => {
                        let from = rustix::fs::openat(
                            shard,
                            &temp,
                            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                            Mode::empty(),
                        )?;
                        let perms = rustix::fs::fstat(&from)?.st_mode & 0o777;
                        let to = rustix::fs::openat(
                            dir,
                            name,
                            OFlags::WRONLY
                                | OFlags::CREATE
                                | OFlags::EXCL
                                | OFlags::NOFOLLOW
                                | OFlags::CLOEXEC,
                            Mode::from_raw_mode(perms as _),
                        )?;
                        let mut to = fs::File::from(to);
                        io::copy(&mut fs::File::from(from), &mut to)?;
                        let _ = rustix::fs::unlinkat(shard, &temp, AtFlags::empty());
                        self.copied.fetch_add(1, Ordering::Relaxed);
                        Ok(placed(&rustix::fs::fstat(&to)?))
                    }
                    Err(e) => {
                        let _ = rustix::fs::unlinkat(shard, &temp, AtFlags::empty());
                        Err(e.into())
                    }
                }
            }
        }
    }

    /// Runs one operation other than a write (see [`Applier::write_all`]).
    fn run(&mut self, op: &Op, index: &mut Index) -> Result<()> {
        let path = op.path().as_bytes();
        let root = self.root_path;
        match op {
            Op::Remove { .. } => {
                let (dir, name) = self.parent(path)?;
                match rustix::fs::unlinkat(dir, OsStr::from_bytes(name), AtFlags::empty()) {
                    Ok(()) => self.applied.removed += 1,
                    Err(Errno::NOENT) => {}
                    Err(e) => return Err(fail(root, "remove", path)(e.into())),
                }
                self.forget(path, index);
            }
            Op::Purge { .. } => {
                let (dir, name) = self.parent(path)?;
                let removed = beneath::remove_all_at(dir, name);
                removed.map_err(fail(root, "remove", path))?;
                self.applied.removed += 1;
                self.forget(path, index);
            }
            Op::RemoveDir { .. } => {
                let (dir, name) = self.parent(path)?;
                match rustix::fs::unlinkat(dir, OsStr::from_bytes(name), AtFlags::REMOVEDIR) {
                    Ok(()) => {
                        self.applied.removed += 1;
                        self.forget(path, index);
                    }
                    // Untracked or ignored files keep it; it may also be gone already.
                    Err(Errno::NOTEMPTY | Errno::EXIST | Errno::NOENT) => {}
                    Err(e) => return Err(fail(root, "remove directory", path)(e.into())),
                }
            }
            Op::MkDir { .. } => {
                let (dir, name) = self.parent(path)?;
                let name = OsStr::from_bytes(name);
                match rustix::fs::mkdirat(dir, name, Mode::from_raw_mode(0o777)) {
                    Ok(()) => self.applied.created_dirs += 1,
                    Err(Errno::EXIST) => {
                        let stat = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
                            .map_err(|e| fail(root, "stat", path)(e.into()))?;
                        if FileType::from_raw_mode(stat.st_mode as _) != FileType::Directory {
                            return Err(fail(root, "create directory", path)(Errno::EXIST.into()));
                        }
                    }
                    Err(e) => return Err(fail(root, "create directory", path)(e.into())),
                }
            }
            Op::Write { .. } => unreachable!("writes are placed by write_all"),
            Op::SetMode { mode, id, .. } => {
                let (dir, name) = self.parent(path)?;
                let set = || -> io::Result<StatData> {
                    let fd = rustix::fs::openat(
                        dir,
                        OsStr::from_bytes(name),
                        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                        Mode::empty(),
                    )?;
                    let stat = rustix::fs::fstat(&fd)?;
                    if FileType::from_raw_mode(stat.st_mode as _) != FileType::RegularFile {
                        return Err(Errno::LOOP.into());
                    }
                    let old = stat.st_mode as u32 & 0o7777;
                    let new = if *mode == EntryMode::BlobExecutable {
                        old | ((old & 0o444) >> 2)
                    } else {
                        old & !0o111
                    };
                    rustix::fs::fchmod(&fd, Mode::from_raw_mode(new as _))?;
                    Ok(stat_data(&rustix::fs::fstat(&fd)?))
                };
                let stat = set().map_err(fail(root, "change the mode of", path))?;
                self.applied.modes_changed += 1;
                index.insert(path.to_vec(), fresh_entry(*mode, *id, stat));
            }
        }
        Ok(())
    }
}

fn fresh_entry(mode: EntryMode, id: ObjectId, stat: StatData) -> IndexEntry {
    IndexEntry {
        mode,
        id,
        stat,
        racy: false,
        stored: true,
    }
}
