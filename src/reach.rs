//! Reachability: the objects reachable from some objects and not from others.
//!
//! One walk serves gc (everything the roots reach, nothing excluded) and transfers
//! (what a push sends: reachable from the local tips and not from the remote's; what a
//! fetch expects). Trees are walked with the path they were first seen at, a hint that
//! lets a repack pair versions of one file as deltas and order blocks by directory.
//!
//! Like `git rev-list --objects INCLUDE… ^EXCLUDE…`, commits are excluded exactly
//! (every ancestor of an excluded commit), while trees and blobs are excluded when the
//! trees of the *boundary* commits reach them — the excluded commits that an included
//! commit has as parents, and the excluded tips themselves. An object only some older
//! excluded snapshot holds may therefore be listed too (a transfer sends it again,
//! which content addressing makes harmless); an object an included snapshot needs and
//! no boundary snapshot holds is never left out. Walking the trees of every excluded
//! commit would make that exact, at the cost of reading the whole excluded history.

use std::collections::HashSet;

use crate::object::{EntryMode, Kind, ObjectId};
use crate::odb::{self, Odb};

/// An object a walk reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reached {
    /// The object.
    pub id: ObjectId,
    /// Its kind, as the tree or commit that reached it says (not read from the store).
    pub kind: Kind,
    /// The `/`-separated path it was first seen at (empty for commits and root trees).
    pub path: Vec<u8>,
}

/// Every object reachable from `include` (commits, trees or blobs) and not from
/// `exclude` (see the [module docs](self) for how exactly): each included commit, then
/// its tree's objects, every blob before the tree that lists it.
///
/// An excluded object missing from the store excludes only itself (the other side of a
/// transfer may hold commits this store never had); a missing included object is an
/// error, since whoever asked needs it. So is an included annotated tag, until tags
/// are read (its target would be missed).
pub fn reachable(
    odb: &Odb,
    include: &[ObjectId],
    exclude: &[ObjectId],
) -> odb::Result<Vec<Reached>> {
    Ok(walk(odb, include, exclude)?.0)
}

/// What a copy of [`reachable`]'s objects must hold: those objects, then the chunks
/// of the chunked blobs among them (each under its key, with the blob's path and kind
/// blob) and the bases of those stored as deltas, but for those a chunked blob of an
/// excluded boundary snapshot holds — the other side has them. gc and transfers copy
/// this; no chunk is listed twice.
pub fn reachable_stored(
    odb: &Odb,
    include: &[ObjectId],
    exclude: &[ObjectId],
) -> odb::Result<Vec<Reached>> {
    let (mut out, excluded) = walk(odb, include, exclude)?;
    if !odb.has_chunks() {
        return Ok(out);
    }
    // Every copy's list, and every copy's delta base: whichever copy a repack keeps
    // must stay readable.
    let mut lists = Vec::new();
    for r in out.iter().filter(|r| r.kind == Kind::Blob) {
        for list in odb.chunk_lists(&r.id)? {
            lists.push((r.path.clone(), list));
        }
    }
    if lists.is_empty() {
        return Ok(out);
    }
    let mut seen: HashSet<ObjectId> = HashSet::new();
    for id in &excluded {
        // Unreadable or absent here: the other side holds what it holds.
        for list in odb.chunk_lists(id).unwrap_or_default() {
            seen.extend(list.chunks().iter().map(|c| c.key));
        }
    }
    for (path, list) in lists {
        let mut todo: Vec<ObjectId> = list.chunks().iter().map(|c| c.key).collect();
        todo.reverse();
        while let Some(key) = todo.pop() {
            if seen.insert(key) {
                out.push(Reached {
                    id: key,
                    kind: Kind::Blob,
                    path: path.clone(),
                });
                todo.extend(odb.chunk_bases(&key)?);
            }
        }
    }
    Ok(out)
}

