//! The roots of reachability and ref edits at their edges: what gc must keep, what fsck
//! must still check, and what a refused ref change must leave alone. Found by a review
//! of the change that made roots, reach and ref transactions shared; each test states
//! the behaviour before it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cow::{Kind, Repository};

use crate::util::*;

/// Runs `cmd`, killing it (by its own pid) if it has not finished after `limit`.
fn output_within(mut cmd: Command, limit: Duration) -> Option<Output> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A ref that names an annotated tag object keeps the tag's target alive. Before the
/// change gc refused (it read every tip as a commit); now `reach::reachable` lists a
/// tag tip as a leaf and gc deletes the commit the tag points at.
#[test]
fn gc_keeps_the_commit_an_annotated_tag_ref_points_at() -> Result {
    let env = Env::new();
    write(&env.work().join("f"), "base\n");
    env.init();
    env.commit("base");
    env.cow_ok(["checkout", "-b", "side"]);
    write(&env.work().join("g"), "only on side\n");
    let side = env.commit("side");
    env.cow_ok(["checkout", "main"]);
    {
        let repo = Repository::open(env.work())?;
        let tag = format!(
            "object {side}\ntype commit\ntag v1\ntagger A U Thor <a@example.com> 0 +0000\n\nv1\n"
        );
        let written = repo.odb().write(Kind::Tag, tag.as_bytes())?;
        repo.odb().sync()?;
        fs::write(
            env.work().join(".cow/refs/tags/v1"),
            format!("{}\n", written.id),
        )?;
    }
    env.cow_ok(["branch", "-D", "side"]);
    let gc = env.cow(["gc", "--prune=now"]);
    // Refusing (as before) is acceptable; deleting what the tag reaches is not.
    if gc.status.success() {
        env.cow_ok(["cat-file", "-e", &side]);
        env.cow_ok(["cat-file", "-e", &format!("{side}:g")]);
    }
    Ok(())
}

/// A FIFO under `refs/` is an error, not a hang. Before the change gc and fsck read
/// only `refs/heads/` and `refs/tags/`; now they read every file under `refs/`, and
/// reading a ref opens it without O_NONBLOCK, so a FIFO at `refs/remotes/x` blocks
/// `gc` (and fsck, `branch`) for ever.
#[test]
fn a_fifo_under_refs_is_refused_not_waited_on() -> Result {
    let env = Env::new();
    write(&env.work().join("f"), "base\n");
    env.init();
    env.commit("base");
    fs::create_dir_all(env.work().join(".cow/refs/remotes"))?;
    let fifo = env.work().join(".cow/refs/remotes/x");
    let made = Command::new("mkfifo").arg(&fifo).status()?;
    assert!(made.success());
    for args in [&["gc", "--dry-run"][..], &["fsck"], &["gc", "--prune=now"]] {
        let mut cmd = env.cow_cmd(&env.work());
        cmd.args(args);
        let out = output_within(cmd, Duration::from_secs(20))
            .unwrap_or_else(|| panic!("cow {args:?} hung on a FIFO under refs/"));
        assert!(!out.status.success(), "{args:?}: {}", describe(&out));
    }
    Ok(())
}

/// fsck reports an unreadable directory under `refs/` and still checks every ref it
/// can read (and HEAD). Before, a walk error was skipped and the other refs checked;
/// now `Repository::roots` fails as a whole, fsck reports one "refs/" problem and
/// checks no ref at all, so a missing blob on main goes unreported.
#[test]
fn fsck_checks_the_readable_refs_when_a_refs_directory_is_unreadable() -> Result {
    let env = Env::new();
    write(&env.work().join("f"), "base\n");
    env.init();
    env.commit("base");
    let blob = env.cow_ok(["rev-parse", "HEAD:f"]).trim().to_owned();
    fs::remove_file(object_path(&env.work(), &blob))?;
    let secret = env.work().join(".cow/refs/tags/secret");
    fs::create_dir_all(&secret)?;
    fs::write(secret.join("t"), format!("{}\n", "0".repeat(64)))?;
    // cow_as_nobody chowns the tree first; the mode must be set after that, so set it
    // through a no-op run first.
    let _ = env.cow_as_nobody(&["rev-parse", "HEAD"]);
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000))?;
    let out = env.cow_as_nobody(&["fsck", "--connectivity-only"]);
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o755))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        stdout.contains(&blob),
        "the missing blob on main is not reported: {}",
        describe(&out)
    );
    Ok(())
}

