//! Exit codes a script can rely on, `commit --allow-unchanged`, the commit summary
//! (what changed since the parent), and `--json` on the commands that act or report:
//! commit, checkout, restore, branch and tag lists, count-objects, fsck, gc and
//! config --list. Each document is parsed and checked against the text output (and
//! git's, where git has the command).

use std::collections::BTreeMap;
use std::fs;
use std::process::Output;

use serde_json::Value;

use crate::util::*;

/// The one JSON document a command printed on stdout (checked: exit 0, a `type`,
/// `"schema": 1`, nothing on stderr).
fn doc(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", describe(out));
    assert!(out.stderr.is_empty(), "{}", describe(out));
    let text = String::from_utf8(out.stdout.clone()).expect("utf-8");
    assert_eq!(text.lines().count(), 1, "one document: {text}");
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(doc["type"].is_string(), "{doc}");
    assert_eq!(doc["schema"], 1, "{doc}");
    doc
}

fn rev_parse(env: &Env, rev: &str) -> String {
    env.cow_ok(["rev-parse", rev]).trim().to_owned()
}

/// Two working directories built by the same steps: with fixed identity and dates
/// their commits and stored bytes are equal, so one can print text and the other JSON.
fn twins(setup: impl Fn(&Env)) -> (Env, Env) {
    let (a, b) = (Env::new(), Env::new());
    setup(&a);
    setup(&b);
    (a, b)
}

fn first_snapshot(env: &Env) {
    write(&env.work().join("a.txt"), "a\n");
    write(&env.work().join("b.txt"), "b\n");
    write(&env.work().join("d/c.txt"), "c\n");
    write(&env.work().join("d/e.sh"), "#!/bin/sh\n");
    env.init();
    env.cow_ok(["commit", "-m", "first"]);
}

/// From the first snapshot: one added, one deleted, one edited, one made executable.
fn second_changes(env: &Env) {
    write(&env.work().join("new.txt"), "new\n");
    fs::remove_file(env.work().join("a.txt")).unwrap();
    write(&env.work().join("b.txt"), "b, edited\n");
    set_exec(&env.work().join("d/e.sh"), true);
}

/// `git diff --no-renames --name-status` of the mirror's last two commits, counted by
/// letter.
fn git_counts(mirror: &GitMirror) -> BTreeMap<char, u64> {
    let out = mirror.run(&["diff", "--no-renames", "--name-status", "HEAD~1", "HEAD"]);
    let mut counts = BTreeMap::new();
    for line in String::from_utf8(out).unwrap().lines() {
        *counts.entry(line.chars().next().unwrap()).or_default() += 1;
    }
    counts
}

