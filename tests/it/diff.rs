//! Diffs: git as the oracle for name-status and renames; patches that `git apply` and
//! GNU `patch` apply exactly; laziness; the command-line options.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::util::*;

/// A random text file: numbered lines, sometimes CRLF, sometimes without a final
/// newline, sometimes empty.
fn text(rng: &mut Rng, tag: &str) -> Vec<u8> {
    let lines = rng.pick(&[0u64, 1, 3, 12, 40]);
    let eol: &[u8] = if rng.chance(15) { b"\r\n" } else { b"\n" };
    let mut out = Vec::new();
    for i in 0..lines {
        out.extend_from_slice(format!("{tag} line {i} {}", rng.below(5)).as_bytes());
        out.extend_from_slice(eol);
    }
    if lines > 0 && rng.chance(20) {
        out.truncate(out.len() - eol.len());
    }
    out
}

const NAMES: &[&[u8]] = &[
    b"a.txt",
    b"b.rs",
    b"with space.md",
    b"caf\xc3\xa9.txt",
    b"raw\xff.txt",
    b"z",
    b"a-b",
    b"tab\there",
];

fn text_tree(rng: &mut Rng, dir: &Path, depth: u32) {
    fs::create_dir_all(dir).unwrap();
    for _ in 0..1 + rng.below(5) {
        let path = dir.join(OsStr::from_bytes(rng.pick(NAMES)));
        if fs::symlink_metadata(&path).is_ok() {
            continue;
        }
        match rng.below(8) {
            0 if depth > 0 => text_tree(rng, &path, depth - 1),
            1 => std::os::unix::fs::symlink(OsStr::from_bytes(rng.pick(NAMES)), &path).unwrap(),
            _ => {
                let tag = format!("{}", rng.below(1000));
                fs::write(&path, text(rng, &tag)).unwrap();
                set_exec(&path, rng.chance(20));
            }
        }
    }
}

/// Edits, renames (exact and with edits), deletions, additions, mode flips and
/// file <-> symlink swaps.
fn mutate_text(rng: &mut Rng, root: &Path) {
    let items = manifest(root);
    let files: Vec<&[u8]> = items
        .iter()
        .filter(|(_, i)| matches!(i, Item::File { .. }))
        .map(|(p, _)| p.as_slice())
        .collect();
    let links: Vec<&[u8]> = items
        .iter()
        .filter(|(_, i)| matches!(i, Item::Link(_)))
        .map(|(p, _)| p.as_slice())
        .collect();
    let at = |p: &[u8]| root.join(OsStr::from_bytes(p));
    for _ in 0..4 {
        match rng.below(8) {
            0 if !files.is_empty() => {
                // edit some lines
                let p = at(rng.pick(&files));
                if let Ok(data) = fs::read(&p) {
                    let mut lines: Vec<Vec<u8>> = data
                        .split_inclusive(|&b| b == b'\n')
                        .map(<[u8]>::to_vec)
                        .collect();
                    if !lines.is_empty() {
                        let i = rng.below(lines.len() as u64) as usize;
                        lines[i] = b"edited line\n".to_vec();
                    }
                    lines.insert(0, b"inserted at the top\n".to_vec());
                    fs::write(&p, lines.concat()).unwrap();
                }
            }
            1 | 2 if !files.is_empty() => {
                // rename, exactly or with a small edit
                let from = at(rng.pick(&files));
                let to = root.join(format!("moved-{}.txt", rng.below(10_000)));
                if fs::rename(&from, &to).is_ok() && rng.chance(50) {
                    let mut data = fs::read(&to).unwrap();
                    data.extend_from_slice(b"one more line\n");
                    fs::write(&to, data).unwrap();
                }
            }
            3 if !files.is_empty() => {
                let _ = fs::remove_file(at(rng.pick(&files)));
            }
            4 => {
                let p = root.join(format!("added-{}.txt", rng.below(10_000)));
                fs::write(p, text(rng, "new")).unwrap();
            }
            5 if !files.is_empty() => {
                let p = at(rng.pick(&files));
                if let Ok(m) = fs::metadata(&p) {
                    set_exec(
                        &p,
                        std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o100 == 0,
                    );
                }
            }
            6 if !files.is_empty() => {
                let p = at(rng.pick(&files));
                if fs::remove_file(&p).is_ok() {
                    std::os::unix::fs::symlink("a.txt", &p).unwrap();
                }
            }
            7 if !links.is_empty() => {
                let p = at(rng.pick(&links));
                if fs::remove_file(&p).is_ok() {
                    fs::write(&p, "was a symlink\n").unwrap();
                }
            }
            _ => {}
        }
    }
}

