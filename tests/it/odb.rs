//! The object database's read paths: readers racing `gc`, corrupt copies beside
//! intact ones, hostile pack records, and abbreviations that see packed objects.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use cow::odb::{Pack, PackWriter};
use cow::{Kind, ObjectId, Repository};

use crate::util::*;

/// A few commits of a few files; returns their ids, oldest first.
fn small_history(env: &Env, commits: usize) -> Vec<String> {
    let w = env.work();
    env.init();
    (0..commits)
        .map(|i| {
            for f in 0..5 {
                let text: String = (0..40).map(|l| format!("file {f} line {l} at {i}\n")).collect();
                write(&w.join(format!("dir{}/f{f}.txt", f % 2)), text);
            }
            env.commit(&format!("commit {i}"))
        })
        .collect()
}

/// Makes a pack file writable again (cow stores them read-only).
fn writable(path: &Path) -> Result {
    fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    Ok(())
}

#[test]
fn a_reader_opened_before_gc_finds_what_gc_moved() -> Result {
    let env = Env::new();
    let w = env.work();
    small_history(&env, 2);
    env.cow_ok(["gc"]);
    // New loose objects, then a reader that has listed the packs (one) ...
    write(&w.join("late.txt"), "written after the first gc\n");
    env.commit("late");
    let blob: ObjectId = env.cow_ok(["rev-parse", "HEAD:late.txt"]).trim().parse()?;
    let readers: Vec<Repository> = (0..4).map(|_| Repository::open(&w)).collect::<std::result::Result<_, _>>()?;
    // ... then a gc that packs them, removes their loose copies and the old pack.
    env.cow_ok(["gc"]);
    assert!(!object_path(&w, &blob.to_string()).exists());
    assert!(readers[0].odb().contains(&blob));
    assert_eq!(readers[1].odb().verify(&blob)?.0, Kind::Blob);
    let mut out = Vec::new();
    readers[2].odb().stream_blob(&blob, &mut out)?;
    assert_eq!(out, b"written after the first gc\n");
    assert_eq!(readers[3].odb().read_header(&blob)?, (Kind::Blob, 27));
    Ok(())
}

#[test]
fn readers_running_during_gc_never_miss_an_object() -> Result {
    let env = Arc::new(Env::new());
    let w = env.work();
    let commits = small_history(&env, 3);
    env.cow_ok(["gc"]);
    let base: ObjectId = commits[2].parse()?;
    // Tags to new commits, written loose between gcs, so that every gc moves objects
    // from loose files into a new pack and removes the old pack.
    let latest = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let make_tag = |i: usize| -> Result {
        let repo = Repository::open(&w)?;
        let mut commit = repo.odb().find_commit(&base)?;
        commit.parents = vec![base];
        commit.message = format!("tagged {i}\n").into_bytes();
        let id = repo.odb().write_commit(&commit)?.id;
        repo.odb().sync()?;
        repo.create_tag(&format!("t{i}"), Some(&id.to_string()))?;
        Ok(())
    };
    make_tag(0)?;
    let readers: Vec<(&str, Vec<String>)> = vec![
        ("fsck", vec!["fsck".into()]),
        ("cat-file -e", vec!["cat-file".into(), "-e".into(), "TAG".into()]),
        ("cat-file -p", vec!["cat-file".into(), "-p".into(), "TAG".into()]),
        ("show", vec!["show".into(), "TAG".into()]),
        ("show blob", vec!["show".into(), "HEAD:dir0/f0.txt".into()]),
        (
            "checkout",
            vec!["checkout".into(), "-f".into(), "ALTERNATE".into()],
        ),
    ];
    let mut threads = Vec::new();
    for (name, args) in readers {
        let (env, latest, done, failures) = (
            Arc::clone(&env),
            Arc::clone(&latest),
            Arc::clone(&done),
            Arc::clone(&failures),
        );
        let commits = commits.clone();
        threads.push(std::thread::spawn(move || {
            let mut runs = 0usize;
            while !done.load(Ordering::SeqCst) || runs == 0 {
                let tag = format!("t{}", latest.load(Ordering::SeqCst));
                let args: Vec<String> = args
                    .iter()
                    .map(|a| match a.as_str() {
                        "TAG" => tag.clone(),
                        "ALTERNATE" => commits[runs % 2].clone(),
                        a => a.to_owned(),
                    })
                    .collect();
                let out = env.cow(&args);
                if !out.status.success() {
                    failures
                        .lock()
                        .expect("no panics while held")
                        .push(format!("{name}: {}", describe(&out)));
                }
                runs += 1;
            }
            runs
        }));
    }
    for i in 1..=12 {
        env.cow_ok(["gc"]);
        make_tag(i)?;
        latest.store(i, Ordering::SeqCst);
    }
    env.cow_ok(["gc"]);
    done.store(true, Ordering::SeqCst);
    let runs: Vec<usize> = threads
        .into_iter()
        .map(|t| t.join().expect("reader thread"))
        .collect();
    let failures = failures.lock().expect("no panics while held");
    assert!(failures.is_empty(), "after {runs:?} runs:\n{}", failures.join("\n"));
    assert!(env.cow_ok(["fsck"]).contains("no problems found"));
    Ok(())
}

