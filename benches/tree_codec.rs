//! Encoding and decoding one tree of 1,000 entries (files, executables, symlinks and
//! directories), the unit of work of every snapshot and every diff.
//!
//! A commit sorts and checks each directory's entries ([`Tree::from_entries`]) and
//! encodes them to hash and store; a diff or checkout reads trees back, decompressing
//! and checking them ([`Odb::find_tree`]) into owned entries ([`Tree::decode`]) or
//! walking the buffer without allocating ([`TreeRefIter`]). Each step is measured
//! alone so a regression points at its cause.

use std::hint::black_box;

use cow::Repository;
use cow::object::{Entry, EntryMode, Kind, ObjectId, Tree, TreeRefIter};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const ENTRIES: usize = 1_000;

/// 1,000 entries in no particular order: mostly files, some executables, symlinks and
/// directories, with names as long as a source tree's.
fn entries() -> Vec<Entry> {
    (0..ENTRIES)
        // A fixed shuffle, so building has sorting to do.
        .map(|i| (i * 7919) % ENTRIES)
        .map(|i| {
            let (mode, name) = match i % 20 {
                0 => (EntryMode::Tree, format!("directory_{i:04}")),
                1 => (EntryMode::BlobExecutable, format!("script_{i:04}.sh")),
                2 => (EntryMode::Link, format!("link_{i:04}")),
                _ => (EntryMode::Blob, format!("source_file_{i:04}.rs")),
            };
            Entry {
                mode,
                id: ObjectId::hash(mode.kind(), name.as_bytes()),
                name: name.into_bytes(),
            }
        })
        .collect()
}

fn tree_codec(c: &mut Criterion) {
    let entries = entries();
    let tree = Tree::from_entries(entries.clone()).expect("valid, distinct names");
    let bytes = tree.encode();

    let dir = tempfile::tempdir().expect("a temporary directory");
    let repo = Repository::init(dir.path()).expect("a new repository");
    let id = repo.odb().write_tree(&tree).expect("a fresh store").id;

    let mut group = c.benchmark_group("tree_codec");
    group.throughput(Throughput::Elements(ENTRIES as u64));
    group.bench_function("build_1000", |b| {
        b.iter_batched(
            || entries.clone(),
            |entries| Tree::from_entries(entries).expect("valid, distinct names"),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("encode_1000", |b| b.iter(|| black_box(&tree).encode()));
    group.bench_function("id_1000", |b| {
        b.iter(|| ObjectId::hash(Kind::Tree, black_box(&bytes)))
    });
    group.bench_function("decode_1000", |b| {
        b.iter(|| Tree::decode(black_box(&bytes)).expect("a tree cow encoded"))
    });
    group.bench_function("iter_1000", |b| {
        b.iter(|| {
            TreeRefIter::new(black_box(&bytes))
                .map(|e| e.expect("a tree cow encoded"))
                .filter(|e| e.mode.is_tree())
                .count()
        })
    });
    group.bench_function("find_tree_1000", |b| {
        b.iter(|| {
            repo.odb()
                .find_tree(black_box(&id))
                .expect("stored in setup")
        })
    });
    group.finish();
}

criterion_group!(benches, tree_codec);
criterion_main!(benches);
