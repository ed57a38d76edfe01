//! A store outside the tree: `init --store`, the `.cow` file naming it, `-C STORE`,
//! `COW_DIR` / `COW_WORK_TREE`, bare stores, a read-only source, and a store on another
//! filesystem than its working directory.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::*;

/// An Env whose working directory `work/` keeps its store in `store/` beside it.
fn outside() -> (Env, PathBuf) {
    let env = Env::new();
    env.cow_ok(["init", "--store", "../store"]);
    let store = fs::canonicalize(env.tmp.path().join("store")).unwrap();
    (env, store)
}

/// `cow ARGS` run in `dir`, with extra environment variables.
fn cow_in(env: &Env, dir: &Path, vars: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut cmd = env.cow_cmd(dir);
    for (name, value) in vars {
        cmd.env(name, value);
    }
    cmd.args(args).output().unwrap()
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", describe(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn init_store_records_the_link_both_ways() {
    let (env, store) = outside();
    let work = fs::canonicalize(env.work()).unwrap();
    // git's `gitdir:` file: one line naming the store, absolute.
    let link = fs::read(work.join(".cow")).unwrap();
    let mut want = b"cowdir: ".to_vec();
    want.extend_from_slice(store.as_os_str().as_encoded_bytes());
    want.push(b'\n');
    assert_eq!(link, want);
    // And the store names its working directory, as git's core.worktree.
    let config = ok(cow_in(&env, &store, &[], &["config", "core.worktree"]));
    assert_eq!(config.trim_end(), work.to_str().unwrap());
    for name in ["HEAD", "objects", "refs", "config", "lock"] {
        assert!(store.join(name).exists(), "{name}");
    }
}

#[test]
fn commands_in_the_tree_find_the_store_through_the_cow_file() {
    let (env, store) = outside();
    write(&env.work().join("a.txt"), "one\n");
    write(&env.work().join("dir/b.txt"), "b\n");
    let first = env.commit("first");
    // The objects went to the store, not into the tree.
    assert!(store.join("objects").read_dir().unwrap().next().is_some());
    assert!(env.work().join(".cow").is_file());
    // The `.cow` file is reserved: it is in no snapshot.
    let listing = env.cow_ok(["ls-tree", "-r", "--name-only", "HEAD"]);
    assert_eq!(listing, "a.txt\ndir/b.txt\n");
    assert_eq!(env.cow_ok(["status", "--porcelain"]), "");

    write(&env.work().join("a.txt"), "two\n");
    assert_eq!(env.cow_ok(["status", "--porcelain"]), " M a.txt\n");
    // From a subdirectory too.
    let sub = env.work().join("dir");
    ok(cow_in(&env, &sub, &[], &["commit", "-m", "second"]));
    let log = env.cow_ok(["log", "--format=%s"]);
    assert_eq!(log, "second\nfirst\n");
    env.cow_ok(["checkout", &first]);
    assert_eq!(
        fs::read_to_string(env.work().join("a.txt")).unwrap(),
        "one\n"
    );
    assert_eq!(env.cow_ok(["status", "--porcelain"]), "");
    assert_eq!(env.cow_ok(["rev-parse", "HEAD"]).trim(), first);
}

