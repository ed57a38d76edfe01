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
    let pack = &repo.odb().packs()[0];
    let block_of = |rev: &str| {
        let id: cow::ObjectId = env.cow_ok(["rev-parse", rev]).trim().parse().unwrap();
        let header = pack.header(pack.find(&id).unwrap()).unwrap();
        (id, header.block.expect("a member of a block").0)
    };
    let (_, block) = block_of("HEAD:a/f000.txt");
    let (_, other_block) = block_of("HEAD:b/f299.txt");
    assert_ne!(block, other_block);
    // Flip a byte in the middle of that block's frame.
    let path = w.join(format!(".cow/objects/pack/pack-{}.pack", pack.name));
    let mut bytes = fs::read(&path)?;
    bytes[block as usize + 64] ^= 0x55;
    fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    fs::write(&path, &bytes)?;

    let out = env.cow(["fsck"]);
    assert_error(&out, "fsck found");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!("pack-{} at offset", pack.name)),
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
        let header = pack.header(pack.find(&id.parse()?).unwrap())?;
        assert_eq!(header.block.map(|b| b.0), Some(block), "{id}");
        assert_error(&env.cow(["cat-file", "-p", id]), id);
    }
    // Members of other blocks still read.
    assert_eq!(
        env.cow_ok(["show", "HEAD:b/f299.txt"]),
        fs::read_to_string(w.join("b/f299.txt"))?
    );
    Ok(())
}