/// For each seed: snapshot A, mutate, snapshot B, in cow and in git.
fn pairs() -> Vec<(Env, GitMirror, String, String, String, String)> {
    (1..=12u64)
        .map(|seed| {
            let env = Env::new();
            let mut rng = Rng::new(seed * 7919);
            text_tree(&mut rng, &env.work(), 2);
            env.init();
            let mirror = GitMirror::new(&env);
            env.cow_ok(["commit", "--allow-empty", "-m", "A"]);
            let a = env.cow_ok(["rev-parse", "HEAD"]).trim().to_owned();
            let ga = mirror.snapshot("A");
            mutate_text(&mut rng, &env.work());
            env.cow_ok(["commit", "--allow-empty", "-m", "B"]);
            let b = env.cow_ok(["rev-parse", "HEAD"]).trim().to_owned();
            let gb = mirror.snapshot("B");
            (env, mirror, a, b, ga, gb)
        })
        .collect()
}

#[test]
fn name_status_matches_git_and_exact_renames_agree() {
    if !git_available() {
        return;
    }
    for (i, (env, mirror, a, b, ga, gb)) in pairs().into_iter().enumerate() {
        let cow = env.cow_ok(["diff", "--name-status", "--no-renames", &a, &b]);
        let git =
            String::from_utf8(mirror.run(&["diff", "--name-status", "--no-renames", &ga, &gb]))
                .unwrap();
        assert_eq!(cow, git, "pair {i}: --no-renames");
        let exact = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| l.starts_with("R100"))
                .map(str::to_owned)
                .collect()
        };
        let cow = env.cow_ok(["diff", "--name-status", &a, &b]);
        let git =
            String::from_utf8(mirror.run(&["diff", "--name-status", "-M", &ga, &gb])).unwrap();
        assert_eq!(
            exact(&cow),
            exact(&git),
            "pair {i}: exact renames\ncow:\n{cow}\ngit:\n{git}"
        );
        // Line counts agree with git's --numstat too.
        let cow = env.cow_ok(["diff", "--numstat", "--no-renames", &a, &b]);
        let git = String::from_utf8(mirror.run(&["diff", "--numstat", "--no-renames", &ga, &gb]))
            .unwrap();
        assert_eq!(cow, git, "pair {i}: --numstat");
        // And the patch itself, byte for byte.
        let cow = env.cow(["diff", "--no-renames", &a, &b]).stdout;
        let git = mirror.run(&["diff", "--no-renames", &ga, &gb]);
        assert_eq!(
            String::from_utf8_lossy(&cow),
            String::from_utf8_lossy(&git),
            "pair {i}: patch"
        );
    }
}

/// Files and symlinks under `dir` (directories left out: patches do not carry them).
fn files_of(dir: &Path) -> BTreeMap<Vec<u8>, Item> {
    manifest(dir)
        .into_iter()
        .filter(|(_, i)| *i != Item::Dir)
        .collect()
}

fn copy_without_store(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
    let _ = fs::remove_dir_all(to.join(".cow"));
}

#[test]
fn patches_apply_with_git_apply_and_gnu_patch() {
    if !git_available() {
        return;
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, (env, _mirror, a, b, _, _)) in pairs().into_iter().enumerate() {
        let want = files_of(&env.work());
        let patch = env.cow(["diff", &a, &b]).stdout;
        let text = String::from_utf8_lossy(&patch);
        for feature in [
            "\nnew file mode 100644\n",
            "\ndeleted file mode",
            "\nrename from ",
            "\nsimilarity index 100%",
            "\nnew mode 100755\n",
            "\nnew file mode 120000\n",
            "\n\\ No newline at end of file\n",
            "\r\n",
            "\"b/caf\\303\\251.txt\"",
        ] {
            if text.contains(feature) {
                seen.insert(feature);
            }
        }
        let plain = env.cow(["diff", "--no-renames", &a, &b]).stdout;
        env.cow_ok(["checkout", &a]);
        for (tool, patch) in [
            ("git", &patch),
            ("git", &plain),
            ("patch", &plain),
            ("patch", &patch),
        ] {
            let dir = env.tmp.path().join(format!("applied-{tool}"));
            let _ = fs::remove_dir_all(&dir);
            copy_without_store(&env.work(), &dir);
            let mut cmd = if tool == "git" {
                let mut c = git_cmd(&dir);
                c.args(["apply", "--whitespace=nowarn", "-"]);
                c
            } else {
                let mut c = std::process::Command::new("patch");
                c.current_dir(&dir).args(["-p1", "--quiet", "--force"]);
                c
            };
            let mut child = cmd
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), patch).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "pair {i}: {tool} failed: {}\n{}",
                describe(&out),
                String::from_utf8_lossy(patch)
            );
            let got = files_of(&dir);
            assert_eq!(
                got,
                want,
                "pair {i}: {tool} did not reproduce B\n{}",
                String::from_utf8_lossy(patch)
            );
        }
        env.cow_ok(["checkout", &b]);
    }
    assert_eq!(
        seen.len(),
        9,
        "the generated pairs miss some cases: saw only {seen:?}"
    );
}

