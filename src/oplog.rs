//! The operation log: every command that changes refs or HEAD is one operation, which
//! records the full view of the refs after it, its parent operation, who ran what and
//! when. Operations and views are immutable files named by the BLAKE3 hash of their
//! bytes (jj's design); the newest operation is named by an empty file in `heads/`.
//!
//! Layout, under `.cow/oplog/`:
//!
//! - `op-<id>`: an operation, a JSON object (see [`Operation`]);
//! - `view-<id>`: a view, a JSON object (see [`View`]);
//! - `heads/<id>`: the head operation. A command adds its operation's head file
//!   (synced) before it moves any ref, and removes its parent's after: while it runs,
//!   and after a crash, there are two, the newer a child of the older, and
//!   [`OpStore::head`] takes the child. A writer that finds two finishes the killed
//!   command's ref changes (see `Repository::recover_operation`).
//!
//! A layer above [`crate::refs`] (views hold ref names and values) and below the
//! repository, which records operations as it commits ref transactions.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::{Map, Value as Json, json};

use crate::fs::{Durability, IoError, IoResultExt};
use crate::object::{ObjectId, Time};
use crate::refs::{RefName, Value};

/// A damaged or missing operation log file, or an operation that names nothing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error(transparent)]
    Io(#[from] IoError),
    /// A file does not hold what its name says.
    #[error("operation log: {what} {id} is damaged: {reason}")]
    Corrupt {
        /// `operation` or `view`.
        what: &'static str,
        /// Its id.
        id: OpId,
        /// What is wrong.
        reason: String,
    },
    /// An operation named by the user is not in the log.
    #[error("unknown operation '{0}'")]
    Unknown(String),
    /// An abbreviated operation id matches several operations.
    #[error("operation '{0}' is ambiguous: give more digits")]
    Ambiguous(String),
    /// `heads/` names several operations that are not one chain.
    #[error("operation log: several head operations ({0}); run `cow fsck`")]
    Heads(String),
    /// The log holds operations but `heads/` names none.
    #[error("operation log: .cow/oplog holds operations but heads/ names none")]
    NoHead,
    /// `.cow/oplog` or `heads/` is a symbolic link: the log is never read or written
    /// through one.
    #[error("operation log: {} is a symbolic link", crate::quote::quote_fs_path(.0))]
    Link(PathBuf),
}

/// Result type of the operation log.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The id of an operation or a view: the BLAKE3 hash of its file's bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId([u8; 32]);

impl OpId {
    /// The id of `bytes`.
    pub fn of(bytes: &[u8]) -> OpId {
        OpId(*blake3::hash(bytes).as_bytes())
    }

    /// The first 12 hex digits, as `op log` shows ids.
    pub fn short(&self) -> String {
        self.to_string()[..12].to_owned()
    }
}

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpId({self})")
    }
}

impl FromStr for OpId {
    type Err = hex::FromHexError;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes)?;
        Ok(OpId(bytes))
    }
}

/// Every ref and HEAD, as an operation left them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct View {
    /// What HEAD holds: a branch (which may have no commit) or a commit.
    pub head: Value,
    /// Every ref under `refs/`: branches, tags, remote-tracking refs.
    pub refs: BTreeMap<RefName, ObjectId>,
}

impl View {
    /// The commit HEAD names in this view, if any.
    pub fn head_commit(&self) -> Option<ObjectId> {
        match &self.head {
            Value::Id(id) => Some(*id),
            Value::Symbolic(name) => self.refs.get(name).copied(),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let refs: Map<String, Json> = self
            .refs
            .iter()
            .map(|(name, id)| (name.as_str().to_owned(), id.to_string().into()))
            .collect();
        let view = json!({"head": self.head.to_string(), "refs": refs});
        let mut bytes = view.to_string().into_bytes();
        bytes.push(b'\n');
        bytes
    }

    fn parse(id: OpId, bytes: &[u8]) -> Result<View> {
        let corrupt = |reason: String| Error::Corrupt {
            what: "view",
            id,
            reason,
        };
        let json: Json =
            serde_json::from_slice(bytes).map_err(|e| corrupt(format!("not JSON: {e}")))?;
        let head = json["head"]
            .as_str()
            .ok_or_else(|| corrupt("no head".into()))?;
        let head = parse_value(head).ok_or_else(|| corrupt(format!("bad head '{head}'")))?;
        let mut refs = BTreeMap::new();
        let entries = json["refs"]
            .as_object()
            .ok_or_else(|| corrupt("no refs".into()))?;
        for (name, value) in entries {
            let bad = || corrupt(format!("bad ref '{name}'"));
            let ref_name = RefName::new(name).map_err(|_| bad())?;
            if !name.starts_with("refs/") {
                return Err(bad());
            }
            let id = value
                .as_str()
                .and_then(|v| v.parse::<ObjectId>().ok())
                .ok_or_else(bad)?;
            refs.insert(ref_name, id);
        }
        Ok(View { head, refs })
    }
}

fn parse_value(text: &str) -> Option<Value> {
    match text.strip_prefix("ref: ") {
        Some(name) if name.starts_with("refs/heads/") => {
            RefName::new(name).ok().map(Value::Symbolic)
        }
        Some(_) => None,
        None => text.parse().ok().map(Value::Id),
    }
}

/// What undo and redo record about the operation they reverse or repeat.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reverses {
    /// An ordinary operation.
    Nothing,
    /// This operation undid that one (restored the view before it).
    Undo(OpId),
    /// This operation redid that one (restored the view after it, once undone).
    Redo(OpId),
}

