//! Revision syntax: full ids, unique prefixes, ref names, `HEAD`, `REV~N`, `REV^N`,
//! `REV^{type}` and `REV:path`.
//!
//! A layer above [`crate::refs`] and [`crate::odb`]: it reads both, and
//! neither knows about it.

use std::borrow::Cow;

use crate::object::{EntryMode, Kind, ObjectId, Prefix, RepoPath, quote_path_message};
use crate::odb::{self, Odb};
use crate::oplog::{self, OpStore};
use crate::refs::{self, Head, RefName, RefStore};

/// A revision that names nothing, or names it ambiguously or malformed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The revision names nothing.
    #[error("unknown revision '{0}'")]
    UnknownRevision(String),
    /// The abbreviated id matches several objects.
    #[error("revision '{prefix}' is ambiguous: it matches {} objects ({})", candidates.len(), list(candidates))]
    Ambiguous {
        /// The abbreviation.
        prefix: String,
        /// Every object it matches.
        candidates: Vec<ObjectId>,
    },
    /// HEAD names a branch with no commit yet.
    #[error("'{0}' has no commits yet")]
    Unborn(String),
    /// `REV~N` or `REV^N` walks past a root commit.
    #[error("revision '{0}' does not exist: the history is shorter")]
    NoSuchParent(String),
    /// `REV:path` names a path that is not in the snapshot.
    #[error("path {} does not exist in '{rev}'", quote_path_message(path))]
    PathNotFound {
        /// The revision.
        rev: String,
        /// The path, as given.
        path: Vec<u8>,
    },
    /// The revision is malformed.
    #[error("invalid revision '{spec}': {reason}")]
    InvalidRevision {
        /// The revision given.
        spec: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Reading a ref failed.
    #[error(transparent)]
    Refs(#[from] refs::Error),
    /// The object store failed.
    #[error(transparent)]
    Odb(#[from] odb::Error),
    /// `NAME@{DATE}` when NAME's first-parent history starts after DATE.
    #[error("revision '{spec}': no commit on that history is as old as that")]
    NoCommitThatOld {
        /// The revision.
        spec: String,
    },
    /// The operation log could not give the view `@{op:…}` names.
    #[error(transparent)]
    Operation(Box<oplog::Error>),
}

fn list(ids: &[ObjectId]) -> String {
    ids.iter()
        .take(5)
        .map(|id| id.to_hex_prefix(12))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Result type of revision parsing.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a revision names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Resolved {
    /// The object.
    pub id: ObjectId,
    /// For `REV:path`, the mode of the entry at the path (a directory for `REV:`).
    pub mode: Option<EntryMode>,
}

/// A name for an object, as every method of the repository that takes a revision
/// accepts it: an object id, or a revision string in the syntax of
/// [`resolve`] (`main`, `HEAD~2`, `v1.0^{tree}`, an abbreviated id, `REV:path`).
///
/// Methods take `impl Into<Rev>`, so an [`ObjectId`], a `&str`, a `String` or bytes
/// can be passed as they are; an optional revision is an `Option<Rev>`, whose `None`
/// means the method's default (usually `HEAD`).
///
/// ```
/// use cow::revision::Rev;
/// use cow::ObjectId;
///
/// let by_name: Rev = "main~1".into();
/// let by_id: Rev = ObjectId::empty_tree().into();
/// assert_eq!(by_name.to_string(), "main~1");
/// assert_eq!(by_id.to_string(), ObjectId::empty_tree().to_string());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Rev<'a> {
    /// An object id, taken as it is: it must be in the store.
    Id(ObjectId),
    /// A revision string, resolved by [`resolve`].
    Spec(Cow<'a, [u8]>),
}

impl Rev<'_> {
    /// `HEAD`: the commit the working directory was last checked out or committed at.
    pub const HEAD: Rev<'static> = Rev::Spec(Cow::Borrowed(b"HEAD"));

    /// The revision string, when it is one (`None` for an id).
    pub fn as_spec(&self) -> Option<&[u8]> {
        match self {
            Rev::Id(_) => None,
            Rev::Spec(spec) => Some(spec),
        }
    }

    /// A copy that borrows nothing.
    pub fn into_owned(self) -> Rev<'static> {
        match self {
            Rev::Id(id) => Rev::Id(id),
            Rev::Spec(spec) => Rev::Spec(Cow::Owned(spec.into_owned())),
        }
    }
}

/// The id in full, or the revision as given (bytes that are not UTF-8 replaced).
impl std::fmt::Display for Rev<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rev::Id(id) => write!(f, "{id}"),
            Rev::Spec(spec) => f.write_str(&String::from_utf8_lossy(spec)),
        }
    }
}