#[test]
fn diff_of_a_10000_file_tree_reads_only_the_trees_on_the_changed_path() -> Result {
    use cow::Repository;
    let env = Env::new();
    let w = env.work();
    for a in 0..10 {
        for b in 0..10 {
            for c in 0..100 {
                write(
                    &w.join(format!("d{a}/e{b}/f{c}.txt")),
                    format!("{a} {b} {c}\n"),
                );
            }
        }
    }
    let repo = Repository::init(&w)?;
    let options = commit_options();
    repo.commit("A", &options)?;
    write(&w.join("d4/e2/f17.txt"), "changed\n");
    repo.commit("B", &options)?;
    let (old, new) = (repo.resolve_tree("HEAD~1")?, repo.resolve_tree("HEAD")?);
    let before = repo.odb().stats().reads;
    let changes = repo
        .diff_trees(old, new, &cow::diff::DiffOptions::default())?
        .changes;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].new_path.as_bytes(), b"d4/e2/f17.txt");
    // The root, d4 and d4/e2 on each side: none of the other 110 trees, no blob.
    assert_eq!(repo.odb().stats().reads - before, 2 * 3);
    Ok(())
}

#[test]
fn binary_empty_crlf_and_unterminated_files() {
    let env = Env::new();
    let w = env.work();
    write(&w.join("bin"), b"\x00\x01\x02binary");
    write(&w.join("crlf.txt"), "one\r\ntwo\r\n");
    write(&w.join("open.txt"), "no newline");
    write(&w.join("empty"), "");
    env.init();
    env.commit("one");
    write(&w.join("bin"), b"\x00\x01\x02binary, changed");
    write(&w.join("crlf.txt"), "one\r\nTWO\r\n");
    write(&w.join("open.txt"), "no newline\nnow ends");
    fs::remove_file(w.join("empty")).unwrap();
    write(&w.join("empty2"), "");
    env.commit("two");

    let patch = env.cow_ok(["diff", "HEAD~1", "HEAD"]);
    assert!(
        patch.contains("Binary files a/bin and b/bin differ\n"),
        "{patch}"
    );
    assert!(
        !patch.contains("binary, changed"),
        "binary content was dumped"
    );
    assert!(
        !patch.contains("-TWO") && patch.contains("+TWO\r\n"),
        "{patch:?}"
    );
    assert!(patch.contains("-no newline\n\\ No newline at end of file\n+no newline\n+now ends\n\\ No newline at end of file\n"), "{patch}");
    // An empty file moved is an exact rename.
    assert!(
        patch.contains("rename from empty\nrename to empty2\n"),
        "{patch}"
    );
    let numstat = env.cow_ok(["diff", "--numstat", "HEAD~1", "HEAD"]);
    assert_eq!(
        numstat,
        "-\t-\tbin\n1\t1\tcrlf.txt\n0\t0\tempty => empty2\n2\t1\topen.txt\n"
    );
    let stat = env.cow_ok(["diff", "--stat", "HEAD~1", "HEAD"]);
    assert!(
        stat.contains(" bin             | Bin 9 -> 18 bytes\n"),
        "{stat}"
    );
    assert!(
        stat.ends_with(" 4 files changed, 3 insertions(+), 2 deletions(-)\n"),
        "{stat}"
    );
}