/// One recorded command.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Operation {
    /// The view after it.
    pub view: OpId,
    /// The operation before it (`None` for the first).
    pub parent: Option<OpId>,
    /// When it ran.
    pub time: Time,
    /// Who ran it (the login name).
    pub user: String,
    /// On which host.
    pub host: String,
    /// The command line.
    pub command: String,
    /// One line saying what it did (`commit 1a2b3c4: fix the parser`).
    pub description: String,
    /// Whether it moved the working directory (a checkout), so that undoing it moves
    /// the working directory back; undoing a commit leaves it as it is.
    pub moved_worktree: bool,
    /// Whether it undid or redid another operation.
    pub reverses: Reverses,
}

impl Operation {
    fn to_bytes(&self) -> Vec<u8> {
        let (undo, redo) = match self.reverses {
            Reverses::Nothing => (None, None),
            Reverses::Undo(id) => (Some(id.to_string()), None),
            Reverses::Redo(id) => (None, Some(id.to_string())),
        };
        let op = json!({
            "view": self.view.to_string(),
            "parent": self.parent.map(|p| p.to_string()),
            "time": self.time.seconds,
            "offset": self.time.offset_minutes,
            "user": self.user,
            "host": self.host,
            "command": self.command,
            "description": self.description,
            "moved_worktree": self.moved_worktree,
            "undo": undo,
            "redo": redo,
        });
        let mut bytes = op.to_string().into_bytes();
        bytes.push(b'\n');
        bytes
    }

    fn parse(id: OpId, bytes: &[u8]) -> Result<Operation> {
        let corrupt = |reason: &str| Error::Corrupt {
            what: "operation",
            id,
            reason: reason.to_owned(),
        };
        let json: Json = serde_json::from_slice(bytes).map_err(|_| corrupt("not JSON"))?;
        let string = |key: &str| {
            json[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| corrupt(&format!("no {key}")))
        };
        let op_id = |key: &str| -> Result<Option<OpId>> {
            match &json[key] {
                Json::Null => Ok(None),
                Json::String(s) => s
                    .parse()
                    .map(Some)
                    .map_err(|_| corrupt(&format!("bad {key}"))),
                _ => Err(corrupt(&format!("bad {key}"))),
            }
        };
        let view = op_id("view")?.ok_or_else(|| corrupt("no view"))?;
        let seconds = json["time"].as_i64().ok_or_else(|| corrupt("no time"))?;
        let offset_minutes = json["offset"]
            .as_i64()
            .and_then(|o| i32::try_from(o).ok())
            .filter(|o| o.abs() < 24 * 60)
            .ok_or_else(|| corrupt("bad offset"))?;
        let reverses = match (op_id("undo")?, op_id("redo")?) {
            (None, None) => Reverses::Nothing,
            (Some(undone), None) => Reverses::Undo(undone),
            (None, Some(redone)) => Reverses::Redo(redone),
            (Some(_), Some(_)) => return Err(corrupt("both undo and redo")),
        };
        Ok(Operation {
            view,
            parent: op_id("parent")?,
            time: Time {
                seconds,
                offset_minutes,
            },
            user: string("user")?,
            host: string("host")?,
            command: string("command")?,
            description: string("description")?,
            moved_worktree: json["moved_worktree"].as_bool().unwrap_or(false),
            reverses,
        })
    }
}

