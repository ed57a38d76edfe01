//! Checkout, status, restore and the stat cache.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use cow::Repository;
use cow::diff::ChangeKind;

use cow::repository::{CheckoutOptions, CommitOptions, StatusOptions};

use crate::util::*;

fn fs_path(root: &Path, rel: &[u8]) -> std::path::PathBuf {
    root.join(OsStr::from_bytes(rel))
}

/// Applies one random change of the kinds the round trip must cover.
fn mutate(rng: &mut Rng, root: &Path, step: usize) {
    let items = manifest(root);
    let of = |want: fn(&Item) -> bool| -> Vec<&[u8]> {
        items
            .iter()
            .filter(|(_, i)| want(i))
            .map(|(p, _)| p.as_slice())
            .collect()
    };
    let files = of(|i| matches!(i, Item::File { .. }));
    let links = of(|i| matches!(i, Item::Link(_)));
    let dirs = of(|i| matches!(i, Item::Dir));
    let fresh = |rng: &mut Rng| -> std::path::PathBuf {
        let base = if dirs.is_empty() || rng.chance(30) {
            root.to_owned()
        } else {
            fs_path(root, rng.pick(&dirs))
        };
        base.join(format!("n{step}-{}", rng.below(1000)))
    };
    match rng.below(11) {
        0 => write(&fresh(rng), rng.bytes(100)),
        1 if !files.is_empty() => fs::remove_file(fs_path(root, rng.pick(&files))).unwrap(),
        2 if !files.is_empty() => {
            let from = fs_path(root, rng.pick(&files));
            fs::rename(from, fresh(rng)).unwrap();
        }
        3 if !files.is_empty() => {
            let p = fs_path(root, rng.pick(&files));
            let mut data = fs::read(&p).unwrap();
            data.extend_from_slice(format!("edit {step}\n").as_bytes());
            fs::write(p, data).unwrap();
        }
        4 if !files.is_empty() => {
            let p = fs_path(root, rng.pick(&files));
            let exec = fs::metadata(&p).unwrap().mode() & 0o100 != 0;
            set_exec(&p, !exec);
        }
        5 if !files.is_empty() => {
            // file -> directory
            let p = fs_path(root, rng.pick(&files));
            fs::remove_file(&p).unwrap();
            write(&p.join("was-a-file"), format!("{step}"));
        }
        6 if !dirs.is_empty() => {
            // directory -> file
            let p = fs_path(root, rng.pick(&dirs));
            fs::remove_dir_all(&p).unwrap();
            fs::write(&p, format!("was a dir {step}")).unwrap();
        }
        7 if !files.is_empty() => {
            // file -> symlink
            let p = fs_path(root, rng.pick(&files));
            fs::remove_file(&p).unwrap();
            std::os::unix::fs::symlink(format!("target-{step}"), &p).unwrap();
        }
        8 if !links.is_empty() => {
            // symlink -> file
            let p = fs_path(root, rng.pick(&links));
            fs::remove_file(&p).unwrap();
            fs::write(&p, format!("was a link {step}")).unwrap();
        }
        9 => fs::create_dir_all(fresh(rng)).unwrap(),
        _ => {
            // an empty directory vanishes, or a file appears deep down
            let empty: Vec<&&[u8]> = dirs
                .iter()
                .filter(|d| fs::read_dir(fs_path(root, d)).unwrap().next().is_none())
                .collect();
            if let Some(d) = empty.first() {
                fs::remove_dir(fs_path(root, d)).unwrap();
            } else {
                write(&fresh(rng).join("deep/er/file"), "deep");
            }
        }
    }
}

