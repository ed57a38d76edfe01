//! Every error through the binary: one `cow: error:` line, exit 1, nothing changed.

use std::fs;
use std::path::Path;

use crate::util::*;

/// Everything under `.cow` but the stat cache (which any command may refresh), as
/// (path, bytes), to show nothing changed.
pub fn store_state(work: &Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = walkdir::WalkDir::new(work.join(".cow"))
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.file_name() != "index")
        .map(|e| e.unwrap())
        .map(|e| {
            let data = if e.file_type().is_file() {
                fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            (e.path().to_owned(), data)
        })
        .collect();
    out.sort();
    out
}

fn repo_with_commit() -> Env {
    let env = Env::new();
    write(&env.work().join("file.txt"), "precious\n");
    write(&env.work().join("dir/inner.txt"), "inner\n");
    env.init();
    env.commit("first");
    env
}

#[test]
fn not_a_repository() {
    let env = Env::new();
    for args in [
        &["log"][..],
        &["commit", "-m", "x"],
        &["rev-parse", "HEAD"],
        &["ls-tree", "HEAD"],
    ] {
        let out = env.cow(args);
        assert_error(&out, "not a cow repository");
    }
    assert!(!env.work().join(".cow").exists());
}

#[test]
fn second_init_is_refused_and_changes_nothing() {
    let env = repo_with_commit();
    let before = store_state(&env.work());
    assert_error(&env.cow(["init"]), "is already a cow repository");
    assert_eq!(store_state(&env.work()), before);
    // Nothing else was left in the working directory either.
    let names: Vec<_> = fs::read_dir(env.work())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn unknown_and_ambiguous_revisions() {
    let env = repo_with_commit();
    assert_error(
        &env.cow(["rev-parse", "nosuch"]),
        "unknown revision 'nosuch'",
    );
    assert_error(&env.cow(["show", "HEAD~5"]), "history is shorter");
    assert_error(
        &env.cow(["show", "HEAD:missing"]),
        "path 'missing' does not exist",
    );
    assert_error(&env.cow(["log", "HEAD:"]), "is a tree, not a commit");
    // Make an ambiguous four-digit prefix by committing files until two ids share one.
    let mut seen = std::collections::HashMap::new();
    let repo = cow::Repository::open(env.work()).unwrap();
    let prefix = (0u32..)
        .find_map(|i| {
            let id = repo.odb().write_blob(format!("{i}").as_bytes()).unwrap().id;
            seen.insert(id.to_hex_prefix(4), id)
                .map(|_| id.to_hex_prefix(4))
        })
        .unwrap();
    let before = store_state(&env.work());
    let out = env.cow(["rev-parse", &prefix]);
    assert_error(&out, &format!("revision '{prefix}' is ambiguous"));
    assert_eq!(store_state(&env.work()), before);
}

#[test]
fn corrupted_objects_are_named_never_returned() {
    let env = repo_with_commit();
    let id = env.cow_ok(["rev-parse", "HEAD:file.txt"]).trim().to_owned();
    let path = object_path(&env.work(), &id);
    fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();

    // Same length, other bytes: a valid frame whose content hashes elsewhere.
    fs::write(
        &path,
        zstd::encode_all(&b"blob 9\0tampered\n"[..], 3).unwrap(),
    )
    .unwrap();
    let out = env.cow(["show", "HEAD:file.txt"]);
    assert_error(&out, &format!("object {id} is corrupt: content hashes to"));
    assert_error(&env.cow(["cat-file", "-p", &id]), &id);
    assert_error(&env.cow(["cat-file", "-s", &id]), &id);
    assert_eq!(env.cow(["cat-file", "-e", &id]).status.code(), Some(1));

    // A truncated frame.
    let good = zstd::encode_all(&b"blob 9\0precious\n"[..], 3).unwrap();
    fs::write(&path, &good[..good.len() - 4]).unwrap();
    assert_error(
        &env.cow(["cat-file", "-p", &id]),
        &format!("object {id} is corrupt"),
    );

    // Garbage that is not zstd at all.
    fs::write(&path, b"not zstd").unwrap();
    assert_error(
        &env.cow(["cat-file", "-p", &id]),
        &format!("object {id} is corrupt"),
    );

    // A corrupt tree is named too, when log or ls-tree reach it.
    let tree = env.cow_ok(["rev-parse", "HEAD:dir"]).trim().to_owned();
    let tpath = env
        .work()
        .join(".cow/objects")
        .join(&tree[..2])
        .join(&tree[2..]);
    fs::set_permissions(&tpath, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    fs::write(&tpath, b"").unwrap();
    assert_error(
        &env.cow(["ls-tree", "-r", "HEAD"]),
        &format!("object {tree} is corrupt"),
    );
}

#[test]
fn nothing_to_commit_unless_allowed() {
    let env = repo_with_commit();
    let before = store_state(&env.work());
    assert_error(&env.cow(["commit", "-m", "again"]), "nothing to commit");
    assert_eq!(store_state(&env.work()), before);
    let head = env.cow_ok(["rev-parse", "HEAD"]);
    env.cow_ok(["commit", "--allow-empty", "-m", "again"]);
    assert_eq!(env.cow_ok(["rev-parse", "HEAD~1"]), head);
    assert_eq!(
        env.cow_ok(["rev-parse", "HEAD:"]),
        env.cow_ok(["rev-parse", "HEAD~1:"])
    );

    // An empty working directory on a new branch has nothing to commit either.
    let empty = Env::new();
    empty.init();
    assert_error(&empty.cow(["commit", "-m", "x"]), "nothing to commit");
    assert_error(&empty.cow(["log"]), "'main' has no commits yet");
}

#[test]
fn identity_is_required_and_explained() {
    let env = Env::new();
    write(&env.work().join("f"), "x");
    env.init();
    let before = store_state(&env.work());
    let out = env
        .cow_cmd(&env.work())
        .env_remove("COW_AUTHOR_NAME")
        .env_remove("COW_AUTHOR_EMAIL")
        .args(["commit", "-m", "x"])
        .output()
        .unwrap();
    // The line reads exactly as before the hint moved from the library to the binary.
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "cow: error: no author identity: set COW_AUTHOR_NAME and COW_AUTHOR_EMAIL, or run \
         `cow config --global user.name NAME` and `cow config --global user.email EMAIL`\n"
    );
    assert_eq!(store_state(&env.work()), before);

    let out = env
        .cow_cmd(&env.work())
        .env("COW_AUTHOR_DATE", "yesterday")
        .args(["commit", "-m", "x"])
        .output()
        .unwrap();
    assert_error(&out, "COW_AUTHOR_DATE is invalid");
    assert_eq!(store_state(&env.work()), before);

    let out = env
        .cow_cmd(&env.work())
        .env("COW_AUTHOR_NAME", "Evil <x>")
        .args(["commit", "-m", "x"])
        .output()
        .unwrap();
    assert_error(&out, "invalid identity");
}

#[test]
fn unreadable_files_fail_clearly_and_commit_nothing() {
    let env = repo_with_commit();
    let secret = env.work().join("dir/secret.txt");
    write(&secret, "for my eyes only\n");
    fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let head = env.cow_ok(["rev-parse", "HEAD"]);
    let objects = count_objects(&env.work());

    let out = env.cow_as_nobody(&["commit", "-m", "with secret"]);
    assert_error(&out, "could not open");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("dir/secret.txt"),
        "{}",
        describe(&out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"));
    assert_eq!(env.cow_ok(["rev-parse", "HEAD"]), head);
    // Objects of readable files may have been stored, but nothing half-written remains.
    let leftovers: Vec<_> = fs::read_dir(env.work().join(".cow/objects"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(count_objects(&env.work()) >= objects);
}

#[test]
fn usage_errors_are_one_line_and_exit_2() {
    let env = Env::new();
    for (args, want) in [
        (
            &["commit", "-m"][..],
            "a value is required for '--message <MSG>'",
        ),
        (
            &["no-such-command"],
            "unrecognized subcommand 'no-such-command'",
        ),
        (
            &["checkout", "--bogus", "x"],
            "unexpected argument '--bogus' found",
        ),
        (
            &["log", "-n", "many"],
            "invalid value 'many' for '--max-count <N>'",
        ),
    ] {
        let out = env.cow(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        assert!(
            stderr.starts_with("cow: error: ") && stderr.lines().count() == 1,
            "{}",
            describe(&out)
        );
        assert!(stderr.contains(want), "{}", describe(&out));
        assert!(out.stdout.is_empty());
    }
    // Help is not an error.
    let out = env.cow(["commit", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: cow commit"));
}
