//! Moving a working directory between snapshots: plan, then apply.
//!
//! [`plan`] compares three trees — the current snapshot (H), the target (T) and the
//! working directory as scanned (W) — and has no side effects: a refusal or a dry run
//! returns the plan untouched. Subtrees whose ids are equal in H and T are skipped (the
//! working directory keeps whatever it has there); a path is changed only when W still
//! holds what H had (nothing would be lost) or already holds what T has. Anything else
//! is a [`Conflict`], unless forced. [`apply`] then performs the operations in order,
//! writing each file to a temporary name and renaming it into place, and never through
//! a symlink.

use crate::fs::IoResultExt;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::beneath;
use super::index::{Index, IndexEntry, StatData};
use super::walk::stat_data;
use super::{Error, Result, Scan, quote_path, to_fs_path};
use crate::object::{EntryMode, Kind, ObjectId};
use crate::odb::Odb;

/// Knobs for [`plan`].
#[derive(Clone, Copy, Debug, Default)]
pub struct PlanOptions<'a> {
    /// Overwrite or delete tracked files whose changes are in no snapshot.
    pub discard_changes: bool,
    /// Replace untracked or ignored files (and special files) that are in the way.
    pub replace_untracked: bool,
    /// Only these paths (and what is below them); empty for all.
    pub paths: &'a [Vec<u8>],
}

impl PlanOptions<'_> {
    fn forced(&self) -> bool {
        self.discard_changes || self.replace_untracked
    }
}

/// Why a path cannot be changed without losing data.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ConflictKind {
    /// A tracked file or directory has changes that are in no snapshot.
    Modified,
    /// An untracked file or directory is where the target puts something.
    Untracked,
    /// An ignored file or directory is where the target puts something.
    Ignored,
}

/// A path the plan would have to overwrite or delete, losing data.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Conflict {
    /// The path.
    pub path: Vec<u8>,
    /// Why it is in the way.
    pub kind: ConflictKind,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.kind {
            ConflictKind::Modified => "modified",
            ConflictKind::Untracked => "untracked",
            ConflictKind::Ignored => "ignored",
        };
        write!(f, "{} ({why})", quote_path(&self.path))
    }
}

/// One step of a plan, on a `/`-separated path from the root.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Op {
    /// Delete a file or symlink.
    Remove {
        /// The path.
        path: Vec<u8>,
    },
    /// Delete a directory once its tracked content is gone; left in place when it
    /// still holds untracked or ignored files.
    RemoveDir {
        /// The path.
        path: Vec<u8>,
    },
    /// Delete a file or a whole directory that is in the way (checked safe, or forced).
    Purge {
        /// The path.
        path: Vec<u8>,
    },
    /// Create a directory.
    MkDir {
        /// The path.
        path: Vec<u8>,
    },
    /// Write a file or symlink from a blob, replacing what is there.
    Write {
        /// The path.
        path: Vec<u8>,
        /// File, executable or symlink.
        mode: EntryMode,
        /// The blob.
        id: ObjectId,
    },
    /// Flip the executable bit of a file whose content is already right.
    SetMode {
        /// The path.
        path: Vec<u8>,
        /// The new mode.
        mode: EntryMode,
        /// The (unchanged) blob.
        id: ObjectId,
    },
}

impl Op {
    /// The path the step acts on.
    pub fn path(&self) -> &[u8] {
        match self {
            Op::Remove { path }
            | Op::RemoveDir { path }
            | Op::Purge { path }
            | Op::MkDir { path }
            | Op::Write { path, .. }
            | Op::SetMode { path, .. } => path,
        }
    }
}

/// What a checkout would do, or why it cannot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The steps, in the order they must run.
    pub ops: Vec<Op>,
    /// Paths that would lose data (empty when forced).
    pub conflicts: Vec<Conflict>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Node {
    mode: EntryMode,
    id: ObjectId,
}

