//! `commit --on-change=skip|warn|fail` (and `commit.onChange`): a file that keeps
//! changing while a commit reads it.
//!
//! A background thread appends lines to a large log while `cow commit` runs, so every
//! attempt at reading it (a commit reads a changed file three times) sees it grow. A
//! round in which the appender happened to pause through all three attempts commits
//! normally; each test runs rounds until the commit reports the log (at most
//! [`ROUNDS`]), so none can pass without the race having happened.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use crate::util::*;

/// Rounds of commit attempts before a test gives up on meeting the race.
const ROUNDS: usize = 50;

/// The log's size before the appender starts: large enough that reading, hashing and
/// compressing it takes a while (it is streamed, not read whole: above 1 MiB).
const LOG_SIZE: usize = 8 << 20;

/// Lines appended to a file by a background thread until stopped.
struct Appender {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Appender {
    /// Starts appending numbered lines to `path`, one about every 100 µs.
    fn start(path: &Path) -> Appender {
        let stop = Arc::new(AtomicBool::new(false));
        let mut file = fs::OpenOptions::new().append(true).open(path).unwrap();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut n = 0u64;
            while !flag.load(Ordering::Relaxed) {
                writeln!(file, "appended line {n}").unwrap();
                n += 1;
                std::thread::sleep(Duration::from_micros(100));
            }
        });
        Appender {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops appending; the file holds its final content after this returns.
    fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        self.halt();
    }
}

/// A repository whose HEAD holds `log` (of [`LOG_SIZE`] bytes of text lines) and
/// `other`; returns the log's path.
fn repo_with_a_log(env: &Env) -> PathBuf {
    let work = env.work();
    let log = log_in(&work);
    write(&work.join("other"), "other\n");
    env.init();
    env.commit("base");
    log
}

/// Writes `dir/log`, [`LOG_SIZE`] bytes of text lines, and returns its path.
fn log_in(dir: &Path) -> PathBuf {
    let mut content = Vec::with_capacity(LOG_SIZE + 64);
    let mut n = 0u64;
    while content.len() < LOG_SIZE {
        writeln!(
            content,
            "initial line {n} of the log, before the appender starts"
        )
        .unwrap();
        n += 1;
    }
    write(&dir.join("log"), &content);
    dir.join("log")
}

/// Runs `cow ARGS` up to [`ROUNDS`] times until `met(out)` says the round met the
/// race; every other round must have committed normally (exit 0: ARGS has
/// `--allow-empty`, as the appender may not have run between two rounds). Returns the
/// round that met it, and HEAD just before it ran.
fn until_raced(env: &Env, args: &[&str], met: impl Fn(&Output) -> bool) -> (Output, String) {
    for _ in 0..ROUNDS {
        let head = env.cow_ok(["rev-parse", "HEAD"]);
        let out = env.cow(args);
        if met(&out) {
            return (out, head);
        }
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    }
    panic!("no commit met the appender in {ROUNDS} rounds");
}

/// The JSON document on a command's stdout.
fn document(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", describe(out)))
}

/// Whether a `--json` commit's document lists `log` as changed while read.
fn lists_the_log(out: &Output) -> bool {
    out.status.code() == Some(3)
        && document(out)["changed_while_read"]
            .as_array()
            .is_some_and(|files| files.iter().any(|f| f["path"] == "log"))
}

/// The blob id `ls-tree` gives `path` at HEAD, if it is there.
fn blob_at_head(env: &Env, path: &str) -> Option<String> {
    let listing = env.cow_ok(["ls-tree", "HEAD"]);
    listing.lines().find_map(|line| {
        let (meta, name) = line.split_once('\t')?;
        (name == path).then(|| meta.split(' ').nth(2).unwrap().to_owned())
    })
}

/// git's SHA-256 blob id of `bytes` (`git hash-object` in a scratch repository).
fn git_blob_id(env: &Env, bytes: &[u8]) -> String {
    let dir = env.tmp.path().join("oracle");
    if !dir.exists() {
        git(
            env.tmp.path(),
            ["init", "-q", "--object-format=sha256", "oracle"],
        );
    }
    git_stdin(&dir, ["hash-object", "--stdin"], bytes)
}