#[test]
fn commit_summary_counts_what_changed_since_the_parent_like_git() -> Result {
    let (text_env, json_env) = twins(|env| {
        first_snapshot(env);
        second_changes(env);
    });
    let out = text_env.cow_ok(["commit", "-m", "second"]);
    let json = doc(&json_env.cow(["commit", "-m", "second", "--json"]));
    let id = rev_parse(&text_env, "HEAD");
    let mut lines = out.lines();
    // The first line is git's.
    assert_eq!(lines.next(), Some(&*format!("[main {id}] second")));
    let summary = lines.next().unwrap();
    assert_eq!(lines.next(), None);
    let bytes = json["bytes_added"].as_u64().unwrap();
    assert!(bytes > 0);
    assert_eq!(
        summary,
        format!(" 4 files changed (1 added, 1 deleted), {bytes} bytes added to the store")
    );
    // The JSON twin: the same commit, the same counts.
    assert_eq!(json["type"], "commit");
    assert_eq!(json["committed"], true);
    assert_eq!(json["reason"], Value::Null);
    assert_eq!(json["id"], id);
    assert_eq!(json["branch"], "main");
    assert_eq!(json["ref"], "refs/heads/main");
    assert_eq!(json["parent"], rev_parse(&text_env, "HEAD~1"));
    assert_eq!(
        json["parents"],
        serde_json::json!([rev_parse(&text_env, "HEAD~1")])
    );
    assert_eq!(json["tree"], rev_parse(&text_env, "HEAD^{tree}"));
    assert_eq!(
        (
            &json["changed"],
            &json["added"],
            &json["modified"],
            &json["deleted"]
        ),
        (&4.into(), &1.into(), &2.into(), &1.into())
    );
    assert_eq!(json["files"], 4);
    assert!(json["objects_written"].as_u64().unwrap() >= 5, "{json}");

    // git, the oracle: the same changes committed by git give the same counts.
    if git_available() {
        let env = Env::new();
        first_snapshot(&env);
        let mirror = GitMirror::new(&env);
        mirror.snapshot("first");
        second_changes(&env);
        let git_id = mirror.snapshot("second");
        let cow = doc(&env.cow(["commit", "-m", "second", "--json"]));
        assert_eq!(
            rev_parse(&env, "HEAD^{tree}"),
            String::from_utf8(mirror.run(&["rev-parse", &format!("{git_id}^{{tree}}")]))?.trim()
        );
        let counts = git_counts(&mirror);
        assert_eq!(cow["added"], counts.get(&'A').copied().unwrap_or(0));
        assert_eq!(cow["deleted"], counts.get(&'D').copied().unwrap_or(0));
        assert_eq!(cow["modified"], counts.get(&'M').copied().unwrap_or(0));
        assert_eq!(cow["changed"], counts.values().sum::<u64>());
    }
    Ok(())
}

#[test]
fn commit_summary_has_plurals_and_human_sizes() -> Result {
    let env = Env::new();
    first_snapshot(&env);
    // One file edited: singular, no added or deleted part.
    write(&env.work().join("b.txt"), "b2\n");
    let out = env.cow_ok(["commit", "-m", "one"]);
    let summary = out.lines().nth(1).unwrap();
    assert!(summary.starts_with(" 1 file changed, "), "{summary}");
    assert!(summary.ends_with(" bytes added to the store"), "{summary}");
    // -H: KiB with one decimal for a 20,000-byte incompressible file.
    let mut rng = Rng::new(17);
    write(&env.work().join("big.bin"), rng.bytes(20_000));
    let out = env.cow_ok(["commit", "-m", "big", "-H"]);
    let summary = out.lines().nth(1).unwrap();
    let size = summary
        .strip_prefix(" 1 file changed (1 added), ")
        .and_then(|s| s.strip_suffix(" KiB added to the store"))
        .unwrap_or_else(|| panic!("{summary}"));
    let kib: f64 = size.parse()?;
    assert!((19.5..21.0).contains(&kib), "{summary}");
    // Without -H the same kind of commit says exact bytes.
    write(&env.work().join("big2.bin"), rng.bytes(20_000));
    let out = env.cow_ok(["commit", "-m", "big2"]);
    let summary = out.lines().nth(1).unwrap();
    let bytes: u64 = summary
        .strip_prefix(" 1 file changed (1 added), ")
        .and_then(|s| s.strip_suffix(" bytes added to the store"))
        .unwrap_or_else(|| panic!("{summary}"))
        .parse()?;
    assert!(bytes > 20_000, "{summary}");
    // Two deleted, nothing added.
    fs::remove_file(env.work().join("big.bin"))?;
    fs::remove_file(env.work().join("big2.bin"))?;
    let out = env.cow_ok(["commit", "-m", "gone"]);
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .starts_with(" 2 files changed (2 deleted), "),
        "{out}"
    );
    // --allow-empty: nothing changed, only the commit is added.
    let out = env.cow_ok(["commit", "-m", "empty", "--allow-empty"]);
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .starts_with(" 0 files changed, "),
        "{out}"
    );
    Ok(())
}

