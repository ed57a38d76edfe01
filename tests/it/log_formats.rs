//! `cow log` for scripts and for git fingers: `--json`, `-N`, `--oneline` with
//! decorations, `--all`, `--reverse`, `--author`, `--since`/`--until`, `--format` and
//! `--date`, compared byte for byte with git's output for the same history (cow's ids
//! equal git's when the commits are the same).

use std::process::Command;

use crate::util::*;

/// A history made twice, in cow and in a git mirror over the same working directory,
/// with the same authors, dates and messages; so the same ids.
struct Twin {
    env: Env,
    mirror: GitMirror,
}

/// Dates of the commits: days apart, in different offsets.
const D1: &str = "1700000000 +0130";
const D2: &str = "1700259200 -0800";
const D3: &str = "1700864000 +0000";
const D4: &str = "1700950400 +0530";
const D5: &str = "1701036800 +0100";

impl Twin {
    fn git(&self, args: &[&str]) -> Command {
        let mut cmd = git_cmd(&self.env.work());
        cmd.arg(format!("--git-dir={}", self.mirror.git_dir.display()))
            .arg(format!("--work-tree={}", self.env.work().display()))
            .args(args);
        cmd
    }

    fn git_out(&self, args: &[&str]) -> Vec<u8> {
        let out = self.git(args).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", describe(&out));
        out.stdout
    }

    /// Commits the working directory in both, as `name`, at `date`; returns the id.
    fn commit(&self, message: &str, name: &str, date: &str) -> String {
        let out = self
            .env
            .cow_cmd(&self.env.work())
            .args(["commit", "-m", message])
            .env("COW_AUTHOR_NAME", name)
            .env("COW_AUTHOR_DATE", date)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        self.git_out(&["add", "-A"]);
        let out = self
            .git(&["commit", "-q", "--allow-empty", "-m", message])
            .env("GIT_AUTHOR_NAME", name)
            .env("GIT_COMMITTER_NAME", name)
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        let cow_id = self.env.cow_ok(["rev-parse", "HEAD"]).trim().to_owned();
        let git_id = String::from_utf8(self.git_out(&["rev-parse", "HEAD"])).unwrap();
        assert_eq!(cow_id, git_id.trim(), "the same commit in cow and git");
        cow_id
    }

    /// Moves HEAD (cow's checkout, git's symbolic-ref) to `branch`.
    fn switch(&self, branch: &str) {
        self.env.cow_ok(["checkout", branch]);
        self.git_out(&["symbolic-ref", "HEAD", &format!("refs/heads/{branch}")]);
        self.git_out(&["read-tree", "HEAD"]);
    }

    /// Makes the same branch in both.
    fn branch(&self, name: &str, at: &str) {
        self.env.cow_ok(["branch", name, at]);
        self.git_out(&["branch", name, at]);
    }

    /// Merges `other` into branch `onto` (its tree taken from `other`), at `date`, in
    /// both: written through the library and by `git commit-tree`; returns the id.
    fn merge(&self, onto: &str, other: &str, message: &str, date: &str) -> String {
        let repo = cow::Repository::open(self.env.work()).unwrap();
        let second = repo.resolve_commit(other).unwrap();
        let tree = repo.odb().find_commit(&second).unwrap().tree;
        self.merge_tree(onto, &[onto, other], tree, message, date)
    }

    /// Makes branch `onto` a merge of `parents` (revisions) with the working
    /// directory's content, at `date`, in both; returns the id.
    fn merge_worktree(&self, onto: &str, parents: &[&str], message: &str, date: &str) -> String {
        let repo = cow::Repository::open(self.env.work()).unwrap();
        let parents: Vec<String> = parents
            .iter()
            .map(|p| repo.resolve_commit(p).unwrap().to_string())
            .collect();
        // The content, committed on `onto` first (that commit is then left behind).
        let snapshot = self.commit("snapshot", NAME, date);
        let tree = repo
            .odb()
            .find_commit(&snapshot.parse().unwrap())
            .unwrap()
            .tree;
        let parents: Vec<&str> = parents.iter().map(String::as_str).collect();
        self.merge_tree(onto, &parents, tree, message, date)
    }

