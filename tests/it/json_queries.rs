//! `--json` on the query commands (status, diff, show, ls-tree, rev-parse, cat-file),
//! each document checked against the command's own text output and against git; and
//! `-z` output compared byte for byte with git's on the same trees, a name with a
//! newline and a name that is not UTF-8 among them.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde_json::Value;

use crate::util::*;

/// A name with a newline in it.
const NEWLINE: &[u8] = b"new\nline.txt";
/// A name that is not UTF-8 (`caf\xe9`, Latin-1), and its base64.
const LATIN1: &[u8] = b"caf\xe9";
const LATIN1_B64: &str = "Y2Fm6Q==";

fn at(work: &Path, name: &[u8]) -> std::path::PathBuf {
    work.join(OsStr::from_bytes(name))
}

/// Numbered lines, long enough that an edit of one keeps a rename above 50%.
fn lines(n: usize, tag: &str) -> String {
    (0..n).map(|i| format!("{tag} line {i}\n")).collect()
}

/// Snapshot A of an assorted tree, in cow and in the git mirror; then the working
/// directory is changed in every way status and diff tell apart (nothing snapshotted).
fn repo_with_changes() -> (Env, GitMirror, String, String) {
    let env = Env::new();
    let w = env.work();
    write(&w.join("keep.txt"), lines(20, "keep"));
    write(&w.join("edit.txt"), lines(10, "edit"));
    write(&w.join("gone.txt"), "gone\n");
    write(&w.join("dir/moved.txt"), lines(30, "moved"));
    write(&w.join("dir/sub/renamed-with-edit.txt"), lines(40, "r"));
    write(&w.join("tool.sh"), "#!/bin/sh\n");
    write(&w.join("link-to-be"), "a file that becomes a link\n");
    write(&w.join("bin.dat"), b"\x00\x01\x02binary\n");
    write(&at(&w, NEWLINE), "newline\n");
    write(&at(&w, LATIN1), "latin-1\n");
    env.init();
    let mirror = GitMirror::new(&env);
    let a = env.commit("A");
    let ga = mirror.snapshot("A");

    write(
        &w.join("edit.txt"),
        lines(10, "edit").replace("line 3", "LINE 3"),
    );
    fs::remove_file(w.join("gone.txt")).unwrap();
    fs::rename(w.join("dir/moved.txt"), w.join("moved-out.txt")).unwrap();
    let edited = lines(40, "r").replace("line 7\n", "line seven\n");
    fs::remove_file(w.join("dir/sub/renamed-with-edit.txt")).unwrap();
    write(&w.join("dir/sub/renamed.txt"), edited);
    set_exec(&w.join("tool.sh"), true);
    fs::remove_file(w.join("link-to-be")).unwrap();
    std::os::unix::fs::symlink("keep.txt", w.join("link-to-be")).unwrap();
    write(&w.join("bin.dat"), b"\x00\x01\x02binary, changed\n");
    write(&at(&w, NEWLINE), "newline, changed\n");
    write(&at(&w, LATIN1), "latin-1, changed\n");
    write(&w.join("untracked/a.txt"), "a\n");
    write(&w.join("untracked/b.txt"), "b\n");
    write(&w.join("new.txt"), "new\n");
    (env, mirror, a, ga)
}

/// Runs cow, asserting success; returns raw stdout.
fn cow_raw(env: &Env, args: &[&str]) -> Vec<u8> {
    let out = env.cow(args);
    assert!(out.status.success(), "cow {args:?}: {}", describe(&out));
    out.stdout
}

