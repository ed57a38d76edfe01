//! `restore --target DIR` (a snapshot written into another directory), `archive`
//! (a snapshot as a tar), and `restore` in place refusing to overwrite unsaved work.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::hostile::{commit_of, entry, put_raw};
use crate::util::*;

/// A repository whose one commit holds a generated tree (files, executables,
/// symlinks, empty and nested directories, non-UTF-8 names) plus a few fixed paths.
fn generated(seed: u64) -> Env {
    let env = Env::new();
    let work = env.work();
    generate_tree(&mut Rng::new(seed), &work.join("gen"), 3);
    write(&work.join("a.txt"), "a\n");
    write(&work.join("d/x"), "x\n");
    write(&work.join("d/sub/y"), "y\n");
    write(&work.join("tool.sh"), "#!/bin/sh\n");
    set_exec(&work.join("tool.sh"), true);
    symlink("../a.txt", work.join("d/link")).unwrap();
    symlink("/nonexistent/absolute", work.join("dangling")).unwrap();
    fs::create_dir_all(work.join("empty/nested")).unwrap();
    env.init();
    env.commit("one");
    env
}

#[test]
fn restore_target_into_a_new_directory_equals_the_snapshot() {
    for seed in [1, 2, 3] {
        let env = generated(seed);
        let out = env.tmp.path().join("out/deeper");
        let stdout = env.cow_ok(["restore", "--source", "HEAD", "--target", "../out/deeper"]);
        assert!(stdout.starts_with("Restored "), "{stdout}");
        // manifest() compares contents, executable bits, symlink targets and empty
        // directories; nothing else (no staging directory) is left in DIR.
        assert_eq!(manifest(&out), manifest(&env.work()), "seed {seed}");
        // Run again: every file is already as the snapshot has it.
        let again = env.cow_ok(["restore", "--target", "../out/deeper", "--json"]);
        let doc: serde_json::Value = serde_json::from_str(&again).unwrap();
        assert_eq!(doc["written"], 0, "{again}");
        assert_eq!(doc["ops"].as_array().unwrap().len(), 0, "{again}");
        assert_eq!(manifest(&out), manifest(&env.work()));
    }
}