#[test]
fn round_trip_over_many_snapshots_in_random_order() -> Result {
    let seed = 20261125u64;
    eprintln!("seed {seed}");
    let mut rng = Rng::new(seed);
    let env = Env::new();
    let w = env.work();
    generate_tree(&mut rng, &w, 2);
    let repo = Repository::init(&w)?;
    let mut snapshots: Vec<(cow::ObjectId, BTreeMap<Vec<u8>, Item>)> = Vec::new();
    for step in 0..24 {
        for _ in 0..3 {
            mutate(&mut rng, &w, step);
        }
        let id = repo.commit(&format!("step {step}"), &commit_options())?.id;
        snapshots.push((id, manifest(&w)));
    }
    let mut order: Vec<usize> = (0..snapshots.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    for &i in order.iter().chain(&[0, 23, 5]) {
        let (id, want) = &snapshots[i];
        let outcome = repo.checkout(id, &CheckoutOptions::default())?;
        assert!(outcome.plan.conflicts.is_empty());
        assert_eq!(&manifest(&w), want, "snapshot {i}");
        let status = repo.status(&StatusOptions::default())?;
        assert!(status.is_clean(), "snapshot {i}: {:?}", status.changes);
        assert_eq!(
            status.hashed, 0,
            "snapshot {i}: the stat cache was not fresh"
        );
    }
    Ok(())
}

#[test]
fn checkout_touches_only_the_files_that_differ() -> Result {
    let env = Env::new();
    let w = env.work();
    for d in 0..50 {
        for f in 0..100 {
            write(
                &w.join(format!("d{d:02}/f{f:03}.txt")),
                format!("{d} {f}\n"),
            );
        }
    }
    let repo = Repository::init(&w)?;
    let a = repo.commit("A", &commit_options())?.id;
    let changed: Vec<String> = (0..10)
        .map(|i| format!("d{:02}/f{:03}.txt", i * 5, i * 7))
        .collect();
    for p in &changed {
        write(&w.join(p), "changed\n");
    }
    repo.commit("B", &commit_options())?;
    let stamp = |w: &Path| -> BTreeMap<String, (u64, i64, i64)> {
        list_files(w)
            .into_iter()
            .map(|p| {
                let m = fs::metadata(w.join(&p)).unwrap();
                (
                    p.to_string_lossy().into_owned(),
                    (m.ino(), m.mtime(), m.mtime_nsec()),
                )
            })
            .collect()
    };
    let before = stamp(&w);
    let reads = repo.odb().stats().reads;
    let outcome = repo.checkout(a, &CheckoutOptions::default())?;
    assert_eq!(outcome.applied.written, 10);
    assert_eq!(outcome.plan.ops.len(), 10);
    let after = stamp(&w);
    let differ: Vec<&String> = before.keys().filter(|k| before[*k] != after[*k]).collect();
    let mut want: Vec<&String> = changed.iter().collect();
    want.sort();
    assert_eq!(differ, want);
    // Trees read: two commits' roots and the ten directories that differ, each side;
    // plus the ten blobs written. Never the 40 equal directories.
    let read = repo.odb().stats().reads - reads;
    assert!(read <= 2 + 2 * 2 + 2 * 10 + 10, "{read} object reads");
    let status = repo.status(&StatusOptions::default())?;
    assert!(status.is_clean());
    assert_eq!(status.hashed, 0);
    Ok(())
}

#[test]
fn status_after_commit_reads_nothing_and_sees_same_size_rewrites() -> Result {
    let env = Env::new();
    let w = env.work();
    for i in 0..200 {
        write(
            &w.join(format!("dir{}/file{i}", i % 7)),
            format!("content {i:04}\n"),
        );
    }
    let repo = Repository::init(&w)?;
    let first = repo.commit("one", &commit_options())?;
    assert_eq!(first.hashed, 200);
    let status = repo.status(&StatusOptions::default())?;
    assert!(status.is_clean());
    assert_eq!((status.files, status.hashed), (200, 0));
    // A second commit of an unchanged tree reads nothing either.
    write(&w.join("extra"), "x");
    let second = repo.commit("two", &commit_options())?;
    assert_eq!(second.hashed, 1);

    // Racy: rewrite with the same size right after the commit, many times over.
    for round in 0..20 {
        let p = w.join("dir0/file0");
        write(&p, format!("racy {round:06}\n"));
        repo.commit(&format!("r{round}"), &commit_options())?;
        write(&p, format!("RACY {round:06}\n"));
        let status = repo.status(&StatusOptions::default())?;
        assert_eq!(
            status.changes.len(),
            1,
            "round {round}: a same-size rewrite was missed"
        );
        assert_eq!(status.changes[0].kind(), ChangeKind::Modified);
        assert_eq!(status.changes[0].path.as_bytes(), b"dir0/file0");
    }

    // A corrupt or missing cache is rebuilt, never trusted.
    fs::write(w.join(".cow/index"), b"garbage")?;
    let status = repo.status(&StatusOptions::default())?;
    assert_eq!(status.hashed, 201);
    fs::remove_file(w.join(".cow/index"))?;
    assert_eq!(repo.status(&StatusOptions::default())?.hashed, 201);
    assert_eq!(repo.status(&StatusOptions::default())?.hashed, 0);
    Ok(())
}

/// The tree of the working directory as a scan without any cache finds it.
fn uncached_tree(repo: &Repository) -> cow::ObjectId {
    cow::worktree::scan(
        repo.odb(),
        repo.require_work_dir().expect("a working directory"),
        &cow::worktree::ScanOptions::default(),
    )
    .expect("a scan")
    .tree
}

#[test]
fn cached_directory_listings_never_hide_a_change() -> Result {
    let seed = 20261126u64;
    eprintln!("seed {seed}");
    let mut rng = Rng::new(seed);
    let env = Env::new();
    let w = env.work();
    generate_tree(&mut rng, &w, 3);
    let repo = Repository::init(&w)?;
    repo.commit("one", &commit_options())?;
    let allow_empty = cow::repository::CommitOptions {
        allow_empty: true,
        ..commit_options()
    };
    for step in 0..40 {
        // Changes made right after a scan, often in the tick the directories were read.
        repo.status(&StatusOptions::default())?;
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &w, step);
        }
        // Ignore rules that appear, change in place (the directory's own stat data do
        // not change) and go.
        let dirs: Vec<Vec<u8>> = manifest(&w)
            .into_iter()
            .filter(|(_, i)| matches!(i, Item::Dir))
            .map(|(p, _)| p)
            .collect();
        let dir = if dirs.is_empty() || rng.chance(30) {
            w.clone()
        } else {
            fs_path(&w, &dirs[rng.below(dirs.len() as u64) as usize])
        };
        match rng.below(4) {
            0 => write(
                &dir.join(".cowignore"),
                format!("n{}*\n", rng.below(step as u64 + 1)),
            ),
            1 if dir.join(".cowignore").exists() => {
                fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .open(dir.join(".cowignore"))?
                    .write_all(format!("*-{}*\n", rng.below(1000)).as_bytes())?;
            }
            2 if dir.join(".cowignore").exists() => fs::remove_file(dir.join(".cowignore"))?,
            _ => {}
        }
        let cached = repo.commit(&format!("step {step}"), &allow_empty)?.tree;
        assert_eq!(cached, uncached_tree(&repo), "step {step}");
    }
    // A corrupt directory cache is rebuilt, never trusted.
    fs::write(w.join(".cow/dircache"), b"garbage")?;
    write(&w.join("after-garbage"), "x");
    let cached = repo.commit("last", &allow_empty)?.tree;
    assert_eq!(cached, uncached_tree(&repo));
    Ok(())
}