#[test]
fn c_store_and_cow_dir_reach_the_tree_from_anywhere() {
    let (env, store) = outside();
    let elsewhere = env.tmp.path().to_owned();
    write(&env.work().join("a.txt"), "one\n");
    let store_arg = store.to_str().unwrap();
    ok(cow_in(
        &env,
        &elsewhere,
        &[],
        &["-C", store_arg, "commit", "-m", "first"],
    ));
    write(&env.work().join("a.txt"), "two\n");
    let status = ok(cow_in(
        &env,
        &elsewhere,
        &[],
        &["-C", store_arg, "status", "--porcelain"],
    ));
    assert_eq!(status, " M a.txt\n");
    let vars = [("COW_DIR", store.as_path())];
    let status = ok(cow_in(&env, &elsewhere, &vars, &["status", "--porcelain"]));
    assert_eq!(status, " M a.txt\n");
    ok(cow_in(&env, &elsewhere, &vars, &["commit", "-m", "second"]));
    let log = ok(cow_in(&env, &elsewhere, &vars, &["log", "--format=%s"]));
    assert_eq!(log, "second\nfirst\n");
    ok(cow_in(&env, &elsewhere, &vars, &["checkout", "HEAD~1"]));
    assert_eq!(
        fs::read_to_string(env.work().join("a.txt")).unwrap(),
        "one\n"
    );
    let top = ok(cow_in(
        &env,
        &elsewhere,
        &vars,
        &["rev-parse", "--show-toplevel"],
    ));
    assert_eq!(
        Path::new(top.trim_end()),
        fs::canonicalize(env.work()).unwrap()
    );
    // COW_WORK_TREE names another working directory for the same store (git's
    // GIT_WORK_TREE): a copy of the tree at HEAD~1 is clean there.
    let copy = env.tmp.path().join("copy");
    write(&copy.join("a.txt"), "one\n");
    let vars = [
        ("COW_DIR", store.as_path()),
        ("COW_WORK_TREE", copy.as_path()),
    ];
    let status = ok(cow_in(&env, &elsewhere, &vars, &["status", "--porcelain"]));
    assert_eq!(status, "");
}

#[test]
fn ids_equal_a_repository_with_the_store_inside() {
    let (env, _store) = outside();
    let normal = Env::new();
    normal.init();
    for e in [&env, &normal] {
        write(&e.work().join("a.txt"), "one\n");
        write(&e.work().join("dir/run.sh"), "#!/bin/sh\n");
        set_exec(&e.work().join("dir/run.sh"), true);
        std::os::unix::fs::symlink("a.txt", e.work().join("link")).unwrap();
    }
    // Same tree, same identity and date: the same commit id, whatever the layout
    // (the store's place is not part of any object).
    assert_eq!(env.commit("same"), normal.commit("same"));
}

#[test]
fn a_bare_store_serves_what_needs_no_working_directory() {
    let (env, store) = outside();
    write(&env.work().join("a.txt"), "one\n");
    let head = env.commit("first");
    // A bare store: no core.worktree.
    let s = store.to_str().unwrap();
    let elsewhere = env.tmp.path().to_owned();
    ok(cow_in(
        &env,
        &elsewhere,
        &[],
        &["-C", s, "config", "--unset", "core.worktree"],
    ));
    for args in [
        &["fsck"][..],
        &["log", "--oneline"],
        &["show", "--stat", "HEAD"],
        &["cat-file", "-p", "HEAD:a.txt"],
        &["ls-tree", "HEAD"],
        &["count-objects"],
        &["branch", "kept"],
        &["tag", "v1"],
        &["gc"],
    ] {
        let mut full = vec!["-C", s];
        full.extend_from_slice(args);
        ok(cow_in(&env, &elsewhere, &[], &full));
    }
    let id = ok(cow_in(
        &env,
        &elsewhere,
        &[],
        &["-C", s, "rev-parse", "kept", "v1"],
    ));
    assert_eq!(id, format!("{head}\n{head}\n"));
    // The same with COW_DIR, and from inside the store.
    let vars = [("COW_DIR", store.as_path())];
    ok(cow_in(&env, &elsewhere, &vars, &["fsck"]));
    ok(cow_in(&env, &store, &[], &["log", "--oneline"]));
    for args in [
        &["status"][..],
        &["commit", "-m", "x"],
        &["checkout", "kept"],
        &["diff"],
        &["rev-parse", "--show-toplevel"],
    ] {
        let mut full = vec!["-C", s];
        full.extend_from_slice(args);
        let out = cow_in(&env, &elsewhere, &[], &full);
        assert_error(&out, "this store has no working directory");
    }
    // The tree's `.cow` file now names a store that does not name the tree back.
    let out = env.cow(["status"]);
    assert_error(&out, "points at the store");
}