/// Makes directory `dir` if it is missing, durably (its parent synced).
fn make_dir(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        std::fs::create_dir(dir).context("create directory", dir)?;
        crate::fs::sync_dir(dir.parent().expect("the log lives in .cow"))?;
    }
    Ok(())
}

/// The largest operation or view file read: a crafted log cannot make a reader
/// allocate more.
const MAX_FILE: u64 = 256 << 20;

/// The operation log of one repository (its `.cow/oplog` directory).
#[derive(Clone, Debug)]
pub struct OpStore {
    dir: PathBuf,
}

impl OpStore {
    /// The log in `cow_dir/oplog` (made when the first operation is written).
    pub fn at(cow_dir: &Path) -> OpStore {
        OpStore {
            dir: cow_dir.join("oplog"),
        }
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn heads_dir(&self) -> PathBuf {
        self.dir.join("heads")
    }

    /// Refuses a log directory or `heads/` that is a symbolic link (it would take
    /// reads and writes outside `.cow`).
    fn check_links(&self) -> Result<()> {
        for dir in [self.dir.clone(), self.heads_dir()] {
            if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_symlink()) {
                return Err(Error::Link(dir));
            }
        }
        Ok(())
    }

    /// Writes `bytes` as the file `prefix-<id>` unless it exists; returns the id. The
    /// file is synced, its name in the directory not: [`OpStore::sync`] makes every
    /// name written so far durable with one sync.
    fn write_file(&self, prefix: &str, bytes: &[u8]) -> Result<OpId> {
        self.check_links()?;
        let id = OpId::of(bytes);
        let path = self.dir.join(format!("{prefix}-{id}"));
        if !path.exists() {
            make_dir(&self.dir)?;
            let mut file = crate::fs::AtomicFile::create(&path, crate::temp::OPLOG.name)?;
            file.write_all(bytes)?;
            file.file().sync_all().context("write", &path)?;
            file.commit(Durability::NoSync)?;
        }
        Ok(id)
    }

    /// Makes the names of the files written so far durable.
    pub fn sync(&self) -> Result<()> {
        Ok(crate::fs::sync_dir(&self.dir)?)
    }

