//! What only the binary does: output formats, -C and subdirectories, ignore rules,
//! identity from the environment and config, broken pipes.

use std::fs;
use std::os::unix::ffi::OsStrExt;

use crate::util::*;

#[test]
fn commit_prints_id_and_summary_and_stores_message_like_git() {
    let env = Env::new();
    write(&env.work().join("a.txt"), "a\n");
    write(&env.work().join("d/b.txt"), "b\n");
    env.init();
    let out = env.cow_ok(["commit", "-m", "first"]);
    let id = env.cow_ok(["rev-parse", "HEAD"]).trim().to_owned();
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!("[main (root-commit) {id}] first")
    );
    let summary = lines.next().unwrap();
    assert!(
        summary.starts_with(" 2 files changed (2 added), "),
        "{summary}"
    );
    assert!(summary.ends_with(" bytes added to the store"), "{summary}");
    // `-m x` stores `x\n`, like git.
    let raw = env.cow_ok(["cat-file", "-p", "HEAD"]);
    assert!(raw.ends_with("\n\nfirst\n"), "{raw:?}");
    assert!(
        raw.contains(&format!("author {NAME} <{EMAIL}> {DATE}\n")),
        "{raw}"
    );
    // Counts of one are singular.
    let single = Env::new();
    write(&single.work().join("a.txt"), "a\n");
    single.init();
    let out = single.cow_ok(["commit", "-m", "one"]);
    let summary = out.lines().nth(1).unwrap();
    assert!(
        summary.starts_with(" 1 file changed (1 added), "),
        "{summary}"
    );
    // A message may start with a dash.
    write(&env.work().join("a.txt"), "dash\n");
    env.cow_ok(["commit", "-m", "-M50% looks like an option"]);
    assert!(
        env.cow_ok(["cat-file", "-p", "HEAD"])
            .ends_with("\n\n-M50% looks like an option\n")
    );
    // Several -m are paragraphs.
    write(&env.work().join("a.txt"), "a2\n");
    env.cow_ok(["commit", "-m", "subject", "-m", "body"]);
    assert!(
        env.cow_ok(["cat-file", "-p", "HEAD"])
            .ends_with("\n\nsubject\n\nbody\n")
    );
    // No progress output when stderr is not a terminal.
    write(&env.work().join("a.txt"), "a3\n");
    let out = env.cow(["commit", "-m", "third"]);
    assert!(out.stderr.is_empty(), "{}", describe(&out));
}