/// The module docs of `reach` promise that "an excluded object missing from the store
/// excludes only itself". A missing excluded *tip* is dropped instead of excluded, so
/// an included commit whose parent is that tip makes the walk read the parent and
/// fail (a push to a remote whose tip this store never had, from a shallow history).
#[test]
fn a_missing_excluded_tip_is_excluded_not_read() -> Result {
    let env = Env::new();
    write(&env.work().join("f"), "one\n");
    env.init();
    let first = env.commit("one");
    let repo = Repository::open(env.work())?;
    let tree = repo.odb().find_commit(&first.parse()?)?.tree;
    // A commit whose parent this store does not have.
    let absent = cow::ObjectId::hash(Kind::Commit, b"not in this store");
    let text = format!(
        "tree {tree}\nparent {absent}\nauthor A <a@e> 0 +0000\ncommitter A <a@e> 0 +0000\n\nchild\n"
    );
    let child = repo.odb().write(Kind::Commit, text.as_bytes())?.id;
    let reached = cow::reach::reachable(repo.odb(), &[child], &[absent])?;
    assert!(reached.iter().any(|r| r.id == child));
    assert!(!reached.iter().any(|r| r.id == absent));
    Ok(())
}

/// fsck's output for a detached HEAD and for a broken HEAD reads as before: HEAD is
/// checked first (a problem on a commit HEAD and a branch share is reported "from
/// HEAD"), and a HEAD problem comes before the refs' problems. The change moved HEAD
/// after every ref under refs/.
#[test]
fn fsck_reports_head_first_as_before() -> Result {
    let env = Env::new();
    write(&env.work().join("f"), "one\n");
    env.init();
    let first = env.commit("one");
    env.cow_ok(["checkout", &first]);
    let blob = env.cow_ok(["rev-parse", "HEAD:f"]).trim().to_owned();
    fs::remove_file(object_path(&env.work(), &blob))?;
    let out = env.cow(["fsck", "--connectivity-only"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("in commit {} from HEAD)", &first[..12])),
        "{}",
        describe(&out)
    );
    fs::write(env.work().join(".cow/HEAD"), "garbage\n")?;
    fs::write(env.work().join(".cow/refs/heads/zz"), "junk\n")?;
    let out = env.cow(["fsck", "--connectivity-only"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("error: ref HEAD is malformed"),
        "{}",
        describe(&out)
    );
    Ok(())
}

/// (Before the change too.) `checkout -b a/b START` with a branch `a` moves the working
/// directory to START and only then fails to create the branch, so the refused command
/// leaves the working directory on another snapshot than HEAD. The ref transaction
/// could be prepared (names checked, locks taken) before the working directory moves.
#[test]
fn a_refused_checkout_b_leaves_the_working_directory_alone() -> Result {
    let env = Env::new();
    write(&env.work().join("f"), "base\n");
    env.init();
    env.commit("base");
    env.cow_ok(["branch", "a"]);
    write(&env.work().join("f"), "two\n");
    env.commit("two");
    assert_error(
        &env.cow(["checkout", "-b", "a/b", "HEAD~1"]),
        "refs/heads/a exists",
    );
    assert_eq!(fs::read_to_string(env.work().join("f"))?, "two\n");
    assert_eq!(env.cow_ok(["status", "--porcelain"]), "");
    Ok(())
}

/// (Before the change too.) `.cow/refs` made a dangling symbolic link (say, to a
/// filesystem that is not mounted) reads as "no refs at all": gc then prunes the whole
/// history and fsck finds no problem. Every ref is unreadable, so gc should refuse.
#[test]
fn gc_refuses_when_the_refs_directory_is_a_dangling_link() -> Result {
    let env = Env::new();
    write(&env.work().join("f"), "one\n");
    env.init();
    let first = env.commit("one");
    let refs = env.work().join(".cow/refs");
    fs::rename(&refs, env.tmp.path().join("refs-elsewhere"))?;
    std::os::unix::fs::symlink(env.tmp.path().join("not-mounted/refs"), &refs)?;
    let gc = env.cow(["gc", "--prune=now"]);
    assert!(!gc.status.success(), "{}", describe(&gc));
    env.cow_ok(["cat-file", "-e", &first]);
    Ok(())
}