/// Whether the stat cache has an entry for `path`: one would let the next status or
/// commit trust the file without reading it.
fn stat_cache_has(env: &Env, path: &str) -> bool {
    cow::worktree::Index::load(&env.work().join(".cow/index"))
        .is_some_and(|index| index.get(path.as_bytes()).is_some())
}

#[test]
fn warn_stores_the_bytes_read_and_exits_3() {
    if !git_available() {
        return;
    }
    let env = Env::new();
    let log = repo_with_a_log(&env);
    let appender = Appender::start(&log);
    let (out, _) = until_raced(
        &env,
        &[
            "commit",
            "--on-change=warn",
            "--allow-empty",
            "--json",
            "-m",
            "nightly",
        ],
        lists_the_log,
    );
    appender.stop();

    let doc = document(&out);
    assert_eq!(doc["type"], "commit");
    assert_eq!(doc["committed"], true);
    assert_eq!(doc["on_change"], "warn");
    assert_eq!(doc["complete"], false);
    assert_eq!(
        doc["changed_while_read"],
        serde_json::json!([{"path": "log", "action": "stored", "reason": "changed"}])
    );
    assert_eq!(doc["unreadable"], serde_json::json!([]));
    // The warning is a JSON line on stderr, naming the file.
    let warning: Value = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|w| w["path"] == "log")
        .unwrap_or_else(|| panic!("no warning names the log: {}", describe(&out)));
    assert_eq!(warning["type"], "warning");
    assert_eq!(
        warning["message"],
        "stored 'log' as read: it changed while being read"
    );

    // The snapshot holds bytes the log really had: it is only appended to, so what a
    // read of the size it had when opened returns is a prefix of its final content,
    // at least as long as before the appender started.
    assert_eq!(doc["id"], env.cow_ok(["rev-parse", "HEAD"]).trim());
    let id = blob_at_head(&env, "log").expect("the log is in the snapshot");
    let stored = env.cow(["cat-file", "-p", &id]);
    assert!(stored.status.success(), "{}", describe(&stored));
    let stored = stored.stdout;
    let last = fs::read(&log).unwrap();
    assert!(stored.len() >= LOG_SIZE, "{} bytes stored", stored.len());
    assert!(last.starts_with(&stored), "the stored log is not a prefix");
    // Its id is git's hash of exactly those bytes.
    assert_eq!(git_blob_id(&env, &stored), id);

    // Not vouched for by the stat cache: the next commit reads the log again and
    // stores it whole.
    assert!(!stat_cache_has(&env, "log"));
    assert!(stat_cache_has(&env, "other"));
    assert_eq!(env.cow_ok(["status", "--porcelain"]), " M log\n");
    env.cow_ok(["commit", "--on-change=warn", "-m", "quiet"]);
    assert_eq!(blob_at_head(&env, "log").unwrap(), git_blob_id(&env, &last));
    assert!(stat_cache_has(&env, "log"));
}

#[test]
fn skip_leaves_the_file_out_and_exits_3() {
    if !git_available() {
        return;
    }
    let env = Env::new();
    let log = repo_with_a_log(&env);
    let appender = Appender::start(&log);
    let (out, before) = until_raced(
        &env,
        &[
            "commit",
            "--on-change=skip",
            "--allow-empty",
            "-m",
            "nightly",
        ],
        |out| out.status.code() == Some(3),
    );
    appender.stop();

    // One warning naming the log; the summary names it too.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "cow: warning: skipped 'log': it changed while being read\n",
        "{}",
        describe(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(" 1 file changed (1 deleted), ")
            && stdout.ends_with(" changed while read, left out: 'log'\n"),
        "{}",
        describe(&out)
    );
    // The snapshot was made, without the log: HEAD had it, so it is recorded deleted.
    let head = env.cow_ok(["rev-parse", "HEAD"]);
    assert_ne!(head, before);
    assert_eq!(
        env.cow_ok(["ls-tree", "-r", "--name-only", "HEAD"]),
        "other\n"
    );
    assert_eq!(
        env.cow_ok(["diff", "--name-status", "HEAD~1", "HEAD"]),
        "D\tlog\n"
    );

    // The next commit reads it again and stores it.
    assert!(!stat_cache_has(&env, "log"));
    env.cow_ok(["commit", "--on-change=skip", "-m", "quiet"]);
    let last = fs::read(&log).unwrap();
    assert_eq!(blob_at_head(&env, "log").unwrap(), git_blob_id(&env, &last));
}

