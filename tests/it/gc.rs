//! gc: repacking with deltas keeps every object's id and bytes, never drops what is
//! reachable (or young), and survives SIGKILL.

use std::collections::BTreeMap;
use std::fs;
use std::process::Stdio;
use std::time::Duration;

use cow::Repository;

use cow::repository::GcOptions;

use crate::util::*;

/// A history of `n` snapshots of a few evolving text files (good delta material).
fn history(env: &Env, n: usize) -> Repository {
    let w = env.work();
    let repo = Repository::init(&w).unwrap();
    let mut rng = Rng::new(77);
    for step in 0..n {
        for f in 0..6 {
            let lines = 50 + f * 30;
            let text: String = (0..lines)
                .map(|l| {
                    if rng.chance(3) {
                        format!("line {l} edited at {step}\n")
                    } else {
                        format!("line {l} of file {f}\n")
                    }
                })
                .collect();
            write(&w.join(format!("src/f{f}.txt")), text);
        }
        write(
            &w.join(format!("notes/{step}.md")),
            format!("step {step}\n"),
        );
        repo.commit(&format!("step {step}"), &commit_options())
            .unwrap();
    }
    repo
}

fn all_objects(repo: &Repository) -> BTreeMap<cow::ObjectId, (cow::Kind, Vec<u8>)> {
    repo.odb()
        .all_ids()
        .unwrap()
        .into_iter()
        .map(|id| {
            let o = repo.odb().read(&id).unwrap();
            (id, (o.kind, o.data))
        })
        .collect()
}

#[test]
fn every_object_keeps_its_id_and_bytes_through_gc() -> Result {
    let env = Env::new();
    let repo = history(&env, 50);
    let before = all_objects(&repo);
    let outcome = repo.gc(&GcOptions::default())?;
    assert!(outcome.deltas > 0 && outcome.in_blocks > 0, "{outcome:?}");
    assert!(outcome.bytes_after < outcome.bytes_before, "{outcome:?}");
    let counts = repo.count_objects()?;
    assert_eq!((counts.loose, counts.packs), (0, 1));
    let reopened = Repository::open(env.work())?;
    assert_eq!(all_objects(&reopened), before);
    assert!(reopened.fsck(&Default::default())?.problems.is_empty());
    // A second gc repacks the pack and changes nothing readable.
    reopened.gc(&GcOptions::default())?;
    assert_eq!(all_objects(&Repository::open(env.work())?), before);
    Ok(())
}

#[test]
fn gc_keeps_everything_reachable_and_young() -> Result {
    let env = Env::new();
    let w = env.work();
    write(&w.join("a"), "a\n");
    env.init();
    let first = env.commit("first");
    // Reachable only from a tag, from another branch, from a detached HEAD.
    write(&w.join("tagged"), "tagged\n");
    let tagged = env.commit("tagged");
    env.cow_ok(["tag", "keep", &tagged]);
    env.cow_ok(["checkout", "-b", "side", &first]);
    write(&w.join("side"), "side\n");
    let side = env.commit("side");
    env.cow_ok(["checkout", &first]);
    write(&w.join("detached"), "detached\n");
    let detached = env.commit("detached");
    // main itself is moved back, so `tagged` is reachable only through the tag.
    fs::write(w.join(".cow/refs/heads/main"), format!("{first}\n")).unwrap();
    // An object a concurrent commit just wrote, that no ref reaches yet.
    let repo = Repository::open(&w)?;
    let young = repo.odb().write_blob(b"written a moment ago")?.id;
    repo.gc(&GcOptions::default())?;
    let repo = Repository::open(&w)?;
    for c in [&first, &tagged, &side, &detached] {
        assert_eq!(env.cow_ok(["rev-parse", c]).trim(), c);
    }
    assert_eq!(
        env.cow_ok(["show", &format!("{tagged}:tagged")]),
        "tagged\n"
    );
    assert_eq!(env.cow_ok(["show", &format!("{side}:side")]), "side\n");
    assert_eq!(
        env.cow_ok(["show", &format!("{detached}:detached")]),
        "detached\n"
    );
    assert!(
        repo.odb().contains(&young),
        "a young unreachable object was pruned"
    );
    // With --prune=now it goes; nothing reachable does.
    let out = env.cow_ok(["gc", "--prune=now"]);
    assert!(out.contains("pruned 1 unreachable"), "{out}");
    assert!(!Repository::open(&w)?.odb().contains(&young));
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
    assert_eq!(
        env.cow_ok(["show", &format!("{tagged}:tagged")]),
        "tagged\n"
    );
    // A dry run changes nothing.
    let before = count_object_files(&w);
    let report = env.cow_ok(["gc", "--dry-run"]);
    assert!(report.starts_with("would keep"), "{report}");
    assert_eq!(count_object_files(&w), before);
    Ok(())
}