#[test]
fn directories_read_in_their_last_tick_are_not_cached() -> Result {
    use cow::worktree::{Clock, ScanOptions, Timestamp, scan};
    let env = Env::new();
    let w = env.work();
    for d in ["a", "a/b", "c"] {
        write(&w.join(d).join("f"), d);
    }
    let repo = Repository::init(&w)?;
    // A tick at the epoch: everything was changed at or after it.
    let racy = ScanOptions {
        clock: Clock::Settled(Timestamp::default()),
        ..ScanOptions::default()
    };
    let dirs = scan(repo.odb(), &w, &racy)?.dirs.expect("a new cache");
    assert_eq!(dirs.len(), 0);
    let settled = ScanOptions {
        clock: Clock::SettleIn(repo.cow_dir()),
        ..ScanOptions::default()
    };
    let dirs = scan(repo.odb(), &w, &settled)?.dirs.expect("a new cache");
    assert_eq!(dirs.len(), 4, "the root, a, a/b and c");
    Ok(())
}

#[test]
fn tree_ids_are_taken_only_while_their_files_are_unchanged() -> Result {
    let env = Env::new();
    let w = env.work();
    for i in 0..12 {
        write(&w.join(format!("a/b{}/f{i}", i % 3)), format!("{i:04}"));
    }
    write(&w.join("top"), "top");
    let repo = Repository::init(&w)?;
    let one = repo.commit("one", &commit_options())?;
    // The commit recorded every tree as part of HEAD's; a status takes them all.
    let dirs = cow::worktree::DirCache::load(&w.join(".cow/dircache")).expect("saved");
    assert_eq!((dirs.trees(), dirs.tree()), (dirs.len(), Some(one.tree)));
    assert!(repo.status(&StatusOptions::default())?.is_clean());

    // Edits in place change no directory's stat data; a second status sees them too.
    write(&w.join("a/b1/f4"), "edited");
    set_exec(&w.join("a/b2/f5"), true);
    for _ in 0..2 {
        for _ in 0..3 {
            let status = repo.status(&StatusOptions::default())?;
            let changed: Vec<&[u8]> = status.changes.iter().map(|c| c.path.as_bytes()).collect();
            assert_eq!(changed, [&b"a/b1/f4"[..], b"a/b2/f5"]);
        }
        assert_eq!(
            uncached_tree(&repo),
            repo.commit(
                "check",
                &CommitOptions {
                    allow_empty: true,
                    ..commit_options()
                }
            )?
            .tree
        );
        // Back to the first snapshot's content and modes, one file edited in place.
        write(&w.join("a/b1/f4"), "0004");
        set_exec(&w.join("a/b2/f5"), false);
        repo.commit("back", &commit_options())?;
        assert!(repo.status(&StatusOptions::default())?.is_clean());
        write(&w.join("a/b1/f4"), "edited");
        set_exec(&w.join("a/b2/f5"), true);
    }
    Ok(())
}

#[test]
fn tree_ids_are_not_taken_with_another_stat_cache() -> Result {
    use std::time::{Duration, SystemTime};
    let env = Env::new();
    let w = env.work();
    let f = w.join("d/f");
    write(&f, "aaaa");
    write(&w.join("d/g"), "g");
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let set_mtime = |t: SystemTime| {
        fs::OpenOptions::new()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(t)
            .unwrap()
    };
    set_mtime(when);
    let repo = Repository::init(&w)?;
    repo.commit("one", &commit_options())?;
    let old_index = fs::read(w.join(".cow/index"))?;
    // A second snapshot with other content in the same file (same size, in place).
    fs::OpenOptions::new()
        .write(true)
        .open(&f)?
        .write_all(b"bbbb")?;
    set_mtime(when + Duration::from_secs(60));
    let two = repo.commit("two", &commit_options())?;
    // The first content, stat data and stat cache back, the directory cache of the
    // second snapshot kept (as if saving the pair had failed halfway).
    fs::OpenOptions::new()
        .write(true)
        .open(&f)?
        .write_all(b"aaaa")?;
    set_mtime(when);
    fs::write(w.join(".cow/index"), &old_index)?;
    let status = repo.status(&StatusOptions::default())?;
    assert_eq!(status.changes.len(), 1, "{status:?}");
    assert_eq!(status.changes[0].path.as_bytes(), b"d/f");
    assert_ne!(uncached_tree(&repo), two.tree);
    Ok(())
}