    fn read_file(&self, prefix: &str, id: &OpId) -> Result<Option<Vec<u8>>> {
        self.check_links()?;
        let path = self.dir.join(format!("{prefix}-{id}"));
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(IoError::new("open", path, e).into()),
        };
        let mut bytes = Vec::new();
        file.take(MAX_FILE)
            .read_to_end(&mut bytes)
            .context("read", &path)?;
        if OpId::of(&bytes) != *id {
            let what = if prefix == "op" { "operation" } else { "view" };
            return Err(Error::Corrupt {
                what,
                id: *id,
                reason: "its content does not match its id".into(),
            });
        }
        Ok(Some(bytes))
    }

    /// Stores a view; returns its id.
    pub fn write_view(&self, view: &View) -> Result<OpId> {
        self.write_file("view", &view.to_bytes())
    }

    /// Stores an operation; returns its id.
    pub fn write_op(&self, op: &Operation) -> Result<OpId> {
        self.write_file("op", &op.to_bytes())
    }

    /// Reads a view.
    pub fn read_view(&self, id: &OpId) -> Result<View> {
        let bytes = self.read_file("view", id)?.ok_or_else(|| Error::Corrupt {
            what: "view",
            id: *id,
            reason: "it is missing".into(),
        })?;
        View::parse(*id, &bytes)
    }

    /// Reads an operation.
    pub fn read_op(&self, id: &OpId) -> Result<Operation> {
        let bytes = self
            .read_file("op", id)?
            .ok_or_else(|| Error::Unknown(id.to_string()))?;
        Operation::parse(*id, &bytes)
    }

    /// The ids `heads/` names (unsorted; names that are not ids are left out): one,
    /// or two while a command records an operation (or after it was killed doing so).
    pub fn head_files(&self) -> Result<Vec<OpId>> {
        self.check_links()?;
        let dir = self.heads_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(IoError::new("list", dir, e).into()),
        };
        let mut heads = Vec::new();
        for entry in entries {
            let entry = entry.context("list", &dir)?;
            if let Some(id) = entry.file_name().to_str().and_then(|n| n.parse().ok()) {
                heads.push(id);
            }
        }
        Ok(heads)
    }

    /// The newest operation, or `None` before the first. Two heads where one is the
    /// other's parent (a command killed while its refs moved) give the child; two
    /// that are the same operation with different parents (an `op abandon` killed
    /// while it swapped heads) give the rewritten one, whose history is shorter.
    pub fn head(&self) -> Result<Option<OpId>> {
        let mut heads = self.head_files()?;
        heads.sort();
        match heads.as_slice() {
            [] if self.all_ops()?.is_empty() => Ok(None),
            [] => Err(Error::NoHead),
            [one] => Ok(Some(*one)),
            [a, b] => {
                let (op_a, op_b) = (self.read_op(a)?, self.read_op(b)?);
                if op_b.parent == Some(*a) {
                    return Ok(Some(*b));
                }
                if op_a.parent == Some(*b) {
                    return Ok(Some(*a));
                }
                let same = |x: &Operation, y: &Operation| {
                    (x.view, x.time, &x.command, x.moved_worktree)
                        == (y.view, y.time, &y.command, y.moved_worktree)
                };
                if same(&op_a, &op_b) {
                    let length = |id| self.walk(Some(id)).take(1 << 20).count();
                    return Ok(Some(if length(*a) <= length(*b) { *a } else { *b }));
                }
                Err(Error::Heads(format!("{}, {}", a.short(), b.short())))
            }
            more => Err(Error::Heads(
                more.iter().map(OpId::short).collect::<Vec<_>>().join(", "),
            )),
        }
    }

    /// Adds `new` as a head, durably; the operation's own file must be durable
    /// already. Until the old head is removed, [`OpStore::head`] takes `new` (its
    /// child).
    pub fn add_head(&self, new: OpId) -> Result<()> {
        self.check_links()?;
        let dir = self.heads_dir();
        make_dir(&self.dir)?;
        make_dir(&dir)?;
        let path = dir.join(new.to_string());
        std::fs::write(&path, b"").context("write", &path)?;
        crate::fs::sync_dir(&dir)?;
        Ok(())
    }

    /// Removes every head but `keep`, unsynced: if a crash brings one back, `keep` is
    /// its child and wins.
    pub fn remove_heads_but(&self, keep: OpId) -> Result<()> {
        self.check_links()?;
        let dir = self.heads_dir();
        for old in self.head_files()? {
            if old != keep {
                let path = dir.join(old.to_string());
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(IoError::new("remove", path, e).into());
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Makes `new` the only head (its file durable already).
    pub fn set_head(&self, new: OpId) -> Result<()> {
        self.add_head(new)?;
        self.remove_heads_but(new)
    }

    /// The operations from `start` back to the first, newest first.
    pub fn walk(&self, start: Option<OpId>) -> impl Iterator<Item = Result<(OpId, Operation)>> {
        let mut next = start;
        std::iter::from_fn(move || {
            let id = next.take()?;
            Some(self.read_op(&id).map(|op| {
                next = op.parent;
                (id, op)
            }))
        })
    }

    /// The operation `spec` names: `@` (the head), `@-` (its parent; `@--` and so on
    /// further back), a full id or a unique prefix of at least 4 hex digits.
    pub fn resolve(&self, spec: &str) -> Result<OpId> {
        let unknown = || Error::Unknown(spec.to_owned());
        if let Some(back) = spec.strip_prefix('@')
            && back.bytes().all(|b| b == b'-')
        {
            let mut id = self.head()?.ok_or_else(unknown)?;
            for _ in 0..back.len() {
                id = self.read_op(&id)?.parent.ok_or_else(unknown)?;
            }
            return Ok(id);
        }
        if spec.len() < 4 || spec.len() > 64 || !spec.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(unknown());
        }
        let spec_lower = spec.to_ascii_lowercase();
        self.check_links()?;
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(unknown()),
            Err(e) => return Err(IoError::new("list", self.dir.clone(), e).into()),
        };
        let mut found = None;
        for entry in entries {
            let entry = entry.context("list", &self.dir)?;
            let name = entry.file_name();
            let Some(hex) = name.to_str().and_then(|n| n.strip_prefix("op-")) else {
                continue;
            };
            if hex.starts_with(&spec_lower) {
                if found.is_some() {
                    return Err(Error::Ambiguous(spec.to_owned()));
                }
                found = hex.parse().ok();
            }
        }
        found.ok_or_else(unknown)
    }

    /// Every operation file's id (for gc and fsck).
    pub fn all_ops(&self) -> Result<Vec<OpId>> {
        self.check_links()?;
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(IoError::new("list", self.dir.clone(), e).into()),
        };
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry.context("list", &self.dir)?;
            if let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("op-"))
                .and_then(|hex| hex.parse().ok())
            {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// Removes operation `id`'s file (for `op abandon`; its view may be shared and is
    /// left for [`OpStore::remove_unused_views`]).
    pub fn remove_op(&self, id: &OpId) -> Result<()> {
        let path = self.dir.join(format!("op-{id}"));
        std::fs::remove_file(&path).context("remove", &path)?;
        Ok(())
    }

    /// Removes every view no operation names.
    pub fn remove_unused_views(&self) -> Result<usize> {
        let mut used = std::collections::HashSet::new();
        for id in self.all_ops()? {
            used.insert(self.read_op(&id)?.view);
        }
        let mut removed = 0;
        let entries = std::fs::read_dir(&self.dir).context("list", &self.dir)?;
        for entry in entries {
            let entry = entry.context("list", &self.dir)?;
            let unused = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("view-"))
                .and_then(|hex| hex.parse::<OpId>().ok())
                .is_some_and(|id| !used.contains(&id));
            if unused {
                std::fs::remove_file(entry.path()).context("remove", entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> View {
        let id = ObjectId::empty_tree();
        View {
            head: Value::Symbolic(RefName::branch("main").unwrap()),
            refs: [
                (RefName::branch("main").unwrap(), id),
                (RefName::tag("v1").unwrap(), id),
            ]
            .into_iter()
            .collect(),
        }
    }

    fn op(view: OpId, parent: Option<OpId>) -> Operation {
        Operation {
            view,
            parent,
            time: Time {
                seconds: 1_700_000_000,
                offset_minutes: -90,
            },
            user: "me".into(),
            host: "box".into(),
            command: "cow commit -m \"a\nb\"".into(),
            description: "commit".into(),
            moved_worktree: true,
            reverses: Reverses::Undo(view),
        }
    }

    #[test]
    fn views_and_operations_round_trip_under_their_ids() {
        let dir = tempfile::tempdir().unwrap();
        let store = OpStore::at(dir.path());
        let view_id = store.write_view(&view()).unwrap();
        assert_eq!(store.read_view(&view_id).unwrap(), view());
        let first = store.write_op(&op(view_id, None)).unwrap();
        let second = store.write_op(&op(view_id, Some(first))).unwrap();
        assert_eq!(store.read_op(&second).unwrap(), op(view_id, Some(first)));
        // Writing the same bytes again gives the same id.
        assert_eq!(store.write_op(&op(view_id, None)).unwrap(), first);
        let walked: Vec<OpId> = store.walk(Some(second)).map(|r| r.unwrap().0).collect();
        assert_eq!(walked, [second, first]);
    }

    #[test]
    fn the_head_survives_a_swap_cut_short_and_names_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let store = OpStore::at(dir.path());
        assert_eq!(store.head().unwrap(), None);
        let view_id = store.write_view(&view()).unwrap();
        let first = store.write_op(&op(view_id, None)).unwrap();
        let second = store.write_op(&op(view_id, Some(first))).unwrap();
        store.set_head(first).unwrap();
        // A swap killed after the new head was made: both files, the child wins.
        std::fs::write(store.heads_dir().join(second.to_string()), "").unwrap();
        assert_eq!(store.head().unwrap(), Some(second));
        store.set_head(second).unwrap();
        assert_eq!(store.head_files().unwrap(), [second]);
        assert_eq!(store.resolve("@").unwrap(), second);
        assert_eq!(store.resolve("@-").unwrap(), first);
        assert!(matches!(store.resolve("@--"), Err(Error::Unknown(_))));
        assert_eq!(store.resolve(&second.short()).unwrap(), second);
        assert!(matches!(store.resolve("zz"), Err(Error::Unknown(_))));
    }

    #[test]
    fn a_damaged_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = OpStore::at(dir.path());
        let view_id = store.write_view(&view()).unwrap();
        let path = store.dir().join(format!("view-{view_id}"));
        std::fs::write(&path, b"{}").unwrap();
        let err = store.read_view(&view_id).unwrap_err().to_string();
        assert!(err.contains(&view_id.to_string()), "{err}");
        assert!(err.contains("does not match"), "{err}");
        // A file whose bytes match its name but hold nonsense is refused too.
        let id = store
            .write_file("view", b"{\"head\":\"x\",\"refs\":{}}")
            .unwrap();
        let err = store.read_view(&id).unwrap_err().to_string();
        assert!(err.contains("bad head"), "{err}");
    }
}