#[test]
fn gc_killed_at_random_moments_loses_nothing() {
    let env = Env::new();
    let repo = history(&env, 30);
    let before = all_objects(&repo);
    drop(repo);
    let mut rng = Rng::new(2026);
    for round in 0..20 {
        let mut child = env
            .cow_cmd(&env.work())
            .args(["gc"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.below(60)));
        let _ = child.kill();
        let _ = child.wait();
        let out = env.cow(["fsck"]);
        assert!(out.status.success(), "round {round}: {}", describe(&out));
        // New loose objects between rounds, so each gc has work to do.
        write(
            &env.work().join(format!("round{round}")),
            format!("{round}\n"),
        );
        env.cow_ok(["commit", "-m", &format!("round {round}")]);
    }
    let after = all_objects(&Repository::open(env.work()).unwrap());
    for (id, obj) in &before {
        assert_eq!(after.get(id), Some(obj), "object {id} lost or changed");
    }
}

#[test]
fn a_damaged_block_spoils_only_its_members_and_fsck_names_them() -> Result {
    let env = Env::new();
    let w = env.work();
    // Two directories of small files: enough for more than one block.
    for d in ["a", "b"] {
        for i in 0..300 {
            let text: String = (0..120).map(|l| format!("{d} {i} line {l}\n")).collect();
            write(&w.join(format!("{d}/f{i:03}.txt")), text);
        }
    }
    env.init();
    env.commit("small files");
    let repo = Repository::open(&w)?;
    let outcome = repo.gc(&GcOptions::default())?;
    assert!(outcome.in_blocks >= 500, "{outcome:?}");
    let repo = Repository::open(&w)?;
    let block_of = |rev: &str| {
        let id: cow::ObjectId = env.cow_ok(["rev-parse", rev]).trim().parse().unwrap();
        let copies = repo.odb().locate(&id).unwrap();
        assert_eq!(copies.len(), 1, "{copies:?}");
        copies.into_iter().next().unwrap()
    };
    let first = block_of("HEAD:a/f000.txt");
    let (path, block) = (
        first.file.clone(),
        first.block.expect("a member of a block"),
    );
    let other_block = block_of("HEAD:b/f299.txt").block;
    assert_ne!(Some(block), other_block);
    let pack = first.pack.expect("packed");
    // Flip a byte in the middle of that block's frame.
    let mut bytes = fs::read(&path)?;
    bytes[block as usize + 64] ^= 0x55;
    fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    fs::write(&path, &bytes)?;

    let out = env.cow(["fsck"]);
    assert_error(&out, "fsck found");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!("pack-{pack} at offset")),
        "{report}"
    );
    // The members whose bytes came out wrong are named, with their paths, and fail
    // to read; all of them are in the damaged block.
    let damaged: Vec<String> = report
        .lines()
        .filter_map(|l| l.strip_prefix("error: object ")?.split(' ').next())
        .map(str::to_owned)
        .collect();
    assert!(!damaged.is_empty(), "{report}");
    for id in &damaged {
        let copies = Repository::open(&w)?.odb().locate(&id.parse()?)?;
        assert_eq!(copies[0].block, Some(block), "{id}");
        assert_error(&env.cow(["cat-file", "-p", id]), id);
    }
    // Members of other blocks still read.
    assert_eq!(
        env.cow_ok(["show", "HEAD:b/f299.txt"]),
        fs::read_to_string(w.join("b/f299.txt"))?
    );
    Ok(())
}

