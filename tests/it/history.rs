//! The history commands git users reach for (issue 18): reset, commit --amend, revert,
//! branch -f/-m/-M, tag -f, and the warning for commits a detached HEAD leaves behind.
//! Each is run on the same history in cow and in git (same files, identity and dates),
//! and the ids, refs and messages compared.

use std::fs;
use std::path::PathBuf;
use std::process::Output;

use crate::util::*;

/// A cow repository and a git one, driven through the same steps.
struct Twin {
    env: Env,
    git: PathBuf,
}

impl Twin {
    fn new() -> Twin {
        let env = Env::new();
        env.init();
        let git = env.tmp.path().join("g");
        crate::util::git(
            env.tmp.path(),
            ["init", "-q", "-b", "main", "--object-format=sha256", "g"],
        );
        Twin { env, git }
    }

    /// Writes `content` to `path` in both working directories.
    fn write(&self, path: &str, content: &str) {
        write(&self.env.work().join(path), content);
        write(&self.git.join(path), content);
    }

    /// Commits in both; asserts the ids are equal and returns it.
    fn commit(&self, message: &str) -> String {
        let id = self.env.commit(message);
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        assert_eq!(id, self.git(&["rev-parse", "HEAD"]), "commit {message:?}");
        id
    }

    fn git(&self, args: &[&str]) -> String {
        crate::util::git(&self.git, args)
    }

    /// git with its whole output, not asserting success.
    fn git_out(&self, args: &[&str]) -> Output {
        git_cmd(&self.git).args(args).output().unwrap()
    }

    fn cow_head(&self) -> String {
        self.env.cow_ok(["rev-parse", "HEAD"]).trim().to_owned()
    }

