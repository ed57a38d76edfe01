//! Reliability: fsck, the writer lock, concurrent writers, SIGKILL at random moments,
//! and awkward filesystems.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::*;

fn overwrite(path: &Path, data: &[u8]) {
    fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    fs::write(path, data).unwrap();
}

#[test]
fn fsck_passes_a_healthy_repository_and_names_every_problem() {
    let env = Env::new();
    let w = env.work();
    write(&w.join("d/f"), "precious\n");
    write(&w.join("g"), "other\n");
    env.init();
    let first = env.commit("one");
    write(&w.join("g"), "changed\n");
    env.commit("two");
    let out = env.cow_ok(["fsck"]);
    assert!(out.contains("no problems found"), "{out}");

    // A corrupt blob, reached at d/f from both commits.
    let blob = env.cow_ok(["rev-parse", "HEAD:d/f"]).trim().to_owned();
    overwrite(
        &object_path(&w, &blob),
        &zstd::encode_all(&b"blob 9\0tampered\n"[..], 3).unwrap(),
    );
    let out = env.cow(["fsck"]);
    assert_error(&out, "fsck found");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!(
            "error: object {blob} is corrupt: content hashes to"
        )),
        "{report}"
    );
    assert!(report.contains("(path 'd/f' in commit "), "{report}");
    // Connectivity only does not re-hash, but still finds a missing tree.
    assert!(env.cow(["fsck", "--connectivity-only"]).status.success());
    let tree = env
        .cow_ok(["rev-parse", &format!("{first}:d")])
        .trim()
        .to_owned();
    fs::remove_file(object_path(&w, &tree)).unwrap();
    let out = env.cow(["fsck", "--connectivity-only"]);
    assert_error(&out, "fsck found");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!(
            "error: object {tree} not found (path 'd' in commit "
        )),
        "{report}"
    );

    // Refs to a missing object, and to a blob.
    let env = Env::new();
    write(&env.work().join("f"), "x\n");
    env.init();
    env.commit("one");
    let blob = env.cow_ok(["rev-parse", "HEAD:f"]).trim().to_owned();
    fs::write(
        env.work().join(".cow/refs/heads/missing"),
        format!("{}\n", "ab".repeat(32)),
    )
    .unwrap();
    fs::write(env.work().join(".cow/refs/tags/blob"), format!("{blob}\n")).unwrap();
    fs::write(env.work().join(".cow/refs/heads/garbage"), "not an id\n").unwrap();
    let out = env.cow(["fsck"]);
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        report.contains(&format!("object {} not found", "ab".repeat(32))),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "error: ref refs/tags/blob points at blob {blob}, not a commit"
        )),
        "{report}"
    );
    assert!(
        report.contains("error: ref refs/heads/garbage is malformed"),
        "{report}"
    );
    assert!(
        report.contains("not found (from refs/heads/missing)"),
        "{report}"
    );
}

#[test]
fn a_second_writer_waits_then_names_the_holder() {
    let env = Env::new();
    write(&env.work().join("f"), "x\n");
    env.init();
    let repo = cow::Repository::open(env.work()).unwrap();
    let lock = repo.lock().unwrap();
    let started = std::time::Instant::now();
    let out = env.cow(["commit", "-m", "blocked", "--lock-timeout", "0.5"]);
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_error(
        &out,
        &format!("locked by another cow process (pid {})", std::process::id()),
    );
    assert_error(
        &env.cow(["branch", "x", "--lock-timeout", "0"]),
        "locked by another cow process",
    );
    // Readers are not blocked.
    assert!(env.cow(["status"]).status.success());
    drop(lock);
    env.cow_ok(["commit", "-m", "free"]);
}

