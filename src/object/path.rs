//! Paths inside snapshots: `/`-separated names from the root, kept as bytes and checked
//! when made, and git's quoting to show them.
//!
//! [`RepoPath`] is to [`RepoPathBuf`] what [`Path`] is to [`PathBuf`]: a borrowed,
//! unsized view and its owned twin. Every non-root path is a sequence of names each of
//! which a tree may hold ([`validate_name`]): no empty name (so no leading, trailing or
//! doubled `/`), no `.` or `..`, no `.cow` in any letter case, no NUL. The root is the
//! empty path. A path that passed the check cannot leave the directory it is joined to,
//! so [`RepoPath::to_fs_path`] needs no check of its own.

use std::borrow::Borrow;
use std::ffi::OsStr;
use std::fmt;
use std::ops::Deref;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::validate_name;

/// A path that is not a valid repository path, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid path {}: {reason}", quote_path_message(path))]
pub struct InvalidPath {
    /// The path refused.
    pub path: Vec<u8>,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Why `path` is not a valid repository path, if it is not.
fn check(path: &[u8]) -> Result<(), &'static str> {
    if path.is_empty() {
        return Ok(()); // the root
    }
    for name in path.split(|&b| b == b'/') {
        if name.is_empty() {
            return Err("it has an empty name (a leading, trailing or doubled '/')");
        }
        validate_name(name)?;
    }
    Ok(())
}

/// A borrowed path inside a snapshot: `/`-separated names from the root, as bytes
/// (names are bytes, not UTF-8), each valid as a tree entry's name; empty for the
/// root. Compared and ordered as bytes.
#[repr(transparent)]
#[derive(PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoPath([u8]);

/// An owned path inside a snapshot; see [`RepoPath`], which it dereferences to.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoPathBuf(Vec<u8>);

impl RepoPath {
    /// The root of a snapshot: the empty path.
    pub fn root() -> &'static RepoPath {
        RepoPath::from_bytes_unchecked(b"")
    }

    /// Checks `path` and borrows it as a repository path.
    pub fn from_bytes(path: &[u8]) -> Result<&RepoPath, InvalidPath> {
        match check(path) {
            Ok(()) => Ok(RepoPath::from_bytes_unchecked(path)),
            Err(reason) => Err(InvalidPath {
                path: path.to_vec(),
                reason,
            }),
        }
    }

    /// Borrows `path` as a repository path without checking it. Only for paths made of
    /// names that are valid already — names of a decoded or built [`Tree`](super::Tree),
    /// joined with `/` — so hot loops do not check every name twice.
    pub(crate) fn from_bytes_unchecked(path: &[u8]) -> &RepoPath {
        debug_assert_eq!(check(path), Ok(()), "{:?}", path.escape_ascii().to_string());
        // SAFETY: `RepoPath` is `repr(transparent)` over `[u8]`, so the two pointers
        // have the same layout and metadata.
        unsafe { &*(path as *const [u8] as *const RepoPath) }
    }

    /// The bytes of the path.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether this is the root (the empty path).
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The names of the path from the root down; none for the root.
    pub fn components(&self) -> impl DoubleEndedIterator<Item = &[u8]> {
        let mut names = self.0.split(|&b| b == b'/');
        if self.is_root() {
            names.next(); // the one empty piece of the empty path
        }
        names
    }

    /// The directory holding this path (the root for a name at the top); `None` for
    /// the root.
    pub fn parent(&self) -> Option<&RepoPath> {
        self.split().map(|(parent, _)| parent)
    }

    /// The last name of the path; `None` for the root.
    pub fn file_name(&self) -> Option<&[u8]> {
        self.split().map(|(_, name)| name)
    }

    /// The parent directory and the last name; `None` for the root.
    pub fn split(&self) -> Option<(&RepoPath, &[u8])> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.iter().rposition(|&b| b == b'/') {
            Some(i) => (
                RepoPath::from_bytes_unchecked(&self.0[..i]),
                &self.0[i + 1..],
            ),
            None => (RepoPath::root(), &self.0),
        })
    }

    /// This path with `name` appended, once `name` is checked as a tree entry's name.
    pub fn join(&self, name: &[u8]) -> Result<RepoPathBuf, InvalidPath> {
        let joined = self.join_unchecked(name);
        match validate_name(name) {
            Ok(()) => Ok(joined),
            Err(reason) => Err(InvalidPath {
                path: joined.0,
                reason,
            }),
        }
    }

    /// This path with `name` appended, unchecked: `name` must be valid already (a
    /// name of a decoded or built [`Tree`](super::Tree)).
    pub(crate) fn join_unchecked(&self, name: &[u8]) -> RepoPathBuf {
        let mut out = Vec::with_capacity(self.0.len() + 1 + name.len());
        out.extend_from_slice(&self.0);
        if !out.is_empty() {
            out.push(b'/');
        }
        out.extend_from_slice(name);
        RepoPathBuf(out)
    }

    /// Whether `dir` is this path or a directory above it, name by name (`a/b` is
    /// within `a`, `a/bc` is not). Everything is within the root.
    pub fn starts_with(&self, dir: &RepoPath) -> bool {
        is_within(&self.0, &dir.0)
    }

    /// The file this path names below the directory `root`. It stays below `root`
    /// (the names were checked), but a symlink on the way could still lead elsewhere:
    /// use it to name the file in messages, and reach the file itself through the
    /// working directory's descriptor-based reads.
    pub fn to_fs_path(&self, root: &Path) -> PathBuf {
        let mut out = root.to_path_buf();
        for name in self.components() {
            out.push(OsStr::from_bytes(name));
        }
        out
    }

    /// The path as git shows it by default ([`quote_path`]).
    pub fn quoted(&self) -> String {
        quote_path(&self.0)
    }

    /// The path as `git status` shows it ([`quote_path_status`]).
    pub fn quoted_for_status(&self) -> String {
        quote_path_status(&self.0)
    }

    /// The path as error messages show it ([`quote_path_message`]).
    pub fn quoted_for_message(&self) -> String {
        quote_path_message(&self.0)
    }
}