#[test]
fn a_bare_store_pushes_fetches_and_is_pushed_to() {
    let (env, store) = outside();
    write(&env.work().join("a.txt"), "one\n");
    let ours = env.commit("ours");
    let s = store.to_str().unwrap();
    let elsewhere = env.tmp.path().to_owned();
    ok(cow_in(
        &env,
        &elsewhere,
        &[],
        &["-C", s, "config", "--unset", "core.worktree"],
    ));
    let other = Env::new();
    other.init();
    write(&other.work().join("b.txt"), "b\n");
    let theirs = other.commit("theirs");
    other.cow_ok(["branch", "topic"]);
    // Pushed to, by its path.
    other.cow_ok(["push", s, "topic"]);
    let got = ok(cow_in(
        &env,
        &elsewhere,
        &[],
        &["-C", s, "rev-parse", "topic"],
    ));
    assert_eq!(got.trim(), theirs);
    // Pushes from it, and fetches into it.
    let o = other.work();
    let o = o.to_str().unwrap();
    ok(cow_in(
        &env,
        &elsewhere,
        &[],
        &["-C", s, "branch", "from-store", &ours],
    ));
    ok(cow_in(
        &env,
        &elsewhere,
        &[],
        &["-C", s, "push", o, "from-store"],
    ));
    assert_eq!(other.cow_ok(["rev-parse", "from-store"]).trim(), ours);
    write(&other.work().join("b.txt"), "c\n");
    let newer = other.commit("newer");
    ok(cow_in(&env, &elsewhere, &[], &["-C", s, "fetch", o]));
    let kind = ok(cow_in(
        &env,
        &elsewhere,
        &[],
        &["-C", s, "cat-file", "-t", &newer],
    ));
    assert_eq!(kind, "commit\n");
}

#[test]
fn a_store_inside_its_tree_or_a_tree_inside_its_store_is_refused() {
    let env = Env::new();
    let out = env.cow(["init", "--store", "sub/store"]);
    assert_error(&out, "must not contain each other");
    let out = env.cow(["init", "--store", "."]);
    assert_error(&out, "must not contain each other");
    let out = env.cow(["init", "--store", "../s", "../s/w"]);
    assert_error(&out, "must not contain each other");
    // A refused init makes nothing.
    assert_eq!(fs::read_dir(env.work()).unwrap().count(), 0);
    assert_eq!(
        fs::read_dir(env.tmp.path()).unwrap().count(),
        1,
        "only work/ is there"
    );
    // A crafted config that puts the tree around the store is refused on open.
    let (env, store) = outside();
    let parent = env.tmp.path().to_str().unwrap().to_owned();
    let s = store.to_str().unwrap();
    env.cow_ok(["-C", s, "config", "core.worktree", &parent]);
    let out = env.cow(["-C", s, "status"]);
    assert_error(&out, "must not contain each other");
}

#[test]
fn init_store_needs_an_empty_or_missing_directory() {
    let env = Env::new();
    let store = env.tmp.path().join("store");
    write(&store.join("precious"), "keep\n");
    let out = env.cow(["init", "--store", "../store"]);
    assert_error(&out, "is not an empty directory");
    assert_eq!(fs::read_dir(&store).unwrap().count(), 1);
    assert!(!env.work().join(".cow").exists());
    // An empty one is used; a second init is refused.
    fs::remove_file(store.join("precious")).unwrap();
    env.cow_ok(["init", "--store", "../store"]);
    let out = env.cow(["init", "--store", "../store2"]);
    assert_error(&out, "already a cow repository");
    assert!(!env.tmp.path().join("store2").exists());
}

