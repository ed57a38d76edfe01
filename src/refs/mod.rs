//! References: HEAD, branches and tags, updated atomically.
//!
//! A ref is a file under `.cow/` holding a commit id (`refs/heads/main`) or, for HEAD, a
//! symbolic link to a branch (`ref: refs/heads/main`). Every update goes through a lock
//! file, checks the value it expects to replace, is synced, and renamed into place.

use crate::fs::IoResultExt;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::object::ObjectId;

mod transaction;
pub use transaction::{Applied, Change, Prepared, Transaction};

/// An error about refs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A ref name breaks git's naming rules.
    #[error("'{name}' is not a valid {what} name: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// "branch", "tag" or "ref".
        what: &'static str,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A ref file does not hold an id or a symbolic ref.
    #[error("ref {name} is malformed: {content:?}")]
    Malformed {
        /// The ref.
        name: String,
        /// What it holds (cut short).
        content: String,
    },
    /// A ref file, or a directory on its way, is a symbolic link, which refs never
    /// follow (a link could point anywhere, and listing would not see what reading
    /// does).
    #[error(
        "ref {name}: '{link}' is a symbolic link, which cow does not follow among refs (replace the link with what it points to)"
    )]
    SymlinkRef {
        /// The ref.
        name: String,
        /// The link, relative to `.cow`.
        link: String,
    },
    /// Symbolic refs point at each other in a loop or too deep.
    #[error("symbolic ref {0} does not resolve: a cycle or more than 5 levels")]
    SymrefCycle(String),
    /// Another process holds the ref's lock file.
    #[error(
        "ref {name} is locked by another process: remove '{lock}' if no cow command is running"
    )]
    Locked {
        /// The ref.
        name: String,
        /// The lock file.
        lock: PathBuf,
    },
    /// The ref moved since it was read.
    #[error("ref {name} changed concurrently: expected {expected}, found {actual}")]
    Conflict {
        /// The ref.
        name: String,
        /// What the caller expected, in words.
        expected: String,
        /// What was there, in words.
        actual: String,
    },
    /// Another ref's name is a prefix of this one, or the other way round.
    #[error("cannot create ref {name}: ref {other} exists")]
    NameTaken {
        /// The ref asked for.
        name: String,
        /// The ref in the way.
        other: String,
    },
    /// A transaction names one ref in two edits.
    #[error("ref {0} is changed twice in one transaction")]
    DuplicateEdit(String),
    /// A ref file or directory could not be read or written.
    #[error(transparent)]
    Io(#[from] crate::fs::IoError),
}

/// Result type of refs.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A full, valid ref name such as `HEAD`, `refs/heads/main` or `refs/tags/v1`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct RefName(String);

impl RefName {
    /// The name of HEAD.
    pub fn head() -> RefName {
        RefName("HEAD".into())
    }

    /// `refs/heads/<name>`, checking the name.
    pub fn branch(name: &str) -> Result<RefName> {
        Self::short("refs/heads/", name, "branch")
    }

    /// `refs/tags/<name>`, checking the name.
    pub fn tag(name: &str) -> Result<RefName> {
        Self::short("refs/tags/", name, "tag")
    }

    fn short(prefix: &str, name: &str, what: &'static str) -> Result<RefName> {
        let invalid = |reason| Error::InvalidName {
            name: name.to_owned(),
            what,
            reason,
        };
        if name == "HEAD" || name.starts_with('-') {
            return Err(invalid("reserved"));
        }
        check_ref_format(name).map_err(invalid)?;
        Ok(RefName(format!("{prefix}{name}")))
    }

    /// A full name (`HEAD` or `refs/…`), checking git's rules.
    pub fn new(full: &str) -> Result<RefName> {
        let invalid = |reason| Error::InvalidName {
            name: full.to_owned(),
            what: "ref",
            reason,
        };
        if full != "HEAD" && !full.starts_with("refs/") {
            return Err(invalid("must be HEAD or start with refs/"));
        }
        check_ref_format(full).map_err(invalid)?;
        Ok(RefName(full.to_owned()))
    }

