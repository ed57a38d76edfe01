//! A remote that is another cow repository on this machine (`/path`, `file:///path`).
//!
//! Objects move as objects: read (and so verified) from one store and written into
//! the other as one new pack; the remote's refs move through a ref transaction under
//! its writer lock, each only if it still holds what the push expected.

use std::io;

use super::ops::OpInfo;
use super::{RepoLock, Repository};
use crate::object::ObjectId;
use crate::odb::backend::FileKind;
use crate::odb::{Candidate, Odb, RepackOptions};
use crate::reach::Reached;
use crate::refs::{Expected, Head, RefName};
use crate::remote::{self, Error, Progress, RefUpdate, RemoteRefs, Transfer};

/// Another repository, reached through the filesystem.
pub(crate) struct PathRemote {
    repo: Repository,
    url: String,
    /// Held from the first write to the last ref move.
    lock: Option<RepoLock>,
}

impl PathRemote {
    /// Opens the repository whose working directory is `path`.
    pub(crate) fn open(path: &std::path::Path) -> remote::Result<PathRemote> {
        let url = crate::quote::quote_path(path.as_os_str().as_encoded_bytes());
        let repo = Repository::open(path)
            .map_err(|_| Error::Refused(format!("{url} is not a cow repository")))?;
        Ok(PathRemote {
            repo,
            url,
            lock: None,
        })
    }

    /// The remote repository's store.
    pub(crate) fn store(&self) -> &std::path::Path {
        self.repo.cow_dir()
    }

    fn lock(&mut self) -> remote::Result<()> {
        if self.lock.is_none() {
            self.lock = Some(
                self.repo
                    .lock()
                    .map_err(|e| Error::Refused(format!("{}: {e}", self.url)))?,
            );
        }
        Ok(())
    }
}

/// Copies `objects` that `to` lacks from `from` into `to`: the small ones into one new
/// pack, packed as gc packs (read from `from`, so each is verified on the way), the
/// large ones as their loose files, each verified after the copy.
fn copy_objects(
    from: &Odb,
    to: &Odb,
    objects: &[Reached],
    progress: &dyn Progress,
) -> remote::Result<Transfer> {
    let mut transfer = Transfer::default();
    let candidates: Vec<Candidate> = objects
        .iter()
        .filter(|o| !to.contains_stored(&o.id))
        .map(|o| Candidate {
            id: o.id,
            kind: o.kind,
            path: o.path.clone(),
        })
        .collect();
    progress.update("copy", 0, candidates.len() as u64, "objects");
    let total = candidates.len() as u64;
    let options = RepackOptions {
        level: to.level(),
        ..RepackOptions::default()
    };
    let written = from.write_pack_into(candidates, to, &options)?;
    to.reload_packs();
    if let Some(pack) = &written.pack {
        transfer.packs += 1;
        transfer.objects += pack.objects;
        transfer.bytes += pack.bytes;
    }
    for id in written.too_large {
        let hex = id.to_string();
        let source = from.backend().location(FileKind::Loose, &hex);
        let target = to.backend().location(FileKind::Loose, &hex);
        let mut reader = from
            .backend()
            .reader(FileKind::Loose, &hex)
            .and_then(|r| r.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound)))
            .map_err(|e| crate::fs::IoError::new("read", &source, e))?;
        let mut file = to
            .backend()
            .create(FileKind::Loose)
            .map_err(|e| crate::fs::IoError::new("create", &target, e))?;
        let bytes = io::copy(&mut reader, &mut file)
            .map_err(|e| crate::fs::IoError::new("write", &target, e))?;
        file.finish(&hex, true)
            .map_err(|e| crate::fs::IoError::new("write", &target, e))?;
        if let Err(e) = to.verify(&id) {
            to.backend().remove(FileKind::Loose, &hex).ok();
            return Err(e.into());
        }
        transfer.objects += 1;
        transfer.bytes += bytes;
    }
    to.sync()?;
    progress.update("copy", total, total, "objects");
    Ok(transfer)
}

impl remote::Remote for PathRemote {
    fn url(&self) -> String {
        self.url.clone()
    }

    fn refs(&mut self) -> remote::Result<RemoteRefs> {
        let refs = &self.repo.refs;
        let list = refs.list("refs/")?;
        let head = match refs.head()? {
            Head::Branch(name) => Some(name.as_str().to_owned()),
            Head::Detached(_) => None,
        };
        Ok(RemoteRefs {
            refs: list
                .into_iter()
                .filter(|(name, _)| !name.as_str().starts_with("refs/remotes/"))
                .map(|(name, id)| (name.as_str().to_owned(), id))
                .collect(),
            head,
        })
    }

    fn send(
        &mut self,
        local: &Odb,
        objects: Vec<Reached>,
        progress: &dyn Progress,
    ) -> remote::Result<Transfer> {
        self.lock()?;
        copy_objects(local, &self.repo.odb, &objects, progress)
    }

    fn update_refs(&mut self, updates: &[RefUpdate], _head: Option<&str>) -> remote::Result<()> {
        self.lock()?;
        // As git's receive.denyCurrentBranch: the branch checked out there would no
        // longer match its working directory (a bare store has none).
        if self.repo.work_dir().is_some()
            && let Head::Branch(current) = self.repo.refs.head()?
            && let Some(update) = updates.iter().find(|u| u.name == current.as_str())
        {
            return Err(Error::Refused(format!(
                "refusing to update {} in {}: it is the branch checked out there, whose \
                 working directory would no longer match (check out another branch there)",
                update.name, self.url
            )));
        }
        let mut tx = self.repo.refs.transaction();
        for update in updates {
            let name = RefName::new(&update.name)?;
            let expected = Expected::from_option(update.old);
            match update.new {
                Some(id) => tx.update(name, id, expected),
                None => tx.delete(name, expected),
            };
        }
        let prepared = tx.prepare().map_err(|e| match e {
            crate::refs::Error::Conflict { name, .. } => Error::RefMoved { name },
            e => e.into(),
        })?;
        self.repo
            .commit_refs(prepared, OpInfo::new("receive a push"))
            .map_err(|e| Error::Refused(e.to_string()))?;
        self.lock = None;
        Ok(())
    }

    fn receive(
        &mut self,
        local: &Odb,
        wants: &[ObjectId],
        haves: &[ObjectId],
        progress: &dyn Progress,
    ) -> remote::Result<Transfer> {
        let objects = crate::reach::reachable_stored(&self.repo.odb, wants, haves)?;
        copy_objects(&self.repo.odb, local, &objects, progress)
    }
}
