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

/// A running [`swapper`].
struct Swapper {
    child: Child,
    stop: PathBuf,
    count: PathBuf,
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
    fn stop(mut self) -> u64 {
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

#[test]
fn a_commit_never_reads_a_file_through_a_swapped_directory() -> Result {
    let env = Env::new();
    let work = env.work();
    env.init();
    let (canary, _) = canary(&env, 4);
    fs::create_dir(work.join("d")).unwrap();
    for i in 0..4 {
        write(&work.join(format!("d/f{i:02}")), format!("public {i}\n"));
    }
    symlink(&canary, work.join("l")).unwrap();
    // The swapper must be able to rename entries of the working directory, not `.cow`.
    give_to_nobody(&work);
    let cow_dir = work.join(".cow");
    Command::new("chown")
        .args(["-R", "0:0"])
        .arg(&cow_dir)
        .status()
        .ok();

    let swapper = Swapper::start(env.tmp.path(), &work.join("d"), &work.join("l"));
    let started = Instant::now();
    let (mut commits, mut met_the_swap) = (0, 0);
    while met_the_swap < 5 && started.elapsed() < Duration::from_secs(60) {
        // Without the caches every file is read again each time.
        let _ = fs::remove_file(cow_dir.join("index"));
        let _ = fs::remove_file(cow_dir.join("dircache"));
        let out = env.cow(["commit", "--allow-empty", "-m", "race"]);
        if out.status.success() {
            commits += 1;
        } else {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("changed while it was being read"),
                "unexpected failure: {}",
                describe(&out)
            );
            met_the_swap += 1;
        }
    }
    let swaps = swapper.stop();
    assert!(swaps > 0, "the swapper never swapped");
    assert!(
        met_the_swap > 0,
        "no commit met the swap ({commits} commits, {swaps} swaps)"
    );

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