    /// The full name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name without `refs/heads/`, `refs/tags/` or `refs/`.
    pub fn shorten(&self) -> &str {
        ["refs/heads/", "refs/tags/", "refs/"]
            .iter()
            .find_map(|p| self.0.strip_prefix(p))
            .unwrap_or(&self.0)
    }
}

impl fmt::Display for RefName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether one ref name is a directory of the other (`refs/heads/a` and
/// `refs/heads/a/b`), so that no store can hold both.
pub fn names_clash(a: &str, b: &str) -> bool {
    let under = |long: &str, short: &str| {
        long.len() > short.len() && long.starts_with(short) && long.as_bytes()[short.len()] == b'/'
    };
    under(a, b) || under(b, a)
}

/// git's `check-ref-format` rules.
fn check_ref_format(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if name == "@" {
        return Err("'@' alone is not allowed");
    }
    if name.ends_with('/') || name.ends_with('.') {
        return Err("cannot end with '/' or '.'");
    }
    if name.contains("..") || name.contains("@{") {
        return Err("cannot contain '..' or '@{'");
    }
    if name
        .bytes()
        .any(|b| b < 0x20 || b == 0x7f || b" ~^:?*[\\".contains(&b))
    {
        return Err("cannot contain spaces, control characters or any of ~^:?*[\\");
    }
    for component in name.split('/') {
        if component.is_empty() {
            return Err("cannot contain an empty component");
        }
        if component.starts_with('.') {
            return Err("a component cannot start with '.'");
        }
        if component.ends_with(".lock") {
            return Err("a component cannot end with '.lock'");
        }
    }
    Ok(())
}

/// Where HEAD points.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Head {
    /// At a branch (which may have no commit yet).
    Branch(RefName),
    /// At a commit directly.
    Detached(ObjectId),
}

/// The value a ref update expects to replace.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Expected {
    /// Whatever is there.
    Any,
    /// The ref must not exist.
    Absent,
    /// The ref must hold this id.
    Value(ObjectId),
    /// The ref must be a symbolic ref to this one (HEAD on a branch).
    Symbolic(RefName),
}

impl Expected {
    /// `Value(id)` for `Some(id)`, `Absent` for `None`.
    pub fn from_option(id: Option<ObjectId>) -> Expected {
        id.map_or(Expected::Absent, Expected::Value)
    }

    /// What HEAD holds when it points as `head` does.
    pub fn head(head: &Head) -> Expected {
        match head {
            Head::Branch(name) => Expected::Symbolic(name.clone()),
            Head::Detached(id) => Expected::Value(*id),
        }
    }

    fn matches(&self, actual: Option<&Value>) -> bool {
        match (self, actual) {
            (Expected::Any, _) | (Expected::Absent, None) => true,
            (Expected::Value(want), Some(Value::Id(id))) => want == id,
            (Expected::Symbolic(want), Some(Value::Symbolic(name))) => want == name,
            _ => false,
        }
    }
}

/// What a ref file holds, as stored (symbolic refs not followed).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Value {
    /// A commit id.
    Id(ObjectId),
    /// Another ref's name (`ref: refs/heads/main`).
    Symbolic(RefName),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Id(id) => write!(f, "{id}"),
            Value::Symbolic(name) => write!(f, "ref: {name}"),
        }
    }
}

/// The refs of one repository (its `.cow` directory).
#[derive(Debug, Clone)]
pub struct RefStore {
    dir: PathBuf,
}

const MAX_SYMREF_DEPTH: usize = 5;

impl RefStore {
    /// The refs stored under `dir` (a repository's `.cow`).
    pub fn at(dir: impl Into<PathBuf>) -> RefStore {
        RefStore { dir: dir.into() }
    }

