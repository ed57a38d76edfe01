//! Tree-to-tree diff that never opens a subtree whose id is equal on both sides.

use std::cmp::Ordering;

use crate::object::{EntryMode, ObjectId, RepoPathBuf, Tree, Trees, is_within, name_order};
use crate::odb::{self, Odb};

/// Where trees come from: the store, or the store plus trees held in memory.
pub trait TreeSource {
    /// The tree with this id.
    fn find_tree(&self, id: &ObjectId) -> Result<Tree, odb::Error>;
}

impl TreeSource for Odb {
    fn find_tree(&self, id: &ObjectId) -> Result<Tree, odb::Error> {
        Odb::find_tree(self, id)
    }
}

/// Trees held in memory (such as a scanned working directory's), falling back to the
/// store.
pub struct WithTrees<'a> {
    /// The store.
    pub odb: &'a Odb,
    /// Trees by id.
    pub trees: &'a Trees,
}

impl TreeSource for WithTrees<'_> {
    fn find_tree(&self, id: &ObjectId) -> Result<Tree, odb::Error> {
        match self.trees.get(id) {
            Some(tree) => Ok(tree),
            None => self.odb.find_tree(id),
        }
    }
}

/// One side of a change: an entry's mode and object.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Side {
    /// File, executable, symlink or directory.
    pub mode: EntryMode,
    /// Its blob or tree.
    pub id: ObjectId,
}

/// What happened to a path.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ChangeKind {
    /// Only in the new tree.
    Added,
    /// Only in the old tree.
    Deleted,
    /// Content or executable bit changed.
    Modified,
    /// Regular file became a symlink or the other way round.
    TypeChanged,
}

/// A changed path. Directories appear only when added or deleted as a whole (then
/// `old` or `new` is a tree); changed directories are descended into instead.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Change {
    /// The path from the root.
    pub path: RepoPathBuf,
    /// The old entry, if any.
    pub old: Option<Side>,
    /// The new entry, if any.
    pub new: Option<Side>,
}

impl Change {
    /// What kind of change this is.
    pub fn kind(&self) -> ChangeKind {
        match (self.old, self.new) {
            (None, _) => ChangeKind::Added,
            (_, None) => ChangeKind::Deleted,
            (Some(o), Some(n)) if (o.mode == EntryMode::Link) != (n.mode == EntryMode::Link) => {
                ChangeKind::TypeChanged
            }
            _ => ChangeKind::Modified,
        }
    }

    /// Whether the change is a whole directory added or deleted.
    pub fn is_tree(&self) -> bool {
        self.old.or(self.new).is_some_and(|s| s.mode.is_tree())
    }
}

/// Calls `visit` for every path that differs between trees `old` and `new` (`None` is
/// an empty side), in git's order. Subtrees with equal ids are skipped unread. For a
/// directory added or deleted as a whole, `visit` gets the directory itself and returns
/// whether to descend and report its content too.
pub fn diff_trees(
    src: &dyn TreeSource,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    visit: &mut dyn FnMut(&Change) -> Result<bool, odb::Error>,
) -> Result<(), odb::Error> {
    diff_trees_in(src, old, new, &[], visit)
}

/// Like [`diff_trees`], limited to `paths` (and what is below them; empty for all):
/// directories that neither lead to nor lie within a limit are not opened.
pub fn diff_trees_in(
    src: &dyn TreeSource,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    paths: &[RepoPathBuf],
    visit: &mut dyn FnMut(&Change) -> Result<bool, odb::Error>,
) -> Result<(), odb::Error> {
    if old == new {
        return Ok(());
    }
    let load = |id: Option<ObjectId>| -> Result<Vec<_>, odb::Error> {
        Ok(match id {
            Some(id) => src.find_tree(&id)?.into_entries(),
            None => Vec::new(),
        })
    };
    let mut walker = Walker { src, paths, visit };
    walker.walk(&load(old)?, &load(new)?, &mut Vec::new())
}

struct Walker<'a> {
    src: &'a dyn TreeSource,
    paths: &'a [RepoPathBuf],
    visit: &'a mut dyn FnMut(&Change) -> Result<bool, odb::Error>,
}

