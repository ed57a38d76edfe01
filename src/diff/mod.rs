//! Differences between snapshots: tree against tree, where either side may be a
//! working directory scanned into memory.

mod tree;

pub use tree::{Change, ChangeKind, Side, TreeSource, WithTrees, diff_trees};