#[test]
fn worktree_diffs_options_and_exit_codes() {
    let env = Env::new();
    let w = env.work();
    write(&w.join("a.txt"), "1\n2\n3\n4\n5\n6\n7\n8\n9\n");
    write(&w.join("dir/b.txt"), "b\n");
    env.init();
    env.commit("one");
    assert_eq!(env.cow_ok(["diff"]), "");
    let clean = env.cow(["diff", "--exit-code"]);
    assert_eq!(clean.status.code(), Some(0));

    write(&w.join("a.txt"), "1\n2\n3\n4\nfive\n6\n7\n8\n9\n");
    write(&w.join("new.txt"), "untracked\n");
    let patch = env.cow_ok(["diff"]);
    assert!(
        patch.contains("@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n"),
        "{patch}"
    );
    assert!(
        patch.contains("+++ b/new.txt\n"),
        "untracked files are part of the next snapshot"
    );
    let short = env.cow_ok(["diff", "-U1", "--", "a.txt"]);
    assert!(
        short.contains("@@ -4,3 +4,3 @@\n 4\n-5\n+five\n 6\n"),
        "{short}"
    );
    assert!(!short.contains("new.txt"));
    assert_eq!(env.cow_ok(["diff", "--name-only"]), "a.txt\nnew.txt\n");
    assert_eq!(
        env.cow_ok(["diff", "--name-status", "HEAD"]),
        "M\ta.txt\nA\tnew.txt\n"
    );
    // From a subdirectory, paths are relative to it.
    let out = env
        .cow_cmd(&w.join("dir"))
        .args(["diff", "--name-only", "--", "../a.txt"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "a.txt\n");
    let dirty = env.cow(["diff", "--exit-code", "--name-only"]);
    assert_eq!(dirty.status.code(), Some(1));
    assert!(dirty.stderr.is_empty());

    // Colour only when asked (stdout here is a pipe), and never under --color=never.
    assert!(!patch.contains('\x1b'));
    let colored = env.cow_ok(["diff", "--color=always"]);
    assert!(
        colored.contains("\x1b[31m-5\x1b[m\n") && colored.contains("\x1b[32m+five\x1b[m\n"),
        "{colored:?}"
    );
    let out = env
        .cow_cmd(&w)
        .env("NO_COLOR", "1")
        .args(["diff", "--color=never"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));

    // Rename thresholds.
    env.cow_ok(["commit", "-m", "two"]);
    fs::rename(w.join("a.txt"), w.join("moved.txt")).unwrap();
    write(&w.join("moved.txt"), "1\n2\n3\n4\nfive\n6\n7\n8\nnine\n");
    // git 2.47 scores this pair R079 too.
    assert_eq!(
        env.cow_ok(["diff", "--name-status"]),
        "R079\ta.txt\tmoved.txt\n"
    );
    assert_eq!(
        env.cow_ok(["diff", "--name-status", "-M79%"]),
        "R079\ta.txt\tmoved.txt\n"
    );
    assert_eq!(
        env.cow_ok(["diff", "--name-status", "-M80%"]),
        "D\ta.txt\nA\tmoved.txt\n"
    );
    assert_eq!(
        env.cow_ok(["diff", "--name-status", "--no-renames"]),
        "D\ta.txt\nA\tmoved.txt\n"
    );
    // A threshold that cannot be parsed is a usage error (exit 2).
    let bad = env.cow(["diff", "-M=abc"]);
    assert_eq!(bad.status.code(), Some(2), "{}", describe(&bad));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("use a percentage such as 50%"));
    assert_error(&env.cow(["diff", "nosuch"]), "unknown revision 'nosuch'");
}

#[test]
fn log_limited_to_paths_and_with_patches() {
    let env = Env::new();
    let w = env.work();
    write(&w.join("a"), "1\n");
    write(&w.join("b"), "1\n");
    env.init();
    env.commit("add a and b");
    write(&w.join("a"), "2\n");
    env.commit("change a");
    write(&w.join("b"), "2\n");
    env.commit("change b");
    assert_eq!(
        env.cow_ok(["log", "--oneline", "--", "a"])
            .lines()
            .map(|l| l.split_once(' ').unwrap().1)
            .collect::<Vec<_>>(),
        ["change a", "add a and b"]
    );
    let log = env.cow_ok(["log", "-p", "-n", "1"]);
    assert!(
        log.contains("    change b\n\ndiff --git a/b b/b\n"),
        "{log}"
    );
    assert!(log.contains("-1\n+2\n"));
    let log = env.cow_ok(["log", "--stat", "-n", "2"]);
    assert!(
        log.contains(
            "    change b\n\n b | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n\ncommit "
        ),
        "{log}"
    );
    let root = env.cow_ok(["log", "--name-status", "HEAD~2"]);
    assert!(root.ends_with("\n\nA\ta\nA\tb\n"), "{root}");
}

#[test]
fn worktree_diff_reads_no_unchanged_file() {
    let env = Env::new();
    for i in 0..30 {
        write(&env.work().join(format!("f{i}")), format!("{i}\n"));
    }
    env.init();
    env.commit("one");
    env.cow_ok(["status"]);
    for f in list_files(&env.work()) {
        fs::set_permissions(
            env.work().join(f),
            std::os::unix::fs::PermissionsExt::from_mode(0o000),
        )
        .unwrap();
    }
    let out = env.cow_as_nobody(&["diff", "--exit-code"]);
    assert!(out.status.success(), "{}", describe(&out));
}

#[test]
fn scores_and_stat_names_match_git_in_corner_cases() {
    let env = Env::new();
    let w = env.work();
    write(&w.join("longline"), format!("{}\n", "x".repeat(200)));
    write(&w.join("a/b/c"), "c\n");
    write(&w.join("b1"), b"bin\0ary");
    env.init();
    env.commit("one");
    fs::remove_file(w.join("longline")).unwrap();
    write(
        &w.join("longline2"),
        format!("{}{}\n", "x".repeat(100), "y".repeat(100)),
    );
    fs::rename(w.join("a/b/c"), w.join("a/c")).unwrap();
    fs::remove_dir(w.join("a/b")).unwrap();
    fs::rename(w.join("b1"), w.join("b2")).unwrap();
    env.commit("two");
    // All three as git 2.47 prints them for the same trees.
    let status = env.cow_ok(["diff", "--name-status", "HEAD~1", "HEAD"]);
    assert!(status.contains("R063\tlongline\tlongline2\n"), "{status}");
    let stat = env.cow_ok(["diff", "--stat", "HEAD~1", "HEAD"]);
    assert!(stat.contains(" a/{b => }/c "), "{stat}");
    assert!(
        stat.contains(" b1 => b2 ") && stat.contains("| Bin\n"),
        "{stat}"
    );
    let numstat = env.cow_ok(["diff", "--numstat", "HEAD~1", "HEAD"]);
    assert!(numstat.contains("-\t-\tb1 => b2\n"), "{numstat}");
}

