//! `cow status` on a working directory of 75,000 unchanged files, and the stat-cache
//! comparison at its heart.
//!
//! With nothing changed, status reads no file and no directory: it stats every
//! directory and file, takes each directory's entries from the directory cache and
//! compares each file's stat data with the stat cache, takes every tree id from the
//! directory cache, finds the root equal to HEAD's and saves nothing. That is the
//! command people run most, on their largest trees.
//!
//! - `status/clean_75000_files`: [`Repository::status`], the whole command without
//!   printing.
//! - `status/scan_75000_files`: the walk and stat comparison alone
//!   ([`cow::worktree::scan`] with both caches), without loading the caches.
//! - `stat_cache/*`: the comparison of 75,000 entries in memory (no system calls), and
//!   loading and saving a 75,000-entry cache file.
//!
//! The working directory (30 × 50 directories of 50 files of 64 to 320 bytes) is made
//! once per run in a temporary directory and committed, and only when a `status/`
//! benchmark is selected: creating 75,000 files takes a while (the time is printed).

mod common;

use std::cell::OnceCell;
use std::fs;
use std::hint::black_box;
use std::time::Instant;

use common::{FILES, FILES_PER_DIR, SUB_DIRS, TOP_DIRS};
use cow::Repository;
use cow::object::{EntryMode, Kind, ObjectId, Signature, Time};
use cow::repository::{CommitOptions, StatusOptions};
use cow::worktree::{self, DirCache, Index, IndexEntry, ScanOptions, StatData, Timestamp};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

/// The path of file `f` of directory `s` of top directory `t`.
fn path(t: usize, s: usize, f: usize) -> String {
    format!(
        "{}/{}/{}",
        common::top_name(t),
        common::sub_name(s),
        common::file_name(f)
    )
}

/// A committed working directory of 75,000 files, with a settled stat cache.
struct WorkDir {
    _dir: tempfile::TempDir,
    repo: Repository,
    index: Index,
    dirs: DirCache,
    head_tree: ObjectId,
    clock: Timestamp,
}

fn work_dir() -> WorkDir {
    let start = Instant::now();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let repo = Repository::init(dir.path()).expect("a new repository");
    for t in 0..TOP_DIRS {
        for s in 0..SUB_DIRS {
            let sub = dir
                .path()
                .join(common::top_name(t))
                .join(common::sub_name(s));
            fs::create_dir_all(&sub).expect("room for the directory");
            for f in 0..FILES_PER_DIR {
                fs::write(sub.join(common::file_name(f)), common::small_file(t, s, f))
                    .expect("room for the file");
            }
        }
    }
    let made = start.elapsed();
    let who = Signature::new(
        "Bench",
        "bench@example.com",
        Time::parse("1700000000 +0000").expect("a valid time"),
    )
    .expect("a valid signature");
    let options = CommitOptions {
        author: Some(who.clone()),
        committer: Some(who),
        ..CommitOptions::default()
    };
    let commit = repo.commit("75,000 files", &options).expect("a commit");
    assert_eq!(commit.files, FILES as u64);
    // The first status re-reads files the commit found racy; after it nothing is read.
    repo.status(&StatusOptions::default()).expect("a status");
    let status = repo.status(&StatusOptions::default()).expect("a status");
    assert!(status.is_clean() && status.hashed == 0, "{status:?}");
    eprintln!(
        "made {FILES} files in {:.1} s, committed and settled in {:.1} s",
        made.as_secs_f64(),
        (start.elapsed() - made).as_secs_f64()
    );
    let index = Index::load(&repo.cow_dir().join("index")).expect("status saved the cache");
    let dirs = DirCache::load(&repo.cow_dir().join("dircache")).expect("status saved it");
    let clock = worktree::settle_clock(repo.cow_dir());
    WorkDir {
        _dir: dir,
        repo,
        index,
        dirs,
        head_tree: commit.tree,
        clock,
    }
}

fn status(c: &mut Criterion) {
    let cell = OnceCell::new();
    let get = || cell.get_or_init(work_dir);

    let mut group = c.benchmark_group("status");
    group.throughput(Throughput::Elements(FILES as u64));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("clean_75000_files", |b| {
        let w = get();
        b.iter(|| w.repo.status(&StatusOptions::default()).expect("a status"))
    });
    group.bench_function("scan_75000_files", |b| {
        let w = get();
        let options = ScanOptions {
            index: Some(&w.index),
            dirs: Some(&w.dirs),
            stored_tree: Some(w.head_tree),
            clock: worktree::Clock::Settled(w.clock),
            ..ScanOptions::default()
        };
        b.iter(|| {
            worktree::scan(
                w.repo.odb(),
                w.repo.require_work_dir().expect("a working directory"),
                &options,
            )
            .expect("a scan")
        })
    });
    group.finish();
}

/// A stat cache of 75,000 entries, and the stat data a scan would find for the same
/// paths, in the walk's (sorted) order.
fn cache() -> (Index, Vec<(Vec<u8>, EntryMode, StatData)>) {
    let mut index = Index::new();
    let mut found = Vec::with_capacity(FILES);
    for t in 0..TOP_DIRS {
        for s in 0..SUB_DIRS {
            for f in 0..FILES_PER_DIR {
                let path = path(t, s, f).into_bytes();
                let n = found.len() as u64;
                let stat = StatData {
                    size: 64 + n % 257,
                    mtime: Timestamp {
                        secs: 1_700_000_000 + (n / 1000) as i64,
                        nsecs: (n * 7919 % 1_000_000_000) as u32,
                    },
                    ctime: Timestamp {
                        secs: 1_700_000_000,
                        nsecs: 0,
                    },
                    ino: 1_000_000 + n,
                };
                let entry = IndexEntry {
                    mode: EntryMode::Blob,
                    id: ObjectId::hash(Kind::Blob, &path),
                    stat,
                    racy: false,
                    stored: true,
                };
                index.insert(path.clone(), entry);
                found.push((path, EntryMode::Blob, stat));
            }
        }
    }
    (index, found)
}

fn stat_cache(c: &mut Criterion) {
    let (index, found) = cache();
    let dir = tempfile::tempdir().expect("a temporary directory");
    index.save(dir.path()).expect("a writable directory");
    let file = dir.path().join("index");

    let mut group = c.benchmark_group("stat_cache");
    group.throughput(Throughput::Elements(FILES as u64));
    group.bench_function("compare_75000_entries", |b| {
        b.iter(|| {
            black_box(&found)
                .iter()
                .filter(|(path, mode, stat)| {
                    index.get(path).is_some_and(|e| e.is_fresh(*mode, stat))
                })
                .count()
        })
    });
    group.bench_function("load_75000_entries", |b| {
        b.iter(|| Index::load(black_box(&file)).expect("saved in setup"))
    });
    group.bench_function("save_75000_entries", |b| {
        b.iter(|| {
            index
                .save(black_box(dir.path()))
                .expect("a writable directory")
        })
    });
    group.finish();
}

criterion_group!(benches, stat_cache, status);
criterion_main!(benches);