/// Sets the modification time of every file in the pack directory `secs` into the past.
fn age_packs(work: &std::path::Path, secs: u64) -> Result {
    let then = std::time::SystemTime::now() - Duration::from_secs(secs);
    for entry in fs::read_dir(work.join(".cow/objects/pack"))? {
        fs::File::open(entry?.path())?.set_modified(then)?;
    }
    Ok(())
}

const DAY: u64 = 24 * 3600;

/// A repository whose main branch reaches a few objects, and three more objects
/// (a commit, its tree and a blob) that a deleted branch reached, all in one pack
/// made `age_days` ago. Returns the repository and the three unreachable ids.
fn with_unreachable_pack(env: &Env, age_days: u64) -> Result<(Repository, Vec<cow::ObjectId>)> {
    use cow::object::{Commit, Entry, EntryMode, Tree};
    let w = env.work();
    write(&w.join("keep"), "reachable\n");
    let repo = Repository::init(&w)?;
    // What these tests prune is unreachable from refs: no operation keeps it either.
    repo.set_config("gc.opLogExpire", "now")?;
    let first = repo.commit("first", &commit_options())?.id;
    let blob = repo
        .odb()
        .write_blob(b"only on a branch that goes away\n")?
        .id;
    let tree = Tree::from_entries(vec![Entry {
        mode: EntryMode::Blob,
        name: b"doomed".to_vec(),
        id: blob,
    }])?;
    let tree = repo.odb().write_tree(&tree)?.id;
    let sig = commit_options().author.unwrap();
    let commit = repo
        .odb()
        .write_commit(&Commit {
            tree,
            parents: vec![first],
            author: sig.clone(),
            committer: sig,
            extra_headers: vec![],
            message: b"doomed\n".to_vec(),
        })?
        .id;
    repo.odb().sync()?;
    repo.create_branch("doomed", Some(commit.into()))?;
    repo.gc(&GcOptions::default())?; // everything reachable: one pack
    repo.delete_branch("doomed", true)?;
    age_packs(&w, age_days * DAY)?;
    Ok((Repository::open(&w)?, vec![commit, tree, blob]))
}

#[test]
fn unreachable_packed_objects_keep_their_age_through_repeated_gc() -> Result {
    let env = Env::new();
    let (repo, doomed) = with_unreachable_pack(&env, 10)?;
    let two_weeks = GcOptions {
        grace: Some(Duration::from_secs(14 * DAY)),
        ..GcOptions::default()
    };
    // Younger than two weeks: kept. A geometric gc leaves them where they are, in
    // the pack it keeps as it was (so they keep its age) ...
    let pack_dir = env.work().join(".cow/objects/pack");
    let files_before = fs::read_dir(&pack_dir)?.count();
    let outcome = repo.gc(&two_weeks)?;
    assert_eq!(
        (outcome.cruft, outcome.pruned, outcome.kept_packs),
        (3, 0, 1),
        "{outcome:?}"
    );
    assert_eq!((outcome.pack, outcome.cruft_pack), (None, None));
    assert_eq!(fs::read_dir(&pack_dir)?.count(), files_before);
    // ... and every full gc, each of which writes a new pack, puts them in a cruft
    // pack that records their age.
    let full = GcOptions {
        full: true,
        ..two_weeks
    };
    for round in 0..3 {
        let outcome = repo.gc(&full)?;
        assert_eq!(
            (outcome.cruft, outcome.pruned),
            (3, 0),
            "round {round}: {outcome:?}"
        );
        let cruft = outcome.cruft_pack.expect("a cruft pack");
        let sidecar = env
            .work()
            .join(format!(".cow/objects/pack/pack-{}.mtimes", cruft.name));
        assert!(sidecar.is_file(), "round {round}");
        for id in &doomed {
            assert!(repo.odb().contains(id), "round {round}: {id} pruned");
        }
    }
    // They are still ten days old: a nine-day grace period prunes them, however
    // recently they were repacked.
    let nine_days = GcOptions {
        grace: Some(Duration::from_secs(9 * DAY)),
        ..GcOptions::default()
    };
    let outcome = repo.gc(&nine_days)?;
    assert_eq!((outcome.cruft, outcome.pruned), (0, 3), "{outcome:?}");
    let repo = Repository::open(env.work())?;
    for id in &doomed {
        assert!(!repo.odb().contains(id), "{id} survived");
    }
    let report = repo.fsck(&Default::default())?;
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(
        fs::read_dir(env.work().join(".cow/objects/pack"))?.count(),
        2,
        "one pack and its index, no cruft pack left"
    );
    Ok(())
}