#[test]
fn stat_layout_matches_git_for_wide_changes_and_long_names() {
    if !git_available() {
        return;
    }
    let env = Env::new();
    let w = env.work();
    let long = "very/long/directory/name/that/goes/on/forever/and/ever/file_with_a_long_name.txt";
    let lines = |n: usize, edit: Option<std::ops::Range<usize>>| -> String {
        (1..=n)
            .map(|i| match &edit {
                Some(r) if r.contains(&i) => format!("{i} changed\n"),
                _ => format!("{i}\n"),
            })
            .collect()
    };
    write(&w.join("big"), lines(100_000, None));
    write(&w.join(long), lines(30, None));
    write(&w.join("small"), lines(5, None));
    write(&w.join("bin"), b"x\0y");
    env.init();
    let mirror = GitMirror::new(&env);
    env.commit("one");
    let ga = mirror.snapshot("one");
    write(&w.join("big"), lines(100_000, Some(1000..2000)));
    write(&w.join(long), lines(40, None));
    write(&w.join("small"), lines(3, None));
    write(&w.join("bin"), b"x\0yz");
    env.commit("two");
    let gb = mirror.snapshot("two");
    let cow = env.cow_ok(["diff", "--stat", "HEAD~1", "HEAD"]);
    let git = String::from_utf8(mirror.run(&["diff", "--stat", &ga, &gb])).unwrap();
    assert_eq!(cow, git);
    assert!(
        cow.contains(" .../on/forever/and/ever/file_with_a_long_name.txt  |   10 +\n"),
        "{cow}"
    );
}

#[test]
fn huge_context_counts_clamp_to_the_file_as_git_does() -> Result {
    if !git_available() {
        return Ok(());
    }
    let env = Env::new();
    let w = env.work();
    let numbered = |edits: &[(usize, &str)]| -> String {
        (1..=40)
            .map(|i| match edits.iter().find(|(at, _)| *at == i) {
                Some((_, text)) => format!("{text}\n"),
                None => format!("line {i}\n"),
            })
            .collect()
    };
    write(&w.join("far"), numbered(&[]));
    write(&w.join("near"), numbered(&[]));
    env.init();
    let mirror = GitMirror::new(&env);
    env.commit("one");
    let ga = mirror.snapshot("one");
    // Two changes far apart (one hunk only when the context spans the gap), and one
    // at the very start of a file.
    write(
        &w.join("far"),
        numbered(&[(3, "three"), (37, "thirty-seven")]),
    );
    write(&w.join("near"), numbered(&[(1, "first")]));
    env.commit("two");
    let gb = mirror.snapshot("two");
    for n in ["0", "3", "30", "2147483647"] {
        let flag = format!("-U{n}");
        let cow = env.cow_ok(["diff", &flag, "HEAD~1", "HEAD"]);
        let git = String::from_utf8(mirror.run(&["diff", &flag, &ga, &gb]))?;
        assert_eq!(cow, git, "{flag}");
    }
    // Above 2^31 - 1, git's own int overflows and prints hunk headers such as
    // "@@ -2,1- +2,2- @@"; cow clamps to the file, as git does for any count it can
    // hold. Before the fix, -U4294967295 panicked (u32 overflow).
    let whole = env.cow_ok(["diff", "-U2147483647", "HEAD~1", "HEAD"]);
    assert!(whole.contains("@@ -1,40 +1,40 @@\n"), "{whole}");
    for n in [
        "2147483648",
        "4294967295",
        "4294967296",
        "99999999999999999999",
    ] {
        let out = env.cow(["diff", &format!("-U{n}"), "HEAD~1", "HEAD"]);
        assert!(out.status.success(), "-U{n}: {}", describe(&out));
        assert_eq!(String::from_utf8(out.stdout)?, whole, "-U{n}");
    }
    let bad = env.cow(["diff", "-Ux"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "a usage error: {}",
        describe(&bad)
    );
    assert!(String::from_utf8(bad.stderr)?.contains("'x' is not a number of lines"));
    Ok(())
}

/// Content reads through a [`cow::diff::BlobSource`], recorded by blob id; sizes can be
/// faked per id (so a "3 GiB" blob needs no 3 GiB), and content reads of chosen ids
/// fail, as reading a blob over 2 GiB into memory does.
struct Recording<'a> {
    odb: &'a cow::odb::Odb,
    read: std::cell::RefCell<Vec<cow::ObjectId>>,
    fake_sizes: BTreeMap<cow::ObjectId, u64>,
}

