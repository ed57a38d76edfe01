//! The symlink-swap race: while root runs cow in a working directory that another user
//! can write, that user swaps a directory of the tree and a symlink to a directory
//! outside it, over and over (`renameat2(RENAME_EXCHANGE)`). Nothing outside may be
//! read into a snapshot, and nothing outside may be written, deleted or created.
//!
//! The swapper is this test binary itself, re-run as `nobody` (with `setpriv`, when the
//! tests run as root) with only [`swapper`] selected. Each test counts how often a
//! command met the swap (a commit that found a file changed while it was read, a
//! checkout that refused a path), so it cannot pass without the race happening.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

const CANARY: &[u8] = b"CANARY: a root-only file outside the working directory\n";

/// The swapper: exchanges `COW_SWAP_A` and `COW_SWAP_B` until `COW_SWAP_STOP` exists,
/// then writes how many swaps it made to `COW_SWAP_COUNT`. Does nothing unless run by
/// [`Swapper::start`].
#[test]
#[ignore = "run by the race tests as another user"]
fn swapper() {
    let (Some(a), Some(b), Some(stop), Some(count)) = (
        std::env::var_os("COW_SWAP_A"),
        std::env::var_os("COW_SWAP_B"),
        std::env::var_os("COW_SWAP_STOP"),
        std::env::var_os("COW_SWAP_COUNT"),
    ) else {
        return;
    };
    let (a, b, stop) = (PathBuf::from(a), PathBuf::from(b), PathBuf::from(stop));
    let mut swaps = 0u64;
    while !stop.exists() {
        for _ in 0..64 {
            let swapped = rustix::fs::renameat_with(
                rustix::fs::CWD,
                &a,
                rustix::fs::CWD,
                &b,
                rustix::fs::RenameFlags::EXCHANGE,
            );
            if swapped.is_ok() {
                swaps += 1;
            }
        }
    }
    fs::write(count, swaps.to_string()).unwrap();
}

/// A running [`swapper`]; killed when dropped unstopped (a round that panicked).
struct Swapper {
    child: Child,
    stop: PathBuf,
    count: PathBuf,
}

impl Drop for Swapper {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Swapper {
    /// Starts swapping `a` and `b` (paths in a directory `nobody` can write), as
    /// `nobody` when the tests run as root.
    fn start(scratch: &Path, a: &Path, b: &Path) -> Swapper {
        fs::set_permissions(scratch, fs::Permissions::from_mode(0o755)).unwrap();
        let own = scratch.join("swapper");
        fs::create_dir(&own).unwrap();
        give_to_nobody(&own);
        let stop = own.join("stop");
        let count = own.join("count");
        let exe = std::env::current_exe().unwrap();
        let mut cmd = if is_root() {
            let mut cmd = Command::new("setpriv");
            cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(exe);
            cmd
        } else {
            Command::new(exe)
        };
        let child = cmd
            .args(["--exact", "race::swapper", "--ignored", "--test-threads=1"])
            .env("COW_SWAP_A", a)
            .env("COW_SWAP_B", b)
            .env("COW_SWAP_STOP", &stop)
            .env("COW_SWAP_COUNT", &count)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the swapper");
        Swapper { child, stop, count }
    }