#[test]
fn log_show_ls_tree_and_cat_file_formats() {
    let env = Env::new();
    env.init();
    let mut ids = Vec::new();
    for i in 1..=3 {
        write(&env.work().join("n.txt"), format!("{i}\n"));
        ids.push(env.commit(&format!("commit {i}\n\nbody {i}")));
    }
    let log = env.cow_ok(["log"]);
    let expected_first = format!(
        "commit {}\nAuthor: {NAME} <{EMAIL}>\nDate:   Tue Nov 14 23:43:20 2023 +0130\n\n    commit 3\n    \n    body 3\n\ncommit {}\n",
        ids[2], ids[1]
    );
    assert!(log.starts_with(&expected_first), "{log}");
    assert_eq!(log.matches("commit ").count(), 6);

    let oneline = env.cow_ok(["log", "--oneline", "-n", "2", "HEAD~1"]);
    let lines: Vec<&str> = oneline.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(ids[1].starts_with(lines[0].split(' ').next().unwrap()));
    assert!(lines[0].ends_with(" commit 2") && lines[1].ends_with(" commit 1"));
    assert!(lines[0].split(' ').next().unwrap().len() >= 7);

    assert!(
        env.cow_ok(["show", "HEAD~2"])
            .starts_with(&format!("commit {}\n", ids[0]))
    );
    assert_eq!(env.cow_ok(["show", "HEAD~1:n.txt"]), "2\n");

    write(&env.work().join("sub/inner/x"), "x");
    std::os::unix::fs::symlink("../n.txt", env.work().join("sub/link")).unwrap();
    env.commit("sub");
    assert_eq!(
        env.cow_ok(["show", "HEAD:sub"]),
        "tree HEAD:sub\n\ninner/\nlink\n"
    );
    let x = env
        .cow_ok(["rev-parse", "HEAD:sub/inner/x"])
        .trim()
        .to_owned();
    let inner = env
        .cow_ok(["rev-parse", "HEAD:sub/inner"])
        .trim()
        .to_owned();
    let link = env.cow_ok(["rev-parse", "HEAD:sub/link"]).trim().to_owned();
    assert_eq!(
        env.cow_ok(["ls-tree", "HEAD:sub"]),
        format!("040000 tree {inner}\tinner\n120000 blob {link}\tlink\n")
    );
    assert_eq!(
        env.cow_ok(["ls-tree", "-r", "HEAD:sub"]),
        format!("100644 blob {x}\tinner/x\n120000 blob {link}\tlink\n")
    );
    assert_eq!(
        env.cow_ok(["ls-tree", "-r", "--name-only", "HEAD"]),
        "n.txt\nsub/inner/x\nsub/link\n"
    );
    assert_eq!(env.cow_ok(["cat-file", "-t", "HEAD"]), "commit\n");
    assert_eq!(env.cow_ok(["cat-file", "-t", "HEAD:sub"]), "tree\n");
    assert_eq!(env.cow_ok(["cat-file", "-t", &x]), "blob\n");
    assert_eq!(env.cow_ok(["cat-file", "-s", &x]), "1\n");
    assert_eq!(env.cow_ok(["cat-file", "-p", &link]), "../n.txt");
    assert_eq!(
        env.cow_ok(["cat-file", "-p", &inner]),
        format!("100644 blob {x}\tx\n")
    );
    assert!(env.cow(["cat-file", "-e", &x]).status.success());
    let missing = env.cow(["cat-file", "-e", &"0".repeat(64)]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(missing.stderr.is_empty());
    assert_eq!(env.cow_ok(["rev-parse", "--short", "HEAD"]).trim().len(), 7);
}

#[test]
fn non_utf8_names_snapshot_and_read_back() {
    let env = Env::new();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9-\xff.bin");
    write(&env.work().join(name), b"\x00\xff raw bytes");
    env.init();
    env.commit("latin-1 name");
    let listing = env.cow_ok(["ls-tree", "HEAD"]);
    assert!(listing.ends_with("\t\"caf\\351-\\377.bin\"\n"), "{listing}");
    let mut spec = b"HEAD:".to_vec();
    spec.extend_from_slice(name.as_bytes());
    let out = env.cow([
        std::ffi::OsStr::new("show"),
        std::ffi::OsStr::from_bytes(&spec),
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(out.stdout, b"\x00\xff raw bytes");
    let raw = env.cow(["ls-tree", "-z", "--name-only", "HEAD"]).stdout;
    assert_eq!(raw, [name.as_bytes(), b"\0"].concat());
}

#[test]
fn dash_c_and_subdirectories_find_the_repository() {
    let env = Env::new();
    write(&env.work().join("top.txt"), "top\n");
    write(&env.work().join("a/b/deep.txt"), "deep\n");
    let out = env
        .cow_cmd(env.tmp.path())
        .args(["-C", "work", "init"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let deep = env.work().join("a/b");
    let out = env
        .cow_cmd(&deep)
        .args(["commit", "-m", "from below"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    // The whole working directory was snapshotted, not just the subdirectory.
    assert_eq!(
        env.cow_ok(["ls-tree", "-r", "--name-only", "HEAD"]),
        "a/b/deep.txt\ntop.txt\n"
    );
    let out = env
        .cow_cmd(env.tmp.path())
        .args(["-C", "work/a", "log", "--oneline"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(" from below\n"));
    // init DIR makes the directory.
    let out = env
        .cow_cmd(env.tmp.path())
        .args(["init", "fresh/repo"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(env.tmp.path().join("fresh/repo/.cow/HEAD").is_file());
}

#[test]
fn cowignore_rules_nest_like_gitignore_and_dot_cow_is_never_stored() {
    let env = Env::new();
    let w = env.work();
    write(&w.join(".cowignore"), "*.log\n/build/\n!keep.log\n");
    write(&w.join("app.log"), "x");
    write(&w.join("keep.log"), "kept by negation");
    write(&w.join("build/out.o"), "x");
    write(
        &w.join("src/build/generated.rs"),
        "not anchored at src, kept",
    );
    write(&w.join("src/.cowignore"), "secret*\n");
    write(&w.join("src/secret.key"), "x");
    write(&w.join("src/main.rs"), "fn main() {}\n");
    write(&w.join("src/deep/secret.txt"), "ignored by the nested rule");
    write(
        &w.join("other/secret.txt"),
        "kept: the nested rule is scoped to src",
    );
    write(&w.join(".gitignore"), "*.rs\n"); // ordinary content, not read
    env.init();
    env.commit("ignore rules");
    let listed = env.cow_ok(["ls-tree", "-r", "--name-only", "HEAD"]);
    assert_eq!(
        listed,
        ".cowignore\n.gitignore\nkeep.log\nother/secret.txt\nsrc/.cowignore\nsrc/build/generated.rs\nsrc/main.rs\n"
    );
    assert!(!listed.contains(".cow/"));
}

#[test]
fn identity_falls_back_per_variable_then_to_config() {
    let env = Env::new();
    write(&env.work().join("f"), "1");
    env.init();
    let out = env
        .cow_cmd(&env.work())
        .env("COW_COMMITTER_NAME", "Committer")
        .env("COW_COMMITTER_DATE", "1800000000 -0500")
        .args(["commit", "-m", "x"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let raw = env.cow_ok(["cat-file", "-p", "HEAD"]);
    assert!(
        raw.contains(&format!("\nauthor {NAME} <{EMAIL}> {DATE}\n")),
        "{raw}"
    );
    assert!(
        raw.contains(&format!(
            "\ncommitter Committer <{EMAIL}> 1800000000 -0500\n"
        )),
        "{raw}"
    );

    env.cow_ok(["config", "user.name", "Config Name"]);
    env.cow_ok(["config", "user.email", "config@example.com"]);
    assert_eq!(env.cow_ok(["config", "user.name"]), "Config Name\n");
    assert_eq!(env.cow(["config", "user.nothing"]).status.code(), Some(1));
    write(&env.work().join("f"), "2");
    let out = env
        .cow_cmd(&env.work())
        .env_remove("COW_AUTHOR_NAME")
        .env_remove("COW_AUTHOR_EMAIL")
        .args(["commit", "-m", "y"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let raw = env.cow_ok(["cat-file", "-p", "HEAD"]);
    assert!(
        raw.contains("\nauthor Config Name <config@example.com> 1700000000 +0130\n"),
        "{raw}"
    );
    assert!(
        raw.contains("\ncommitter Config Name <config@example.com> 1700000000 +0130\n"),
        "{raw}"
    );
}

#[test]
fn broken_pipe_ends_quietly() {
    let env = Env::new();
    env.init();
    for i in 0..30 {
        write(&env.work().join("f"), format!("{i}"));
        env.cow_ok(["commit", "-m", &format!("commit {i}")]);
    }
    let big = env.work().join("big");
    fs::write(&big, vec![b'x'; 4 << 20]).unwrap();
    env.cow_ok(["commit", "-m", "big"]);
    for cmd in ["log", "show HEAD:big"] {
        let script = format!(
            "'{}' {cmd} | head -c 10 >/dev/null; echo \"${{PIPESTATUS[0]}}\"",
            env!("CARGO_BIN_EXE_cow")
        );
        let out = env
            .cow_cmd(&env.work())
            .args(["--version"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(env.work())
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "0",
            "{cmd}: {}",
            describe(&out)
        );
        assert!(out.stderr.is_empty(), "{cmd}: {}", describe(&out));
    }
}

#[test]
fn special_files_and_nested_dot_cow_are_skipped_with_a_warning() {
    let env = Env::new();
    let w = env.work();
    write(&w.join("kept.txt"), "kept\n");
    write(&w.join("vendor/.cow/HEAD"), "another repository's store\n");
    write(&w.join("vendor/.COW"), "reserved in any case\n");
    let status = std::process::Command::new("mkfifo")
        .arg(w.join("pipe"))
        .status()
        .unwrap();
    assert!(status.success());
    env.init();
    let out = env.cow(["commit", "-m", "with a fifo"]);
    assert!(out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cow: warning: skipped 'pipe'"), "{stderr}");
    assert!(
        stderr.contains("cow: warning: skipped 'vendor/.cow'"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cow: warning: skipped 'vendor/.COW'"),
        "{stderr}"
    );
    assert_eq!(
        env.cow_ok(["ls-tree", "-r", "--name-only", "HEAD"]),
        "kept.txt\n"
    );
}

#[test]
fn core_compression_sets_the_level_of_new_objects_and_a_bad_one_is_refused() {
    // Text with some entropy, where zstd's levels differ.
    let mut rng = Rng::new(5);
    let words = [
        "copy", "on", "write", "snapshot", "tree", "blob", "store", "id",
    ];
    let text: String = (0..40_000)
        .map(|_| rng.pick(&words).to_owned() + " ")
        .collect();
    let stored = |level: &str| {
        let env = Env::new();
        write(&env.work().join("words.txt"), &text);
        env.init();
        env.cow_ok(["config", "core.compression", level]);
        env.commit("words");
        let id = env.cow_ok(["rev-parse", "HEAD:words.txt"]);
        let id = id.trim();
        let path = object_path(&env.work(), id);
        (fs::metadata(path).unwrap().len(), id.to_owned())
    };
    let (fast, id_fast) = stored("1");
    let (small, id_small) = stored("19");
    assert_eq!(id_fast, id_small);
    assert!(small < fast, "level 19: {small} bytes, level 1: {fast}");

    let env = Env::new();
    write(&env.work().join("a"), "a\n");
    env.init();
    assert_error(
        &env.cow(["config", "core.compression", "fast"]),
        "invalid value 'fast' for 'core.compression': a zstd level from 1 to 19 is needed",
    );
    // Written by hand, the commit refuses it.
    let config = env.work().join(".cow/config");
    let text = fs::read_to_string(&config).unwrap() + "[core]\n\tcompression = fast\n";
    fs::write(&config, text).unwrap();
    assert_error(
        &env.cow(["commit", "-m", "x"]),
        "core.compression must be a zstd level from 1 to 19, not 'fast'",
    );
    assert_eq!(count_objects(&env.work()), 0);
    assert_error(&env.cow(["log"]), "");
}

/// `cow --help` lists every command with its one-line description, and each command's
/// own help starts with that description (the descriptions live on the subcommand enum,
/// whose arguments clap builds only for the command invoked).
#[test]
fn help_describes_every_command() {
    let env = Env::new();
    let help = env.cow_ok(["--help"]);
    for (command, about) in [
        ("init", "Create an empty repository"),
        ("commit", "Snapshot the whole working directory"),
        ("status", "Show what changed in the working directory"),
        ("log", "Show the history, newest first"),
        ("diff", "Show changes between snapshots"),
        ("show", "Show a commit"),
        ("ls-tree", "List a directory of a snapshot"),
        ("rev-parse", "Print the full id each revision names"),
        ("cat-file", "Show an object's content, kind or size"),
        ("checkout", "Move the working directory and HEAD"),
        ("restore", "Bring paths back from a snapshot"),
        ("branch", "List, create or delete branches"),
        ("tag", "List, create or delete tags"),
        ("config", "Get or set a repository setting"),
        ("remote", "List, add, remove or show remotes"),
        ("fsck", "Verify the store"),
        ("gc", "Repack everything reachable"),
        ("count-objects", "Count loose and packed objects"),
        ("stats", "Show what snapshots hold and cost"),
    ] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(command) && l.contains(about)),
            "{command}: {help}"
        );
        let own = env.cow_ok([command, "--help"]);
        assert!(own.starts_with(about), "{command} --help: {own}");
        assert!(own.contains(&format!("Usage: cow {command}")), "{own}");
    }
}
