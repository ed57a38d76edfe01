//! Progress on long commands (on a terminal only, unless forced; JSON lines with
//! `--json`), and identity that just works: the global config, and git's
//! `user.name`/`user.email` when cow has none.

use std::process::{Command, Output};

use crate::util::{Env, Result, describe, write};

/// `cow ARGS` run under a pseudo-terminal (`script`), with `env`'s environment:
/// everything the terminal showed, stdout and stderr together.
fn on_terminal(env: &Env, args: &str) -> Result<String> {
    let cmd = env.cow_cmd(&env.work());
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_cow"));
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(env.work())
        .env_clear()
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()?;
    assert!(out.status.success(), "{}", describe(&out));
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A repository with `n` files, not committed yet.
fn files(env: &Env, n: usize) {
    env.init();
    for i in 0..n {
        write(&env.work().join(format!("f{i}")), format!("file {i}\n"));
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn commit_and_checkout_show_progress_on_a_terminal() -> Result {
    let env = Env::new();
    files(&env, 40);
    let shown = on_terminal(&env, "commit -m first")?;
    assert!(shown.contains("commit: snapshot "), "{shown:?}");
    assert!(shown.contains("/40 files, "), "{shown:?}");
    assert!(shown.contains("[main (root-commit) "), "{shown:?}");
    for i in 0..40 {
        write(&env.work().join(format!("f{i}")), format!("changed {i}\n"));
    }
    env.cow_ok(["commit", "-m", "second"]);
    let shown = on_terminal(&env, "checkout HEAD~1")?;
    assert!(shown.contains("checkout: write "), "{shown:?}");
    assert!(shown.contains("/40 files"), "{shown:?}");
    let shown = on_terminal(&env, "restore -s main .")?;
    assert!(shown.contains("restore: write "), "{shown:?}");
    let shown = on_terminal(&env, "gc --prune=now")?;
    assert!(shown.contains("gc: pack "), "{shown:?}");
    let shown = on_terminal(&env, "fsck")?;
    assert!(shown.contains("fsck: verify "), "{shown:?}");
    Ok(())
}

#[test]
fn no_progress_and_quiet_silence_the_terminal() -> Result {
    let env = Env::new();
    files(&env, 10);
    let shown = on_terminal(&env, "commit --no-progress -m first")?;
    assert!(!shown.contains("snapshot"), "{shown:?}");
    assert!(shown.contains("[main (root-commit) "), "{shown:?}");
    write(&env.work().join("f1"), "again\n");
    // -q: no progress and no summary, as git's `commit -q`.
    let shown = on_terminal(&env, "commit -q -m second")?;
    assert_eq!(shown, "", "{shown:?}");
    assert!(env.cow(["rev-parse", "HEAD~1"]).status.success());
    let shown = on_terminal(&env, "checkout -q HEAD~1")?;
    assert_eq!(shown, "");
    assert_eq!(std::fs::read_to_string(env.work().join("f1"))?, "file 1\n");
    Ok(())
}

#[test]
fn pipes_get_no_progress_unless_forced() -> Result {
    let env = Env::new();
    files(&env, 30);
    let out = env.cow(["commit", "-m", "first"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(!stderr(&out).contains("snapshot"), "{}", describe(&out));
    assert_eq!(stderr(&out), "");
    for i in 0..30 {
        write(&env.work().join(format!("f{i}")), format!("changed {i}\n"));
    }
    // Forced onto a pipe: plain lines, the last one the whole count.
    let out = env.cow(["commit", "--progress", "-m", "second"]);
    assert!(out.status.success(), "{}", describe(&out));
    let last = stderr(&out).lines().last().unwrap_or_default().to_owned();
    assert!(
        last.starts_with("commit: snapshot 30/30 files, "),
        "{}",
        describe(&out)
    );
    // --no-progress after --progress wins.
    let out = env.cow(["fsck", "--progress", "--no-progress"]);
    assert_eq!(stderr(&out), "", "{}", describe(&out));
    // fsck's count is the one it prints.
    let out = env.cow(["fsck", "--progress"]);
    assert!(out.status.success(), "{}", describe(&out));
    let checked: u64 = String::from_utf8(out.stdout.clone())?
        .split_whitespace()
        .nth(1)
        .ok_or("no count")?
        .parse()?;
    assert!(
        stderr(&out).contains(&format!("fsck: verify {checked}/{checked} objects")),
        "{}",
        describe(&out)
    );
    let out = env.cow(["gc", "--prune=now"]);
    assert_eq!(stderr(&out), "", "{}", describe(&out));
    Ok(())
}

#[test]
fn json_progress_lines_parse() -> Result {
    let env = Env::new();
    files(&env, 30);
    env.cow_ok(["commit", "-m", "first"]);
    let copy = env.tmp.path().join("copy");
    let out = env.cow([
        "clone".as_ref(),
        "--json".as_ref(),
        "--progress".as_ref(),
        env.work().as_os_str(),
        copy.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let mut lines = 0;
    for line in stderr(&out).lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        assert_eq!(v["type"], "progress", "{line}");
        assert_eq!(v["op"], "clone", "{line}");
        assert!(v["done"].is_u64(), "{line}");
        assert!(v["unit"].is_string(), "{line}");
        lines += 1;
    }
    assert!(lines > 0, "{}", describe(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(doc["type"], "clone");
    Ok(())
}

#[test]
fn json_mode_progress_is_json_lines_on_stderr_for_every_long_job() -> Result {
    // commit, gc and fsck with --json --progress: stdout one document of the command's
    // type, stderr only progress lines of its op.
    let env = Env::new();
    files(&env, 30);
    for (args, op) in [
        (
            &["commit", "--json", "--progress", "-m", "first"][..],
            "commit",
        ),
        (&["gc", "--json", "--progress"], "gc"),
        (&["fsck", "--json", "--progress"], "fsck"),
        (
            &["checkout", "--json", "--progress", "-b", "topic"],
            "checkout",
        ),
    ] {
        let out = env.cow(args);
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
        let mut lines = 0;
        for line in stderr(&out).lines() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            assert_eq!(v["type"], "progress", "{args:?}: {line}");
            assert_eq!(v["op"], op, "{args:?}: {line}");
            lines += 1;
        }
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        assert_eq!(doc["type"], op, "{args:?}");
        if op != "checkout" {
            // checkout -b to the same commit writes no file: nothing to report.
            assert!(lines > 0, "{args:?}: {}", describe(&out));
        }
    }
    Ok(())
}

/// A `cow` command with no `COW_AUTHOR_NAME`/`COW_AUTHOR_EMAIL`, `HOME` in the scratch
/// directory and `XDG_CONFIG_HOME` as given (never the real user's config).
fn no_identity(env: &Env, dir: &std::path::Path, xdg: Option<&std::path::Path>) -> Command {
    let mut cmd = env.cow_cmd(dir);
    cmd.env_remove("COW_AUTHOR_NAME")
        .env_remove("COW_AUTHOR_EMAIL")
        .env("HOME", env.tmp.path().join("home"));
    if let Some(xdg) = xdg {
        cmd.env("XDG_CONFIG_HOME", xdg);
    }
    cmd
}

fn run(mut cmd: Command, args: &[&str]) -> Result<Output> {
    Ok(cmd.args(args).output()?)
}

fn ok(cmd: Command, args: &[&str]) -> Result<String> {
    let out = run(cmd, args)?;
    assert!(out.status.success(), "{args:?}: {}", describe(&out));
    Ok(String::from_utf8(out.stdout)?)
}

/// The author line of HEAD's commit: `Name <email>`.
fn author(env: &Env) -> Result<String> {
    let commit = env.cow_ok(["cat-file", "-p", "HEAD"]);
    let line = commit
        .lines()
        .find_map(|l| l.strip_prefix("author "))
        .ok_or("no author")?;
    Ok(line[..line.find('>').ok_or("no email")? + 1].to_owned())
}

#[test]
fn the_global_config_gives_an_identity_and_the_repository_wins() -> Result {
    let env = Env::new();
    let home = env.tmp.path().join("home");
    std::fs::create_dir(&home)?;
    let xdg = env.tmp.path().join("xdg");
    files(&env, 2);
    // --global works outside any repository.
    let outside = env.tmp.path().to_owned();
    let global = |args: &[&str]| ok(no_identity(&env, &outside, Some(&xdg)), args);
    global(&["config", "--global", "user.name", "Global Person"])?;
    global(&["config", "--global", "user.email", "global@example.com"])?;
    let file = xdg.join("cow/config");
    assert!(file.is_file());
    if crate::util::git_available() {
        let name = crate::util::git(
            &outside,
            [
                "config",
                "--file",
                file.to_str().ok_or("path")?,
                "user.name",
            ],
        );
        assert_eq!(name.trim(), "Global Person");
    }
    let work = env.work();
    let out = run(
        no_identity(&env, &work, Some(&xdg)),
        &["commit", "-m", "one"],
    )?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        stderr(&out),
        "",
        "no git config was used: {}",
        describe(&out)
    );
    assert_eq!(author(&env)?, "Global Person <global@example.com>");
    // The repository's setting wins over the global one.
    ok(
        no_identity(&env, &work, Some(&xdg)),
        &["config", "user.name", "Local Person"],
    )?;
    let got = ok(
        no_identity(&env, &work, Some(&xdg)),
        &["config", "user.name"],
    )?;
    assert_eq!(got, "Local Person\n");
    write(&work.join("f0"), "changed\n");
    ok(
        no_identity(&env, &work, Some(&xdg)),
        &["commit", "-m", "two"],
    )?;
    assert_eq!(author(&env)?, "Local Person <global@example.com>");
    // --list: global, then repository; --global --list: global only.
    let list = ok(no_identity(&env, &work, Some(&xdg)), &["config", "--list"])?;
    let lines: Vec<&str> = list.lines().collect();
    let at = |l: &str| lines.iter().position(|x| *x == l);
    assert!(
        at("user.name=Global Person") < at("user.name=Local Person"),
        "{list}"
    );
    assert!(at("user.email=global@example.com").is_some(), "{list}");
    let list = ok(
        no_identity(&env, &work, Some(&xdg)),
        &["config", "--global", "--list"],
    )?;
    assert_eq!(
        list,
        "user.name=Global Person\nuser.email=global@example.com\n"
    );
    // --unset: the global value shows again; unsetting what is not set is exit 5.
    ok(
        no_identity(&env, &work, Some(&xdg)),
        &["config", "--unset", "user.name"],
    )?;
    let got = ok(
        no_identity(&env, &work, Some(&xdg)),
        &["config", "user.name"],
    )?;
    assert_eq!(got, "Global Person\n");
    let out = run(
        no_identity(&env, &work, Some(&xdg)),
        &["config", "--unset", "user.name"],
    )?;
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    ok(
        no_identity(&env, &work, Some(&xdg)),
        &["config", "--global", "--unset", "user.email"],
    )?;
    let got = run(
        no_identity(&env, &work, Some(&xdg)),
        &["config", "user.email"],
    )?;
    assert_eq!(got.status.code(), Some(1), "{}", describe(&got));
    // Without XDG_CONFIG_HOME: ~/.config/cow/config.
    ok(
        no_identity(&env, &outside, None),
        &["config", "--global", "user.name", "Home"],
    )?;
    let text = std::fs::read_to_string(home.join(".config/cow/config"))?;
    assert!(text.contains("Home"), "{text}");
    Ok(())
}

#[test]
fn gits_identity_is_used_when_cow_has_none_and_says_so() -> Result {
    let env = Env::new();
    let home = env.tmp.path().join("home");
    std::fs::create_dir(&home)?;
    let xdg = env.tmp.path().join("xdg");
    files(&env, 2);
    let work = env.work();
    write(
        &home.join(".gitconfig"),
        "[user]\n\tname = Git Person\n\temail = \"git@example.com\"\n[core]\n\teditor = vi\n",
    );
    let out = run(
        no_identity(&env, &work, Some(&xdg)),
        &["commit", "-m", "one"],
    )?;
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        stderr(&out),
        "cow: using user.name and user.email from ~/.gitconfig\n"
    );
    assert_eq!(author(&env)?, "Git Person <git@example.com>");
    // $XDG_CONFIG_HOME/git/config is read before ~/.gitconfig, which wins; each key
    // is named with its own file.
    write(
        &xdg.join("git/config"),
        "[user]\n\temail = xdg@example.com\n\tname = Xdg\n",
    );
    write(&home.join(".gitconfig"), "[user]\n\tname = Git Person\n");
    write(&work.join("f0"), "changed\n");
    let out = run(
        no_identity(&env, &work, Some(&xdg)),
        &["commit", "-m", "two"],
    )?;
    assert!(out.status.success(), "{}", describe(&out));
    let said = stderr(&out);
    assert!(
        said.contains("cow: using user.name from ~/.gitconfig\n"),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "cow: using user.email from {}\n",
            xdg.join("git/config").display()
        )),
        "{said}"
    );
    assert_eq!(author(&env)?, "Git Person <xdg@example.com>");
    // GIT_CONFIG_GLOBAL replaces both, as in git.
    let only = env.tmp.path().join("only.gitconfig");
    write(&only, "[user]\n\tname = Only\n\temail = only@example.com\n");
    write(&work.join("f0"), "changed again\n");
    let mut cmd = no_identity(&env, &work, Some(&xdg));
    cmd.env("GIT_CONFIG_GLOBAL", &only);
    ok(cmd, &["commit", "-m", "three"])?;
    assert_eq!(author(&env)?, "Only <only@example.com>");
    // cow's own setting wins, and git is then not mentioned for it.
    ok(
        no_identity(&env, &work, Some(&xdg)),
        &["config", "user.name", "Cow Person"],
    )?;
    write(&work.join("f0"), "and again\n");
    let out = run(
        no_identity(&env, &work, Some(&xdg)),
        &["commit", "-m", "four"],
    )?;
    assert!(out.status.success(), "{}", describe(&out));
    assert!(!stderr(&out).contains("user.name"), "{}", describe(&out));
    assert_eq!(author(&env)?, "Cow Person <xdg@example.com>");
    Ok(())
}

#[test]
fn no_identity_anywhere_is_an_error_naming_the_global_config() -> Result {
    let env = Env::new();
    files(&env, 1);
    let xdg = env.tmp.path().join("xdg");
    let out = run(
        no_identity(&env, &env.work(), Some(&xdg)),
        &["commit", "-m", "x"],
    )?;
    crate::util::assert_error(&out, "cow config --global user.name");
    Ok(())
}

#[test]
fn unknown_keys_of_cows_sections_are_refused() -> Result {
    let env = Env::new();
    env.init();
    let xdg = env.tmp.path().join("xdg");
    for key in [
        "core.compresion",
        "user.nmae",
        "remote.url",
        "remote.o.uri",
        "chunking.size",
    ] {
        let out = env.cow(["config", key, "1"]);
        crate::util::assert_error(&out, &format!("unknown key '{key}'"));
        let out = run(
            no_identity(&env, &env.work(), Some(&xdg)),
            &["config", "--global", key, "1"],
        )?;
        crate::util::assert_error(&out, &format!("unknown key '{key}'"));
    }
    assert!(!xdg.join("cow/config").exists());
    // Known keys, in any case, and other sections' keys, as git takes them.
    env.cow_ok(["config", "core.Compression", "5"]);
    env.cow_ok(["config", "remote.o.pathStyle", "true"]);
    env.cow_ok(["config", "myapp.colour", "blue"]);
    env.cow_ok(["config", "myapp.sub.key", "x"]);
    assert_eq!(env.cow_ok(["config", "myapp.colour"]), "blue\n");
    let list = env.cow_ok(["config", "--list"]);
    assert!(list.contains("myapp.colour=blue\n"), "{list}");
    // A key with no section is a usage of the wrong form.
    crate::util::assert_error(&env.cow(["config", "nosection", "x"]), "section.name");
    Ok(())
}
