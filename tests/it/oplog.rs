//! The operation log: one operation per ref-changing command, undo and redo against a
//! model of the refs, the working directory on undo, gc and the log, crashes and races.

use std::collections::BTreeMap;
use std::fs;
use std::process::Stdio;
use std::time::Duration;

use cow::oplog::View;
use cow::repository::CheckoutOptions;
use cow::{ObjectId, Repository};
use serde_json::Value;

use crate::util::*;

/// `op log --json`, newest first.
fn op_log(env: &Env) -> Vec<Value> {
    env.cow_ok(["op", "log", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The changes the newest operation lists, as `ref old new` strings (`-` for none).
fn last_changes(env: &Env) -> Vec<String> {
    let ops = op_log(env);
    let side = |v: &Value| -> String {
        if v.is_null() {
            return "-".into();
        }
        match v["id"].as_str() {
            Some(id) => id[..12].to_owned(),
            None => v["ref"].as_str().unwrap().to_owned(),
        }
    };
    ops[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {} {}",
                c["ref"].as_str().unwrap(),
                side(&c["old"]),
                side(&c["new"])
            )
        })
        .collect()
}

fn short(id: &str) -> &str {
    &id.trim()[..12]
}

#[test]
fn every_ref_changing_command_records_one_operation_and_readers_none() {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a.txt"), "one\n");
    let first = env.commit("first");
    let first = short(&first).to_owned();
    // The first operation starts the log (the refs before it) and records the commit.
    let ops = op_log(&env);
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert_eq!(ops[0]["schema"], 1);
    assert!(
        ops[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("commit (initial)")
    );
    assert_eq!(ops[0]["command"], "cow commit -m first");
    assert_eq!(last_changes(&env), [format!("refs/heads/main - {first}")]);

    write(&w.join("a.txt"), "two\n");
    let second = env.commit("second");
    let second = short(&second).to_owned();
    assert_eq!(
        last_changes(&env),
        [format!("refs/heads/main {first} {second}")]
    );

    let mut count = ops.len() + 1;
    let mut step = |args: &[&str], want: Vec<String>| {
        env.cow_ok(args);
        let ops = op_log(&env);
        assert_eq!(
            ops.len(),
            count + 1,
            "{args:?} recorded {}",
            ops.len() - count
        );
        assert_eq!(last_changes(&env), want, "{args:?}");
        count += 1;
        count
    };
    step(
        &["branch", "side", &first],
        vec![format!("refs/heads/side - {first}")],
    );
    step(
        &["checkout", "-q", "side"],
        vec!["HEAD refs/heads/main refs/heads/side".into()],
    );
    step(
        &["checkout", "-q", "-b", "topic"],
        vec![
            "HEAD refs/heads/side refs/heads/topic".into(),
            format!("refs/heads/topic - {first}"),
        ],
    );
    step(&["tag", "v1"], vec![format!("refs/tags/v1 - {first}")]);
    step(
        &["tag", "-d", "v1"],
        vec![format!("refs/tags/v1 {first} -")],
    );
    step(
        &["checkout", "-q", "main"],
        vec!["HEAD refs/heads/topic refs/heads/main".into()],
    );
    step(
        &["branch", "-D", "topic"],
        vec![format!("refs/heads/topic {first} -")],
    );
    let recorded = step(
        &["checkout", "-q", &second],
        vec![format!("HEAD refs/heads/main {second}")],
    );
    // Read commands, restore (which moves no ref) and gc record nothing.
    for args in [
        &["status"][..],
        &["log"],
        &["diff", "HEAD~1"],
        &["show", "HEAD"],
        &["branch"],
        &["tag"],
        &["ls-tree", "HEAD"],
        &["fsck"],
        &["gc"],
        &["restore", "--source", "HEAD~1", "a.txt"],
        &["op", "log"],
    ] {
        env.cow_ok(args);
        assert_eq!(
            op_log(&env).len(),
            recorded,
            "{args:?} recorded an operation"
        );
    }
    // The history commands, one operation each, described.
    env.cow_ok(["checkout", "-q", "main"]);
    env.cow_ok(["restore", "--force", "--source", "HEAD", "a.txt"]);
    let recorded = op_log(&env).len();
    for (n, (args, description)) in [
        (
            &["branch", "-f", "side", "HEAD"][..],
            "force branch side to ",
        ),
        (
            &["branch", "-m", "side", "renamed"],
            "rename branch side to renamed",
        ),
        (&["tag", "-f", "v2"], "force tag v2 to "),
        (&["reset", "--soft", "HEAD~1"], "reset --soft to "),
        (
            &["commit", "-q", "--amend", "-m", "amended"],
            "commit (amend) ",
        ),
        (&["reset", "--hard", "-f", &second], "reset --hard to "),
        (&["revert", "--no-edit", "HEAD"], "revert "),
    ]
    .into_iter()
    .enumerate()
    {
        env.cow_ok(args);
        let ops = op_log(&env);
        assert_eq!(ops.len(), recorded + n + 1, "{args:?}");
        let got = ops[0]["description"].as_str().unwrap();
        assert!(got.starts_with(description), "{args:?}: {got}");
    }
}

/// The refs as the library sees them.
fn view(repo: &Repository) -> View {
    repo.current_view().unwrap()
}

#[test]
fn undo_and_redo_walk_a_random_history_back_and_forth_against_a_model() -> Result {
    let mut rng = Rng::new(7);
    let env = Env::new();
    let w = env.work();
    let repo = Repository::init(&w)?;
    write(&w.join("f.txt"), "0\n");
    repo.commit("root", &commit_options())?;
    // The model: the refs after each command, in order.
    let mut states = vec![view(&repo)];
    let force = CheckoutOptions {
        force: true,
        ..CheckoutOptions::default()
    };
    let mut made = 0;
    while states.len() < 31 {
        made += 1;
        let current = view(&repo);
        let branches: Vec<String> = current
            .refs
            .keys()
            .filter_map(|n| n.as_str().strip_prefix("refs/heads/").map(str::to_owned))
            .collect();
        let tags: Vec<String> = current
            .refs
            .keys()
            .filter_map(|n| n.as_str().strip_prefix("refs/tags/").map(str::to_owned))
            .collect();
        let head_branch = match &current.head {
            cow::refs::Value::Symbolic(name) => Some(name.shorten().to_owned()),
            cow::refs::Value::Id(_) => None,
        };
        let done = match rng.below(8) {
            0 | 1 => {
                write(&w.join("f.txt"), format!("{made}\n"));
                repo.commit(&format!("c{made}"), &commit_options()).is_ok()
            }
            2 => {
                let b = branches[rng.below(branches.len() as u64) as usize].clone();
                repo.checkout(b.as_str(), &force).is_ok()
            }
            3 => repo
                .checkout_new_branch(&format!("b{made}"), None, &force)
                .is_ok(),
            4 => repo.create_branch(&format!("x{made}"), None).is_ok(),
            5 => {
                let others: Vec<&String> = branches
                    .iter()
                    .filter(|b| Some(*b) != head_branch.as_ref())
                    .collect();
                !others.is_empty()
                    && repo
                        .delete_branch(others[rng.below(others.len() as u64) as usize], true)
                        .is_ok()
            }
            6 => repo.create_tag(&format!("t{made}"), None).is_ok(),
            _ => {
                !tags.is_empty()
                    && repo
                        .delete_tag(&tags[rng.below(tags.len() as u64) as usize])
                        .is_ok()
            }
        };
        // A command that leaves every ref as it was (checking out the current branch)
        // records no operation.
        if done && view(&repo) != current {
            states.push(view(&repo));
        }
    }
    // Undo walks back through every state, one command at a time ...
    for want in states.iter().rev().skip(1) {
        repo.undo(&force)?;
        assert_eq!(&view(&repo), want);
    }
    // ... then the first commit (its branch unborn again), and no further than the
    // log's start.
    repo.undo(&force)?;
    assert!(view(&repo).refs.is_empty());
    assert!(repo.undo(&force).is_err());
    // Redo walks forward again through every state.
    for want in &states {
        repo.redo(&force)?;
        assert_eq!(&view(&repo), want);
    }
    assert!(repo.redo(&force).is_err(), "nothing is left to redo");
    // Undo, then a new command: redo has nothing to redo.
    repo.undo(&force)?;
    repo.create_tag("fresh", None)?;
    assert!(repo.redo(&force).is_err());
    // `op restore` to any earlier operation gives its view.
    let log = repo.op_log(None)?;
    for _ in 0..10 {
        let entry = &log[rng.below(log.len() as u64) as usize];
        let want = repo.ops().read_view(&entry.op.view)?;
        repo.op_restore(&entry.id.to_string(), &force)?;
        assert_eq!(view(&repo), want, "restore to {}", entry.id);
    }
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
    Ok(())
}

#[test]
fn undoing_a_checkout_moves_the_working_directory_back_and_undoing_a_commit_does_not() {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a.txt"), "main\n");
    env.commit("on main");
    env.cow_ok(["checkout", "-q", "-b", "side"]);
    write(&w.join("a.txt"), "side\n");
    write(&w.join("only-side.txt"), "x\n");
    env.commit("on side");
    env.cow_ok(["checkout", "-q", "main"]);
    assert_eq!(fs::read_to_string(w.join("a.txt")).unwrap(), "main\n");

    // Undoing the checkout goes back to side, files and all.
    let out = env.cow_ok(["undo"]);
    assert!(out.starts_with("Undo operation "), "{out}");
    assert!(out.contains("HEAD: main → side"), "{out}");
    assert_eq!(env.cow_ok(["branch", "--show-current"]).trim(), "side");
    assert_eq!(fs::read_to_string(w.join("a.txt")).unwrap(), "side\n");
    assert!(w.join("only-side.txt").exists());

    // Undoing a commit moves the branch back and leaves the files as they are, so the
    // commit's changes show as changes again (git's reset --soft).
    write(&w.join("a.txt"), "side, edited\n");
    env.commit("edit on side");
    env.cow_ok(["undo"]);
    assert_eq!(
        fs::read_to_string(w.join("a.txt")).unwrap(),
        "side, edited\n"
    );
    assert_eq!(env.cow_ok(["status", "--porcelain"]), " M a.txt\n");
    env.cow_ok(["redo"]);
    assert_eq!(env.cow_ok(["status", "--porcelain"]), "");

    // An undo that would overwrite unsaved work is refused, naming the file, and
    // changes nothing; --force goes through.
    env.cow_ok(["checkout", "-q", "main"]);
    write(&w.join("a.txt"), "unsaved\n");
    let ops = op_log(&env).len();
    let out = env.cow(["undo"]);
    assert_error(&out, "a.txt");
    assert_eq!(op_log(&env).len(), ops);
    assert_eq!(fs::read_to_string(w.join("a.txt")).unwrap(), "unsaved\n");
    assert_eq!(env.cow_ok(["branch", "--show-current"]).trim(), "main");
    env.cow_ok(["undo", "--force"]);
    assert_eq!(env.cow_ok(["branch", "--show-current"]).trim(), "side");
    assert_eq!(
        fs::read_to_string(w.join("a.txt")).unwrap(),
        "side, edited\n"
    );
}

#[test]
fn a_deleted_branch_comes_back_after_gc_and_goes_after_abandon() {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a.txt"), "main\n");
    env.commit("on main");
    env.cow_ok(["checkout", "-q", "-b", "doomed"]);
    write(
        &w.join("big.txt"),
        "only on the doomed branch\n".repeat(100),
    );
    let tip = env.commit("on doomed");
    env.cow_ok(["checkout", "-q", "main"]);
    env.cow_ok(["branch", "-D", "doomed"]);
    // Its objects a day old: a gc with a grace of hours would prune them, but within
    // gc.opLogExpire the operations' views keep the branch's snapshots. (Not with
    // --prune=now, which drops what only the log keeps: see forget.rs.)
    age_objects(&w, 86_400);
    env.cow_ok(["gc", "--prune=12h"]);
    let out = env.cow_ok(["undo"]);
    assert!(out.contains("created branch doomed"), "{out}");
    assert_eq!(env.cow_ok(["rev-parse", "doomed"]).trim(), tip);
    assert_eq!(
        env.cow_ok(["show", "doomed:big.txt"]),
        "only on the doomed branch\n".repeat(100)
    );
    // Deleted again, and every operation before the last abandoned: gc frees it.
    env.cow_ok(["branch", "-D", "doomed"]);
    let out = env.cow_ok(["op", "abandon", "..@-"]);
    assert!(out.starts_with("Abandoned "), "{out}");
    assert_eq!(op_log(&env).len(), 1);
    env.cow_ok(["gc", "--prune=now"]);
    let id: ObjectId = tip.parse().unwrap();
    assert!(!Repository::open(&w).unwrap().odb().contains(&id));
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
    // Nothing before the log's start can be undone.
    assert_failure(&env.cow(["undo"]), 1, "nothing to undo");
}

#[test]
fn a_damaged_log_is_named_by_fsck_and_refs_changed_outside_are_recorded() {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a.txt"), "a\n");
    let first = env.commit("first");
    write(&w.join("a.txt"), "b\n");
    env.commit("second");
    // A ref moved by hand: fsck notes it (not damage); the next command records it
    // as an operation of its own before its own.
    fs::write(w.join(".cow/refs/heads/main"), format!("{first}\n")).unwrap();
    let out = env.cow_ok(["fsck"]);
    assert!(
        out.contains("note: the refs differ from the operation log's head view (refs/heads/main)"),
        "{out}"
    );
    let before = op_log(&env).len();
    env.cow_ok(["tag", "t"]);
    let ops = op_log(&env);
    assert_eq!(ops.len(), before + 2);
    assert_eq!(ops[1]["description"], "import refs changed outside cow");
    assert!(!env.cow_ok(["fsck"]).contains("note:"));
    // A damaged operation file is a problem fsck names.
    let head = ops[0]["id"].as_str().unwrap();
    let path = w.join(format!(".cow/oplog/op-{head}"));
    fs::write(&path, "{}\n").unwrap();
    let out = env.cow(["fsck"]);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(head) && text.contains("damaged"), "{text}");
    assert_failure(&env.cow(["op", "log"]), 1, head);
}

#[test]
fn killed_ref_changes_are_finished_by_the_next_writer() {
    let mut rng = Rng::new(99);
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a.txt"), "0\n");
    env.commit("start");
    let mut kills = 0;
    let mut interrupted = 0;
    let mut i = 0;
    // Until some kills have landed while an operation was being recorded (the window
    // the recovery is for), not just anywhere.
    while kills < 40 || interrupted < 3 {
        i += 1;
        assert!(
            i < 2000,
            "{kills} kills, {interrupted} recording an operation"
        );
        let mut cmd = env.cow_cmd(&w);
        match rng.below(3) {
            0 => {
                write(&w.join("a.txt"), format!("{i}\n"));
                cmd.args(["commit", "-q", "-m", &format!("c{i}")])
            }
            1 => cmd.args(["checkout", "-q", "-b", &format!("b{i}")]),
            _ => cmd.args(["tag", &format!("t{i}")]),
        };
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.below(30_000)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
        if Repository::open(&w)
            .unwrap()
            .ops()
            .head_files()
            .unwrap()
            .len()
            > 1
        {
            interrupted += 1;
        }
        // Any writer finishes what the killed one left: then the log's head
        // view is the refs, one head is left, and fsck finds nothing.
        env.cow_ok(["tag", &format!("after{i}")]);
        let repo = Repository::open(&w).unwrap();
        let head = repo.ops().head().unwrap().expect("a head");
        let head_view = repo
            .ops()
            .read_view(&repo.ops().read_op(&head).unwrap().view)
            .unwrap();
        assert_eq!(head_view, repo.current_view().unwrap(), "iteration {i}");
        assert_eq!(repo.ops().head_files().unwrap(), [head], "iteration {i}");
        let fsck = env.cow(["fsck", "--connectivity-only"]);
        let text = String::from_utf8_lossy(&fsck.stdout);
        assert!(
            fsck.status.success() && !text.contains("note:"),
            "iteration {i}: {text}"
        );
    }
    eprintln!("{i} commands, {kills} killed, {interrupted} of them recording an operation");
}

#[test]
fn racing_writers_lose_no_operation() {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a.txt"), "0\n");
    env.commit("start");
    let before = op_log(&env).len();
    std::thread::scope(|s| {
        for writer in 0..2 {
            let env = &env;
            s.spawn(move || {
                for n in 0..10 {
                    env.cow_ok(["tag", &format!("w{writer}-{n}")]);
                }
            });
        }
    });
    let ops = op_log(&env);
    assert_eq!(ops.len(), before + 20);
    // Each operation follows the one before it, and the last names every tag.
    for pair in ops.windows(2) {
        assert_eq!(pair[0]["parent"], pair[1]["id"]);
    }
    let repo = Repository::open(&w).unwrap();
    let tags: BTreeMap<_, _> = repo
        .current_view()
        .unwrap()
        .refs
        .into_iter()
        .filter(|(n, _)| n.as_str().starts_with("refs/tags/"))
        .collect();
    assert_eq!(tags.len(), 20);
}

#[test]
fn revisions_and_read_commands_can_look_at_an_earlier_operation() {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a.txt"), "a\n");
    let a = env.commit("a");
    write(&w.join("a.txt"), "b\n");
    let b = env.commit("b");
    env.cow_ok(["tag", "v1", &a]);
    env.cow_ok(["tag", "-d", "v1"]);
    // Newest first: 0 the tag's deletion, 1 its creation, 2 commit b, 3 commit a.
    let ops = op_log(&env);
    let rev = |spec: &str| env.cow_ok(["rev-parse", spec]).trim().to_owned();
    assert_eq!(rev("main@{op:0}"), b);
    assert_eq!(rev("main@{op:3}"), a);
    assert_eq!(rev("@{op:3}"), a);
    assert_eq!(rev("HEAD@{op:2}~1"), a);
    assert_eq!(rev("v1@{op:1}"), a);
    let id = ops[3]["id"].as_str().unwrap();
    assert_eq!(rev(&format!("main@{{op:{}}}", &id[..12])), a);
    assert_eq!(rev("main@{op:@---}"), a);
    // A name the view does not hold, an operation that does not exist.
    assert_failure(
        &env.cow(["rev-parse", "v1@{op:0}"]),
        1,
        "unknown revision 'v1@{op:0}'",
    );
    assert_failure(
        &env.cow(["rev-parse", "main@{op:99}"]),
        1,
        "unknown revision",
    );
    assert_failure(
        &env.cow(["rev-parse", "main@{op:zzzz}"]),
        1,
        "unknown operation",
    );

    // --at-op: read commands see that operation's refs.
    let log = env.cow_ok(["--at-op", id, "log", "--format=%H"]);
    assert_eq!(log.trim(), a);
    let at_tag = ops[1]["id"].as_str().unwrap();
    assert_eq!(env.cow_ok(["--at-op", at_tag, "tag"]), "v1\n");
    assert_eq!(env.cow_ok(["tag"]), "");
    assert_eq!(env.cow_ok(["--at-op", id, "show", "HEAD:a.txt"]), "a\n");
    // Revisions at an operation read the log itself, not the view's copy of the refs.
    assert_eq!(
        env.cow_ok(["--at-op", id, "rev-parse", "v1@{op:1}"]).trim(),
        a
    );
    // Commands that change refs refuse it, changing nothing.
    let before = op_log(&env).len();
    assert_failure(&env.cow(["--at-op", id, "tag", "t"]), 2, "--at-op");
    assert_failure(&env.cow(["--at-op", id, "commit", "-m", "x"]), 2, "--at-op");
    assert_eq!(op_log(&env).len(), before);
}

#[test]
fn push_fetch_and_pull_record_one_operation_on_each_side() {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a.txt"), "a\n");
    env.commit("a");
    // A bare-enough remote: another repository, reached by path.
    let remote_env = Env::new();
    let remote = remote_env.work();
    remote_env.init();
    // Not on main there: a push to the branch checked out is refused.
    remote_env.cow_ok(["checkout", "-b", "elsewhere"]);
    let url = remote.to_str().unwrap();
    env.cow_ok(["remote", "add", "origin", url]);
    let (here, there) = (op_log(&env).len(), op_log(&remote_env).len());
    env.cow_ok(["push", "origin", "main"]);
    let ops = op_log(&env);
    assert_eq!(ops.len(), here + 1);
    assert_eq!(ops[0]["description"], "push to origin");
    let theirs = op_log(&remote_env);
    assert_eq!(theirs.len(), there + 1, "{theirs:?}");
    assert_eq!(theirs[0]["description"], "receive a push");

    // A clone, a new commit pushed from it, then fetch and pull here.
    let clone = env.tmp.path().join("clone");
    env.cow_ok(["clone", url, clone.to_str().unwrap()]);
    write(&clone.join("b.txt"), "b\n");
    env.cow_cmd(&clone)
        .args(["commit", "-m", "b"])
        .output()
        .unwrap();
    assert!(
        env.cow_cmd(&clone)
            .args(["push"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let here = op_log(&env).len();
    env.cow_ok(["fetch", "origin"]);
    let ops = op_log(&env);
    assert_eq!(ops.len(), here + 1);
    assert!(
        ops[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("fetch from ")
    );
    env.cow_ok(["pull", "origin"]);
    let ops = op_log(&env);
    assert_eq!(ops.len(), here + 2);
    assert!(
        ops[0]["description"]
            .as_str()
            .unwrap()
            .starts_with("pull: fast-forward main")
    );
    // Undoing the pull takes main and the working directory back.
    env.cow_ok(["undo"]);
    assert!(!w.join("b.txt").exists());
    assert_eq!(env.cow_ok(["status", "--porcelain"]), "");
}

/// The head operation and its view.
fn head_and_view(w: &std::path::Path) -> (cow::oplog::OpId, View) {
    let repo = Repository::open(w).unwrap();
    let head = repo.ops().head().unwrap().unwrap();
    let view = repo
        .ops()
        .read_view(&repo.ops().read_op(&head).unwrap().view)
        .unwrap();
    (head, view)
}

#[test]
fn a_killed_operation_is_dropped_when_refs_changed_outside_meanwhile() {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a.txt"), "a\n");
    let a = env.commit("a");
    let (parent, _) = head_and_view(&w);
    env.cow_ok(["branch", "x"]);
    // As a command killed after its operation became a head and before its ref
    // moved: the parent's head file back, the branch not there.
    fs::write(w.join(format!(".cow/oplog/heads/{parent}")), "").unwrap();
    fs::remove_file(w.join(".cow/refs/heads/x")).unwrap();
    // Meanwhile a ref made by hand.
    fs::write(w.join(".cow/refs/heads/manual"), format!("{a}\n")).unwrap();
    env.cow_ok(["tag", "t"]);
    let branches = env.cow_ok(["branch"]);
    assert!(
        branches.contains("manual") && !branches.contains(" x\n"),
        "{branches}"
    );
    let ops = op_log(&env);
    assert_eq!(ops[1]["description"], "import refs changed outside cow");
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
}

#[test]
fn undo_after_refs_changed_outside_reverses_only_that() {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a.txt"), "a\n");
    let a = env.commit("a");
    env.cow_ok(["branch", "x"]);
    fs::write(w.join(".cow/refs/tags/ext"), format!("{a}\n")).unwrap();
    let out = env.cow_ok(["undo"]);
    assert!(out.contains("import refs changed outside cow"), "{out}");
    assert_eq!(env.cow_ok(["tag"]), "");
    assert!(env.cow_ok(["branch"]).contains("x"));
    env.cow_ok(["redo"]);
    assert_eq!(env.cow_ok(["tag"]), "ext\n");
}

#[test]
fn what_gc_freed_is_never_restored_and_a_clock_set_back_frees_nothing_early() {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a.txt"), "a\n");
    env.commit("a");
    // A detached commit, left by a reset; then gc with no grace for the log.
    env.cow_ok(["checkout", "-q", "--detach", "main"]);
    write(&w.join("a.txt"), "b\n");
    env.commit("b");
    env.cow_ok(["reset", "HEAD~1"]);
    env.cow_ok(["config", "gc.opLogExpire", "now"]);
    env.cow_ok(["gc", "--prune=now"]);
    let before = env.cow_ok(["rev-parse", "HEAD"]);
    assert_failure(&env.cow(["undo"]), 1, "no longer in the store");
    assert_eq!(env.cow_ok(["rev-parse", "HEAD"]), before);

    // An operation with a time from long ago on top of recent ones (a clock that was
    // wrong once) does not end gc's walk: what the recent ones name stays.
    env.cow_ok(["config", "gc.opLogExpire", "2w"]);
    env.cow_ok(["checkout", "-q", "main"]);
    env.cow_ok(["checkout", "-q", "-b", "tmp"]);
    write(&w.join("a.txt"), "only on tmp\n");
    let tip = env.commit("tmp");
    env.cow_ok(["checkout", "-q", "main"]);
    env.cow_ok(["branch", "-D", "tmp"]);
    let repo = Repository::open(&w).unwrap();
    let (head, _) = head_and_view(&w);
    let mut old = repo.ops().read_op(&head).unwrap();
    old.parent = Some(head);
    old.time.seconds = 1000;
    let id = repo.ops().write_op(&old).unwrap();
    repo.ops().sync().unwrap();
    repo.ops().set_head(id).unwrap();
    // (Aged, and a grace of hours: `--prune=now` would drop what only the log keeps.)
    age_objects(&w, 86_400);
    env.cow_ok(["gc", "--prune=12h"]);
    assert!(repo.odb().contains(&tip.parse().unwrap()));
}

/// Sets the time of every object file (loose and packed) `secs` back, so that a gc
/// with a shorter grace period would prune what is unreachable.
fn age_objects(work: &std::path::Path, secs: u64) {
    let then = std::time::SystemTime::now() - Duration::from_secs(secs);
    for entry in walkdir::WalkDir::new(work.join(".cow/objects")) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            fs::File::open(entry.path())
                .unwrap()
                .set_modified(then)
                .unwrap();
        }
    }
}

#[test]
fn a_log_without_heads_or_behind_a_link_is_refused_not_trusted() {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a.txt"), "a\n");
    env.commit("a");
    env.cow_ok(["branch", "tmp"]);
    let heads = w.join(".cow/oplog/heads");
    for entry in fs::read_dir(&heads).unwrap() {
        fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let out = env.cow(["fsck"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("heads/ names none"));
    assert_failure(&env.cow(["gc"]), 1, "heads/ names none");
    // A writer starts the log again.
    env.cow_ok(["tag", "t"]);
    assert!(env.cow_ok(["gc"]).contains("reachable"));

    // The log behind a symbolic link is neither read nor written.
    let outside = env.tmp.path().join("outside");
    fs::rename(w.join(".cow/oplog"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, w.join(".cow/oplog")).unwrap();
    let files = fs::read_dir(&outside).unwrap().count();
    assert_failure(&env.cow(["branch", "q"]), 1, "symbolic link");
    assert_eq!(fs::read_dir(&outside).unwrap().count(), files);
    assert!(!env.cow_ok(["branch"]).contains('q'));
}

#[test]
fn an_abandon_killed_while_it_swapped_heads_leaves_a_working_log() {
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("a.txt"), "a\n");
    env.commit("a");
    env.cow_ok(["branch", "x"]);
    env.cow_ok(["branch", "y"]);
    let backup = env.tmp.path().join("backup");
    fs::create_dir(&backup).unwrap();
    let oplog = w.join(".cow/oplog");
    let copy = |from: &std::path::Path, to: &std::path::Path| {
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
            }
        }
    };
    copy(&oplog, &backup);
    let (old_head, _) = head_and_view(&w);
    env.cow_ok(["op", "abandon", "..@-"]);
    let (new_head, _) = head_and_view(&w);
    // As if killed after the new head was made: the old head and files still there.
    copy(&backup, &oplog);
    fs::write(oplog.join(format!("heads/{old_head}")), "").unwrap();
    assert_eq!(head_and_view(&w).0, new_head);
    env.cow_ok(["branch", "z"]);
    assert_eq!(op_log(&env).len(), 2);
    // A name the operation's view did not hold is unknown there, whatever it is now.
    env.cow_ok(["branch", "later"]);
    assert_failure(
        &env.cow(["rev-parse", "later@{op:1}"]),
        1,
        "unknown revision",
    );
}

#[test]
fn an_operation_id_prefix_of_digits_names_that_operation_not_a_count() {
    let env = Env::new();
    env.init();
    write(&env.work().join("a.txt"), "a\n");
    let a = env.commit("a");
    // Ids are BLAKE3 hex: about one in seven starts with four decimal digits, so 120
    // tags make one all but certain (a chance of none below 1e-8).
    for n in 0..120 {
        env.cow_ok(["tag", &format!("t{n}"), &a]);
        let id = op_log(&env)[0]["id"].as_str().unwrap().to_owned();
        let digits: String = id.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.len() < 4 {
            continue;
        }
        // Counted back, a number that large names no operation; as a prefix it is
        // the operation that created the tag.
        let spec = format!("t{n}@{{op:{digits}}}");
        assert_eq!(env.cow_ok(["rev-parse", &spec]).trim(), a, "{spec}");
        // A short number still counts back: two operations ago t{n} did not exist.
        assert_failure(
            &env.cow(["rev-parse", &format!("t{n}@{{op:1}}")]),
            1,
            "unknown revision",
        );
        return;
    }
    panic!("no operation id started with four digits");
}