#[test]
fn reachable_objects_are_never_pruned_however_old() -> Result {
    let env = Env::new();
    let (repo, doomed) = with_unreachable_pack(&env, 400)?;
    let reachable: Vec<cow::ObjectId> = repo
        .odb()
        .all_ids()?
        .into_iter()
        .filter(|id| !doomed.contains(id))
        .collect();
    assert_eq!(reachable.len(), 3); // commit, tree, blob of main
    let now = GcOptions {
        grace: Some(Duration::ZERO),
        ..GcOptions::default()
    };
    for _ in 0..2 {
        let outcome = repo.gc(&now)?;
        age_packs(&env.work(), 400 * DAY)?;
        assert_eq!(outcome.reachable, 3, "{outcome:?}");
    }
    let repo = Repository::open(env.work())?;
    assert_eq!(repo.odb().all_ids()?, {
        let mut r = reachable.clone();
        r.sort();
        r
    });
    assert_eq!(
        env.cow_ok(["show", "HEAD:keep"]),
        "reachable\n",
        "the reachable file reads back"
    );
    Ok(())
}

#[test]
fn gc_dry_run_takes_no_lock_and_works_on_a_read_only_repository() -> Result {
    let env = Env::new();
    let w = env.work();
    write(&w.join("f"), "f\n");
    env.init();
    env.commit("one");
    // Another writer holds the lock: a dry run does not wait for it.
    let repo = Repository::open(&w)?;
    let lock = repo.lock()?;
    let out = env.cow(["gc", "--dry-run", "--lock-timeout", "0"]);
    assert!(out.status.success(), "{}", describe(&out));
    drop(lock);
    // A repository its user cannot write to.
    let before = count_object_files(&w);
    let (out, refused) = {
        let readonly = |mode: u32| -> Result {
            for entry in walkdir::WalkDir::new(w.join(".cow")) {
                let entry = entry?;
                if entry.file_type().is_dir() {
                    fs::set_permissions(
                        entry.path(),
                        std::os::unix::fs::PermissionsExt::from_mode(mode),
                    )?;
                }
            }
            Ok(())
        };
        readonly(0o555)?;
        let lock_file = w.join(".cow/lock");
        fs::set_permissions(
            &lock_file,
            std::os::unix::fs::PermissionsExt::from_mode(0o444),
        )?;
        let out = env.cow_as_nobody(&["gc", "--dry-run"]);
        let refused = env.cow_as_nobody(&["gc"]);
        readonly(0o755)?;
        (out, refused)
    };
    assert!(out.status.success(), "{}", describe(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.starts_with("would keep 3 reachable objects"),
        "{report}"
    );
    assert_eq!(count_object_files(&w), before);
    // A real gc there is refused with one clear error.
    assert_error(&refused, "could not open");
    Ok(())
}

/// gc and fsck share one definition of the roots: every ref under `refs/` (here a
/// remote-tracking ref, as a fetch will write) keeps what it reaches through gc, and
/// fsck checks it. Before, gc looked at `refs/heads/` and `refs/tags/` only and pruned
/// such a commit.
#[test]
fn any_ref_under_refs_is_a_root_for_gc_and_fsck() -> Result {
    let env = Env::new();
    write(&env.work().join("f"), "one\n");
    env.init();
    env.commit("one");
    env.cow_ok(["checkout", "-b", "topic"]);
    write(&env.work().join("g"), "only on topic\n");
    let topic = env.commit("two");
    env.cow_ok(["checkout", "main"]);
    fs::create_dir_all(env.work().join(".cow/refs/remotes/origin"))?;
    fs::write(
        env.work().join(".cow/refs/remotes/origin/topic"),
        format!("{topic}\n"),
    )?;
    env.cow_ok(["branch", "-D", "topic"]);
    env.cow_ok(["gc", "--prune=now"]);
    env.cow_ok(["cat-file", "-e", &topic]);
    env.cow_ok(["cat-file", "-e", &format!("{topic}:g")]);
    env.cow_ok(["fsck"]);

    // A malformed one stops gc (pruning on a partial view could delete what it
    // reaches) and is reported by fsck.
    fs::write(env.work().join(".cow/refs/remotes/origin/bad"), "garbage\n")?;
    assert_error(
        &env.cow(["gc", "--prune=now"]),
        "refs/remotes/origin/bad is malformed",
    );
    let fsck = env.cow(["fsck"]);
    assert!(!fsck.status.success());
    assert!(
        String::from_utf8_lossy(&fsck.stdout).contains("refs/remotes/origin/bad is malformed"),
        "{}",
        describe(&fsck)
    );
    env.cow_ok(["cat-file", "-e", &topic]);
    Ok(())
}

/// A stored file as a test compares it: inode, modification time, bytes.
type FileState = (u64, std::time::SystemTime, Vec<u8>);

/// Each file in the pack directory, by name.
fn pack_files(work: &std::path::Path) -> Result<BTreeMap<String, FileState>> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(work.join(".cow/objects/pack"))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        out.insert(
            entry.file_name().to_string_lossy().into_owned(),
            (meta.ino(), meta.modified()?, fs::read(entry.path())?),
        );
    }
    Ok(out)
}

