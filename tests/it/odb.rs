//! The object database's read paths: readers racing `gc`, corrupt copies beside
//! intact ones, hostile pack records, and abbreviations that see packed objects.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use cow::{Kind, ObjectId, Repository};

use crate::util::*;

/// A few commits of a few files; returns their ids, oldest first.
fn small_history(env: &Env, commits: usize) -> Vec<String> {
    let w = env.work();
    env.init();
    (0..commits)
        .map(|i| {
            for f in 0..5 {
                let text: String = (0..40)
                    .map(|l| format!("file {f} line {l} at {i}\n"))
                    .collect();
                write(&w.join(format!("dir{}/f{f}.txt", f % 2)), text);
            }
            env.commit(&format!("commit {i}"))
        })
        .collect()
}

/// A command's status and stderr (its stdout is bytes of a blob here).
fn describe_short(out: &std::process::Output) -> String {
    format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr))
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
    let readers: Vec<Repository> = (0..4)
        .map(|_| Repository::open(&w))
        .collect::<std::result::Result<_, _>>()?;
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
        // As every writer does, under the lock (which also cleans up temporary files).
        let lock = repo.lock()?;
        let id = repo.odb().write_commit(&commit)?.id;
        repo.odb().sync()?;
        drop(lock);
        repo.create_tag(&format!("t{i}"), Some(id.into()))?;
        Ok(())
    };
    make_tag(0)?;
    let readers: Vec<(&str, Vec<String>)> = vec![
        ("fsck", vec!["fsck".into()]),
        (
            "cat-file -e",
            vec!["cat-file".into(), "-e".into(), "TAG".into()],
        ),
        (
            "cat-file -p",
            vec!["cat-file".into(), "-p".into(), "TAG".into()],
        ),
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
    for i in 1..=20 {
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
    assert!(
        failures.is_empty(),
        "after {runs:?} runs:\n{}",
        failures.join("\n")
    );
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
    let copy = packed_copy(idx, id)?;
    assert!(copy.block.is_none() && copy.base.is_none(), "{copy:?}");
    let path = idx.with_extension("pack");
    let mut bytes = fs::read(&path)?;
    bytes[((copy.frame.start + copy.frame.end) / 2) as usize] ^= 0x55;
    writable(&path)?;
    fs::write(&path, bytes)?;
    Ok(copy.offset)
}

/// Where `id` is stored in the pack of index `idx` (in `.cow/objects/pack`).
fn packed_copy(idx: &Path, id: &ObjectId) -> Result<cow::odb::StoredCopy> {
    let objects = idx
        .parent()
        .and_then(Path::parent)
        .expect("in objects/pack");
    let name = idx
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("pack-<name>.idx");
    let copies = cow::odb::Odb::at(objects).locate(id)?;
    Ok(copies
        .into_iter()
        .find(|c| c.pack.as_deref() == name.strip_prefix("pack-"))
        .expect("packed"))
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
        let name = idx
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8")
            .to_owned();
        let offset = corrupt_copy(&idx, &id)?;
        assert_error(
            &env.cow(["cat-file", "-p", &id.to_string()]),
            &id.to_string(),
        );
        match intact {
            "loose" => {
                fs::create_dir_all(loose.parent().expect("fan-out"))?;
                fs::write(&loose, &saved)?;
            }
            _ => {
                let frame = zstd::bulk::compress(&content, 3)?;
                let size = content.len() as u64;
                cow::odb::Odb::at(w.join(".cow/objects")).craft_pack(&[(
                    id,
                    Kind::Blob,
                    size,
                    &frame,
                )])?;
            }
        }
        let out = env.cow(["cat-file", "-p", &id.to_string()]);
        assert!(out.stdout == content, "{intact}: {}", describe_short(&out));
        env.cow_ok(["cat-file", "-e", &id.to_string()]);
        let out = env.cow(["show", "HEAD:big.bin"]);
        assert!(out.stdout == content, "{intact}: {}", describe_short(&out));
        fs::remove_file(w.join("big.bin"))?;
        env.cow_ok(["restore", "big.bin"]);
        assert!(
            fs::read(w.join("big.bin"))? == content,
            "{intact}: restored"
        );
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
        assert!(
            env.cow_ok(["fsck"]).contains("no problems found"),
            "{intact}"
        );
        let out = env.cow(["cat-file", "-p", &id.to_string()]);
        assert!(out.stdout == content, "{intact}: {}", describe_short(&out));
    }
    Ok(())
}

