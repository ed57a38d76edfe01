//! Reading what a snapshot holds at a path.

use super::{Repository, Result};
use crate::object::{EntryMode, Kind, ObjectId, RepoPath, Tree};
use crate::odb;
use crate::revision::{self, Rev};

/// The content at a path of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathContent {
    /// A file or symlink: its mode and bytes (for a symlink, the target).
    Blob {
        /// File, executable or symlink.
        mode: EntryMode,
        /// The blob's id.
        id: ObjectId,
        /// The content.
        data: Vec<u8>,
    },
    /// A directory.
    Tree {
        /// The tree's id.
        id: ObjectId,
        /// Its entries.
        tree: Tree,
    },
}

impl Repository {
    /// Reads the file or directory at `path` ([`RepoPath::root`] for the root) in the
    /// snapshot named by revision `rev`.
    pub fn read_path<'a>(&self, rev: impl Into<Rev<'a>>, path: &RepoPath) -> Result<PathContent> {
        let rev = rev.into();
        let tree = self.peel_to_tree(self.resolve(&rev)?)?;
        let (mode, id) =
            self.odb
                .tree_entry_at(&tree, path)?
                .ok_or_else(|| revision::Error::PathNotFound {
                    rev: rev.to_string(),
                    path: path.as_bytes().to_vec(),
                })?;
        Ok(match mode {
            EntryMode::Tree => PathContent::Tree {
                id,
                tree: self.odb.find_tree(&id)?,
            },
            mode => {
                let (kind, _) = self.odb.read_header(&id)?;
                if kind != Kind::Blob {
                    return Err(odb::Error::ObjectKind {
                        id,
                        expected: Kind::Blob,
                        actual: kind,
                    }
                    .into());
                }
                PathContent::Blob {
                    mode,
                    id,
                    data: self.odb.find_blob(&id)?,
                }
            }
        })
    }
}