    /// Makes branch `onto` a commit of `tree` with `parents` (revisions), at `date`, in
    /// both: written through the library and by `git commit-tree`; returns the id.
    fn merge_tree(
        &self,
        onto: &str,
        parents: &[&str],
        tree: cow::ObjectId,
        message: &str,
        date: &str,
    ) -> String {
        let repo = cow::Repository::open(self.env.work()).unwrap();
        let parents: Vec<cow::ObjectId> = parents
            .iter()
            .map(|p| repo.resolve_commit(p).unwrap())
            .collect();
        let sig = cow::object::Signature::new(NAME, EMAIL, cow::object::Time::parse(date).unwrap())
            .unwrap();
        let merge = cow::object::Commit {
            tree,
            parents: parents.clone(),
            author: sig.clone(),
            committer: sig,
            extra_headers: Vec::new(),
            message: format!("{message}\n").into_bytes(),
        };
        let id = repo.odb().write_commit(&merge).unwrap().id;
        let name = cow::refs::RefName::branch(onto).unwrap();
        repo.refs()
            .update(&name, id, cow::refs::Expected::Any)
            .unwrap();
        let mut args = vec!["commit-tree".to_owned(), tree.to_string()];
        for p in &parents {
            args.extend(["-p".to_owned(), p.to_string()]);
        }
        args.extend(["-m".to_owned(), message.to_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = self
            .git(&args)
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id.to_string());
        self.git_out(&["update-ref", &format!("refs/heads/{onto}"), &id.to_string()]);
        id.to_string()
    }

    /// `cow log ARGS` and `git log ARGS` print the same bytes.
    fn same(&self, args: &[&str]) {
        self.same_as_git("log", args);
    }

    /// `cow COMMAND ARGS` and `git COMMAND ARGS` print the same bytes.
    fn same_as_git(&self, command: &str, args: &[&str]) {
        let cow = self
            .env
            .cow(std::iter::once(command).chain(args.iter().copied()));
        assert!(
            cow.status.success(),
            "cow {command} {args:?}: {}",
            describe(&cow)
        );
        let mut git_args = vec![command];
        git_args.extend(args);
        let git = self.git_out(&git_args);
        assert_eq!(
            String::from_utf8_lossy(&cow.stdout),
            String::from_utf8_lossy(&git),
            "cow {command} {args:?} differs from git's"
        );
        assert!(
            !git.is_empty() || args.contains(&"--author=nobody"),
            "{args:?}"
        );
    }
}

/// main: c1 (A U Thor) → c2 (B Other, tagged v1, branch side) → c3 → merge of c3 and
/// c4 (side's commit), with HEAD on main.
fn history() -> Option<(Twin, Vec<String>)> {
    if !git_available() {
        return None;
    }
    let env = Env::new();
    env.init();
    let mirror = GitMirror::new(&env);
    let twin = Twin { env, mirror };
    twin.git_out(&["symbolic-ref", "HEAD", "refs/heads/main"]);
    let w = twin.env.work();
    let mut ids = Vec::new();
    write(&w.join("a"), "1\n");
    ids.push(twin.commit("first", NAME, D1));
    write(&w.join("a"), "2\n");
    ids.push(twin.commit(
        "second, in two\nlines\n\nThe body.\n\nIts second paragraph.",
        "B Other",
        D2,
    ));
    twin.env.cow_ok(["branch", "side"]);
    twin.env.cow_ok(["tag", "v1"]);
    twin.git_out(&["branch", "side"]);
    twin.git_out(&["tag", "v1"]);
    write(&w.join("a"), "3\n");
    ids.push(twin.commit("third", NAME, D3));

    // side: one commit, made with cow's checkout and git's symbolic-ref.
    twin.env.cow_ok(["checkout", "side"]);
    twin.git_out(&["symbolic-ref", "HEAD", "refs/heads/side"]);
    twin.git_out(&["read-tree", "HEAD"]);
    write(&w.join("tab\tname \u{e9}"), "side\n");
    ids.push(twin.commit("on side", NAME, D4));
    twin.env.cow_ok(["checkout", "main"]);
    twin.git_out(&["symbolic-ref", "HEAD", "refs/heads/main"]);
    twin.git_out(&["read-tree", "HEAD"]);

    // The merge (side's tree), written through the library and by `git commit-tree`.
    let repo = cow::Repository::open(&w).unwrap();
    let parse = |s: &String| s.parse::<cow::ObjectId>().unwrap();
    let side = repo.odb().find_commit(&parse(&ids[3])).unwrap();
    let sig =
        cow::object::Signature::new(NAME, EMAIL, cow::object::Time::parse(D5).unwrap()).unwrap();
    let merge = cow::object::Commit {
        tree: side.tree,
        parents: vec![parse(&ids[2]), parse(&ids[3])],
        author: sig.clone(),
        committer: sig,
        extra_headers: Vec::new(),
        message: b"Merge branch 'side'\n".to_vec(),
    };
    let merge_id = repo.odb().write_commit(&merge).unwrap().id;
    let main = cow::refs::RefName::branch("main").unwrap();
    repo.refs()
        .update(&main, merge_id, cow::refs::Expected::Any)
        .unwrap();
    let out = twin
        .git(&[
            "commit-tree",
            &side.tree.to_string(),
            "-p",
            &ids[2],
            "-p",
            &ids[3],
            "-m",
            "Merge branch 'side'",
        ])
        .env("GIT_AUTHOR_DATE", D5)
        .env("GIT_COMMITTER_DATE", D5)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        merge_id.to_string()
    );
    twin.git_out(&["update-ref", "refs/heads/main", &merge_id.to_string()]);
    ids.push(merge_id.to_string());
    Some((twin, ids))
}

