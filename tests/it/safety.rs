//! Changes are never missed and nothing is lost: a subdirectory on a filesystem with
//! coarse timestamps, temporaries an interrupted checkout left in the working
//! directory, and a huge ignored file in the way of a checkout.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

/// An ext4 filesystem made with 128-byte inodes (whole-second timestamps), loop-mounted
/// at a directory; unmounted on drop.
struct CoarseMount {
    at: PathBuf,
}

impl CoarseMount {
    /// Mounts one at `at`; `None` (with a note) where this process may not mount,
    /// unless `COW_REQUIRE_MOUNT=1` asks for failure instead.
    fn new(image: &Path, at: &Path) -> Option<CoarseMount> {
        let run = |cmd: &mut Command| cmd.output().is_ok_and(|o| o.status.success());
        fs::create_dir_all(at).unwrap();
        let mounted = run(Command::new("truncate").args(["-s", "16M"]).arg(image))
            && run(Command::new("mkfs.ext4")
                .args(["-q", "-F", "-I", "128"])
                .arg(image))
            && run(Command::new("mount")
                .args(["-o", "loop"])
                .arg(image)
                .arg(at));
        if !mounted {
            assert!(
                std::env::var_os("COW_REQUIRE_MOUNT").is_none_or(|v| v != "1"),
                "could not loop-mount an ext4 image (COW_REQUIRE_MOUNT=1)"
            );
            eprintln!("NOTE: skipped: this process cannot loop-mount a filesystem");
            return None;
        }
        Some(CoarseMount { at: at.to_owned() })
    }
}

impl Drop for CoarseMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.at).status();
    }
}

/// Sets a file's modification time back to `mtime` (seconds, nanoseconds).
fn set_mtime(path: &Path, mtime: (i64, i64)) {
    let file = fs::File::options().write(true).open(path).unwrap();
    let times = [
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        libc::timespec {
            tv_sec: mtime.0,
            tv_nsec: mtime.1,
        },
    ];
    use std::os::fd::AsRawFd;
    // SAFETY: a valid descriptor and two valid timespecs.
    assert_eq!(
        unsafe { libc::futimens(file.as_raw_fd(), times.as_ptr()) },
        0
    );
}

fn mtime_of(path: &Path) -> (i64, i64) {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).unwrap();
    (meta.mtime(), meta.mtime_nsec())
}

#[test]
fn same_second_edits_on_a_coarse_filesystem_inside_the_tree_are_seen() -> Result {
    let env = Env::new();
    let work = env.work();
    let Some(_mount) = CoarseMount::new(&env.tmp.path().join("ext4.img"), &work.join("sub")) else {
        return Ok(());
    };
    env.init();
    let file = work.join("sub/f");
    write(&file, "first\n");
    let written = mtime_of(&file);
    assert_eq!(written.1, 0, "the mount keeps whole seconds");
    env.cow_ok(["commit", "-m", "first"]);
    env.cow_ok(["branch", "first"]);
    write(&file, "other\n");
    env.cow_ok(["commit", "-m", "other"]);
    let written = mtime_of(&file);

    // An edit in the same second as the write keeps size, inode and (whole-second)
    // mtime: what a same-second edit there looks like, made certain here by setting
    // the mtime back.
    write(&file, "edit!\n");
    set_mtime(&file, written);
    assert_eq!(env.cow_ok(["status", "--porcelain"]), " M sub/f\n");
    let out = env.cow(["checkout", "first"]);
    assert_error(&out, "sub/f (modified)");
    assert_eq!(fs::read(&file)?, b"edit!\n");
    env.cow_ok(["commit", "-m", "edit"]);
    assert_eq!(env.cow_ok(["show", "HEAD:sub/f"]), "edit!\n");

    // A checkout writes the file there too: an edit right after it is seen.
    env.cow_ok(["checkout", "first"]);
    let written = mtime_of(&file);
    write(&file, "third\n");
    set_mtime(&file, written);
    assert_eq!(env.cow_ok(["status", "--porcelain"]), " M sub/f\n");
    Ok(())
}

#[test]
fn temporaries_an_old_checkout_left_are_never_snapshot_and_are_removed() -> Result {
    let env = Env::new();
    let work = env.work();
    env.init();
    write(&work.join("a"), "a\n");
    write(&work.join("d/.cow-tmp-4242-7-f"), "half a file\n");
    write(&work.join(".cow-tmp-1-0-a"), "half a file\n");
    // Names that only look alike are the user's.
    write(&work.join(".cow-tmp-notes"), "mine\n");
    write(&work.join("d/.cow-tmp-x-1-f"), "mine\n");
    env.cow_ok(["commit", "-m", "one"]);
    assert_eq!(
        env.cow_ok(["ls-tree", "-r", "--name-only", "HEAD"]),
        ".cow-tmp-notes\na\nd/.cow-tmp-x-1-f\n"
    );
    assert!(!work.join("d/.cow-tmp-4242-7-f").exists());
    assert!(!work.join(".cow-tmp-1-0-a").exists());
    assert!(work.join(".cow-tmp-notes").exists());
    Ok(())
}

#[test]
fn a_huge_ignored_file_in_the_way_is_hashed_as_a_stream() -> Result {
    let env = Env::new();
    let work = env.work();
    env.init();
    write(&work.join("keep"), "keep\n");
    env.cow_ok(["commit", "-m", "without big"]);
    env.cow_ok(["branch", "without"]);
    write(&work.join("big"), "tracked on the other branch\n");
    env.cow_ok(["commit", "-m", "with big"]);
    env.cow_ok(["checkout", "without"]);
    // Back on a branch without it, an ignored 1.5 GiB file (sparse) is where the other
    // branch puts `big`: checking that out must look at it, under a 1 GiB address
    // space limit that reading it whole would break.
    write(&work.join(".cowignore"), "big\n");
    let big = fs::File::create(work.join("big"))?;
    big.set_len(3 << 29)?;
    drop(big);
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" checkout main")
        .arg(env!("CARGO_BIN_EXE_cow"))
        .current_dir(&work)
        .output()?;
    assert_error(&out, "big (ignored)");
    assert_eq!(fs::metadata(work.join("big"))?.len(), 3 << 29);
    Ok(())
}

/// What a killed `init` left is removed one entry at a time, never recursively: data
/// another user moved into it (here into its `objects`) survives, and so does the
/// directory that holds it; an empty leftover of `init`'s layout goes.
#[test]
fn an_init_leftover_holding_more_than_init_made_keeps_it() -> Result {
    let env = Env::new();
    let work = env.work();
    env.init();
    write(&work.join("a"), "a\n");
    let kept = work.join(".cow-init-Ab12Cd");
    write(&kept.join("objects/precious/data"), "not init's\n");
    write(&kept.join("HEAD"), "ref: refs/heads/main\n");
    let gone = work.join(".cow-init-Ef34Gh");
    fs::create_dir_all(gone.join("objects"))?;
    fs::create_dir_all(gone.join("refs/heads"))?;
    fs::create_dir_all(gone.join("refs/tags"))?;
    write(&gone.join("config"), "");
    env.cow_ok(["commit", "-m", "one"]);
    assert_eq!(
        fs::read_to_string(kept.join("objects/precious/data"))?,
        "not init's\n"
    );
    assert!(
        fs::symlink_metadata(&gone).is_err(),
        "the empty leftover stays"
    );
    Ok(())
}