/// Whether `path` is `dir` or below it, name by name (the empty `dir` is the root).
pub(crate) fn is_within(path: &[u8], dir: &[u8]) -> bool {
    dir.is_empty() || path.starts_with(dir) && (path.len() == dir.len() || path[dir.len()] == b'/')
}

impl RepoPathBuf {
    /// The root: the empty path.
    pub fn root() -> RepoPathBuf {
        RepoPathBuf::default()
    }

    /// Checks `path` and takes it as a repository path.
    pub fn from_bytes(path: Vec<u8>) -> Result<RepoPathBuf, InvalidPath> {
        match check(&path) {
            Ok(()) => Ok(RepoPathBuf(path)),
            Err(reason) => Err(InvalidPath { path, reason }),
        }
    }

    /// Takes `path` as a repository path without checking it; see
    /// [`RepoPath::from_bytes_unchecked`] for when that is right.
    pub(crate) fn from_vec_unchecked(path: Vec<u8>) -> RepoPathBuf {
        debug_assert_eq!(
            check(&path),
            Ok(()),
            "{:?}",
            path.escape_ascii().to_string()
        );
        RepoPathBuf(path)
    }

    /// The bytes of the path.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// Borrows the path.
    pub fn as_repo_path(&self) -> &RepoPath {
        RepoPath::from_bytes_unchecked(&self.0)
    }
}

impl Deref for RepoPathBuf {
    type Target = RepoPath;

    fn deref(&self) -> &RepoPath {
        self.as_repo_path()
    }
}

impl Borrow<RepoPath> for RepoPathBuf {
    fn borrow(&self) -> &RepoPath {
        self.as_repo_path()
    }
}

impl ToOwned for RepoPath {
    type Owned = RepoPathBuf;

    fn to_owned(&self) -> RepoPathBuf {
        RepoPathBuf(self.0.to_vec())
    }
}

impl AsRef<RepoPath> for RepoPath {
    fn as_ref(&self) -> &RepoPath {
        self
    }
}

impl AsRef<RepoPath> for RepoPathBuf {
    fn as_ref(&self) -> &RepoPath {
        self.as_repo_path()
    }
}

