//! Hostile repositories: crafted objects written straight into the store (raw zstd of
//! hand-built canonical bytes) must be refused with a clear error, before anything is
//! written, inside or outside the working directory.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use cow::{Kind, ObjectId};

use crate::util::*;

/// Writes an object as a loose file, whatever its content; returns its id (the hash of
/// the bytes as given, so reads find no corruption, only malice).
pub(crate) fn put_raw(work: &Path, kind: &str, content: &[u8]) -> ObjectId {
    let mut bytes = format!("{kind} {}\0", content.len()).into_bytes();
    bytes.extend_from_slice(content);
    put_bytes(work, &bytes)
}

/// Writes the given canonical bytes (header included) under the id they hash to.
fn put_bytes(work: &Path, bytes: &[u8]) -> ObjectId {
    use sha2::Digest;
    let id = ObjectId::from_bytes(sha2::Sha256::digest(bytes).into());
    let hex = id.to_string();
    let dir = work.join(".cow/objects").join(&hex[..2]);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(&hex[2..]), zstd::encode_all(bytes, 3).unwrap()).unwrap();
    id
}

pub(crate) fn entry(mode: &str, name: &[u8], id: &ObjectId) -> Vec<u8> {
    [mode.as_bytes(), b" ", name, b"\0", id.as_bytes()].concat()
}

pub(crate) fn commit_of(work: &Path, tree: &ObjectId) -> ObjectId {
    let content = format!(
        "tree {tree}\nauthor Evil <e@x> 1700000000 +0000\ncommitter Evil <e@x> 1700000000 +0000\n\nevil\n"
    );
    put_raw(work, "commit", content.as_bytes())
}

/// A repository with one honest commit, and a sentinel directory beside it.
fn setup() -> Env {
    let env = Env::new();
    write(&env.work().join("honest.txt"), "honest\n");
    write(&env.tmp.path().join("outside/sentinel"), "untouched\n");
    env.init();
    env.commit("honest");
    env
}

type State = (BTreeMap<Vec<u8>, Item>, BTreeMap<Vec<u8>, Item>, String);

fn state(env: &Env) -> State {
    (
        manifest(&env.work()),
        manifest(&env.tmp.path().join("outside")),
        fs::read_to_string(env.work().join(".cow/HEAD")).unwrap(),
    )
}

/// Points branch `evil` at a commit of `tree` and checks that checking it out fails
/// with `want`, changing nothing.
fn checkout_refused(env: &Env, tree: ObjectId, want: &str) {
    let commit = commit_of(&env.work(), &tree);
    fs::write(
        env.work().join(".cow/refs/heads/evil"),
        format!("{commit}\n"),
    )
    .unwrap();
    let before = state(env);
    for args in [&["checkout", "evil"][..], &["checkout", "--force", "evil"]] {
        let out = env.cow(args);
        assert_error(&out, want);
        assert_eq!(state(env), before, "{args:?} changed something");
    }
}