#[test]
fn fail_is_the_default_and_writes_no_commit() {
    let env = Env::new();
    let log = repo_with_a_log(&env);
    let changed = |out: &Output| out.status.code() == Some(1);
    let appender = Appender::start(&log);
    let (out, before) = until_raced(&env, &["commit", "--allow-empty", "-m", "vcs"], changed);
    assert_error(
        &out,
        "/work/log' changed while it was being read; try again",
    );
    assert_eq!(env.cow_ok(["rev-parse", "HEAD"]), before);
    assert!(out.stdout.is_empty());

    // The flag wins over the config.
    env.cow_ok(["config", "commit.onChange", "skip"]);
    let (out, before) = until_raced(
        &env,
        &["commit", "--on-change=fail", "--allow-empty", "-m", "vcs"],
        changed,
    );
    assert_error(
        &out,
        "/work/log' changed while it was being read; try again",
    );
    assert_eq!(env.cow_ok(["rev-parse", "HEAD"]), before);
    appender.stop();
}

#[test]
fn the_config_sets_the_mode() {
    let env = Env::new();
    let log = repo_with_a_log(&env);
    env.cow_ok(["config", "commit.onChange", "Warn"]);
    let appender = Appender::start(&log);
    let (out, _) = until_raced(
        &env,
        &["commit", "--allow-empty", "--json", "-m", "nightly"],
        lists_the_log,
    );
    appender.stop();
    let doc = document(&out);
    assert_eq!(doc["on_change"], "warn");
    assert_eq!(doc["changed_while_read"][0]["action"], "stored");
}

#[test]
fn a_bad_mode_is_refused() {
    let env = Env::new();
    env.init();
    write(&env.work().join("f"), "f\n");
    let out = env.cow(["commit", "--on-change=sometimes", "-m", "x"]);
    assert_failure(&out, 2, "sometimes");
    let out = env.cow(["config", "commit.onChange", "sometimes"]);
    assert_error(&out, "one of fail, skip, warn");
    // A value written by hand is refused when a commit reads it.
    let config = env.work().join(".cow/config");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str("[commit]\n\tonChange = sometimes\n");
    fs::write(&config, text).unwrap();
    let out = env.cow(["commit", "-m", "x"]);
    assert_error(
        &out,
        "commit.onChange: 'sometimes' is not one of fail, skip, warn",
    );
    assert!(env.cow(["rev-parse", "HEAD"]).stdout.is_empty());
}

