//! Objects and their identity: blobs, trees and commits in git's SHA-256 object format.
//!
//! Every type here encodes to exactly the canonical bytes git hashes, so every id cow
//! computes can be checked with `git hash-object`, `git mktree` or `git commit-tree` in a
//! `git init --object-format=sha256` repository. Paths inside snapshots are
//! [`RepoPath`]s: bytes, checked name by name when made.

mod commit;
pub mod date;
mod id;
mod path;
mod tree;

pub use commit::{Commit, Signature, Time};
pub use id::{Hasher, ObjectId, ParseIdError, Prefix, header};
pub(crate) use path::is_within;
pub use path::{
    InvalidPath, RepoPath, RepoPathBuf, quote_path, quote_path_message, quote_path_status,
};
pub use tree::{
    Entry, EntryMode, EntryRef, Tree, TreeRefIter, Trees, encode_sorted, name_order, validate_name,
};

use std::fmt;

/// The kind of an object, as named in its header.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Kind {
    /// File content or a symlink target.
    Blob,
    /// A directory listing.
    Tree,
    /// A snapshot: root tree, parents, author, committer, message.
    Commit,
    /// An annotated tag (not written by cow yet).
    Tag,
}

impl Kind {
    /// The name used in object headers and by `cat-file -t`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Blob => "blob",
            Kind::Tree => "tree",
            Kind::Commit => "commit",
            Kind::Tag => "tag",
        }
    }

    /// Parses a header name.
    pub fn from_bytes(name: &[u8]) -> Option<Kind> {
        Some(match name {
            b"blob" => Kind::Blob,
            b"tree" => Kind::Tree,
            b"commit" => Kind::Commit,
            b"tag" => Kind::Tag,
            _ => return None,
        })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an object's content does not parse as its kind.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// A tree entry is malformed or breaks a rule trees must keep.
    #[error("tree entry {index}: {reason}")]
    TreeEntry {
        /// Position of the entry in the tree.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// A commit header is missing or malformed.
    #[error("commit: {0}")]
    Commit(String),
}

/// An error from building an object in memory from invalid parts.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BuildError {
    /// A tree entry name is not allowed.
    #[error("invalid entry name {}: {reason}", path::quote_name(name))]
    InvalidName {
        /// The name.
        name: Vec<u8>,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Two entries of a tree share a name.
    #[error("duplicate entry name {}", path::quote_name(.0))]
    DuplicateName(Vec<u8>),
    /// A signature part contains a character git does not allow there.
    #[error("invalid identity {0:?}: names and emails cannot contain '<', '>' or a newline")]
    InvalidIdentity(String),
}