/// `n` more snapshots on top of `history`'s, each editing its files.
fn more_history(env: &Env, repo: &Repository, seed: u64, n: usize) -> Result {
    let w = env.work();
    let mut rng = Rng::new(seed);
    for step in 0..n {
        for f in 0..6 {
            let lines = 50 + f * 30;
            let text: String = (0..lines)
                .map(|l| {
                    if rng.chance(3) {
                        format!("line {l} edited at {seed}.{step}\n")
                    } else {
                        format!("line {l} of file {f}\n")
                    }
                })
                .collect();
            write(&w.join(format!("src/f{f}.txt")), text);
        }
        repo.commit(&format!("more {seed}.{step}"), &commit_options())?;
    }
    Ok(())
}

fn fsck_clean(repo: &Repository) -> Result {
    let report = repo.fsck(&Default::default())?;
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    Ok(())
}

#[test]
fn gc_after_a_few_commits_keeps_the_big_pack_and_writes_one_small_one() -> Result {
    let env = Env::new();
    let repo = history(&env, 30);
    let first = repo.gc(&GcOptions::default())?;
    let big = first.pack.expect("a pack");
    let big_files = pack_files(&env.work())?;
    assert_eq!(big_files.len(), 2, "{big_files:?}");

    more_history(&env, &repo, 1, 3)?;
    let new_objects = repo.count_objects()?.loose;
    assert!(new_objects > 0);
    let before = all_objects(&repo);
    let second = repo.gc(&GcOptions::default())?;
    // The big pack is untouched: same files, same inodes, same times, same bytes.
    let after = pack_files(&env.work())?;
    for (name, file) in &big_files {
        assert!(after.get(name) == Some(file), "{name} changed");
    }
    let small = second.pack.clone().expect("a new pack");
    assert_eq!(small.objects, new_objects, "{second:?}");
    assert!(small.objects * 4 < big.objects, "{second:?}");
    assert_eq!(
        (
            second.kept_packs,
            second.removed_packs,
            second.removed_loose
        ),
        (1, 0, new_objects),
        "{second:?}"
    );
    assert_eq!(second.geometry.kept[0].name, big.name);
    let counts = repo.count_objects()?;
    assert_eq!((counts.loose, counts.packs), (0, 2));
    let reopened = Repository::open(env.work())?;
    assert_eq!(all_objects(&reopened), before);
    fsck_clean(&reopened)?;

    // Nothing to do: nothing is written or removed, not even the small pack.
    let files = pack_files(&env.work())?;
    let third = reopened.gc(&GcOptions::default())?;
    assert_eq!(
        (
            third.packed,
            third.removed_packs,
            third.removed_loose,
            third.kept_packs
        ),
        (0, 0, 0, 2),
        "{third:?}"
    );
    assert_eq!(third.pack, None);
    assert!(
        pack_files(&env.work())? == files,
        "a gc with nothing to do changed the packs"
    );

    // The dry run shows the plan: both packs kept.
    let report = env.cow_ok(["gc", "--dry-run"]);
    assert!(
        report.contains(&format!(
            "packs: would keep 2 as they are ({}, {} objects); would roll up 0",
            big.objects, small.objects
        )),
        "{report}"
    );
    assert!(pack_files(&env.work())? == files);
    Ok(())
}