#[test]
fn restore_target_works_from_outside_the_working_directory_and_leaves_it_alone() {
    let env = generated(7);
    let c1 = env.cow_ok(["rev-parse", "HEAD"]).trim().to_owned();
    // Change the working directory after the snapshot: the restore reads only the store.
    write(&env.work().join("a.txt"), "local edit\n");
    let snapshot = {
        let out = env.tmp.path().join("first");
        env.cow_ok(["restore", "-s", &c1, "--target", out.to_str().unwrap()]);
        manifest(&out)
    };
    let work_before = manifest(&env.work());
    let elsewhere = env.tmp.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    let out = env
        .cow_cmd(&elsewhere)
        .args(["-C", "../work", "restore", "--target", "../second"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    // `-C ../work`: DIR is taken from that directory, as git's -C does.
    assert_eq!(manifest(&env.tmp.path().join("second")), snapshot);
    assert_eq!(
        manifest(&env.work()),
        work_before,
        "the working directory changed"
    );
    assert_eq!(
        fs::read_to_string(env.tmp.path().join("second/a.txt")).unwrap(),
        "a\n"
    );
}

#[test]
fn restore_target_paths_limit_to_those_subtrees_at_their_place() {
    let env = generated(4);
    env.cow_ok(["restore", "--target", "../out", "d/sub", "tool.sh"]);
    let got = manifest(&env.tmp.path().join("out"));
    let want: Vec<&[u8]> = vec![b"d", b"d/sub", b"d/sub/y", b"tool.sh"];
    assert_eq!(got.keys().map(|k| k.as_slice()).collect::<Vec<_>>(), want);
    assert_eq!(
        got[&b"tool.sh".to_vec()],
        Item::File {
            data: b"#!/bin/sh\n".to_vec(),
            exec: true
        }
    );
    // From a subdirectory, PATH is relative to it (as in-place restore takes it).
    let out = env
        .cow_cmd(&env.work().join("d"))
        .args(["restore", "--target", "../../out2", "sub/y"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        manifest(&env.tmp.path().join("out2"))
            .keys()
            .cloned()
            .collect::<Vec<_>>(),
        vec![b"d".to_vec(), b"d/sub".to_vec(), b"d/sub/y".to_vec()]
    );
    // A path the snapshot lacks is refused, and DIR is not even made.
    assert_error(
        &env.cow(["restore", "--target", "../out3", "nope"]),
        "path 'nope' does not exist",
    );
    assert!(!env.tmp.path().join("out3").exists());
}

#[test]
fn restore_target_refuses_to_overwrite_different_files_unless_forced() {
    let env = generated(5);
    let out = env.tmp.path().join("out");
    write(&out.join("a.txt"), "mine\n"); // differs: refused
    write(&out.join("d/x"), "x\n"); // equal: fine
    write(&out.join("unrelated"), "keep\n"); // not in the snapshot: left alone
    let before = manifest(&out);
    let refused = env.cow(["restore", "--target", "../out"]);
    assert_error(&refused, "already holds different files at: a.txt");
    assert!(
        describe(&refused).contains("--force"),
        "{}",
        describe(&refused)
    );
    assert_eq!(manifest(&out), before, "a refused restore changed DIR");
    // --json: the refusal is one JSON line on stderr, nothing on stdout.
    let refused = env.cow(["restore", "--target", "../out", "--json"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(refused.stdout.is_empty());
    let line: serde_json::Value = serde_json::from_slice(&refused.stderr).unwrap();
    assert_eq!(line["type"], "error");
    // A dry run lists what it would do and changes nothing.
    let plan = env.cow_ok(["restore", "--target", "../out", "--force", "-n"]);
    assert!(plan.contains("would write a.txt"), "{plan}");
    assert_eq!(manifest(&out), before);
    env.cow_ok(["restore", "--target", "../out", "--force"]);
    let mut want = manifest(&env.work());
    want.insert(
        b"unrelated".to_vec(),
        Item::File {
            data: b"keep\n".to_vec(),
            exec: false,
        },
    );
    assert_eq!(manifest(&out), want);
}

#[test]
fn restore_target_never_follows_a_symlink_planted_in_dir() {
    let env = generated(6);
    let outside = env.tmp.path().join("outside");
    write(&outside.join("x"), "untouched\n");
    let out = env.tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    // Another user plants `d -> outside` where the snapshot has a directory `d`.
    symlink(&outside, out.join("d")).unwrap();
    let before = manifest(&outside);
    assert_error(
        &env.cow(["restore", "--target", "../out"]),
        "already holds different files at: d",
    );
    assert_eq!(manifest(&outside), before);
    // Forced: the symlink itself is replaced by the directory; nothing outside moves.
    env.cow_ok(["restore", "--target", "../out", "--force"]);
    assert_eq!(manifest(&outside), before);
    assert!(fs::symlink_metadata(out.join("d")).unwrap().is_dir());
    assert_eq!(manifest(&out), manifest(&env.work()));
}

#[test]
fn restore_target_given_as_a_symlink_is_followed_as_cp_does() {
    let env = generated(8);
    let real = env.tmp.path().join("real");
    fs::create_dir(&real).unwrap();
    symlink(&real, env.tmp.path().join("via")).unwrap();
    env.cow_ok(["restore", "--target", "../via"]);
    assert_eq!(manifest(&real), manifest(&env.work()));
    assert!(
        fs::symlink_metadata(env.tmp.path().join("via"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn restore_target_refuses_the_store_itself() {
    let env = generated(9);
    assert_error(
        &env.cow(["restore", "--target", ".cow/objects"]),
        "is inside the repository's store",
    );
}

/// The hostile trees of tests/it/hostile.rs, restored into another directory: each is
/// refused, and nothing is written in DIR or outside it.
#[test]
fn restore_target_refuses_hostile_trees_and_writes_nothing_outside() {
    let env = Env::new();
    let w = env.work();
    write(&w.join("honest.txt"), "honest\n");
    let outside = env.tmp.path().join("outside");
    write(&outside.join("sentinel"), "untouched\n");
    env.init();
    env.commit("honest");
    let blob = put_raw(&w, "blob", b"payload\n");
    let link = put_raw(&w, "blob", outside.to_str().unwrap().as_bytes());
    let sub = put_raw(&w, "tree", &entry("100644", b"sentinel", &blob));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            entry("100644", b"..", &blob),
            "'.' and '..' are not allowed",
        ),
        (entry("100644", b".cow", &blob), "reserved"),
        (entry("100644", b".COW", &blob), "reserved"),
        (entry("100644", b"", &blob), "empty name"),
        (
            entry("100644", b"../../outside/sentinel", &blob),
            "contains '/'",
        ),
        // A symlink `a` to the outside and a directory `a` holding `sentinel`.
        (
            [entry("120000", b"a", &link), entry("40000", b"a", &sub)].concat(),
            "duplicate name",
        ),
        (
            entry(
                "40000",
                b"sub",
                &put_raw(&w, "tree", &entry("100644", b"..", &blob)),
            ),
            "not allowed",
        ),
    ];
    let dir = env.tmp.path().join("out");
    for (raw, want) in cases {
        let commit = commit_of(&w, &put_raw(&w, "tree", &raw)).to_string();
        for force in [false, true] {
            let mut args = vec!["restore", "--source", &commit, "--target", "../out"];
            if force {
                args.push("--force");
            }
            assert_error(&env.cow(&args), want);
            assert_eq!(
                fs::read_to_string(outside.join("sentinel")).unwrap(),
                "untouched\n"
            );
            assert_eq!(manifest(&outside).len(), 1);
            // Refused before DIR is even made.
            assert!(!dir.exists(), "{want}: DIR was made");
        }
    }
    // Symlink-then-file: one snapshot puts a symlink `a` to the outside in DIR, the
    // next has a directory `a` with `sentinel` in it. Restoring the second over the
    // first must replace the link, never write through it.
    let one = commit_of(&w, &put_raw(&w, "tree", &entry("120000", b"a", &link))).to_string();
    let two = commit_of(&w, &put_raw(&w, "tree", &entry("40000", b"a", &sub))).to_string();
    env.cow_ok(["restore", "-s", &one, "--target", "../out"]);
    assert!(
        fs::symlink_metadata(dir.join("a"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_error(
        &env.cow(["restore", "-s", &two, "--target", "../out"]),
        "already holds different files at: a",
    );
    env.cow_ok(["restore", "-s", &two, "--target", "../out", "--force"]);
    assert_eq!(
        fs::read_to_string(outside.join("sentinel")).unwrap(),
        "untouched\n"
    );
    assert_eq!(
        fs::read_to_string(dir.join("a/sentinel")).unwrap(),
        "payload\n"
    );
    // A path given through a planted symlink: `a` is a link again, and only `a/sentinel`
    // is asked for.
    fs::remove_dir_all(dir.join("a")).unwrap();
    symlink(&outside, dir.join("a")).unwrap();
    let out = env.cow([
        "restore",
        "-s",
        &two,
        "--target",
        "../out",
        "--force",
        "a/sentinel",
    ]);
    assert!(
        !out.status.success() || fs::symlink_metadata(dir.join("a")).unwrap().is_dir(),
        "{}",
        describe(&out)
    );
    assert_eq!(
        fs::read_to_string(outside.join("sentinel")).unwrap(),
        "untouched\n"
    );
}

/// As an unprivileged user, from a store it cannot write (restore --target changes
/// nothing in the repository), into a directory it owns.
#[test]
fn restore_target_runs_unprivileged_from_a_read_only_store() {
    let env = generated(10);
    let is_root = unsafe { libc::geteuid() } == 0;
    // Hand everything to `nobody` first (cow_as_nobody does, as root), then make the
    // store read-only for everyone.
    let probe = env.cow_as_nobody(&["rev-parse", "HEAD"]);
    assert!(probe.status.success(), "{}", describe(&probe));
    let chmod = Command::new("chmod")
        .args(["-R", "a-w"])
        .arg(env.work().join(".cow"))
        .status()
        .unwrap();
    assert!(chmod.success());
    let out = env.cow_as_nobody(&["restore", "--target", "../out"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(manifest(&env.tmp.path().join("out")), manifest(&env.work()));
    if is_root {
        use std::os::unix::fs::MetadataExt;
        let meta = fs::metadata(env.tmp.path().join("out/a.txt")).unwrap();
        assert_eq!(meta.uid(), 65534, "written by nobody");
    }
    let _ = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(env.work().join(".cow"))
        .status();
}

// ---- archive ----

/// Extracts tar `bytes` with the system tar into `dir`.
fn extract(bytes: &[u8], dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    let mut child = Command::new("tar")
        .args(["-xf", "-", "-C"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "tar -x: {}", describe(&out));
}

/// `tar -tvf` of `bytes`, numeric owners, UTC.
fn listing(bytes: &[u8]) -> String {
    let mut child = Command::new("tar")
        .args(["--numeric-owner", "--utc", "-tvf", "-"])
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = bytes.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(out.status.success(), "tar -t: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn archive_extracts_to_the_snapshot_byte_for_byte() {
    for seed in [11, 12] {
        let env = generated(seed);
        // A long name (over tar's 100 bytes) and a long symlink target.
        let long_dir = "l".repeat(90);
        write(&env.work().join(&long_dir).join("n".repeat(120)), "long\n");
        symlink("t".repeat(200), env.work().join("longlink")).unwrap();
        env.commit("two");
        let file = env.tmp.path().join("snap.tar");
        env.cow_ok(["archive", "HEAD", "-o", file.to_str().unwrap()]);
        let tar = fs::read(&file).unwrap();
        let x = env.tmp.path().join("x");
        extract(&tar, &x);
        assert_eq!(manifest(&x), manifest(&env.work()), "seed {seed}");
        // Standard output carries the same bytes.
        let out = env.cow(["archive", "HEAD"]);
        assert!(out.status.success(), "{}", describe(&out));
        assert!(out.stdout == tar, "stdout differs from -o");
        // .tar.zst: one zstd frame of the same tar.
        let zst = env.tmp.path().join("snap.tar.zst");
        env.cow_ok(["archive", "HEAD", "-o", zst.to_str().unwrap()]);
        let unpacked = zstd::decode_all(fs::read(&zst).unwrap().as_slice()).unwrap();
        assert!(unpacked == tar, "the .zst holds another tar");
        // A prefix and a path.
        let out = env.cow(["archive", "--prefix", "proj/", "HEAD", "d"]);
        let y = env.tmp.path().join("y");
        extract(&out.stdout, &y);
        let mut want: Vec<Vec<u8>> = manifest(&env.work())
            .into_keys()
            .filter(|k| k == b"d" || k.starts_with(b"d/"))
            .map(|k| [b"proj/".as_slice(), &k].concat())
            .collect();
        want.insert(0, b"proj".to_vec());
        assert_eq!(manifest(&y).into_keys().collect::<Vec<_>>(), want);
    }
}

#[test]
fn archive_entries_match_git_archive() {
    if !git_available() {
        return;
    }
    let env = Env::new();
    let work = env.work();
    write(&work.join("a.txt"), "a\n");
    write(&work.join("dir/b.txt"), "bb\n");
    write(&work.join("dir/deeper/c"), "ccc\n");
    write(&work.join("run.sh"), "#!/bin/sh\n");
    set_exec(&work.join("run.sh"), true);
    symlink("dir/b.txt", work.join("link")).unwrap();
    write(&work.join("l".repeat(120)), "long name\n");
    env.init();
    env.commit("one");
    let git = GitMirror::new(&env);
    git.snapshot("one");
    let cow_tar = env.cow(["archive", "HEAD"]).stdout;
    // git applies tar.umask (002 by default) to the stored modes; 022 gives the
    // modes as stored, which cow writes (0644, 0755, directories 0755).
    let git_tar = git.run(&["-c", "tar.umask=022", "archive", "--format=tar", "HEAD"]);
    let (cow_list, git_list) = (listing(&cow_tar), listing(&git_tar));
    assert_eq!(cow_list, git_list);
    assert!(cow_list.contains("lrwxrwxrwx 0/0"), "{cow_list}");
    assert!(cow_list.contains("link -> dir/b.txt"), "{cow_list}");
    assert!(cow_list.contains("-rwxr-xr-x 0/0"), "{cow_list}");
    // mtime is the commit's committer time (1700000000 = 2023-11-14 22:13 UTC).
    assert!(cow_list.contains("2023-11-14 22:13"), "{cow_list}");
    // With a path and a prefix, too.
    let cow_part = env
        .cow(["archive", "--prefix=p/", "HEAD", "dir/deeper"])
        .stdout;
    let git_part = git.run(&[
        "-c",
        "tar.umask=022",
        "archive",
        "--format=tar",
        "--prefix=p/",
        "HEAD",
        "dir/deeper",
    ]);
    assert_eq!(listing(&cow_part), listing(&git_part));
}

#[test]
fn archive_refuses_bad_input_with_one_error_line() {
    let env = generated(13);
    assert_error(&env.cow(["archive", "nope"]), "nope");
    assert_error(
        &env.cow(["archive", "HEAD", "missing"]),
        "path 'missing' does not exist",
    );
    assert_error(
        &env.cow(["archive", "--prefix", "../x/", "HEAD"]),
        "invalid archive prefix",
    );
    // A failed archive leaves no file behind.
    let file = env.tmp.path().join("bad.tar");
    assert_error(
        &env.cow(["archive", "HEAD", "missing", "-o", file.to_str().unwrap()]),
        "does not exist",
    );
    assert!(!file.exists());
    assert_eq!(
        fs::read_dir(env.tmp.path())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".cow-archive-"))
            .count(),
        0
    );
    // --json with -o FILE: one document; without a file, a usage error.
    let json = env.cow_ok(["archive", "HEAD", "--json", "-o", file.to_str().unwrap()]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["type"], "archive");
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["size"], fs::metadata(&file).unwrap().len());
    let out = env.cow(["archive", "HEAD", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

// ---- restore in place ----

#[test]
fn restore_refuses_to_overwrite_unsaved_changes_unless_forced() {
    let env = Env::new();
    let w = env.work();
    write(&w.join("a"), "one\n");
    write(&w.join("d/keep"), "keep\n");
    env.init();
    let c1 = env.commit("one");
    write(&w.join("a"), "two\n");
    write(&w.join("d/new"), "new\n");
    env.commit("two");
    // A local edit to `a`, in no snapshot: restoring HEAD's or c1's version refuses.
    write(&w.join("a"), "local\n");
    for args in [
        &["restore", "a"][..],
        &["restore", "-s", &c1, "a"],
        &["restore", "."],
    ] {
        let out = env.cow(args);
        assert_error(
            &out,
            "restore would overwrite or delete changes that are in no snapshot: a (modified)",
        );
        assert!(describe(&out).contains("use --force to discard them"));
        assert_eq!(fs::read_to_string(w.join("a")).unwrap(), "local\n");
    }
    // Deleting an edited file (c1 has no d/new) is refused the same way.
    write(&w.join("d/new"), "edited\n");
    assert_error(&env.cow(["restore", "-s", &c1, "d"]), "d/new (modified)");
    assert_eq!(fs::read_to_string(w.join("d/new")).unwrap(), "edited\n");
    // A file whose content already is the source's is no conflict: `a` holds c1's.
    write(&w.join("d/new"), "new\n");
    write(&w.join("a"), "one\n");
    env.cow_ok(["restore", "-s", &c1, "a"]);
    assert_eq!(fs::read_to_string(w.join("a")).unwrap(), "one\n");
    // --force discards.
    write(&w.join("a"), "local\n");
    env.cow_ok(["restore", "--force", "a"]);
    assert_eq!(fs::read_to_string(w.join("a")).unwrap(), "two\n");
    // Unchanged files are restored without --force (a deleted one comes back).
    fs::remove_file(w.join("a")).unwrap();
    env.cow_ok(["restore", "a"]);
    assert_eq!(fs::read_to_string(w.join("a")).unwrap(), "two\n");
    env.cow_ok(["restore", "-s", &c1, "d"]);
    assert!(!w.join("d/new").exists());
    // What a snapshot holds is not unsaved: after restoring c1's `a`, restoring HEAD's
    // again needs no --force (c1's content is in the store), nor does going back to c1.
    env.cow_ok(["restore", "-s", &c1, "a"]);
    assert_eq!(fs::read_to_string(w.join("a")).unwrap(), "one\n");
    env.cow_ok(["restore", "a"]);
    assert_eq!(fs::read_to_string(w.join("a")).unwrap(), "two\n");
}

#[test]
fn archive_refuses_to_write_binary_to_a_terminal() {
    let env = generated(14);
    let cmd = env.cow_cmd(&env.work());
    let command = format!("{} archive HEAD", env!("CARGO_BIN_EXE_cow"));
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(env.work())
        .env_clear()
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // `script` runs it on a pseudo-terminal and passes its exit status on.
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("cow: error: refusing to write a binary archive to a terminal"),
        "{shown:?}"
    );
    assert!(!shown.contains("ustar"), "tar bytes reached the terminal");
}

/// The library calls, with no command line: restore_to into a directory, and
/// archive into memory.
#[test]
fn library_restore_to_and_archive() -> Result {
    let env = generated(15);
    let repo = cow::Repository::open(env.work())?;
    let dir = env.tmp.path().join("lib-out");
    let done = repo.restore_to("HEAD", &[], &dir, &Default::default())?;
    assert_eq!(
        done.commit.to_string(),
        env.cow_ok(["rev-parse", "HEAD"]).trim()
    );
    assert_eq!(manifest(&dir), manifest(&env.work()));
    assert!(done.applied.written > 0);
    // A dry run into a missing directory plans everything and makes nothing.
    let missing = env.tmp.path().join("missing");
    let options = cow::repository::CheckoutOptions {
        dry_run: true,
        ..Default::default()
    };
    let planned = repo.restore_to("HEAD", &[], &missing, &options)?;
    assert_eq!(planned.applied.written, 0);
    assert!(!planned.plan.ops.is_empty());
    assert!(!missing.exists());
    let mut tar = Vec::new();
    let outcome = repo.archive("HEAD", &[], &mut tar, &Default::default())?;
    assert_eq!(
        outcome.files as usize,
        manifest(&env.work())
            .values()
            .filter(|i| !matches!(i, Item::Dir))
            .count()
    );
    let x = env.tmp.path().join("lib-x");
    extract(&tar, &x);
    assert_eq!(manifest(&x), manifest(&env.work()));
    Ok(())
}

/// Every blob is verified before anything is placed: a corrupt one fails the restore
/// with DIR as it was (a DIR made for the restore is removed again), and no staging
/// directory is left in it.
#[test]
fn restore_target_with_a_corrupt_blob_places_nothing() {
    let env = generated(16);
    let id = env.cow_ok(["rev-parse", "HEAD:d/x"]).trim().to_owned();
    let path = object_path(&env.work(), &id);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&path, zstd::encode_all(&b"blob 4\0evil"[..], 3).unwrap()).unwrap();
    let want = format!("object {id} is corrupt");
    assert_error(&env.cow(["restore", "--target", "../new"]), &want);
    assert!(!env.tmp.path().join("new").exists());
    let dir = env.tmp.path().join("existing");
    write(&dir.join("mine"), "mine\n");
    let before = manifest(&dir);
    assert_error(&env.cow(["restore", "--target", "../existing"]), &want);
    assert_eq!(
        manifest(&dir),
        before,
        "DIR changed, or a staging directory stayed"
    );
    // archive: an error, and no file under the name asked for.
    let file = env.tmp.path().join("snap.tar");
    assert_error(
        &env.cow(["archive", "HEAD", "-o", file.to_str().unwrap()]),
        &want,
    );
    assert!(!file.exists());
}