#[test]
fn status_with_nothing_changed_rewrites_no_cache() -> Result {
    let env = Env::new();
    let w = env.work();
    for i in 0..30 {
        write(&w.join(format!("d{}/f{i}", i % 4)), format!("{i}"));
    }
    let repo = Repository::init(&w)?;
    repo.commit("one", &commit_options())?;
    repo.status(&StatusOptions::default())?;
    let stamp = |name: &str| -> (u64, i64, i64) {
        let meta = fs::metadata(w.join(".cow").join(name)).unwrap();
        (meta.ino(), meta.mtime(), meta.mtime_nsec())
    };
    let before = (stamp("index"), stamp("dircache"));
    let status = repo.status(&StatusOptions::default())?;
    assert!(status.is_clean() && status.hashed == 0);
    assert_eq!((stamp("index"), stamp("dircache")), before);
    // A new file changes both.
    write(&w.join("d1/new"), "new");
    repo.status(&StatusOptions::default())?;
    assert_ne!(stamp("index"), before.0);
    assert_ne!(stamp("dircache"), before.1);
    Ok(())
}

#[test]
fn status_of_unchanged_tree_succeeds_even_when_files_are_unreadable() {
    let env = Env::new();
    for i in 0..50 {
        write(&env.work().join(format!("d/f{i}")), format!("{i}"));
    }
    env.init();
    env.commit("one");
    env.cow_ok(["status"]); // settles the cache
    for f in list_files(&env.work()) {
        fs::set_permissions(
            env.work().join(f),
            std::os::unix::fs::PermissionsExt::from_mode(0o000),
        )
        .unwrap();
    }
    let out = env.cow_as_nobody(&["status", "--porcelain"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(out.stdout.is_empty(), "{}", describe(&out));
}

fn state(env: &Env) -> (BTreeMap<Vec<u8>, Item>, String, Vec<String>) {
    let head = fs::read_to_string(env.work().join(".cow/HEAD")).unwrap();
    let refs = walkdir::WalkDir::new(env.work().join(".cow/refs"))
        .sort_by_file_name()
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let content = fs::read_to_string(e.path()).unwrap_or_default();
            format!("{} {content}", e.path().display())
        })
        .collect();
    (manifest(&env.work()), head, refs)
}

/// Two snapshots: `main` has a.txt = "main", sub/x; `other` changes a.txt and adds
/// new.txt and dir/inner.
fn two_branches() -> Env {
    let env = Env::new();
    let w = env.work();
    write(&w.join("a.txt"), "main\n");
    write(&w.join("sub/x"), "x\n");
    write(&w.join(".cowignore"), "*.ignored\n");
    env.init();
    env.commit("main");
    env.cow_ok(["checkout", "-b", "other"]);
    write(&w.join("a.txt"), "other\n");
    write(&w.join("new.txt"), "new\n");
    write(&w.join("dir/inner"), "inner\n");
    write(
        &w.join("c.ignored"),
        "tracked before it was ignored? no: ignored\n",
    );
    fs::remove_file(w.join("c.ignored")).unwrap();
    write(&w.join("d.ignored.txt"), "not ignored\n");
    env.commit("other");
    env.cow_ok(["checkout", "main"]);
    env
}

#[test]
fn refusals_name_the_paths_and_change_nothing() {
    let env = two_branches();
    let w = env.work();

    // A modified tracked file the target changes.
    write(&w.join("a.txt"), "local edit\n");
    let before = state(&env);
    let out = env.cow(["checkout", "other"]);
    assert_error(&out, "a.txt (modified)");
    assert_eq!(state(&env), before);
    // The dry run plans nothing either, and refuses the same way.
    assert_error(
        &env.cow(["checkout", "--dry-run", "other"]),
        "a.txt (modified)",
    );
    fs::write(w.join("a.txt"), "main\n").unwrap();

    // An untracked file where the target adds one; an ignored one too.
    write(&w.join("new.txt"), "mine\n");
    fs::create_dir_all(w.join("dir")).unwrap();
    let before = state(&env);
    let out = env.cow(["checkout", "other"]);
    assert_error(&out, "new.txt (untracked)");
    assert_eq!(state(&env), before);
    fs::remove_file(w.join("new.txt")).unwrap();
    write(&w.join("dir/inner"), "mine too\n");
    let out = env.cow(["checkout", "-b", "never", "other"]);
    assert_error(&out, "dir/inner (untracked)");
    assert!(
        !env.cow_ok(["branch"]).contains("never"),
        "a refused checkout -b made a branch"
    );
    fs::remove_dir_all(w.join("dir")).unwrap();

    let w2 = env.work();
    write(&w2.join(".cowignore"), "*.ignored\nnew.txt\n");
    env.cow_ok(["commit", "-m", "ignore new.txt"]);
    write(&w2.join("new.txt"), "ignored but precious\n");
    let before = state(&env);
    assert_error(&env.cow(["checkout", "other"]), "new.txt (ignored)");
    assert_eq!(state(&env), before);

    // --force replaces them; untracked files not in the way stay.
    write(&w2.join("bystander.txt"), "untouched\n");
    env.cow_ok(["checkout", "--force", "other"]);
    assert_eq!(fs::read_to_string(w2.join("new.txt")).unwrap(), "new\n");
    assert_eq!(
        fs::read_to_string(w2.join("bystander.txt")).unwrap(),
        "untouched\n"
    );
    assert_eq!(env.cow_ok(["status", "--porcelain"]), "?? bystander.txt\n");
}