    /// The directory the refs are stored under (a repository's `.cow`).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    fn path(&self, name: &RefName) -> PathBuf {
        self.dir.join(name.as_str())
    }

    /// What ref `name` holds, without following a symbolic ref; `None` when it does
    /// not exist.
    pub fn read(&self, name: &RefName) -> Result<Option<Value>> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.path(name);
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is then refused as
        // no regular file); it changes nothing for a regular file.
        let read = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .and_then(|mut file| {
                let kind = file.metadata()?.file_type();
                if !kind.is_file() && !kind.is_dir() {
                    return Err(io::Error::other("not a regular file"));
                }
                let mut content = Vec::new();
                io::Read::read_to_end(&mut file, &mut content).map(|_| content)
            });
        let content = match read {
            Ok(c) => {
                // The file is no link (O_NOFOLLOW); nor may a directory on its way be.
                self.check_no_linked_dirs(name)?;
                c
            }
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(Error::SymlinkRef {
                    name: name.to_string(),
                    link: name.to_string(),
                });
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(None);
            }
            // A directory where a ref would be (refs/heads/a with refs/heads/a/b) is no ref.
            Err(e) if path.is_dir() => {
                drop(e);
                return Ok(None);
            }
            Err(e) => return Err(crate::fs::IoError::new("read ref", &path, e).into()),
        };
        let malformed = || Error::Malformed {
            name: name.to_string(),
            content: String::from_utf8_lossy(&content[..content.len().min(80)]).into_owned(),
        };
        let text = std::str::from_utf8(&content).map_err(|_| malformed())?;
        let text = text.strip_suffix('\n').unwrap_or(text);
        if let Some(target) = text.strip_prefix("ref: ") {
            let target = RefName::new(target.trim()).map_err(|_| malformed())?;
            return Ok(Some(Value::Symbolic(target)));
        }
        text.parse()
            .map(|id| Some(Value::Id(id)))
            .map_err(|_| malformed())
    }

    /// Refuses a ref whose directories below `.cow` include a symbolic link.
    fn check_no_linked_dirs(&self, name: &RefName) -> Result<()> {
        let parts: Vec<&str> = name.as_str().split('/').collect();
        for len in 1..parts.len() {
            let dir = parts[..len].join("/");
            if fs::symlink_metadata(self.dir.join(&dir)).is_ok_and(|m| m.is_symlink()) {
                return Err(Error::SymlinkRef {
                    name: name.to_string(),
                    link: dir,
                });
            }
        }
        Ok(())
    }

    /// Follows symbolic refs from `name` to the ref that holds an id (or would).
    fn follow(&self, name: &RefName) -> Result<(RefName, Option<ObjectId>)> {
        let mut current = name.clone();
        for _ in 0..=MAX_SYMREF_DEPTH {
            match self.read(&current)? {
                None => return Ok((current, None)),
                Some(Value::Id(id)) => return Ok((current, Some(id))),
                Some(Value::Symbolic(next)) => current = next,
            }
        }
        Err(Error::SymrefCycle(name.to_string()))
    }

    /// The commit a ref points at, following symbolic refs; `None` when it does not exist
    /// (or is a branch with no commit yet).
    pub fn find(&self, name: &RefName) -> Result<Option<ObjectId>> {
        Ok(self.follow(name)?.1)
    }

    /// Where HEAD points.
    pub fn head(&self) -> Result<Head> {
        match self.read(&RefName::head())? {
            Some(Value::Id(id)) => Ok(Head::Detached(id)),
            Some(Value::Symbolic(target)) => {
                // Check the chain resolves (no cycle) before reporting the branch.
                self.follow(&target)?;
                Ok(Head::Branch(target))
            }
            None => Err(Error::Malformed {
                name: "HEAD".into(),
                content: "(missing)".into(),
            }),
        }
    }

    /// The commit HEAD points at; `None` on a branch with no commits yet.
    pub fn head_commit(&self) -> Result<Option<ObjectId>> {
        self.find(&RefName::head())
    }

    /// Points HEAD at a branch or a commit.
    pub fn set_head(&self, head: &Head) -> Result<()> {
        let mut tx = self.transaction();
        tx.set_head(head.clone(), Expected::Any);
        tx.commit().map(drop)
    }

    /// Moves the ref HEAD resolves to (the current branch, or HEAD itself when detached)
    /// to `new`, if it still holds `expected`.
    pub fn update_head(&self, new: ObjectId, expected: Expected) -> Result<()> {
        let mut tx = self.transaction();
        tx.update_head(new, expected);
        tx.commit().map(drop)
    }

    /// Sets a ref to `new` if it holds `expected`: lock file, check, write, sync, rename.
    pub fn update(&self, name: &RefName, new: ObjectId, expected: Expected) -> Result<()> {
        let mut tx = self.transaction();
        tx.update(name.clone(), new, expected);
        tx.commit().map(drop)
    }

    /// Deletes a ref if it holds `expected`.
    pub fn delete(&self, name: &RefName, expected: Expected) -> Result<()> {
        let mut tx = self.transaction();
        tx.delete(name.clone(), expected);
        tx.commit().map(drop)
    }

    /// Starts a set of ref changes that are checked together and applied together
    /// (see [`Transaction`]).
    pub fn transaction(&self) -> Transaction<'_> {
        Transaction::new(self)
    }

    /// Removes the directories of `name` that are left empty, up to `refs/<kind>`
    /// (as git does), so that a deleted `refs/heads/a/b` does not keep the name
    /// `refs/heads/a` taken. A directory that is not empty stops it.
    fn remove_empty_parents(&self, name: &RefName) {
        let parts: Vec<&str> = name.as_str().split('/').collect();
        for keep in (3..parts.len()).rev() {
            if fs::remove_dir(self.dir.join(parts[..keep].join("/"))).is_err() {
                break;
            }
        }
    }

    /// All refs whose full name starts with `prefix` (such as `refs/heads/`), sorted,
    /// with the commit each points at (symbolic refs followed). Fails on the first
    /// that cannot be read; [`names`](Self::names) lists them without reading.
    pub fn list(&self, prefix: &str) -> Result<Vec<(RefName, ObjectId)>> {
        let mut out = Vec::new();
        for name in self.names(prefix)? {
            if let Some(id) = self.find(&name)? {
                out.push((name, id));
            }
        }
        Ok(out)
    }

    /// The names of all ref files under `refs/` whose full name starts with `prefix`,
    /// sorted, without reading them; fails on the first place it cannot list (see
    /// [`names_and_failures`](Self::names_and_failures)).
    pub fn names(&self, prefix: &str) -> Result<Vec<RefName>> {
        let (names, failures) = self.names_and_failures(prefix);
        match failures.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(names),
        }
    }

    /// The names of all ref files under `refs/` whose full name starts with `prefix`,
    /// sorted, without reading them, and every place below `refs/` that could not be
    /// listed (refs there are unknown: a caller that deletes what refs do not reach
    /// must refuse; fsck reports them and checks the rest). Symbolic links are listed,
    /// so that reading them reports them: a ref that `rev-parse` refuses is not
    /// silently missing from `branch`, gc or fsck. Files whose names are not valid ref
    /// names (such as lock files) are not. `refs/` itself missing, or not a directory
    /// (a symbolic link to an unmounted disk, say), is a failure, not an empty list.
    pub fn names_and_failures(&self, prefix: &str) -> (Vec<RefName>, Vec<Error>) {
        let mut names = Vec::new();
        let mut failures = Vec::new();
        let root = self.dir.join("refs");
        match fs::symlink_metadata(&root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(meta) if meta.is_symlink() => {
                failures.push(Error::SymlinkRef {
                    name: "refs/".into(),
                    link: "refs".into(),
                });
                return (names, failures);
            }
            Ok(_) => {
                let e = io::Error::from_raw_os_error(libc::ENOTDIR);
                failures.push(crate::fs::IoError::new("read directory", &root, e).into());
                return (names, failures);
            }
            Err(e) => {
                failures.push(crate::fs::IoError::new("read directory", &root, e).into());
                return (names, failures);
            }
        }
        for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    let path = e.path().unwrap_or(&root).to_owned();
                    // walkdir's own message repeats the path: keep only the io error.
                    let source = e
                        .into_io_error()
                        .unwrap_or_else(|| io::Error::other("a symbolic link loop"));
                    failures.push(crate::fs::IoError::new("read directory", path, source).into());
                    continue;
                }
            };
            if entry.file_type().is_dir() {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(&self.dir)
                .expect("walk stays under .cow");
            let Some(name) = rel.to_str().and_then(|r| RefName::new(r).ok()) else {
                continue;
            };
            if name.as_str().starts_with(prefix) {
                names.push(name);
            }
        }
        (names, failures)
    }

    /// Checks that `name` holds `expected`; returns what it holds.
    fn check_expected(&self, name: &RefName, expected: &Expected) -> Result<Option<Value>> {
        let actual = self.read(name)?;
        if expected.matches(actual.as_ref()) {
            return Ok(actual);
        }
        let show = |v: Option<String>| v.unwrap_or_else(|| "nothing".to_owned());
        Err(Error::Conflict {
            name: name.to_string(),
            expected: show(match expected {
                Expected::Value(id) => Some(id.to_string()),
                Expected::Symbolic(target) => Some(format!("ref: {target}")),
                Expected::Any | Expected::Absent => None,
            }),
            actual: show(actual.map(|v| v.to_string())),
        })
    }

    fn lock(&self, name: &RefName) -> Result<LockFile> {
        // Neither remove, make nor write anything through a link (the ref would land
        // wherever it points).
        self.check_no_linked_dirs(name)?;
        let path = self.path(name);
        // Built from the path's bytes: `display()` would turn a directory name that is
        // not UTF-8 into U+FFFD and point the lock somewhere else.
        let mut lock = path.clone().into_os_string();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        // `refs/heads/a` and `refs/heads/a/b` cannot both exist (as in git).
        let taken = |other: String| Error::NameTaken {
            name: name.to_string(),
            other,
        };
        // A directory where the ref goes is in the way only if refs live below it;
        // empty ones (left by an older cow, or by hand) are removed, as git does.
        if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) && !remove_empty_tree(&path) {
            return Err(taken(format!("{name}/…")));
        }
        let mut prefix = String::new();
        for part in name.as_str().split('/') {
            if !prefix.is_empty() && self.dir.join(&prefix).is_file() && prefix != name.as_str() {
                return Err(taken(prefix));
            }
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
        }
        let parent = path.parent().expect("a ref lives in a directory");
        // Another process deleting a ref may remove the directory, emptied, between
        // making it and creating the lock in it: make it again (as git does).
        let mut tries = 0;
        let opened = loop {
            self.create_dirs(parent)?;
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Err(e) if e.kind() == io::ErrorKind::NotFound && tries < 3 => tries += 1,
                other => break other,
            }
        };
        match opened {
            Ok(file) => Ok(LockFile {
                path: lock,
                file: Some(file),
            }),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(Error::Locked {
                name: name.to_string(),
                lock,
            }),
            Err(e) => Err(crate::fs::IoError::new("create lock file", &lock, e).into()),
        }
    }

    /// Makes `dir` and its missing parents below the store, each new one made durable
    /// in its parent (before the ref is written in it: a ref that survives a crash must
    /// be found where it was put).
    fn create_dirs(&self, dir: &Path) -> Result<()> {
        let mut missing = Vec::new();
        let mut at = dir;
        while at != self.dir && fs::symlink_metadata(at).is_err() {
            missing.push(at);
            match at.parent() {
                Some(parent) => at = parent,
                None => break,
            }
        }
        fs::create_dir_all(dir).context("create directory", dir)?;
        for made in missing.iter().rev() {
            crate::fs::sync_dir(made.parent().expect("below the store"))?;
        }
        Ok(())
    }
}