impl<'a> Recording<'a> {
    fn new(odb: &'a cow::odb::Odb) -> Recording<'a> {
        Recording {
            odb,
            read: Default::default(),
            fake_sizes: BTreeMap::new(),
        }
    }

    fn was_read(&self, id: &cow::ObjectId) -> bool {
        self.read.borrow().contains(id)
    }

    fn record(&self, side: &cow::diff::Side) -> std::result::Result<(), cow::diff::Error> {
        self.read.borrow_mut().push(side.id);
        match self.fake_sizes.get(&side.id) {
            Some(&size) => Err(cow::odb::Error::TooLarge {
                id: side.id,
                size,
                limit: cow::odb::MAX_IN_MEMORY_SIZE,
            }
            .into()),
            None => Ok(()),
        }
    }
}

impl cow::diff::BlobSource for Recording<'_> {
    fn blob(
        &self,
        side: &cow::diff::Side,
        path: &cow::object::RepoPath,
    ) -> std::result::Result<Vec<u8>, cow::diff::Error> {
        self.record(side)?;
        self.odb.blob(side, path)
    }

    fn size(
        &self,
        side: &cow::diff::Side,
        path: &cow::object::RepoPath,
    ) -> std::result::Result<u64, cow::diff::Error> {
        match self.fake_sizes.get(&side.id) {
            Some(&size) => Ok(size),
            None => self.odb.size(side, path),
        }
    }

    fn stream(
        &self,
        side: &cow::diff::Side,
        path: &cow::object::RepoPath,
        out: &mut dyn std::io::Write,
    ) -> std::result::Result<u64, cow::diff::Error> {
        self.record(side)?;
        self.odb.stream(side, path, out)
    }
}

fn blob_id(repo: &cow::Repository, rev: &str, path: &str) -> Result<cow::ObjectId> {
    Ok(repo.resolve(format!("{rev}:{path}"))?)
}

#[test]
fn rename_detection_reads_only_files_whose_sizes_allow_a_match() -> Result {
    use cow::Repository;
    let env = Env::new();
    let w = env.work();
    // Five files, each three times the size of the one before: at 50% no two of
    // them can be a rename of each other by size alone.
    let body = |k: u32, tag: &str| -> String {
        let lines = 400 * 3usize.pow(k);
        (0..lines).map(|i| format!("{tag} {k} {i:05}\n")).collect()
    };
    for k in 0..5 {
        write(&w.join(format!("deleted{k}.txt")), body(k, "old"));
    }
    write(&w.join("kept"), "kept\n");
    let repo = Repository::init(&w)?;
    let options = commit_options();
    repo.commit("A", &options)?;
    let edited = body(2, "old").replacen("old 2 00007", "edited", 1);
    for k in 0..5 {
        fs::remove_file(w.join(format!("deleted{k}.txt")))?;
    }
    write(&w.join("moved.txt"), &edited);
    for n in 0..3 {
        write(&w.join(format!("tiny{n}")), format!("tiny {n}\n"));
    }
    repo.commit("B", &options)?;
    let (old, new) = (repo.resolve_tree("HEAD~1")?, repo.resolve_tree("HEAD")?);

    let before = repo.odb().stats().reads;
    let outcome = repo.diff_trees(old, new, &cow::diff::DiffOptions::default())?;
    let read = repo.odb().stats().reads - before;
    let renamed: Vec<_> = outcome
        .changes
        .iter()
        .filter(|c| c.status == cow::diff::Status::Renamed)
        .map(|c| {
            (
                c.old_path.as_bytes().to_vec(),
                c.new_path.as_bytes().to_vec(),
            )
        })
        .collect();
    assert_eq!(renamed, [(b"deleted2.txt".to_vec(), b"moved.txt".to_vec())]);
    assert_eq!(outcome.rename_limit_needed, None);
    // The two root trees and the one pair whose sizes allow a match; not the other
    // four deleted files, nor the tiny ones (before: all nine blobs, whole).
    assert_eq!(read, 2 + 2);

    let recording = Recording::new(repo.odb());
    cow::diff::diff(
        repo.odb(),
        &recording,
        old,
        new,
        &cow::diff::DiffOptions::default(),
    )?;
    let mut read = recording.read.borrow().clone();
    read.sort();
    let mut want = vec![
        blob_id(&repo, "HEAD~1", "deleted2.txt")?,
        blob_id(&repo, "HEAD", "moved.txt")?,
    ];
    want.sort();
    assert_eq!(read, want);

    // Above the big-file threshold, files are paired by id only: nothing is read.
    let before = repo.odb().stats().reads;
    let small_threshold = cow::diff::DiffOptions {
        big_file_threshold: 20_000,
        ..Default::default()
    };
    let outcome = repo.diff_trees(old, new, &small_threshold)?;
    assert!(
        outcome
            .changes
            .iter()
            .all(|c| c.status != cow::diff::Status::Renamed)
    );
    assert_eq!(repo.odb().stats().reads - before, 2);

    // Without rename detection no blob is read at all (`--name-only` and
    // `--name-status` with --no-renames).
    let before = repo.odb().stats().reads;
    let no_renames = cow::diff::DiffOptions {
        renames: None,
        ..Default::default()
    };
    assert_eq!(repo.diff_trees(old, new, &no_renames)?.changes.len(), 9);
    assert_eq!(repo.odb().stats().reads - before, 2);
    Ok(())
}