/// The working directory's state at a path.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Work {
    /// Nothing there (known: the directory above was just created or emptied).
    Absent,
    /// Not reported by the scan: nothing, or something ignored; look on disk.
    Unknown,
    /// Found by the scan.
    Scanned(Node),
    /// An ignored file or symlink (hashed from disk).
    IgnoredFile(Node),
    /// An ignored directory.
    IgnoredDir,
    /// A FIFO, socket or device file: never opened, never stored.
    Special,
}

impl Work {
    /// The file, symlink or directory found, when its content is known.
    fn node(self) -> Option<Node> {
        match self {
            Work::Scanned(n) | Work::IgnoredFile(n) => Some(n),
            _ => None,
        }
    }
}

struct Planner<'a> {
    odb: &'a Odb,
    root: &'a Path,
    /// The working directory, open: what is on disk is looked at through it.
    root_fd: OwnedFd,
    scan: &'a Scan,
    options: PlanOptions<'a>,
    plan: Plan,
}

/// Plans moving the working directory `root`, scanned as `scan`, from the snapshot tree
/// `current` (`None` before the first commit) to the tree `target`. Nothing is changed.
pub fn plan(
    odb: &Odb,
    root: &Path,
    scan: &Scan,
    current: Option<ObjectId>,
    target: ObjectId,
    options: &PlanOptions<'_>,
) -> Result<Plan> {
    let root_fd = beneath::open_root(root).context("open directory", root)?;
    let mut planner = Planner {
        odb,
        root,
        root_fd,
        scan,
        options: *options,
        plan: Plan::default(),
    };
    let tree = |id| Node {
        mode: EntryMode::Tree,
        id,
    };
    planner.dir(
        &mut Vec::new(),
        current.map(tree),
        Some(tree(target)),
        Work::Scanned(tree(scan.tree)),
    )?;
    Ok(planner.plan)
}

