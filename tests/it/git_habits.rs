//! The habits of git users (issue 17): each works as in git — compared with git's own
//! output where git has the command — or is answered with a one-line hint that teaches
//! cow's model (no staging area: every commit snapshots everything).

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Output;

use crate::util::*;

/// A fake editor: replaces the message file with `message`, after saving what it was
/// given (the template) beside `dir`'s `template` file.
fn fake_editor(dir: &Path, message: &str) -> std::path::PathBuf {
    let script = dir.join("editor.sh");
    let body = dir.join("message");
    fs::write(&body, message).unwrap();
    fs::write(
        &script,
        format!(
            "#!/bin/sh\ncp \"$1\" '{}'\ncp '{}' \"$1\"\n",
            dir.join("template").display(),
            body.display()
        ),
    )
    .unwrap();
    set_exec(&script, true);
    script
}

/// Asserts a usage-style hint: exit 2, one `cow: error:` line containing `want`.
fn assert_hint(out: &Output, want: &str) {
    assert_failure(out, 2, want);
    assert!(out.stdout.is_empty(), "{}", describe(out));
}

/// The message of a commit, from `cat-file -p` output (after the first blank line).
fn message_of(cat_file: &[u8]) -> Vec<u8> {
    let at = cat_file.windows(2).position(|w| w == b"\n\n").unwrap();
    cat_file[at + 2..].to_vec()
}