#[test]
fn files_above_the_big_file_threshold_are_binary_unread_as_in_git() -> Result {
    if !git_available() {
        return Ok(());
    }
    use cow::Repository;
    use cow::diff::{self, DiffOptions, PatchOptions, StatOptions};
    let env = Env::new();
    let w = env.work();
    let lines =
        |from: usize, to: usize| -> String { (from..=to).map(|i| format!("{i}\n")).collect() };
    write(&w.join("big.txt"), lines(1, 3000));
    write(&w.join("bigmode"), lines(1, 2000));
    write(&w.join("bin"), b"x\0y");
    write(&w.join("mv"), b"moved\0binary");
    write(&w.join("small"), lines(1, 10));
    let repo = Repository::init(&w)?;
    let mirror = GitMirror::new(&env);
    repo.commit("one", &commit_options())?;
    let ga = mirror.snapshot("one");
    write(&w.join("big.txt"), lines(1, 3001));
    set_exec(&w.join("bigmode"), true);
    write(&w.join("bin"), b"x\0yz");
    fs::rename(w.join("mv"), w.join("mv2"))?;
    write(&w.join("small"), lines(2, 10));
    repo.commit("two", &commit_options())?;
    let gb = mirror.snapshot("two");

    let threshold = 1024;
    let (old, new) = (repo.resolve_tree("HEAD~1")?, repo.resolve_tree("HEAD")?);
    let blobs = Recording::new(repo.odb());
    let options = DiffOptions {
        big_file_threshold: threshold,
        ..Default::default()
    };
    let changes = diff::diff(repo.odb(), &blobs, old, new, &options)?.changes;
    let mut patch = Vec::new();
    let patch_options = PatchOptions {
        big_file_threshold: threshold,
        ..Default::default()
    };
    diff::write_patch(&mut patch, &blobs, &changes, &patch_options)?;
    let stats = diff::file_stats(
        &blobs,
        &changes,
        &StatOptions {
            big_file_threshold: threshold,
        },
    )?;
    let (mut stat, mut numstat) = (Vec::new(), Vec::new());
    diff::write_stat(&mut stat, &stats, 80, false)?;
    diff::write_numstat(&mut numstat, &stats)?;

    let git = |format: &str| {
        let mut args = vec!["-c", "core.bigFileThreshold=1k", "diff"];
        args.extend([format, &ga, &gb].iter().copied().filter(|a| !a.is_empty()));
        String::from_utf8(mirror.run(&args)).expect("utf-8")
    };
    assert_eq!(String::from_utf8(patch)?, git(""));
    assert_eq!(String::from_utf8(stat)?, git("--stat"));
    assert_eq!(String::from_utf8(numstat)?, git("--numstat"));
    let git_stat = git("--stat");
    assert!(
        git_stat.contains("| Bin 13893 -> 13898 bytes\n"),
        "{git_stat}"
    );
    // Neither side of the big files was read, not even their first bytes.
    for (rev, path) in [
        ("HEAD~1", "big.txt"),
        ("HEAD", "big.txt"),
        ("HEAD", "bigmode"),
    ] {
        let id = blob_id(&repo, rev, path)?;
        assert!(!blobs.was_read(&id), "{rev}:{path} was read");
    }
    assert!(blobs.was_read(&blob_id(&repo, "HEAD", "small")?));
    Ok(())
}