#[test]
fn a_cow_file_that_names_no_store_is_refused_cleanly() {
    let env = Env::new();
    let link = env.work().join(".cow");
    let elsewhere = env.tmp.path().join("plain");
    fs::create_dir(&elsewhere).unwrap();
    let mut huge = b"cowdir: /".to_vec();
    huge.resize(1 << 20, b'a');
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"cowdir: /nonexistent/store\n".to_vec(),
            "which is not a cow store",
        ),
        (
            format!("cowdir: {}\n", elsewhere.display()).into_bytes(),
            "which is not a cow store",
        ),
        (b"cowdir: ../plain\n".to_vec(), "which is not a cow store"),
        (b"\0\xff\xfe garbage".to_vec(), "not a .cow file"),
        (b"gitdir: /x\n".to_vec(), "not a .cow file"),
        (b"".to_vec(), "not a .cow file"),
        (huge, "too large"),
    ];
    for (content, want) in cases {
        fs::write(&link, &content).unwrap();
        for args in [&["status"][..], &["commit", "-m", "x"], &["log"]] {
            let out = env.cow(args);
            assert_error(&out, want);
        }
    }
    // Not a regular file: a FIFO is refused without blocking.
    fs::remove_file(&link).unwrap();
    let status = Command::new("mkfifo").arg(&link).status().unwrap();
    assert!(status.success());
    assert_error(&env.cow(["status"]), "not a directory or a regular file");
    // A planted `.cow` file naming another tree's store does not take it over.
    fs::remove_file(&link).unwrap();
    let (victim, store) = outside();
    write(&victim.work().join("a.txt"), "a\n");
    victim.commit("first");
    fs::write(&link, format!("cowdir: {}\n", store.display())).unwrap();
    write(&env.work().join("planted.txt"), "x\n");
    let out = env.cow(["commit", "-m", "planted"]);
    assert_error(&out, "points at the store");
    assert_eq!(victim.cow_ok(["log", "--format=%s"]), "first\n");
}

/// Every path below `dir` with its type, mode, size, mtime and ctime.
fn listing(dir: &Path) -> Vec<(PathBuf, u32, u64, i64, i64, i64, i64)> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let m = e.path().symlink_metadata().unwrap();
            (
                e.path().to_owned(),
                m.mode(),
                m.size(),
                m.mtime(),
                m.mtime_nsec(),
                m.ctime(),
                m.ctime_nsec(),
            )
        })
        .collect()
}