/// Runs cow with `--json` (among `args`), asserting success, an empty stderr and one
/// document on one line with `"schema": 1`; returns it.
fn cow_json(env: &Env, args: &[&str]) -> Value {
    let out = env.cow(args);
    assert!(out.status.success(), "cow {args:?}: {}", describe(&out));
    assert!(out.stderr.is_empty(), "cow {args:?}: {}", describe(&out));
    let text = String::from_utf8(out.stdout).expect("JSON is UTF-8");
    assert_eq!(text.lines().count(), 1, "one document on one line: {text}");
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(doc["schema"], 1, "{doc}");
    doc
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

/// A path field's bytes: its `_b64` twin when there is one, else the string.
fn path_bytes(record: &Value, field: &str) -> Vec<u8> {
    match record.get(format!("{field}_b64")) {
        Some(b64) => {
            // The only non-UTF-8 name in these trees.
            assert_eq!(str_of(b64), LATIN1_B64, "{record}");
            assert!(str_of(&record[field]).contains('\u{fffd}'), "{record}");
            LATIN1.to_vec()
        }
        None => str_of(&record[field]).as_bytes().to_vec(),
    }
}

/// Records of a `-z` output: the NUL-ended fields.
fn fields(raw: &[u8]) -> Vec<&[u8]> {
    assert!(raw.is_empty() || raw.ends_with(b"\0"), "ends with NUL");
    let mut v: Vec<&[u8]> = raw.split(|&b| b == 0).collect();
    v.pop();
    v
}

#[test]
fn status_z_is_gits_porcelain_z_byte_for_byte() {
    if !git_available() {
        return;
    }
    let (env, mirror, _, _) = repo_with_changes();
    let git = mirror.run(&["status", "--porcelain", "-z"]);
    assert!(
        git.windows(NEWLINE.len()).any(|w| w == NEWLINE),
        "the newline name is listed raw"
    );
    assert_eq!(
        String::from_utf8_lossy(&cow_raw(&env, &["status", "-z"])),
        String::from_utf8_lossy(&git)
    );
    assert_eq!(cow_raw(&env, &["status", "-z"]), git);
    assert_eq!(cow_raw(&env, &["status", "--porcelain", "-z"]), git);
    let git_all = mirror.run(&["status", "--porcelain", "-z", "-uall"]);
    assert_eq!(cow_raw(&env, &["status", "-z", "-uall"]), git_all);
}

#[test]
fn diff_z_outputs_are_gits_byte_for_byte() {
    if !git_available() {
        return;
    }
    let (env, mirror, a, ga) = repo_with_changes();
    let b = env.commit("B");
    let gb = mirror.snapshot("B");
    for format in ["--name-only", "--name-status", "--numstat"] {
        let cow = cow_raw(&env, &["diff", format, "-z", &a, &b]);
        let git = mirror.run(&["diff", format, "-z", "-M", &ga, &gb]);
        assert_eq!(
            String::from_utf8_lossy(&cow),
            String::from_utf8_lossy(&git),
            "{format}"
        );
        assert_eq!(cow, git, "{format}");
        // Raw bytes: the non-UTF-8 name and the name with a newline as they are.
        // (--numstat puts the counts before the name, in the same field).
        for name in [LATIN1, NEWLINE] {
            assert!(fields(&cow).iter().any(|f| f.ends_with(name)), "{format}");
        }
    }
    // A rename's two paths are fields of their own.
    let cow = cow_raw(&env, &["diff", "--name-status", "-z", &a, &b]);
    let f = fields(&cow);
    let r = f.iter().position(|x| x.starts_with(b"R100")).unwrap();
    assert_eq!(
        (f[r + 1], f[r + 2]),
        (&b"dir/moved.txt"[..], &b"moved-out.txt"[..])
    );
    // -z without one of those formats changes nothing (git ignores it for patches).
    assert_eq!(
        cow_raw(&env, &["diff", "-z", &a, &b]),
        cow_raw(&env, &["diff", &a, &b])
    );
}

#[test]
fn ls_tree_z_and_long_are_gits_byte_for_byte() {
    if !git_available() {
        return;
    }
    let (env, mirror, _, _) = repo_with_changes();
    env.commit("B");
    mirror.snapshot("B");
    for flags in [
        &["-z"][..],
        &["-r", "-z"],
        &["-r", "-t", "-z"],
        &["-r", "--name-only", "-z"],
        &["-l"],
        &["-r", "-t", "-l"],
        &["-r", "-l", "-z"],
    ] {
        let mut args = vec!["ls-tree"];
        args.extend_from_slice(flags);
        args.push("HEAD");
        let cow = cow_raw(&env, &args);
        let git = mirror.run(&args);
        assert_eq!(
            String::from_utf8_lossy(&cow),
            String::from_utf8_lossy(&git),
            "{flags:?}"
        );
        assert_eq!(cow, git, "{flags:?}");
    }
    // Without -z, the names are quoted; with it they are raw.
    let raw = cow_raw(&env, &["ls-tree", "-z", "HEAD"]);
    assert!(raw.windows(NEWLINE.len()).any(|w| w == NEWLINE));
    let quoted = cow_raw(&env, &["ls-tree", "HEAD"]);
    assert!(!quoted.windows(NEWLINE.len()).any(|w| w == NEWLINE));
}

#[test]
fn status_json_lists_what_porcelain_lists() {
    let (env, _, a, _) = repo_with_changes();
    let doc = cow_json(&env, &["status", "--json"]);
    assert_eq!(doc["type"], "status");
    assert_eq!(doc["branch"], "main");
    assert_eq!(doc["detached"], false);
    assert_eq!(doc["head"], a.as_str());
    assert_eq!(doc["clean"], false);
    let porcelain = cow_raw(&env, &["status", "-z"]);
    let lines = fields(&porcelain);
    let changes = doc["changes"].as_array().unwrap();
    assert_eq!(changes.len(), lines.len());
    for (change, line) in changes.iter().zip(lines) {
        assert_eq!(change["type"], "change");
        let code = match str_of(&change["status"]) {
            "untracked" => "??",
            "modified" => " M",
            "deleted" => " D",
            "type_changed" => " T",
            other => panic!("status {other}"),
        };
        let mut path = path_bytes(change, "path");
        if change["directory"] == true {
            path.push(b'/');
        }
        let mut want = format!("{code} ").into_bytes();
        want.extend_from_slice(&path);
        assert_eq!(
            String::from_utf8_lossy(&want),
            String::from_utf8_lossy(line)
        );
        // Sides: an untracked path has no old side, a deleted one no new side.
        assert_eq!(change["old_id"].is_null(), code == "??", "{change}");
        assert_eq!(change["new_id"].is_null(), code == " D", "{change}");
    }
    let by_path = |p: &str| {
        changes
            .iter()
            .find(|c| c["path"] == p)
            .unwrap_or_else(|| panic!("{p} in {doc}"))
    };
    let tool = by_path("tool.sh");
    assert_eq!(
        (&tool["old_mode"], &tool["new_mode"]),
        (&"100644".into(), &"100755".into())
    );
    assert_eq!(tool["old_id"], tool["new_id"]);
    assert_eq!(by_path("link-to-be")["new_mode"], "120000");
    assert_eq!(by_path("untracked")["directory"], true);
    // The old id is the one the snapshot holds.
    let edit = cow_raw(&env, &["rev-parse", "HEAD:edit.txt"]);
    assert_eq!(
        by_path("edit.txt")["old_id"],
        String::from_utf8(edit).unwrap().trim()
    );

    // The new id is the one a snapshot of the working directory stores.
    env.commit("B");
    for path in ["edit.txt", "link-to-be", "new.txt"] {
        let id = env.cow_ok(["rev-parse", &format!("HEAD:{path}")]);
        assert_eq!(by_path(path)["new_id"], id.trim(), "{path}");
    }
    assert_eq!(
        by_path("untracked")["new_id"],
        env.cow_ok(["rev-parse", "HEAD:untracked"]).trim()
    );

    // A clean tree, and a detached HEAD.
    env.cow_ok(["checkout", &a]);
    let doc = cow_json(&env, &["status", "--json"]);
    assert_eq!(doc["clean"], true);
    assert_eq!(doc["changes"], serde_json::json!([]));
    assert_eq!(doc["branch"], Value::Null);
    assert_eq!(doc["detached"], true);
    assert_eq!(doc["head"], a.as_str());
}

#[test]
fn diff_json_has_name_status_and_numstat_data() {
    let (env, _, a, _) = repo_with_changes();
    let b = env.commit("B");
    let name_status = env.cow_ok(["diff", "--name-status", &a, &b]);
    let numstat = env.cow_ok(["diff", "--numstat", &a, &b]);
    let doc = cow_json(&env, &["diff", "--json", &a, &b]);
    assert_eq!(doc["type"], "diff");
    // Every format flag gives the same document.
    for flag in ["--name-status", "--numstat", "--stat", "--name-only"] {
        assert_eq!(
            cow_json(&env, &["diff", flag, "--json", &a, &b]),
            doc,
            "{flag}"
        );
    }
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), name_status.lines().count());
    let z_status = cow_raw(&env, &["diff", "--name-status", "-z", &a, &b]);
    let mut z = fields(&z_status).into_iter();
    for (file, (ns, num)) in files.iter().zip(name_status.lines().zip(numstat.lines())) {
        assert_eq!(file["type"], "file");
        let letter = match str_of(&file["status"]) {
            "added" => "A",
            "deleted" => "D",
            "modified" => "M",
            "type_changed" => "T",
            "renamed" => "R",
            other => panic!("status {other}"),
        };
        // The status and paths, against --name-status -z (raw paths).
        let code = z.next().unwrap();
        match file["similarity"].as_u64() {
            Some(score) => {
                assert_eq!(code, format!("R{score:03}").as_bytes());
                assert_eq!(z.next().unwrap(), path_bytes(file, "old_path"));
            }
            None => assert_eq!(code, letter.as_bytes()),
        }
        assert_eq!(z.next().unwrap(), path_bytes(file, "new_path"));
        assert!(ns.starts_with(letter), "{ns} vs {file}");
        // Line counts, against --numstat.
        let counts: Vec<&str> = num.splitn(3, '\t').collect();
        if file["binary"] == true {
            assert_eq!(&counts[..2], ["-", "-"], "{file}");
            assert!(file["additions"].is_null() && file["deletions"].is_null());
        } else {
            assert_eq!(counts[0], file["additions"].to_string(), "{file}");
            assert_eq!(counts[1], file["deletions"].to_string(), "{file}");
        }
        // Modes and ids, against ls-tree of each side.
        for (side, rev) in [("old", &a), ("new", &b)] {
            let id = &file[format!("{side}_id")];
            if id.is_null() {
                assert!(file[format!("{side}_mode")].is_null());
                continue;
            }
            let path = path_bytes(file, &format!("{side}_path"));
            let mut spec = format!("{rev}:").into_bytes();
            spec.extend_from_slice(&path);
            let out = env.cow([OsStr::new("rev-parse"), OsStr::from_bytes(&spec)]);
            assert!(out.status.success(), "{}", describe(&out));
            assert_eq!(str_of(id), String::from_utf8(out.stdout).unwrap().trim());
        }
    }
    assert!(z.next().is_none());
    let find = |p: &str| files.iter().find(|f| f["new_path"] == p).unwrap();
    assert_eq!(find("tool.sh")["new_mode"], "100755");
    assert_eq!(find("link-to-be")["status"], "type_changed");
    assert_eq!(find("bin.dat")["binary"], true);
    let renamed = find("dir/sub/renamed.txt");
    assert_eq!(renamed["status"], "renamed");
    assert_eq!(renamed["old_path"], "dir/sub/renamed-with-edit.txt");
    assert!(renamed["similarity"].as_u64().unwrap() < 100);
    assert_eq!(
        (&renamed["additions"], &renamed["deletions"]),
        (&1.into(), &1.into())
    );

    // The working directory against HEAD, with --exit-code: the document, then exit 1.
    write(&env.work().join("keep.txt"), "changed\n");
    let out = env.cow(["diff", "--json", "--exit-code"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["files"][0]["new_path"], "keep.txt");
    assert_eq!(doc["files"][0]["deletions"], 20);
}