#[test]
fn changes_to_files_over_2_gib_diff_and_stat_without_reading_them() -> Result {
    use cow::Repository;
    use cow::diff::{self, DiffOptions, PatchOptions, StatOptions};
    let env = Env::new();
    let w = env.work();
    // Stand-ins: the store holds small blobs, the source claims 3 GiB for them and
    // fails any read of their content, as the store does for a blob over 2 GiB.
    write(&w.join("huge"), "old\n");
    write(&w.join("gone"), "gone, huge\n");
    write(&w.join("small"), "1\n");
    let repo = Repository::init(&w)?;
    repo.commit("one", &commit_options())?;
    write(&w.join("huge"), "new\n");
    fs::remove_file(w.join("gone"))?;
    write(&w.join("small"), "2\n");
    write(&w.join("added"), "a small new file\n");
    write(&w.join("arrived"), "arrived, huge\n");
    repo.commit("two", &commit_options())?;
    let mut blobs = Recording::new(repo.odb());
    let gib3 = 3 << 30;
    blobs
        .fake_sizes
        .insert(blob_id(&repo, "HEAD~1", "huge")?, gib3);
    blobs
        .fake_sizes
        .insert(blob_id(&repo, "HEAD", "huge")?, gib3 + 1);
    blobs
        .fake_sizes
        .insert(blob_id(&repo, "HEAD~1", "gone")?, gib3);
    blobs
        .fake_sizes
        .insert(blob_id(&repo, "HEAD", "arrived")?, gib3 + 5);

    let (old, new) = (repo.resolve_tree("HEAD~1")?, repo.resolve_tree("HEAD")?);
    // The deleted 3 GiB file is a rename candidate for the added ones: sizes rule
    // out the small one before anything is read, and files above the big-file
    // threshold are paired only by id.
    let changes = diff::diff(repo.odb(), &blobs, old, new, &DiffOptions::default())?.changes;
    let status: Vec<_> = changes
        .iter()
        .map(|c| {
            format!(
                "{}\t{}",
                c.status.letter(),
                String::from_utf8_lossy(c.new_path.as_bytes())
            )
        })
        .collect();
    assert_eq!(
        status,
        ["A\tadded", "A\tarrived", "D\tgone", "M\thuge", "M\tsmall"]
    );
    let stats = diff::file_stats(&blobs, &changes, &StatOptions::default())?;
    let mut stat = Vec::new();
    diff::write_stat(&mut stat, &stats, 80, false)?;
    assert_eq!(
        String::from_utf8(stat)?,
        " added   |   1 +\n arrived | Bin 0 -> 3221225477 bytes\n gone    | Bin 3221225472 -> 0 bytes\n huge    | Bin 3221225472 -> 3221225473 bytes\n small   |   2 +-\n 5 files changed, 2 insertions(+), 1 deletion(-)\n"
    );
    let mut numstat = Vec::new();
    diff::write_numstat(&mut numstat, &stats)?;
    assert_eq!(
        String::from_utf8(numstat)?,
        "1\t0\tadded\n-\t-\tarrived\n-\t-\tgone\n-\t-\thuge\n1\t1\tsmall\n"
    );
    let mut patch = Vec::new();
    diff::write_patch(&mut patch, &blobs, &changes, &PatchOptions::default())?;
    let patch = String::from_utf8(patch)?;
    assert!(
        patch.contains("\nBinary files a/huge and b/huge differ\n"),
        "{patch}"
    );
    assert!(
        patch.contains("\nBinary files a/gone and /dev/null differ\n"),
        "{patch}"
    );
    for id in blobs.fake_sizes.keys() {
        assert!(!blobs.was_read(id), "a 3 GiB blob was read");
    }
    Ok(())
}

#[test]
fn past_the_rename_limit_only_exact_renames_are_paired_with_a_warning_as_git() -> Result {
    if !git_available() {
        return Ok(());
    }
    let env = Env::new();
    let w = env.work();
    let body = |tag: &str| -> String { (0..20).map(|i| format!("{tag} line {i}\n")).collect() };
    write(&w.join("one.txt"), body("one"));
    write(&w.join("two.txt"), body("two"));
    write(&w.join("same"), "exactly the same\n");
    env.init();
    let mirror = GitMirror::new(&env);
    env.commit("one");
    let ga = mirror.snapshot("one");
    for (from, to) in [
        ("one.txt", "uno.txt"),
        ("two.txt", "dos.txt"),
        ("same", "identical"),
    ] {
        fs::rename(w.join(from), w.join(to))?;
    }
    let mut uno = body("one");
    uno.push_str("one more\n");
    write(&w.join("uno.txt"), uno);
    write(
        &w.join("dos.txt"),
        body("two").replace("two line 3\n", "changed\n"),
    );
    env.commit("two");
    let gb = mirror.snapshot("two");
    for limit in [None, Some("-l1"), Some("-l2"), Some("-l0")] {
        let mut args = vec!["diff", "--name-status"];
        args.extend(limit);
        args.extend(["HEAD~1", "HEAD"]);
        let cow = env.cow(&args);
        assert!(cow.status.success(), "{}", describe(&cow));
        let (git_args, tail) = args.split_at(args.len() - 2);
        let _ = tail;
        let mut git_args = git_args.to_vec();
        git_args.extend([ga.as_str(), gb.as_str()]);
        let git = mirror.run(&git_args);
        assert_eq!(
            String::from_utf8(cow.stdout)?,
            String::from_utf8(git)?,
            "{limit:?}"
        );
        let stderr = String::from_utf8(cow.stderr)?;
        if limit == Some("-l1") {
            assert_eq!(
                stderr,
                "cow: warning: exhaustive rename detection was skipped due to too many files\n\
                 cow: warning: you may want to use -l 2 (or more) and retry the command\n"
            );
        } else {
            assert_eq!(stderr, "", "{limit:?}");
        }
    }
    // log warns once, after the walk.
    let log = env.cow(["log", "--name-status", "-l1"]);
    assert!(log.status.success(), "{}", describe(&log));
    let stderr = String::from_utf8(log.stderr)?;
    assert_eq!(
        stderr.matches("rename detection was skipped").count(),
        1,
        "{stderr}"
    );
    Ok(())
}
