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

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;

use super::index::{Index, IndexEntry, StatData};
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
    let mut planner = Planner {
        odb,
        root,
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
            Work::Absent | Work::Unknown => self.write(path, t),
            Work::Scanned(wn) if wn.mode.is_tree() => {
                if t.is_none() {
                    // Remove what H tracked; untracked files keep the directory.
                    self.dir(path, h_dir, None, w)?;
                    self.push(Op::RemoveDir { path: path.clone() });
                } else {
                    let blocked = self.dir_conflicts(path, h_dir, wn.id)?;
                    if blocked.is_empty() {
                        self.push(Op::Purge { path: path.clone() });
                        self.write(path, t);
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
                    (Some(_), Some(_)) => self.write(path, t),
                    // An ignored directory or a special file in the way.
                    (None, Some(_)) => {
                        self.push(Op::Purge { path: path.clone() });
                        self.write(path, t);
                    }
                    (_, None) => self.push(Op::Remove { path: path.clone() }),
                },
            },
        }
        Ok(())
    }

    fn write(&mut self, path: &[u8], t: Option<Node>) {
        if let Some(tn) = t {
            self.push(Op::Write {
                path: path.to_vec(),
                mode: tn.mode,
                id: tn.id,
            });
        }
    }

    fn fs_path(&self, path: &[u8]) -> Result<PathBuf> {
        checked_path(self.root, path)
    }

    /// What is on disk at a path the scan did not report (ignored, special, or
    /// nothing). Only called below real directories: the scan never descends through
    /// symlinks, and directories the plan creates or empties are [`Work::Absent`].
    fn disk_state(&self, path: &[u8]) -> Result<Work> {
        let fs_path = self.fs_path(path)?;
        let meta = match fs::symlink_metadata(&fs_path) {
            Ok(m) => m,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(Work::Absent);
            }
            Err(e) => return Err(Error::io("stat", fs_path)(e)),
        };
        let ft = meta.file_type();
        let (mode, data) = if ft.is_dir() {
            return Ok(Work::IgnoredDir);
        } else if ft.is_symlink() {
            let target = fs::read_link(&fs_path).map_err(Error::io("read symlink", &fs_path))?;
            (EntryMode::Link, target.into_os_string().into_vec())
        } else if ft.is_file() {
            let exec = meta.permissions().mode() & 0o100 != 0;
            let data = fs::read(&fs_path).map_err(Error::io("read", &fs_path))?;
            let mode = if exec {
                EntryMode::BlobExecutable
            } else {
                EntryMode::Blob
            };
            (mode, data)
        } else {
            return Ok(Work::Special);
        };
        Ok(Work::IgnoredFile(Node {
            mode,
            id: ObjectId::hash(Kind::Blob, &data),
        }))
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
            let entries = fs::read_dir(&fs_path).map_err(Error::io("read directory", &fs_path))?;
            for entry in entries {
                let entry = entry.map_err(Error::io("read directory", &fs_path))?;
                let name = entry.file_name();
                if !w_entries.contains_key(name.as_bytes()) {
                    out.push(Conflict {
                        path: join(name.as_bytes()),
                        kind: ConflictKind::Ignored,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// `path` under `root`, refusing any component that could leave it.
fn checked_path(root: &Path, path: &[u8]) -> Result<PathBuf> {
    to_fs_path(root, path).ok_or_else(|| Error::UnsafePath {
        path: String::from_utf8_lossy(path).into_owned(),
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
    File { path: PathBuf, stat: StatData },
    Link(Vec<u8>),
}

/// Performs a plan's operations in `root`, keeping `index` up to date for every path it
/// writes or removes. Never writes through a symlink or outside `root`.
///
/// Every blob the plan writes is first read, verified and written to a staging
/// directory inside `staging_parent` (the repository's `.cow`): a missing or corrupt
/// object fails the checkout before anything in the working directory has changed.
/// Only then are the operations run, each file renamed into place.
pub fn apply(
    odb: &Odb,
    root: &Path,
    staging_parent: &Path,
    plan: &Plan,
    index: &mut Index,
) -> Result<Applied> {
    let staging = tempfile::Builder::new()
        .prefix(".tmp-checkout-")
        .tempdir_in(staging_parent)
        .map_err(Error::io("create a directory in", staging_parent))?;
    let writes = plan
        .ops
        .iter()
        .filter(|op| matches!(op, Op::Write { .. }))
        .count();
    let shards = staging_shards(staging.path(), writes)?;
    // Reading, decompressing, verifying and writing the new files is most of the work
    // and independent per file: stage them in parallel, in plan order.
    let staged: Vec<Staged> = plan
        .ops
        .par_iter()
        .enumerate()
        .filter_map(|(n, op)| match op {
            Op::Write { mode, id, .. } => {
                let shard = &shards[n % shards.len()];
                Some(stage(odb, &shard.join(n.to_string()), *mode, id))
            }
            _ => None,
        })
        .collect::<Result<_>>()?;
    let mut applier = Applier {
        root,
        checked: HashSet::new(),
        applied: Applied::default(),
    };
    let mut staged = staged.into_iter();
    let mut ops = plan.ops.as_slice();
    while let Some(op) = ops.first() {
        // A run of writes has no order among its files (their directories exist, and
        // every path is distinct): place them in parallel.
        let writes = ops
            .iter()
            .take_while(|op| matches!(op, Op::Write { .. }))
            .count();
        if writes > 0 {
            let contents = staged.by_ref().take(writes).collect();
            applier.write_all(&ops[..writes], contents, index)?;
            ops = &ops[writes..];
        } else {
            applier.run(op, index)?;
            ops = &ops[1..];
        }
    }
    Ok(applier.applied)
}

/// Files staged per directory, at most.
const FILES_PER_SHARD: usize = 32;
/// Staging directories, at most.
const MAX_SHARDS: usize = 64;

/// The directories to stage `writes` files in: `staging` itself for a few files;
/// otherwise up to [`MAX_SHARDS`] subdirectories of it, marked (where the filesystem
/// supports it) as top of a hierarchy, so that ext4 places each in a different block
/// group rather than all beside `.cow`.
///
/// Creating thousands of files in one directory serializes the threads on that
/// directory's lock, and puts every new inode in one block group, where ext4 without a
/// journal then steps over each inode the last checkout freed there (`recently_deleted`,
/// which was 30% of a kernel checkout's time). git writes each file in its own directory
/// and never concentrates them.
fn staging_shards(staging: &Path, writes: usize) -> Result<Vec<PathBuf>> {
    let count = (writes / FILES_PER_SHARD).min(MAX_SHARDS);
    if count < 2 {
        return Ok(vec![staging.to_owned()]);
    }
    if let Ok(dir) = fs::File::open(staging) {
        // Best effort: other filesystems have no such flag, or refuse it.
        if let Ok(flags) = rustix::fs::ioctl_getflags(&dir) {
            let _ = rustix::fs::ioctl_setflags(&dir, flags | rustix::fs::IFlags::TOPDIR);
        }
    }
    (0..count)
        .map(|i| {
            let shard = staging.join(format!("s{i}"));
            fs::create_dir(&shard).map_err(Error::io("create directory", &shard))?;
            Ok(shard)
        })
        .collect()
}

/// Writes blob `id` to `temp` (or, for a symlink, keeps its target), verified.
fn stage(odb: &Odb, temp: &Path, mode: EntryMode, id: &ObjectId) -> Result<Staged> {
    if mode == EntryMode::Link {
        return Ok(Staged::Link(odb.find_blob(id)?));
    }
    let perms = if mode == EntryMode::BlobExecutable {
        0o777
    } else {
        0o666
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(perms)
        .open(temp)
        .map_err(Error::io("create", temp))?;
    let mut out = io::BufWriter::with_capacity(64 * 1024, &mut file);
    odb.stream_blob(id, &mut out)?;
    out.flush().map_err(Error::io("write", temp))?;
    drop(out);
    let stat = StatData::from_metadata(&file.metadata().map_err(Error::io("stat", temp))?);
    Ok(Staged::File {
        path: temp.to_owned(),
        stat,
    })
}

struct Applier<'a> {
    root: &'a Path,
    /// Directories verified to be real directories (not symlinks) in this run.
    checked: HashSet<Vec<u8>>,
    applied: Applied,
}

impl Applier<'_> {
    fn fs_path(&self, path: &[u8]) -> Result<PathBuf> {
        checked_path(self.root, path)
    }

    /// Checks that every directory above `path` is a real directory, so nothing is
    /// written or removed through a symlink.
    fn check_parents(&mut self, path: &[u8]) -> Result<()> {
        let mut end = 0;
        while let Some(i) = path[end..].iter().position(|&b| b == b'/') {
            let dir = &path[..end + i];
            if !self.checked.contains(dir) {
                let fs_path = self.fs_path(dir)?;
                let meta = fs::symlink_metadata(&fs_path).map_err(Error::io("stat", &fs_path))?;
                if !meta.file_type().is_dir() {
                    return Err(Error::UnsafePath {
                        path: String::from_utf8_lossy(dir).into_owned(),
                    });
                }
                self.checked.insert(dir.to_vec());
            }
            end += i + 1;
        }
        Ok(())
    }

    fn forget(&mut self, path: &[u8], index: &mut Index) {
        index.remove_tree(path);
        self.checked.retain(|d| !is_within(d, path));
    }

    /// Runs `ops`, all writes, in parallel, with their staged `contents`. After a
    /// failure no further file is placed (those already under way finish); every file
    /// placed is recorded, and the first failure is returned.
    fn write_all(&mut self, ops: &[Op], contents: Vec<Staged>, index: &mut Index) -> Result<()> {
        for op in ops {
            self.check_parents(op.path())?;
        }
        assert_eq!(ops.len(), contents.len(), "every write was staged");
        let root = self.root;
        let failed = AtomicBool::new(false);
        let placed: Vec<Option<Result<StatData>>> = ops
            .par_iter()
            .zip(contents)
            .map(|(op, content)| {
                if failed.load(Ordering::Relaxed) {
                    return None;
                }
                let placed = checked_path(root, op.path()).and_then(|p| write_staged(content, &p));
                if placed.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                Some(placed)
            })
            .collect();
        let mut first_error = None;
        for (op, result) in ops.iter().zip(placed) {
            match result {
                Some(Ok(stat)) => self.record_write(op, stat, index),
                Some(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                None => {}
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    fn record_write(&mut self, op: &Op, stat: StatData, index: &mut Index) {
        let Op::Write { path, mode, id } = op else {
            unreachable!("only writes are recorded as written")
        };
        self.applied.written += 1;
        index.remove_tree(path);
        index.insert(path.clone(), fresh_entry(*mode, *id, stat));
    }

    /// Runs one operation other than a write (see [`Applier::write_all`]).
    fn run(&mut self, op: &Op, index: &mut Index) -> Result<()> {
        let path = op.path();
        self.check_parents(path)?;
        let fs_path = self.fs_path(path)?;
        match op {
            Op::Remove { .. } => {
                match fs::remove_file(&fs_path) {
                    Ok(()) => self.applied.removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io("remove", fs_path)(e)),
                }
                self.forget(path, index);
            }
            Op::Purge { .. } => {
                let removed = match fs::symlink_metadata(&fs_path) {
                    Ok(m) if m.file_type().is_dir() => fs::remove_dir_all(&fs_path),
                    Ok(_) => fs::remove_file(&fs_path),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e),
                };
                removed.map_err(Error::io("remove", &fs_path))?;
                self.applied.removed += 1;
                self.forget(path, index);
            }
            Op::RemoveDir { .. } => match fs::remove_dir(&fs_path) {
                Ok(()) => {
                    self.applied.removed += 1;
                    self.forget(path, index);
                }
                // Untracked or ignored files keep it; it may also be gone already.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::NotFound
                    ) => {}
                Err(e) => return Err(Error::io("remove directory", fs_path)(e)),
            },
            Op::MkDir { .. } => {
                match fs::create_dir(&fs_path) {
                    Ok(()) => self.applied.created_dirs += 1,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        let meta =
                            fs::symlink_metadata(&fs_path).map_err(Error::io("stat", &fs_path))?;
                        if !meta.file_type().is_dir() {
                            return Err(Error::io("create directory", &fs_path)(e));
                        }
                    }
                    Err(e) => return Err(Error::io("create directory", fs_path)(e)),
                }
                self.checked.insert(path.to_vec());
            }
            Op::Write { .. } => unreachable!("writes are placed by write_all"),
            Op::SetMode { mode, id, .. } => {
                let file = fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&fs_path)
                    .map_err(Error::io("open", &fs_path))?;
                let meta = file.metadata().map_err(Error::io("stat", &fs_path))?;
                let old = meta.permissions().mode() & 0o7777;
                let new = if *mode == EntryMode::BlobExecutable {
                    old | ((old & 0o444) >> 2)
                } else {
                    old & !0o111
                };
                file.set_permissions(fs::Permissions::from_mode(new))
                    .map_err(Error::io("change the mode of", &fs_path))?;
                let meta = file.metadata().map_err(Error::io("stat", &fs_path))?;
                self.applied.modes_changed += 1;
                index.insert(
                    path.to_vec(),
                    fresh_entry(*mode, *id, StatData::from_metadata(&meta)),
                );
            }
        }
        Ok(())
    }
}

/// Puts a staged file or symlink at `fs_path`; returns its stat data.
fn write_staged(content: Staged, fs_path: &Path) -> Result<StatData> {
    match content {
        Staged::File { path: temp, stat } => {
            place(&temp, fs_path)?;
            Ok(stat)
        }
        Staged::Link(target) => {
            let temp = temp_name(fs_path);
            std::os::unix::fs::symlink(OsStr::from_bytes(&target), &temp)
                .map_err(Error::io("create symlink", &temp))?;
            let meta = fs::symlink_metadata(&temp).map_err(Error::io("stat", &temp))?;
            place(&temp, fs_path)?;
            Ok(StatData::from_metadata(&meta))
        }
    }
}

/// Removes the file or symlink at `fs_path` (never following one) and renames `temp`
/// there. Across filesystems (a mount inside the working directory) the file is copied
/// beside its place first.
///
/// Removing first rather than renaming over the old file spares ext4 the writeback it
/// starts for every rename that replaces a file (`auto_da_alloc`), as git's unlink and
/// write in place does. If the process dies in between, or the machine before the data
/// reaches the disk, the file may be missing or empty afterwards; its content is not
/// lost, because the plan replaces only files whose content is in a snapshot (or that
/// the user chose to discard), and `status` shows the file as changed.
fn place(temp: &Path, fs_path: &Path) -> Result<()> {
    match fs::remove_file(fs_path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            let _ = fs::remove_file(temp);
            return Err(Error::io("write", fs_path)(e));
        }
    }
    match fs::rename(temp, fs_path) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let beside = temp_name(fs_path);
            fs::copy(temp, &beside).map_err(Error::io("write", &beside))?;
            fs::rename(&beside, fs_path).map_err(|e| {
                let _ = fs::remove_file(&beside);
                Error::io("write", fs_path)(e)
            })
        }
        Err(e) => {
            let _ = fs::remove_file(temp);
            Err(Error::io("write", fs_path)(e))
        }
    }
}

fn temp_name(fs_path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = std::ffi::OsString::from(format!(".cow-tmp-{}-{n}-", std::process::id()));
    name.push(fs_path.file_name().unwrap_or_default());
    fs_path.with_file_name(name)
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