#[test]
fn show_json_of_a_commit_matches_git() {
    if !git_available() {
        return;
    }
    let (env, mirror, a, ga) = repo_with_changes();
    let b = env.commit("second\n\nwith a body");
    let gb = {
        mirror.run(&["add", "-A"]);
        mirror.run(&["commit", "-q", "-m", "second\n\nwith a body"]);
        String::from_utf8(mirror.run(&["rev-parse", "HEAD"])).unwrap()
    };
    assert_eq!(b, gb.trim(), "cow and git made the same commit");
    let doc = cow_json(&env, &["show", "--json", "HEAD"]);
    assert_eq!(doc["type"], "commit");
    assert_eq!(doc["id"], b.as_str());
    assert_eq!(doc["parents"], serde_json::json!([a]));
    assert_eq!(a, ga);
    let git = String::from_utf8(mirror.run(&[
        "log",
        "-1",
        "--format=%T%n%an%n%ae%n%aI%n%at%n%cn%n%ce%n%cI%n%ct",
    ]))
    .unwrap();
    let git: Vec<&str> = git.lines().collect();
    assert_eq!(doc["tree"], git[0]);
    for (who, at) in [("author", 1), ("committer", 5)] {
        let sig = &doc[who];
        assert_eq!(sig["name"], git[at], "{who}");
        assert_eq!(sig["email"], git[at + 1], "{who}");
        assert_eq!(sig["time"], git[at + 2], "{who}");
        assert_eq!(sig["unix"].to_string(), git[at + 3], "{who}");
    }
    assert_eq!(doc["author"]["time"], "2023-11-14T23:43:20+01:30");
    let message = mirror.run(&["cat-file", "commit", "HEAD"]);
    let body = message.split(|&b| b == b'\n').collect::<Vec<_>>();
    let blank = body.iter().position(|l| l.is_empty()).unwrap();
    assert_eq!(
        doc["message"],
        String::from_utf8(body[blank + 1..].join(&b'\n')).unwrap()
    );
    assert_eq!(doc["message"], "second\n\nwith a body\n");
}

