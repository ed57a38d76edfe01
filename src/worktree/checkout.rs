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

use super::index::{Index, IndexEntry, StatData};
use super::{Error, Result, Scan, quote_path, to_fs_path};
use crate::object::{EntryMode, Kind, ObjectId, Tree};
use crate::odb::Odb;

/// Knobs for [`plan`].
#[derive(Clone, Copy, Debug, Default)]
pub struct PlanOptions<'a> {
    /// Make every path either snapshot tracks equal to the target, discarding local
    /// changes and replacing untracked or ignored files in the way.
    pub force: bool,
    /// Only these paths (and what is below them); empty for all.
    pub paths: &'a [Vec<u8>],
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
    /// Nothing there.
    Absent,
    /// Found by the scan.
    Scanned(Node),
    /// An ignored file or symlink (hashed from disk).
    IgnoredFile(Node),
    /// An ignored directory.
    IgnoredDir,
}

impl Work {
    fn node(self) -> Option<Node> {
        match self {
            Work::Scanned(n) | Work::IgnoredFile(n) => Some(n),
            _ => None,
        }
    }

    fn is_dir(self) -> bool {
        matches!(self, Work::IgnoredDir) || self.node().is_some_and(|n| n.mode.is_tree())
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
            Some(t) => t.clone(),
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

    /// Descends into a directory present (or to be created) on the target side.
    fn dir(&mut self, path: &mut Vec<u8>, h: Option<Node>, t: Option<Node>, w: Work) -> Result<()> {
        let mut names: BTreeMap<Vec<u8>, (Option<Node>, Option<Node>, Work)> = BTreeMap::new();
        for (name, n) in self.children(h)? {
            names.entry(name).or_insert((None, None, Work::Absent)).0 = Some(n);
        }
        for (name, n) in self.children(t)? {
            names.entry(name).or_insert((None, None, Work::Absent)).1 = Some(n);
        }
        if let Work::Scanned(wn) = w {
            for (name, n) in self.children(Some(wn))? {
                names.entry(name).or_insert((None, None, Work::Absent)).2 = Work::Scanned(n);
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

    fn conflict(&mut self, path: &[u8], h: Option<Node>, w: Work) {
        let kind = match (h, w) {
            (_, Work::IgnoredFile(_) | Work::IgnoredDir) => ConflictKind::Ignored,
            (Some(_), _) => ConflictKind::Modified,
            (None, _) => ConflictKind::Untracked,
        };
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
        let force = self.options.force;
        if !self.in_scope(path) {
            // An ancestor of a path to restore: go through it, changing only what must.
            if self.on_the_way(path) {
                let t_dir = t.filter(|n| n.mode.is_tree());
                match (t_dir, w) {
                    (Some(_), Work::Scanned(wn)) if wn.mode.is_tree() => self.dir(path, h, t, w)?,
                    (Some(_), _) => self.visit_scoped(path, h, t, w)?,
                    (None, Work::Scanned(wn)) if wn.mode.is_tree() => {
                        self.dir(path, h.filter(|n| n.mode.is_tree()), None, w)?
                    }
                    _ => {}
                }
            }
            return Ok(());
        }
        if !force && h == t {
            return Ok(()); // unchanged between the snapshots: local state stays
        }
        self.visit_scoped(path, h, t, w)
    }

    fn visit_scoped(
        &mut self,
        path: &mut Vec<u8>,
        h: Option<Node>,
        t: Option<Node>,
        w: Work,
    ) -> Result<()> {
        let force = self.options.force;
        let w = match w {
            Work::Absent if t.is_some() || force => self.disk_state(path)?,
            w => w,
        };
        if w.node() == t && !matches!(w, Work::IgnoredDir) {
            return Ok(()); // already as the target has it
        }
        if h.is_none() && t.is_none() {
            return Ok(()); // untracked on both sides: not ours to touch
        }
        let clean = w.node() == h && !matches!(w, Work::IgnoredDir);
        let t_dir = t.filter(|n| n.mode.is_tree());
        if let Some(tn) = t_dir {
            match w {
                Work::Scanned(wn) if wn.mode.is_tree() => {
                    return self.dir(path, h.filter(|n| n.mode.is_tree()), Some(tn), w);
                }
                Work::IgnoredDir => {
                    // Reuse the directory; what is in it is checked entry by entry.
                    return self.dir(path, h.filter(|n| n.mode.is_tree()), Some(tn), Work::Absent);
                }
                Work::Absent => {}
                _ if clean || force => self.push(Op::Purge { path: path.clone() }),
                _ => {
                    self.conflict(path, h, w);
                    return Ok(());
                }
            }
            self.push(Op::MkDir { path: path.clone() });
            return self.dir(path, None, Some(tn), Work::Absent);
        }
        // The target has a file, a symlink or nothing here.
        if w.is_dir() {
            let Work::Scanned(wn) = w else {
                // An ignored directory where the target has a file.
                if force {
                    self.push(Op::Purge { path: path.clone() });
                    self.write(path, t);
                } else if t.is_some() {
                    self.conflict(path, h, w);
                }
                return Ok(());
            };
            let h_dir = h.filter(|n| n.mode.is_tree());
            if t.is_none() {
                // Remove what the snapshot tracked; untracked files keep the directory.
                self.dir(path, h_dir, None, w)?;
                self.push(Op::RemoveDir { path: path.clone() });
            } else if force || (clean && !self.has_untracked_on_disk(path, wn.id)?) {
                self.push(Op::Purge { path: path.clone() });
                self.write(path, t);
            } else {
                self.conflict(path, h, w);
            }
            return Ok(());
        }
        match (w.node(), t) {
            (None, _) => self.write(path, t),
            (Some(_), _) if !(clean || force) => self.conflict(path, h, w),
            (Some(wn), Some(tn))
                if wn.id == tn.id && tn.mode != EntryMode::Link && wn.mode != EntryMode::Link =>
            {
                self.push(Op::SetMode {
                    path: path.clone(),
                    mode: tn.mode,
                    id: tn.id,
                });
            }
            (Some(_), Some(_)) => self.write(path, t),
            (Some(_), None) => self.push(Op::Remove { path: path.clone() }),
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
        to_fs_path(self.root, path).ok_or_else(|| Error::UnsafePath {
            path: String::from_utf8_lossy(path).into_owned(),
        })
    }

    /// What is on disk at a path the scan did not report (ignored, or nothing).
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
        if ft.is_dir() {
            return Ok(Work::IgnoredDir);
        }
        let (mode, data) = if ft.is_symlink() {
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
            // A FIFO, socket or device: in the way, and never opened.
            return Ok(Work::IgnoredDir);
        };
        Ok(Work::IgnoredFile(Node {
            mode,
            id: ObjectId::hash(Kind::Blob, &data),
        }))
    }

    /// Whether a directory on disk holds anything its scanned tree does not (ignored
    /// files), which removing it would destroy.
    fn has_untracked_on_disk(&self, path: &[u8], tree: ObjectId) -> Result<bool> {
        let fs_path = self.fs_path(path)?;
        let known: Tree = match self.scan.trees.get(&tree) {
            Some(t) => t.clone(),
            None => self.odb.find_tree(&tree)?,
        };
        let entries = fs::read_dir(&fs_path).map_err(Error::io("read directory", &fs_path))?;
        for entry in entries {
            let entry = entry.map_err(Error::io("read directory", &fs_path))?;
            let name = entry.file_name();
            let Some(e) = known.find(name.as_bytes()) else {
                return Ok(true);
            };
            if e.mode.is_tree() {
                let mut sub = path.to_vec();
                sub.push(b'/');
                sub.extend_from_slice(name.as_bytes());
                if self.has_untracked_on_disk(&sub, e.id)? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
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

/// Performs a plan's operations in `root`, keeping `index` up to date for every path it
/// writes or removes. Never writes through a symlink or outside `root`.
pub fn apply(odb: &Odb, root: &Path, plan: &Plan, index: &mut Index) -> Result<Applied> {
    let mut applier = Applier {
        odb,
        root,
        checked: HashSet::new(),
        applied: Applied::default(),
    };
    for op in &plan.ops {
        applier.run(op, index)?;
    }
    Ok(applier.applied)
}

struct Applier<'a> {
    odb: &'a Odb,
    root: &'a Path,
    /// Directories verified to be real directories (not symlinks) in this run.
    checked: HashSet<Vec<u8>>,
    applied: Applied,
}

impl Applier<'_> {
    fn fs_path(&self, path: &[u8]) -> Result<PathBuf> {
        to_fs_path(self.root, path).ok_or_else(|| Error::UnsafePath {
            path: String::from_utf8_lossy(path).into_owned(),
        })
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
                let meta = fs::symlink_metadata(&fs_path);
                let removed = match meta {
                    Ok(m) if m.file_type().is_dir() => fs::remove_dir_all(&fs_path),
                    Ok(_) => fs::remove_file(&fs_path),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(e),
                };
                removed.map_err(Error::io("remove", &fs_path))?;
                self.applied.removed += 1;
                self.forget(path, index);
            }
            Op::RemoveDir { .. } => {
                match fs::remove_dir(&fs_path) {
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
                }
            }
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
            Op::Write { mode, id, .. } => {
                let stat = self.write(&fs_path, *mode, id)?;
                self.applied.written += 1;
                index.remove_tree(path);
                index.insert(path.to_vec(), fresh_entry(*mode, *id, stat));
            }
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

    /// Writes a blob to a temporary name beside `fs_path`, verified, then renames it into
    /// place (replacing a file or symlink, never following one). Returns its stat data.
    fn write(&self, fs_path: &Path, mode: EntryMode, id: &ObjectId) -> Result<StatData> {
        let parent = fs_path
            .parent()
            .expect("paths under the root have a parent");
        let temp = temp_name(fs_path);
        if mode == EntryMode::Link {
            let target = self.odb.find_blob(id)?;
            std::os::unix::fs::symlink(OsStr::from_bytes(&target), &temp)
                .map_err(Error::io("create symlink", &temp))?;
            let meta = fs::symlink_metadata(&temp).map_err(Error::io("stat", &temp))?;
            return self.rename(&temp, fs_path, StatData::from_metadata(&meta));
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
            .custom_flags(libc::O_NOFOLLOW)
            .open(&temp)
            .map_err(Error::io("create", &temp))?;
        let written = (|| {
            let mut out = io::BufWriter::with_capacity(64 * 1024, &mut file);
            self.odb.stream_blob(id, &mut out)?;
            out.flush().map_err(Error::io("write", &temp))?;
            drop(out);
            Ok(StatData::from_metadata(
                &file.metadata().map_err(Error::io("stat", &temp))?,
            ))
        })();
        match written {
            Ok(stat) => self.rename(&temp, fs_path, stat),
            Err(e) => {
                let _ = fs::remove_file(&temp);
                let _ = parent;
                Err(e)
            }
        }
    }

    fn rename(&self, temp: &Path, fs_path: &Path, stat: StatData) -> Result<StatData> {
        if let Err(e) = fs::rename(temp, fs_path) {
            let _ = fs::remove_file(temp);
            return Err(Error::io("write", fs_path)(e));
        }
        Ok(stat)
    }
}

fn temp_name(fs_path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
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
