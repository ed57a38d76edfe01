//! Input a user or a hostile repository can give, through the binary: revisions,
//! ages, dates, config values, ref names and directories, paths that are not UTF-8,
//! and io errors. Each is refused with one clear error (never a panic) or handled.

use std::fs;

use cow::object::{Commit, Signature, Time};
use cow::refs::Expected;

use crate::util::*;

fn repo_with_commit() -> Env {
    let env = Env::new();
    env.init();
    write(&env.work().join("f"), "x\n");
    env.commit("one");
    env
}

#[test]
fn revisions_with_multibyte_characters_are_refused_not_a_panic() -> Result {
    let env = repo_with_commit();
    write(&env.work().join("f"), "y\n");
    env.commit("two");
    for spec in ["HEAD^{tree}é", "HEAD~1é", "HEAD^é", "HEAD^{é}", "HEAD^0é~"] {
        let out = env.cow(["rev-parse", spec]);
        assert_error(&out, &format!("invalid revision '{spec}'"));
    }
    // A branch named with non-ASCII letters still works, with operators after it.
    env.cow_ok(["branch", "é"]);
    let head = env.cow_ok(["rev-parse", "HEAD"]);
    assert_eq!(env.cow_ok(["rev-parse", "é^0"]), head);
    Ok(())
}

