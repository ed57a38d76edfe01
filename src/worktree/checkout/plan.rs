//! The planner: the current snapshot (H), the target (T) and the working directory
//! as scanned (W), compared path by path into the steps of a [`Plan`] or the
//! [`Conflict`]s that keep it from running. Nothing here changes the working directory.

use crate::fs::IoResultExt;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use super::{Conflict, ConflictKind, Op, Plan, PlanOptions, split_parent, unsafe_path};
use crate::object::{EntryMode, Kind, ObjectId, RepoPath, RepoPathBuf, is_within, validate_name};
use crate::odb::Odb;
use crate::worktree::{Error, Result, Scan, beneath};

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

/// Plans writing the tree `target` into `root`, a directory that belongs to no
/// repository (`restore --target`): as [`plan`] with no current snapshot and a working
/// directory that tracks nothing, so every path the target has is looked at on disk.
/// What is there already and equals the target is kept; anything else in the way is a
/// [`ConflictKind::Ignored`] conflict unless [`PlanOptions::replace_untracked`]; paths
/// the target does not have are never looked at. Nothing is changed.
pub fn plan_into(
    odb: &Odb,
    root: &Path,
    target: ObjectId,
    options: &PlanOptions<'_>,
) -> Result<Plan> {
    let mut trees = crate::object::Trees::new();
    trees.insert_encoded(ObjectId::empty_tree(), Vec::new());
    let scan = Scan {
        tree: ObjectId::empty_tree(),
        trees,
        files: 0,
        hashed: 0,
        new_objects: 0,
        bytes_added: 0,
        warnings: Vec::new(),
        index: None,
        dirs: None,
    };
    plan(odb, root, &scan, None, target, options)
}

