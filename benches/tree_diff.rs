//! Diffing two snapshots of 75,000 files that differ in 5 of them, as
//! `cow diff HEAD~1 HEAD` does after a small commit.
//!
//! The store is built once, as a first commit and a small second commit would leave it:
//! 75,000 blobs and 1,531 trees (30 top directories × 50 directories × 50 files) in one
//! pack, then 5 changed blobs and the 11 trees above them loose. [`diff_trees`] skips
//! every subtree whose id is equal on both sides, so it reads 22 trees, not 3,062; the
//! diff against an empty tree, which reads every tree and reports every file, is
//! measured beside it for scale.

mod common;

use std::hint::black_box;

use common::{FILES, FILES_PER_DIR, SUB_DIRS, TOP_DIRS};
use cow::Repository;
use cow::diff::diff_trees;
use cow::object::{Entry, EntryMode, ObjectId, Tree};
use cow::odb::Odb;
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};

/// Files changed between the two snapshots, as (top, sub, file), each in a different
/// directory.
const CHANGED: [(usize, usize, usize); 5] = [
    (2, 7, 13),
    (9, 21, 0),
    (16, 33, 49),
    (23, 40, 25),
    (29, 49, 31),
];

/// File entries of every leaf directory, by top and sub directory.
type Leaves = Vec<Vec<Vec<Entry>>>;

/// Writes the trees of `leaves` bottom-up and returns the root's id. Trees the store
/// has already are not written again.
fn write_snapshot(odb: &Odb, leaves: &Leaves) -> ObjectId {
    let write = |entries: Vec<Entry>| {
        let tree = Tree::from_entries(entries).expect("distinct valid names");
        odb.write_tree(&tree).expect("a writable store").id
    };
    let tops = leaves
        .iter()
        .enumerate()
        .map(|(t, subs)| {
            let subs = subs
                .iter()
                .enumerate()
                .map(|(s, files)| Entry {
                    mode: EntryMode::Tree,
                    name: common::sub_name(s).into_bytes(),
                    id: write(files.clone()),
                })
                .collect();
            Entry {
                mode: EntryMode::Tree,
                name: common::top_name(t).into_bytes(),
                id: write(subs),
            }
        })
        .collect();
    write(tops)
}

/// The repository holding both snapshots, and their root trees.
struct Snapshots {
    _dir: tempfile::TempDir,
    repo: Repository,
    old: ObjectId,
    new: ObjectId,
}

fn snapshots() -> Snapshots {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let repo = Repository::init(dir.path()).expect("a new repository");
    let odb = repo.odb();

    odb.begin_pack().expect("a writable pack directory");
    let mut leaves: Leaves = (0..TOP_DIRS)
        .map(|t| {
            (0..SUB_DIRS)
                .map(|s| {
                    (0..FILES_PER_DIR)
                        .map(|f| Entry {
                            mode: EntryMode::Blob,
                            name: common::file_name(f).into_bytes(),
                            id: odb
                                .write_blob(&common::small_file(t, s, f))
                                .expect("a writable store")
                                .id,
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    let old = write_snapshot(odb, &leaves);
    odb.finish_pack(1).expect("a writable pack directory");

    for (t, s, f) in CHANGED {
        let mut content = common::small_file(t, s, f);
        content.extend_from_slice(b"// changed\n");
        leaves[t][s][f].id = odb.write_blob(&content).expect("a writable store").id;
    }
    let new = write_snapshot(odb, &leaves);
    Snapshots {
        _dir: dir,
        repo,
        old,
        new,
    }
}

/// Diffs `old` against `new`, descending into added directories, and counts the
/// changed files.
fn count_changes(odb: &Odb, old: Option<ObjectId>, new: ObjectId) -> usize {
    let mut files = 0;
    diff_trees(odb, old, Some(new), &mut |change| {
        files += usize::from(!change.is_tree());
        Ok(true)
    })
    .expect("every tree is in the store");
    files
}

fn tree_diff(c: &mut Criterion) {
    // Built on first use, so only when a benchmark here is selected.
    let cell = std::cell::OnceCell::new();
    let get = || {
        cell.get_or_init(|| {
            let s = snapshots();
            let odb = s.repo.odb();
            assert_eq!(count_changes(odb, Some(s.old), s.new), CHANGED.len());
            assert_eq!(count_changes(odb, None, s.new), FILES);
            s
        })
    };

    let mut group = c.benchmark_group("tree_diff");
    group.bench_function("75000_files_5_changed", |b| {
        let s = get();
        b.iter(|| count_changes(s.repo.odb(), black_box(Some(s.old)), black_box(s.new)))
    });
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("75000_files_vs_empty", |b| {
        let s = get();
        b.iter(|| count_changes(s.repo.odb(), None, black_box(s.new)))
    });
    group.finish();
}

criterion_group!(benches, tree_diff);
criterion_main!(benches);