/// Replaces the stored copy of the blob at `rev` by a pack holding one record for it
/// that declares `size` bytes and carries `frame`; returns the id and the record's
/// offset in the new pack's index.
fn craft_packed_copy(
    env: &Env,
    rev: &str,
    size: u64,
    frame: &[u8],
) -> Result<(String, PathBuf, u64)> {
    let w = env.work();
    let id = env.cow_ok(["rev-parse", rev]).trim().to_owned();
    let odb = cow::odb::Odb::at(w.join(".cow/objects"));
    let (info, offsets) = odb.craft_pack(&[(id.parse()?, Kind::Blob, size, frame)])?;
    fs::remove_file(object_path(&w, &id))?;
    let idx = w.join(format!(".cow/objects/pack/pack-{}.idx", info.name));
    Ok((id, idx, offsets[0]))
}

/// Runs `cow ARGS` with its address space limited to 1 GiB: an attempt to allocate
/// a 2 GiB buffer fails (and aborts the process) instead of passing unseen.
fn cow_limited(env: &Env, args: &[&str]) -> std::process::Output {
    let cow = env.cow_cmd(&env.work());
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg(r#"ulimit -v 1048576 && exec "$0" "$@""#)
        .arg(cow.get_program())
        .args(args)
        .current_dir(env.work())
        .env_clear();
    for (k, v) in cow.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    sh.output().expect("run cow under sh")
}

#[test]
fn hostile_pack_records_give_one_clear_error() -> Result {
    let env = Env::new();
    let w = env.work();
    write(
        &w.join("huge"),
        "will be replaced by a record declaring 2 GiB\n",
    );
    write(&w.join("tiny"), "tiny\n");
    env.init();
    env.commit("first");
    // 2 GiB of zeros compress to a frame of about 65 KB.
    let mut encoder = zstd::stream::Encoder::new(Vec::new(), 1)?;
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..2048 {
        std::io::Write::write_all(&mut encoder, &zeros)?;
    }
    let bomb = encoder.finish()?;
    assert!(bomb.len() < 100_000, "{}", bomb.len());
    let (huge, _, _) = craft_packed_copy(&env, "HEAD:huge", 2 << 30, &bomb)?;
    let declared = "declares 2147483648 bytes";
    assert_error(&cow_limited(&env, &["cat-file", "-p", &huge]), declared);
    assert_error(&cow_limited(&env, &["show", "HEAD:huge"]), declared);
    let out = cow_limited(&env, &["fsck"]);
    assert_error(&out, "fsck found");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(declared),
        "{}",
        describe(&out)
    );
    assert_error(&cow_limited(&env, &["gc"]), declared);

    // A frame length whose addition to the record's offset overflows.
    let frame = zstd::bulk::compress(b"tiny\n", 3)?;
    let (tiny, idx, offset) = craft_packed_copy(&env, "HEAD:tiny", 5, &frame)?;
    let path = idx.with_extension("pack");
    let mut bytes = fs::read(&path)?;
    let at = offset as usize;
    assert_eq!(&bytes[at..at + 3], &[1, 5, frame.len() as u8]);
    // u64::MAX - 3 as a varint, over the length and the frame's first bytes.
    let mut varint = vec![0xfc];
    varint.extend([0xff; 8]);
    varint.push(0x01);
    bytes[at + 2..at + 12].copy_from_slice(&varint);
    writable(&path)?;
    fs::write(&path, &bytes)?;
    assert_error(
        &cow_limited(&env, &["cat-file", "-p", &tiny]),
        "bad frame length",
    );
    assert_error(
        &cow_limited(&env, &["cat-file", "-s", &tiny]),
        "bad frame length",
    );
    let out = cow_limited(&env, &["fsck"]);
    assert_error(&out, "fsck found");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("bad frame length"), "{report}");
    // gc stops at the first record it cannot read (either one).
    assert_error(&cow_limited(&env, &["gc"]), "at offset 8: ");
    Ok(())
}