impl AsRef<[u8]> for RepoPath {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for RepoPathBuf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<&RepoPath> for RepoPathBuf {
    fn from(path: &RepoPath) -> RepoPathBuf {
        path.to_owned()
    }
}

impl<'a> TryFrom<&'a [u8]> for &'a RepoPath {
    type Error = InvalidPath;

    fn try_from(path: &'a [u8]) -> Result<&'a RepoPath, InvalidPath> {
        RepoPath::from_bytes(path)
    }
}

impl<'a> TryFrom<&'a str> for &'a RepoPath {
    type Error = InvalidPath;

    fn try_from(path: &'a str) -> Result<&'a RepoPath, InvalidPath> {
        RepoPath::from_bytes(path.as_bytes())
    }
}

impl TryFrom<Vec<u8>> for RepoPathBuf {
    type Error = InvalidPath;

    fn try_from(path: Vec<u8>) -> Result<RepoPathBuf, InvalidPath> {
        RepoPathBuf::from_bytes(path)
    }
}

impl TryFrom<&str> for RepoPathBuf {
    type Error = InvalidPath;

    fn try_from(path: &str) -> Result<RepoPathBuf, InvalidPath> {
        RepoPathBuf::from_bytes(path.as_bytes().to_vec())
    }
}

impl fmt::Debug for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

impl fmt::Debug for RepoPathBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_repo_path(), f)
    }
}

