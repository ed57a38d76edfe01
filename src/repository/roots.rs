//! The roots of reachability: everything that keeps objects alive. gc keeps what they
//! reach and fsck checks it, both from this one definition.

use super::{Repository, Result};
use crate::object::ObjectId;
use crate::refs::{self, Head, RefName};
use crate::worktree::Index;

/// What keeps objects alive (see [`Repository::roots`]).
#[derive(Debug)]
pub struct Roots {
    /// Every ref under `refs/` (branches, tags, and any other kind a later feature
    /// stores there, such as remote-tracking refs), then HEAD when it is detached or
    /// cannot be read: each with the object it names, or why it could not be read.
    /// Refs with no object (a branch with no commits yet) are left out.
    pub refs: Vec<(RefName, Result<ObjectId, refs::Error>)>,
    /// Blobs the stat cache records as stored, with their paths: a commit that hashed
    /// them may be about to point at them. Blobs missing from the store are left out
    /// (the cache only promises they were written once).
    pub index_blobs: Vec<(Vec<u8>, ObjectId)>,
}

impl Repository {
    /// The roots of reachability: every ref, a detached HEAD and the stat cache's
    /// blobs. An unreadable ref is listed with its error rather than failing the call,
    /// so fsck can report it and go on; gc refuses to run on it.
    pub fn roots(&self) -> Result<Roots> {
        let mut out = Vec::new();
        for name in self.refs.names("refs/")? {
            match self.refs.find(&name) {
                Ok(Some(id)) => out.push((name, Ok(id))),
                Ok(None) => {}
                Err(e) => out.push((name, Err(e))),
            }
        }
        match self.refs.head() {
            Ok(Head::Detached(id)) => out.push((RefName::head(), Ok(id))),
            Ok(Head::Branch(_)) => {}
            Err(e) => out.push((RefName::head(), Err(e))),
        }
        let mut index_blobs = Vec::new();
        if let Some(index) = Index::load(&self.cow_dir.join("index")) {
            for (path, entry) in index.iter() {
                if entry.stored && self.odb.contains(&entry.id) {
                    index_blobs.push((path.to_vec(), entry.id));
                }
            }
        }
        Ok(Roots {
            refs: out,
            index_blobs,
        })
    }
}