#[test]
fn local_changes_to_paths_the_switch_does_not_touch_are_kept() {
    let env = two_branches();
    write(&env.work().join("sub/x"), "my edit\n");
    env.cow_ok(["checkout", "other"]);
    assert_eq!(
        fs::read_to_string(env.work().join("sub/x")).unwrap(),
        "my edit\n"
    );
    assert_eq!(env.cow_ok(["status", "--porcelain"]), " M sub/x\n");
    assert_eq!(env.cow_ok(["branch"]), "  main\n* other\n");
}

#[test]
fn dry_run_reports_and_changes_nothing() {
    let env = two_branches();
    let before = state(&env);
    let plan = env.cow_ok(["checkout", "--dry-run", "other"]);
    assert_eq!(
        plan,
        "would write a.txt\nwould write d.ignored.txt\nwould create directory dir\nwould write dir/inner\nwould write new.txt\n"
    );
    assert_eq!(state(&env), before);
}

#[test]
fn checkout_never_writes_through_a_symlink_in_the_working_directory() {
    let env = Env::new();
    let w = env.work();
    write(&w.join("d/f"), "one\n");
    env.init();
    env.commit("one");
    write(&w.join("d/f"), "two\n");
    write(&w.join("d/g"), "two\n");
    env.commit("two");
    let outside = env.tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    write(&outside.join("f"), "outside\n");
    fs::remove_dir_all(w.join("d")).unwrap();
    std::os::unix::fs::symlink(&outside, w.join("d")).unwrap();
    assert_error(&env.cow(["checkout", "HEAD~1"]), "d (modified)");
    env.cow_ok(["checkout", "--force", "HEAD~1"]);
    assert_eq!(fs::read_to_string(outside.join("f")).unwrap(), "outside\n");
    assert_eq!(list_files(&outside).len(), 1);
    assert!(fs::symlink_metadata(w.join("d")).unwrap().is_dir());
    assert_eq!(fs::read_to_string(w.join("d/f")).unwrap(), "one\n");
}

#[test]
fn checkout_fills_a_fresh_repository_with_copied_objects() {
    let source = Env::new();
    let mut rng = Rng::new(99);
    generate_tree(&mut rng, &source.work(), 3);
    let want = manifest(&source.work());
    source.init();
    let id = source.commit("to copy");

    let env = Env::new();
    env.init();
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(source.work().join(".cow/objects/."))
        .arg(env.work().join(".cow/objects"))
        .status()
        .unwrap();
    assert!(status.success());
    let out = env.cow_ok(["checkout", &id]);
    assert!(out.starts_with("HEAD is now at "), "{out}");
    assert_eq!(manifest(&env.work()), want);
    assert_eq!(env.cow_ok(["status", "--porcelain"]), "");
    assert_eq!(env.cow_ok(["rev-parse", "HEAD"]).trim(), id);
}

#[test]
fn status_formats() {
    let env = Env::new();
    let w = env.work();
    write(&w.join("keep"), "k\n");
    write(&w.join("mod"), "m\n");
    write(&w.join("gone"), "g\n");
    write(&w.join("exe"), "e\n");
    write(&w.join("ln"), "target\n");
    write(&w.join("olddir/a"), "a\n");
    fs::create_dir(w.join("emptied")).unwrap();
    env.init();
    assert!(env.cow_ok(["status"]).contains("No commits yet"));
    env.commit("base");
    assert_eq!(
        env.cow_ok(["status"]),
        "On branch main\nnothing to commit, working tree clean\n"
    );
    assert_eq!(env.cow_ok(["status", "--porcelain"]), "");

    write(&w.join("mod"), "changed\n");
    fs::remove_file(w.join("gone")).unwrap();
    set_exec(&w.join("exe"), true);
    fs::remove_file(w.join("ln")).unwrap();
    std::os::unix::fs::symlink("keep", w.join("ln")).unwrap();
    fs::remove_dir_all(w.join("olddir")).unwrap();
    fs::remove_dir(w.join("emptied")).unwrap();
    write(&w.join("newdir/sub/n"), "n\n");
    write(&w.join("new file"), "n\n");
    let porcelain = env.cow_ok(["status", "--porcelain"]);
    assert_eq!(
        porcelain,
        " D emptied/\n M exe\n D gone\n T ln\n M mod\n D olddir/a\n?? \"new file\"\n?? newdir/\n"
    );
    assert_eq!(env.cow_ok(["status", "-s"]), porcelain);
    assert!(
        env.cow_ok(["status", "-uall", "--porcelain"])
            .contains("?? newdir/sub/n\n")
    );
    let z = env.cow(["status", "--porcelain", "-z"]).stdout;
    assert!(z.ends_with(b"?? new file\0?? newdir/\0"));
    let human = env.cow_ok(["status"]);
    assert!(human.contains("\tmodified:   mod\n"), "{human}");
    assert!(human.contains("\tdeleted:    gone\n"));
    assert!(human.contains("\ttypechange: ln\n"));
    assert!(human.contains("Untracked files:\n"));
    assert!(human.contains("\tnewdir/\n"));
}