/// Removes `dir` if it holds nothing but empty directories; false if anything else
/// is in it (or it cannot be removed).
fn remove_empty_tree(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    for entry in entries {
        let Ok(entry) = entry else { return false };
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir || !remove_empty_tree(&entry.path()) {
            return false;
        }
    }
    fs::remove_dir(dir).is_ok()
}

/// A lock file that is removed when dropped unless it was renamed into place.
#[derive(Debug)]
struct LockFile {
    path: PathBuf,
    file: Option<fs::File>,
}

impl Drop for LockFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Kind;

    fn store() -> (tempfile::TempDir, RefStore) {
        let dir = tempfile::tempdir().unwrap();
        let refs = RefStore::at(dir.path());
        fs::create_dir_all(dir.path().join("refs/heads")).unwrap();
        refs.set_head(&Head::Branch(RefName::branch("main").unwrap()))
            .unwrap();
        (dir, refs)
    }

    #[test]
    fn names_follow_git_rules() {
        for ok in ["main", "feature/x", "v1.0", "a-b_c"] {
            assert!(RefName::branch(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "a..b", "a b", "a~1", "a^", "a:b", "x.lock", "/a", "a/", ".a", "a/.b", "a//b", "@",
            "a@{1", "HEAD", "-x", "a\\b", "a*", "a.",
        ] {
            assert!(RefName::branch(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn update_checks_expected_value_and_leaves_no_lock() {
        let (dir, refs) = store();
        let main = RefName::branch("main").unwrap();
        let a = ObjectId::hash(Kind::Blob, b"a");
        let b = ObjectId::hash(Kind::Blob, b"b");
        assert_eq!(refs.head_commit().unwrap(), None);
        refs.update_head(a, Expected::Absent).unwrap();
        assert_eq!(refs.find(&main).unwrap(), Some(a));
        let err = refs.update(&main, b, Expected::Absent).unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err}");
        assert_eq!(refs.find(&main).unwrap(), Some(a));
        refs.update(&main, b, Expected::Value(a)).unwrap();
        assert_eq!(refs.head_commit().unwrap(), Some(b));
        assert!(!dir.path().join("refs/heads/main.lock").exists());
    }

    #[test]
    fn held_lock_is_reported() {
        let (dir, refs) = store();
        fs::write(dir.path().join("refs/heads/main.lock"), "").unwrap();
        let err = refs
            .update_head(ObjectId::empty_tree(), Expected::Any)
            .unwrap_err();
        assert!(
            err.to_string().contains("locked by another process"),
            "{err}"
        );
    }

    #[test]
    fn symref_cycle_is_an_error() {
        let (dir, refs) = store();
        fs::write(
            dir.path().join("refs/heads/main"),
            "ref: refs/heads/other\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("refs/heads/other"),
            "ref: refs/heads/main\n",
        )
        .unwrap();
        assert!(matches!(refs.head(), Err(Error::SymrefCycle(_))));
        fs::write(dir.path().join("HEAD"), "ref: HEAD\n").unwrap();
        assert!(matches!(refs.head_commit(), Err(Error::SymrefCycle(_))));
    }

    #[test]
    fn malformed_ref_is_named() {
        let (dir, refs) = store();
        fs::write(dir.path().join("refs/heads/main"), "garbage\n").unwrap();
        let err = refs.head_commit().unwrap_err().to_string();
        assert!(err.contains("refs/heads/main is malformed"), "{err}");
    }
}