    fn read(&self, path: &str) -> String {
        fs::read_to_string(self.env.work().join(path)).unwrap()
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Three commits: `a` changes, `b` is added by the second.
fn three_commits(t: &Twin) -> [String; 3] {
    t.write("a", "1\n");
    let c1 = t.commit("first");
    t.write("a", "2\n");
    t.write("b", "b\n");
    let c2 = t.commit("second");
    t.write("a", "3\n");
    let c3 = t.commit("third");
    [c1, c2, c3]
}

#[test]
fn reset_soft_and_mixed_move_the_branch_and_keep_the_working_directory() -> Result {
    if !git_available() {
        return Ok(());
    }
    let t = Twin::new();
    let [c1, c2, c3] = three_commits(&t);
    // --soft: the branch moves, nothing else, nothing printed.
    let out = t.env.cow_ok(["reset", "--soft", "HEAD~1"]);
    assert_eq!(out, "");
    t.git(&["reset", "--soft", "HEAD~1"]);
    assert_eq!(t.cow_head(), c2);
    assert_eq!(t.git(&["rev-parse", "HEAD"]), c2);
    assert_eq!(t.env.cow_ok(["branch", "--show-current"]).trim(), "main");
    assert_eq!(t.read("a"), "3\n");
    // The default (--mixed), to the first commit: git's list of changed tracked files
    // (`b`, which the first commit does not have, is untracked and not listed).
    t.git(&["reset", "-q", "--hard", &c3]);
    t.env.cow_ok(["reset", &c3]);
    assert_eq!(t.cow_head(), c3);
    let cow = t.env.cow_ok(["reset", &c1[..12]]);
    let git = t.git_out(&["reset", &c1[..12]]);
    assert!(git.status.success());
    assert_eq!(cow, stdout(&git));
    assert_eq!(cow, "Unstaged changes after reset:\nM\ta\n");
    assert_eq!(t.cow_head(), c1);
    assert_eq!(t.read("a"), "3\n");
    assert_eq!(t.read("b"), "b\n");
    // The next commit snapshots the working directory as it is, as git's `commit -a`
    // after `add -A` would.
    assert_eq!(t.commit("again"), t.cow_head());
    // JSON: one document naming the mode and both HEADs.
    let doc: serde_json::Value =
        serde_json::from_str(&t.env.cow_ok(["reset", "--json", "--soft", &c2]))?;
    assert_eq!(doc["type"], "reset");
    assert_eq!(doc["mode"], "soft");
    assert_eq!(doc["target"], c2.as_str());
    assert_eq!(doc["head_after"]["id"], c2.as_str());
    assert_eq!(doc["head_after"]["branch"], "main");
    Ok(())
}

#[test]
fn reset_hard_moves_the_working_directory_and_refuses_to_lose_work() -> Result {
    if !git_available() {
        return Ok(());
    }
    let t = Twin::new();
    let [c1, _c2, c3] = three_commits(&t);
    // Unsaved work that the move would overwrite: refused, naming it, nothing changed.
    write(&t.env.work().join("a"), "unsaved\n");
    let out = t.env.cow(["reset", "--hard", "HEAD~2"]);
    assert_error(&out, "a (modified)");
    assert_eq!(t.cow_head(), c3);
    assert_eq!(t.read("a"), "unsaved\n");
    // --force discards it, as git's reset --hard does; the output is git's.
    let cow = t.env.cow_ok(["reset", "--hard", "--force", "HEAD~2"]);
    let git = t.git(&["reset", "--hard", "HEAD~2"]);
    assert_eq!(cow.trim(), git);
    assert!(
        cow.starts_with("HEAD is now at ") && cow.ends_with(" first\n"),
        "{cow}"
    );
    assert_eq!(t.cow_head(), c1);
    assert_eq!(t.read("a"), "1\n");
    assert!(!t.env.work().join("b").exists());
    assert_eq!(t.env.cow_ok(["status", "--porcelain"]), "");
    // A change to a file HEAD and the target agree on would be lost as well.
    write(&t.env.work().join("a"), "unsaved\n");
    assert_error(&t.env.cow(["reset", "--hard"]), "a (modified)");
    assert_eq!(t.read("a"), "unsaved\n");
    t.env.cow_ok(["reset", "--hard", "-f"]);
    assert_eq!(t.read("a"), "1\n");
    // Back to the third commit with a clean directory: no --force needed; a detached
    // HEAD moves itself.
    t.env.cow_ok(["reset", "--hard", &c3]);
    assert_eq!(t.read("a"), "3\n");
    assert_eq!(t.read("b"), "b\n");
    t.env.cow_ok(["checkout", "--detach", "main"]);
    t.env.cow_ok(["reset", "--hard", &c1]);
    assert_eq!(t.cow_head(), c1);
    assert_eq!(t.env.cow_ok(["rev-parse", "main"]).trim(), c3);
    assert_eq!(t.env.cow_ok(["branch", "--show-current"]), "");
    Ok(())
}

#[test]
fn amend_makes_gits_commit() -> Result {
    if !git_available() {
        return Ok(());
    }
    let t = Twin::new();
    let out = t.env.cow(["commit", "--amend", "-m", "x"]);
    assert_error(&out, "cannot amend");
    let [_c1, c2, c3] = three_commits(&t);
    // A new snapshot and message, committed later: the author (and date) stays.
    t.write("a", "amended\n");
    const LATER: &str = "1700000999 +0200";
    let out = t
        .env
        .cow_cmd(&t.env.work())
        .env("COW_COMMITTER_DATE", LATER)
        .args(["commit", "--amend", "-m", "third, better"])
        .output()?;
    assert!(out.status.success(), "{}", describe(&out));
    let git = git_cmd(&t.git)
        .env("GIT_COMMITTER_DATE", LATER)
        .args(["commit", "-q", "-a", "--amend", "-m", "third, better"])
        .output()?;
    assert!(git.status.success(), "{}", describe(&git));
    let amended = t.cow_head();
    assert_ne!(amended, c3);
    assert_eq!(amended, t.git(&["rev-parse", "HEAD"]));
    assert_eq!(t.env.cow_ok(["rev-parse", "HEAD~1"]).trim(), c2);
    // --no-edit keeps the message (an hour later, after a change).
    t.write("b", "amended too\n");
    const LATER_STILL: &str = "1700004599 +0200";
    let out = t
        .env
        .cow_cmd(&t.env.work())
        .env("COW_COMMITTER_DATE", LATER_STILL)
        .args(["commit", "--amend", "--no-edit", "--json"])
        .output()?;
    assert!(out.status.success(), "{}", describe(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(doc["amended"], amended.as_str());
    assert_eq!(doc["parent"], c2.as_str());
    let git = git_cmd(&t.git)
        .env("GIT_COMMITTER_DATE", LATER_STILL)
        .args(["commit", "-q", "-a", "--amend", "--no-edit"])
        .output()?;
    assert!(git.status.success(), "{}", describe(&git));
    assert_eq!(doc["id"], t.git(&["rev-parse", "HEAD"]).as_str());
    assert_eq!(
        t.env.cow_ok(["log", "-1", "--format=%s"]),
        "third, better\n"
    );
    // Undoing everything the commit changed would leave it empty: refused, as git does,
    // unless --allow-empty.
    t.write("a", "2\n");
    t.write("b", "b\n");
    let head = t.cow_head();
    assert_error(
        &t.env.cow(["commit", "--amend", "--no-edit"]),
        "amending would make the commit empty",
    );
    let git = t.git_out(&["commit", "-a", "--amend", "--no-edit"]);
    assert!(!git.status.success(), "{}", describe(&git));
    assert_eq!(t.cow_head(), head);
    t.env
        .cow_ok(["commit", "--amend", "--no-edit", "--allow-empty"]);
    assert_eq!(
        t.env.cow_ok(["rev-parse", "HEAD^{tree}"]),
        t.env.cow_ok(["rev-parse", "HEAD~1^{tree}"])
    );
    Ok(())
}

#[test]
fn revert_makes_gits_commit_when_it_applies_cleanly() -> Result {
    if !git_available() {
        return Ok(());
    }
    let t = Twin::new();
    t.write("notes", "n1\n");
    t.write("keep", "k\n");
    t.write("dir/old", "old\n");
    t.commit("first");
    t.write("notes", "n2\n");
    t.write("dir/new", "new\n");
    fs::remove_file(t.env.work().join("dir/old"))?;
    fs::remove_file(t.git.join("dir/old"))?;
    let c2 = t.commit("change notes");
    t.write("keep", "k2\n");
    let c3 = t.commit("change keep");
    // Reverting the second commit: notes and dir/old back, dir/new gone.
    let out = t.env.cow_ok(["revert", &c2[..10]]);
    t.git(&["revert", "--no-edit", &c2[..10]]);
    let reverted = t.cow_head();
    assert_eq!(reverted, t.git(&["rev-parse", "HEAD"]));
    assert!(out.contains("Revert \"change notes\""), "{out}");
    assert_eq!(t.read("notes"), "n1\n");
    assert_eq!(t.read("dir/old"), "old\n");
    assert!(!t.env.work().join("dir/new").exists());
    assert_eq!(t.read("keep"), "k2\n");
    assert_eq!(t.env.cow_ok(["status", "--porcelain"]), "");
    // Reverting the revert: git's `Reapply "…"`.
    t.env.cow_ok(["revert", "HEAD"]);
    t.git(&["revert", "--no-edit", "HEAD"]);
    assert_eq!(t.cow_head(), t.git(&["rev-parse", "HEAD"]));
    assert_eq!(
        t.env.cow_ok(["log", "-1", "--format=%s"]),
        "Reapply \"change notes\"\n"
    );
    // A path the commit touched has changed since: refused, naming it, nothing changed.
    t.write("notes", "n3\n");
    let before = t.commit("notes again");
    let out = t.env.cow(["revert", &c2]);
    assert_error(&out, "notes");
    assert!(!stderr(&out).contains("keep"), "{}", describe(&out));
    assert_eq!(t.cow_head(), before);
    assert_eq!(t.read("notes"), "n3\n");
    // Unsaved work on a path the revert would change: refused, the work kept.
    write(&t.env.work().join("keep"), "unsaved\n");
    let out = t.env.cow(["revert", &c3]);
    assert_error(&out, "paths the revert changes: keep");
    assert_eq!(t.cow_head(), before);
    assert_eq!(t.read("keep"), "unsaved\n");
    // Unsaved work elsewhere stays, as in git.
    write(&t.env.work().join("keep"), "k2\n");
    write(&t.env.work().join("notes"), "unsaved\n");
    let out = t.env.cow_ok(["revert", "--json", &c3]);
    let doc: serde_json::Value = serde_json::from_str(&out)?;
    assert_eq!(doc["type"], "revert");
    assert_eq!(doc["reverted"], c3.as_str());
    assert_eq!(t.read("keep"), "k\n");
    assert_eq!(t.read("notes"), "unsaved\n");
    Ok(())
}

#[test]
fn branch_force_and_rename_move_refs_as_git_does() -> Result {
    if !git_available() {
        return Ok(());
    }
    let t = Twin::new();
    let [c1, c2, c3] = three_commits(&t);
    let both = |args: &[&str]| {
        let mut cow = vec!["branch"];
        cow.extend(args);
        t.env.cow_ok(&cow);
        t.git(&cow);
    };
    let refs = |t: &Twin| {
        let cow = t.env.cow_ok(["branch", "-v"]);
        let git = t.git(&["branch", "-v"]);
        assert_eq!(cow.trim(), git);
        cow
    };
    both(&["topic", &c1]);
    // -f moves an existing branch, and creates a missing one.
    both(&["-f", "topic", &c2]);
    both(&["-f", "other"]);
    assert_eq!(t.env.cow_ok(["rev-parse", "topic"]).trim(), c2);
    assert_eq!(t.env.cow_ok(["rev-parse", "other"]).trim(), c3);
    refs(&t);
    // Not the branch HEAD is on: that moves with reset.
    let out = t.env.cow(["branch", "-f", "main", &c1]);
    assert_error(&out, "cannot force update the branch 'main'");
    let git = t.git_out(&["branch", "-f", "main", &c1]);
    assert!(stderr(&git).contains("cannot force update the branch 'main'"));
    // Without -f, an existing name is refused.
    assert_error(&t.env.cow(["branch", "topic"]), "already exists");
    // -m OLD NEW; -m NEW renames the current branch, and HEAD follows.
    both(&["-m", "topic", "feature"]);
    both(&["-m", "trunk"]);
    assert_eq!(t.env.cow_ok(["branch", "--show-current"]).trim(), "trunk");
    assert_eq!(t.cow_head(), c3);
    refs(&t);
    // -m onto an existing name is refused; -M replaces it, but never the current one.
    assert_error(
        &t.env.cow(["branch", "-m", "feature", "other"]),
        "already exists",
    );
    both(&["-M", "feature", "other"]);
    assert_eq!(t.env.cow_ok(["rev-parse", "other"]).trim(), c2);
    assert_error(
        &t.env.cow(["branch", "-M", "other", "trunk"]),
        "cannot force update the branch 'trunk'",
    );
    let listing = refs(&t);
    assert!(!listing.contains("feature"), "{listing}");
    // No current branch to rename on a detached HEAD; an unborn one is renamed in HEAD.
    t.env.cow_ok(["checkout", "--detach", "trunk"]);
    assert_error(
        &t.env.cow(["branch", "-m", "x"]),
        "cannot rename the current branch: HEAD is detached",
    );
    let env = Env::new();
    env.init();
    env.cow_ok(["branch", "-m", "trunk"]);
    assert_eq!(env.cow_ok(["branch", "--show-current"]), "trunk\n");
    Ok(())
}

#[test]
fn tag_force_moves_a_tag_as_git_does() -> Result {
    if !git_available() {
        return Ok(());
    }
    let t = Twin::new();
    let [c1, c2, _c3] = three_commits(&t);
    t.env.cow_ok(["tag", "v1", &c1]);
    t.git(&["tag", "v1", &c1]);
    assert_error(&t.env.cow(["tag", "v1", &c2]), "already exists");
    let cow = t.env.cow_ok(["tag", "-f", "v1", &c2]);
    let git = t.git(&["tag", "-f", "v1", &c2]);
    assert_eq!(cow.trim(), git);
    assert!(cow.starts_with("Updated tag 'v1' (was "), "{cow}");
    assert_eq!(t.env.cow_ok(["rev-parse", "v1"]).trim(), c2);
    // A new tag with -f, or one already there: nothing to say.
    assert_eq!(t.env.cow_ok(["tag", "-f", "v2"]), "");
    assert_eq!(t.env.cow_ok(["tag", "-f", "v1", &c2]), "");
    Ok(())
}

#[test]
fn leaving_a_detached_commit_behind_warns_as_git_does() -> Result {
    if !git_available() {
        return Ok(());
    }
    let t = Twin::new();
    let [_c1, c2, _c3] = three_commits(&t);
    // Detached at a commit main reaches, then away: nothing to warn about.
    let out = t.env.cow(["checkout", &c2]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = t.env.cow(["checkout", "main"]);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        describe(&out)
    );
    // A commit made on the detached HEAD, then left: git's warning, naming it.
    t.git(&["checkout", "-q", &c2]);
    t.env.cow_ok(["checkout", &c2]);
    t.write("a", "detached\n");
    let lost = t.commit("on a detached HEAD");
    let cow = t.env.cow(["checkout", "main"]);
    assert!(cow.status.success(), "{}", describe(&cow));
    let git = t.git_out(&["checkout", "main"]);
    assert!(git.status.success());
    let warning = stderr(&cow);
    assert!(
        warning.starts_with("Warning: you are leaving 1 commit behind, not connected to\n"),
        "{warning}"
    );
    assert!(
        warning.contains(" cow branch <new-branch-name> "),
        "{warning}"
    );
    assert_eq!(
        stderr(&git).replace("git branch", "cow branch"),
        format!("{warning}Switched to branch 'main'\n")
    );
    // Six left behind: four listed, then git's count of the rest.
    t.git(&["checkout", "-q", &c2]);
    t.env.cow_ok(["checkout", &c2]);
    for n in 0..6 {
        t.write("a", &format!("{n}\n"));
        t.commit(&format!("detached {n}"));
    }
    let cow = t.env.cow(["checkout", "main"]);
    let git = t.git_out(&["checkout", "main"]);
    let warning = stderr(&cow);
    assert!(warning.contains("leaving 6 commits behind"), "{warning}");
    assert!(warning.contains("\n ... and 2 more.\n"), "{warning}");
    assert_eq!(
        stderr(&git).replace("git branch", "cow branch"),
        format!("{warning}Switched to branch 'main'\n")
    );
    // With --json, one warning line naming the commit.
    t.env.cow_ok(["checkout", &lost]);
    let out = t.env.cow(["checkout", "--json", "main"]);
    assert!(out.status.success(), "{}", describe(&out));
    let line: serde_json::Value = serde_json::from_slice(&out.stderr)?;
    assert_eq!(line["type"], "warning");
    assert_eq!(line["commits"], serde_json::json!([lost]));
    assert!(
        line["message"]
            .as_str()
            .unwrap()
            .contains("you are leaving 1 commit behind"),
        "{line}"
    );
    Ok(())
}

#[test]
fn revert_brings_back_files_directories_replaced_and_modes_as_git_does() -> Result {
    if !git_available() {
        return Ok(());
    }
    let t = Twin::new();
    t.write("x", "a file\n");
    t.write("tool", "#!/bin/sh\n");
    t.write("d/inner", "inner\n");
    let root = t.commit("root");
    t.write("other", "other\n");
    t.commit("other");
    // A file becomes a directory, a directory a file, an executable bit is set.
    for dir in [t.env.work(), t.git.clone()] {
        fs::remove_file(dir.join("x"))?;
        fs::remove_dir_all(dir.join("d"))?;
        set_exec(&dir.join("tool"), true);
    }
    t.write("x/y", "now a directory\n");
    t.write("d", "now a file\n");
    let reshape = t.commit("reshape");
    // While the new directory holds more than the commit put there, turning it back
    // into a file would drop that: refused, naming it.
    t.write("x/z", "added since\n");
    let more = t.commit("more");
    assert_error(&t.env.cow(["revert", &reshape]), "changed since in HEAD: x");
    assert_eq!(t.cow_head(), more);
    for dir in [t.env.work(), t.git.clone()] {
        fs::remove_file(dir.join("x/z"))?;
    }
    t.commit("less");
    t.env.cow_ok(["revert", &reshape]);
    t.git(&["revert", "--no-edit", &reshape]);
    assert_eq!(t.cow_head(), t.git(&["rev-parse", "HEAD"]));
    assert_eq!(t.read("x"), "a file\n");
    assert_eq!(t.read("d/inner"), "inner\n");
    assert_eq!(t.env.cow_ok(["status", "--porcelain"]), "");
    // The root commit, against the empty tree: what it added goes, what came later stays.
    t.env.cow_ok(["revert", &root]);
    t.git(&["revert", "--no-edit", &root]);
    assert_eq!(t.cow_head(), t.git(&["rev-parse", "HEAD"]));
    assert_eq!(list_files(&t.env.work()), vec![PathBuf::from("other")]);
    Ok(())
}

#[test]
fn library_reset_amend_and_revert() -> Result {
    use cow::repository::{CheckoutOptions, ResetMode};
    let env = Env::new();
    let repo = cow::Repository::init(env.work())?;
    let options = commit_options();
    assert!(matches!(
        repo.amend(Some("x"), &options),
        Err(cow::Error::UnbornHead(_))
    ));
    write(&env.work().join("f"), "1\n");
    let c1 = repo.commit("one", &options)?.id;
    write(&env.work().join("f"), "2\n");
    let c2 = repo.commit("two", &options)?.id;
    // A refused hard reset changes nothing.
    write(&env.work().join("f"), "unsaved\n");
    let refused = repo.reset(c1, ResetMode::Hard, &CheckoutOptions::default());
    assert!(matches!(refused, Err(cow::Error::CheckoutConflicts(_))));
    assert_eq!(repo.head_commit()?, Some(c2));
    // A soft one moves the branch only.
    let outcome = repo.reset("HEAD~1", ResetMode::Soft, &CheckoutOptions::default())?;
    assert_eq!((outcome.old, outcome.target), (Some(c2), c1));
    assert_eq!(fs::read_to_string(env.work().join("f"))?, "unsaved\n");
    // Amend keeps the parents and the author; the message given replaces the old one.
    let amended = repo.amend(Some("one, amended"), &options)?;
    let commit = repo.odb().find_commit(&amended.id)?;
    assert!(commit.parents.is_empty());
    assert_eq!(commit.message, b"one, amended\n");
    assert_eq!(
        repo.odb().find_blob(&repo.resolve("HEAD:f")?)?,
        b"unsaved\n"
    );
    // Revert of the amended root: its file goes, in the store and on disk.
    let reverted = repo.revert(amended.id, &options)?;
    assert_eq!(reverted.reverted, amended.id);
    assert_eq!(reverted.tree, cow::ObjectId::empty_tree());
    assert!(!env.work().join("f").exists());
    Ok(())
}

#[test]
fn amend_without_a_message_edits_the_old_one_as_git_does() -> Result {
    if !git_available() {
        return Ok(());
    }
    let t = Twin::new();
    t.write("a", "1\n");
    t.commit("first line\n\nbody");
    // The editor is given the old message above the comments; it changes the subject.
    let editor = t.env.tmp.path().join("editor.sh");
    fs::write(
        &editor,
        "#!/bin/sh\ncp \"$1\" \"$1.seen\"\nsed -i 's/^first line$/first line, edited/' \"$1\"\n",
    )?;
    set_exec(&editor, true);
    const LATER: &str = "1700000999 +0200";
    let out = t
        .env
        .cow_cmd(&t.env.work())
        .env("EDITOR", &editor)
        .env("COW_COMMITTER_DATE", LATER)
        .args(["commit", "--amend"])
        .output()?;
    assert!(out.status.success(), "{}", describe(&out));
    let git = git_cmd(&t.git)
        .env("GIT_EDITOR", &editor)
        .env("GIT_COMMITTER_DATE", LATER)
        .args(["commit", "-q", "--amend"])
        .output()?;
    assert!(git.status.success(), "{}", describe(&git));
    assert_eq!(t.cow_head(), t.git(&["rev-parse", "HEAD"]));
    assert_eq!(
        t.env.cow_ok(["log", "-1", "--format=%B"]),
        "first line, edited\n\nbody\n\n"
    );
    Ok(())
}
