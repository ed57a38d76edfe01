//! The library API: structural sharing, round trips, in-memory snapshots, revisions.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use cow::object::{Commit, Entry, EntryMode, RepoPath, Signature, Time, Tree};
use cow::refs::Head;
use cow::refs::{Expected, RefName};
use cow::repository::PathContent;
use cow::{DiffOptions, Kind, ObjectId, PatchOptions, Repository, StatOptions};

use crate::util::*;

#[test]
fn one_change_deep_down_writes_one_blob_and_the_trees_on_its_path() -> Result {
    let env = Env::new();
    let w = env.work();
    for a in 0..10 {
        for b in 0..10 {
            for c in 0..10 {
                write(
                    &w.join(format!("d{a}/e{b}/f{c}/file.txt")),
                    format!("{a}{b}{c}\n"),
                );
            }
        }
    }
    let repo = Repository::init(&w)?;
    let first = repo.commit("1000 files", &commit_options())?;
    assert_eq!(first.files, 1000);
    // 1000 blobs + 1000/10 + 10 + 1 trees... f-level trees hold one file each, so
    // 1000 f-trees, 100 e-trees, 10 d-trees, 1 root, and the commit.
    assert_eq!(first.new_objects, 1000 + 1000 + 100 + 10 + 1 + 1);
    let before = count_objects(&w);
    assert_eq!(before as u64, first.new_objects);

    write(&w.join("d3/e4/f5/file.txt"), "changed\n");
    let second = repo.commit("one edit", &commit_options())?;
    // One blob, the trees d3/e4/f5, d3/e4, d3 and the root, and the commit.
    assert_eq!(second.new_objects, 1 + 4 + 1);
    assert_eq!(count_objects(&w), before + 6);

    // The unchanged sibling subtrees are the very same objects.
    for path in ["d0", "d3/e0", "d3/e4/f4"] {
        assert_eq!(
            repo.resolve(format!("HEAD:{path}"))?,
            repo.resolve(format!("HEAD~1:{path}"))?
        );
    }
    assert_ne!(repo.resolve("HEAD:d3")?, repo.resolve("HEAD~1:d3")?);
    Ok(())
}

/// Compares every file under `dir` with what the snapshot `rev` holds: bytes, modes,
/// symlink targets, and directories (empty ones included).
fn assert_snapshot_equals_dir(repo: &Repository, rev: &str, dir: &Path) -> Result {
    for entry in walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".cow")
    {
        let entry = entry?;
        let rel = entry.path().strip_prefix(dir)?.as_os_str().as_bytes();
        let content = repo.read_path(rev, RepoPath::from_bytes(rel)?)?;
        let ft = entry.file_type();
        match content {
            PathContent::Tree { .. } => assert!(ft.is_dir(), "{rel:?}"),
            PathContent::Blob { mode, data, .. } if ft.is_symlink() => {
                assert_eq!(mode, EntryMode::Link, "{rel:?}");
                assert_eq!(data, fs::read_link(entry.path())?.as_os_str().as_bytes());
            }
            PathContent::Blob { mode, data, .. } => {
                let exec = entry.metadata()?.permissions().mode() & 0o100 != 0;
                let want = if exec {
                    EntryMode::BlobExecutable
                } else {
                    EntryMode::Blob
                };
                assert_eq!(mode, want, "{rel:?}");
                assert_eq!(data, fs::read(entry.path())?, "{rel:?}");
            }
        }
    }
    // And nothing more: the snapshot lists exactly the files on disk.
    let mut count = 0;
    count_entries(repo, &repo.resolve(format!("{rev}:"))?, &mut count)?;
    let on_disk = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".cow")
        .count();
    assert_eq!(count, on_disk);
    Ok(())
}

fn count_entries(repo: &Repository, tree: &ObjectId, count: &mut usize) -> Result {
    for e in repo.odb().find_tree(tree)?.entries() {
        *count += 1;
        if e.mode == EntryMode::Tree {
            count_entries(repo, &e.id, count)?;
        }
    }
    Ok(())
}