#[test]
fn leftovers_of_a_killed_writer_are_cleaned_up_by_the_next() {
    let env = Env::new();
    write(&env.work().join("f"), "x\n");
    env.init();
    env.commit("one");
    let cow = env.work().join(".cow");
    fs::write(cow.join("lock"), "99999\n").unwrap(); // a pid, but no flock: free
    fs::write(cow.join("refs/heads/main.lock"), "").unwrap();
    fs::write(cow.join("objects/.tmp-obj-abc"), "half").unwrap();
    fs::create_dir(cow.join(".tmp-checkout-abc")).unwrap();
    // Readers ignore them.
    env.cow_ok(["log"]);
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
    write(&env.work().join("f"), "y\n");
    env.commit("two");
    assert!(!cow.join("refs/heads/main.lock").exists());
    assert!(!cow.join("objects/.tmp-obj-abc").exists());
    assert!(!cow.join(".tmp-checkout-abc").exists());
}

/// Every kind of leftover a writer killed mid-way leaves, made as it would leave it:
/// fsck is clean with them there (an orphan pack included), and the next writer
/// removes them all — but not a directory of the user's that only looks like one.
#[test]
fn every_kind_of_leftover_is_harmless_and_removed_by_the_next_writer() -> Result {
    let env = Env::new();
    let w = env.work();
    for i in 0..40 {
        write(&w.join(format!("d/{i}.txt")), format!("file {i}\n"));
    }
    env.init();
    env.commit("packed"); // 40 files: written as a pack
    let cow = w.join(".cow");
    let pack_dir = cow.join("objects/pack");
    let (pack, idx) = {
        let mut names: Vec<_> = fs::read_dir(&pack_dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        names.sort();
        assert_eq!(names.len(), 2, "{names:?}");
        (fs::read(&names[1])?, fs::read(&names[0])?) // .idx sorts before .pack
    };
    // A commit killed between renaming its pack and its index, and a gc killed between
    // removing an old pack's index and the pack (with its cruft sidecar).
    let orphan = format!("pack-{}", "ab".repeat(32));
    fs::write(pack_dir.join(format!("{orphan}.pack")), &pack)?;
    let removed = format!("pack-{}", "cd".repeat(32));
    fs::write(pack_dir.join(format!("{removed}.pack")), &pack)?;
    fs::write(pack_dir.join(format!("{removed}.mtimes")), "CWMTIME\x01")?;
    // Half-written files under their temporary names.
    fs::write(pack_dir.join(".tmp-pack-Xy12Zq"), &pack[..pack.len() / 2])?;
    fs::write(pack_dir.join(".tmp-idx-Xy12Zq"), &idx[..idx.len() / 3])?;
    fs::write(pack_dir.join(".tmp-mtimes-Xy12Zq"), "CWMT")?;
    fs::write(cow.join("objects/.tmp-obj-Xy12Zq"), "half")?;
    for name in [
        ".tmp-index-Xy12Zq",
        ".tmp-dircache-Xy12Zq",
        ".tmp-config-Xy12Zq",
    ] {
        fs::write(cow.join(name), "half")?;
    }
    fs::write(cow.join(".tmp-clock-Xy12Zq"), "")?;
    write(&cow.join(".tmp-checkout-Xy12Zq/0/3"), "staged\n");
    // Ref lock files, one in a nested directory, and HEAD's.
    fs::write(cow.join("refs/heads/main.lock"), "")?;
    write(&cow.join("refs/heads/topic/x.lock"), "");
    fs::write(cow.join("HEAD.lock"), "ref: refs/heads/other\n")?;
    // A killed `init`'s staging directory, and a directory of the user's with a
    // similar name.
    let staged = w.join(".cow-init-Xy12Zq");
    for dir in ["objects", "refs/heads", "refs/tags"] {
        fs::create_dir_all(staged.join(dir))?;
    }
    fs::write(staged.join("HEAD"), "ref: refs/heads/main\n")?;
    fs::write(staged.join("config"), "")?;
    write(&w.join(".cow-init-notes/todo.txt"), "mine\n");

    // Readers ignore all of it: fsck included (git's fsck ignores a pack without index).
    let out = env.cow(["fsck"]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("no problems"),
        "{}",
        describe(&out)
    );
    // The next writer removes it, before it snapshots anything.
    write(&w.join("new"), "new\n");
    let head = env.commit("after the crash");
    for gone in [
        pack_dir.join(format!("{orphan}.pack")),
        pack_dir.join(format!("{removed}.pack")),
        pack_dir.join(format!("{removed}.mtimes")),
        pack_dir.join(".tmp-pack-Xy12Zq"),
        pack_dir.join(".tmp-idx-Xy12Zq"),
        pack_dir.join(".tmp-mtimes-Xy12Zq"),
        cow.join("objects/.tmp-obj-Xy12Zq"),
        cow.join(".tmp-index-Xy12Zq"),
        cow.join(".tmp-dircache-Xy12Zq"),
        cow.join(".tmp-config-Xy12Zq"),
        cow.join(".tmp-clock-Xy12Zq"),
        cow.join(".tmp-checkout-Xy12Zq"),
        cow.join("refs/heads/main.lock"),
        cow.join("refs/heads/topic/x.lock"),
        cow.join("HEAD.lock"),
        staged,
    ] {
        assert!(
            fs::symlink_metadata(&gone).is_err(),
            "{} is still there",
            gone.display()
        );
    }
    assert_eq!(
        fs::read_to_string(w.join(".cow-init-notes/todo.txt"))?,
        "mine\n"
    );
    let tree = env.cow_ok(["ls-tree", "--name-only", &head]);
    assert!(!tree.contains(".cow-init-X"), "{tree}");
    assert!(tree.contains(".cow-init-notes"), "{tree}");
    assert_eq!(count_objects(&w), 43 + 5);
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
    Ok(())
}

/// Whether strace can trace here; under `COW_REQUIRE_STRACE=1` (CI) it must.
pub fn strace_available() -> bool {
    let ok = Command::new("strace")
        .args(["-f", "-e", "trace=none", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var_os("COW_REQUIRE_STRACE").is_some_and(|v| v == "1") {
            panic!("strace cannot run, and COW_REQUIRE_STRACE=1");
        }
        eprintln!("skipping: strace cannot run");
    }
    ok
}

/// One traced call: its name, its path arguments, and the paths of its descriptors
/// (which `-y` shows).
#[derive(Debug)]
struct Call {
    name: String,
    paths: Vec<String>,
    fds: Vec<String>,
}

/// The sync, rename and mkdir calls of `cow ARGS` under strace, in order.
fn traced(env: &Env, args: &[&str]) -> Vec<Call> {
    let log = env.tmp.path().join("strace.log");
    let out = Command::new("strace")
        .current_dir(env.work())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.tmp.path())
        .env("COW_AUTHOR_NAME", NAME)
        .env("COW_AUTHOR_EMAIL", EMAIL)
        .env("COW_AUTHOR_DATE", DATE)
        .args(["-f", "-y", "-qq", "-e"])
        .arg("trace=fsync,fdatasync,rename,renameat,renameat2,syncfs,sync,mkdir,mkdirat")
        .arg("-o")
        .arg(&log)
        .arg(env!("CARGO_BIN_EXE_cow"))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let text = fs::read_to_string(&log).unwrap();
    let mut calls = Vec::new();
    for line in text.lines() {
        // "<pid> name(args) = 0", or "<pid> name(args <unfinished ...>".
        let line = line
            .split_once(' ')
            .map_or(line, |(_, rest)| rest)
            .trim_start();
        let Some((name, rest)) = line.split_once('(') else {
            continue;
        };
        if name.starts_with('<') || name.starts_with('+') || name.starts_with('-') {
            continue; // "<... resumed>", exits, signals
        }
        if rest.contains("= -1 ") {
            continue; // failed: changed nothing
        }
        // Quoted strings ("path") and descriptors (3</path>).
        let (mut paths, mut fds) = (Vec::new(), Vec::new());
        let mut rest = rest;
        while let Some(i) = rest.find(['"', '<']) {
            let quoted = rest.as_bytes()[i] == b'"';
            let Some(len) = rest[i + 1..].find(if quoted { '"' } else { '>' }) else {
                break;
            };
            let found = rest[i + 1..i + 1 + len].to_owned();
            if quoted { &mut paths } else { &mut fds }.push(found);
            rest = &rest[i + 1 + len + 1..];
        }
        calls.push(Call {
            name: name.to_owned(),
            paths,
            fds,
        });
    }
    calls
}

/// Checks the durability order of one traced commit: every file renamed into place
/// before the branch moves was f(data)synced before its rename, every directory that
/// gained an entry was fsynced after it and before the branch moved, the branch's
/// lock file was synced before its rename and its directory after, and nothing called
/// syncfs or sync. Returns how many files were renamed before the ref.
fn check_commit_syncs(calls: &[Call], branch_path: &str) -> usize {
    let is_sync = |c: &Call| c.name == "fsync" || c.name == "fdatasync";
    let is_rename = |c: &Call| c.name.starts_with("rename");
    assert!(
        !calls.iter().any(|c| c.name == "syncfs" || c.name == "sync"),
        "{calls:#?}"
    );
    let ref_at = calls
        .iter()
        .position(|c| is_rename(c) && c.paths.last().is_some_and(|p| p == branch_path))
        .unwrap_or_else(|| panic!("no rename of {branch_path}: {calls:#?}"));
    let synced_before = |path: &str, end: usize| {
        calls[..end]
            .iter()
            .any(|c| is_sync(c) && c.fds.first().is_some_and(|p| p == path))
    };
    let synced_between = |path: &str, start: usize, end: usize| {
        calls[start..end]
            .iter()
            .any(|c| is_sync(c) && c.fds.first().is_some_and(|p| p == path))
    };
    let parent = |p: &str| Path::new(p).parent().unwrap().to_str().unwrap().to_owned();
    let mut files = 0;
    for (i, call) in calls[..=ref_at].iter().enumerate() {
        if is_rename(call) {
            let [from, to] = &call.paths[..] else {
                panic!("rename with {} paths: {call:?}", call.paths.len());
            };
            assert!(synced_before(from, i), "{from} renamed to {to} unsynced");
            if i < ref_at {
                files += 1;
                assert!(
                    synced_between(&parent(to), i, ref_at),
                    "the directory of {to} was not synced before the ref moved"
                );
            }
        } else if call.name.starts_with("mkdir") && i < ref_at {
            let dir = call.paths.last().unwrap();
            assert!(
                synced_between(&parent(dir), i, ref_at),
                "{dir} was made but its parent not synced before the ref moved"
            );
        }
    }
    assert!(
        synced_between(&parent(branch_path), ref_at, calls.len()),
        "the branch's directory was not synced after it moved"
    );
    files
}

#[test]
fn a_commit_syncs_exactly_what_it_wrote_before_the_ref_moves() -> Result {
    if !strace_available() {
        return Ok(());
    }
    let env = Env::new();
    let w = env.work();
    write(&w.join("a"), "a\n");
    env.init();
    env.commit("first");
    let branch = fs::canonicalize(&w)?.join(".cow/refs/heads/main");
    let branch = branch.to_str().unwrap();
    // A one-file commit: loose objects (blob, tree, commit).
    write(&w.join("b"), "b\n");
    let calls = traced(&env, &["commit", "-m", "one file"]);
    // Blob, tree and commit; then the operation log's view and operation, written
    // before any ref moves.
    assert_eq!(check_commit_syncs(&calls, branch), 3 + 2, "{calls:#?}");
    // A bigger one: a pack and its index.
    for i in 0..40 {
        write(&w.join(format!("many/{i}")), format!("{i}\n"));
    }
    let calls = traced(&env, &["commit", "-m", "forty files"]);
    assert_eq!(check_commit_syncs(&calls, branch), 2 + 2, "{calls:#?}");
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
    // A branch in new directories: each is made durable in its parent before the ref
    // is written in it.
    let nested = fs::canonicalize(&w)?.join(".cow/refs/heads/feature/deep/x");
    let calls = traced(&env, &["branch", "feature/deep/x"]);
    assert!(calls.iter().filter(|c| c.name.starts_with("mkdir")).count() >= 2);
    // No object; the operation's view and the operation.
    assert_eq!(check_commit_syncs(&calls, nested.to_str().unwrap()), 2);
    Ok(())
}

fn concurrent_writers(writers: usize) {
    let env = Env::new();
    write(&env.work().join("base"), "base\n");
    env.init();
    env.commit("base");
    let per_writer = 8;
    std::thread::scope(|s| {
        for wr in 0..writers {
            let env = &env;
            s.spawn(move || {
                for i in 0..per_writer {
                    write(
                        &env.work().join(format!("w{wr}-{i}")),
                        format!("{wr} {i}\n"),
                    );
                    let out = env
                        .cow_cmd(&env.work())
                        .args([
                            "commit",
                            "--allow-empty",
                            "--lock-timeout",
                            "120",
                            "-m",
                            &format!("w{wr} c{i}"),
                        ])
                        .output()
                        .unwrap();
                    assert!(out.status.success(), "writer {wr}: {}", describe(&out));
                    let branch = format!("b{wr}-{i}");
                    let out = env
                        .cow_cmd(&env.work())
                        .args(["branch", "--lock-timeout", "120", &branch])
                        .output()
                        .unwrap();
                    assert!(out.status.success(), "writer {wr}: {}", describe(&out));
                }
            });
        }
    });
    let log = env.cow_ok(["log", "--oneline"]);
    assert_eq!(
        log.lines().count(),
        1 + writers * per_writer,
        "a commit was lost:\n{log}"
    );
    for wr in 0..writers {
        for i in 0..per_writer {
            assert!(
                log.contains(&format!(" w{wr} c{i}\n")),
                "w{wr} c{i} missing"
            );
        }
    }
    assert_eq!(
        env.cow_ok(["branch"]).lines().count(),
        1 + writers * per_writer
    );
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
}

#[test]
fn two_concurrent_writers_lose_nothing() {
    concurrent_writers(2);
}

#[test]
fn four_concurrent_writers_lose_nothing() {
    concurrent_writers(4);
}

/// A realistic tree: source-like text files in nested directories, a few larger files,
/// executables and symlinks.
fn realistic_tree(rng: &mut Rng, root: &Path) {
    for d in 0..6 {
        for f in 0..25 {
            let lines = 5 + rng.below(200);
            let text: String = (0..lines)
                .map(|l| format!("fn item_{d}_{f}_{l}() {{ {} }}\n", rng.below(1000)))
                .collect();
            write(&root.join(format!("src/m{d}/f{f}.rs")), text);
        }
    }
    write(&root.join("assets/big.bin"), rng.bytes(3 << 20));
    write(&root.join("bin/tool"), "#!/bin/sh\necho tool\n");
    set_exec(&root.join("bin/tool"), true);
    std::os::unix::fs::symlink("src/m0/f0.rs", root.join("link")).unwrap();
}

fn edit_some(rng: &mut Rng, root: &Path, step: usize) {
    for _ in 0..5 {
        let p = root.join(format!("src/m{}/f{}.rs", rng.below(6), rng.below(25)));
        let _ = fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .and_then(|mut f| {
                std::io::Write::write_all(&mut f, format!("// step {step}\n").as_bytes())
            });
    }
    write(
        &root.join(format!("src/new/step{step}.rs")),
        format!("step {step}\n"),
    );
    if rng.chance(30) {
        write(&root.join("assets/big.bin"), rng.bytes(1 << 20));
    }
}

#[test]
fn sigkill_at_random_moments_loses_nothing() {
    let seed: u64 = std::env::var("COW_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4242);
    eprintln!("crash test seed {seed} (set COW_CRASH_SEED to replay)");
    let mut rng = Rng::new(seed);
    let env = Env::new();
    let w = env.work();
    realistic_tree(&mut rng, &w);
    env.init();
    env.commit("initial");
    let mut snapshots: BTreeMap<String, BTreeMap<Vec<u8>, Item>> = BTreeMap::new();
    let head = || env.cow_ok(["rev-parse", "HEAD"]).trim().to_owned();
    snapshots.insert(head(), manifest(&w));
    let mut kills = 0;
    let mut iteration = 0;
    while kills < 200 {
        iteration += 1;
        let before = head();
        let checkout = snapshots.len() > 1 && rng.chance(40);
        let (mut cmd, expected_content) = if checkout {
            let keys: Vec<&String> = snapshots.keys().collect();
            let target = (*rng.pick(&keys)).clone();
            let mut cmd = env.cow_cmd(&w);
            cmd.args(["checkout", "--force", &target]);
            (cmd, Some(target))
        } else {
            edit_some(&mut rng, &w, iteration);
            let mut cmd = env.cow_cmd(&w);
            cmd.args([
                "commit",
                "--allow-empty",
                "-m",
                &format!("step {iteration}"),
            ]);
            (cmd, None)
        };
        let content = manifest(&w);
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let delay = rng.below(45);
        std::thread::sleep(Duration::from_millis(delay));
        let killed = child.try_wait().unwrap().is_none();
        if killed {
            child.kill().unwrap();
            kills += 1;
        }
        let status = child.wait().unwrap();
        assert!(
            killed || status.success(),
            "iteration {iteration}: the command failed on its own"
        );
        // The repository is valid and HEAD is the old or the new snapshot.
        let fsck = env.cow(["fsck", "--connectivity-only"]);
        assert!(
            fsck.status.success(),
            "iteration {iteration} (delay {delay} ms): {}",
            describe(&fsck)
        );
        let after = head();
        match &expected_content {
            Some(target) => assert!(
                after == before || &after == target,
                "iteration {iteration}: HEAD {after}"
            ),
            None if after != before => {
                let parent = env.cow_ok(["rev-parse", "HEAD~1"]).trim().to_owned();
                assert_eq!(
                    parent, before,
                    "iteration {iteration}: new HEAD is not on top of the old"
                );
                snapshots.insert(after, content);
            }
            None => {}
        }
    }
    // Snapshot what the last, killed, iteration left, so that no untracked file stays
    // around (checkout keeps untracked files that are not in the way).
    let content = manifest(&w);
    env.cow_ok(["commit", "--allow-empty", "-m", "final"]);
    snapshots.insert(head(), content);
    eprintln!(
        "{iteration} iterations, {kills} kills, {} snapshots",
        snapshots.len()
    );
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
    // Every snapshot checks out exactly.
    for (id, want) in &snapshots {
        env.cow_ok(["checkout", "--force", id]);
        let got = manifest(&w);
        let strip = |m: &BTreeMap<Vec<u8>, Item>| -> BTreeMap<Vec<u8>, Item> {
            // Temporary names a killed checkout left in the working directory were part of
            // whatever was snapshotted next; compare everything else exactly.
            m.iter()
                .filter(|(k, _)| !String::from_utf8_lossy(k).contains(".cow-tmp-"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let (got, want) = (strip(&got), strip(want));
        let differ: Vec<String> = got
            .keys()
            .chain(want.keys())
            .filter(|k| got.get(*k) != want.get(*k))
            .map(|k| {
                let brief = |i: Option<&Item>| match i {
                    Some(Item::File { data, exec }) => {
                        format!("file {} bytes exec={exec}", data.len())
                    }
                    other => format!("{other:?}"),
                };
                format!(
                    "{}: got {}, want {}",
                    String::from_utf8_lossy(k),
                    brief(got.get(k)),
                    brief(want.get(k))
                )
            })
            .collect();
        assert!(
            differ.is_empty(),
            "snapshot {id} differs:\n{}",
            differ.join("\n")
        );
    }
}

#[test]
fn unreadable_files_and_directories_fail_clearly_or_are_skipped_on_request() {
    let env = Env::new();
    let w = env.work();
    write(&w.join("ok.txt"), "ok\n");
    env.init();
    env.commit("one");
    // New since the last snapshot, so the stat cache cannot vouch for them.
    write(&w.join("ok.txt"), "changed\n");
    write(&w.join("secret.txt"), "secret\n");
    write(&w.join("locked/inner.txt"), "inner\n");
    fs::set_permissions(
        w.join("secret.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o000),
    )
    .unwrap();
    fs::set_permissions(
        w.join("locked"),
        std::os::unix::fs::PermissionsExt::from_mode(0o000),
    )
    .unwrap();
    let head = env.cow_ok(["rev-parse", "HEAD"]);
    let out = env.cow_as_nobody(&["commit", "-m", "two"]);
    assert_error(&out, "Permission denied");
    assert_eq!(env.cow_ok(["rev-parse", "HEAD"]), head);
    let out = env.cow_as_nobody(&["commit", "--skip-unreadable", "-m", "two"]);
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cow: warning: skipped 'locked': permission denied"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cow: warning: skipped 'secret.txt': permission denied"),
        "{stderr}"
    );
    assert_eq!(
        env.cow_ok(["ls-tree", "-r", "--name-only", "HEAD"]),
        "ok.txt\n"
    );
}

#[test]
fn a_file_size_limit_during_commit_is_a_clear_error_and_loses_nothing() {
    let env = Env::new();
    let w = env.work();
    write(&w.join("small"), "small\n");
    env.init();
    env.commit("one");
    let head = env.cow_ok(["rev-parse", "HEAD"]);
    let mut rng = Rng::new(5);
    write(&w.join("big"), rng.bytes(4 << 20)); // incompressible
    let script = format!(
        "ulimit -f 1024; exec '{}' commit -m big",
        env!("CARGO_BIN_EXE_cow")
    );
    let out = env.cow_cmd(&w).arg("--version").output().unwrap();
    assert!(out.status.success());
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&w)
        .env("COW_AUTHOR_NAME", NAME)
        .env("COW_AUTHOR_EMAIL", EMAIL)
        .output()
        .unwrap();
    assert_error(&out, "File too large");
    assert_eq!(env.cow_ok(["rev-parse", "HEAD"]), head);
    let tmp: Vec<_> = fs::read_dir(w.join(".cow/objects"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp"))
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
    env.cow_ok(["commit", "-m", "big after all"]);
}

#[test]
fn files_that_change_or_vanish_during_a_snapshot_never_give_a_wrong_blob() {
    let env = Env::new();
    let w = env.work();
    for i in 0..200 {
        write(&w.join(format!("stable/{i}")), format!("{i}\n"));
    }
    write(&w.join("growing"), "");
    env.init();
    let stop = std::sync::atomic::AtomicBool::new(false);
    /// Stops the writer even if an assertion below fails.
    struct StopOnDrop<'a>(&'a std::sync::atomic::AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let mut outcomes: HashMap<String, usize> = HashMap::new();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                // Grows by 4 KiB at a time and starts over past 1 MiB: its size keeps
                // changing, never its bound.
                let growing = w.join("growing");
                let too_big = fs::metadata(&growing)
                    .map(|m| m.len() > 1 << 20)
                    .unwrap_or(false);
                if too_big {
                    let _ = fs::write(&growing, "");
                } else {
                    let _ = fs::OpenOptions::new()
                        .append(true)
                        .open(&growing)
                        .and_then(|mut f| std::io::Write::write_all(&mut f, &[b'x'; 4096]));
                }
                let flicker = w.join(format!("stable/flicker{}", n % 7));
                if n.is_multiple_of(2) {
                    let _ = fs::write(&flicker, format!("{n}"));
                } else {
                    let _ = fs::remove_file(&flicker);
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        let _stop = StopOnDrop(&stop);
        for i in 0..15 {
            let out = env.cow(["commit", "--allow-empty", "-m", &format!("c{i}")]);
            let verdict = if out.status.success() {
                "ok".to_owned()
            } else {
                let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
                assert!(
                    stderr.starts_with("cow: error: ")
                        && stderr.contains("changed while it was being read"),
                    "{stderr}"
                );
                "changed".to_owned()
            };
            *outcomes.entry(verdict).or_default() += 1;
        }
    });
    eprintln!("outcomes: {outcomes:?}");
    // Every blob stored matches its id, and every snapshot is complete.
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
}

#[test]
fn a_damaged_pack_is_found_by_fsck_and_spoils_only_its_damaged_object() {
    let env = Env::new();
    let w = env.work();
    for i in 0..100 {
        write(
            &w.join(format!("f{i:03}")),
            format!("content of file {i}, long enough to compress\n"),
        );
    }
    env.init();
    env.commit("packed");
    let pack_dir = w.join(".cow/objects/pack");
    let pack = fs::read_dir(&pack_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "pack"))
        .unwrap();
    let victim = env.cow_ok(["rev-parse", "HEAD:f050"]).trim().to_owned();
    // Find the victim's record through the library, then flip a byte of its frame.
    let repo = cow::Repository::open(&w).unwrap();
    let copy = repo.odb().locate(&victim.parse().unwrap()).unwrap();
    assert_eq!(copy.len(), 1, "{copy:?}");
    assert_eq!(copy[0].file, pack);
    let mut bytes = fs::read(&pack).unwrap();
    let at = ((copy[0].frame.start + copy[0].frame.end) / 2) as usize;
    bytes[at] ^= 0x55;
    fs::set_permissions(&pack, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    fs::write(&pack, &bytes).unwrap();

    let out = env.cow(["fsck"]);
    assert_error(&out, "fsck found");
    let report = String::from_utf8_lossy(&out.stdout);
    let name = pack.file_stem().unwrap().to_string_lossy().into_owned();
    assert!(
        report.contains(&format!("{name} at offset")) && report.contains("pack checksum mismatch"),
        "{report}"
    );
    assert!(report.contains(&victim), "{report}");
    assert!(report.contains("(path 'f050' in commit "), "{report}");
    // Reading the damaged object fails; its neighbours still read.
    assert_error(&env.cow(["show", "HEAD:f050"]), &victim);
    assert_eq!(
        env.cow_ok(["show", "HEAD:f049"]),
        "content of file 49, long enough to compress\n"
    );

    // A damaged index is found too.
    let idx = pack.with_extension("idx");
    let mut bytes = fs::read(&idx).unwrap();
    bytes[100] ^= 1;
    fs::set_permissions(&idx, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    fs::write(&idx, &bytes).unwrap();
    let report = String::from_utf8_lossy(&env.cow(["fsck"]).stdout).into_owned();
    assert!(report.contains("index checksum mismatch"), "{report}");
}

/// `checkout -b` creates a branch and points HEAD at it in one transaction. Before the
/// change (`update` then `set_head`, each synced on its own) the new branch's directory
/// was fsynced before HEAD was renamed, so no crash could leave HEAD naming a branch
/// that is not on disk. The transaction renames both and syncs the directories only
/// at the end: a crash in between may persist HEAD -> refs/heads/topic without the
/// branch (an unborn branch; from a detached HEAD, the snapshot becomes unreachable).
#[test]
fn checkout_b_makes_the_new_branch_durable_before_head_names_it() -> Result {
    if !strace_available() {
        return Ok(());
    }
    let env = Env::new();
    write(&env.work().join("a"), "a\n");
    env.init();
    let first = env.commit("first");
    env.cow_ok(["checkout", &first]); // detached: only HEAD reaches `first` later on
    let cow = fs::canonicalize(env.work())?.join(".cow");
    let calls = traced(&env, &["checkout", "-b", "topic"]);
    let renamed_to = |p: &Path| {
        calls
            .iter()
            .position(|c| {
                c.name.starts_with("rename") && c.paths.last().is_some_and(|x| Path::new(x) == p)
            })
            .unwrap_or_else(|| panic!("no rename to {}: {calls:#?}", p.display()))
    };
    let branch_at = renamed_to(&cow.join("refs/heads/topic"));
    let head_at = renamed_to(&cow.join("HEAD"));
    assert!(branch_at < head_at, "{calls:#?}");
    let heads = cow.join("refs/heads");
    assert!(
        calls[branch_at..head_at]
            .iter()
            .any(|c| (c.name == "fsync" || c.name == "fdatasync")
                && c.fds.first().is_some_and(|p| Path::new(p) == heads)),
        "refs/heads was not synced between the branch's rename and HEAD's: {calls:#?}"
    );
    Ok(())
}