#[test]
fn restore_brings_paths_back_without_moving_head() {
    let env = Env::new();
    let w = env.work();
    write(&w.join("a"), "v1\n");
    write(&w.join("d/x"), "x1\n");
    write(&w.join("d/y"), "y1\n");
    env.init();
    env.commit("one");
    write(&w.join("a"), "v2\n");
    write(&w.join("d/x"), "x2\n");
    fs::remove_file(w.join("d/y")).unwrap();
    write(&w.join("d/z"), "z2\n");
    env.commit("two");
    let head = env.cow_ok(["rev-parse", "HEAD"]);

    write(&w.join("a"), "scribble\n");
    fs::remove_file(w.join("d/x")).unwrap();
    // `a` holds unsaved work: restore refuses it without --force (see
    // restore_target.rs), and --force is the user saying to discard it.
    env.cow_ok(["restore", "--force", "a", "d/x"]);
    assert_eq!(fs::read_to_string(w.join("a")).unwrap(), "v2\n");
    assert_eq!(fs::read_to_string(w.join("d/x")).unwrap(), "x2\n");
    assert_eq!(env.cow_ok(["status", "--porcelain"]), "");

    // From an older snapshot, a directory, run from inside it.
    write(&w.join("d/untracked"), "stays\n");
    let out = env
        .cow_cmd(&w.join("d"))
        .args(["restore", "--source", "HEAD~1", "."])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(fs::read_to_string(w.join("d/x")).unwrap(), "x1\n");
    assert_eq!(fs::read_to_string(w.join("d/y")).unwrap(), "y1\n");
    assert!(
        !w.join("d/z").exists(),
        "z is in HEAD but not in the source"
    );
    assert_eq!(
        fs::read_to_string(w.join("d/untracked")).unwrap(),
        "stays\n"
    );
    assert_eq!(fs::read_to_string(w.join("a")).unwrap(), "v2\n");
    assert_eq!(env.cow_ok(["rev-parse", "HEAD"]), head);

    assert_error(&env.cow(["restore", "nope"]), "path 'nope' does not exist");
    assert_error(
        &env.cow(["restore", "../outside"]),
        "outside the repository",
    );
}

#[test]
fn branches_and_tags() {
    let env = two_branches();
    assert_eq!(env.cow_ok(["branch"]), "* main\n  other\n");
    env.cow_ok(["branch", "topic", "other"]);
    assert_eq!(
        env.cow_ok(["rev-parse", "topic"]),
        env.cow_ok(["rev-parse", "other"])
    );
    assert_error(
        &env.cow(["branch", "topic"]),
        "a branch named 'topic' already exists",
    );
    assert_error(&env.cow(["branch", "bad..name"]), "not a valid branch name");
    assert_error(
        &env.cow(["branch", "topic/sub"]),
        "ref refs/heads/topic exists",
    );
    assert_error(&env.cow(["branch", "main/x"]), "ref refs/heads/main exists");
    assert_error(&env.cow(["branch", "-d", "main"]), "HEAD is on it");
    assert!(env.cow_ok(["branch"]).contains("* main"));
    assert_error(&env.cow(["branch", "-d", "topic"]), "use -D");
    assert!(
        env.cow_ok(["branch", "-D", "topic"])
            .starts_with("Deleted branch topic")
    );
    assert_eq!(env.cow_ok(["branch"]), "* main\n  other\n");
    assert_error(
        &env.cow(["branch", "-d", "topic"]),
        "branch 'topic' not found",
    );

    env.cow_ok(["tag", "v1"]);
    env.cow_ok(["tag", "v2", "other"]);
    assert_eq!(env.cow_ok(["tag"]), "v1\nv2\n");
    assert_error(&env.cow(["tag", "v1"]), "a tag named 'v1' already exists");
    let out = env.cow_ok(["checkout", "v2"]);
    assert!(out.starts_with("HEAD is now at "), "{out}");
    assert_eq!(
        fs::read_to_string(env.work().join(".cow/HEAD"))
            .unwrap()
            .trim(),
        env.cow_ok(["rev-parse", "other"]).trim()
    );
    assert!(env.cow_ok(["status"]).starts_with("HEAD detached at "));
    // Committing on a detached HEAD moves HEAD only.
    write(&env.work().join("detached.txt"), "d\n");
    env.cow_ok(["commit", "-m", "detached"]);
    assert_eq!(
        env.cow_ok(["rev-parse", "HEAD~1"]),
        env.cow_ok(["rev-parse", "v2"])
    );
    env.cow_ok(["tag", "-d", "v1"]);
    assert_eq!(env.cow_ok(["tag"]), "v2\n");
    // checkout -b on a repository with no commits names the unborn branch.
    let fresh = Env::new();
    fresh.init();
    fresh.cow_ok(["checkout", "-b", "trunk"]);
    assert_eq!(
        fs::read_to_string(fresh.work().join(".cow/HEAD")).unwrap(),
        "ref: refs/heads/trunk\n"
    );
}

/// Regression tests for cases a review found.
mod review {
    use super::*;

