//! Storing one new blob: hash (SHA-256 of git's header and the content), zstd compress,
//! and write a loose object into a repository's `.cow/objects`, as `cow commit` does for
//! each changed file.
//!
//! Two sizes take the two paths a commit takes: a 4 KiB file is read whole and goes
//! through [`Odb::write_blob`] (hash first, then compress, temporary file, rename); a
//! 64 MiB file is streamed from disk through [`Odb::write_stream`] (hash and compress in
//! one pass, bounded memory). The object is deleted before every iteration, untimed, so
//! each iteration really stores it: a store that already has an object writes nothing.
//! Content is text-like, so compression does real work.

mod common;

use std::cell::OnceCell;
use std::fs;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use cow::Repository;
use cow::object::{Kind, ObjectId};
use cow::odb::Odb;
use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

const SMALL: usize = 4 << 10;
const LARGE: usize = 64 << 20;

/// Stores the 64 MiB file at `path` as a commit does: open, stat, stream.
fn store_file(odb: &Odb, path: &Path) -> ObjectId {
    let file = fs::File::open(path).expect("the content file was written in setup");
    let size = file.metadata().expect("an open file has metadata").len();
    odb.write_stream(Kind::Blob, size, file)
        .expect("a fresh store accepts the blob")
        .id
}

fn store_blob(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let repo = Repository::init(dir.path()).expect("a new repository");
    let odb = repo.odb();
    let mut group = c.benchmark_group("store_blob");

    let small = common::text(1, SMALL);
    let small_id = ObjectId::hash(Kind::Blob, &small);
    group.throughput(Throughput::Bytes(SMALL as u64));
    group.bench_function("small_4KiB", |b| {
        b.iter_batched(
            || {
                // Removed, so that each write stores it again.
                odb.remove_loose(&small_id);
            },
            |()| {
                odb.write_blob(black_box(&small))
                    .expect("a fresh store accepts the blob")
            },
            BatchSize::PerIteration,
        )
    });

    // Made on first use, so only when this benchmark is selected (criterion calls the
    // closure again for each sample).
    let content = dir.path().join("large.txt");
    let large_id = OnceCell::new();
    group.throughput(Throughput::Bytes(LARGE as u64));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    group.bench_function("large_64MiB", |b| {
        let large_id = large_id.get_or_init(|| {
            fs::write(&content, common::text(2, LARGE)).expect("room for 64 MiB");
            store_file(odb, &content)
        });
        b.iter_batched(
            || {
                odb.remove_loose(large_id);
            },
            |()| store_file(odb, &content),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, store_blob);
criterion_main!(benches);
