//! The planner against an oracle: every pair of path kinds in the current snapshot
//! (H), the target (T) and the working directory (W) — absent, file, executable,
//! symlink, directory, empty directory — with W equal to H, to T or to neither, seen
//! by the scan or ignored, under each set of options a caller uses (as jj's
//! `test_local_working_copy.rs` does for its checkouts).
//!
//! Each case is built for real: H and T are trees in an [`Odb`], W is a temporary
//! directory read by [`scan`], and the plan comes from [`plan`]. The expected plan comes
//! from [`Oracle`], a small model written from the rules in DESIGN.md ("No data loss on
//! checkout", "checkout --force", "Ignored files in the way") and the module's own
//! documentation, over in-memory values rather than the planner's trees and scan. A
//! plan without conflicts is then applied, and the directory compared with what the
//! oracle's steps make of W, and with the target.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rayon::prelude::*;

use super::{Conflict, ConflictKind, Op, PlanOptions, apply, plan};
use crate::object::{Entry, EntryMode, Kind as ObjectKind, ObjectId, RepoPathBuf, Tree};
use crate::odb::Odb;
use crate::worktree::{Index, ScanOptions, scan};

/// What a snapshot or the working directory has at a path.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Thing {
    Absent,
    /// A file, an executable or a symlink (its target as content).
    File(EntryMode, Vec<u8>),
    Dir(BTreeMap<Vec<u8>, Thing>),
}

use Thing::{Absent, Dir, File};

/// The path kinds of the matrix.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PathKind {
    Absent,
    File,
    Executable,
    Symlink,
    /// A directory holding the file `f`.
    Dir,
    EmptyDir,
}

const KINDS: [PathKind; 6] = [
    PathKind::Absent,
    PathKind::File,
    PathKind::Executable,
    PathKind::Symlink,
    PathKind::Dir,
    PathKind::EmptyDir,
];

impl PathKind {
    /// Whether things of this kind differ by their content.
    fn has_content(self) -> bool {
        !matches!(self, PathKind::Absent | PathKind::EmptyDir)
    }

    /// A thing of this kind whose content (a file's bytes, a symlink's target, the
    /// bytes of the directory's file `f`) is `content`.
    fn thing(self, content: &[u8]) -> Thing {
        let file = |mode| File(mode, content.to_vec());
        match self {
            PathKind::Absent => Absent,
            PathKind::File => file(EntryMode::Blob),
            PathKind::Executable => file(EntryMode::BlobExecutable),
            PathKind::Symlink => file(EntryMode::Link),
            PathKind::Dir => Dir(BTreeMap::from([(b"f".to_vec(), file(EntryMode::Blob))])),
            PathKind::EmptyDir => Dir(BTreeMap::new()),
        }
    }
}

/// The options callers plan with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// `checkout`.
    Safe,
    /// `discard_changes` alone: local changes to tracked files go (what `restore`
    /// did before it refused over unsaved work).
    Discard,
    /// `restore` without `--force`: every path in scope is looked at, but a tracked
    /// file whose content is in neither snapshot is refused.
    Restore,
    /// `checkout --force` (and `restore --force`).
    Force,
}

impl Mode {
    fn discard(self) -> bool {
        self != Mode::Safe
    }

    fn replace(self) -> bool {
        self == Mode::Force
    }

    fn keep_unsaved(self) -> bool {
        self == Mode::Restore
    }
}

/// One combination: the path `p` in H, T and W.
#[derive(Clone, Debug)]
struct Case {
    h: Thing,
    t: Thing,
    w: Thing,
    /// Whether `p` is ignored (a `.cowignore` at the root names it), so the scan does
    /// not report what W has there.
    ignored: bool,
    mode: Mode,
    /// The kinds in H, T and W.
    kinds: [PathKind; 3],
    /// For the report: the kinds and where each content came from.
    label: String,
}