#[test]
fn show_json_of_a_tree_and_a_blob() {
    let (env, _, _, _) = repo_with_changes();
    env.commit("B");
    let doc = cow_json(&env, &["show", "--json", "HEAD:dir"]);
    assert_eq!(doc["type"], "tree");
    assert_eq!(doc["mode"], "040000");
    assert_eq!(doc["id"], env.cow_ok(["rev-parse", "HEAD:dir"]).trim());
    let listing = env.cow_ok(["ls-tree", "HEAD:dir"]);
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), listing.lines().count());
    for (entry, line) in entries.iter().zip(listing.lines()) {
        let want = format!(
            "{} {} {}\t{}",
            str_of(&entry["mode"]),
            str_of(&entry["type"]),
            str_of(&entry["id"]),
            str_of(&entry["path"])
        );
        assert_eq!(want, line);
    }
    // The root, with the name that is not UTF-8.
    let doc = cow_json(&env, &["show", "--json", "HEAD:"]);
    let latin1 = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e.get("path_b64").is_some())
        .unwrap();
    assert_eq!(path_bytes(latin1, "path"), LATIN1);
    // A blob: its id and size, not its content.
    let doc = cow_json(&env, &["show", "--json", "HEAD:keep.txt"]);
    assert_eq!(doc["type"], "blob");
    assert_eq!(doc["id"], env.cow_ok(["rev-parse", "HEAD:keep.txt"]).trim());
    assert_eq!(
        doc["size"].as_u64().unwrap(),
        lines(20, "keep").len() as u64
    );
    assert_eq!(doc["mode"], "100644");
    let by_id = cow_json(&env, &["show", "--json", str_of(&doc["id"])]);
    assert_eq!(by_id["mode"], Value::Null);
    assert_eq!(by_id["size"], doc["size"]);
}