/// Points branch `evil` at a commit of `tree` and checks that checking it out (and
/// reading it) fails with `want`, changing nothing.
fn refused(env: &Env, tree: ObjectId, want: &str) {
    checkout_refused(env, tree, want);
    // Listing reads trees, not blobs: it may succeed, but never panics.
    let out = env.cow(["ls-tree", "-r", "evil"]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        describe(&out)
    );
    let out = env.cow(["fsck"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "fsck must report it: {}",
        describe(&out)
    );
    fs::remove_file(env.work().join(".cow/refs/heads/evil")).unwrap();
}

#[test]
fn tree_entries_with_forbidden_names_are_refused() {
    let env = setup();
    let w = env.work();
    let blob = put_raw(&w, "blob", b"payload\n");
    let cases: &[(&[u8], &str)] = &[
        (b"..", "'.' and '..' are not allowed"),
        (b".", "'.' and '..' are not allowed"),
        (b".cow", "reserved"),
        (b".COW", "reserved"),
        (b".Cow", "reserved"),
        (b"", "empty name"),
        (b"a/b", "contains '/'"),
        (b"../../outside/sentinel", "contains '/'"),
    ];
    for (name, want) in cases {
        let tree = put_raw(&w, "tree", &entry("100644", name, &blob));
        refused(&env, tree, want);
    }
    // A NUL inside a name ends it early; the rest cannot parse as an entry.
    let mut raw = entry("100644", b"a", &blob);
    raw.splice(1..1, *b"\0b");
    let tree = put_raw(&w, "tree", &raw);
    refused(&env, tree, "is malformed");
    // Hostile names one level down are refused the same way.
    let bad = put_raw(&w, "tree", &entry("100644", b"..", &blob));
    let tree = put_raw(&w, "tree", &entry("40000", b"sub", &bad));
    refused(&env, tree, "not allowed");
}

#[test]
fn duplicate_out_of_order_and_mistyped_entries_are_refused() {
    let env = setup();
    let w = env.work();
    let blob = put_raw(&w, "blob", b"payload\n");
    let sub = put_raw(&w, "tree", &entry("100644", b"x", &blob));
    let dup = [entry("100644", b"a", &blob), entry("100644", b"a", &blob)].concat();
    refused(&env, put_raw(&w, "tree", &dup), "duplicate name");
    let order = [entry("100644", b"b", &blob), entry("100644", b"a", &blob)].concat();
    refused(&env, put_raw(&w, "tree", &order), "out of git's tree order");
    // A symlink `a` to the outside and a directory `a` holding `x`: one name twice.
    let link = put_raw(
        &w,
        "blob",
        env.tmp.path().join("outside").to_str().unwrap().as_bytes(),
    );
    let both = [entry("120000", b"a", &link), entry("40000", b"a", &sub)].concat();
    refused(&env, put_raw(&w, "tree", &both), "duplicate name");
    let both = [
        entry("100644", b"a", &blob),
        entry("100644", b"a.b", &blob),
        entry("40000", b"a", &sub),
    ]
    .concat();
    refused(&env, put_raw(&w, "tree", &both), "duplicate name");
    // A directory entry pointing at a blob, and a file entry pointing at a tree.
    refused(
        &env,
        put_raw(&w, "tree", &entry("40000", b"d", &blob)),
        "is a blob, not a tree",
    );
    refused(
        &env,
        put_raw(&w, "tree", &entry("100644", b"f", &sub)),
        "is a tree, not a blob",
    );
    // Modes git does not write.
    refused(
        &env,
        put_raw(&w, "tree", &entry("100664", b"f", &blob)),
        "unsupported mode",
    );
    refused(
        &env,
        put_raw(&w, "tree", &entry("160000", b"f", &blob)),
        "unsupported mode",
    );
}

#[test]
fn malformed_objects_and_refs_give_clear_errors() {
    let env = setup();
    let w = env.work();
    // Declared size larger than the content, smaller, and absurd.
    for bytes in [
        &b"blob 9\0short"[..],
        b"blob 2\0longer",
        b"blob 10737418240\0x",
    ] {
        let id = put_bytes(&w, bytes);
        let out = env.cow(["cat-file", "-p", &id.to_string()]);
        assert_error(&out, &format!("object {id} is"));
        let tree = put_raw(&w, "tree", &entry("100644", b"f", &id));
        refused(&env, tree, &format!("object {id} is"));
    }
    // A truncated frame.
    let good = ObjectId::hash(Kind::Blob, b"truncated\n");
    let hex = good.to_string();
    let frame = zstd::encode_all(&b"blob 10\0truncated\n"[..], 3).unwrap();
    fs::create_dir_all(w.join(".cow/objects").join(&hex[..2])).unwrap();
    fs::write(
        w.join(".cow/objects").join(&hex[..2]).join(&hex[2..]),
        &frame[..frame.len() - 3],
    )
    .unwrap();
    assert_error(
        &env.cow(["cat-file", "-p", &hex]),
        &format!("object {good} is corrupt"),
    );
    // A bad header.
    let id = put_bytes(&w, b"blob\0no size");
    assert_error(
        &env.cow(["cat-file", "-t", &id.to_string()]),
        "malformed header",
    );
    // Refs to nothing, to a tree, and a cycle of symbolic refs.
    let before = state(&env);
    fs::write(
        w.join(".cow/refs/heads/gone"),
        format!("{}\n", "cd".repeat(32)),
    )
    .unwrap();
    assert_error(&env.cow(["checkout", "gone"]), "not found");
    assert_error(&env.cow(["log", "gone"]), "not found");
    let tree = env.cow_ok(["rev-parse", "HEAD:"]).trim().to_owned();
    fs::write(w.join(".cow/refs/heads/tree"), format!("{tree}\n")).unwrap();
    assert_error(&env.cow(["checkout", "tree"]), "is a tree, not a commit");
    assert_error(&env.cow(["log", "tree"]), "is a tree, not a commit");
    fs::write(w.join(".cow/refs/heads/x"), "ref: refs/heads/y\n").unwrap();
    fs::write(w.join(".cow/refs/heads/y"), "ref: refs/heads/x\n").unwrap();
    fs::write(w.join(".cow/HEAD"), "ref: refs/heads/x\n").unwrap();
    for args in [
        &["status"][..],
        &["log"],
        &["commit", "-m", "x"],
        &["checkout", "main"],
    ] {
        assert_error(&env.cow(args), "does not resolve");
    }
    fs::write(w.join(".cow/HEAD"), before.2.clone()).unwrap();
    assert_eq!(manifest(&w), before.0);
    assert_eq!(manifest(&env.tmp.path().join("outside")), before.1);
}

#[test]
fn a_lock_file_that_is_a_symlink_is_refused_not_written_through() {
    let env = setup();
    let w = env.work();
    let outside = env.tmp.path().join("outside/sentinel");
    fs::remove_file(w.join(".cow/lock")).unwrap();
    std::os::unix::fs::symlink(&outside, w.join(".cow/lock")).unwrap();
    write(&w.join("honest.txt"), "changed\n");
    for args in [&["commit", "-m", "x"][..], &["gc"], &["branch", "b"]] {
        assert_error(&env.cow(args), "/.cow/lock': not a regular file");
        assert_eq!(fs::read_to_string(&outside).unwrap(), "untouched\n");
    }
    // A FIFO there is refused without blocking.
    fs::remove_file(w.join(".cow/lock")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        w.join(".cow/lock"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    assert_error(
        &env.cow(["commit", "-m", "x"]),
        "/.cow/lock': not a regular file",
    );
}

#[test]
fn a_symlink_to_the_outside_is_never_written_through() {
    let env = setup();
    let w = env.work();
    let outside = env.tmp.path().join("outside");
    // Commit 1: `a` is a symlink to the outside directory. Commit 2: `a` is a directory
    // with `sentinel` in it. Moving from 1 to 2 must replace the link, not follow it.
    let link = put_raw(&w, "blob", outside.to_str().unwrap().as_bytes());
    let one = put_raw(&w, "tree", &entry("120000", b"a", &link));
    let payload = put_raw(&w, "blob", b"overwritten!\n");
    let sub = put_raw(&w, "tree", &entry("100644", b"sentinel", &payload));
    let two = put_raw(&w, "tree", &entry("40000", b"a", &sub));
    let c1 = commit_of(&w, &one);
    let c2 = commit_of(&w, &two);
    env.cow_ok(["checkout", "--force", &c1.to_string()]);
    assert!(
        fs::symlink_metadata(w.join("a"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    env.cow_ok(["checkout", &c2.to_string()]);
    assert_eq!(
        fs::read_to_string(outside.join("sentinel")).unwrap(),
        "untouched\n"
    );
    assert!(fs::symlink_metadata(w.join("a")).unwrap().is_dir());
    assert_eq!(
        fs::read_to_string(w.join("a/sentinel")).unwrap(),
        "overwritten!\n"
    );
    // restore through a path under a symlink is refused too.
    env.cow_ok(["checkout", "--force", &c1.to_string()]);
    let out = env.cow(["restore", "--source", &c2.to_string(), "a/sentinel"]);
    assert!(!out.status.success() || fs::symlink_metadata(w.join("a")).unwrap().is_dir());
    assert_eq!(
        fs::read_to_string(outside.join("sentinel")).unwrap(),
        "untouched\n"
    );
}

#[test]
fn what_the_system_cannot_hold_is_refused_before_anything_is_written() {
    let env = setup();
    let work = env.work();
    // `honest.txt` sorts before every bad entry: a checkout that failed only when it
    // reached the bad one would have overwritten it already.
    let changed = put_raw(&work, "blob", b"overwritten\n");
    let honest = entry("100644", b"honest.txt", &changed);
    for (target, want) in [
        (&b""[..], "its symlink target is empty"),
        (b"a\0b", "its symlink target contains a NUL byte"),
        (
            &[b'x'; 4096][..],
            "its symlink target is longer than the system allows",
        ),
    ] {
        let link = put_raw(&work, "blob", target);
        let tree = put_raw(
            &work,
            "tree",
            &[honest.clone(), entry("120000", b"z", &link)].concat(),
        );
        checkout_refused(&env, tree, &format!("cannot check out 'z': {want}"));
    }
    let long_name = [b'n'; 256];
    let tree = put_raw(
        &work,
        "tree",
        &[honest.clone(), entry("100644", &long_name, &changed)].concat(),
    );
    checkout_refused(&env, tree, "a name in it is longer than the system allows");
    // 21 levels of 200-byte names: over PATH_MAX (4096) from the root.
    let mut tree = put_raw(&work, "tree", &entry("100644", b"f", &changed));
    for _ in 0..21 {
        tree = put_raw(&work, "tree", &entry("40000", &[b'd'; 200], &tree));
    }
    let tree = put_raw(
        &work,
        "tree",
        &[honest, entry("40000", &[b'x'; 200], &tree)].concat(),
    );
    checkout_refused(&env, tree, "the path is longer than the system allows");
}