#[test]
fn every_file_reads_back_byte_for_byte_at_every_revision() -> Result {
    for seed in [7u64, 8, 9] {
        let env = Env::new();
        let w = env.work();
        let repo = Repository::init(&w)?;
        let mut rng = Rng::new(seed);
        generate_tree(&mut rng, &w, 3);
        repo.commit("one", &commit_options())?;
        let saved = env.tmp.path().join("saved-one");
        copy_tree(&w, &saved);
        generate_tree(&mut rng, &w.join("more"), 2);
        write(&w.join("a"), rng.bytes(999));
        repo.commit("two", &commit_options())?;
        assert_snapshot_equals_dir(&repo, "HEAD", &w)?;
        assert_snapshot_equals_dir(&repo, "HEAD~1", &saved)?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) {
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
fn snapshots_built_in_memory_without_a_working_directory() -> Result {
    let env = Env::new();
    let repo = Repository::init(env.work())?;
    let odb = repo.odb();
    let readme = odb.write_blob(b"hello\n")?.id;
    let sub = odb.write_tree(&Tree::from_entries(vec![Entry {
        mode: EntryMode::BlobExecutable,
        name: b"run".to_vec(),
        id: readme,
    }])?)?;
    let root = Tree::from_entries(vec![
        Entry {
            mode: EntryMode::Tree,
            name: b"bin".to_vec(),
            id: sub.id,
        },
        Entry {
            mode: EntryMode::Blob,
            name: b"README".to_vec(),
            id: readme,
        },
    ])?;
    let root_id = odb.write_tree(&root)?.id;
    let sig = Signature::new(NAME, EMAIL, Time::parse(DATE).unwrap())?;
    let commit = Commit {
        tree: root_id,
        parents: vec![],
        author: sig.clone(),
        committer: sig,
        extra_headers: vec![],
        message: b"built in memory\n".to_vec(),
    };
    let id = odb.write_commit(&commit)?.id;
    repo.refs().update_head(id, Expected::Absent)?;

    assert_eq!(repo.resolve("HEAD")?, id);
    assert_eq!(repo.resolve("main")?, id);
    assert_eq!(repo.resolve("HEAD:bin/run")?, readme);
    match repo.read_path("HEAD", RepoPath::from_bytes(b"bin/run")?)? {
        PathContent::Blob { mode, data, .. } => {
            assert_eq!(mode, EntryMode::BlobExecutable);
            assert_eq!(data, b"hello\n");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(odb.find_commit(&id)?, commit);
    // Nothing was written into the working directory.
    assert_eq!(list_files(&env.work()), Vec::<std::path::PathBuf>::new());
    Ok(())
}

/// Writes blobs until two ids share their first four hex digits; returns that prefix.
fn make_ambiguous_prefix(repo: &Repository) -> Result<String> {
    let mut seen = std::collections::HashMap::new();
    for i in 0u32.. {
        let id = repo.odb().write_blob(format!("blob {i}\n").as_bytes())?.id;
        let prefix = id.to_hex_prefix(4);
        if seen.insert(prefix.clone(), id).is_some() {
            return Ok(prefix);
        }
    }
    unreachable!()
}

#[test]
fn revision_syntax() -> Result {
    let env = Env::new();
    let w = env.work();
    let repo = Repository::init(&w)?;
    let mut ids = Vec::new();
    for i in 0..4 {
        write(&w.join("n"), format!("{i}\n"));
        ids.push(repo.commit(&format!("c{i}"), &commit_options())?.id);
    }
    assert_eq!(repo.resolve("HEAD")?, ids[3]);
    assert_eq!(repo.resolve("@")?, ids[3]);
    assert_eq!(repo.resolve("HEAD~0")?, ids[3]);
    assert_eq!(repo.resolve("HEAD~3")?, ids[0]);
    assert_eq!(repo.resolve("HEAD^")?, ids[2]);
    assert_eq!(repo.resolve("HEAD^^~1")?, ids[0]);
    assert_eq!(repo.resolve("main~2")?, ids[1]);
    assert_eq!(repo.resolve("refs/heads/main")?, ids[3]);
    assert_eq!(repo.resolve(ids[1].to_string())?, ids[1]);
    assert_eq!(repo.resolve(&ids[1].to_string()[..10])?, ids[1]);
    assert_eq!(repo.resolve(ids[1].to_string().to_uppercase())?, ids[1]);
    let tree = repo.odb().find_commit(&ids[2])?.tree;
    assert_eq!(repo.resolve("HEAD~1:")?, tree);
    // git's peeling suffixes.
    assert_eq!(repo.resolve("HEAD~1^{tree}")?, tree);
    assert_eq!(repo.resolve("HEAD^{commit}~1^{tree}")?, tree);
    assert_eq!(repo.resolve("HEAD~1^{}")?, ids[2]);
    assert_eq!(repo.resolve("HEAD~1^{tree}^{object}")?, tree);
    assert_eq!(
        repo.resolve("HEAD~3^{tree}:n")?,
        ObjectId::hash(Kind::Blob, b"0\n")
    );
    assert_eq!(
        repo.resolve(format!("{}:n", ids[0]))?,
        ObjectId::hash(Kind::Blob, b"0\n")
    );

    repo.refs()
        .update(&RefName::tag("v1")?, ids[1], Expected::Absent)?;
    repo.refs()
        .update(&RefName::branch("side")?, ids[0], Expected::Absent)?;
    assert_eq!(repo.resolve("v1")?, ids[1]);
    assert_eq!(repo.resolve("v1~1")?, ids[0]);
    assert_eq!(repo.resolve("side")?, ids[0]);

    let err = |spec: &str| repo.resolve(spec).unwrap_err().to_string();
    assert_eq!(err("nope"), "unknown revision 'nope'");
    assert!(
        err("HEAD~4").contains("history is shorter"),
        "{}",
        err("HEAD~4")
    );
    assert!(err("HEAD^2").contains("history is shorter"));
    assert!(err("HEAD:missing").contains("path 'missing' does not exist"));
    assert!(err("HEAD:n/deeper").contains("does not exist"));
    assert_eq!(err("abc"), "unknown revision 'abc'"); // too short to be a prefix
    assert!(err("HEAD^{tree}^{commit}").contains("not of the type"));
    assert!(err("HEAD^{blob}").contains("not of the type"));
    assert!(err("HEAD^{tag}").contains("takes commit, tree, blob"));
    assert!(err("HEAD^{tree").contains("without '}'"));
    let prefix = make_ambiguous_prefix(&repo)?;
    assert!(err(&prefix).contains("is ambiguous"), "{}", err(&prefix));
    Ok(())
}

#[test]
fn big_files_are_streamed_in_bounded_memory() -> Result {
    let env = Env::new();
    env.init();
    let big = env.work().join("big");
    let size: u64 = 2 << 30;
    let file = fs::File::create(&big)?;
    file.set_len(size)?; // sparse: 2 GiB of zeros, no disk used
    drop(file);
    write(&env.work().join("small"), "x");
    // Each command may hold 128 MiB of data: a 2 GiB file does not fit.
    let limit = 128 << 20;
    let commit = limit_data(
        env.cow_cmd(&env.work()).args(["commit", "-m", "big"]),
        limit,
    )
    .output()?;
    assert!(commit.status.success(), "{}", describe(&commit));
    assert_eq!(
        env.cow_ok(["cat-file", "-s", "HEAD:big"]).trim(),
        size.to_string()
    );
    // Read it back through a pipe and count, never holding it.
    let mut child = limit_data(env.cow_cmd(&env.work()).args(["show", "HEAD:big"]), limit)
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let (mut total, mut nonzero) = (0u64, false);
    loop {
        let n = std::io::Read::read(&mut stdout, &mut buf)?;
        if n == 0 {
            break;
        }
        nonzero |= buf[..n].iter().any(|&b| b != 0);
        total += n as u64;
    }
    assert!(child.wait()?.success());
    assert_eq!(total, size);
    assert!(!nonzero);
    Ok(())
}

#[test]
fn committing_on_a_detached_head_moves_head_not_the_branch() -> Result {
    let env = Env::new();
    let w = env.work();
    let repo = Repository::init(&w)?;
    write(&w.join("f"), "1");
    let first = repo.commit("one", &commit_options())?.id;
    repo.refs().set_head(&cow::refs::Head::Detached(first))?;
    write(&w.join("f"), "2");
    let outcome = repo.commit("two", &commit_options())?;
    assert_eq!(outcome.branch, None);
    assert_eq!(outcome.parent, Some(first));
    assert_eq!(repo.resolve("HEAD")?, outcome.id);
    assert_eq!(repo.resolve("main")?, first);
    Ok(())
}

#[test]
fn big_commits_write_one_pack_and_small_ones_loose_files() -> Result {
    let env = Env::new();
    let w = env.work();
    for i in 0..500 {
        write(&w.join(format!("d{}/f{i}", i % 10)), format!("file {i}\n"));
    }
    let repo = Repository::init(&w)?;
    let first = repo.commit("many", &commit_options())?;
    assert_eq!(first.new_objects, 500 + 10 + 1 + 1);
    // One pack and its index, not 512 files.
    assert_eq!(count_object_files(&w), 2);
    assert_eq!(count_objects(&w), 512);
    write(&w.join("d3/f3"), "changed\n");
    let second = repo.commit("few", &commit_options())?;
    assert_eq!(second.new_objects, 4);
    assert_eq!(count_object_files(&w), 2 + 4);
    // Everything reads back, verified, from the pack and the loose files.
    assert_snapshot_equals_dir(&repo, "HEAD", &w)?;
    let report = repo.fsck(&cow::repository::FsckOptions::default())?;
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.objects_checked, 516);
    // Another process sees the new pack too.
    let other = Repository::open(&w)?;
    assert_eq!(
        other.resolve("HEAD~1:d3/f3")?,
        ObjectId::hash(Kind::Blob, b"file 3\n")
    );
    Ok(())
}

/// Library errors state what is wrong and name no command-line flag (a program
/// embedding the library has none); the binary adds the flag that gets past each.
#[test]
fn library_errors_name_no_flags_and_the_binary_adds_them() -> Result {
    let env = Env::new();
    write(&env.work().join("f"), "one\n");
    let mut repo = Repository::init(env.work())?;
    repo.commit("one", &commit_options())?;
    repo.create_branch("topic", None)?;
    repo.checkout("topic", &Default::default())?;
    write(&env.work().join("f"), "two\n");
    repo.commit("two", &commit_options())?;
    repo.checkout("main", &Default::default())?;
    write(&env.work().join("f"), "unsaved\n");
    let held = repo.lock()?;
    repo.set_lock_timeout(std::time::Duration::ZERO);
    let locked = repo.commit("x", &commit_options()).unwrap_err();
    drop(held);
    let conflicts = repo.checkout("topic", &Default::default()).unwrap_err();
    let not_merged = repo.delete_branch("topic", false).unwrap_err();
    fs::write(env.work().join("f"), "one\n")?;
    let strict = cow::repository::CommitOptions {
        allow_empty: false,
        ..commit_options()
    };
    let nothing = repo.commit("x", &strict).unwrap_err();
    let errors = [locked, conflicts, not_merged, nothing];
    for err in &errors {
        let text = err.to_string();
        let flags = ["--", " -D", "`cow "];
        assert!(!flags.iter().any(|f| text.contains(f)), "{text}");
    }

    // The binary's lines: the same message, then the hint.
    let cli = [
        (
            vec!["checkout", "topic"],
            Some("unsaved\n"),
            "--force to discard them",
        ),
        (
            vec!["branch", "-d", "topic"],
            None,
            "; use -D to delete it anyway",
        ),
        (
            vec!["commit", "-m", "x"],
            None,
            " (use --allow-empty to commit anyway, or --allow-unchanged to exit 0 without a commit)",
        ),
    ];
    for (args, content, hint) in cli {
        if let Some(content) = content {
            fs::write(env.work().join("f"), content)?;
        }
        let out = env.cow(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.trim_end().ends_with(hint), "{args:?}: {stderr}");
        fs::write(env.work().join("f"), "one\n")?;
    }
    Ok(())
}

#[test]
fn every_method_that_names_a_commit_takes_an_id_or_a_revision_alike() -> Result {
    let env = Env::new();
    let w = env.work();
    let repo = Repository::init(&w)?;
    write(&w.join("a.txt"), "one\n");
    let first = repo.commit("first", &commit_options())?.id;
    write(&w.join("a.txt"), "two\n");
    let second = repo.commit("second", &commit_options())?.id;

    assert_eq!(repo.resolve(first)?, first);
    assert_eq!(repo.resolve("HEAD~1")?, first);
    assert_eq!(repo.resolve_commit(second)?, repo.resolve_commit("main")?);
    // An id is taken as it is, but only when the store has it.
    let missing = ObjectId::hash(Kind::Blob, b"never stored");
    let err = repo.resolve(missing).unwrap_err().to_string();
    assert_eq!(err, format!("unknown revision '{missing}'"));

    let by_id: Vec<_> = repo
        .log(second)?
        .map(|e| e.map(|(id, _)| id))
        .collect::<std::result::Result<_, cow::Error>>()?;
    let by_name: Vec<_> = repo
        .log("main")?
        .map(|e| e.map(|(id, _)| id))
        .collect::<std::result::Result<_, cow::Error>>()?;
    assert_eq!(by_id, [second, first]);
    assert_eq!(by_name, by_id);
    let walked: Vec<_> = repo
        .walk(["main", "HEAD~1"], &Default::default())?
        .map(|e| e.map(|(id, _)| id))
        .collect::<std::result::Result<_, cow::Error>>()?;
    assert_eq!(walked, [second, first]);
    assert_eq!(repo.merge_base(first, "main")?, Some(first));

    let path = RepoPath::from_bytes(b"a.txt")?;
    let at = |rev: cow::Rev| -> Result<Vec<u8>> {
        match repo.read_path(rev, path)? {
            PathContent::Blob { data, .. } => Ok(data),
            other => panic!("a file was expected, not {other:?}"),
        }
    };
    assert_eq!(at(first.into())?, b"one\n");
    assert_eq!(at("HEAD".into())?, b"two\n");

    assert_eq!(repo.create_branch("old", Some(first.into()))?, first);
    assert_eq!(repo.create_tag("v1", Some("old".into()))?, first);
    assert_eq!(repo.create_tag("v2", None)?, second);
    assert_eq!(
        repo.diff_revs(first, "v2", &DiffOptions::default())?
            .changes
            .len(),
        1
    );

    // A branch name attaches HEAD; the same commit by id detaches it.
    repo.checkout(first, &Default::default())?;
    assert_eq!(repo.head()?, Head::Detached(first));
    repo.checkout("old", &Default::default())?;
    assert_eq!(repo.head()?, Head::Branch(RefName::branch("old")?));
    repo.restore(second, &[], &Default::default())?;
    assert_eq!(fs::read(w.join("a.txt"))?, b"two\n");
    Ok(())
}

#[test]
fn a_working_directory_diff_renders_content_that_is_in_no_snapshot() -> Result {
    let env = Env::new();
    let w = env.work();
    let repo = Repository::init(&w)?;
    write(&w.join("a.txt"), "one\n");
    repo.commit("first", &commit_options())?;
    write(&w.join("a.txt"), "unsaved\n");
    let diff = repo.diff_worktree("HEAD", &DiffOptions::default())?;
    let new = diff.changes[0].new.expect("modified").id;
    assert!(!repo.odb().contains(&new), "the edit is in no snapshot");
    let mut patch = Vec::new();
    diff.write_patch(&mut patch, &PatchOptions::default())?;
    let patch = String::from_utf8(patch)?;
    assert!(patch.ends_with("-one\n+unsaved\n"), "{patch}");
    let stats = diff.file_stats(&StatOptions::default())?;
    assert_eq!((stats[0].added, stats[0].removed), (1, 1));
    Ok(())
}

#[test]
fn status_limited_to_paths_reports_only_them() -> Result {
    use cow::object::RepoPathBuf;
    use cow::repository::StatusOptions;
    let env = Env::new();
    let w = env.work();
    write(&w.join("a/x"), "1\n");
    write(&w.join("a/gone"), "1\n");
    write(&w.join("b/y"), "1\n");
    write(&w.join("top"), "1\n");
    let repo = Repository::init(&w)?;
    repo.commit("first", &commit_options())?;
    write(&w.join("a/x"), "2\n");
    fs::remove_file(w.join("a/gone"))?;
    write(&w.join("b/y"), "2\n");
    write(&w.join("top"), "2\n");
    write(&w.join("new/deep/n"), "n\n");
    let changed = |paths: &[&str], all_untracked: bool| -> Result<Vec<String>> {
        let paths = paths
            .iter()
            .map(|p| RepoPathBuf::from_bytes(p.as_bytes().to_vec()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let status = repo.status(&StatusOptions {
            all_untracked,
            paths,
        })?;
        Ok(status
            .changes
            .iter()
            .map(|c| String::from_utf8_lossy(c.path.as_bytes()).into_owned())
            .collect())
    };
    assert_eq!(changed(&[], false)?, ["a/gone", "a/x", "b/y", "new", "top"]);
    assert_eq!(changed(&["a"], false)?, ["a/gone", "a/x"]);
    assert_eq!(changed(&["top", "b/y", "nothing"], false)?, ["b/y", "top"]);
    // A path inside a new directory: that path, not the directory.
    assert_eq!(changed(&["new/deep"], false)?, ["new/deep"]);
    assert_eq!(changed(&["new/deep"], true)?, ["new/deep/n"]);
    assert!(changed(&["nothing"], false)?.is_empty());
    Ok(())
}