#[test]
fn ls_tree_json_lists_what_ls_tree_lists() {
    let (env, _, _, _) = repo_with_changes();
    env.commit("B");
    for flags in [&[][..], &["-r"], &["-r", "-t"], &["-l"], &["-r", "-l"]] {
        let mut args = vec!["ls-tree"];
        args.extend_from_slice(flags);
        args.push("HEAD");
        let z: Vec<u8> = {
            let mut a = args.clone();
            a.insert(1, "-z");
            cow_raw(&env, &a)
        };
        args.insert(1, "--json");
        let doc = cow_json(&env, &args);
        assert_eq!(doc["type"], "ls_tree", "{flags:?}");
        assert_eq!(doc["tree"], env.cow_ok(["rev-parse", "HEAD^{tree}"]).trim());
        let long = flags.contains(&"-l");
        let records = fields(&z);
        let entries = doc["entries"].as_array().unwrap();
        assert_eq!(entries.len(), records.len(), "{flags:?}");
        for (entry, record) in entries.iter().zip(records) {
            let size = if long {
                let size = match entry["size"].as_u64() {
                    Some(n) => n.to_string(),
                    None => {
                        assert_eq!(entry["type"], "tree");
                        "-".to_owned()
                    }
                };
                format!(" {size:>7}")
            } else {
                assert!(entry.get("size").is_none(), "{entry}");
                String::new()
            };
            let mut want = format!(
                "{} {} {}{size}\t",
                str_of(&entry["mode"]),
                str_of(&entry["type"]),
                str_of(&entry["id"])
            )
            .into_bytes();
            want.extend_from_slice(&path_bytes(entry, "path"));
            assert_eq!(
                String::from_utf8_lossy(&want),
                String::from_utf8_lossy(record),
                "{flags:?}"
            );
        }
    }
}