#[test]
fn without_a_change_nothing_is_reported() {
    let env = Env::new();
    repo_with_a_log(&env);
    write(&env.work().join("new"), "new\n");
    let out = env.cow(["commit", "--on-change=warn", "--json", "-m", "calm"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(out.stderr.is_empty(), "{}", describe(&out));
    let doc = document(&out);
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["changed_while_read"], serde_json::json!([]));
}

#[test]
fn a_file_that_vanishes_while_read_is_skipped_in_the_backup_modes() {
    let env = Env::new();
    let work = env.work();
    env.init();
    write(&work.join("keep"), "keep\n");
    env.commit("base");
    // Another thread creates and deletes `flicker` over and over: a commit that
    // lists it may find it gone when it reads it.
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let path = work.join("flicker");
    let thread = std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            fs::write(&path, b"here for a moment\n").unwrap();
            let _ = fs::remove_file(&path);
        }
    });
    // A round may also find it replaced by a new file (reason "changed"), or miss it.
    let vanished =
        serde_json::json!([{"path": "flicker", "action": "skipped", "reason": "vanished"}]);
    let met = (0..ROUNDS * 4).any(|_| {
        let out = env.cow([
            "commit",
            "--on-change=skip",
            "--allow-empty",
            "--json",
            "-m",
            "n",
        ]);
        let doc = document(&out);
        match out.status.code() {
            Some(0) => assert_eq!(doc["complete"], true, "{}", describe(&out)),
            Some(3) => {
                assert_eq!(doc["changed_while_read"][0]["path"], "flicker");
                assert_eq!(doc["changed_while_read"][0]["action"], "skipped");
            }
            _ => panic!("{}", describe(&out)),
        }
        let met = doc["changed_while_read"] == vanished;
        if met {
            assert_eq!(
                env.cow_ok(["ls-tree", "-r", "--name-only", "HEAD"]),
                "keep\n"
            );
        }
        met
    });
    stop.store(true, Ordering::Relaxed);
    thread.join().unwrap();
    assert!(met, "no commit found the file gone");
}

#[test]
fn unreadable_files_are_skipped_in_the_backup_modes() {
    let env = Env::new();
    let w = env.work();
    write(&w.join("ok.txt"), "ok\n");
    env.init();
    env.commit("one");
    write(&w.join("ok.txt"), "changed\n");
    write(&w.join("secret.txt"), "secret\n");
    fs::set_permissions(
        w.join("secret.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o000),
    )
    .unwrap();
    // The default mode fails (as without --skip-unreadable).
    let out = env.cow_as_nobody(&["commit", "-m", "two"]);
    assert_error(&out, "Permission denied");
    let out = env.cow_as_nobody(&["commit", "--on-change=skip", "--json", "-m", "two"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    let doc = document(&out);
    assert_eq!(
        doc["unreadable"],
        serde_json::json!([{"path": "secret.txt"}])
    );
    assert_eq!(doc["changed_while_read"], serde_json::json!([]));
    assert_eq!(doc["complete"], false);
    assert_eq!(
        env.cow_ok(["ls-tree", "-r", "--name-only", "HEAD"]),
        "ok.txt\n"
    );
    // `--skip-unreadable` alone stays as it was: a warning, exit 0.
    write(&w.join("ok.txt"), "changed again\n");
    let out = env.cow_as_nobody(&["commit", "--skip-unreadable", "-m", "three"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[test]
fn a_snapshot_that_left_a_new_file_out_is_made_even_if_its_tree_is_heads() {
    let env = Env::new();
    let work = env.work();
    env.init();
    write(&work.join("other"), "other\n");
    env.commit("base");
    let base_tree = env.cow_ok(["rev-parse", "HEAD^{tree}"]);
    // A new log, which HEAD does not have: left out, the tree is HEAD's.
    fs::rename(log_in(&env.tmp.path().join("elsewhere")), work.join("log")).unwrap();
    let appender = Appender::start(&work.join("log"));
    let mut raced = None;
    for _ in 0..ROUNDS {
        let head = env.cow_ok(["rev-parse", "HEAD"]);
        // No --allow-empty: the point is that none is needed.
        let out = env.cow(["commit", "--on-change=skip", "--json", "-m", "nightly"]);
        if out.status.code() == Some(3) {
            raced = Some((out, head));
            break;
        }
        // The log was read whole: drop that commit, keep the files, and go again.
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        env.cow_ok(["reset", "--soft", "HEAD~1"]);
    }
    appender.stop();
    let (out, head) = raced.expect("no commit met the appender");
    let doc = document(&out);
    assert_eq!(doc["committed"], true);
    assert_eq!(doc["parent"], head.trim());
    assert_eq!(doc["tree"], base_tree.trim());
    assert_eq!(doc["changed"], 0);
    assert_eq!(
        doc["changed_while_read"],
        serde_json::json!([{"path": "log", "action": "skipped", "reason": "changed"}])
    );
    assert_eq!(env.cow_ok(["rev-parse", "HEAD"]).trim(), doc["id"]);
}