impl From<ObjectId> for Rev<'_> {
    fn from(id: ObjectId) -> Self {
        Rev::Id(id)
    }
}

impl From<&ObjectId> for Rev<'_> {
    fn from(id: &ObjectId) -> Self {
        Rev::Id(*id)
    }
}

impl<'a> From<&'a str> for Rev<'a> {
    fn from(spec: &'a str) -> Self {
        Rev::Spec(Cow::Borrowed(spec.as_bytes()))
    }
}

/// An element of a `&[&str]`.
impl<'a> From<&&'a str> for Rev<'a> {
    fn from(spec: &&'a str) -> Self {
        Rev::from(*spec)
    }
}

impl<'a> From<&'a String> for Rev<'a> {
    fn from(spec: &'a String) -> Self {
        Rev::Spec(Cow::Borrowed(spec.as_bytes()))
    }
}

impl From<String> for Rev<'_> {
    fn from(spec: String) -> Self {
        Rev::Spec(Cow::Owned(spec.into_bytes()))
    }
}

impl<'a> From<&'a [u8]> for Rev<'a> {
    fn from(spec: &'a [u8]) -> Self {
        Rev::Spec(Cow::Borrowed(spec))
    }
}

impl<'a> From<&'a Vec<u8>> for Rev<'a> {
    fn from(spec: &'a Vec<u8>) -> Self {
        Rev::Spec(Cow::Borrowed(spec))
    }
}

impl From<Vec<u8>> for Rev<'_> {
    fn from(spec: Vec<u8>) -> Self {
        Rev::Spec(Cow::Owned(spec))
    }
}

/// A command-line argument, as its bytes.
impl<'a> From<&'a std::ffi::OsStr> for Rev<'a> {
    fn from(spec: &'a std::ffi::OsStr) -> Self {
        use std::os::unix::ffi::OsStrExt;
        Rev::Spec(Cow::Borrowed(spec.as_bytes()))
    }
}

impl<'a> From<&'a Rev<'_>> for Rev<'a> {
    fn from(rev: &'a Rev<'_>) -> Self {
        match rev {
            Rev::Id(id) => Rev::Id(*id),
            Rev::Spec(spec) => Rev::Spec(Cow::Borrowed(spec)),
        }
    }
}

/// Resolves a revision to an object.
///
/// Accepted forms: a full 64-digit id; a unique prefix of 4 or more hex digits; `HEAD`
/// (or `@`); a branch, tag or full ref name; any of these followed by `~N` (N-th first
/// parent), `^` / `^N` (N-th parent, `^0` the commit itself), `^{tree}` (a commit's
/// tree), `^{commit}`, `^{blob}` (the object, if it has that type), `^{}` and
/// `^{object}` (the object itself), repeated; and finally
/// `:path` for the object at a path of that snapshot (`REV:` is its root tree).
#[doc(alias = "rev-parse")]
pub fn resolve<'a>(odb: &Odb, refs: &RefStore, rev: impl Into<Rev<'a>>) -> Result<Resolved> {
    resolve_with_log(odb, refs, &OpStore::at(refs.dir()), rev)
}