#[test]
fn rev_parse_and_cat_file_json() {
    let (env, _, a, _) = repo_with_changes();
    let b = env.commit("B");
    let revs = ["HEAD", "HEAD~1", "HEAD:keep.txt", "main^{tree}"];
    let text = env.cow_ok([&["rev-parse"][..], &revs].concat());
    let mut args = vec!["rev-parse", "--json"];
    args.extend(revs);
    let doc = cow_json(&env, &args);
    assert_eq!(doc["type"], "rev_parse");
    let ids: Vec<&str> = doc["ids"].as_array().unwrap().iter().map(str_of).collect();
    assert_eq!(ids, text.lines().collect::<Vec<_>>());
    assert_eq!(&ids[..2], [b.as_str(), a.as_str()]);
    for (r, rev) in doc["revisions"].as_array().unwrap().iter().zip(revs) {
        assert_eq!(r["type"], "revision");
        assert_eq!(r["rev"], rev);
        assert_eq!(r["short"], Value::Null);
    }
    let short = cow_json(&env, &["rev-parse", "--json", "--short", "HEAD"]);
    assert_eq!(
        short["revisions"][0]["short"],
        env.cow_ok(["rev-parse", "--short", "HEAD"]).trim()
    );

    for rev in ["HEAD", "HEAD:keep.txt", "HEAD:dir"] {
        let kind = env.cow_ok(["cat-file", "-t", rev]);
        let size = env.cow_ok(["cat-file", "-s", rev]);
        for flag in ["-t", "-s"] {
            let doc = cow_json(&env, &["cat-file", flag, "--json", rev]);
            assert_eq!(doc["type"], "object");
            assert_eq!(doc["kind"], kind.trim(), "{rev}");
            assert_eq!(doc["size"].to_string(), size.trim(), "{rev}");
            assert_eq!(doc["id"], env.cow_ok(["rev-parse", rev]).trim());
        }
    }
    // --json goes with -t and -s only: a usage error.
    let out = env.cow(["cat-file", "-p", "--json", "HEAD"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

#[test]
fn json_errors_are_one_json_line_on_stderr() {
    let (env, _, _, _) = repo_with_changes();
    for args in [
        &["show", "--json", "nope"][..],
        &["ls-tree", "--json", "HEAD:keep.txt"],
        &["rev-parse", "--json", "HEAD", "nope"],
        &["cat-file", "-t", "--json", "nope"],
        &["diff", "--json", "nope"],
    ] {
        let out = env.cow(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", describe(&out));
        assert!(out.stdout.is_empty(), "{args:?}: {}", describe(&out));
        let text = String::from_utf8(out.stderr).unwrap();
        assert_eq!(text.lines().count(), 1, "{args:?}: {text}");
        let line: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(line["type"], "error", "{args:?}");
        assert!(!str_of(&line["message"]).is_empty());
    }
    // Outside a repository too.
    let outside = env
        .cow_cmd(env.tmp.path())
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert_eq!(outside.status.code(), Some(1));
    let line: Value = serde_json::from_slice(&outside.stderr).unwrap();
    assert_eq!(line["type"], "error");
}

#[test]
fn json_warnings_are_json_lines_on_stderr_and_text_ones_say_cow_warning() -> Result {
    let env = Env::new();
    env.init();
    let repo = cow::Repository::open(env.work())?;
    let commit = |message: &str, parents| empty_commit(&repo, message, parents);
    // A criss-cross: a2 and b2 each merge a1 and b1, so a2...b2 has two merge bases.
    let root = commit("root", vec![]);
    let a1 = commit("a1", vec![root]);
    let b1 = commit("b1", vec![root]);
    let a2 = commit("a2", vec![a1, b1]);
    let b2 = commit("b2", vec![b1, a1]);
    let range = format!("{a2}...{b2}");
    let warned = "multiple merge bases";

    let text = env.cow(["diff", "--name-only", &range]);
    assert!(text.status.success(), "{}", describe(&text));
    let stderr = String::from_utf8(text.stderr)?;
    assert!(
        stderr.starts_with(&format!("cow: warning: {range}: {warned}")),
        "{stderr}"
    );

    let json = env.cow(["diff", "--json", &range]);
    assert!(json.status.success(), "{}", describe(&json));
    let document: Value = serde_json::from_slice(&json.stdout)?;
    assert_eq!(document["type"], "diff");
    let stderr = String::from_utf8(json.stderr)?;
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let line: Value = serde_json::from_str(&stderr)?;
    assert_eq!(line["type"], "warning");
    assert!(str_of(&line["message"]).contains(warned), "{line}");

    // Cloning a repository with no commits warns, as git does.
    let empty = env.tmp.path().join("empty");
    cow::Repository::init(&empty)?;
    let clone = env.tmp.path().join("clone");
    let out = env
        .cow_cmd(env.tmp.path())
        .args(["clone", "--json", "--no-progress"])
        .args([&empty, &clone])
        .output()?;
    assert!(out.status.success(), "{}", describe(&out));
    let document: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(document["type"], "clone");
    let stderr = String::from_utf8(out.stderr)?;
    let lines: Vec<Value> = stderr
        .lines()
        .map(serde_json::from_str)
        .collect::<serde_json::Result<_>>()?;
    assert!(
        lines
            .iter()
            .any(|l| l["type"] == "warning" && str_of(&l["message"]).contains("empty repository")),
        "{stderr}"
    );
    Ok(())
}