fn cow_with_editor(env: &Env, editor: &Path, args: &[&str]) -> Output {
    env.cow_cmd(&env.work())
        .env("EDITOR", editor)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn commit_all_is_accepted_and_snapshots_everything() -> Result {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a"), "1\n");
    env.cow_ok(["commit", "-am", "first"]);
    write(&w.join("a"), "2\n");
    write(&w.join("new"), "new\n");
    env.cow_ok(["commit", "-a", "-m", "second"]);
    let shown = env.cow_ok(["show", "HEAD:new"]);
    assert_eq!(shown, "new\n");
    assert_eq!(env.cow_ok(["status", "--porcelain"]), "");
    assert_eq!(
        message_of(env.cow_ok(["cat-file", "-p", "HEAD"]).as_bytes()),
        b"second\n"
    );
    Ok(())
}

#[test]
fn commit_without_message_opens_the_editor_as_git_does() -> Result {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a"), "1\n");
    env.commit("first");
    write(&w.join("a"), "2\n");
    write(&w.join("b c"), "new\n");
    // Comment lines go, trailing spaces go, runs of blank lines fold, ends trimmed.
    let raw = "\n\nSubject line  \n# a comment\n\n\n\nBody text\n#another\n\n";
    let editor = fake_editor(env.tmp.path(), raw);
    let out = cow_with_editor(&env, &editor, &["commit"]);
    assert!(out.status.success(), "{}", describe(&out));
    let template = fs::read_to_string(env.tmp.path().join("template"))?;
    assert!(template.starts_with('\n'), "{template:?}");
    assert!(
        template.contains("# Please enter the commit message"),
        "{template}"
    );
    assert!(template.contains("#\tmodified:   a\n"), "{template}");
    assert!(template.contains("#\tnew file:   \"b c\"\n"), "{template}");
    let cow_message = message_of(env.cow_ok(["cat-file", "-p", "HEAD"]).as_bytes());
    assert_eq!(cow_message, b"Subject line\n\nBody text\n");
    // git stores the same message from the same editor.
    if git_available() {
        let g = env.tmp.path().join("g");
        git(
            env.tmp.path(),
            ["init", "-q", "--object-format=sha256", "g"],
        );
        write(&g.join("a"), "1\n");
        git(&g, ["add", "-A"]);
        let out = git_cmd(&g)
            .env("GIT_EDITOR", &editor)
            .args(["commit", "-q"])
            .output()?;
        assert!(out.status.success(), "{}", describe(&out));
        let git_message = message_of(&git_raw(&g, ["cat-file", "commit", "HEAD"], b""));
        assert_eq!(
            String::from_utf8_lossy(&cow_message),
            String::from_utf8_lossy(&git_message)
        );
    }
    Ok(())
}

#[test]
fn an_empty_message_or_a_failed_editor_aborts_the_commit() -> Result {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a"), "1\n");
    let head = env.commit("first");
    write(&w.join("a"), "2\n");
    // Only comments and blank lines: git's refusal, nothing committed.
    let editor = fake_editor(env.tmp.path(), "\n# nothing\n  \n");
    let out = cow_with_editor(&env, &editor, &["commit"]);
    assert_error(&out, "Aborting commit due to empty commit message.");
    assert_eq!(env.cow_ok(["rev-parse", "HEAD"]).trim(), head);
    // An editor that fails.
    let out = cow_with_editor(&env, Path::new("false"), &["commit"]);
    assert_error(&out, "there was a problem with the editor 'false'");
    // No editor set on a dumb terminal (TERM unset): refused, as git does.
    let out = env.cow(["commit"]);
    assert_error(&out, "EDITOR unset");
    assert_eq!(env.cow_ok(["rev-parse", "HEAD"]).trim(), head);
    // Nothing to commit: refused before any editor opens.
    env.cow_ok(["restore", "--force", "a"]);
    let marker = env.tmp.path().join("opened");
    let script = env.tmp.path().join("marker.sh");
    fs::write(
        &script,
        format!("#!/bin/sh\ntouch '{}'\n", marker.display()),
    )?;
    set_exec(&script, true);
    let out = cow_with_editor(&env, &script, &["commit"]);
    assert_error(&out, "nothing to commit");
    assert!(!marker.exists(), "the editor opened");
    Ok(())
}

#[test]
fn diff_cached_and_staged_are_answered_with_a_hint() {
    let env = Env::new();
    env.init();
    write(&env.work().join("a"), "1\n");
    env.commit("first");
    // A usage hint, also under --json (usage errors are the parser's plain line, exit 2).
    assert_hint(
        &env.cow(["diff", "--json", "--cached"]),
        "there is no staging area",
    );
    for flag in ["--cached", "--staged"] {
        let out = env.cow(["diff", flag]);
        assert_hint(&out, "there is no staging area");
        assert!(String::from_utf8_lossy(&out.stderr).contains("`cow diff` already compares HEAD"));
    }
}

#[test]
fn diff_takes_a_file_without_dashes_by_gits_rule() -> Result {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a.txt"), "one\ntwo\n");
    write(&w.join("b.txt"), "b\n");
    write(&w.join("d/c.txt"), "c\n");
    env.commit("first");
    write(&w.join("a.txt"), "one\nTWO\n");
    write(&w.join("b.txt"), "b2\n");
    write(&w.join("d/c.txt"), "c2\n");
    let with_dashes = env.cow_ok(["diff", "--", "a.txt", "d"]);
    assert!(with_dashes.contains("a/a.txt") && with_dashes.contains("a/d/c.txt"));
    assert!(!with_dashes.contains("b.txt"));
    assert_eq!(env.cow_ok(["diff", "a.txt", "d"]), with_dashes);
    assert_eq!(env.cow_ok(["diff", "HEAD", "a.txt", "d"]), with_dashes);
    if git_available() {
        // git's own diff of the same files (its index equals HEAD after add -A).
        let mirror = GitMirror::new(&env);
        fs::rename(w.join("a.txt"), env.tmp.path().join("a.new"))?;
        fs::rename(w.join("b.txt"), env.tmp.path().join("b.new"))?;
        fs::rename(w.join("d/c.txt"), env.tmp.path().join("c.new"))?;
        write(&w.join("a.txt"), "one\ntwo\n");
        write(&w.join("b.txt"), "b\n");
        write(&w.join("d/c.txt"), "c\n");
        mirror.snapshot("first");
        fs::rename(env.tmp.path().join("a.new"), w.join("a.txt"))?;
        fs::rename(env.tmp.path().join("b.new"), w.join("b.txt"))?;
        fs::rename(env.tmp.path().join("c.new"), w.join("d/c.txt"))?;
        let git_out = String::from_utf8(mirror.run(&["diff", "a.txt", "d"]))?;
        assert_eq!(git_out, with_dashes);
    }
    // A word that is both a revision and a file is ambiguous, as in git.
    env.cow_ok(["branch", "a.txt"]);
    let out = env.cow(["diff", "a.txt"]);
    assert_hint(
        &out,
        "ambiguous argument 'a.txt': both revision and filename",
    );
    assert_eq!(
        env.cow_ok(["diff", "--", "a.txt"]),
        env.cow_ok(["diff", "HEAD", "--", "a.txt"])
    );
    // Neither a revision nor a file.
    assert_error(&env.cow(["diff", "nosuch"]), "unknown revision 'nosuch'");
    let out = env.cow(["diff", "b.txt", "missing"]);
    assert_error(
        &out,
        "ambiguous argument 'missing': unknown revision or path not in the working tree",
    );
    Ok(())
}

/// The same history in cow and in git: base, then main and side each change one file.
fn forked_history(dir: &Path, git: bool) -> Result {
    let run = |args: &[&str]| {
        if git {
            let out = git_cmd(dir).args(args).output().unwrap();
            assert!(out.status.success(), "{args:?}: {}", describe(&out));
        } else {
            let env_out = cow_in(dir, args);
            assert!(env_out.status.success(), "{args:?}: {}", describe(&env_out));
        }
    };
    let commit = |message: &str| {
        if git {
            run(&["add", "-A"]);
            run(&["commit", "-q", "-m", message]);
        } else {
            run(&["commit", "-m", message]);
        }
    };
    if git {
        run(&["init", "-q", "--object-format=sha256", "-b", "main"]);
    } else {
        run(&["init"]);
    }
    write(&dir.join("base.txt"), "base\n");
    write(&dir.join("main.txt"), "main\n");
    write(&dir.join("side.txt"), "side\n");
    commit("base");
    run(&["branch", "side"]);
    write(&dir.join("main.txt"), "main changed\n");
    commit("on main");
    run(&["checkout", "side"]);
    write(&dir.join("side.txt"), "side changed\n");
    write(&dir.join("base.txt"), "base changed on side\n");
    commit("on side");
    Ok(())
}

/// `cow` in `dir` with the fixed identity (for histories made outside an [`Env`]).
fn cow_in(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_cow"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("COW_AUTHOR_NAME", NAME)
        .env("COW_AUTHOR_EMAIL", EMAIL)
        .env("COW_AUTHOR_DATE", DATE)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn diff_three_dots_starts_at_the_merge_base() -> Result {
    let tmp = tempfile::tempdir()?;
    let c = tmp.path().join("c");
    fs::create_dir(&c)?;
    forked_history(&c, false)?;
    let names = String::from_utf8(cow_in(&c, &["diff", "--name-status", "main...side"]).stdout)?;
    assert_eq!(names, "M\tbase.txt\nM\tside.txt\n");
    // From side's point of view: only main's change.
    let names = String::from_utf8(cow_in(&c, &["diff", "--name-status", "side...main"]).stdout)?;
    assert_eq!(names, "M\tmain.txt\n");
    // An empty side is HEAD (side here).
    let names = String::from_utf8(cow_in(&c, &["diff", "--name-status", "main..."]).stdout)?;
    assert_eq!(names, "M\tbase.txt\nM\tside.txt\n");
    if git_available() {
        let g = tmp.path().join("g");
        fs::create_dir(&g)?;
        forked_history(&g, true)?;
        assert_eq!(
            git(&g, ["rev-parse", "main", "side"]),
            String::from_utf8(cow_in(&c, &["rev-parse", "main", "side"]).stdout)?.trim()
        );
        for range in ["main...side", "side...main"] {
            let cow_patch = cow_in(&c, &["diff", range]);
            assert!(cow_patch.status.success(), "{}", describe(&cow_patch));
            let git_patch = git_raw(&g, ["diff", range], b"");
            assert_eq!(
                String::from_utf8_lossy(&cow_patch.stdout),
                String::from_utf8_lossy(&git_patch),
                "{range}"
            );
        }
    }
    Ok(())
}

#[test]
fn merge_bases_match_git_on_a_criss_cross() -> Result {
    let env = Env::new();
    env.init();
    let repo = cow::Repository::open(env.work())?;
    let tree = cow::ObjectId::empty_tree();
    let commit = |message: &str, parents| empty_commit(&repo, message, parents);
    // root ← a1, b1; a2 = a1+b1, b2 = b1+a1 (criss-cross); a3 ← a2, b3 ← b2; lone.
    let root = commit("root", vec![]);
    let a1 = commit("a1", vec![root]);
    let b1 = commit("b1", vec![root]);
    let a2 = commit("a2", vec![a1, b1]);
    let b2 = commit("b2", vec![b1, a1]);
    let a3 = commit("a3", vec![a2]);
    let b3 = commit("b3", vec![b2]);
    let lone = commit("lone", vec![]);
    let mut both = vec![a1, b1];
    both.sort();
    assert_eq!(repo.merge_bases(a3, b3)?, both);
    assert_eq!(repo.merge_bases(a3, a1)?, vec![a1]);
    assert_eq!(repo.merge_bases(a1, b1)?, vec![root]);
    assert_eq!(repo.merge_bases(a3, lone)?, vec![]);
    assert_eq!(repo.merge_base(a2, a2)?, Some(a2));
    if git_available() {
        let g = env.tmp.path().join("g");
        git(
            env.tmp.path(),
            ["init", "-q", "--object-format=sha256", "g"],
        );
        let git_tree = git_stdin(&g, ["mktree"], b"");
        assert_eq!(git_tree, tree.to_string());
        let mut ids: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
        for (name, parents) in [
            ("root", vec![]),
            ("a1", vec!["root"]),
            ("b1", vec!["root"]),
            ("a2", vec!["a1", "b1"]),
            ("b2", vec!["b1", "a1"]),
            ("a3", vec!["a2"]),
            ("b3", vec!["b2"]),
            ("lone", vec![]),
        ] {
            let mut args = vec!["commit-tree".to_owned(), git_tree.clone()];
            for p in parents {
                args.push("-p".into());
                args.push(ids[p].clone());
            }
            args.push("-m".into());
            args.push(name.into());
            let id = git(&g, &args);
            ids.insert(name, id);
        }
        assert_eq!(ids["a3"], a3.to_string());
        assert_eq!(ids["b3"], b3.to_string());
        let mut git_bases: Vec<String> = git(&g, ["merge-base", "--all", &ids["a3"], &ids["b3"]])
            .lines()
            .map(str::to_owned)
            .collect();
        git_bases.sort();
        let cow_bases: Vec<String> = repo
            .merge_bases(a3, b3)?
            .iter()
            .map(|i| i.to_string())
            .collect();
        assert_eq!(cow_bases, git_bases);
    }
    Ok(())
}

#[test]
fn add_rm_mv_checkout_dashes_and_restore_staged_are_answered_with_hints() {
    let env = Env::new();
    env.init();
    write(&env.work().join("a"), "1\n");
    env.commit("first");
    for (args, want) in [
        (
            &["add", "."][..],
            "there is no `cow add`: cow has no staging area; `cow commit -m MSG`",
        ),
        (&["add", "-A"], "there is no `cow add`"),
        (&["stage", "a"], "there is no `cow stage`"),
        (
            &["rm", "a"],
            "delete the files (rm PATH), then `cow commit -m MSG`",
        ),
        (
            &["mv", "a", "b"],
            "move the files (mv OLD NEW), then `cow commit -m MSG`",
        ),
        (&["checkout", "--", "a"], "use `cow restore PATH...`"),
        (
            &["checkout", "HEAD", "--", "a"],
            "use `cow restore --source HEAD PATH...`",
        ),
        (&["restore", "--staged", "a"], "nothing to unstage"),
        (&["restore", "-S", "a"], "nothing to unstage"),
    ] {
        assert_hint(&env.cow(args), want);
    }
    // The file is untouched, and `restore --staged --worktree` is plain restore
    // (which, like restore, wants --force to discard a local change).
    write(&env.work().join("a"), "changed\n");
    assert_error(
        &env.cow(["restore", "--staged", "--worktree", "a"]),
        "a (modified)",
    );
    env.cow_ok(["restore", "--staged", "--worktree", "--force", "a"]);
    assert_eq!(fs::read_to_string(env.work().join("a")).unwrap(), "1\n");
}

#[test]
fn switch_is_checkout() -> Result {
    let env = Env::new();
    env.init();
    write(&env.work().join("a"), "1\n");
    let first = env.commit("first");
    env.cow_ok(["switch", "-c", "topic"]);
    assert_eq!(env.cow_ok(["branch", "--show-current"]), "topic\n");
    write(&env.work().join("a"), "2\n");
    env.commit("second");
    env.cow_ok(["switch", "main"]);
    assert_eq!(env.cow_ok(["branch", "--show-current"]), "main\n");
    assert_eq!(fs::read_to_string(env.work().join("a"))?, "1\n");
    env.cow_ok(["switch", "--create", "other", "topic"]);
    assert_eq!(fs::read_to_string(env.work().join("a"))?, "2\n");
    // --detach at a branch detaches HEAD at its commit.
    env.cow_ok(["switch", "--detach", "main"]);
    assert_eq!(env.cow_ok(["branch", "--show-current"]), "");
    assert_eq!(env.cow_ok(["rev-parse", "HEAD"]).trim(), first);
    assert_eq!(env.cow_ok(["rev-parse", "--abbrev-ref", "HEAD"]), "HEAD\n");
    Ok(())
}

#[test]
fn usage_errors_keep_clap_suggestions_and_name_the_commands_help() {
    let env = Env::new();
    env.init();
    for (args, wants) in [
        (
            &["comit"][..],
            &[
                "similar subcommands exist: ",
                "'commit'",
                "(see 'cow --help')",
            ][..],
        ),
        (&["brnch"], &["a similar subcommand exists: 'branch'"]),
        (
            &["commit", "--mesage", "x"],
            &[
                "unexpected argument '--mesage'",
                "a similar argument exists: '--message'",
                "(see 'cow commit --help')",
            ],
        ),
        (&["log", "-n", "many"], &["(see 'cow log --help')"]),
        (&["remote", "ad"], &["(see 'cow remote --help')"]),
    ] {
        let out = env.cow(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        assert!(
            stderr.starts_with("cow: error: ") && stderr.lines().count() == 1,
            "{}",
            describe(&out)
        );
        for want in wants {
            assert!(stderr.contains(want), "{want:?}: {}", describe(&out));
        }
    }
}

#[test]
fn branch_and_rev_parse_queries_match_git() -> Result {
    if !git_available() {
        return Ok(());
    }
    let env = Env::new();
    let w = env.work();
    write(&w.join("a"), "1\n");
    write(&w.join("sub/b"), "2\n");
    env.init();
    let mirror = GitMirror::new(&env);
    mirror.run(&["symbolic-ref", "HEAD", "refs/heads/main"]);
    let c1 = env.commit("first");
    assert_eq!(c1, mirror.snapshot("first"));
    let git_out = |args: &[&str]| String::from_utf8(mirror.run(args)).unwrap();
    for args in [
        &["branch", "--show-current"][..],
        &["rev-parse", "--abbrev-ref", "HEAD"],
        &["rev-parse", "--abbrev-ref", "main"],
    ] {
        assert_eq!(env.cow_ok(args), git_out(args), "{args:?}");
    }
    env.cow_ok(["tag", "v1"]);
    mirror.run(&["tag", "v1"]);
    assert_eq!(
        env.cow_ok(["rev-parse", "--abbrev-ref", "v1"]),
        git_out(&["rev-parse", "--abbrev-ref", "v1"])
    );
    // Detached: git prints nothing for --show-current and HEAD for --abbrev-ref.
    env.cow_ok(["checkout", &c1]);
    mirror.run(&["checkout", "-q", "--detach", &c1]);
    for args in [
        &["branch", "--show-current"][..],
        &["rev-parse", "--abbrev-ref", "HEAD"],
    ] {
        assert_eq!(env.cow_ok(args), git_out(args), "{args:?}");
    }
    assert_eq!(env.cow_ok(["branch", "--show-current"]), "");
    // --show-toplevel from a subdirectory: the working directory's absolute path.
    let top = env
        .cow_cmd(&w.join("sub"))
        .args(["rev-parse", "--show-toplevel"])
        .output()?;
    assert!(top.status.success(), "{}", describe(&top));
    // (git's own answer needs a `.git` inside the working directory, which the mirror
    // keeps outside: compare with the path itself.)
    assert_eq!(
        fs::canonicalize(String::from_utf8(top.stdout)?.trim())?,
        fs::canonicalize(&w)?
    );
    Ok(())
}

#[test]
fn status_short_with_branch_matches_git() -> Result {
    if !git_available() {
        return Ok(());
    }
    let env = Env::new();
    let w = env.work();
    env.init();
    let mirror = GitMirror::new(&env);
    mirror.run(&["symbolic-ref", "HEAD", "refs/heads/main"]);
    write(&w.join("file"), "x\n");
    // Before the first commit.
    let git_status = |args: &[&str]| String::from_utf8(mirror.run(args)).unwrap();
    assert_eq!(
        env.cow_ok(["status", "-sb"]),
        git_status(&["status", "-sb"])
    );
    assert!(
        env.cow_ok(["status", "-sb"])
            .starts_with("## No commits yet on main\n")
    );
    write(&w.join("modified.txt"), "one\n");
    write(&w.join("deleted.txt"), "gone\n");
    write(&w.join("with space.txt"), "s\n");
    write(&w.join("dir/inner.txt"), "i\n");
    write(&w.join("link-to-be"), "file\n");
    write(&w.join("exec.sh"), "#!/bin/sh\n");
    let c1 = env.commit("first");
    assert_eq!(c1, mirror.snapshot("first"));
    assert_eq!(env.cow_ok(["status", "-sb"]), "## main\n");
    write(&w.join("modified.txt"), "two\n");
    fs::remove_file(w.join("deleted.txt"))?;
    write(&w.join("with space.txt"), "s2\n");
    write(&w.join("new dir/x"), "x\n");
    write(&w.join("untracked.txt"), "u\n");
    write(&w.join("dir/inner2.txt"), "u\n");
    fs::remove_file(w.join("link-to-be"))?;
    symlink("modified.txt", w.join("link-to-be"))?;
    set_exec(&w.join("exec.sh"), true);
    for args in [
        &["status", "-sb"][..],
        &["status", "-s"],
        &["status", "--porcelain", "-b"],
        &["status", "-s", "-b", "-uall"],
    ] {
        assert_eq!(env.cow_ok(args), git_status(args), "{args:?}");
    }
    let z = env.cow(["status", "-sbz"]);
    assert_eq!(z.stdout, mirror.run(&["status", "-sbz"]));
    // Detached.
    env.cow_ok(["checkout", "-f", &c1]);
    mirror.run(&["checkout", "-q", "-f", "--detach", &c1]);
    assert_eq!(
        env.cow_ok(["status", "-sb"]),
        git_status(&["status", "-sb"])
    );
    assert!(
        env.cow_ok(["status", "-sb"])
            .starts_with("## HEAD (no branch)\n")
    );
    Ok(())
}

#[test]
fn ls_files_lists_what_git_lists_after_add_all() -> Result {
    if !git_available() {
        return Ok(());
    }
    let env = Env::new();
    let w = env.work();
    env.init();
    let mirror = GitMirror::new(&env);
    for name in [
        "a-b",
        "a.b",
        "a0",
        "b/c",
        "a/b",
        "a/z/y",
        "with space",
        "caf\u{e9}",
        "tab\tname",
    ] {
        write(&w.join(name), name);
    }
    write(&w.join("ignored.log"), "i\n");
    write(&w.join(".cowignore"), "*.log\n");
    fs::write(mirror.git_dir.join("info/exclude"), "/.cow/\n*.log\n")?;
    // Before the first commit: the files a commit would take.
    mirror.run(&["add", "-A"]);
    let git_out = |args: &[&str]| mirror.run(args);
    assert_eq!(env.cow_ok(["ls-files"]).as_bytes(), git_out(&["ls-files"]));
    env.commit("first");
    mirror.snapshot("first");
    fs::remove_file(w.join("a/b"))?;
    fs::remove_dir_all(w.join("b"))?;
    write(&w.join("new/deep/file"), "n\n");
    write(&w.join("zz"), "z\n");
    fs::create_dir(w.join("empty"))?;
    mirror.run(&["add", "-A"]);
    assert_eq!(env.cow_ok(["ls-files"]).as_bytes(), git_out(&["ls-files"]));
    assert_eq!(
        env.cow(["ls-files", "-z"]).stdout,
        git_out(&["ls-files", "-z"])
    );
    assert!(env.cow_ok(["ls-files"]).contains("new/deep/file\n"));
    assert!(!env.cow_ok(["ls-files"]).contains("ignored.log"));
    // In a subdirectory: its files, relative to it; and with paths.
    let sub = env.cow_cmd(&w.join("a")).arg("ls-files").output()?;
    assert_eq!(String::from_utf8(sub.stdout)?, "z/y\n");
    assert_eq!(env.cow_ok(["ls-files", "new", "zz"]), "new/deep/file\nzz\n");
    // --json: the same paths, unquoted, with a base64 twin for bytes that are not UTF-8.
    write(&w.join(std::ffi::OsStr::from_bytes(b"raw\xff")), "r\n");
    let document: serde_json::Value = serde_json::from_str(&env.cow_ok(["ls-files", "--json"]))?;
    assert_eq!(document["type"], "ls_files");
    assert_eq!(document["schema"], 1);
    let z = env.cow(["ls-files", "-z"]).stdout;
    let listed: Vec<&[u8]> = z.split(|&b| b == 0).filter(|p| !p.is_empty()).collect();
    let files = document["files"].as_array().unwrap();
    assert_eq!(files.len(), listed.len());
    for (record, path) in files.iter().zip(&listed) {
        assert_eq!(record["type"], "file");
        match std::str::from_utf8(path) {
            Ok(text) => {
                assert_eq!(record["path"], text);
                assert!(record.get("path_b64").is_none());
            }
            Err(_) => {
                assert_eq!(record["path"], String::from_utf8_lossy(path).as_ref());
                assert_eq!(record["path_b64"], "cmF3/w==");
            }
        }
    }
    assert!(files.iter().any(|r| r["path"] == "with space"));
    Ok(())
}

#[test]
fn completions_and_man_pages_mention_every_command() -> Result {
    let env = Env::new();
    // The commands, from the help's list.
    let help = env.cow_ok(["--help"]);
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() >= 20, "{commands:?}");
    for want in ["commit", "ls-files", "completions", "man", "checkout"] {
        assert!(commands.contains(&want), "{want}: {commands:?}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let script = env.cow_ok(["completions", shell]);
        assert!(script.len() > 1000, "{shell}");
        for command in &commands {
            assert!(
                script.contains(command),
                "{shell} completion lacks {command}"
            );
        }
    }
    let out = env.cow(["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let page = env.cow_ok(["man"]);
    assert!(page.contains(".TH cow 1"), "{page}");
    for command in &commands {
        assert!(
            page.contains(&command.replace('-', "\\-")),
            "man page lacks {command}"
        );
    }
    let dir = env.tmp.path().join("man1");
    env.cow_ok(["man", "--dir", dir.to_str().unwrap()]);
    for command in &commands {
        let page = fs::read_to_string(dir.join(format!("cow-{command}.1")))?;
        assert!(
            page.contains(&format!(".TH cow-{command} 1")),
            "{command}: {page}"
        );
    }
    assert!(dir.join("cow.1").exists());
    Ok(())
}

/// A history for the `status` and `ls-files` tests from subdirectories: committed by
/// cow and by git alike, then changed (modified, deleted, untracked directories and
/// files, names git quotes). Returns the mirror.
fn changed_tree(env: &Env) -> Result<GitMirror> {
    let w = env.work();
    env.init();
    let mirror = GitMirror::new(env);
    mirror.run(&["symbolic-ref", "HEAD", "refs/heads/main"]);
    write(&w.join("top.txt"), "a\n");
    write(&w.join("sub/f.txt"), "b\n");
    write(&w.join("sub/deep/g.txt"), "c\n");
    write(&w.join("other/o.txt"), "d\n");
    write(&w.join("sub/with space"), "e\n");
    write(&w.join("subway/s.txt"), "s\n");
    assert_eq!(env.commit("first"), mirror.snapshot("first"));
    write(&w.join("top.txt"), "a2\n");
    write(&w.join("sub/f.txt"), "b2\n");
    fs::remove_file(w.join("sub/deep/g.txt"))?;
    write(&w.join("sub/with space"), "e2\n");
    write(&w.join("sub/newdir/n"), "n\n");
    write(&w.join("sub/u.txt"), "u\n");
    write(&w.join("newtop/t"), "t\n");
    write(&w.join("sub/tab\tx"), "q\n");
    write(&w.join("sub/deep/h.txt"), "h\n");
    Ok(mirror)
}

/// `cow ARGS` run in `dir`; its stdout, asserting success.
fn cow_stdout(env: &Env, dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = env.cow_cmd(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} in {dir:?}: {}",
        describe(&out)
    );
    out.stdout
}

#[test]
fn status_with_paths_and_from_subdirectories_matches_git() -> Result {
    if !git_available() {
        return Ok(());
    }
    let env = Env::new();
    let w = env.work();
    let mirror = changed_tree(&env)?;
    let cases: &[(&str, &[&str])] = &[
        ("", &["status", "-s"]),
        ("", &["status", "-s", "sub"]),
        ("", &["status", "-s", "--", "sub/deep", "top.txt", "newtop"]),
        (
            "",
            &["status", "--porcelain", "sub/newdir/n", "nothing-here"],
        ),
        ("", &["status", "-sb", "-uall", "--", "sub"]),
        ("sub", &["status", "-s"]),
        ("sub", &["status", "-sb"]),
        ("sub", &["status", "-s", "-uall"]),
        ("sub", &["status", "--porcelain"]),
        ("sub", &["status", "--porcelain", "-s"]),
        ("sub", &["status", "-s", "--porcelain"]),
        ("sub", &["status", "-s", "."]),
        ("sub", &["status", "-s", "--", "deep", "../newtop"]),
        ("sub", &["status", "-s", "newdir"]),
        ("sub", &["status", "-s", "newdir/n"]),
        ("sub", &["status", "-s", "../top.txt", "../other"]),
        ("sub", &["status", "--porcelain", "."]),
        ("sub", &["status", "-z"]),
        ("sub", &["status", "-s", "-z", "."]),
        ("sub", &["status", "-z", "--", "deep", "../newtop"]),
        ("sub/deep", &["status", "-s"]),
        ("sub/deep", &["status", "-s", ".."]),
        ("sub/newdir", &["status", "-s"]),
        ("sub/newdir", &["status", "-s", "."]),
        ("sub/newdir", &["status", "--porcelain", "."]),
        ("sub/newdir", &["status", "-s", "-uall", "."]),
        ("newtop", &["status", "-s", "../sub"]),
    ];
    for (dir, args) in cases {
        let dir = w.join(dir);
        assert_eq!(
            String::from_utf8_lossy(&cow_stdout(&env, &dir, args)),
            String::from_utf8_lossy(&mirror.run_in(&dir, args)),
            "{args:?} in {dir:?}"
        );
    }
    // `-C DIR` is the same as starting in DIR.
    assert_eq!(
        env.cow_ok(["-C", "sub", "status", "-s", "../top.txt", "deep"])
            .as_bytes(),
        mirror.run_in(&w.join("sub"), &["status", "-s", "../top.txt", "deep"])
    );
    // The long format is cow's own wording, but its path lines are git's: relative to
    // the current directory, quoted as git quotes them there (no quotes for a space).
    let path_lines = |out: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(out)
            .lines()
            .filter(|l| l.starts_with('\t'))
            .map(str::to_owned)
            .collect()
    };
    for (dir, args) in [
        ("sub", &["status"][..]),
        ("sub/newdir", &["status"]),
        ("sub", &["status", "deep", "../top.txt", "newdir"]),
        ("", &["status", "--", "sub"]),
    ] {
        let dir = w.join(dir);
        let cow = path_lines(&cow_stdout(&env, &dir, args));
        assert!(!cow.is_empty());
        assert_eq!(cow, path_lines(&mirror.run_in(&dir, args)), "{args:?}");
    }
    let long = String::from_utf8(cow_stdout(&env, &w.join("sub"), &["status"]))?;
    for line in [
        "\tmodified:   ../top.txt\n",
        "\tdeleted:    deep/g.txt\n",
        "\tmodified:   with space\n",
        "\t../newtop/\n",
        "\t\"tab\\tx\"\n",
    ] {
        assert!(long.contains(line), "{line:?} in {long}");
    }
    Ok(())
}

#[test]
fn status_json_with_paths_lists_them_from_the_root() -> Result {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("top.txt"), "a\n");
    write(&w.join("sub/f.txt"), "b\n");
    write(&w.join("other/o.txt"), "d\n");
    env.commit("first");
    write(&w.join("top.txt"), "a2\n");
    write(&w.join("sub/f.txt"), "b2\n");
    write(&w.join("other/o.txt"), "d2\n");
    write(&w.join("sub/new/n"), "n\n");
    let out = cow_stdout(
        &env,
        &w.join("sub"),
        &["status", "--json", ".", "../top.txt"],
    );
    let document: serde_json::Value = serde_json::from_slice(&out)?;
    assert_eq!(document["type"], "status");
    assert_eq!(document["clean"], false);
    let changes: Vec<(&str, &str)> = document["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["status"].as_str().unwrap(), c["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changes,
        [
            ("modified", "sub/f.txt"),
            ("modified", "top.txt"),
            ("untracked", "sub/new"),
        ]
    );
    // A path that has no change: clean, for that path.
    let out = cow_stdout(&env, &w, &["status", "--json", "--", "missing"]);
    let document: serde_json::Value = serde_json::from_slice(&out)?;
    assert_eq!(document["clean"], true);
    assert_eq!(document["changes"], serde_json::json!([]));
    Ok(())
}

#[test]
fn status_refuses_a_path_outside_the_working_directory() {
    let env = Env::new();
    env.init();
    let out = env.cow(["status", "-s", "../elsewhere"]);
    assert_error(&out, "'../elsewhere' is outside the repository");
    assert!(out.stdout.is_empty());
    let out = env.cow(["status", "--json", "--", ".."]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(out.stdout.is_empty());
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["type"], "error");
}

#[test]
fn ls_files_from_a_subdirectory_matches_git() -> Result {
    if !git_available() {
        return Ok(());
    }
    let env = Env::new();
    let w = env.work();
    let mirror = changed_tree(&env)?;
    mirror.run(&["add", "-A"]);
    for (dir, args) in [
        ("", &["ls-files"][..]),
        ("sub", &["ls-files"]),
        ("sub", &["ls-files", "-z"]),
        ("sub", &["ls-files", ".."]),
        ("sub", &["ls-files", "-z", ".."]),
        (
            "sub",
            &["ls-files", "../other", "../top.txt", "f.txt", "newdir"],
        ),
        ("sub/deep", &["ls-files", "..", "../../subway"]),
        ("sub/newdir", &["ls-files"]),
        ("newtop", &["ls-files", "../sub/deep"]),
    ] {
        let dir = w.join(dir);
        assert_eq!(
            String::from_utf8_lossy(&cow_stdout(&env, &dir, args)),
            String::from_utf8_lossy(&mirror.run_in(&dir, args)),
            "{args:?} in {dir:?}"
        );
    }
    Ok(())
}