/// A read-only source: as root, the source belongs to root and cow runs as `nobody`
/// (through setpriv) with the store its own; otherwise the source is chmod'ed read-only.
/// Commit works and writes nothing in the source, not even atime-free metadata: the
/// full listing with modes, sizes, mtimes and ctimes is unchanged.
#[test]
fn a_read_only_source_is_snapshotted_without_writing_to_it() {
    let env = Env::new();
    let tmp = env.tmp.path();
    let src = tmp.join("src");
    write(&src.join("a.txt"), "one\n");
    write(&src.join("dir/b.txt"), "b\n");
    std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
    let store = tmp.join("store");
    fs::create_dir(&store).unwrap();
    let is_root = unsafe { libc::geteuid() } == 0;
    let run = |args: &[&str]| -> Output {
        let mut cmd = if is_root {
            let mut cmd = Command::new("setpriv");
            cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_cow"));
            cmd
        } else {
            Command::new(env!("CARGO_BIN_EXE_cow"))
        };
        cmd.current_dir(tmp)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", tmp)
            .env("COW_AUTHOR_NAME", NAME)
            .env("COW_AUTHOR_EMAIL", EMAIL)
            .env("COW_AUTHOR_DATE", DATE)
            .args(args)
            .output()
            .unwrap()
    };
    fs::set_permissions(tmp, fs::Permissions::from_mode(0o755)).unwrap();
    if is_root {
        // The source stays root's (0755 directories, 0644 files: readable only).
        let status = Command::new("chown")
            .args(["65534:65534"])
            .arg(&store)
            .status()
            .unwrap();
        assert!(status.success());
    } else {
        for dir in [src.join("dir"), src.clone()] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
        }
    }
    let before = listing(&src);
    let out = run(&["init", "--store", "store", "src"]);
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not writable") && stderr.contains("cow -C"),
        "{}",
        describe(&out)
    );
    let out = run(&["-C", "store", "commit", "-m", "backup"]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = run(&["-C", "store", "status", "--porcelain"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "{}",
        describe(&out)
    );
    let out = run(&["-C", "store", "ls-tree", "-r", "--name-only", "HEAD"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "a.txt\ndir/b.txt\nlink\n"
    );
    let out = run(&["-C", "store", "fsck"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(listing(&src), before, "the source changed");
    if !is_root {
        for dir in [src.clone(), src.join("dir")] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
}

/// A filesystem other than the temporary directory's, for a store there; `None` (with
/// the reason printed) when the machine has none.
fn other_filesystem(than: &Path) -> Option<tempfile::TempDir> {
    let dev = fs::metadata(than).unwrap().dev();
    for candidate in ["/dev/shm", "/run/user", "/var/tmp", "/tmp"] {
        if let Ok(dir) = tempfile::tempdir_in(candidate)
            && fs::metadata(dir.path()).unwrap().dev() != dev
        {
            return Some(dir);
        }
    }
    eprintln!("skipped: no second filesystem (tried /dev/shm, /run/user, /var/tmp, /tmp)");
    None
}

#[test]
fn checkout_with_the_store_on_another_filesystem() {
    let env = Env::new();
    let Some(other) = other_filesystem(env.tmp.path()) else {
        return;
    };
    let store = other.path().join("store");
    env.cow_ok(["init", "--store", store.to_str().unwrap()]);
    write(&env.work().join("a.txt"), "one\n");
    write(&env.work().join("dir/b.txt"), "b\n");
    let first = env.commit("first");
    write(&env.work().join("a.txt"), "two\n");
    fs::remove_file(env.work().join("dir/b.txt")).unwrap();
    write(&env.work().join("c.txt"), "c\n");
    env.commit("second");
    // A rename from the store into the tree would fail (EXDEV): staged in the tree.
    env.cow_ok(["checkout", &first]);
    assert_eq!(
        fs::read_to_string(env.work().join("a.txt")).unwrap(),
        "one\n"
    );
    assert_eq!(
        fs::read_to_string(env.work().join("dir/b.txt")).unwrap(),
        "b\n"
    );
    assert!(!env.work().join("c.txt").exists());
    env.cow_ok(["restore", "--source", "main", "a.txt"]);
    assert_eq!(
        fs::read_to_string(env.work().join("a.txt")).unwrap(),
        "two\n"
    );
    env.cow_ok(["restore", "a.txt"]);
    assert_eq!(env.cow_ok(["status", "--porcelain"]), "");
    // Nothing staged is left behind.
    let names: Vec<String> = fs::read_dir(env.work())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with(".cow-stage-")),
        "{names:?}"
    );
}

/// A staging directory a killed checkout left at the top of the tree is in no
/// snapshot, and the next writer removes it; a user's file of a similar name stays.
#[test]
fn a_left_staging_directory_is_never_snapshotted() {
    let (env, _store) = outside();
    write(&env.work().join("a.txt"), "one\n");
    let left = env.work().join(".cow-stage-Ab12Cd");
    write(&left.join("0"), "staged\n");
    write(&left.join("s1/3"), "staged\n");
    fs::set_permissions(&left, fs::Permissions::from_mode(0o700)).unwrap();
    write(&env.work().join(".cow-stage-notes/x"), "mine\n");
    assert_eq!(
        env.cow_ok(["status", "--porcelain"]),
        "?? .cow-stage-notes/\n?? a.txt\n"
    );
    env.commit("first");
    assert_eq!(
        env.cow_ok(["ls-tree", "-r", "--name-only", "HEAD"]),
        ".cow-stage-notes/x\na.txt\n"
    );
    assert!(!left.exists());
}

/// cow's lock is a plain `flock` on `STORE/lock`, so `flock(1)` holding it (to copy a
/// live store) keeps cow's writers out until it is released.
#[test]
fn flock_on_the_store_lock_keeps_writers_out() {
    let (env, store) = outside();
    write(&env.work().join("a.txt"), "one\n");
    let lock = store.join("lock");
    let mut holder = Command::new("flock")
        .arg(&lock)
        .arg("cat")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until flock(1) holds it: a non-blocking attempt of our own then fails.
    let probe = fs::File::open(&lock).unwrap();
    loop {
        use std::os::fd::AsRawFd;
        let got = unsafe { libc::flock(probe.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if got != 0 {
            break;
        }
        unsafe { libc::flock(probe.as_raw_fd(), libc::LOCK_UN) };
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = env.cow(["--lock-timeout", "0.2", "commit", "-m", "first"]);
    assert_error(&out, "the repository is locked by another cow process");
    drop(holder.stdin.take());
    holder.wait().unwrap();
    env.cow_ok(["commit", "-m", "first"]);
}

#[test]
fn library_init_with_store_open_and_discover() -> Result {
    let env = Env::new();
    let work = fs::canonicalize(env.work())?;
    let store = fs::canonicalize(env.tmp.path())?.join("store");
    let made = cow::Repository::init_with_store(&work, &store)?;
    assert_eq!(made.link.as_deref(), Some(work.join(".cow").as_path()));
    assert_eq!(made.repository.cow_dir(), store);
    write(&work.join("sub/a.txt"), "a\n");
    let repo = cow::Repository::discover(work.join("sub"))?;
    assert_eq!(repo.work_dir(), Some(work.as_path()));
    assert_eq!(repo.cow_dir(), store);
    let repo = cow::Repository::open(&store)?;
    assert_eq!(repo.work_dir(), Some(work.as_path()));
    let repo = cow::Repository::open_store(&store, Some(&work.join("sub")))?;
    assert_eq!(repo.work_dir(), Some(work.join("sub").as_path()));
    let id = repo.commit("lib", &commit_options())?.id;
    assert_eq!(cow::Repository::open(&work)?.head_commit()?, Some(id));
    Ok(())
}

/// With the store on another filesystem, checkout stages files on the working
/// directory's, so each is renamed into place whole: none is copied (a copy replaces
/// the old file before the new one is complete).
#[test]
fn checkout_renames_into_place_when_the_store_is_on_another_filesystem() -> Result {
    let env = Env::new();
    let Some(other) = other_filesystem(env.tmp.path()) else {
        return Ok(());
    };
    let made = cow::Repository::init_with_store(env.work(), other.path().join("store"))?;
    let repo = made.repository;
    write(&env.work().join("a.txt"), "one\n");
    write(&env.work().join("dir/b.txt"), "b\n");
    let first = repo.commit("first", &commit_options())?.id;
    write(&env.work().join("a.txt"), "two\n");
    write(&env.work().join("dir/b.txt"), "c\n");
    repo.commit("second", &commit_options())?;
    let first = first.to_string();
    let outcome = repo.checkout(first.as_str(), &Default::default())?;
    assert_eq!(outcome.applied.written, 2);
    assert_eq!(outcome.applied.copied, 0);
    assert_eq!(fs::read_to_string(env.work().join("dir/b.txt"))?, "b\n");
    Ok(())
}

/// `init --bare` (git's): a store with no working directory takes pushes of any branch,
/// HEAD's included, as a bare git repository does; what needs a working directory is
/// refused.
#[test]
fn init_bare_makes_a_store_to_push_backups_to() {
    let env = Env::new();
    env.init();
    write(&env.work().join("a.txt"), "one\n");
    let head = env.commit("first");
    let backup = env.tmp.path().join("backup");
    let out = env.cow(["init", "--bare", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));
    let b = backup.to_str().unwrap();
    env.cow_ok(["push", b, "main"]);
    assert_eq!(env.cow_ok(["-C", b, "rev-parse", "main"]).trim(), head);
    env.cow_ok(["-C", b, "fsck"]);
    assert_error(
        &env.cow(["-C", b, "status"]),
        "this store has no working directory",
    );
    // A new, still empty bare store: `checkout -b` would write nothing, but it is a
    // checkout all the same, refused as git refuses it outside a work tree.
    let empty = env.tmp.path().join("empty");
    let e = empty.to_str().unwrap();
    env.cow_ok(["init", "--bare", e]);
    assert_error(
        &env.cow(["-C", e, "checkout", "-b", "x"]),
        "this store has no working directory",
    );
    assert_eq!(
        fs::read_to_string(empty.join("HEAD")).unwrap(),
        "ref: refs/heads/main\n"
    );
    // No `.cow` anywhere: the store is the directory itself.
    assert!(!backup.join(".cow").exists() && !env.tmp.path().join(".cow").exists());
    let out = env.cow(["init", "--bare", b]);
    assert_error(&out, "is not an empty directory");
}
