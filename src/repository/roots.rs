//! The roots of reachability: everything that keeps objects alive. gc keeps what they
//! reach and fsck checks it, both from this one definition.

use super::Repository;
use crate::object::ObjectId;
use crate::refs::{self, Head, RefName};
use crate::worktree::Index;

/// What keeps objects alive (see [`Repository::roots`]).
#[derive(Debug)]
pub struct Roots {
    /// The refs that keep objects alive: HEAD when it is detached or cannot be read,
    /// then every ref under `refs/` (branches, tags, and any other kind a later
    /// feature stores there, such as remote-tracking refs), each with the object it
    /// names or why it could not be read. Refs with no object (a branch with no
    /// commits yet) are left out.
    pub refs: Vec<(RefName, Result<ObjectId, refs::Error>)>,
    /// Places under `.cow/refs` that could not be listed: refs there are unknown.
    pub unlisted: Vec<refs::Error>,
    /// Blobs the stat cache records as stored, with their paths: a commit that hashed
    /// them may be about to point at them. Blobs missing from the store are left out
    /// (the cache only promises they were written once).
    pub index_blobs: Vec<(Vec<u8>, ObjectId)>,
}

impl Roots {
    /// Every object the refs name, or the first reason some are unknown: whoever
    /// deletes what the roots do not reach must not act on a partial view.
    pub fn ref_tips(self) -> Result<Vec<ObjectId>, refs::Error> {
        if let Some(e) = self.unlisted.into_iter().next() {
            return Err(e);
        }
        self.refs.into_iter().map(|(_, tip)| tip).collect()
    }
}

impl Repository {
    /// The roots of reachability: a detached HEAD, every ref and the stat cache's
    /// blobs. An unreadable ref, or a place under `.cow/refs` that cannot be listed,
    /// is reported in the result rather than failing the call, so fsck can report it
    /// and go on; gc refuses to run on it.
    pub fn roots(&self) -> Roots {
        let mut roots = self.ref_roots();
        if let Some(index) = Index::load(&self.cow_dir.join("index")) {
            for (path, entry) in index.iter() {
                if entry.stored && self.odb.contains(&entry.id) {
                    roots.index_blobs.push((path.to_vec(), entry.id));
                }
            }
        }
        roots
    }

    /// The refs part of [`roots`](Self::roots) alone (`index_blobs` empty).
    pub(crate) fn ref_roots(&self) -> Roots {
        let mut refs = Vec::new();
        match self.refs.head() {
            Ok(Head::Detached(id)) => refs.push((RefName::head(), Ok(id))),
            Ok(Head::Branch(_)) => {}
            Err(e) => refs.push((RefName::head(), Err(e))),
        }
        let (names, unlisted) = self.refs.names_and_failures("refs/");
        for name in names {
            match self.refs.find(&name) {
                Ok(Some(id)) => refs.push((name, Ok(id))),
                Ok(None) => {}
                Err(e) => refs.push((name, Err(e))),
            }
        }
        Roots {
            refs,
            unlisted,
            index_blobs: Vec::new(),
        }
    }
}