#[test]
fn nothing_to_commit_is_an_error_unless_allow_unchanged() -> Result {
    let env = Env::new();
    first_snapshot(&env);
    let head = rev_parse(&env, "HEAD");
    // As git: an error, exit 1.
    let out = env.cow(["commit", "-m", "again"]);
    assert_error(&out, "nothing to commit, working directory matches HEAD");
    assert!(out.stdout.is_empty());
    // --allow-unchanged: exit 0, no commit, and it says so.
    let out = env.cow(["commit", "-m", "again", "--allow-unchanged"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        String::from_utf8(out.stdout)?,
        "nothing to commit, working directory matches HEAD\n"
    );
    assert!(out.stderr.is_empty());
    assert_eq!(rev_parse(&env, "HEAD"), head);
    let json = doc(&env.cow(["commit", "-m", "again", "--allow-unchanged", "--json"]));
    assert_eq!(json["type"], "commit");
    assert_eq!(json["committed"], false);
    assert_eq!(
        json["reason"],
        "nothing to commit, working directory matches HEAD"
    );
    assert_eq!(json["id"], Value::Null);
    assert_eq!(json["parent"], head);
    assert_eq!(json["branch"], "main");
    assert_eq!(json["tree"], rev_parse(&env, "HEAD^{tree}"));
    assert_eq!(
        (&json["changed"], &json["bytes_added"]),
        (&0.into(), &0.into())
    );
    assert_eq!(rev_parse(&env, "HEAD"), head);
    // In --json mode without the flag, the error is a JSON line on stderr, exit 1.
    let out = env.cow(["commit", "-m", "again", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(out.stdout.is_empty());
    let err: Value = serde_json::from_slice(&out.stderr)?;
    assert_eq!(err["type"], "error");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("nothing to commit")
    );
    // With a change, --allow-unchanged commits as usual.
    write(&env.work().join("a.txt"), "changed\n");
    let json = doc(&env.cow(["commit", "-m", "changed", "--allow-unchanged", "--json"]));
    assert_eq!(json["committed"], true);
    assert_eq!(json["id"], rev_parse(&env, "HEAD"));
    assert_eq!(json["parent"], head);
    assert_eq!(json["modified"], 1);
    // A new repository with nothing in it: nothing to commit, and no HEAD commit.
    let empty = Env::new();
    empty.init();
    let json = doc(&empty.cow(["commit", "-m", "x", "--allow-unchanged", "--json"]));
    assert_eq!(
        (&json["committed"], &json["parent"]),
        (&false.into(), &Value::Null)
    );
    Ok(())
}

#[test]
fn exit_codes_are_0_success_1_error_2_usage() {
    let env = Env::new();
    first_snapshot(&env);
    for args in [
        &[][..],
        &["commit", "-m", "x", "--no-such-flag"],
        &["no-such-command"],
        &["--lock-timeout=-1", "status"],
        &["--lock-timeout", "soon", "status"],
        &["gc", "--prune=yesterday"],
        &["diff", "-M5x"],
        &["branch", "--json", "topic"],
        &["tag", "--json", "v1"],
        &["config", "--json", "user.name"],
        &["checkout", "--json"],
    ] {
        let out = env.cow(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
        assert!(out.stdout.is_empty() || args.is_empty(), "{args:?}");
    }
    for args in [
        &["rev-parse", "no-such-rev"][..],
        &["checkout", "no-such-branch"],
        &["checkout", "--json", "no-such-branch"],
        &["commit", "-m", "unchanged"],
        &["config", "user.nothing"],
    ] {
        let out = env.cow(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", describe(&out));
    }
    for args in [
        &["status"][..],
        &["commit", "-m", "unchanged", "--allow-unchanged"],
        &["--lock-timeout", "0.5", "status"],
        &["gc", "--prune=2w", "-n"],
        &["diff", "-M40%"],
        &["commit", "--help"],
    ] {
        let out = env.cow(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", describe(&out));
    }
}

#[test]
fn checkout_json_is_the_plan_with_n_and_the_outcome_otherwise() -> Result {
    let setup = |env: &Env| {
        first_snapshot(env);
        second_changes(env);
        write(&env.work().join("sub/dir/f.txt"), "f\n");
        env.cow_ok(["commit", "-m", "second"]);
    };
    let (text_env, json_env) = twins(setup);
    let first = rev_parse(&text_env, "HEAD~1");
    let second = rev_parse(&text_env, "HEAD");

    // Dry run: the plan, one op per `would …` line, nothing done.
    let text = text_env.cow_ok(["checkout", "-n", "HEAD~1"]);
    let plan = doc(&json_env.cow(["checkout", "-n", "--json", "HEAD~1"]));
    assert_eq!(plan["type"], "checkout");
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["target"], first);
    let verbs = BTreeMap::from([
        ("write", "write"),
        ("remove", "remove"),
        ("remove_dir", "remove directory"),
        ("mkdir", "create directory"),
        ("set_mode", "change mode"),
    ]);
    let lines: Vec<String> = plan["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|op| {
            assert_eq!(op["type"], "op");
            let verb = verbs[op["op"].as_str().unwrap()];
            format!("would {verb} {}", op["path"].as_str().unwrap())
        })
        .collect();
    assert_eq!(lines, text.lines().collect::<Vec<_>>());
    assert!(lines.len() >= 5, "{text}");
    let write_op = plan["ops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|op| op["op"] == "write" && op["path"] == "a.txt")
        .expect("a.txt is written back");
    assert_eq!(write_op["mode"], "100644");
    assert_eq!(write_op["id"], rev_parse(&text_env, "HEAD~1:a.txt"));
    for key in ["written", "removed", "created_dirs", "modes_changed"] {
        assert_eq!(plan[key], 0, "{key}");
    }
    assert_eq!(rev_parse(&json_env, "HEAD"), second);
    assert_eq!(plan["head_before"]["branch"], "main");
    assert_eq!(plan["head_before"]["id"], second);
    assert_eq!(plan["head_after"]["detached"], true);
    assert_eq!(plan["head_after"]["id"], first);

    // Applied: the counts of the text summary, HEAD before and after.
    let text = text_env.cow_ok(["checkout", "HEAD~1"]);
    let done = doc(&json_env.cow(["checkout", "--json", "HEAD~1"]));
    assert_eq!(done["dry_run"], false);
    let summary = format!(
        "({} written, {} removed, {} directories created, {} modes changed)",
        done["written"], done["removed"], done["created_dirs"], done["modes_changed"]
    );
    assert!(text.trim_end().ends_with(&summary), "{text} vs {summary}");
    assert!(done["written"].as_u64().unwrap() >= 2);
    assert_eq!(done["head_before"]["ref"], "refs/heads/main");
    assert_eq!(done["head_before"]["detached"], false);
    assert_eq!(done["head_after"]["ref"], Value::Null);
    assert_eq!(done["head_after"]["id"], rev_parse(&json_env, "HEAD"));
    assert_eq!(done["ops"].as_array().unwrap().len(), lines.len());

    // Back to the branch: HEAD attaches.
    let back = doc(&json_env.cow(["checkout", "--json", "main"]));
    assert_eq!(back["head_before"]["detached"], true);
    assert_eq!(back["head_before"]["id"], first);
    assert_eq!(back["head_after"]["branch"], "main");
    assert_eq!(back["head_after"]["id"], second);
    // -b: a new branch, attached.
    let new = doc(&json_env.cow(["checkout", "--json", "-b", "topic"]));
    assert_eq!(new["head_after"]["ref"], "refs/heads/topic");
    assert_eq!(new["ops"], serde_json::json!([]));
    Ok(())
}

#[test]
fn restore_json_names_the_paths_restored() -> Result {
    let env = Env::new();
    first_snapshot(&env);
    write(&env.work().join("a.txt"), "scribbled\n");
    fs::remove_file(env.work().join("d/c.txt"))?;
    write(&env.work().join("b.txt"), "also scribbled\n");
    // Dry run first: the plan, nothing changed (`a.txt` holds unsaved work, so
    // --force).
    let plan = doc(&env.cow(["restore", "-n", "--force", "--json", "a.txt", "d"]));
    assert_eq!(plan["type"], "restore");
    assert_eq!(plan["dry_run"], true);
    assert_eq!(fs::read_to_string(env.work().join("a.txt"))?, "scribbled\n");
    let text = env.cow_ok(["restore", "-n", "-f", "a.txt", "d"]);
    assert_eq!(text, "would write a.txt\nwould write d/c.txt\n");
    let json = doc(&env.cow(["restore", "--force", "--json", "a.txt", "d"]));
    assert_eq!(json["dry_run"], false);
    assert_eq!(json["target"], rev_parse(&env, "HEAD"));
    let paths: Vec<&str> = json["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["a.txt", "d/c.txt"]);
    assert_eq!(json["written"], 2);
    assert_eq!(fs::read_to_string(env.work().join("a.txt"))?, "a\n");
    // b.txt was not asked for: left alone.
    assert_eq!(
        fs::read_to_string(env.work().join("b.txt"))?,
        "also scribbled\n"
    );
    Ok(())
}

#[test]
fn branch_and_tag_lists_as_json_match_the_text_lists() -> Result {
    let env = Env::new();
    first_snapshot(&env);
    let first = rev_parse(&env, "HEAD");
    write(&env.work().join("a.txt"), "a2\n");
    env.commit("second");
    env.cow_ok(["branch", "old", "HEAD~1"]);
    env.cow_ok(["tag", "v1", "HEAD~1"]);
    env.cow_ok(["tag", "v2"]);

    let check = |json: &Value| {
        let text = env.cow_ok(["branch"]);
        let from_json: Vec<String> = json["branches"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["detached"] == false)
            .map(|b| {
                assert_eq!(b["type"], "branch");
                let name = b["name"].as_str().unwrap();
                assert_eq!(b["ref"], format!("refs/heads/{name}"));
                assert_eq!(b["id"], rev_parse(&env, &format!("refs/heads/{name}")));
                assert_eq!(b["remote"], false);
                let mark = if b["current"] == true { '*' } else { ' ' };
                format!("{mark} {name}")
            })
            .collect();
        let text_lines: Vec<&str> = text.lines().filter(|l| !l.contains("detached")).collect();
        assert_eq!(from_json, text_lines);
    };
    let json = doc(&env.cow(["branch", "--json"]));
    assert_eq!(json["type"], "branches");
    check(&json);
    assert_eq!(json["branches"].as_array().unwrap().len(), 2);
    assert_eq!(json["branches"][0]["name"], "main");
    assert_eq!(json["branches"][0]["current"], true);

    // Detached: an entry marked detached, first, current; no branch is current.
    env.cow_ok(["checkout", "HEAD~1"]);
    let json = doc(&env.cow(["branch", "--json"]));
    check(&json);
    let branches = json["branches"].as_array().unwrap();
    assert_eq!(branches.len(), 3);
    assert_eq!(branches[0]["detached"], true);
    assert_eq!(branches[0]["current"], true);
    assert_eq!(branches[0]["id"], first);
    assert!(branches[1..].iter().all(|b| b["current"] == false));

    let json = doc(&env.cow(["tag", "--json"]));
    assert_eq!(json["type"], "tags");
    let names: Vec<&str> = json["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            assert_eq!(t["type"], "tag");
            assert_eq!(
                t["id"],
                rev_parse(&env, &format!("refs/tags/{}", t["name"].as_str().unwrap()))
            );
            t["name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        names,
        env.cow_ok(["tag"]).lines().collect::<Vec<_>>(),
        "same order as the text list"
    );
    assert_eq!(names, ["v1", "v2"]);
    assert_eq!(json["tags"][0]["ref"], "refs/tags/v1");
    Ok(())
}

/// `key: value` lines as a map.
fn key_values(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .map(|l| {
            let (k, v) = l.split_once(": ").unwrap();
            (k.replace('-', "_"), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn count_objects_json_has_every_count_the_text_shows() -> Result {
    let env = Env::new();
    first_snapshot(&env);
    // A chunked file (above the 1 MiB threshold), so the chunk lines show.
    let mut rng = Rng::new(3);
    write(&env.work().join("big.bin"), rng.bytes(3 << 20));
    env.commit("big");
    let text = key_values(&env.cow_ok(["count-objects"]));
    let json = doc(&env.cow(["count-objects", "--json"]));
    assert_eq!(json["type"], "count_objects");
    let names = [
        ("count", "loose"),
        ("size", "loose_bytes"),
        ("in_pack", "packed"),
        ("packs", "packs"),
        ("size_pack", "pack_bytes"),
        ("prune_packable", "prune_packable"),
        ("chunked_blobs", "chunked_blobs"),
        ("chunked_size", "chunked_bytes"),
        ("chunks", "chunks"),
        ("chunks_size", "chunk_bytes"),
        ("dedup_saved", "dedup_saved"),
    ];
    assert_eq!(text.len(), names.len(), "{text:?}");
    for (text_name, json_name) in names {
        assert_eq!(json[json_name], text[text_name], "{json_name}");
    }
    assert!(json["chunks"].as_u64().unwrap() > 1, "{json}");
    assert_eq!(json["chunked_blobs"], 1);
    Ok(())
}

#[test]
fn fsck_json_lists_each_problem_with_its_object_path_commit_and_ref() -> Result {
    let env = Env::new();
    first_snapshot(&env);
    let json = doc(&env.cow(["fsck", "--json"]));
    assert_eq!(json["type"], "fsck");
    assert_eq!(json["ok"], true);
    assert_eq!(json["problems"], serde_json::json!([]));
    let text = env.cow_ok(["fsck"]);
    assert_eq!(
        text,
        format!(
            "checked {} objects: no problems found\n",
            json["objects_checked"]
        )
    );
    // A blob goes missing.
    let blob = rev_parse(&env, "HEAD:d/c.txt");
    fs::remove_file(object_path(&env.work(), &blob))?;
    let text = env.cow(["fsck"]);
    assert_eq!(text.status.code(), Some(1));
    let out = env.cow(["fsck", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let json: Value = serde_json::from_slice(&out.stdout)?;
    let err: Value = serde_json::from_slice(&out.stderr)?;
    assert_eq!(err["type"], "error");
    assert!(
        err["message"].as_str().unwrap().contains("fsck found"),
        "{err}"
    );
    assert_eq!(
        (&json["type"], &json["schema"], &json["ok"]),
        (&"fsck".into(), &1.into(), &false.into())
    );
    let problems = json["problems"].as_array().unwrap();
    let text_lines: Vec<String> = String::from_utf8(text.stdout)?
        .lines()
        .map(|l| l.strip_prefix("error: ").unwrap().to_owned())
        .collect();
    assert_eq!(
        problems
            .iter()
            .map(|p| p["text"].as_str().unwrap())
            .collect::<Vec<_>>(),
        text_lines
    );
    let problem = problems
        .iter()
        .find(|p| p["id"] == blob)
        .unwrap_or_else(|| panic!("no problem names {blob}: {json}"));
    assert_eq!(problem["type"], "problem");
    assert_eq!(problem["path"], "d/c.txt");
    assert_eq!(problem["commit"], rev_parse(&env, "HEAD"));
    assert_eq!(problem["ref"], "refs/heads/main");
    assert!(problem["message"].is_string());
    Ok(())
}

/// The numbers in a line of text, in order.
fn numbers(line: &str) -> Vec<u64> {
    line.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

#[test]
fn gc_json_has_the_outcome_the_text_shows() -> Result {
    let env = Env::new();
    first_snapshot(&env);
    write(&env.work().join("a.txt"), "a2\n");
    env.commit("second");
    // A dry run changes nothing, so text and JSON describe the same gc.
    let text = env.cow_ok(["gc", "-n"]);
    let json = doc(&env.cow(["gc", "-n", "--json"]));
    assert_eq!(json["type"], "gc");
    assert_eq!(json["dry_run"], true);
    let lines: Vec<&str> = text.lines().collect();
    let first: Vec<Value> = numbers(lines[0]).into_iter().map(Value::from).collect();
    assert_eq!(
        first,
        [
            "reachable",
            "packed",
            "deltas",
            "in_blocks",
            "removed_loose",
            "removed_packs",
            "pruned"
        ]
        .map(|k| json[k].clone())
    );
    assert_eq!(
        numbers(lines[2]),
        [
            json["bytes_before"].as_u64().unwrap(),
            json["bytes_after"].as_u64().unwrap()
        ]
    );
    // The real thing: a new pack, named.
    let json = doc(&env.cow(["gc", "--json"]));
    assert_eq!(json["dry_run"], false);
    assert!(json["reachable"].as_u64().unwrap() >= 8);
    let pack = &json["pack"];
    assert_eq!(pack["type"], "pack");
    assert_eq!(pack["name"].as_str().unwrap().len(), 64);
    assert_eq!(pack["objects"], json["packed"]);
    assert!(pack["bytes"].as_u64().unwrap() > 0);
    assert!(json["geometry"]["kept"].is_array());
    assert!(json["geometry"]["rolled"].is_array());
    assert_eq!(json["cruft_pack"], Value::Null);
    // Again: the pack is kept as it is.
    let json = doc(&env.cow(["gc", "--json"]));
    assert_eq!(json["kept_packs"], 1);
    assert_eq!(json["geometry"]["kept"][0]["name"], pack["name"]);
    Ok(())
}

#[test]
fn config_list_json_keeps_file_order() -> Result {
    let env = Env::new();
    env.init();
    env.cow_ok(["config", "user.name", "Zed"]);
    env.cow_ok(["config", "alpha.key", "x = y"]);
    let text = env.cow_ok(["config", "--list"]);
    let json = doc(&env.cow(["config", "--list", "--json"]));
    assert_eq!(json["type"], "config");
    let pairs: Vec<String> = json["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["type"], "setting");
            format!(
                "{}={}",
                s["key"].as_str().unwrap(),
                s["value"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(pairs, text.lines().collect::<Vec<_>>());
    let last = &json["settings"].as_array().unwrap()[pairs.len() - 1];
    assert_eq!(
        (&last["key"], &last["value"]),
        (&"alpha.key".into(), &"x = y".into())
    );
    Ok(())
}

#[test]
fn commit_json_warnings_are_json_lines_on_stderr() -> Result {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    first_snapshot(&env);
    let fifo = std::ffi::CString::new(env.work().join("pipe").as_os_str().as_bytes())?;
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    write(&env.work().join("a.txt"), "a2\n");
    let out = env.cow(["commit", "-m", "x", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let doc: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(
        (&doc["committed"], &doc["modified"]),
        (&true.into(), &1.into())
    );
    let stderr = String::from_utf8(out.stderr)?;
    let warnings: Vec<Value> = stderr
        .lines()
        .map(serde_json::from_str)
        .collect::<std::result::Result<_, _>>()?;
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert_eq!(warnings[0]["type"], "warning");
    assert_eq!(warnings[0]["path"], "pipe");
    assert!(warnings[0]["message"].as_str().unwrap().contains("pipe"));
    Ok(())
}

#[test]
fn restore_json_gives_non_utf8_paths_a_base64_twin() -> Result {
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    write(&env.work().join(name), "x\n");
    env.init();
    env.commit("latin-1 name");
    fs::remove_file(env.work().join(name))?;
    let json = doc(&env.cow(["restore", "--json", "."]));
    let paths = json["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 1, "{json}");
    assert_eq!(paths[0]["path"], "caf\u{fffd}.txt");
    assert_eq!(paths[0]["path_b64"], "Y2Fm6S50eHQ=");
    assert_eq!(json["ops"][0]["path_b64"], "Y2Fm6S50eHQ=");
    assert_eq!(fs::read(env.work().join(name))?, b"x\n");
    Ok(())
}