#[test]
fn gc_full_rewrites_every_pack_into_one() -> Result {
    let env = Env::new();
    let repo = history(&env, 20);
    repo.gc(&GcOptions::default())?;
    more_history(&env, &repo, 2, 2)?;
    repo.gc(&GcOptions::default())?;
    assert_eq!(repo.count_objects()?.packs, 2);
    let before = all_objects(&repo);
    let old = pack_files(&env.work())?;
    let out = env.cow_ok(["gc", "--full"]);
    assert!(
        out.contains("removed 0 loose objects and 2 packs")
            && out.contains("packs: kept 0 as they were; rolled up 2")
            && out.contains("(--full)"),
        "{out}"
    );
    let new = pack_files(&env.work())?;
    assert_eq!(new.len(), 2, "{new:?}");
    assert!(new.keys().all(|name| !old.contains_key(name)), "{new:?}");
    let repo = Repository::open(env.work())?;
    assert_eq!(all_objects(&repo), before);
    fsck_clean(&repo)
}

#[test]
fn gc_prune_now_drops_an_unreachable_object_from_a_big_pack() -> Result {
    let env = Env::new();
    let (repo, doomed) = with_unreachable_pack(&env, 1)?;
    let big = pack_files(&env.work())?;
    write(&env.work().join("later"), "a later file\n");
    repo.commit("later", &commit_options())?;
    // Young: the default gc keeps the pack holding them as it is.
    let outcome = repo.gc(&GcOptions::default())?;
    assert_eq!(
        (outcome.kept_packs, outcome.cruft, outcome.pruned),
        (1, 3, 0),
        "{outcome:?}"
    );
    assert_eq!(outcome.cruft_pack, None);
    let after = pack_files(&env.work())?;
    for (name, file) in &big {
        assert!(after.get(name) == Some(file), "{name} changed");
    }
    for id in &doomed {
        assert!(repo.odb().contains(id));
    }
    // Old, or --prune=now: the pack is rolled up to drop them, however large.
    let out = env.cow_ok(["gc", "--prune=now"]);
    assert!(out.contains("pruned 3 unreachable"), "{out}");
    assert!(out.contains("(1 of them to prune what they hold)"), "{out}");
    let after = pack_files(&env.work())?;
    assert!(
        big.keys().all(|name| !after.contains_key(name)),
        "{after:?}"
    );
    let repo = Repository::open(env.work())?;
    for id in &doomed {
        assert!(!repo.odb().contains(id), "{id} survived");
    }
    assert_eq!(env.cow_ok(["show", "HEAD:keep"]), "reachable\n");
    assert_eq!(env.cow_ok(["show", "HEAD:later"]), "a later file\n");
    fsck_clean(&repo)
}

/// No delta in a pack gc writes names a base outside that pack, through geometric
/// gcs (where the natural base of a new version is in a pack gc keeps) and a full one.
#[test]
fn gc_written_packs_hold_every_delta_base() -> Result {
    let env = Env::new();
    let repo = history(&env, 20);
    let check = |repo: &Repository| -> Result<u64> {
        let mut deltas = 0;
        for id in repo.odb().all_ids()? {
            for copy in repo.odb().locate(&id)? {
                let Some(base) = copy.base else { continue };
                deltas += 1;
                let bases = repo.odb().locate(&base)?;
                assert!(
                    bases.iter().any(|b| b.pack == copy.pack),
                    "{id} in {:?} is a delta against {base}, stored only in {:?}",
                    copy.pack,
                    bases.iter().map(|b| &b.pack).collect::<Vec<_>>()
                );
            }
        }
        Ok(deltas)
    };
    repo.gc(&GcOptions::default())?;
    assert!(check(&repo)? > 0);
    for round in 0..4 {
        more_history(&env, &repo, 10 + round, 4)?;
        repo.gc(&GcOptions::default())?;
        check(&repo)?;
    }
    assert!(repo.count_objects()?.packs > 1);
    repo.gc(&GcOptions {
        full: true,
        ..GcOptions::default()
    })?;
    check(&repo)?;
    fsck_clean(&repo)
}