impl Planner<'_> {
    fn in_scope(&self, path: &[u8]) -> bool {
        self.options.paths.is_empty() || self.options.paths.iter().any(|p| is_within(path, p))
    }

    fn on_the_way(&self, path: &[u8]) -> bool {
        self.options
            .paths
            .iter()
            .any(|p| p.len() > path.len() && is_within(p, path))
    }

    fn children(&self, node: Option<Node>) -> Result<Vec<(Vec<u8>, Node)>> {
        let Some(node) = node.filter(|n| n.mode.is_tree()) else {
            return Ok(Vec::new());
        };
        let tree = match self.scan.trees.get(&node.id) {
            Some(t) => t,
            None => self.odb.find_tree(&node.id)?,
        };
        Ok(tree
            .into_entries()
            .into_iter()
            .map(|e| {
                (
                    e.name,
                    Node {
                        mode: e.mode,
                        id: e.id,
                    },
                )
            })
            .collect())
    }

    /// Visits every name of a directory in H, T or W.
    fn dir(&mut self, path: &mut Vec<u8>, h: Option<Node>, t: Option<Node>, w: Work) -> Result<()> {
        let missing = match w {
            Work::Absent => Work::Absent,
            _ => Work::Unknown,
        };
        let mut names: BTreeMap<Vec<u8>, (Option<Node>, Option<Node>, Work)> = BTreeMap::new();
        for (name, n) in self.children(h)? {
            names.entry(name).or_insert((None, None, missing)).0 = Some(n);
        }
        for (name, n) in self.children(t)? {
            names.entry(name).or_insert((None, None, missing)).1 = Some(n);
        }
        if let Work::Scanned(wn) = w {
            for (name, n) in self.children(Some(wn))? {
                names.entry(name).or_insert((None, None, missing)).2 = Work::Scanned(n);
            }
        }
        for (name, (h, t, w)) in names {
            let len = path.len();
            if len > 0 {
                path.push(b'/');
            }
            path.extend_from_slice(&name);
            self.visit(path, h, t, w)?;
            path.truncate(len);
        }
        Ok(())
    }

    fn conflict(&mut self, path: &[u8], kind: ConflictKind) {
        self.plan.conflicts.push(Conflict {
            path: path.to_vec(),
            kind,
        });
    }

    fn push(&mut self, op: Op) {
        self.plan.ops.push(op);
    }

    fn visit(
        &mut self,
        path: &mut Vec<u8>,
        h: Option<Node>,
        t: Option<Node>,
        w: Work,
    ) -> Result<()> {
        if !self.in_scope(path) {
            // An ancestor of a path to restore: go through it, changing only what must.
            if self.on_the_way(path) {
                let h_dir = h.filter(|n| n.mode.is_tree());
                match (t.filter(|n| n.mode.is_tree()), w) {
                    (Some(_), Work::Scanned(wn)) if wn.mode.is_tree() => {
                        self.dir(path, h_dir, t, w)?
                    }
                    (Some(_), _) => self.visit_scoped(path, h, t, w)?,
                    (None, Work::Scanned(wn)) if wn.mode.is_tree() => {
                        self.dir(path, h_dir, None, w)?
                    }
                    _ => {}
                }
            }
            return Ok(());
        }
        if !self.options.forced() && h == t {
            return Ok(()); // unchanged between the snapshots: local state stays
        }
        self.visit_scoped(path, h, t, w)
    }

    /// Whether what is at a path may be overwritten or deleted: its content is in H,
    /// or the options allow losing it.
    fn replaceable(&self, h: Option<Node>, w: Work) -> std::result::Result<(), ConflictKind> {
        match w {
            Work::Absent | Work::Unknown => Ok(()),
            _ if w.node().is_some() && w.node() == h => Ok(()),
            Work::Scanned(_) if h.is_some() && !self.options.discard_changes => {
                Err(ConflictKind::Modified)
            }
            Work::Scanned(_) if h.is_some() => Ok(()),
            _ if self.options.replace_untracked => Ok(()),
            Work::IgnoredFile(_) | Work::IgnoredDir => Err(ConflictKind::Ignored),
            _ => Err(ConflictKind::Untracked),
        }
    }

    fn visit_scoped(
        &mut self,
        path: &mut Vec<u8>,
        h: Option<Node>,
        t: Option<Node>,
        w: Work,
    ) -> Result<()> {
        if t.is_some() {
            check_writable(path)?;
        }
        let w = match w {
            Work::Unknown if t.is_some() || self.options.forced() => self.disk_state(path)?,
            Work::Unknown => Work::Absent,
            w => w,
        };
        if w.node().is_some() && w.node() == t {
            return Ok(()); // already as the target has it
        }
        if h.is_none() && t.is_none() {
            return Ok(()); // untracked on both sides: not ours to touch
        }
        let h_dir = h.filter(|n| n.mode.is_tree());
        if let Some(tn) = t.filter(|n| n.mode.is_tree()) {
            match w {
                Work::Scanned(wn) if wn.mode.is_tree() => {
                    return self.dir(path, h_dir, Some(tn), w);
                }
                // Reuse an ignored directory; its entries are checked one by one.
                Work::IgnoredDir => return self.dir(path, h_dir, Some(tn), Work::Unknown),
                Work::Absent => {}
                _ => match self.replaceable(h, w) {
                    Ok(()) => self.push(Op::Purge { path: path.clone() }),
                    Err(kind) => {
                        self.conflict(path, kind);
                        return Ok(());
                    }
                },
            }
            self.push(Op::MkDir { path: path.clone() });
            return self.dir(path, None, Some(tn), Work::Absent);
        }
        // The target has a file, a symlink or nothing here.
        match w {
            Work::Absent | Work::Unknown => self.write(path, t)?,
            Work::Scanned(wn) if wn.mode.is_tree() => {
                if t.is_none() {
                    // Remove what H tracked; untracked files keep the directory.
                    self.dir(path, h_dir, None, w)?;
                    self.push(Op::RemoveDir { path: path.clone() });
                } else {
                    let blocked = self.dir_conflicts(path, h_dir, wn.id)?;
                    if blocked.is_empty() {
                        self.push(Op::Purge { path: path.clone() });
                        self.write(path, t)?;
                    } else {
                        self.plan.conflicts.extend(blocked);
                    }
                }
            }
            Work::IgnoredDir if t.is_none() => {
                // Only what H tracked goes; ignored files keep the directory.
                self.dir(path, h_dir, None, Work::Unknown)?;
                self.push(Op::RemoveDir { path: path.clone() });
            }
            Work::Special if t.is_none() => {}
            _ => match self.replaceable(h, w) {
                Err(kind) => self.conflict(path, kind),
                Ok(()) => match (w.node(), t) {
                    (Some(wn), Some(tn))
                        if wn.id == tn.id
                            && wn.mode != EntryMode::Link
                            && tn.mode != EntryMode::Link =>
                    {
                        self.push(Op::SetMode {
                            path: path.clone(),
                            mode: tn.mode,
                            id: tn.id,
                        });
                    }
                    (Some(_), Some(_)) => self.write(path, t)?,
                    // An ignored directory or a special file in the way.
                    (None, Some(_)) => {
                        self.push(Op::Purge { path: path.clone() });
                        self.write(path, t)?;
                    }
                    (_, None) => self.push(Op::Remove { path: path.clone() }),
                },
            },
        }
        Ok(())
    }

    /// Plans writing `t` at `path`, once sure it can be written: a path this system
    /// cannot hold, or a symlink it cannot create, is refused here, before anything
    /// is changed, rather than after other files were.
    fn write(&mut self, path: &[u8], t: Option<Node>) -> Result<()> {
        let Some(tn) = t else { return Ok(()) };
        if tn.mode == EntryMode::Link {
            let target = self.odb.find_blob(&tn.id)?;
            let problem = if target.is_empty() {
                Some("its symlink target is empty")
            } else if target.contains(&0) {
                Some("its symlink target contains a NUL byte")
            } else if target.len() >= PATH_MAX {
                Some("its symlink target is longer than the system allows")
            } else {
                None
            };
            if let Some(reason) = problem {
                return Err(Error::Unsupported {
                    path: quote_path(path),
                    reason,
                });
            }
        }
        self.push(Op::Write {
            path: path.to_vec(),
            mode: tn.mode,
            id: tn.id,
        });
        Ok(())
    }

    fn fs_path(&self, path: &[u8]) -> Result<PathBuf> {
        checked_path(self.root, path)
    }

    /// What is on disk at a path the scan did not report (ignored, special, or
    /// nothing). Only called below real directories: the scan never descends through
    /// symlinks, and directories the plan creates or empties are [`Work::Absent`].
    /// Everything is looked at from the root's descriptor without following a symlink;
    /// an ignored file is hashed as a stream, whatever its size.
    fn disk_state(&self, path: &[u8]) -> Result<Work> {
        let fs_path = self.fs_path(path)?;
        let (parent, name) = split_parent(path);
        let name = OsStr::from_bytes(name);
        let dir = match beneath::open_dir(self.root_fd.as_fd(), parent) {
            Ok(dir) => dir,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                return Ok(Work::Absent);
            }
            Err(e) if beneath::is_swapped(&e) => return Err(unsafe_path(path)),
            Err(e) => {
                return Err(crate::fs::IoError::new(
                    "open directory",
                    self.root.join(OsStr::from_bytes(parent)),
                    e,
                )
                .into());
            }
        };
        let stat = match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(Errno::NOENT | Errno::NOTDIR) => return Ok(Work::Absent),
            Err(e) => return Err(crate::fs::IoError::new("stat", fs_path, e.into()).into()),
        };
        let node = match FileType::from_raw_mode(stat.st_mode as _) {
            FileType::Directory => return Ok(Work::IgnoredDir),
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(&dir, name, Vec::new())
                    .context("read symlink", &fs_path)?;
                Node {
                    mode: EntryMode::Link,
                    id: ObjectId::hash(Kind::Blob, target.as_bytes()),
                }
            }
            FileType::RegularFile => {
                let fd = rustix::fs::openat(
                    &dir,
                    name,
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .context("open", &fs_path)?;
                let stat = rustix::fs::fstat(&fd).context("stat", &fs_path)?;
                if FileType::from_raw_mode(stat.st_mode as _) != FileType::RegularFile {
                    return Err(Error::FileChanged { path: fs_path });
                }
                let mut file = fs::File::from(fd);
                let id = super::scan::hash_stream(&mut file, stat.st_size as u64)
                    .context("read", &fs_path)?
                    .ok_or(Error::FileChanged { path: fs_path })?;
                let mode = if stat.st_mode & 0o100 != 0 {
                    EntryMode::BlobExecutable
                } else {
                    EntryMode::Blob
                };
                Node { mode, id }
            }
            _ => return Ok(Work::Special),
        };
        Ok(Work::IgnoredFile(node))
    }

    /// What keeps the directory at `path` (scanned as tree `w`, tracked in H as `h`)
    /// from being deleted to make room for a file: its modified, untracked and ignored
    /// content, path by path, as far as the options do not allow losing it.
    fn dir_conflicts(&self, path: &[u8], h: Option<Node>, w: ObjectId) -> Result<Vec<Conflict>> {
        let mut out = Vec::new();
        let h_entries: BTreeMap<Vec<u8>, Node> = self.children(h)?.into_iter().collect();
        let w_node = Node {
            mode: EntryMode::Tree,
            id: w,
        };
        let w_entries: BTreeMap<Vec<u8>, Node> = self.children(Some(w_node))?.into_iter().collect();
        let join = |name: &[u8]| [path, b"/", name].concat();
        for (name, wn) in &w_entries {
            let hn = h_entries.get(name).copied();
            if hn == Some(*wn) && !wn.mode.is_tree() {
                continue;
            }
            let sub = join(name);
            if wn.mode.is_tree() {
                // Below a directory: ignored files may hide even where H matches.
                out.extend(self.dir_conflicts(&sub, hn.filter(|n| n.mode.is_tree()), wn.id)?);
            } else if let Err(kind) = self.replaceable(hn, Work::Scanned(*wn)) {
                out.push(Conflict { path: sub, kind });
            }
        }
        // Ignored files are on disk but not in the scan.
        if !self.options.replace_untracked {
            let fs_path = self.fs_path(path)?;
            let read = || -> io::Result<Vec<Vec<u8>>> {
                let dir = beneath::open_dir(self.root_fd.as_fd(), path)?;
                let mut listing = rustix::fs::Dir::new(dir)?;
                let mut names = Vec::new();
                while let Some(entry) = listing.read() {
                    let name = entry?.file_name().to_bytes().to_vec();
                    if name != b"." && name != b".." {
                        names.push(name);
                    }
                }
                Ok(names)
            };
            let names = read().map_err(|e| {
                if beneath::is_swapped(&e) {
                    unsafe_path(path)
                } else {
                    crate::fs::IoError::new("read directory", &fs_path, e).into()
                }
            })?;
            for name in names {
                if !w_entries.contains_key(&name) {
                    out.push(Conflict {
                        path: join(&name),
                        kind: ConflictKind::Ignored,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// The longest path the system takes (`PATH_MAX`, with its NUL).
const PATH_MAX: usize = libc::PATH_MAX as usize;
/// The longest name of a file (`NAME_MAX`).
const NAME_MAX: usize = 255;

/// Refuses a path that no file of this system can have: longer than [`PATH_MAX`]
/// from the root (it could not be read back), or with a name over [`NAME_MAX`].
fn check_writable(path: &[u8]) -> Result<()> {
    let reason = if path.len() >= PATH_MAX {
        "the path is longer than the system allows"
    } else if path.split(|&b| b == b'/').any(|name| name.len() > NAME_MAX) {
        "a name in it is longer than the system allows"
    } else {
        return Ok(());
    };
    Err(Error::Unsupported {
        path: quote_path(path),
        reason,
    })
}

/// `path` under `root`, refusing any component that could leave it.
fn checked_path(root: &Path, path: &[u8]) -> Result<PathBuf> {
    to_fs_path(root, path).ok_or_else(|| Error::UnsafePath {
        path: quote_path(path),
    })
}

/// Whether `path` is `prefix` or below it.
fn is_within(path: &[u8], prefix: &[u8]) -> bool {
    path.starts_with(prefix) && (path.len() == prefix.len() || path[prefix.len()] == b'/')
}

/// What [`apply`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Files and symlinks written.
    pub written: u64,
    /// Files, symlinks and directories removed.
    pub removed: u64,
    /// Directories created.
    pub created_dirs: u64,
    /// Executable bits changed.
    pub modes_changed: u64,
}

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
/// (see [`beneath`]), so a directory swapped for a symlink while the checkout runs
/// changes nothing outside.
///
/// Every blob the plan writes is first read, verified and written to a staging
/// directory inside `staging_parent` (the repository's `.cow`): a missing or corrupt
/// object fails the checkout before anything in the working directory has changed.
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
) -> Result<Applied> {
    let root_fd = beneath::open_root(root).context("open directory", root)?;
    let staging = tempfile::Builder::new()
        .prefix(crate::temp::CHECKOUT_STAGING.name)
        .tempdir_in(staging_parent)
        .context("create a directory in", staging_parent)?;
    let staging_fd =
        beneath::open_root(staging.path()).context("open directory", staging.path())?;
    let writes = plan
        .ops
        .iter()
        .filter(|op| matches!(op, Op::Write { .. }))
        .count();
    let shards = staging_shards(staging_fd, staging.path(), writes)?;
    // Reading, decompressing, verifying and writing the new files is most of the work
    // and independent per file: stage them in parallel, in plan order.
    let staged: Vec<Staged> = plan
        .ops
        .par_iter()
        .enumerate()
        .filter_map(|(n, op)| match op {
            Op::Write { mode, id, .. } => {
                let shard = n % shards.len();
                let dir = (shards[shard].as_fd(), staging.path());
                Some(stage(odb, dir, shard, n.to_string(), *mode, id))
            }
            _ => None,
        })
        .collect::<Result<_>>()?;
    #[allow(clippy::unnecessary_cast)]
    let home_dev = rustix::fs::fstat(&shards[0]).map_or(u64::MAX, |s| s.st_dev as u64);
    let mut applier = Applier {
        root: root_fd.as_fd(),
        root_path: root,
        shards: &shards,
        dirs: HashMap::new(),
        applied: Applied::default(),
        placed: Vec::new(),
    };
    let applied = applier.run_all(plan, staged, index);
    // Wait for the filesystem clock to tick past the files just written, so that an
    // edit made after this returns changes their mtime; where it may not (a coarse
    // clock), their entries are racy and the next status reads them again.
    let tick = super::settle_clock(staging_parent);
    for (path, dev, mut entry) in applier.placed {
        if super::scan::is_racy(home_dev, tick, dev, entry.stat.mtime) {
            entry.racy = true;
            index.insert(path, entry);
        }
    }
    applied.map(|()| applier.applied)
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
}

/// `path`'s parent directory and last component.
fn split_parent(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
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

fn unsafe_path(path: &[u8]) -> Error {
    Error::UnsafePath {
        path: quote_path(path),
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
                    parents.insert(split_parent(op.path()).0);
                    parents.len() <= MAX_OPEN_DIRS / 2
                })
                .count();
            if self.dirs.len() + parents.len() > MAX_OPEN_DIRS {
                self.dirs.clear();
            }
            for op in &rest[..batch] {
                self.open_dir(split_parent(op.path()).0)?;
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
                let (parent, name) = split_parent(op.path());
                let placed = this.place(this.dir_fd(parent), name, content).map_err(fail(
                    this.root_path,
                    "write",
                    op.path(),
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
        index.remove_tree(path);
        index.insert(path.clone(), entry);
        self.placed.push((path.clone(), dev, entry));
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
        let path = op.path();
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