    /// Stops it; returns how many swaps it made.
    fn stop(&mut self) -> u64 {
        fs::write(&self.stop, b"").unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the swapper failed: {status}");
        fs::read_to_string(&self.count)
            .expect("the swapper's count")
            .trim()
            .parse()
            .unwrap()
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Gives `dir` (and what is in it) to `nobody`, so the swapper can rename its entries.
fn give_to_nobody(dir: &Path) {
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success());
    }
}

/// A directory outside the working directory that only root can read, holding
/// `count` files with [`CANARY`] content; its manifest.
fn canary(env: &Env, count: usize) -> (PathBuf, std::collections::BTreeMap<Vec<u8>, Item>) {
    let canary = env.tmp.path().join("canary");
    fs::create_dir(&canary).unwrap();
    for i in 0..count {
        write(&canary.join(format!("f{i:02}")), CANARY);
    }
    fs::create_dir(canary.join("sub")).unwrap();
    write(&canary.join("sub/deep"), CANARY);
    fs::set_permissions(&canary, fs::Permissions::from_mode(0o700)).unwrap();
    let manifest = manifest(&canary);
    (canary, manifest)
}

/// A repository whose working directory holds `d/f00`…`d/f03` (as `commit` leaves them,
/// when it is set) and a symlink `l` to a canary directory whose files have the same
/// names; the working directory given to `nobody` (but not `.cow`), and a swapper of
/// `d` and `l` started.
fn swapping_d_and_a_link_to_the_canary(env: &Env, commit: Option<&str>) -> Swapper {
    let work = env.work();
    env.init();
    let (canary, _) = canary(env, 4);
    fs::create_dir(work.join("d")).unwrap();
    for i in 0..4 {
        write(&work.join(format!("d/f{i:02}")), format!("public {i}\n"));
    }
    if let Some(message) = commit {
        env.cow_ok(["commit", "-m", message]);
        // Changed and not stored: diff reads them from the working directory.
        for i in 0..4 {
            write(&work.join(format!("d/f{i:02}")), format!("changed {i}\n"));
        }
    }
    symlink(&canary, work.join("l")).unwrap();
    // The swapper must be able to rename entries of the working directory, not `.cow`.
    give_to_nobody(&work);
    Command::new("chown")
        .args(["-R", "0:0"])
        .arg(work.join(".cow"))
        .status()
        .ok();
    Swapper::start(env.tmp.path(), &work.join("d"), &work.join("l"))
}

#[test]
fn a_commit_never_reads_a_file_through_a_swapped_directory() -> Result {
    let env = Env::new();
    let work = env.work();
    let cow_dir = work.join(".cow");
    let swapper = swapping_d_and_a_link_to_the_canary(&env, None);
    race(swapper, |_| {
        // Without the caches every file is read again each time.
        let _ = fs::remove_file(cow_dir.join("index"));
        let _ = fs::remove_file(cow_dir.join("dircache"));
        env.cow(["commit", "--allow-empty", "-m", "race"])
    });

    let repo = cow::Repository::open(&work)?;
    for id in repo.odb().all_ids()? {
        let object = repo.odb().read(&id)?;
        assert!(
            !object.data.windows(CANARY.len()).any(|w| w == CANARY),
            "object {id} holds a file from outside the working directory"
        );
    }
    Ok(())
}

#[test]
fn a_diff_never_reads_a_file_through_a_swapped_directory() -> Result {
    let env = Env::new();
    let swapper = swapping_d_and_a_link_to_the_canary(&env, Some("base"));
    race(swapper, |_| {
        let out = env.cow(["diff"]);
        assert!(
            !out.stdout.windows(CANARY.len()).any(|w| w == CANARY),
            "diff printed a file from outside the working directory"
        );
        out
    });
    Ok(())
}

/// The messages a command that met the swap may fail with: it refused a path that is
/// no longer a plain directory, found a file changed while reading it, or found a
/// directory it had planned to write in gone (moved away by the swap).
fn met_the_swap(out: &std::process::Output) -> bool {
    let err = String::from_utf8_lossy(&out.stderr);
    err.contains("it is not a plain path inside the working directory")
        || err.contains("changed while it was being read")
        || (err.contains("could not open directory") && err.contains("No such file or directory"))
}

/// Runs `round(n)` (a cow command) [`ROUNDS`] times, and on until one met the swap
/// (for at most a minute); every failure must be one of [`met_the_swap`]'s.
fn race(mut swapper: Swapper, mut round: impl FnMut(usize) -> std::process::Output) {
    let started = Instant::now();
    let (mut ok, mut met, mut n) = (0, 0, 0);
    while (n < ROUNDS || met == 0) && started.elapsed() < Duration::from_secs(60) {
        let out = round(n);
        n += 1;
        if out.status.success() {
            ok += 1;
        } else {
            assert!(met_the_swap(&out), "unexpected failure: {}", describe(&out));
            met += 1;
        }
    }
    let swaps = swapper.stop();
    assert!(swaps > 0, "the swapper never swapped");
    assert!(
        met > 0,
        "no command met the swap ({ok} succeeded, {swaps} swaps)"
    );
}

/// Commands each race test runs at least. On the code before descriptors were used,
/// two runs of the three tests read or wrote outside in four of six tests (each test
/// at least once).
const ROUNDS: usize = 150;

/// A working directory with branches `a` and `b` that differ in every file of `d/`
/// (and `b` lacks `d/sub`, so checking it out removes a directory), a symlink `l` to a
/// canary directory outside, given to `nobody`; the canary's path and manifest.
fn two_branches_and_a_canary(env: &Env) -> (PathBuf, std::collections::BTreeMap<Vec<u8>, Item>) {
    let work = env.work();
    env.init();
    fs::create_dir_all(work.join("d/sub")).unwrap();
    for i in 0..20 {
        write(&work.join(format!("d/f{i:02}")), format!("a {i}\n"));
    }
    write(&work.join("d/sub/deep"), "a deep\n");
    env.cow_ok(["commit", "-m", "a"]);
    env.cow_ok(["branch", "a"]);
    for i in 0..20 {
        write(
            &work.join(format!("d/f{i:02}")),
            format!("b {i} and more\n"),
        );
    }
    fs::remove_dir_all(work.join("d/sub")).unwrap();
    write(&work.join("d/only-in-b"), "b\n");
    env.cow_ok(["commit", "-m", "b"]);
    env.cow_ok(["branch", "b"]);
    let (canary, manifest) = canary(env, 20);
    symlink(&canary, work.join("l")).unwrap();
    give_to_nobody(&work);
    Command::new("chown")
        .args(["-R", "0:0"])
        .arg(work.join(".cow"))
        .status()
        .ok();
    (canary, manifest)
}

#[test]
fn a_checkout_never_writes_or_removes_through_a_swapped_directory() -> Result {
    let env = Env::new();
    let (canary, before) = two_branches_and_a_canary(&env);
    let work = env.work();
    let swapper = Swapper::start(env.tmp.path(), &work.join("d"), &work.join("l"));
    race(swapper, |n| {
        env.cow(["checkout", "--force", if n % 2 == 0 { "a" } else { "b" }])
    });
    fs::set_permissions(&canary, fs::Permissions::from_mode(0o700))?;
    assert!(manifest(&canary) == before, "the canary directory changed");
    Ok(())
}

#[test]
fn a_restore_never_writes_or_removes_through_a_swapped_directory() -> Result {
    let env = Env::new();
    let (canary, before) = two_branches_and_a_canary(&env);
    let work = env.work();
    let swapper = Swapper::start(env.tmp.path(), &work.join("d"), &work.join("l"));
    race(swapper, |n| {
        let source = if n % 2 == 0 { "a" } else { "b" };
        env.cow(["restore", "--force", "--source", source, "d"])
    });
    assert!(manifest(&canary) == before, "the canary directory changed");
    Ok(())
}
