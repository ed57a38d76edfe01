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