/// [`reachable`]'s walk; also returns the objects excluded (those the boundary
/// snapshots hold, and the excluded tips that are not commits).
fn walk(
    odb: &Odb,
    include: &[ObjectId],
    exclude: &[ObjectId],
) -> odb::Result<(Vec<Reached>, HashSet<ObjectId>)> {
    let mut out = Vec::new();
    // Commits: every ancestor of an excluded commit is excluded.
    let mut excluded_commits = HashSet::new();
    let mut excluded_objects = HashSet::new();
    let mut boundary = Vec::new();
    // Trees whose objects are excluded.
    let mut excluded_trees = Vec::new();
    for &tip in exclude {
        match odb.read_header(&tip) {
            Ok((Kind::Commit, _)) => boundary.push(tip),
            Ok((Kind::Tree, _)) => excluded_trees.push(tip),
            Ok(_) => {
                excluded_objects.insert(tip);
            }
            // Missing: excludes itself (as a commit, so that an included child stops
            // there, and as any other object).
            Err(odb::Error::NotFound { .. }) => {
                excluded_commits.insert(tip);
                excluded_objects.insert(tip);
            }
            Err(e) => return Err(e),
        }
    }
    let mut todo = boundary.clone();
    while let Some(id) = todo.pop() {
        if !excluded_commits.insert(id) {
            continue;
        }
        match odb.find_commit(&id) {
            Ok(commit) => todo.extend(commit.parents),
            Err(odb::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }

    let mut seen = HashSet::new();
    let mut commits = Vec::new();
    // Trees carry their directory's name, so versions of one directory pair up.
    let mut trees: Vec<(ObjectId, Vec<u8>)> = Vec::new();
    for &tip in include {
        match odb.read_header(&tip)?.0 {
            Kind::Commit => commits.push(tip),
            Kind::Tree => trees.push((tip, Vec::new())),
            // An annotated tag reaches its target, which this walk cannot read yet:
            // listing the tag alone would let gc prune what it points at.
            Kind::Tag => {
                return Err(odb::Error::ObjectKind {
                    id: tip,
                    expected: Kind::Commit,
                    actual: Kind::Tag,
                });
            }
            kind => {
                if !excluded_objects.contains(&tip) && seen.insert(tip) {
                    out.push(Reached {
                        id: tip,
                        kind,
                        path: Vec::new(),
                    });
                }
            }
        }
    }
    while let Some(id) = commits.pop() {
        if excluded_commits.contains(&id) || !seen.insert(id) {
            continue;
        }
        let commit = odb.find_commit(&id)?;
        out.push(Reached {
            id,
            kind: Kind::Commit,
            path: Vec::new(),
        });
        trees.push((commit.tree, Vec::new()));
        for parent in commit.parents {
            if excluded_commits.contains(&parent) {
                boundary.push(parent);
            } else {
                commits.push(parent);
            }
        }
    }

    // Trees and blobs: what a boundary snapshot holds is excluded.
    boundary.sort_unstable();
    boundary.dedup();
    let mut todo = excluded_trees;
    for id in boundary {
        if let Ok(commit) = odb.find_commit(&id) {
            todo.push(commit.tree);
        }
    }
    while let Some(id) = todo.pop() {
        if !excluded_objects.insert(id) {
            continue;
        }
        match odb.find_tree(&id) {
            Ok(tree) => {
                for entry in tree.entries() {
                    if entry.mode == EntryMode::Tree {
                        todo.push(entry.id);
                    } else {
                        excluded_objects.insert(entry.id);
                    }
                }
            }
            Err(odb::Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }

    while let Some((id, name)) = trees.pop() {
        if excluded_objects.contains(&id) || !seen.insert(id) {
            continue;
        }
        for entry in odb.find_tree(&id)?.entries() {
            let mut path = name.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(&entry.name);
            if entry.mode == EntryMode::Tree {
                trees.push((entry.id, path));
            } else if !excluded_objects.contains(&entry.id) && seen.insert(entry.id) {
                out.push(Reached {
                    id: entry.id,
                    kind: Kind::Blob,
                    path,
                });
            }
        }
        out.push(Reached {
            id,
            kind: Kind::Tree,
            path: name,
        });
    }
    Ok((out, excluded_objects))
}