#[test]
fn a_pack_not_named_after_its_checksum_is_reported() -> Result {
    let env = Env::new();
    let w = env.work();
    small_history(&env, 1);
    env.cow_ok(["gc"]);
    let idx = only_pack(&w)?;
    let name = format!("pack-{}", "0".repeat(64));
    fs::rename(
        idx.with_extension("pack"),
        idx.with_file_name(format!("{name}.pack")),
    )?;
    fs::rename(&idx, idx.with_file_name(format!("{name}.idx")))?;
    // Every object still reads (ids are checked on every read) ...
    env.cow_ok(["show", "HEAD:dir0/f0.txt"]);
    // ... but fsck says the pack is not what its name claims.
    let out = env.cow(["fsck"]);
    assert_error(&out, "fsck found 1 problem");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!("{name} at offset"))
            && report.contains("file name does not match the pack's checksum"),
        "{report}"
    );
    Ok(())
}

/// Two blob contents `x<i>\n` whose ids share their first 8 hex digits, found by
/// trying them in order (a pair is expected after about 77,000: the birthday bound
/// for 32 bits).
fn colliding_blobs() -> (Vec<u8>, Vec<u8>) {
    let mut seen = std::collections::HashMap::new();
    for i in 0u32.. {
        let data = format!("x{i}\n").into_bytes();
        let id = ObjectId::hash(Kind::Blob, &data);
        let key: [u8; 4] = id.as_bytes()[..4].try_into().expect("4 bytes");
        if let Some(other) = seen.insert(key, data.clone()) {
            return (other, data);
        }
    }
    unreachable!("a pair is found long before u32::MAX")
}

#[test]
fn abbreviations_are_unique_among_packed_objects() -> Result {
    let env = Env::new();
    let w = env.work();
    let (a, b) = colliding_blobs();
    let (id_a, id_b) = (
        ObjectId::hash(Kind::Blob, &a),
        ObjectId::hash(Kind::Blob, &b),
    );
    let common = id_a
        .to_string()
        .bytes()
        .zip(id_b.to_string().bytes())
        .take_while(|(x, y)| x == y)
        .count();
    assert!(common >= 8, "{id_a} {id_b}");
    write(&w.join("a"), &a);
    write(&w.join("b"), &b);
    env.init();
    env.commit("two blobs with a long common prefix");
    env.cow_ok(["gc"]);
    let loose = Repository::open(&w)?.odb().loose_object_ids()?;
    assert!(loose.is_empty(), "everything is packed: {loose:?}");
    let unique = &id_a.to_string()[..common + 1];
    assert_eq!(
        env.cow_ok(["rev-parse", "--short", "HEAD:a"]).trim(),
        unique
    );
    assert_eq!(
        env.cow_ok(["rev-parse", "--short=4", "HEAD:a"]).trim(),
        unique
    );
    assert_eq!(env.cow_ok(["rev-parse", unique]).trim(), id_a.to_string());
    let shared = &id_a.to_string()[..common];
    assert_error(&env.cow(["rev-parse", shared]), "ambiguous");
    // git, with the same objects all packed by `git gc`, abbreviates alike.
    if git_available() {
        let git = GitMirror::new(&env);
        git.snapshot("two blobs with a long common prefix");
        git.run(&["gc", "-q"]);
        for rev in ["HEAD:a", "HEAD:b", "HEAD", "HEAD^{tree}"] {
            let theirs = String::from_utf8(git.run(&["rev-parse", "--short", rev]))?;
            assert_eq!(env.cow_ok(["rev-parse", "--short", rev]), theirs, "{rev}");
        }
    }
    Ok(())
}