/// Every combination. Contents are tagged by the side they come from: H's things hold
/// `h`, T's `t` (or `h` as well, so that a file can become an executable with the
/// same content, or stay unchanged), and W's `h`, `t` or `w` — equal to H, equal to
/// T, or local.
fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for hk in KINDS {
        for tk in KINDS {
            let mut t_sources: Vec<&[u8]> = vec![b"t"];
            if hk.has_content() && tk.has_content() {
                t_sources.push(b"h");
            }
            for t_source in t_sources {
                for wk in KINDS {
                    let w_sources: &[&[u8]] = if wk.has_content() {
                        &[b"h", b"t", b"w"]
                    } else {
                        &[b"-"]
                    };
                    for &w_source in w_sources {
                        let ignorable: &[bool] = if wk == PathKind::Absent {
                            &[false]
                        } else {
                            &[false, true]
                        };
                        for &ignored in ignorable {
                            for mode in [Mode::Safe, Mode::Discard, Mode::Restore, Mode::Force] {
                                let label = format!(
                                    "H={hk:?} T={tk:?}({}) W={wk:?}({}){} {mode:?}",
                                    t_source.escape_ascii(),
                                    w_source.escape_ascii(),
                                    if ignored { " ignored" } else { "" },
                                );
                                out.push(Case {
                                    h: hk.thing(b"h"),
                                    t: tk.thing(t_source),
                                    w: wk.thing(w_source),
                                    ignored,
                                    mode,
                                    kinds: [hk, tk, wk],
                                    label,
                                });
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

fn blob_id(content: &[u8]) -> ObjectId {
    ObjectId::hash(ObjectKind::Blob, content)
}

/// A path of the matrix, as plans hold it.
fn rp(path: &[u8]) -> RepoPathBuf {
    RepoPathBuf::from_bytes(path.to_vec()).expect("a valid path")
}

fn join(path: &[u8], name: &[u8]) -> Vec<u8> {
    [path, b"/", name].concat()
}

fn children(thing: &Thing) -> &BTreeMap<Vec<u8>, Thing> {
    static NONE: BTreeMap<Vec<u8>, Thing> = BTreeMap::new();
    match thing {
        Dir(entries) => entries,
        _ => &NONE,
    }
}

fn child<'a>(thing: &'a Thing, name: &[u8]) -> &'a Thing {
    children(thing).get(name).unwrap_or(&Absent)
}

/// The expected plan, from the rules rather than from the planner's code:
///
/// - A path H and T agree on is left as W has it, unless forced (the module docs:
///   "subtrees whose ids are equal in H and T are skipped").
/// - A path neither snapshot tracks is never touched, even when forced ("files it
///   does not own are left alone"; `--force` keeps untracked files not in the way).
/// - An ignored path is not part of W: when T puts nothing there it is left alone,
///   unless forced ("--force makes the working directory equal to the target for
///   every path either snapshot tracks").
/// - A path W already has as T has it needs nothing.
/// - Otherwise W's content there is replaced or removed, which loses nothing when it
///   is H's content or an empty directory (it holds no file). Anything else is a
///   conflict naming the path: `Modified` for a tracked path (allowed by
///   `discard_changes`), `Untracked` or `Ignored` for one H does not have or the scan
///   does not see (allowed by `replace_untracked`).
/// - A directory in the way of a file is checked file by file, and its files are
///   named; an ignored directory is refused as a whole, unless untracked and ignored
///   files may be replaced (the scan did not look inside it).
/// - A directory in W where T has one is kept and merged into; a directory T drops
///   loses what H tracked in it and goes when nothing untracked is left.
/// - Replacing a file by the same content with the other executable bit changes the
///   mode only.
/// - `restore` (`keep_unsaved`): every path in scope is looked at as with
///   `discard_changes`, but a tracked file whose content is in no snapshot (no ref
///   reaches it) is a `Modified` conflict (a backup tool must not lose unsaved work); one
///   that holds T's content with another mode is not (nothing but the mode changes).
struct Oracle {
    discard: bool,
    /// With `discard`: a tracked file whose content is in no snapshot is still refused
    /// (`Modified`); one whose content is T's (only its mode differs) is not.
    keep_unsaved: bool,
    replace: bool,
    ops: Vec<Op>,
    conflicts: Vec<Conflict>,
}

impl Oracle {
    fn forced(&self) -> bool {
        self.discard || self.replace
    }

    fn visit(&mut self, path: &[u8], h: &Thing, t: &Thing, w: &Thing, ignored: bool) {
        if !self.forced() && h == t {
            return;
        }
        if *h == Absent && *t == Absent {
            return;
        }
        if ignored && *t == Absent && !self.forced() {
            return;
        }
        if w == t {
            return;
        }
        match (t, w) {
            (Dir(_), Dir(_)) => self.merge(path, h, t, w, ignored),
            (Dir(_), Absent) => self.create(path, t),
            (Dir(_), File(..)) => {
                if self.may_lose(path, h, t, w, ignored) {
                    self.ops.push(Op::Purge { path: rp(path) });
                    self.create(path, t);
                }
            }
            (Absent, Absent) => unreachable!("W is as T has it"),
            (File(..), Absent) => self.write(path, t),
            (Absent, Dir(_)) => {
                self.merge(path, h, t, w, ignored);
                self.ops.push(Op::RemoveDir { path: rp(path) });
            }
            (File(..), Dir(_)) => {
                let clear = if ignored {
                    self.may_lose_unseen(path)
                } else if w == h {
                    true
                } else {
                    self.may_lose_each(path, h, w)
                };
                if clear {
                    self.ops.push(Op::Purge { path: rp(path) });
                    self.write(path, t);
                }
            }
            (_, File(w_mode, w_content)) => {
                if !self.may_lose(path, h, t, w, ignored) {
                    return;
                }
                match t {
                    Absent => self.ops.push(Op::Remove { path: rp(path) }),
                    File(t_mode, t_content)
                        if t_content == w_content
                            && *t_mode != EntryMode::Link
                            && *w_mode != EntryMode::Link =>
                    {
                        self.ops.push(Op::SetMode {
                            path: rp(path),
                            mode: *t_mode,
                            id: blob_id(t_content),
                        })
                    }
                    _ => self.write(path, t),
                }
            }
        }
    }

    /// Visits every name of the directories at `path`.
    fn merge(&mut self, path: &[u8], h: &Thing, t: &Thing, w: &Thing, ignored: bool) {
        let names: BTreeSet<&Vec<u8>> = [h, t, w]
            .into_iter()
            .flat_map(|x| children(x).keys())
            .collect();
        for name in names {
            let (h, t, w) = (child(h, name), child(t, name), child(w, name));
            self.visit(&join(path, name), h, t, w, ignored);
        }
    }

    /// Creates `t` where nothing is.
    fn create(&mut self, path: &[u8], t: &Thing) {
        match t {
            Absent => {}
            File(..) => self.write(path, t),
            Dir(entries) => {
                self.ops.push(Op::MkDir { path: rp(path) });
                for (name, t) in entries {
                    self.create(&join(path, name), t);
                }
            }
        }
    }

    fn write(&mut self, path: &[u8], t: &Thing) {
        let File(mode, content) = t else {
            unreachable!("only files are written")
        };
        self.ops.push(Op::Write {
            path: rp(path),
            mode: *mode,
            id: blob_id(content),
        });
    }

    /// Whether W's `w` at `path` may be lost; records the conflict when not.
    fn may_lose(&mut self, path: &[u8], h: &Thing, t: &Thing, w: &Thing, ignored: bool) -> bool {
        if w == h || *w == Dir(BTreeMap::new()) {
            return true;
        }
        let (kind, allowed) = if ignored {
            (ConflictKind::Ignored, self.replace)
        } else if *h != Absent {
            let same_content = matches!((w, t), (File(wm, wc), File(tm, tc))
                if wc == tc && (*wm == EntryMode::Link) == (*tm == EntryMode::Link));
            // `h` and `t` are in snapshots (`PlanOptions::saved`); `w` never is.
            let stored = matches!(w, File(_, c) if c.as_slice() != b"w");
            let unsaved = self.keep_unsaved && !same_content && !stored;
            (ConflictKind::Modified, self.discard && !unsaved)
        } else {
            (ConflictKind::Untracked, self.replace)
        };
        if !allowed {
            self.conflicts.push(Conflict {
                path: rp(path),
                kind,
            });
        }
        allowed
    }

    /// Whether the ignored directory at `path` may be lost: the scan did not look
    /// inside, so neither does the planner, and it is refused as a whole unless
    /// untracked and ignored files may be replaced — even when it is empty or holds
    /// only H's files (more cautious than losing nothing requires).
    fn may_lose_unseen(&mut self, path: &[u8]) -> bool {
        if !self.replace {
            self.conflicts.push(Conflict {
                path: rp(path),
                kind: ConflictKind::Ignored,
            });
        }
        self.replace
    }

    /// Whether every file in W's directory `w` at `path` may be lost, naming each that
    /// may not.
    fn may_lose_each(&mut self, path: &[u8], h: &Thing, w: &Thing) -> bool {
        let mut clear = true;
        for (name, w) in children(w) {
            let (path, h) = (join(path, name), child(h, name));
            clear &= match w {
                Dir(_) if w != h => self.may_lose_each(&path, h, w),
                _ => self.may_lose(&path, h, &Absent, w, false),
            };
        }
        clear
    }
}

/// The oracle's plan for `case`: its steps and its conflicts.
fn expected(case: &Case) -> (Vec<Op>, Vec<Conflict>) {
    let mut oracle = Oracle {
        discard: case.mode.discard(),
        keep_unsaved: case.mode.keep_unsaved(),
        replace: case.mode.replace(),
        ops: Vec::new(),
        conflicts: Vec::new(),
    };
    oracle.visit(b"p", &case.h, &case.t, &case.w, case.ignored);
    (oracle.ops, oracle.conflicts)
}

/// The root tree holding `thing` as `p`, written to `odb`.
fn snapshot(odb: &Odb, thing: &Thing) -> ObjectId {
    fn id(odb: &Odb, thing: &Thing) -> (EntryMode, ObjectId) {
        match thing {
            Absent => unreachable!("absent things have no id"),
            File(mode, content) => (*mode, odb.write_blob(content).expect("blob").id),
            Dir(entries) => {
                let entries = entries
                    .iter()
                    .map(|(name, thing)| {
                        let (mode, id) = id(odb, thing);
                        Entry {
                            mode,
                            name: name.clone(),
                            id,
                        }
                    })
                    .collect();
                let tree = Tree::from_entries(entries).expect("valid tree");
                (EntryMode::Tree, odb.write_tree(&tree).expect("tree").id)
            }
        }
    }
    let root = match thing {
        Absent => Dir(BTreeMap::new()),
        _ => Dir(BTreeMap::from([(b"p".to_vec(), thing.clone())])),
    };
    id(odb, &root).1
}

/// Puts `thing` at `path` on disk.
fn put(path: &Path, thing: &Thing) {
    match thing {
        Absent => {}
        File(EntryMode::Link, target) => {
            std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), path).unwrap()
        }
        File(mode, content) => {
            fs::write(path, content).unwrap();
            let bits = if *mode == EntryMode::BlobExecutable {
                0o755
            } else {
                0o644
            };
            fs::set_permissions(path, fs::Permissions::from_mode(bits)).unwrap();
        }
        Dir(entries) => {
            fs::create_dir(path).unwrap();
            for (name, thing) in entries {
                put(&path.join(std::ffi::OsStr::from_bytes(name)), thing);
            }
        }
    }
}

/// What is on disk at `path`.
fn read(path: &Path) -> Thing {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Absent;
    };
    if meta.file_type().is_symlink() {
        File(
            EntryMode::Link,
            fs::read_link(path).unwrap().as_os_str().as_bytes().to_vec(),
        )
    } else if meta.is_dir() {
        let mut entries = BTreeMap::new();
        for entry in fs::read_dir(path).unwrap() {
            let entry = entry.unwrap();
            entries.insert(entry.file_name().as_bytes().to_vec(), read(&entry.path()));
        }
        Dir(entries)
    } else {
        let mode = if meta.permissions().mode() & 0o100 != 0 {
            EntryMode::BlobExecutable
        } else {
            EntryMode::Blob
        };
        File(mode, fs::read(path).unwrap())
    }
}

/// What the steps `ops` make of `w` at `p`: the state after a correct [`apply`].
fn run_model(
    w: &Thing,
    ops: &[Op],
    contents: &BTreeMap<ObjectId, Vec<u8>>,
) -> Result<Thing, String> {
    let mut root = BTreeMap::new();
    if *w != Absent {
        root.insert(b"p".to_vec(), w.clone());
    }
    for op in ops {
        let mut names: Vec<&[u8]> = op.path().components().collect();
        let name = names.pop().expect("a name").to_vec();
        let mut entries = &mut root;
        for dir in names {
            match entries.get_mut(dir) {
                Some(Dir(below)) => entries = below,
                _ => return Err(format!("{op:?} is not below a directory")),
            }
        }
        match op {
            Op::Remove { .. } | Op::Purge { .. } => {
                entries.remove(&name);
            }
            Op::RemoveDir { .. } => {
                if entries.get(&name) == Some(&Dir(BTreeMap::new())) {
                    entries.remove(&name);
                }
            }
            Op::MkDir { .. } => match entries.get(&name) {
                None => {
                    entries.insert(name, Dir(BTreeMap::new()));
                }
                Some(Dir(_)) => {}
                Some(_) => return Err(format!("{op:?} where a file is")),
            },
            Op::Write { mode, id, .. } => {
                entries.insert(name, File(*mode, contents[id].clone()));
            }
            Op::SetMode { mode, .. } => match entries.get_mut(&name) {
                Some(File(m, _)) => *m = *mode,
                _ => return Err(format!("{op:?} on no file")),
            },
        }
    }
    Ok(root.remove(b"p".as_slice()).unwrap_or(Absent))
}

/// Whether `got` is what a checkout from `h` to `t` may leave where W had `w`:
/// where H and T agree (unless `forced`), or neither tracks the path, or it is
/// ignored and T puts nothing there (unless `forced`), W as it was; elsewhere T's
/// content, with what the first rules keep inside a directory.
fn settled(got: &Thing, h: &Thing, t: &Thing, w: &Thing, ignored: bool, forced: bool) -> bool {
    if *h == Absent && *t == Absent {
        return got == w;
    }
    if (!forced && h == t) || (ignored && *t == Absent && !forced) {
        return got == w;
    }
    match (got, t) {
        (Dir(entries), Dir(_) | Absent) => {
            let names: BTreeSet<&Vec<u8>> = entries.keys().chain(children(t).keys()).collect();
            names.into_iter().all(|name| {
                let (got, h, t, w) = (
                    child(got, name),
                    child(h, name),
                    child(t, name),
                    child(w, name),
                );
                settled(got, h, t, w, ignored, forced)
            }) && (*t != Absent || !entries.is_empty())
        }
        _ => got == t,
    }
}

/// Runs `case` for real; `Err` describes how the planner or the result differs from
/// the oracle.
fn run(odb: &Odb, staging: &Path, case: &Case) -> Result<(), String> {
    // What H and T hold is in snapshots; `w` never is.
    let saved: std::collections::HashSet<ObjectId> = [blob_id(b"h"), blob_id(b"t")].into();
    let contents: BTreeMap<ObjectId, Vec<u8>> = [b"h", b"t", b"w"]
        .iter()
        .map(|c| (blob_id(*c), c.to_vec()))
        .collect();
    let (h, t) = (snapshot(odb, &case.h), snapshot(odb, &case.t));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(&root.join("p"), &case.w);
    if case.ignored {
        fs::write(root.join(crate::worktree::IGNORE_FILE), "/p\n").unwrap();
    }
    let scanned = scan(odb, root, &ScanOptions::default()).map_err(|e| e.to_string())?;
    let options = PlanOptions {
        discard_changes: case.mode.discard(),
        replace_untracked: case.mode.replace(),
        keep_unsaved: case.mode.keep_unsaved(),
        saved: Some(&saved),
        paths: &[],
    };
    let planned = plan(odb, root, &scanned, Some(h), t, &options).map_err(|e| e.to_string())?;
    let (ops, conflicts) = expected(case);
    if planned.conflicts != conflicts {
        return Err(format!(
            "conflicts {:?}, expected {:?}",
            planned.conflicts, conflicts
        ));
    }
    if !conflicts.is_empty() {
        return Ok(());
    }
    if planned.ops != ops {
        return Err(format!("steps {:?}, expected {ops:?}", planned.ops));
    }
    apply(odb, root, staging, &planned, &mut Index::default(), None).map_err(|e| e.to_string())?;
    let got = read(&root.join("p"));
    let want = run_model(&case.w, &ops, &contents)?;
    if got != want {
        return Err(format!("applied, W is {got:?}; the steps make {want:?}"));
    }
    let forced = case.mode != Mode::Safe;
    if !settled(&got, &case.h, &case.t, &case.w, case.ignored, forced) {
        return Err(format!("applied, W is {got:?}, not the target"));
    }
    Ok(())
}

/// The oracle states the examples the rules give in words.
#[test]
fn the_oracle_follows_the_documented_rules() {
    let case = |h: PathKind, t: PathKind, w: Thing, mode| Case {
        h: h.thing(b"h"),
        t: t.thing(b"t"),
        w,
        ignored: false,
        mode,
        kinds: [h, t, PathKind::File],
        label: String::new(),
    };
    let file = |c: &[u8]| PathKind::File.thing(c);
    let p = || rp(b"p");
    // A clean file becomes a symlink.
    let (ops, conflicts) = expected(&case(
        PathKind::File,
        PathKind::Symlink,
        file(b"h"),
        Mode::Safe,
    ));
    assert_eq!(
        (ops, conflicts),
        (
            vec![Op::Write {
                path: p(),
                mode: EntryMode::Link,
                id: blob_id(b"t")
            }],
            vec![]
        )
    );
    // A modified one is refused, naming it; forced, replaced.
    let modified = case(PathKind::File, PathKind::Symlink, file(b"w"), Mode::Safe);
    let conflict = |kind| Conflict { path: p(), kind };
    assert_eq!(
        expected(&modified).1,
        vec![conflict(ConflictKind::Modified)]
    );
    let forced = Case {
        mode: Mode::Force,
        ..modified
    };
    assert_eq!(expected(&forced).1, vec![]);
    // An untracked file where T adds one is refused unless forced: restore's
    // discarding of changes does not cover it.
    let untracked = case(PathKind::Absent, PathKind::File, file(b"w"), Mode::Discard);
    assert_eq!(
        expected(&untracked).1,
        vec![conflict(ConflictKind::Untracked)]
    );
    let forced = Case {
        mode: Mode::Force,
        ..untracked
    };
    assert_eq!(expected(&forced).0.len(), 1);
    // An ignored one likewise, as ignored.
    let ignored = Case {
        ignored: true,
        ..case(PathKind::Absent, PathKind::File, file(b"w"), Mode::Safe)
    };
    assert_eq!(expected(&ignored).1, vec![conflict(ConflictKind::Ignored)]);
    // A local change where H and T agree stays, unless forced.
    let kept = case(PathKind::File, PathKind::File, file(b"w"), Mode::Safe);
    let kept = Case {
        t: kept.h.clone(),
        ..kept
    };
    assert_eq!(expected(&kept), (vec![], vec![]));
    // Untracked files stay even when forced.
    let untracked = case(PathKind::Absent, PathKind::Absent, file(b"w"), Mode::Force);
    assert_eq!(expected(&untracked), (vec![], vec![]));
}

/// Every combination of kinds in H, T and W, planned (and applied) for real, agrees
/// with the oracle.
#[test]
fn all_pairs_of_path_kinds_plan_as_the_rules_say() {
    let store = tempfile::tempdir().unwrap();
    let odb = Odb::at(store.path());
    let staging = tempfile::tempdir().unwrap();
    let cases = cases();
    // Every kind in each of H, T and W (6 × 6 × 6), each with several contents, seen
    // or ignored, under each set of options.
    let triples: BTreeSet<String> = cases.iter().map(|c| format!("{:?}", c.kinds)).collect();
    assert_eq!(triples.len(), 216);
    // Each apply waits for the filesystem clock to tick: more threads than cores.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(8)
        .build()
        .unwrap();
    let failures: Vec<String> = pool.install(|| {
        cases
            .par_iter()
            .filter_map(|case| {
                run(&odb, staging.path(), case)
                    .err()
                    .map(|e| format!("{}: {e}", case.label))
            })
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from the oracle:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