impl Planner<'_> {
    fn in_scope(&self, path: &[u8]) -> bool {
        self.options.paths.is_empty()
            || self
                .options
                .paths
                .iter()
                .any(|p| is_within(path, p.as_bytes()))
    }

    fn on_the_way(&self, path: &[u8]) -> bool {
        self.options
            .paths
            .iter()
            .any(|p| p.as_bytes().len() > path.len() && is_within(p.as_bytes(), path))
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
            path: owned(path),
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
    ///
    /// `t` is what the target has there: with [`PlanOptions::keep_unsaved`], a file
    /// whose content is already the target's (only its mode differs), or is in a
    /// snapshot (a restore of an older version, say), loses nothing.
    fn replaceable(
        &self,
        h: Option<Node>,
        t: Option<Node>,
        w: Work,
    ) -> std::result::Result<(), ConflictKind> {
        let same_content = |t: Option<Node>| {
            matches!((w.node(), t), (Some(wn), Some(tn)) if wn.id == tn.id
                && (wn.mode == EntryMode::Link) == (tn.mode == EntryMode::Link))
        };
        match w {
            Work::Absent | Work::Unknown => Ok(()),
            _ if w.node().is_some() && w.node() == h => Ok(()),
            Work::Scanned(_) if h.is_some() && !self.options.discard_changes => {
                Err(ConflictKind::Modified)
            }
            Work::Scanned(wn)
                if h.is_some()
                    && self.options.keep_unsaved
                    && !same_content(t)
                    && !self.saved(wn) =>
            {
                Err(ConflictKind::Modified)
            }
            Work::Scanned(_) if h.is_some() => Ok(()),
            _ if self.options.replace_untracked => Ok(()),
            Work::IgnoredFile(_) | Work::IgnoredDir => Err(ConflictKind::Ignored),
            _ => Err(ConflictKind::Untracked),
        }
    }

    /// Whether a file's content is in a snapshot ([`PlanOptions::saved`]): losing it
    /// from the working directory loses nothing. Merely being in the store is not
    /// enough: what no ref reaches goes at the next gc. Directories are looked at file
    /// by file, so only blobs count.
    fn saved(&self, node: Node) -> bool {
        !node.mode.is_tree() && self.options.saved.is_some_and(|s| s.contains(&node.id))
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
                _ => match self.replaceable(h, t, w) {
                    Ok(()) => self.push(Op::Purge { path: owned(path) }),
                    Err(kind) => {
                        self.conflict(path, kind);
                        return Ok(());
                    }
                },
            }
            self.push(Op::MkDir { path: owned(path) });
            return self.dir(path, None, Some(tn), Work::Absent);
        }
        // The target has a file, a symlink or nothing here.
        match w {
            Work::Absent | Work::Unknown => self.write(path, t)?,
            Work::Scanned(wn) if wn.mode.is_tree() => {
                if t.is_none() {
                    // Remove what H tracked; untracked files keep the directory.
                    self.dir(path, h_dir, None, w)?;
                    self.push(Op::RemoveDir { path: owned(path) });
                } else {
                    let blocked = self.dir_conflicts(path, h_dir, wn.id)?;
                    if blocked.is_empty() {
                        self.push(Op::Purge { path: owned(path) });
                        self.write(path, t)?;
                    } else {
                        self.plan.conflicts.extend(blocked);
                    }
                }
            }
            Work::IgnoredDir if t.is_none() => {
                // Only what H tracked goes; ignored files keep the directory.
                self.dir(path, h_dir, None, Work::Unknown)?;
                self.push(Op::RemoveDir { path: owned(path) });
            }
            Work::Special if t.is_none() => {}
            _ => match self.replaceable(h, t, w) {
                Err(kind) => self.conflict(path, kind),
                Ok(()) => match (w.node(), t) {
                    (Some(wn), Some(tn))
                        if wn.id == tn.id
                            && wn.mode != EntryMode::Link
                            && tn.mode != EntryMode::Link =>
                    {
                        self.push(Op::SetMode {
                            path: owned(path),
                            mode: tn.mode,
                            id: tn.id,
                        });
                    }
                    (Some(_), Some(_)) => self.write(path, t)?,
                    // An ignored directory or a special file in the way.
                    (None, Some(_)) => {
                        self.push(Op::Purge { path: owned(path) });
                        self.write(path, t)?;
                    }
                    (_, None) => self.push(Op::Remove { path: owned(path) }),
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
                    path: owned(path),
                    reason,
                });
            }
        }
        self.push(Op::Write {
            path: owned(path),
            mode: tn.mode,
            id: tn.id,
        });
        Ok(())
    }

    /// The file at `path`, named for messages (it is reached through `root_fd`).
    fn fs_path(&self, path: &[u8]) -> PathBuf {
        RepoPath::from_bytes_unchecked(path).to_fs_path(self.root)
    }

    /// What is on disk at a path the scan did not report (ignored, special, or
    /// nothing). Only called below real directories: the scan never descends through
    /// symlinks, and directories the plan creates or empties are [`Work::Absent`].
    /// Everything is looked at from the root's descriptor without following a symlink;
    /// an ignored file is hashed as a stream, whatever its size.
    fn disk_state(&self, path: &[u8]) -> Result<Work> {
        let fs_path = self.fs_path(path);
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
                let id = crate::worktree::scan::hash_stream(&mut file, stat.st_size as u64)
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
            } else if let Err(kind) = self.replaceable(hn, None, Work::Scanned(*wn)) {
                out.push(Conflict {
                    path: owned(&sub),
                    kind,
                });
            }
        }
        // Ignored files are on disk but not in the scan.
        if !self.options.replace_untracked {
            let fs_path = self.fs_path(path);
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
            let mut reserved = false;
            for name in names {
                if w_entries.contains_key(&name) {
                    continue;
                }
                if validate_name(&name).is_err() {
                    // A name no snapshot holds (`.cow` of a nested repository): the
                    // directory that holds it is what is in the way.
                    reserved = true;
                    continue;
                }
                out.push(Conflict {
                    path: owned(&join(&name)),
                    kind: ConflictKind::Ignored,
                });
            }
            if reserved {
                out.push(Conflict {
                    path: owned(path),
                    kind: ConflictKind::Ignored,
                });
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
        path: owned(path),
        reason,
    })
}

/// `path`, built by the planner from names of trees (valid names, so unchecked), as
/// the plan holds it.
fn owned(path: &[u8]) -> RepoPathBuf {
    RepoPathBuf::from_vec_unchecked(path.to_vec())
}
