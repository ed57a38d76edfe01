//! Red-team findings on issue 19's features (forget, a store outside the tree,
//! restore --target, archive, --on-change, stats): each test is one way a hostile
//! user, a crafted repository or a careless script broke them.

use std::fs;

use crate::util::*;

#[test]
fn restore_target_refuses_a_new_directory_inside_the_store() {
    let env = Env::new();
    write(&env.work().join("a"), "hi\n");
    env.init();
    env.commit("one");
    // `.cow/refs/heads/evil` does not exist yet: made there, its files would be refs
    // (`a` holding "hi\n"), and every command listing branches would fail.
    let out = env.cow([
        "restore",
        "--source",
        "HEAD",
        "--target",
        ".cow/refs/heads/evil",
    ]);
    assert_error(&out, "store");
    assert!(!env.work().join(".cow/refs/heads/evil").exists());
    let out = env.cow(["restore", "--target", ".cow/new/../objects/x"]);
    assert_error(&out, "store");
    assert!(!env.work().join(".cow/objects/x").exists());
    assert!(!env.work().join(".cow/new").exists());
    env.cow_ok(["branch"]);
    fs::metadata(env.work().join("a")).unwrap();
}

#[test]
fn archive_refuses_to_write_over_the_store() {
    let env = Env::new();
    write(&env.work().join("a"), "hi\n");
    env.init();
    env.commit("one");
    let config = fs::read(env.work().join(".cow/config")).unwrap();
    // A tar written over the store's config (or HEAD) broke every later command.
    let out = env.cow(["archive", "HEAD", "-o", ".cow/config"]);
    assert_error(&out, "store");
    assert_eq!(fs::read(env.work().join(".cow/config")).unwrap(), config);
    let out = env.cow(["archive", "HEAD", "-o", ".cow/refs/heads/x.tar"]);
    assert_error(&out, "store");
    env.cow_ok(["branch"]);
    write(&env.work().join("b"), "b\n");
    env.commit("two");
}

#[test]
fn archive_file_is_readable_as_the_umask_allows() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    write(&env.work().join("a"), "hi\n");
    env.init();
    env.commit("one");
    let file = env.tmp.path().join("out.tar");
    let mut cmd = env.cow_cmd(&env.work());
    cmd.args(["archive", "HEAD", "-o", file.to_str().unwrap()]);
    // SAFETY: umask is async-signal-safe; it only sets the child's own mask.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::umask(0o022);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    // `git archive -o` and `tar -cf` make 0666 less the umask: 0644 here, not
    // tempfile's 0600 (a backup archive other users or a web server must read).
    let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
}

#[test]
fn restore_target_into_an_ancestor_of_an_outside_store_leaves_the_store_alone() {
    let env = Env::new();
    let top = env.tmp.path().join("top");
    let work = top.join("w");
    let out = env
        .cow_cmd(env.tmp.path())
        .args(["init", "--store"])
        .arg(top.join("store"))
        .arg(&work)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    // A snapshot that happens to hold `store/HEAD`, restored with --force into the
    // directory that holds the store: it overwrote the store's HEAD.
    write(&work.join("store/HEAD"), "junk\n");
    let out = env
        .cow_cmd(&work)
        .args(["commit", "-m", "x"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let head = fs::read(top.join("store/HEAD")).unwrap();
    let out = env
        .cow_cmd(&work)
        .args(["restore", "--source", "HEAD", "--force", "--target"])
        .arg(&top)
        .arg("store/HEAD")
        .output()
        .unwrap();
    assert_error(&out, "store");
    assert_eq!(fs::read(top.join("store/HEAD")).unwrap(), head);
    let out = env.cow_cmd(&work).args(["log"]).output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn restore_keeps_content_only_a_forgotten_snapshot_held() {
    let env = Env::new();
    let w = env.work();
    env.init();
    for (n, v) in ["v1", "v2", "v3"].iter().enumerate() {
        write(&w.join("a"), format!("precious {v}\n"));
        let out = env
            .cow_cmd(&w)
            .env("COW_AUTHOR_DATE", format!("2024-01-0{}T12:00:00Z", n + 1))
            .args(["commit", "-m", v])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
    }
    env.cow_ok(["forget", "--keep-last", "1"]);
    // v2's content is still in the store, but no ref reaches it: a gc --prune=now
    // would drop it, so it is unsaved work, and restore must not overwrite it.
    write(&w.join("a"), "precious v2\n");
    let out = env.cow(["restore", "--source", "HEAD", "a"]);
    assert_error(&out, "a (modified)");
    assert_eq!(fs::read_to_string(w.join("a")).unwrap(), "precious v2\n");
    // --force discards it.
    env.cow_ok(["restore", "--force", "a"]);
    assert_eq!(fs::read_to_string(w.join("a")).unwrap(), "precious v3\n");
}
