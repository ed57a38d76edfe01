//! Building the trees of a scan bottom-up from the flattened directories, or taking
//! a directory's id from the directory cache when nothing in it changed.

use rayon::prelude::*;

use super::{Child, FileJob, FileRef};
use crate::object::{EntryMode, EntryRef, Kind, ObjectId, Trees, encode_sorted};
use crate::worktree::Result;

/// The trees of a scan.
pub(super) struct Built {
    /// The root tree's id.
    pub(super) root: ObjectId,
    /// Each directory's tree id.
    pub(super) ids: Vec<ObjectId>,
    /// Whether each directory's id was taken from the directory cache (not built).
    pub(super) taken: Vec<bool>,
    /// The trees built.
    pub(super) trees: Trees,
    /// The ids of the trees built, a depth at a time, the deepest first.
    pub(super) levels: Vec<Vec<ObjectId>>,
}

/// Builds the tree of every directory in `nodes`, bottom-up, the directories of each
/// depth in parallel, or takes its id from the directory cache (`old_trees`) when
/// every file in it was vouched for and every subdirectory's id was taken too.
pub(super) fn build_trees(
    nodes: Vec<Vec<Child<'_>>>,
    depths: &[usize],
    old_trees: &[(Option<ObjectId>, Option<ObjectId>)],
    jobs: &[FileJob],
) -> Result<Built> {
    let max_depth = depths.iter().copied().max().unwrap_or(0);
    let mut levels: Vec<Vec<(usize, Vec<Child<'_>>)>> =
        (0..=max_depth).map(|_| Vec::new()).collect();
    for (node, children) in nodes.into_iter().enumerate() {
        levels[depths[node]].push((node, children));
    }
    let mut ids = vec![ObjectId::empty_tree(); depths.len()];
    let mut taken = vec![false; depths.len()];
    let mut trees = Trees::new();
    let mut level_ids = Vec::with_capacity(levels.len());
    for level in levels.into_iter().rev() {
        let built: Vec<(usize, ObjectId, Option<Vec<u8>>)> = level
            .into_par_iter()
            .map(|(node, children)| {
                if let Some(id) = old_trees[node].1
                    && children.iter().all(|child| match child {
                        Child::File { file, .. } => matches!(file, FileRef::Cached { .. }),
                        Child::Dir { node, .. } => taken[*node],
                    })
                {
                    return Ok((node, id, None));
                }
                let entries = children.iter().filter_map(|child| match child {
                    Child::File { name, file } => {
                        let (mode, id) = match *file {
                            FileRef::Cached { mode, id } => (mode, id),
                            FileRef::Job(i) => jobs[i].entry.map(|e| (e.mode, e.id))?,
                        };
                        Some(EntryRef { mode, name, id })
                    }
                    Child::Dir { name, node } => Some(EntryRef {
                        mode: EntryMode::Tree,
                        name,
                        id: ids[*node],
                    }),
                });
                let mut content = Vec::with_capacity(children.len() * 52);
                encode_sorted(entries, &mut content)?;
                Ok((node, ObjectId::hash(Kind::Tree, &content), Some(content)))
            })
            .collect::<Result<_>>()?;
        let mut this_level = Vec::with_capacity(built.len());
        for (node, id, content) in built {
            ids[node] = id;
            match content {
                Some(content) => {
                    this_level.push(id);
                    trees.insert_encoded(id, content);
                }
                None => taken[node] = true,
            }
        }
        level_ids.push(this_level);
    }
    Ok(Built {
        root: ids[0],
        ids,
        taken,
        trees,
        levels: level_ids,
    })
}