/// [`resolve`], with `NAME@{op:…}` read from `ops` rather than from the log beside
/// `refs` (which for a view's temporary refs is no log at all).
pub(crate) fn resolve_with_log<'a>(
    odb: &Odb,
    refs: &RefStore,
    ops: &OpStore,
    rev: impl Into<Rev<'a>>,
) -> Result<Resolved> {
    let spec = match rev.into() {
        Rev::Id(id) if odb.contains(&id) => return Ok(Resolved { id, mode: None }),
        Rev::Id(id) => return Err(Error::UnknownRevision(id.to_string())),
        Rev::Spec(spec) => spec,
    };
    let spec = &spec[..];
    let shown = String::from_utf8_lossy(spec).into_owned();
    let invalid = |reason| Error::InvalidRevision {
        spec: shown.clone(),
        reason,
    };
    // The first ':' outside `@{…}` and `^{…}` (`main@{op:3}:src` is a path of
    // `main@{op:3}`); a brace elsewhere is part of a name.
    let mut depth = 0usize;
    let colon = (0..spec.len()).find(|&i| {
        match spec[i] {
            b'{' if i > 0 && matches!(spec[i - 1], b'@' | b'^') => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            _ => {}
        }
        spec[i] == b':' && depth == 0
    });
    let (rev, path) = match colon {
        Some(i) => (&spec[..i], Some(&spec[i + 1..])),
        None => (spec, None),
    };
    let rev = std::str::from_utf8(rev).map_err(|_| invalid("not UTF-8 before ':'"))?;
    if rev.is_empty() {
        return Err(invalid("a revision is needed before ':'"));
    }
    // Operators and digits are ASCII: parse the suffix as bytes, so a multi-byte
    // character anywhere is an error rather than a slice inside it.
    let base_end = rev.find(['~', '^']).unwrap_or(rev.len());
    let mut id = resolve_base(odb, refs, ops, &rev[..base_end])?;
    let mut suffix = &rev.as_bytes()[base_end..];
    while let Some(&op) = suffix.first() {
        if let Some(rest) = suffix.strip_prefix(b"^{") {
            let end = rest
                .iter()
                .position(|&b| b == b'}')
                .ok_or_else(|| invalid("'^{' without '}'"))?;
            id = peel(odb, id, &rest[..end], &shown)?;
            suffix = &rest[end + 1..];
            continue;
        }
        if op != b'~' && op != b'^' {
            return Err(invalid("expected '~' or '^'"));
        }
        let digits = suffix[1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let n: usize = match &suffix[1..1 + digits] {
            b"" => 1,
            d => std::str::from_utf8(d)
                .ok()
                .and_then(|d| d.parse().ok())
                .ok_or_else(|| invalid("number too large"))?,
        };
        suffix = &suffix[1 + digits..];
        let commit = odb.find_commit(&peel_to_commit(odb, id, &shown)?)?;
        id = match op {
            b'~' => {
                let mut current = (id, commit);
                for _ in 0..n {
                    let parent = *current
                        .1
                        .parents
                        .first()
                        .ok_or_else(|| Error::NoSuchParent(shown.clone()))?;
                    current = (parent, odb.find_commit(&parent)?);
                }
                current.0
            }
            b'^' if n == 0 => id,
            _ => *commit
                .parents
                .get(n - 1)
                .ok_or_else(|| Error::NoSuchParent(shown.clone()))?,
        };
    }
    let Some(path) = path else {
        return Ok(Resolved { id, mode: None });
    };
    let tree = match odb.read_header(&id)?.0 {
        Kind::Commit => odb.find_commit(&id)?.tree,
        Kind::Tree => id,
        _ => return Err(invalid("only a commit or tree has paths")),
    };
    let not_found = || Error::PathNotFound {
        rev: rev.to_owned(),
        path: path.to_vec(),
    };
    // A name no tree can hold is in no tree.
    let found = match RepoPath::from_bytes(&without_empty_names(path)) {
        Ok(repo_path) => odb.tree_entry_at(&tree, repo_path)?,
        Err(_) => None,
    };
    let (mode, id) = found.ok_or_else(not_found)?;
    Ok(Resolved {
        id,
        mode: Some(mode),
    })
}

/// `NAME@{op:OP}`: what NAME (a branch, tag, remote-tracking branch or `HEAD`; empty
/// means `HEAD`) named in the view of operation OP: a number counts operations back
/// from the last (`0` is the last), unless it has four digits or more and is the
/// unique prefix of an operation's id; anything else is an operation id or a unique
/// prefix of one, `@`, `@-`. An object id is itself in any view.
fn resolve_at_op(odb: &Odb, ops: &OpStore, name: &str, op: &str, shown: &str) -> Result<ObjectId> {
    let unknown = || Error::UnknownRevision(shown.to_owned());
    let op_error = |e: oplog::Error| Error::Operation(Box::new(e));
    let back = |back: usize| -> Result<oplog::OpId> {
        let head = ops.head().map_err(op_error)?.ok_or_else(unknown)?;
        let mut walk = ops.walk(Some(head)).skip(back);
        Ok(walk.next().ok_or_else(unknown)?.map_err(op_error)?.0)
    };
    // A number counts back; four digits or more may also be an id's prefix (ids are
    // hex), which wins when one matches.
    let id = match op.parse::<usize>() {
        Ok(n) if op.bytes().all(|b| b.is_ascii_digit()) => match ops.resolve(op) {
            Ok(id) => id,
            Err(oplog::Error::Ambiguous(_)) => {
                return Err(op_error(oplog::Error::Ambiguous(op.to_owned())));
            }
            _ => back(n)?,
        },
        _ => ops.resolve(op).map_err(op_error)?,
    };
    let view = ops
        .read_op(&id)
        .and_then(|op| ops.read_view(&op.view))
        .map_err(op_error)?;
    let name = match name {
        "" | "@" => "HEAD",
        name => name,
    };
    if name == "HEAD" {
        return view.head_commit().ok_or_else(unknown);
    }
    for candidate in [
        name.to_owned(),
        format!("refs/{name}"),
        format!("refs/tags/{name}"),
        format!("refs/heads/{name}"),
        format!("refs/remotes/{name}"),
    ] {
        if let Ok(ref_name) = RefName::new(&candidate)
            && let Some(id) = view.refs.get(&ref_name)
        {
            return Ok(*id);
        }
    }
    // Not a name in that view: an id (or a unique prefix of one) names the same object
    // in every view; nothing else is looked up in today's refs.
    let prefix = Prefix::from_hex(name).map_err(|_| unknown())?;
    match odb.ids_with_prefix(&prefix)?.as_slice() {
        [id] => Ok(*id),
        _ => Err(unknown()),
    }
}

/// `NAME@{DATE}`: the newest commit on NAME's first-parent chain (empty NAME: HEAD's)
/// committed at or before DATE (`2024-01-31`, `yesterday`, `2 weeks ago`, … as
/// [`crate::object::date::parse_user_date`] reads them).
fn resolve_at_date(
    odb: &Odb,
    refs: &RefStore,
    ops: &OpStore,
    name: &str,
    date: &str,
    shown: &str,
) -> Result<ObjectId> {
    let when = crate::object::date::parse_user_date(date, crate::object::Time::now()).ok_or_else(
        || Error::InvalidRevision {
            spec: shown.to_owned(),
            reason: "not a date (2024-01-31, yesterday, 2 weeks ago) nor an operation (op:N)",
        },
    )?;
    let name = if name.is_empty() { "HEAD" } else { name };
    let mut id = peel_to_commit(odb, resolve_base(odb, refs, ops, name)?, shown)?;
    loop {
        let commit = odb.find_commit(&id)?;
        if commit.committer.time.seconds <= when.seconds {
            return Ok(id);
        }
        id = *commit
            .parents
            .first()
            .ok_or_else(|| Error::NoCommitThatOld {
                spec: shown.to_owned(),
            })?;
    }
}

/// `path` with empty names left out, as `REV:dir/` and `REV:a//b` mean: the path
/// `dir` and `a/b`.
fn without_empty_names(path: &[u8]) -> Cow<'_, [u8]> {
    let names = path.split(|&b| b == b'/');
    if !names.clone().any(<[u8]>::is_empty) {
        return Cow::Borrowed(path);
    }
    Cow::Owned(
        names
            .filter(|name| !name.is_empty())
            .collect::<Vec<_>>()
            .join(&b'/'),
    )
}