/// The pack index (there is one) in the repository at `work`.
fn only_pack(work: &Path) -> Result<PathBuf> {
    let mut idx: Vec<PathBuf> = fs::read_dir(work.join(".cow/objects/pack"))?
        .map(|e| Ok(e?.path()))
        .collect::<std::result::Result<Vec<_>, std::io::Error>>()?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "idx"))
        .collect();
    assert_eq!(idx.len(), 1, "{idx:?}");
    Ok(idx.remove(0))
}

/// Flips a byte in the middle of `id`'s frame in the pack of `idx`; returns the
/// record's offset.
fn corrupt_copy(idx: &Path, id: &ObjectId) -> Result<u64> {
    let pack = Pack::open(idx)?;
    let offset = pack.find(id).expect("packed");
    let header = pack.header(offset)?;
    assert!(header.block.is_none() && header.base.is_none(), "{header:?}");
    let path = idx.with_extension("pack");
    let mut bytes = fs::read(&path)?;
    bytes[(header.frame_offset + header.frame_len / 2) as usize] ^= 0x55;
    writable(&path)?;
    fs::write(&path, bytes)?;
    Ok(offset)
}

#[test]
fn a_corrupt_packed_copy_does_not_hide_an_intact_one() -> Result {
    for intact in ["loose", "another pack"] {
        let env = Env::new();
        let w = env.work();
        // Random bytes: stored alone, not in a block nor as a delta.
        let content = Rng::new(5).bytes(200_000);
        write(&w.join("big.bin"), &content);
        write(&w.join("small.txt"), "small\n");
        env.init();
        env.commit("first");
        let id: ObjectId = env.cow_ok(["rev-parse", "HEAD:big.bin"]).trim().parse()?;
        let loose = object_path(&w, &id.to_string());
        let saved = fs::read(&loose)?;
        env.cow_ok(["gc"]);
        let idx = only_pack(&w)?;
        let name = idx.file_stem().and_then(|s| s.to_str()).expect("utf-8").to_owned();
        let offset = corrupt_copy(&idx, &id)?;
        assert_error(&env.cow(["cat-file", "-p", &id.to_string()]), &id.to_string());
        match intact {
            "loose" => {
                fs::create_dir_all(loose.parent().expect("fan-out"))?;
                fs::write(&loose, &saved)?;
            }
            _ => {
                let mut writer = PackWriter::new(&w.join(".cow/objects/pack"))?;
                writer.add(id, Kind::Blob, &content, 3)?;
                writer.finish()?;
            }
        }
        assert_eq!(env.cow(["cat-file", "-p", &id.to_string()]).stdout, content, "{intact}");
        env.cow_ok(["cat-file", "-e", &id.to_string()]);
        assert_eq!(env.cow(["show", "HEAD:big.bin"]).stdout, content);
        fs::remove_file(w.join("big.bin"))?;
        env.cow_ok(["restore", "big.bin"]);
        assert_eq!(fs::read(w.join("big.bin"))?, content);
        // fsck reads each copy: the bad one is named, with its pack and offset.
        let out = env.cow(["fsck"]);
        assert_error(&out, "fsck found");
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            report.contains(&id.to_string())
                && report.contains(&format!("{name} at offset {offset}")),
            "{intact}: {report}"
        );
        // gc repacks from the intact copy, and drops the bad one with its pack.
        env.cow_ok(["gc"]);
        assert!(env.cow_ok(["fsck"]).contains("no problems found"), "{intact}");
        assert_eq!(env.cow(["cat-file", "-p", &id.to_string()]).stdout, content);
    }
    Ok(())
}