#[test]
fn log_prints_what_git_prints() {
    let Some((twin, _)) = history() else { return };
    for args in [
        &[][..],
        &["--decorate"],
        &["--oneline"],
        &["--oneline", "--decorate"],
        &["--oneline", "--decorate", "--all"],
        &["--oneline", "--decorate", "side"],
        &["--oneline", "--first-parent"],
        &["-2"],
        &["-n", "3", "--oneline"],
        &["-n1"],
        &["--max-count", "2", "--oneline"],
        &["--max-count=2", "--oneline"],
        &["--reverse", "--oneline"],
        &["--reverse", "-n", "2"],
        &["--author", "Other", "--oneline"],
        &["--author=^A U", "--oneline"],
        &["--author=nobody"],
        &["--since", "2023-11-20 00:00:00 +0000", "--oneline"],
        &["--since=@1700864000", "--oneline"],
        &["--until", "@1700864000", "--oneline"],
        &["--until=2023-11-20T00:00:00+00:00", "--oneline"],
        &[
            "--after=@1700259200",
            "--before=@1700950400",
            "--oneline",
            "--all",
        ],
        &["--date=iso"],
        &["--date=unix"],
        &["--date=iso-strict"],
        &["--date=rfc", "--format=%ad %cd"],
        &["--date=short", "--format=%ad %cd"],
        &["--date=raw", "--format=%ad %cd"],
        &["--date=iso", "--decorate", "--pretty=fuller"],
        &["--pretty=full"],
        &["--pretty=short"],
        &["--pretty=oneline"],
        &["--format=oneline"],
        &["--format=%H %h %T %t%n%P|%p%n%an %ae %ad %at%n%cn %ce %cd %ct%n%s%n%b%x00%%"],
        &["--format=%ad|%cd|%s", "--date=iso"],
        &["--format=%ad|%cd", "--date=unix"],
        &["--format=%ai|%aI|%ci|%cI|%aD"],
        &["--format=%d|%D", "--all"],
        &["--pretty=format:%h %s"],
        &["--pretty=tformat:%h%n"],
        &["--format=%B|"],
        &["--format=%H", "--all", "--reverse"],
        &["--graph", "--oneline"],
        &["--graph", "--oneline", "--decorate", "--all"],
        &["--graph"],
        &["--graph", "--date=iso", "--pretty=fuller"],
        &["--graph", "--format=%h %s%n%nbody"],
        &["--graph", "--first-parent", "--oneline"],
        &["--graph", "-n", "3", "--oneline"],
        &["--graph", "--stat"],
        &["--stat", "--oneline"],
        &["--name-only", "--oneline"],
        &["-z", "--name-only", "--oneline"],
        &["-z", "--name-only", "--format=%s"],
        &["-z", "--name-only"],
        &["-z", "--name-status", "--oneline"],
        &["-z", "--format=%h %s"],
        &["-z", "--oneline"],
        &["-p", "-n", "2"],
    ] {
        twin.same(args);
    }

    // Detached HEAD: decorated as `HEAD` alone.
    twin.env.cow_ok(["checkout", "--force", "v1"]);
    twin.git_out(&["update-ref", "--no-deref", "HEAD", "v1"]);
    twin.same(&["--oneline", "--decorate", "--all"]);
    twin.same(&["--decorate", "-1"]);
}

#[test]
fn relative_dates_have_git_shape() {
    let Some((twin, _)) = history() else { return };
    let out = twin
        .env
        .cow_ok(["log", "--date=relative", "--format=%ad|%cd|%ar|%cr"]);
    let git = String::from_utf8(twin.git_out(&["log", "--format=%ar"])).unwrap();
    let git_years: Vec<&str> = git.lines().collect();
    assert_eq!(out.lines().count(), 5);
    for (line, git_line) in out.lines().zip(git_years) {
        let parts: Vec<&str> = line.split('|').collect();
        assert_eq!(parts.len(), 4, "{line}");
        for part in parts {
            assert!(part.ends_with(" ago"), "{line}");
            let n: u32 = part.split(' ').next().unwrap().parse().expect("a count");
            assert!(n > 0, "{line}");
            // The same years (the month may tick over between the two runs).
            assert_eq!(part.split(',').next(), git_line.split(',').next(), "{line}");
        }
    }
    let default = twin.env.cow_ok(["log", "--date=relative", "-1"]);
    assert!(
        default
            .lines()
            .any(|l| l.starts_with("Date:   ") && l.ends_with(" ago")),
        "{default}"
    );
}