pub(crate) use crate::quote::quote_name;
pub use crate::quote::{quote_path, quote_path_message, quote_path_status};

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &[u8]) -> &RepoPath {
        RepoPath::from_bytes(s).unwrap()
    }

    #[test]
    fn valid_paths_are_taken() {
        for ok in [
            &b""[..],
            b"a",
            b"a/b/c",
            b"...",
            b".cowx/y",
            b"x.cow",
            b"a b/\xff\xfe",
            b".git/config",
        ] {
            assert_eq!(RepoPath::from_bytes(ok).unwrap().as_bytes(), ok);
            assert_eq!(RepoPathBuf::from_bytes(ok.to_vec()).unwrap().as_bytes(), ok);
        }
        assert!(RepoPath::root().is_root());
        assert_eq!(RepoPath::from_bytes(b"").unwrap(), RepoPath::root());
        assert!(!path(b"a").is_root());
    }

    #[test]
    fn every_invalid_form_is_refused_with_its_reason() {
        let empty = "it has an empty name (a leading, trailing or doubled '/')";
        let dots = "'.' and '..' are not allowed";
        let cow = "'.cow' is reserved for the repository";
        let nul = "contains NUL";
        for (bad, reason) in [
            (&b"/"[..], empty),
            (b"/a", empty),
            (b"a/", empty),
            (b"a//b", empty),
            (b".", dots),
            (b"..", dots),
            (b"a/./b", dots),
            (b"../x", dots),
            (b"a/..", dots),
            (b".cow", cow),
            (b".COW/HEAD", cow),
            (b"a/.Cow", cow),
            (b"a\0b", nul),
            (b"d/\0", nul),
        ] {
            let err = RepoPath::from_bytes(bad).unwrap_err();
            assert_eq!(err.reason, reason, "{:?}", bad.escape_ascii().to_string());
            assert_eq!(err.path, bad);
            assert_eq!(RepoPathBuf::from_bytes(bad.to_vec()).unwrap_err(), err);
        }
        // The message names the path, quoted when it must be.
        let err = RepoPath::from_bytes(b"\xff/..").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid path \"\\377/..\": '.' and '..' are not allowed"
        );
        let err = RepoPath::from_bytes(b"a//b").unwrap_err();
        assert_eq!(err.to_string(), format!("invalid path 'a//b': {empty}"));
    }

    #[test]
    fn components_parent_and_name() {
        let p = path(b"a/b/c");
        assert_eq!(p.components().collect::<Vec<_>>(), [b"a", b"b", b"c"]);
        assert_eq!(p.components().next_back(), Some(&b"c"[..]));
        assert_eq!(p.parent(), Some(path(b"a/b")));
        assert_eq!(p.file_name(), Some(&b"c"[..]));
        assert_eq!(path(b"a").parent(), Some(RepoPath::root()));
        assert_eq!(path(b"a").file_name(), Some(&b"a"[..]));
        assert_eq!(RepoPath::root().parent(), None);
        assert_eq!(RepoPath::root().file_name(), None);
        assert_eq!(RepoPath::root().components().count(), 0);
    }

    #[test]
    fn join_checks_the_name() {
        assert_eq!(RepoPath::root().join(b"a").unwrap().as_bytes(), b"a");
        assert_eq!(path(b"a").join(b"b").unwrap().as_bytes(), b"a/b");
        for (bad, reason) in [
            (&b""[..], "empty name"),
            (b"..", "'.' and '..' are not allowed"),
            (b".cOw", "'.cow' is reserved for the repository"),
            (b"b/c", "contains '/'"),
            (b"\0", "contains NUL"),
        ] {
            let err = path(b"a").join(bad).unwrap_err();
            assert_eq!(err.reason, reason);
            assert_eq!(err.path, [&b"a/"[..], bad].concat());
        }
    }

    #[test]
    fn starts_with_goes_name_by_name() {
        let p = path(b"ab/c");
        assert!(p.starts_with(path(b"ab")));
        assert!(p.starts_with(path(b"ab/c")));
        assert!(p.starts_with(RepoPath::root()));
        assert!(!p.starts_with(path(b"a")));
        assert!(!p.starts_with(path(b"ab/c/d")));
        assert!(!path(b"ab.c").starts_with(path(b"ab")));
        assert!(RepoPath::root().starts_with(RepoPath::root()));
        assert!(!RepoPath::root().starts_with(path(b"a")));
    }

    #[test]
    fn owned_and_borrowed_agree() {
        let owned = RepoPathBuf::from_bytes(b"x/y".to_vec()).unwrap();
        let borrowed: &RepoPath = &owned;
        assert_eq!(borrowed.to_owned(), owned);
        assert_eq!(<RepoPathBuf as Borrow<RepoPath>>::borrow(&owned), borrowed);
        let mut set = std::collections::BTreeSet::new();
        set.insert(owned.clone());
        assert!(set.contains(path(b"x/y")));
        // Byte order: '.' sorts before '/'.
        assert!(path(b"a.b") < path(b"a/b"));
        assert_eq!(format!("{owned:?}"), "\"x/y\"");
        assert_eq!(format!("{:?}", path(b"\xff\"")), "\"\\xff\\\"\"");
        assert_eq!(RepoPathBuf::root(), RepoPath::root().to_owned());
        assert_eq!(owned.clone().into_bytes(), b"x/y");
        assert!(<&RepoPath>::try_from("a/../b").is_err());
        assert!(RepoPathBuf::try_from("a/b").is_ok());
    }

    #[test]
    fn fs_paths_stay_inside() {
        let root = Path::new("/r");
        assert_eq!(path(b"a/b").to_fs_path(root), PathBuf::from("/r/a/b"));
        assert_eq!(RepoPath::root().to_fs_path(root), PathBuf::from("/r"));
    }

    #[test]
    fn quoting_matches_git() {
        assert_eq!(quote_path(b"plain name.txt"), "plain name.txt");
        assert_eq!(quote_path(b"tab\there"), "\"tab\\there\"");
        assert_eq!(quote_path(b"q\"b\\"), "\"q\\\"b\\\\\"");
        assert_eq!(quote_path(b"caf\xc3\xa9"), "\"caf\\303\\251\"");
        assert_eq!(quote_path(b"\xff"), "\"\\377\"");
        assert_eq!(quote_path_status(b"new file"), "\"new file\"");
        assert_eq!(quote_path_message(b"a b"), "'a b'");
        assert_eq!(quote_path_message(b"\xff"), "\"\\377\"");
        let p = path(b"d/\x01 x");
        assert_eq!(p.quoted(), "\"d/\\001 x\"");
        assert_eq!(p.quoted_for_status(), "\"d/\\001 x\"");
        assert_eq!(path(b"a b").quoted(), "a b");
        assert_eq!(path(b"a b").quoted_for_status(), "\"a b\"");
        assert_eq!(path(b"a b").quoted_for_message(), "'a b'");
        assert_eq!(quote_name(b"a b"), "\"a b\"");
        assert_eq!(quote_name(b"a\"b\xff"), "\"a\\\"b\\377\"");
    }
}