    #[test]
    fn symlink_replaced_by_a_directory_is_not_looked_through() {
        let env = Env::new();
        let w = env.work();
        write(&w.join("real/f"), "same\n");
        std::os::unix::fs::symlink("real", w.join("d")).unwrap();
        env.init();
        env.commit("link");
        env.cow_ok(["checkout", "-b", "two"]);
        fs::remove_file(w.join("d")).unwrap();
        write(&w.join("d/f"), "same\n");
        write(&w.join("d/g"), "other\n");
        env.commit("dir");
        let want = manifest(&w);
        env.cow_ok(["checkout", "main"]);
        assert!(
            fs::symlink_metadata(w.join("d"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        env.cow_ok(["checkout", "two"]);
        assert_eq!(manifest(&w), want);
        assert_eq!(env.cow_ok(["status", "--porcelain"]), "");
        assert_eq!(fs::read_to_string(w.join("real/f")).unwrap(), "same\n");
    }

    #[test]
    fn a_fifo_in_the_way_is_refused_before_anything_changes() {
        let env = two_branches();
        let w = env.work();
        let status = std::process::Command::new("mkfifo")
            .arg(w.join("dir"))
            .status()
            .unwrap();
        assert!(status.success());
        let before = state(&env);
        assert_error(
            &env.cow(["checkout", "-b", "x", "other"]),
            "dir (untracked)",
        );
        assert_eq!(state(&env), before);
        env.cow_ok(["checkout", "--force", "other"]);
        assert_eq!(fs::read_to_string(w.join("dir/inner")).unwrap(), "inner\n");
    }

    #[test]
    fn force_keeps_ignored_files_that_are_not_in_the_way() {
        let env = Env::new();
        let w = env.work();
        write(&w.join("d/t"), "t\n");
        env.init();
        env.commit("one");
        env.cow_ok(["checkout", "-b", "two"]);
        fs::remove_dir_all(w.join("d")).unwrap();
        write(&w.join(".cowignore"), "d/\n");
        env.commit("two");
        env.cow_ok(["checkout", "-f", "main"]);
        write(&w.join("d/precious"), "precious\n");
        write(&w.join(".cowignore"), "d/precious\n");
        env.cow_ok(["checkout", "-f", "two"]);
        assert_eq!(
            fs::read_to_string(w.join("d/precious")).unwrap(),
            "precious\n"
        );
        assert!(!w.join("d/t").exists());
    }

    #[test]
    fn restore_refuses_untracked_files_in_the_way_unless_forced() {
        let env = two_branches();
        let w = env.work();
        write(&w.join("new.txt"), "precious\n");
        write(&w.join("dir/inner/untracked"), "also precious\n");
        let before = state(&env);
        let out = env.cow(["restore", "-s", "other", "new.txt", "dir"]);
        assert_error(&out, "new.txt (untracked)");
        assert!(String::from_utf8_lossy(&out.stderr).contains("dir/inner/untracked (untracked)"));
        assert_eq!(state(&env), before);
        env.cow_ok(["restore", "--force", "-s", "other", "new.txt", "dir"]);
        assert_eq!(fs::read_to_string(w.join("new.txt")).unwrap(), "new\n");
        assert_eq!(fs::read_to_string(w.join("dir/inner")).unwrap(), "inner\n");
    }

    #[test]
    fn a_corrupt_blob_fails_the_checkout_before_anything_changes() {
        let env = two_branches();
        let id = env.cow_ok(["rev-parse", "other:new.txt"]).trim().to_owned();
        let path = object_path(&env.work(), &id);
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        fs::write(&path, zstd::encode_all(&b"blob 4\0evil"[..], 3).unwrap()).unwrap();
        let before = state(&env);
        assert_error(
            &env.cow(["checkout", "-b", "x", "other"]),
            &format!("object {id} is corrupt"),
        );
        assert_eq!(
            state(&env),
            before,
            "the working directory, HEAD or branches changed"
        );
        let leftovers: Vec<_> = fs::read_dir(env.work().join(".cow"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn an_empty_object_file_left_by_a_crash_is_rewritten() {
        let env = Env::new();
        write(&env.work().join("f"), "content\n");
        env.init();
        let repo = Repository::open(env.work()).unwrap();
        let id = cow::ObjectId::hash(cow::Kind::Blob, b"content\n").to_string();
        let dir = env.work().join(".cow/objects").join(&id[..2]);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(&id[2..]), b"").unwrap();
        assert!(!repo.odb().contains(&id.parse().unwrap()));
        env.commit("one");
        assert_eq!(env.cow_ok(["show", "HEAD:f"]), "content\n");
    }

    /// `x/y/f` on main (checked out), the file `x` in its place on branch `file`.
    fn directory_on_main_file_on_branch() -> Env {
        let env = Env::new();
        let w = env.work();
        write(&w.join("x/y/f"), "f\n");
        env.init();
        env.commit("dir");
        env.cow_ok(["checkout", "-b", "file"]);
        fs::remove_dir_all(w.join("x")).unwrap();
        write(&w.join("x"), "now a file\n");
        env.commit("file");
        env.cow_ok(["checkout", "main"]);
        env
    }

    #[test]
    fn conflicts_inside_a_directory_replaced_by_a_file_name_the_files() {
        let env = directory_on_main_file_on_branch();
        let w = env.work();
        write(&w.join("x/y/f"), "edited\n");
        write(&w.join("x/y/new"), "new\n");
        let out = env.cow(["checkout", "file"]);
        assert_error(&out, "x/y/f (modified)");
        assert!(String::from_utf8_lossy(&out.stderr).contains("x/y/new (untracked)"));
    }

    #[test]
    fn a_nested_repository_in_a_directory_replaced_by_a_file_is_a_conflict() {
        let env = directory_on_main_file_on_branch();
        let w = env.work();
        // A repository of its own inside `x/y`: its `.cow` is in no snapshot, and
        // no snapshot path can name it, so the directory holding it is reported.
        write(&w.join("x/y/.cow/HEAD"), "ref: refs/heads/main\n");
        let out = env.cow(["checkout", "file"]);
        assert_error(&out, "x/y (ignored)");
        assert!(
            w.join("x/y/.cow/HEAD").is_file(),
            "the nested store is kept"
        );
    }

    #[test]
    fn an_odd_case_dot_cow_at_the_root_is_reported() {
        let env = Env::new();
        write(&env.work().join(".COW/x"), "x\n");
        write(&env.work().join("kept"), "k\n");
        env.init();
        let out = env.cow(["commit", "-m", "x"]);
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("skipped '.COW'"),
            "{}",
            describe(&out)
        );
    }
}

/// Six hundred files in seven directories, each with `tag` in its content; every
/// 100th is executable.
fn write_many(w: &Path, tag: &str) {
    for i in 0..600 {
        let path = w.join(format!("d{}/f{i:03}", i % 7));
        write(&path, format!("{tag} {i}\n"));
        let mode = if i % 100 == 0 { 0o755 } else { 0o644 };
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }
}

/// Branch `main` with [`write_many`]'s files tagged "one", branch `two` (checked out)
/// with them tagged "two"; returns both manifests.
fn many_files_on_two_branches(env: &Env) -> (BTreeMap<Vec<u8>, Item>, BTreeMap<Vec<u8>, Item>) {
    let w = env.work();
    write_many(&w, "one");
    env.init();
    env.commit("one");
    let one = manifest(&w);
    env.cow_ok(["checkout", "-b", "two"]);
    write_many(&w, "two");
    env.commit("two");
    (one, manifest(&w))
}

fn staging_leftovers(env: &Env) -> Vec<String> {
    fs::read_dir(env.work().join(".cow"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp"))
        .collect()
}

/// A checkout that writes hundreds of files stages them in many directories (see
/// `staging_shards`): each still lands at its own path with its content and mode, the
/// stat cache vouches for all of them, and no staging directory is left behind.
#[test]
fn a_checkout_of_hundreds_of_files_writes_each_and_leaves_no_staging() {
    let env = Env::new();
    let w = env.work();
    let (one, two) = many_files_on_two_branches(&env);
    assert_ne!(one, two);
    for (branch, want) in [("main", &one), ("two", &two), ("main", &one)] {
        let out = env.cow_ok(["checkout", branch]);
        assert!(out.contains("600 written"), "{out}");
        assert_eq!(&manifest(&w), want, "after checkout {branch}");
        assert_eq!(env.cow_ok(["status", "--porcelain"]), "");
        assert!(staging_leftovers(&env).is_empty());
    }
}

/// A damaged object among hundreds fails the checkout before any file in the working
/// directory changes, and the staged files are removed.
#[test]
fn a_damaged_object_among_hundreds_fails_the_checkout_cleanly() {
    let env = Env::new();
    let w = env.work();
    many_files_on_two_branches(&env);
    env.cow_ok(["checkout", "main"]);
    // Flip a byte inside the compressed frame of the last file's blob, in its pack.
    let id = cow::ObjectId::hash(cow::Kind::Blob, b"two 599\n");
    let repo = Repository::open(&w).unwrap();
    let copy = repo
        .odb()
        .locate(&id)
        .unwrap()
        .into_iter()
        .find(|c| c.pack.is_some())
        .expect("the commit wrote a pack");
    let path = copy.file.clone();
    drop(repo);
    let mut bytes = fs::read(&path).unwrap();
    bytes[((copy.frame.start + copy.frame.end) / 2) as usize] ^= 0x55;
    fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    fs::write(&path, &bytes).unwrap();
    let before = state(&env);
    let out = env.cow(["checkout", "two"]);
    assert_error(
        &out,
        &format!("pack-{} at offset", copy.pack.as_deref().unwrap()),
    );
    assert_eq!(
        state(&env),
        before,
        "the working directory, HEAD or branches changed"
    );
    assert!(staging_leftovers(&env).is_empty());
}

/// A checkout that cannot place some of its files (a directory it may not write to)
/// fails naming the path, leaves HEAD where it was, and the stat cache matches what was
/// placed: `status` lists exactly the files that now hold the target's content.
#[test]
fn a_checkout_that_fails_partway_leaves_head_and_status_truthful() {
    let env = Env::new();
    let w = env.work();
    many_files_on_two_branches(&env);
    env.cow_ok(["checkout", "main"]);
    let head = env.cow_ok(["rev-parse", "HEAD"]);
    let locked = w.join("d3");
    fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    let out = env.cow_as_nobody(&["checkout", "two"]);
    fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert_error(&out, "d3/f");
    assert_eq!(env.cow_ok(["rev-parse", "HEAD"]), head);
    let placed: std::collections::BTreeSet<String> = list_files(&w)
        .into_iter()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| fs::read_to_string(w.join(p)).unwrap().starts_with("two "))
        .collect();
    assert!(!placed.iter().any(|p| p.starts_with("d3/")), "{placed:?}");
    let changed: std::collections::BTreeSet<String> = env
        .cow_ok(["status", "--porcelain"])
        .lines()
        .map(|l| {
            l.strip_prefix(" M ")
                .expect("only modified files")
                .to_owned()
        })
        .collect();
    assert_eq!(changed, placed);
    assert!(staging_leftovers(&env).is_empty());
    env.cow_ok(["checkout", "-f", "two"]);
    assert_eq!(env.cow_ok(["status", "--porcelain"]), "");
}