#[test]
fn json_lines_match_the_text_output() {
    let Some((twin, ids)) = history() else { return };
    let out = twin.env.cow(["log", "--json", "--all"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    let format = |f: &str| -> Vec<String> {
        twin.env
            .cow_ok(["log", "--all", &format!("--format={f}%x00")])
            .strip_suffix("\0\n")
            .unwrap()
            .split("\0\n")
            .map(str::to_owned)
            .collect()
    };
    let expect: Vec<Vec<String>> = [
        "%H", "%T", "%P", "%an", "%ae", "%at", "%cn", "%ce", "%ct", "%s", "%aI", "%cI", "%B",
    ]
    .iter()
    .map(|f| format(f))
    .collect();
    assert_eq!(records.len(), 5);
    assert_eq!(expect[0].len(), 5);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["type"], "commit");
        assert_eq!(
            r.get("schema").is_some(),
            i == 0,
            "schema on the first line only"
        );
        if i == 0 {
            assert_eq!(r["schema"], 1);
        }
        assert_eq!(r["id"], expect[0][i].as_str());
        assert_eq!(r["tree"], expect[1][i].as_str());
        let parents: Vec<&str> = r["parents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert_eq!(parents.join(" "), expect[2][i]);
        assert_eq!(r["author"]["name"], expect[3][i].as_str());
        assert_eq!(r["author"]["email"], expect[4][i].as_str());
        assert_eq!(r["author"]["unix"].to_string(), expect[5][i]);
        assert_eq!(r["committer"]["name"], expect[6][i].as_str());
        assert_eq!(r["committer"]["email"], expect[7][i].as_str());
        assert_eq!(r["committer"]["unix"].to_string(), expect[8][i]);
        assert_eq!(r["summary"], expect[9][i].as_str());
        // git's %aI writes UTC as `Z`; JSON times always carry the offset.
        let offset = |s: &str| match s.strip_suffix('Z') {
            Some(utc) => format!("{utc}+00:00"),
            None => s.to_owned(),
        };
        assert_eq!(r["author"]["time"], offset(&expect[10][i]).as_str());
        assert_eq!(r["committer"]["time"], offset(&expect[11][i]).as_str());
        assert_eq!(r["message"], expect[12][i].as_str());
    }
    // Refs by full name, HEAD first: the merge has HEAD and main, c2 the tag, c4 side.
    let refs = |id: &str| -> Vec<String> {
        let r = records.iter().find(|r| r["id"] == id).unwrap();
        r["refs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(refs(&ids[4]), ["HEAD", "refs/heads/main"]);
    assert_eq!(refs(&ids[1]), ["refs/tags/v1"]);
    assert_eq!(refs(&ids[3]), ["refs/heads/side"]);
    assert!(refs(&ids[0]).is_empty());
    let merge = records.iter().find(|r| r["id"] == ids[4].as_str()).unwrap();
    assert_eq!(merge["head"], true);
    // And the decorations agree with --oneline's.
    let oneline = twin.env.cow_ok(["log", "--all", "--oneline", "--decorate"]);
    assert!(
        oneline.contains("(HEAD -> main) Merge branch 'side'"),
        "{oneline}"
    );
    assert!(
        oneline.contains("(tag: v1) second, in two lines"),
        "{oneline}"
    );
    assert!(oneline.contains("(side) on side"), "{oneline}");
}

#[test]
fn json_errors_and_bad_input() {
    let env = Env::new();
    env.init();
    // No commits: one JSON error line on stderr, nothing on stdout.
    let out = env.cow(["log", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(out.stdout.is_empty());
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).expect("a JSON error");
    assert_eq!(err["type"], "error");
    assert!(err["message"].as_str().unwrap().contains("no commits yet"));

    write(&env.work().join("f"), "x");
    env.commit("one");
    assert_error(
        &env.cow(["log", "--since", "last tuesday"]),
        "is not a date",
    );
    assert_error(&env.cow(["log", "--author", "("]), "--author");
    assert_error(
        &env.cow(["log", "--format", "nonsense"]),
        "invalid --pretty format",
    );
    let out = env.cow(["log", "--json", "--oneline"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    // `-N` is a count only in log, and a path after `--` is a path.
    assert_eq!(env.cow_ok(["log", "-1", "--format=%s"]), "one\n");
}

/// Commits in cow and git with a non-UTF-8 author keep their bytes in `name_b64`.
#[test]
fn json_non_utf8_fields_have_b64_twins() {
    let env = Env::new();
    env.init();
    let repo = cow::Repository::open(env.work()).unwrap();
    let tree = repo
        .odb()
        .write_tree(&cow::object::Tree::default())
        .unwrap()
        .id;
    let mut sig =
        cow::object::Signature::new(NAME, EMAIL, cow::object::Time::parse(DATE).unwrap()).unwrap();
    sig.name = b"Caf\xe9".to_vec();
    let commit = cow::object::Commit {
        tree,
        parents: Vec::new(),
        author: sig.clone(),
        committer: sig,
        extra_headers: Vec::new(),
        message: b"latin-1 \xe9\n".to_vec(),
    };
    let id = repo.odb().write_commit(&commit).unwrap().id;
    let main = cow::refs::RefName::branch("main").unwrap();
    repo.refs()
        .update(&main, id, cow::refs::Expected::Any)
        .unwrap();
    let line = env.cow_ok(["log", "--json"]);
    let r: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(r["author"]["name_b64"], "Q2Fm6Q==");
    assert!(r["author"].get("email_b64").is_none());
    assert_eq!(r["message_b64"], "bGF0aW4tMSDpCg==");
    assert_eq!(r["id"], id.to_string());
}

/// Three lines of history forked at different points, merged one after the other,
/// and one branch left unmerged: lines that collapse and cross, as git draws them.
#[test]
fn graph_of_several_branches_matches_git() {
    if !git_available() {
        return;
    }
    let env = Env::new();
    env.init();
    let mirror = GitMirror::new(&env);
    let twin = Twin { env, mirror };
    twin.git_out(&["symbolic-ref", "HEAD", "refs/heads/main"]);
    let w = twin.env.work();
    let seconds = std::cell::Cell::new(1_700_000_000);
    let step = |twin: &Twin, file: &str, message: &str| {
        seconds.set(seconds.get() + 3600);
        write(&w.join(file), message);
        twin.commit(message, NAME, &format!("{} +0000", seconds.get()));
        seconds.get()
    };
    step(&twin, "a", "m1");
    step(&twin, "a", "m2");
    twin.branch("b1", "main");
    step(&twin, "a", "m3");
    twin.branch("b2", "main");
    twin.branch("b3", "main");
    step(&twin, "a", "m4");
    twin.switch("b1");
    step(&twin, "x", "b1-1");
    step(&twin, "x", "b1-2");
    twin.switch("b2");
    step(&twin, "y", "b2-1");
    twin.switch("b3");
    step(&twin, "z", "b3-1");
    twin.switch("main");
    let t = step(&twin, "a", "m5");
    twin.merge("main", "b2", "merge b2", &format!("{} +0000", t + 60));
    twin.merge("main", "b1", "merge b1", &format!("{} +0000", t + 120));
    twin.env.cow_ok(["checkout", "--force", "main"]);
    twin.git_out(&["read-tree", "HEAD"]);
    seconds.set(t + 600);
    step(&twin, "a", "m6");
    for args in [
        &["--graph", "--oneline"][..],
        &["--graph", "--oneline", "--all", "--decorate"],
        &["--graph", "--all"],
        &["--graph", "--format=%s%n%b|"],
        &["--oneline", "--all"],
    ] {
        twin.same(args);
    }
}

#[test]
fn show_prints_what_git_prints() {
    // git's `show` of a commit: the header, the message and the patch (or the format
    // asked for).
    let Some((twin, _)) = history() else { return };
    for args in [
        &["HEAD~1"][..],
        &["v1"],
        &["--stat", "HEAD~1"],
        &["--name-status", "v1"],
        &["--name-only", "HEAD~1"],
        &["--numstat", "HEAD~1"],
        &["-s"],
        &["-s", "HEAD~1"],
        &["-s", "--oneline", "HEAD~1"],
        &["--oneline", "HEAD~1"],
        &["--format=%H %an %s", "-s", "v1"],
        &["--no-patch", "side"],
        // A merge that took side's tree: no file differs from both parents.
        &["HEAD"],
        &["--stat", "HEAD"],
        &["--name-status", "--format=%s", "HEAD"],
    ] {
        twin.same_as_git("show", args);
    }
}

#[test]
fn branch_lists_what_git_lists() {
    let Some((twin, _)) = history() else { return };
    for args in [&[][..], &["-v"], &["--verbose"]] {
        twin.same_as_git("branch", args);
    }
    // A detached HEAD comes first, marked current, named by its abbreviated id (git
    // names it by how it was checked out, which cow's refs do not record).
    let env = &twin.env;
    env.cow_ok(["checkout", "--detach", "HEAD~1"]);
    let id = env.cow_ok(["rev-parse", "HEAD"]);
    let short = &id.trim()[..7];
    let listed = env.cow_ok(["branch"]);
    assert_eq!(
        listed.lines().next(),
        Some(format!("* (HEAD detached at {short})").as_str()),
        "{listed}"
    );
    let verbose = env.cow_ok(["branch", "-v"]);
    let first = verbose.lines().next().unwrap();
    assert!(
        first.starts_with(&format!("* (HEAD detached at {short}) {short} ")),
        "{verbose}"
    );
    assert!(
        verbose.lines().all(|l| !l.starts_with("* main")),
        "{verbose}"
    );
}

/// A twin repository with HEAD on main and nothing committed.
fn empty_twin() -> Option<Twin> {
    if !git_available() {
        return None;
    }
    let env = Env::new();
    env.init();
    let mirror = GitMirror::new(&env);
    let twin = Twin { env, mirror };
    twin.git_out(&["symbolic-ref", "HEAD", "refs/heads/main"]);
    Some(twin)
}

/// Lines `from..=to`, each ending in a newline.
fn numbered(from: u32, to: u32) -> String {
    (from..=to).map(|i| format!("{i}\n")).collect()
}

/// `numbered(1, n)` with line `at` replaced by `with`.
fn numbered_with(n: u32, edits: &[(u32, &str)]) -> String {
    (1..=n)
        .map(|i| match edits.iter().find(|(at, _)| *at == i) {
            Some((_, with)) => format!("{with}\n"),
            None => format!("{i}\n"),
        })
        .collect()
}

const CODE: &str = "#include <stdio.h>\n\nint main(void)\n{\n\tint a = 1;\n\tint b = 2;\n\
                    \tint c = 3;\n\tint d = 4;\n\treturn a + b + c + d;\n}\n";

/// `show` of a merge prints git's dense combined diff: only files that differ from
/// every parent, only hunks where the merge is neither parent's version.
#[test]
fn show_of_a_merge_prints_gits_combined_diff() {
    let Some(twin) = empty_twin() else { return };
    let w = twin.env.work();
    let put = |name: &str, content: &[u8]| write(&w.join(name), content);
    put("f", numbered(1, 20).as_bytes());
    put("g", numbered(1, 10).as_bytes());
    put("h", b"a\nb\nc\nd\ne\nf\ng\nh\n");
    put("k", b"keep\n");
    put("o", b"one\n");
    put("d", b"d\n");
    put("b.bin", b"bin\0a");
    put("code.c", CODE.as_bytes());
    twin.commit("base", NAME, D1);
    twin.branch("side", "main");

    twin.switch("side");
    put("f", numbered_with(20, &[(15, "15side")]).as_bytes());
    put("g", numbered_with(10, &[(3, "3side")]).as_bytes());
    put("h", b"a\nb\nc\ne\nf\ng\nh\n");
    put("o", b"side\n");
    put("d", b"d side\n");
    put("b.bin", b"bin\0side");
    put("added", b"new\n");
    put("code.c", CODE.replace("c = 3;", "c = 30;").as_bytes());
    twin.commit("on side", NAME, D2);

    twin.switch("main");
    put("f", numbered_with(20, &[(2, "2main")]).as_bytes());
    put("g", numbered_with(10, &[(3, "3main")]).as_bytes());
    put("h", b"a\nb\nd\ne\nf\ng\nh\n");
    put("k", b"main only\n");
    put("d", b"d main\n");
    put("b.bin", b"bin\0main");
    put("code.c", CODE.replace("c = 3;", "c = 31;").as_bytes());
    twin.commit("on main", NAME, D3);

    // Both sides' edits to f (so not shown), g and code.c resolved anew, h losing
    // what either side lost, k, o and added as one side left them, d deleted.
    put(
        "f",
        numbered_with(20, &[(2, "2main"), (15, "15side")]).as_bytes(),
    );
    put(
        "g",
        numbered_with(10, &[(3, "3 resolved"), (4, "4 too")]).as_bytes(),
    );
    put("h", b"a\nb\nX\ne\nf\ng\nh\n");
    put("o", b"side\n");
    put("added", b"new\n");
    put("b.bin", b"bin\0res");
    put("code.c", CODE.replace("c = 3;", "c = 33;").as_bytes());
    std::fs::remove_file(w.join("d")).unwrap();
    twin.merge_worktree("main", &["main", "side"], "Merge side", D4);
    twin.git_out(&["read-tree", "HEAD"]);

    for args in [
        &[][..],
        &["HEAD"],
        &["--format=%s"],
        &["--format=format:%s"],
        &["--oneline"],
        &["--pretty=fuller"],
        &["--stat"],
        &["--numstat"],
        &["--name-status"],
        &["--name-only"],
        &["--stat", "--format=%s"],
        &["--name-status", "--oneline"],
        &["-s"],
    ] {
        twin.same_as_git("show", args);
    }
    // log -p shows no changes for a merge, as git's.
    twin.same(&["-p", "-n", "2"]);
}

/// An octopus merge of three branches: a column per parent.
#[test]
fn show_of_an_octopus_merge_prints_gits_combined_diff() {
    let Some(twin) = empty_twin() else { return };
    let w = twin.env.work();
    let put = |name: &str, content: &str| write(&w.join(name), content);
    put("h", &numbered(1, 30));
    put("k", "keep\n");
    twin.commit("base", NAME, D1);
    for b in ["o2", "o3"] {
        twin.branch(b, "main");
    }
    put("h", &numbered_with(30, &[(5, "5 main"), (10, "10 main")]));
    twin.commit("main", NAME, D2);
    twin.switch("o2");
    put("h", &numbered_with(30, &[(10, "10 o2"), (15, "15 o2")]));
    put("both", "o2\n");
    put("only", "o2 only\n");
    twin.commit("o2", NAME, D2);
    twin.switch("o3");
    put("h", &numbered_with(30, &[(25, "25 o3")]));
    put("both", "o3\n");
    put("k", "o3 keeps\n");
    twin.commit("o3", NAME, D3);
    twin.switch("main");
    put(
        "h",
        &numbered_with(
            30,
            &[
                (5, "5 main"),
                (10, "10 merged"),
                (15, "15 o2"),
                (25, "25 o3"),
            ],
        ),
    );
    put("both", "both\n");
    put("only", "o2 only\n");
    put("k", "keep, merged\n");
    put("new", "in the merge only\n");
    twin.merge_worktree("main", &["main", "o2", "o3"], "Octopus", D5);
    twin.git_out(&["read-tree", "HEAD"]);
    for args in [
        &[][..],
        &["--format=%s"],
        &["--stat"],
        &["--name-status"],
        &["--name-only"],
    ] {
        twin.same_as_git("show", args);
    }
    let shown = twin.env.cow_ok(["show", "--format=%s"]);
    for part in [
        "@@@@ -7,7 -7,7 -7,7 +7,7 @@@@",
        "diff --cc both",
        "new file mode",
    ] {
        assert!(shown.contains(part), "{shown}");
    }
}

/// Octopus merges of three and four branches, forked at different points, with a
/// branch left unmerged beside them: git's graph of them.
#[test]
fn graph_of_octopus_merges_matches_git() {
    let Some(twin) = empty_twin() else { return };
    let w = twin.env.work();
    let seconds = std::cell::Cell::new(1_700_000_000);
    let step = |twin: &Twin, file: &str, message: &str| {
        seconds.set(seconds.get() + 3600);
        write(&w.join(file), message);
        twin.commit(message, NAME, &format!("{} +0000", seconds.get()));
    };
    let merge = |twin: &Twin, parents: &[&str], message: &str| {
        seconds.set(seconds.get() + 3600);
        let repo = cow::Repository::open(twin.env.work()).unwrap();
        let tree = repo
            .odb()
            .find_commit(&repo.resolve_commit("main").unwrap())
            .unwrap()
            .tree;
        let date = format!("{} +0000", seconds.get());
        twin.merge_tree("main", parents, tree, message, &date);
        twin.env.cow_ok(["checkout", "--force", "main"]);
        twin.git_out(&["read-tree", "HEAD"]);
    };
    step(&twin, "m", "m1");
    twin.branch("lone", "main");
    step(&twin, "m", "m2");
    for b in ["a", "b"] {
        twin.branch(b, "main");
    }
    step(&twin, "m", "m3");
    for b in ["c", "d", "e"] {
        twin.branch(b, "main");
    }
    for (b, n) in [
        ("a", 1),
        ("b", 2),
        ("c", 1),
        ("d", 2),
        ("e", 1),
        ("lone", 2),
    ] {
        twin.switch(b);
        for i in 1..=n {
            step(&twin, b, &format!("{b}{i}"));
        }
    }
    twin.switch("main");
    step(&twin, "m", "m4");
    merge(&twin, &["main", "a", "b"], "octopus of three");
    step(&twin, "m", "m5");
    merge(&twin, &["main", "c", "d", "e"], "octopus of four");
    step(&twin, "m", "m6");
    for args in [
        &["--graph", "--oneline"][..],
        &["--graph", "--oneline", "--all"],
        &["--graph", "--all"],
        &["--graph", "--format=%s%n%b|"],
        &["--graph", "--oneline", "--all", "--decorate"],
    ] {
        twin.same(args);
    }
}

/// Merges whose parents are already drawn in columns to their left (git's skewed
/// layouts) and an octopus whose parents come in another order than their columns.
#[test]
fn graph_of_skewed_merges_matches_git() {
    let Some(twin) = empty_twin() else { return };
    let w = twin.env.work();
    let seconds = std::cell::Cell::new(1_700_000_000);
    let step = |twin: &Twin, file: &str, message: &str| {
        seconds.set(seconds.get() + 3600);
        write(&w.join(file), message);
        twin.commit(message, NAME, &format!("{} +0000", seconds.get()));
    };
    let merge = |twin: &Twin, onto: &str, parents: &[&str], message: &str| {
        seconds.set(seconds.get() + 3600);
        let repo = cow::Repository::open(twin.env.work()).unwrap();
        let tree = repo
            .odb()
            .find_commit(&repo.resolve_commit(parents[0]).unwrap())
            .unwrap()
            .tree;
        let date = format!("{} +0000", seconds.get());
        twin.merge_tree(onto, parents, tree, message, &date);
    };
    step(&twin, "m", "A");
    for b in ["p", "q", "r", "s"] {
        twin.branch(b, "main");
    }
    for b in ["p", "q", "r", "s"] {
        twin.switch(b);
        step(&twin, b, &format!("{b}1"));
    }
    twin.switch("main");
    step(&twin, "m", "B");
    // Parents listed right to left of where they are drawn.
    merge(&twin, "s", &["s", "r", "q", "p"], "octopus, reversed");
    merge(&twin, "q", &["p", "main"], "q from p and main");
    merge(&twin, "main", &["q", "s"], "main from q and s");
    twin.env.cow_ok(["checkout", "--force", "main"]);
    twin.git_out(&["read-tree", "HEAD"]);
    step(&twin, "m", "C");
    for args in [
        &["--graph", "--oneline"][..],
        &["--graph", "--oneline", "--all"],
        &["--graph", "--format=%s%n%b|"],
    ] {
        twin.same(args);
    }
}

/// Seeded random edits: many files, each changed by every parent and by the merge in
/// its own way (lines replaced, removed, added, some shared), shown as git shows them.
#[test]
fn show_of_merges_with_random_edits_matches_git() {
    let Some(twin) = empty_twin() else { return };
    let w = twin.env.work();
    let seed = std::cell::Cell::new(0x2545_f491_4f6c_dd1d_u64);
    let next = |n: u64| {
        let mut s = seed.get();
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        seed.set(s);
        s % n
    };
    const FILES: usize = 24;
    let words = ["a", "b", "c", "{", "}", "x = 1;", "", "fn f()", "end"];
    let base: Vec<Vec<String>> = (0..FILES)
        .map(|_| {
            (0..14)
                .map(|i| format!("{i} {}", words[i % words.len()]))
                .collect()
        })
        .collect();
    let edit = |lines: &[String], tag: &str| -> Vec<String> {
        let mut out = Vec::new();
        for line in lines {
            match next(10) {
                0 => {}
                1 => out.push(format!("{line} {tag}")),
                2 => {
                    out.push(line.clone());
                    out.push(format!("new {tag}"));
                }
                3 => out.push(format!("{line} shared")),
                _ => out.push(line.clone()),
            }
        }
        out
    };
    let text = |lines: &[String]| lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    let put = |i: usize, lines: &[String]| write(&w.join(format!("r{i:02}")), text(lines));
    for (i, lines) in base.iter().enumerate() {
        put(i, lines);
    }
    twin.commit("base", NAME, D1);
    let branches = ["p2", "p3"];
    for b in branches {
        twin.branch(b, "main");
    }
    let mut versions: Vec<Vec<Vec<String>>> = Vec::new();
    for (n, b) in ["main", "p2", "p3"].into_iter().enumerate() {
        twin.switch(b);
        let version: Vec<Vec<String>> = base.iter().map(|l| edit(l, b)).collect();
        for (i, lines) in version.iter().enumerate() {
            put(i, lines);
        }
        twin.commit(b, NAME, [D2, D3, D4][n]);
        versions.push(version);
    }
    twin.switch("main");
    // The merge: per file, one parent's version edited again, or a parent's as is.
    let pick = |i: usize| versions[next(3) as usize][i].clone();
    for i in 0..FILES {
        let from = pick(i);
        let merged = if next(4) == 0 {
            from
        } else {
            edit(&from, "merged")
        };
        put(i, &merged);
    }
    twin.merge_worktree("main", &["main", "p2"], "two", D5);
    twin.git_out(&["read-tree", "HEAD"]);
    twin.same_as_git("show", &["HEAD"]);
    twin.same_as_git("show", &["--name-status", "HEAD"]);
    assert!(twin.env.cow_ok(["show"]).contains("\n@@@ -"));
    for i in 0..FILES {
        put(i, &edit(&pick(i), "again"));
    }
    twin.merge_worktree("main", &["main", "p2", "p3"], "three", "1701100000 +0000");
    twin.git_out(&["read-tree", "HEAD"]);
    twin.same_as_git("show", &["HEAD"]);
    twin.same_as_git("show", &["--name-status", "HEAD"]);
    assert!(twin.env.cow_ok(["show"]).contains("\n@@@@ -"));
}