/// `id` as the type `want` names (git's `^{type}`).
fn peel(odb: &Odb, id: ObjectId, want: &[u8], spec: &str) -> Result<ObjectId> {
    let fail = |reason| Error::InvalidRevision {
        spec: spec.to_owned(),
        reason,
    };
    let kind = odb.read_header(&id)?.0;
    match (want, kind) {
        (b"" | b"object", _)
        | (b"commit", Kind::Commit)
        | (b"tree", Kind::Tree)
        | (b"blob", Kind::Blob) => Ok(id),
        (b"tree", Kind::Commit) => Ok(odb.find_commit(&id)?.tree),
        (b"commit" | b"tree" | b"blob", _) => {
            Err(fail("the object is not of the type in '^{...}'"))
        }
        _ => Err(fail("'^{...}' takes commit, tree, blob, object or nothing")),
    }
}

fn peel_to_commit(odb: &Odb, id: ObjectId, spec: &str) -> Result<ObjectId> {
    match odb.read_header(&id)?.0 {
        Kind::Commit => Ok(id),
        _ => Err(Error::InvalidRevision {
            spec: spec.to_owned(),
            reason: "'~' and '^' need a commit",
        }),
    }
}

fn resolve_base(odb: &Odb, refs: &RefStore, ops: &OpStore, base: &str) -> Result<ObjectId> {
    if let Some(at) = base.find("@{op:")
        && let Some(op) = base[at + 5..].strip_suffix('}')
    {
        return resolve_at_op(odb, ops, &base[..at], op, base);
    }
    if let Some(at) = base.find("@{")
        && let Some(date) = base[at + 2..].strip_suffix('}')
    {
        return resolve_at_date(odb, refs, ops, &base[..at], date, base);
    }
    let base = if base == "@" { "HEAD" } else { base };
    if base.len() == ObjectId::HEX_LEN
        && let Ok(id) = base.parse::<ObjectId>()
    {
        return if odb.contains(&id) {
            Ok(id)
        } else {
            Err(Error::UnknownRevision(base.to_owned()))
        };
    }
    if base == "HEAD" {
        return refs.head_commit()?.ok_or_else(|| {
            let branch = match refs.head() {
                Ok(Head::Branch(name)) => name.shorten().to_owned(),
                _ => "HEAD".into(),
            };
            Error::Unborn(branch)
        });
    }
    // git's order: the name as given, then under refs/, refs/tags/, refs/heads/,
    // refs/remotes/ (`origin/main`).
    for candidate in [
        base.to_owned(),
        format!("refs/{base}"),
        format!("refs/tags/{base}"),
        format!("refs/heads/{base}"),
        format!("refs/remotes/{base}"),
    ] {
        if let Ok(name) = RefName::new(&candidate)
            && let Some(id) = refs.find(&name)?
        {
            return Ok(id);
        }
    }
    if let Ok(prefix) = Prefix::from_hex(base) {
        let candidates = odb.ids_with_prefix(&prefix)?;
        match candidates.len() {
            0 => {}
            1 => return Ok(candidates[0]),
            _ => {
                return Err(Error::Ambiguous {
                    prefix: base.to_owned(),
                    candidates,
                });
            }
        }
    }
    Err(Error::UnknownRevision(base.to_owned()))
}