impl Walker<'_> {
    /// Whether `path` is inside the limits, or (for a directory) leads to one.
    fn wanted(&self, path: &[u8], is_tree: bool) -> (bool, bool) {
        if self.paths.is_empty() || self.paths.iter().any(|p| is_within(path, p.as_bytes())) {
            return (true, true);
        }
        let leads = is_tree
            && self
                .paths
                .iter()
                .any(|p| p.as_bytes().len() > path.len() && is_within(p.as_bytes(), path));
        (false, leads)
    }

    fn walk(
        &mut self,
        old: &[crate::object::Entry],
        new: &[crate::object::Entry],
        path: &mut Vec<u8>,
    ) -> Result<(), odb::Error> {
        let src = self.src;
        let (mut i, mut j) = (0, 0);
        while i < old.len() || j < new.len() {
            let order = match (old.get(i), new.get(j)) {
                (Some(o), Some(n)) => {
                    name_order(&o.name, o.mode.is_tree(), &n.name, n.mode.is_tree())
                }
                (Some(_), None) => Ordering::Less,
                _ => Ordering::Greater,
            };
            let (o, n) = match order {
                Ordering::Less => (old.get(i), None),
                Ordering::Greater => (None, new.get(j)),
                Ordering::Equal => (old.get(i), new.get(j)),
            };
            i += o.is_some() as usize;
            j += n.is_some() as usize;
            let entry = o.or(n).expect("one side has an entry");
            let len = path.len();
            if len > 0 {
                path.push(b'/');
            }
            path.extend_from_slice(&entry.name);
            let side = |e: &crate::object::Entry| Side {
                mode: e.mode,
                id: e.id,
            };
            let (inside, leads) = self.wanted(path, entry.mode.is_tree());
            match (o, n) {
                _ if !inside && !leads => {}
                (Some(o), Some(n)) if o.id == n.id && o.mode == n.mode => {}
                (Some(o), Some(n)) if o.mode.is_tree() => {
                    // Both directories (the order puts a file and a directory of one name
                    // apart), with different ids.
                    let (a, b) = (src.find_tree(&o.id)?, src.find_tree(&n.id)?);
                    self.walk(a.entries(), b.entries(), path)?;
                }
                (o, n) => {
                    let change = Change {
                        // Names of trees, which are valid.
                        path: RepoPathBuf::from_vec_unchecked(path.clone()),
                        old: o.map(side),
                        new: n.map(side),
                    };
                    // A directory only leading to a limit is not itself a change.
                    let descend = if inside { (self.visit)(&change)? } else { true };
                    if descend && entry.mode.is_tree() {
                        let tree = src.find_tree(&entry.id)?;
                        let none: &[crate::object::Entry] = &[];
                        let (a, b) = if o.is_some() {
                            (tree.entries(), none)
                        } else {
                            (none, tree.entries())
                        };
                        self.walk(a, b, path)?;
                    }
                }
            }
            path.truncate(len);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Entry;

    fn blob(odb: &Odb, data: &str) -> ObjectId {
        odb.write_blob(data.as_bytes()).unwrap().id
    }

    fn tree(odb: &Odb, entries: Vec<(&str, EntryMode, ObjectId)>) -> ObjectId {
        let entries = entries
            .into_iter()
            .map(|(n, mode, id)| Entry {
                mode,
                name: n.into(),
                id,
            })
            .collect();
        odb.write_tree(&Tree::from_entries(entries).unwrap())
            .unwrap()
            .id
    }

    #[test]
    fn reports_leaf_changes_and_skips_equal_subtrees() {
        let dir = tempfile::tempdir().unwrap();
        let odb = Odb::at(dir.path());
        let (a, b, c) = (blob(&odb, "a"), blob(&odb, "b"), blob(&odb, "c"));
        let shared = tree(&odb, vec![("x", EntryMode::Blob, a)]);
        let old = tree(
            &odb,
            vec![
                ("same", EntryMode::Tree, shared),
                ("f", EntryMode::Blob, a),
                ("gone", EntryMode::Blob, b),
                ("exe", EntryMode::Blob, c),
                ("ln", EntryMode::Blob, a),
                ("d", EntryMode::Blob, a),
            ],
        );
        let sub = tree(&odb, vec![("in", EntryMode::Blob, b)]);
        let new = tree(
            &odb,
            vec![
                ("same", EntryMode::Tree, shared),
                ("f", EntryMode::Blob, b),
                ("exe", EntryMode::BlobExecutable, c),
                ("ln", EntryMode::Link, a),
                ("d", EntryMode::Tree, sub),
                ("new", EntryMode::Blob, c),
            ],
        );
        let before = odb.stats().reads;
        let mut seen = Vec::new();
        diff_trees(&odb, Some(old), Some(new), &mut |c| {
            seen.push((
                String::from_utf8(c.path.as_bytes().to_vec()).unwrap(),
                c.kind(),
                c.is_tree(),
            ));
            Ok(true)
        })
        .unwrap();
        use ChangeKind::*;
        let want = [
            ("d", Deleted, false),
            ("d", Added, true),
            ("d/in", Added, false),
            ("exe", Modified, false),
            ("f", Modified, false),
            ("gone", Deleted, false),
            ("ln", TypeChanged, false),
            ("new", Added, false),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(p, k, t)| (p.to_string(), *k, *t))
            .collect();
        assert_eq!(seen, want);
        // The two roots and the added subtree: `same` was never opened.
        assert_eq!(odb.stats().reads - before, 3);
        assert!(diff_trees(&odb, Some(old), Some(old), &mut |_| panic!()).is_ok());
    }
}