#[test]
fn prune_ages_that_are_not_ascii_or_overflow_are_refused() -> Result {
    let env = repo_with_commit();
    // An unreachable blob, which `--prune=now` would remove.
    let repo = cow::Repository::open(env.work())?;
    let blob = repo.odb().write_blob(b"unreachable\n")?.id;
    for (age, want) in [
        (
            "1é",
            "invalid value '1é' for '--prune[=<AGE>]': use now, never",
        ),
        ("é", "invalid value 'é' for '--prune"),
        ("d", "invalid value 'd' for '--prune"),
        ("-1d", "invalid value '-1d' for '--prune"),
        // 30500568904944 weeks wraps a u64 of seconds to under a week.
        (
            "30500568904944w",
            "invalid value '30500568904944w' for '--prune[=<AGE>]': the age is too large",
        ),
        ("99999999999999999999h", "the age is too large"),
    ] {
        // A value that cannot be parsed is a usage error: exit 2, one line.
        let out = env.cow(["gc".to_owned(), format!("--prune={age}")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        assert!(
            stderr.starts_with("cow: error: ") && stderr.lines().count() == 1,
            "{}",
            describe(&out)
        );
        assert!(stderr.contains(want), "{}", describe(&out));
    }
    assert!(repo.odb().contains(&blob), "a refused gc pruned nothing");
    // The largest age that fits is taken, and prunes nothing young.
    env.cow_ok(["gc", "--prune=30500568904943w"]);
    assert!(repo.odb().contains(&blob));
    Ok(())
}

#[test]
fn dates_beyond_year_9999_are_refused_when_given() -> Result {
    let env = repo_with_commit();
    write(&env.work().join("f"), "y\n");
    for var in ["COW_AUTHOR_DATE", "COW_COMMITTER_DATE"] {
        for date in [
            "9223372036854775807 +0000",
            "253402300800 +0000",
            "-1 +0000",
        ] {
            let out = env
                .cow_cmd(&env.work())
                .env(var, date)
                .args(["commit", "-m", "far"])
                .output()?;
            assert_error(&out, &format!("{var} is invalid: '{date}'"));
        }
    }
    let out = env
        .cow_cmd(&env.work())
        .env("COW_AUTHOR_DATE", "253402300799 +0000")
        .args(["commit", "-m", "last second of 9999"])
        .output()?;
    assert!(out.status.success(), "{}", describe(&out));
    let log = env.cow_ok(["log", "-n", "1"]);
    assert!(
        log.contains("Date:   Fri Dec 31 23:59:59 9999 +0000"),
        "{log}"
    );
    Ok(())
}

#[test]
fn stored_dates_near_the_limits_are_shown_without_overflow() -> Result {
    let env = repo_with_commit();
    let repo = cow::Repository::open(env.work())?;
    let head = repo.resolve("HEAD")?;
    let tree = repo.odb().find_commit(&head)?.tree;
    let at = |seconds, offset_minutes| Signature {
        name: b"a".to_vec(),
        email: b"b".to_vec(),
        time: Time {
            seconds,
            offset_minutes,
        },
    };
    // What git 2.47 `log` prints for commits stored with these seconds; for the second,
    // whose local time overflows, git stops ("Timestamp too large") and cow shows the
    // epoch as git does for the first.
    for (seconds, offset, want) in [
        (i64::MAX, 0, "Thu Jan 1 00:00:00 1970 +0000"),
        (i64::MAX - 60, 90, "Thu Jan 1 00:00:00 1970 +0000"),
        (99_999_999_999_999, 0, "Sat Nov 7 09:46:39 3170843 +0000"),
    ] {
        let commit = Commit {
            tree,
            parents: vec![head],
            author: at(seconds, offset),
            committer: at(seconds, offset),
            extra_headers: Vec::new(),
            message: b"far\n".to_vec(),
        };
        let id = repo.odb().write_commit(&commit)?.id;
        repo.refs().update_head(id, Expected::Any)?;
        let log = env.cow_ok(["log", "-n", "1"]);
        assert!(log.contains(&format!("Date:   {want}\n")), "{log}");
        let show = env.cow_ok(["show", &id.to_string()]);
        assert!(show.contains(&format!("Date:   {want}\n")), "{show}");
        env.cow_ok(["fsck"]);
    }
    Ok(())
}

#[test]
fn a_repository_in_a_directory_whose_name_is_not_utf8_works() -> Result {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    let dir = env.tmp.path().join(OsStr::from_bytes(b"dir\xff"));
    fs::create_dir(&dir)?;
    let cow = |args: &[&str]| -> Result<std::process::Output> {
        let out = env.cow_cmd(&dir).args(args).output()?;
        assert!(out.status.success(), "cow {args:?}: {}", describe(&out));
        Ok(out)
    };
    let init = cow(&["init"])?;
    let mut want = b"Initialized empty cow repository in ".to_vec();
    want.extend_from_slice(dir.join(".cow").as_os_str().as_bytes());
    want.push(b'\n');
    assert_eq!(init.stdout, want, "the path's own bytes, not U+FFFD");
    write(&dir.join("f"), "one\n");
    cow(&["commit", "-m", "one"])?;
    cow(&["branch", "side"])?;
    cow(&["tag", "v1"])?;
    cow(&["checkout", "side"])?;
    write(&dir.join("f"), "two\n");
    cow(&["commit", "-m", "two"])?;
    cow(&["checkout", "main"])?;
    assert_eq!(fs::read_to_string(dir.join("f"))?, "one\n");
    cow(&["branch", "-D", "side"])?;
    cow(&["tag", "-d", "v1"])?;
    cow(&["gc", "--prune=now"])?;
    cow(&["fsck"])?;
    let status = cow(&["status", "--porcelain"])?;
    assert_eq!(status.stdout, b"");
    Ok(())
}

#[test]
fn deleting_a_ref_frees_its_directories_and_empty_ones_are_no_conflict() -> Result {
    let env = repo_with_commit();
    let refs = env.work().join(".cow/refs");
    for (kind, create, delete) in [
        ("heads", ["branch"], ["branch", "-d"]),
        ("tags", ["tag"], ["tag", "-d"]),
    ] {
        let cmd = |args: &[&str], name: &str| {
            let mut v: Vec<&str> = args.to_vec();
            v.push(name);
            env.cow(v)
        };
        // A ref below the name is a conflict, as in git.
        assert!(cmd(&create, "feature/x").status.success());
        assert_error(
            &cmd(&create, "feature"),
            &format!("cannot create ref refs/{kind}/feature"),
        );
        // Deleted, it leaves no directory behind, and the name is free.
        assert!(cmd(&delete, "feature/x").status.success());
        assert!(!refs.join(kind).join("feature").exists());
        assert!(refs.join(kind).is_dir(), "refs/{kind} itself stays");
        let out = cmd(&create, "feature");
        assert!(out.status.success(), "{}", describe(&out));
        // Only the directories left empty go: a/d keeps a.
        for name in ["a/b/c", "a/d"] {
            assert!(cmd(&create, name).status.success());
        }
        assert!(cmd(&delete, "a/b/c").status.success());
        assert!(!refs.join(kind).join("a/b").exists());
        assert!(refs.join(kind).join("a/d").is_file());
        // Empty directories made some other way are no conflict either.
        fs::create_dir_all(refs.join(kind).join("empty/x/y"))?;
        let out = cmd(&create, "empty");
        assert!(out.status.success(), "{}", describe(&out));
        assert!(refs.join(kind).join("empty").is_file());
    }
    let branches = env.cow_ok(["branch"]);
    assert_eq!(branches, "  a/d\n  empty\n  feature\n* main\n");
    assert_eq!(env.cow_ok(["tag"]), "a/d\nempty\nfeature\n");
    Ok(())
}

#[test]
fn config_refuses_values_commits_cannot_use_and_keys_set_twice() -> Result {
    let env = repo_with_commit();
    let config = env.work().join(".cow/config");
    let before = fs::read(&config)?;
    for (key, value, want) in [
        (
            "core.compression",
            "25",
            "invalid value '25' for 'core.compression'",
        ),
        ("core.compression", "banana", "a zstd level from 1 to 19"),
        ("core.compression", "0", "a zstd level from 1 to 19"),
        ("user.name", "", "it cannot be empty"),
        ("user.email", "a<b", "cannot contain '<' or '>'"),
    ] {
        assert_error(&env.cow(["config", key, value]), want);
    }
    assert_eq!(
        fs::read(&config)?,
        before,
        "a refused value changes nothing"
    );
    env.cow_ok(["config", "core.compression", "19"]);
    write(&env.work().join("f"), "compressed at 19\n");
    env.commit("still commits");

    // Set twice by hand: the copy read is the last; writing one value is refused.
    let mut text = fs::read_to_string(&config)?;
    text.push_str("[user]\n\tname = first\n\tname = second\n");
    fs::write(&config, &text)?;
    assert_eq!(env.cow_ok(["config", "user.name"]), "second\n");
    assert_error(
        &env.cow(["config", "user.name", "third"]),
        "'user.name' has 2 values: cannot overwrite multiple values with a single value",
    );
    assert_eq!(fs::read_to_string(&config)?, text);
    assert_eq!(env.cow_ok(["config", "user.name"]), "second\n");
    Ok(())
}

#[test]
fn io_errors_name_the_path_once() -> Result {
    use std::os::unix::fs::PermissionsExt;
    let env = repo_with_commit();
    let cow_dir = env.work().join(".cow");
    let mode =
        |path: &std::path::Path, mode| fs::set_permissions(path, fs::Permissions::from_mode(mode));
    fs::create_dir(cow_dir.join("refs/tags/sub"))?;
    write(&env.work().join("f"), "changed\n");
    // The config's temporary file, a loose object's, a ref directory listing.
    let cases: [(&str, &[&str], &str); 3] = [
        (
            ".cow",
            &["config", "user.name", "x"],
            "could not create a temporary file in '",
        ),
        (
            ".cow/objects",
            &["commit", "-m", "x"],
            "could not create a temporary file in '",
        ),
        (".cow/refs/tags/sub", &["tag"], "could not read directory '"),
    ];
    for (dir, args, want) in cases {
        let dir = env.work().join(dir);
        mode(&dir, if args[0] == "tag" { 0o000 } else { 0o555 })?;
        let out = env.cow_as_nobody(args);
        mode(&dir, 0o755)?;
        assert_error(&out, want);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("Permission denied (os error 13)"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("at path") && !stderr.contains("IO error for operation"),
            "{stderr}"
        );
        assert_eq!(
            stderr.matches(&*dir.to_string_lossy()).count(),
            1,
            "{stderr}"
        );
    }
    Ok(())
}

#[test]
fn symlinked_refs_are_refused_by_every_command_alike() -> Result {
    let env = repo_with_commit();
    let heads = env.work().join(".cow/refs/heads");
    std::os::unix::fs::symlink("main", heads.join("link"))?;
    let want = "ref refs/heads/link: 'refs/heads/link' is a symbolic link";
    assert_error(&env.cow(["rev-parse", "link"]), want);
    assert_error(&env.cow(["branch"]), want);
    assert_error(&env.cow(["branch", "-D", "link"]), want);
    assert_error(&env.cow(["gc", "--prune=now"]), want);
    let fsck = env.cow(["fsck"]);
    assert_eq!(fsck.status.code(), Some(1), "{}", describe(&fsck));
    assert!(
        String::from_utf8_lossy(&fsck.stdout).contains(want)
            || String::from_utf8_lossy(&fsck.stderr).contains(want),
        "{}",
        describe(&fsck)
    );
    fs::remove_file(heads.join("link"))?;
    assert_eq!(env.cow_ok(["branch"]), "* main\n");

    // A directory among the refs that is a link: nothing is read or written through it.
    let outside = env.tmp.path().join("outside");
    fs::create_dir(&outside)?;
    fs::copy(heads.join("main"), outside.join("x"))?;
    fs::create_dir(outside.join("y"))?;
    std::os::unix::fs::symlink(&outside, heads.join("dir"))?;
    let want = "ref refs/heads/dir/x: 'refs/heads/dir' is a symbolic link";
    assert_error(&env.cow(["rev-parse", "dir/x"]), want);
    assert_error(
        &env.cow(["branch", "dir/y"]),
        "'refs/heads/dir' is a symbolic link",
    );
    assert!(
        outside.join("y").is_dir(),
        "nothing removed through the link"
    );
    assert_eq!(
        fs::read_dir(&outside)?.count(),
        2,
        "nothing written through the link"
    );
    assert_error(
        &env.cow(["branch"]),
        "ref refs/heads/dir: 'refs/heads/dir' is a symbolic link",
    );
    fs::remove_file(heads.join("dir"))?;

    // HEAD as a link (as very old git wrote it) is refused too.
    let head = env.work().join(".cow/HEAD");
    fs::remove_file(&head)?;
    std::os::unix::fs::symlink("refs/heads/main", &head)?;
    assert_error(&env.cow(["log"]), "ref HEAD: 'HEAD' is a symbolic link");
    Ok(())
}

#[test]
fn paths_that_are_not_utf8_are_quoted_in_errors_never_lossy() -> Result {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let env = repo_with_commit();
    let arg = |bytes: &[u8]| OsStr::from_bytes(bytes).to_owned();
    let refused = |out: &std::process::Output, want: &str| {
        assert_error(out, want);
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains('\u{fffd}'),
            "{}",
            describe(out)
        );
    };

    // A path in a revision, and a path to restore, that no snapshot has.
    let want = "path \"\\377\" does not exist in 'HEAD'";
    refused(&env.cow([arg(b"show"), arg(b"HEAD:\xff")]), want);
    refused(
        &env.cow([arg(b"rev-parse"), arg(b"HEAD:d/\xff")]),
        "path \"d/\\377\"",
    );
    refused(&env.cow([arg(b"restore"), arg(b"\xff")]), want);
    // A plain path is shown as it was.
    refused(
        &env.cow(["show", "HEAD:nope"]),
        "path 'nope' does not exist in 'HEAD'",
    );
    // An argument outside the working directory, or inside a store.
    refused(
        &env.cow([arg(b"diff"), arg(b"--"), arg(b"../\xff")]),
        "\"../\\377\" is outside the repository",
    );
    refused(
        &env.cow(["diff", "--", "sub/.cow/HEAD"]),
        "'sub/.cow/HEAD' is not a repository path: '.cow' is reserved for the repository",
    );
    refused(
        &env.cow(["restore", ".cow/HEAD"]),
        "'.cow/HEAD' is inside the repository's store",
    );

    // The library error holds the bytes.
    let repo = cow::Repository::open(env.work())?;
    let missing = cow::object::RepoPath::from_bytes(b"\xff")?;
    match repo.read_path("HEAD", missing) {
        Err(cow::Error::Revision(cow::revision::Error::PathNotFound { path, .. })) => {
            assert_eq!(path, b"\xff")
        }
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[test]
fn revision_paths_skip_empty_names_as_before() -> Result {
    let env = repo_with_commit();
    fs::create_dir(env.work().join("d"))?;
    write(&env.work().join("d/g"), "g\n");
    env.commit("two");
    assert_eq!(env.cow_ok(["show", "HEAD:d//g"]), "g\n");
    assert_eq!(env.cow_ok(["show", "HEAD:/f"]), "x\n");
    assert!(env.cow_ok(["show", "HEAD:d/"]).contains("\ng\n"));
    // Names no tree can hold are simply not there.
    for bad in ["HEAD:./f", "HEAD:d/../f", "HEAD:.cow"] {
        let path = &bad[5..];
        assert_error(
            &env.cow(["show", bad]),
            &format!("path '{path}' does not exist in 'HEAD'"),
        );
    }
    Ok(())
}

/// Filesystem paths in warnings and io errors are quoted as git quotes them, never
/// shown with U+FFFD: a FIFO named `\xff` (left out with a warning) and a directory
/// named `\xfe` that cannot be read.
#[test]
fn warnings_and_io_errors_quote_paths_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    write(&env.work().join("f"), "x\n");
    env.init();
    let fifo = env.work().join(std::ffi::OsStr::from_bytes(b"\xff"));
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let out = env.cow(["commit", "-m", "x"]);
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        stderr.contains("skipped \"\\377\": not a regular file"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{fffd}'), "{stderr}");

    let dir = env.work().join(std::ffi::OsStr::from_bytes(b"\xfe"));
    std::fs::create_dir(&dir).unwrap();
    write(&dir.join("g"), "g\n");
    let _ = env.cow_as_nobody(&["status"]); // gives the tree to nobody first
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o000)).unwrap();
    let out = env.cow_as_nobody(&["commit", "-m", "y"]);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(stderr.contains("\\376"), "{stderr}");
    assert!(!stderr.contains('\u{fffd}'), "{stderr}");
}

#[test]
fn author_dates_are_read_as_git_reads_them() -> Result {
    let env = repo_with_commit();
    let w = env.work();
    // The same text, given to git and to cow: the same stored date.
    let git_dir = env.tmp.path().join("g");
    if git_available() {
        git(
            env.tmp.path(),
            ["init", "-q", "--object-format=sha256", "g"],
        );
    }
    for (n, date) in [
        "2023-11-14T23:43:20+01:30",
        "2023-11-14 23:43:20 -0500",
        "@1700000000",
        "1700000000 +0200",
        "2024-02-29T12:00:00Z",
    ]
    .into_iter()
    .enumerate()
    {
        write(&w.join("f"), format!("{n}\n"));
        let out = env
            .cow_cmd(&w)
            .env("COW_AUTHOR_DATE", date)
            .args(["commit", "-m", "dated"])
            .output()?;
        assert!(out.status.success(), "{date}: {}", describe(&out));
        let ours = env.cow_ok(["log", "-n", "1", "--format=%ad", "--date=raw"]);
        if git_available() {
            fs::write(git_dir.join("f"), format!("{n}\n"))?;
            git(&git_dir, ["add", "f"]);
            let out = git_cmd(&git_dir)
                .env("GIT_AUTHOR_DATE", date)
                .args(["commit", "-q", "-m", "dated"])
                .output()?;
            assert!(out.status.success(), "{date}: {}", describe(&out));
            let theirs = git(&git_dir, ["log", "-n", "1", "--format=%ad", "--date=raw"]);
            assert_eq!(ours.trim(), theirs.trim(), "{date}");
        }
    }
    let out = env
        .cow_cmd(&w)
        .env("COW_AUTHOR_DATE", "last tuesday-ish")
        .args(["commit", "--allow-empty", "-m", "x"])
        .output()?;
    assert_error(&out, "COW_AUTHOR_DATE is invalid: 'last tuesday-ish'");
    Ok(())
}

#[test]
fn revisions_at_a_date_take_the_newest_commit_on_the_first_parent_chain() {
    let env = repo_with_commit();
    let w = env.work();
    // Commits dated 2023-11-14, -15 and -16 (noon UTC); the first is the fixture's.
    let mut ids = Vec::new();
    for day in [15, 16] {
        write(&w.join("f"), format!("{day}\n"));
        let date = format!("2023-11-{day}T12:00:00Z");
        let out = env
            .cow_cmd(&w)
            .env("COW_AUTHOR_DATE", &date)
            .env("COW_COMMITTER_DATE", &date)
            .args(["commit", "-m", &format!("day {day}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        ids.push(env.cow_ok(["rev-parse", "HEAD"]).trim().to_owned());
    }
    let first = env.cow_ok(["rev-parse", "HEAD~2"]).trim().to_owned();
    let rev = |spec: &str| env.cow_ok(["rev-parse", spec]).trim().to_owned();
    assert_eq!(rev("main@{2023-11-16T12:00:00Z}"), ids[1]);
    assert_eq!(rev("main@{2023-11-16 11:59:59 +0000}"), ids[0]);
    assert_eq!(rev("@{2023-11-15T13:00:00+01:00}"), ids[0]);
    // A date alone is its midnight, local time.
    assert_eq!(rev("HEAD@{2023-11-16}~1"), first);
    assert_eq!(rev("main@{yesterday}"), ids[1]);
    assert_eq!(rev("main@{2 weeks ago}:f"), rev("HEAD:f"));
    assert_failure(
        &env.cow(["rev-parse", "main@{1999-01-01}"]),
        1,
        "no commit on that history is as old",
    );
    assert_failure(&env.cow(["rev-parse", "main@{someday}"]), 1, "not a date");
}

#[test]
fn revisions_at_a_date_agree_with_git_rev_list_before() -> Result {
    if !git_available() {
        return Ok(());
    }
    let env = Env::new();
    env.init();
    let repo = cow::Repository::open(env.work())?;
    let tree = repo
        .odb()
        .write_tree(&cow::object::Tree::from_entries(vec![])?)?
        .id;
    let at = |seconds: i64, offset_minutes: i32| Signature {
        name: NAME.into(),
        email: EMAIL.into(),
        time: Time {
            seconds,
            offset_minutes,
        },
    };
    let commit = |n: usize, parents: Vec<cow::ObjectId>, seconds: i64| {
        let c = Commit {
            tree,
            parents,
            author: at(seconds, 60),
            committer: at(seconds, [60, -300, 330][n % 3]),
            extra_headers: vec![],
            message: format!("c{n}\n").into_bytes(),
        };
        repo.odb().write_commit(&c).map(|w| w.id)
    };
    // A first-parent chain a day apart, with a clock set back once (c5 is older than
    // c4) and merges whose second parents are newer than the merge's first parent.
    let day = 86_400;
    let start = 1_700_000_000;
    let mut tip = commit(0, vec![], start)?;
    let mut all = vec![tip];
    for n in 1..12 {
        let seconds = if n == 5 {
            start + 2 * day
        } else {
            start + n as i64 * day
        };
        let mut parents = vec![tip];
        if n % 4 == 0 {
            let side = commit(100 + n, vec![tip], start + (n as i64 + 3) * day)?;
            all.push(side);
            parents.push(side);
        }
        tip = commit(n, parents, seconds)?;
        all.push(tip);
    }
    repo.refs()
        .update(&cow::refs::RefName::branch("main")?, tip, Expected::Absent)?;
    // The same objects in git, by their bytes: git computes the same ids.
    let git_dir = env.tmp.path().join("g");
    git(
        env.tmp.path(),
        ["init", "-q", "--object-format=sha256", "g"],
    );
    let empty = git_raw(
        &git_dir,
        ["hash-object", "-t", "tree", "-w", "--stdin"],
        b"",
    );
    assert_eq!(String::from_utf8(empty)?.trim(), tree.to_string());
    for id in &all {
        let raw = env.cow_ok(["cat-file", "commit", &id.to_string()]);
        let theirs = git_raw(
            &git_dir,
            ["hash-object", "-t", "commit", "-w", "--stdin"],
            raw.as_bytes(),
        );
        assert_eq!(String::from_utf8(theirs)?.trim(), id.to_string());
    }
    git(
        &git_dir,
        ["update-ref", "refs/heads/main", &tip.to_string()],
    );
    let mut checked = 0;
    for hours in (-30..14 * 24).step_by(7) {
        let when = cow::object::Time {
            seconds: start + hours * 3600,
            offset_minutes: 0,
        };
        let date = format!("@{}", when.seconds);
        let theirs = git(
            &git_dir,
            [
                "rev-list",
                "-1",
                "--first-parent",
                &format!("--before={date}"),
                "main",
            ],
        );
        let ours = env.cow(["rev-parse", &format!("main@{{{date}}}")]);
        if theirs.trim().is_empty() {
            assert_failure(&ours, 1, "no commit on that history is as old");
        } else {
            assert!(ours.status.success(), "{date}: {}", describe(&ours));
            assert_eq!(
                String::from_utf8(ours.stdout)?.trim(),
                theirs.trim(),
                "{date}"
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");
    Ok(())
}
