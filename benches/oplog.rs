//! The operation log of a repository with 10,000 operations: `op log -n 20` must stay
//! fast however long the log grows, and each operation must cost little disk.
//!
//! - `oplog/log_20_of_10000`: [`Repository::op_log`] with a limit of 20, what
//!   `cow op log -n 20` reads (the head, then 21 operations and their views).
//! - `oplog/record_one`: one ref change recorded (a tag made and, the next time,
//!   deleted): the view, operation and pending mark written and synced, the ref moved,
//!   the head swapped.
//!
//! The log is built once per run (10,000 tag creations and deletions through the
//! library, with a few branches and tags standing, so views are not trivial); the
//! time it took and the bytes per operation of `.cow/oplog` are printed.

use std::hint::black_box;
use std::time::Instant;

use cow::Repository;
use cow::object::{Signature, Time};
use cow::repository::CommitOptions;
use criterion::{Criterion, criterion_group, criterion_main};

const OPERATIONS: usize = 10_000;

fn repo_with_log() -> (tempfile::TempDir, Repository) {
    let start = Instant::now();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let repo = Repository::init(dir.path()).expect("a new repository");
    std::fs::write(dir.path().join("file"), "content\n").expect("a file");
    let who = Signature::new(
        "Bench",
        "bench@example.com",
        Time::parse("1700000000 +0000").unwrap(),
    )
    .expect("a signature");
    let options = CommitOptions {
        author: Some(who.clone()),
        committer: Some(who),
        ..CommitOptions::default()
    };
    repo.commit("first", &options).expect("a commit");
    for i in 0..10 {
        repo.create_branch(&format!("branch-{i}"), None)
            .expect("a branch");
        repo.create_tag(&format!("v{i}"), None).expect("a tag");
    }
    let mut made = 21 + 1; // the commits, branches and tags above, and the log's start
    while made < OPERATIONS {
        repo.create_tag("moving", None).expect("a tag");
        repo.delete_tag("moving").expect("a deletion");
        made += 2;
    }
    let bytes: u64 = walkdir::WalkDir::new(dir.path().join(".cow/oplog"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    let ops = repo.op_log(None).expect("the log").len();
    eprintln!(
        "oplog: {ops} operations recorded in {:.1} s; .cow/oplog holds {bytes} bytes, {} bytes per operation",
        start.elapsed().as_secs_f64(),
        bytes / ops as u64
    );
    (dir, repo)
}

fn bench(c: &mut Criterion) {
    let (_dir, repo) = repo_with_log();
    let mut group = c.benchmark_group("oplog");
    group.bench_function("log_20_of_10000", |b| {
        b.iter(|| black_box(repo.op_log(Some(20)).expect("the log")))
    });
    let mut exists = false;
    group.bench_function("record_one", |b| {
        b.iter(|| {
            if exists {
                repo.delete_tag("bench").expect("a deletion");
            } else {
                repo.create_tag("bench", None).expect("a tag");
            }
            exists = !exists;
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
