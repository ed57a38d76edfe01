//! What a backup user sees: `cow stats` figures checked by hand on constructed
//! repositories (stored bytes against the files in `.cow/objects`), `count-objects
//! -vH` against git's format, the bytes `gc --dry-run` says it will free, and a
//! dated one-line log against git.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::util::*;

fn doc(out: &std::process::Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", describe(out));
    assert!(out.stderr.is_empty(), "{}", describe(out));
    let text = String::from_utf8(out.stdout.clone()).expect("utf-8");
    assert_eq!(text.lines().count(), 1, "one document: {text}");
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    assert_eq!(doc["schema"], 1, "{doc}");
    doc
}

/// The ids a snapshot reaches: the commit, its trees (root included) and blobs.
fn reached(env: &Env, rev: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    ids.insert(env.cow_ok(["rev-parse", rev]).trim().to_owned());
    ids.insert(
        env.cow_ok(["rev-parse", &format!("{rev}^{{tree}}")])
            .trim()
            .to_owned(),
    );
    for line in env.cow_ok(["ls-tree", "-r", "-t", rev]).lines() {
        let id = line.split('\t').next().unwrap().split(' ').nth(2).unwrap();
        ids.insert(id.to_owned());
    }
    ids
}

/// The bytes of these objects' loose files, measured on the filesystem.
fn loose_bytes<'a>(work: &Path, ids: impl IntoIterator<Item = &'a String>) -> u64 {
    ids.into_iter()
        .map(|id| fs::metadata(object_path(work, id)).unwrap().len())
        .sum()
}

/// Every file under `.cow/objects` and their bytes.
fn store_bytes(work: &Path) -> u64 {
    walkdir::WalkDir::new(work.join(".cow/objects"))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

const SHARED: usize = 600_000;

/// Two snapshots, all loose (a commit of fewer than 32 objects writes them loose; the
/// shared file is below the 1 MiB chunking threshold):
/// 1: `shared.bin` (600,000 bytes), `dir/copy.bin` (the same bytes), `a.txt` = "one\n"
///    (4 bytes), `link` -> "a.txt" (5 bytes);
/// 2: the same with `a.txt` = "second\n" (7 bytes).
fn two_snapshots(env: &Env) -> (String, String) {
    let w = env.work();
    let mut rng = Rng::new(19);
    let shared = rng.bytes(SHARED);
    write(&w.join("shared.bin"), &shared);
    write(&w.join("dir/copy.bin"), &shared);
    write(&w.join("a.txt"), "one\n");
    std::os::unix::fs::symlink("a.txt", w.join("link")).unwrap();
    env.init();
    let first = env.commit("first");
    write(&w.join("a.txt"), "second\n");
    let second = env.commit("second");
    (first, second)
}

#[test]
fn stats_count_files_bytes_contents_and_stored_bytes() -> Result {
    let env = Env::new();
    let (first, second) = two_snapshots(&env);
    let w = env.work();
    let counts = cow::Repository::open(&w)?.count_objects()?;
    assert_eq!(counts.packs, 0, "a loose-only store");

    let json = doc(&env.cow(["stats", "--json", &first, &second]));
    assert_eq!(json["type"], "stats");
    let snaps = json["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 2);
    let s = SHARED as u64;
    // Four files per snapshot (two copies of the shared bytes, a.txt and the link)
    // and one directory below the root; logical bytes are what a restore writes.
    for (snap, id, small) in [(&snaps[0], &first, 4), (&snaps[1], &second, 7)] {
        assert_eq!(snap["type"], "snapshot");
        assert_eq!(snap["id"], id.as_str());
        assert_eq!(snap["files"], 4);
        assert_eq!(snap["dirs"], 1);
        assert_eq!(snap["logical_bytes"], 2 * s + small + 5);
        // Three distinct contents: the shared bytes once, a.txt, the link's target.
        assert_eq!(snap["unique_contents"], 3);
        assert_eq!(snap["unique_bytes"], s + small + 5);
        // Stored: the loose files of the commit, both trees and the three blobs.
        let objects = reached(&env, id);
        assert_eq!(objects.len(), 6, "{objects:?}");
        assert_eq!(snap["stored_bytes"], loose_bytes(&w, &objects));
        let dedup = (2 * s + small + 5) as f64 / (s + small + 5) as f64;
        assert!((snap["dedup_ratio"].as_f64().unwrap() - dedup).abs() < 1e-9);
    }
    // Together: files and bytes add up; contents and stored objects count once
    // (four contents: the shared bytes, "one\n", "second\n", the link's target).
    let total = &json["total"];
    assert_eq!(total["type"], "total");
    assert_eq!(total["files"], 8);
    assert_eq!(total["dirs"], 2);
    assert_eq!(total["logical_bytes"], 4 * s + 4 + 7 + 10);
    assert_eq!(total["unique_contents"], 4);
    assert_eq!(total["unique_bytes"], s + 4 + 7 + 5);
    let both: BTreeSet<String> = reached(&env, &first)
        .union(&reached(&env, &second))
        .cloned()
        .collect();
    // Shared: the blobs of shared.bin and the link, and the tree of dir/.
    assert_eq!(both.len(), 6 + 6 - 3);
    assert_eq!(total["stored_bytes"], loose_bytes(&w, &both));

    // The store: every snapshot, and every file in .cow/objects; no garbage.
    let store = &json["store"];
    assert_eq!(store["type"], "store");
    assert_eq!(store["snapshots"], 2);
    assert_eq!(store["logical_bytes"], total["logical_bytes"]);
    assert_eq!(store["unique_contents"], 4);
    assert_eq!(store["unique_bytes"], total["unique_bytes"]);
    assert_eq!(store["stored_bytes"], store_bytes(&w));
    assert_eq!(store["unreachable"], 0);
    assert_eq!(store["unreachable_bytes"], 0);
    Ok(())
}

#[test]
fn stats_defaults_to_head_and_prints_human_sizes() -> Result {
    let env = Env::new();
    let (_, second) = two_snapshots(&env);
    let text = env.cow_ok(["stats"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], format!("snapshot {second}"));
    assert!(lines.contains(&"  files:             4"), "{text}");
    // 1,200,012 bytes: git's humanise gives (1200012 + 5243) >> 20 = 1 and
    // ((1205255 & 0xfffff) * 100) >> 20 = 14.
    assert!(lines.contains(&"  logical size:      1.14 MiB"), "{text}");
    // One snapshot: no total block; the store block comes last.
    assert!(!text.contains("total of"), "{text}");
    assert!(lines.contains(&"store"), "{text}");
    assert!(lines.contains(&"  snapshots:         2"), "{text}");
    let exact = env.cow_ok(["stats", "--bytes"]);
    assert!(
        exact.contains("  logical size:      1200012 bytes\n"),
        "{exact}"
    );
    // --store: the store block alone.
    let store = env.cow_ok(["stats", "--store"]);
    assert!(store.starts_with("store\n"), "{store}");
    // --all: each snapshot, newest first, then their total.
    let all = doc(&env.cow(["stats", "--all", "--json"]));
    assert_eq!(all["snapshots"].as_array().unwrap().len(), 2);
    assert_eq!(all["snapshots"][0]["id"], second.as_str());
    assert_eq!(all["total"]["unique_contents"], 4);
    // A revision that names nothing: one error line, nothing on stdout.
    let out = env.cow(["stats", "nosuch"]);
    assert_error(&out, "nosuch");
    assert!(out.stdout.is_empty());
    Ok(())
}

#[test]
fn a_subtree_held_twice_is_counted_twice_and_read_once() -> Result {
    // Two identical directories: one tree id under two names. A restore writes both,
    // so files and bytes count twice; the contents and the tree are stored once.
    let env = Env::new();
    let w = env.work();
    for dir in ["x", "y"] {
        write(&w.join(dir).join("f"), "12345\n");
        write(&w.join(dir).join("sub/g"), "1234567\n");
    }
    env.init();
    let head = env.commit("twins");
    let json = doc(&env.cow(["stats", "--json"]));
    let snap = &json["snapshots"][0];
    assert_eq!(snap["files"], 4);
    assert_eq!(snap["dirs"], 4); // x, x/sub, y, y/sub
    assert_eq!(snap["logical_bytes"], 2 * (6 + 8));
    assert_eq!(snap["unique_contents"], 2);
    assert_eq!(snap["unique_bytes"], 6 + 8);
    // Commit, root, the x/y tree, the sub tree, two blobs.
    let objects = reached(&env, &head);
    assert_eq!(objects.len(), 6);
    assert_eq!(snap["stored_bytes"], loose_bytes(&w, &objects));
    Ok(())
}

#[test]
fn chunks_shared_by_two_versions_of_a_large_file_are_stored_once() -> Result {
    let env = Env::new();
    let w = env.work();
    let mut rng = Rng::new(7);
    let mut big = rng.bytes(3 << 20);
    write(&w.join("big.bin"), &big);
    env.init();
    let first = env.commit("big");
    // Edit a few bytes in the middle: most chunks stay as they were.
    big[1_500_000..1_500_100].copy_from_slice(&rng.bytes(100));
    write(&w.join("big.bin"), &big);
    let second = env.commit("edited");
    let json = doc(&env.cow(["stats", "--json", &first, &second]));
    let one = json["snapshots"][0]["stored_bytes"].as_u64().unwrap();
    let two = json["snapshots"][1]["stored_bytes"].as_u64().unwrap();
    let total = json["total"]["stored_bytes"].as_u64().unwrap();
    // Random bytes do not compress: the first version stores its 3 MiB and more.
    assert!(one > 3 << 20, "{json}");
    // The second shares every chunk but the edited one, which is stored as a delta
    // against its old version (a chunk delta counts by itself, not its base): the
    // two together add only that delta, a chunk list, a tree and a commit to the
    // first, far less than one more chunk (256 KiB at the least).
    assert!(two > 256 << 10, "the shared chunks count: {json}");
    assert!(total >= one.max(two), "{json}");
    assert!(total - one < 64 << 10, "{json}");
    // Chunks live in packs; their records are inside the store's files.
    assert!(total <= json["store"]["stored_bytes"].as_u64().unwrap());
    assert_eq!(json["total"]["unique_bytes"], 2 * (3u64 << 20));
    Ok(())
}

/// Garbage: loose objects nothing reaches, and a pack of them.
#[test]
fn unreachable_bytes_and_the_gc_dry_run_estimate() -> Result {
    let env = Env::new();
    let (_, _) = two_snapshots(&env);
    let w = env.work();
    let repo = cow::Repository::open(&w)?;
    // A loose blob nothing reaches.
    let loose = repo.odb().write_blob(b"garbage nobody points at\n")?.id;
    let loose_file = fs::metadata(object_path(&w, &loose.to_string()))?.len();
    // A pack of unreachable blobs: a commit's quick pack is the 8-byte magic, the
    // records and a 32-byte checksum, so its records take its size less 40 bytes.
    repo.odb().begin_pack()?;
    let mut rng = Rng::new(5);
    for _ in 0..3 {
        repo.odb().write_blob(&rng.bytes(10_000))?;
    }
    let pack = repo.odb().finish_pack(0)?.expect("a pack");
    let records = pack.bytes - 40;

    let json = doc(&env.cow(["stats", "--store", "--json"]));
    assert_eq!(json["store"]["unreachable"], 4);
    assert_eq!(json["store"]["unreachable_bytes"], loose_file + records);

    // The objects are new: with the default two weeks' grace, nothing is freed.
    let dry = doc(&env.cow(["gc", "--dry-run", "--json"]));
    assert_eq!(dry["pruned"], 0);
    assert_eq!(dry["pruned_bytes"], 0);
    // Pruned now, they are exactly the garbage's bytes on disk.
    let dry = doc(&env.cow(["gc", "--dry-run", "--prune=now", "--json"]));
    assert_eq!(dry["pruned"], 4);
    assert_eq!(dry["pruned_bytes"], loose_file + records);
    // The estimate leaves out what repacking saves: the reachable loose objects go
    // into a new pack at about their size, so the dry run frees just the garbage.
    assert_eq!(dry["freed_bytes"], loose_file + records);
    let text = env.cow_ok(["gc", "--dry-run", "--prune=now"]);
    let pruned = loose_file + records;
    assert!(
        text.contains(&format!(
            "would free about {} (4 unreachable objects",
            human(pruned)
        )),
        "{text}"
    );
    // The real gc drops those same bytes: its pruned bytes are the estimate, and
    // what it frees on disk is at least that less what the new pack costs beyond
    // the loose files it replaces (its header, index and any compression loss).
    let before = store_bytes(&w);
    let done = doc(&env.cow(["gc", "--prune=now", "--json"]));
    assert_eq!(done["pruned"], 4);
    assert_eq!(done["pruned_bytes"], dry["pruned_bytes"]);
    assert!(!cow::Repository::open(&w)?.odb().contains(&loose));
    assert_eq!(done["bytes_before"], before);
    assert_eq!(done["bytes_after"], store_bytes(&w));
    let stats = doc(&env.cow(["stats", "--store", "--json"]));
    assert_eq!(stats["store"]["unreachable"], 0);
    assert_eq!(stats["store"]["stored_bytes"], store_bytes(&w));
    Ok(())
}

/// git's `strbuf_humanise_bytes`, written out again from git's strbuf.c.
fn human(bytes: u64) -> String {
    if bytes > 1 << 30 {
        format!(
            "{}.{:02} GiB",
            bytes >> 30,
            (bytes & ((1 << 30) - 1)) / 10_737_419
        )
    } else if bytes > 1 << 20 {
        let x = bytes + 5243;
        format!("{}.{:02} MiB", x >> 20, ((x & ((1 << 20) - 1)) * 100) >> 20)
    } else if bytes > 1 << 10 {
        let x = bytes + 5;
        format!("{}.{:02} KiB", x >> 10, ((x & ((1 << 10) - 1)) * 100) >> 10)
    } else if bytes == 1 {
        "1 byte".to_owned()
    } else {
        format!("{bytes} bytes")
    }
}

#[test]
fn count_objects_v_h_has_gits_lines_and_units() -> Result {
    if !git_available() {
        return Ok(());
    }
    let env = Env::new();
    two_snapshots(&env);
    let w = env.work();
    // git on the same files, loose too.
    let mirror = GitMirror::new(&env);
    mirror.snapshot("first");
    let git_text = String::from_utf8(mirror.run(&["count-objects", "-vH"]))?;
    let names = |text: &str| -> Vec<String> {
        text.lines()
            .map(|l| l.split_once(": ").unwrap().0.to_owned())
            .collect()
    };
    let cow_text = env.cow_ok(["count-objects", "-vH"]);
    // git's lines in git's order; git's `garbage` lines (files it cannot name) have
    // no counterpart in cow's store.
    let git_names: Vec<String> = names(&git_text)
        .into_iter()
        .filter(|n| !n.contains("garbage"))
        .collect();
    assert_eq!(names(&cow_text), git_names, "{cow_text}\n{git_text}");
    // -H changes the units only: each size is git's humanised form of the exact one.
    let exact = env.cow_ok(["count-objects"]);
    let sizes: HashSet<&str> = ["size", "size-pack"].into();
    for (h, e) in cow_text.lines().zip(exact.lines()) {
        let (name, value) = h.split_once(": ").unwrap();
        let (exact_name, exact_value) = e.split_once(": ").unwrap();
        assert_eq!(name, exact_name);
        if sizes.contains(name) {
            assert_eq!(value, human(exact_value.parse()?), "{name}");
        } else {
            assert_eq!(value, exact_value, "{name}");
        }
    }
    // The unit style is git's own: git's sizes read "N.NN KiB" or "N bytes".
    let unit = regex::Regex::new(r"^(\d+ bytes?|\d+\.\d\d [KMG]iB)$")?;
    for line in git_text.lines().chain(cow_text.lines()) {
        let (name, value) = line.split_once(": ").unwrap();
        if name.starts_with("size") {
            assert!(unit.is_match(value), "{line}");
        }
    }
    let size = cow::Repository::open(&w)?.count_objects()?.loose_bytes;
    assert!(cow_text.contains(&format!("size: {}\n", human(size))));
    // -v alone is accepted (cow always prints every count), in bytes.
    assert_eq!(env.cow_ok(["count-objects", "-v"]), exact);
    Ok(())
}

#[test]
fn count_objects_counts_loose_copies_of_packed_objects() -> Result {
    let env = Env::new();
    let (first, _) = two_snapshots(&env);
    let w = env.work();
    let json = doc(&env.cow(["count-objects", "--json"]));
    assert_eq!(json["prune_packable"], 0, "all loose, none packed");
    // Keep a loose object's file, gc (everything packed, nothing loose), put it back.
    let path = object_path(&w, &first);
    let bytes = fs::read(&path)?;
    env.cow_ok(["gc"]);
    assert!(!path.exists());
    fs::create_dir_all(path.parent().unwrap())?;
    fs::write(&path, bytes)?;
    let text = env.cow_ok(["count-objects", "-v"]);
    assert!(text.contains("count: 1\n"), "{text}");
    assert!(text.contains("prune-packable: 1\n"), "{text}");
    assert_eq!(
        doc(&env.cow(["count-objects", "--json"]))["prune_packable"],
        1
    );
    // gc removes the redundant copy.
    env.cow_ok(["gc"]);
    assert!(!path.exists());
    Ok(())
}

#[test]
fn log_shows_each_snapshot_with_its_date_as_git_does() -> Result {
    if !git_available() {
        return Ok(());
    }
    let env = Env::new();
    let mirror = GitMirror::new(&env);
    write(&env.work().join("a"), "one\n");
    env.init();
    env.commit("first snapshot");
    mirror.snapshot("first snapshot");
    write(&env.work().join("a"), "two\n");
    env.commit("second snapshot");
    mirror.snapshot("second snapshot");
    for args in [
        &["log", "--format=%h %ad %s", "--date=short"][..],
        &["log", "--pretty=reference"],
        &["log", "--format=reference"],
        &["log", "--pretty=reference", "--date=iso"],
        &["log", "--pretty=tformat:%h %ad %s", "--date=iso-strict"],
    ] {
        let cow = env.cow_ok(args);
        let git = String::from_utf8(mirror.run(args))?;
        assert_eq!(cow, git, "{args:?}");
    }
    // The reference format is dated: DATE is 1700000000 +0130: 2023-11-14 22:13:20 UTC,
    // 23:43:20 in that zone.
    let text = env.cow_ok(["log", "--pretty=reference", "-n", "1"]);
    assert!(text.ends_with("(second snapshot, 2023-11-14)\n"), "{text}");
    Ok(())
}

#[test]
fn stored_bytes_of_a_repacked_history_are_its_pack_records() -> Result {
    // A history gc packs into one pack, with blocks of small files and deltas.
    let env = Env::new();
    let w = env.work();
    env.init();
    for i in 0..12 {
        for j in 0..15 {
            let text: String = (0..40)
                .map(|l| format!("line {l} of {j}, {}\n", (l * i) % 5))
                .collect();
            write(&w.join(format!("d{}/f{j}.txt", i % 3)), text);
        }
        env.commit(&format!("c{i}"));
    }
    env.cow_ok(["gc", "--prune=now"]);
    let packs: Vec<_> = fs::read_dir(w.join(".cow/objects/pack"))?
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pack"))
        .collect();
    assert_eq!(packs.len(), 1);
    let pack = fs::read(&packs[0])?;
    // The pack: 8 bytes of magic, a dictionary record (type 5, its length as a
    // varint, the dictionary), the records, a 32-byte checksum.
    assert_eq!(pack[8], 5);
    let (mut len, mut shift, mut pos) = (0u64, 0, 9);
    loop {
        let b = pack[pos];
        pos += 1;
        len |= u64::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            break;
        }
    }
    let records = pack.len() as u64 - 32 - pos as u64 - len;
    let json = doc(&env.cow(["stats", "--all", "--json"]));
    let total = json["total"]["stored_bytes"].as_u64().unwrap();
    // Every record holds something every snapshot together reach, and each counts
    // once; a member of a block counts its share of the block rounded down, so the
    // total falls short of the records by less than a byte per object.
    let repo = cow::Repository::open(&w)?;
    let objects = repo.count_objects()?.packed;
    assert!(total <= records, "{total} > {records}");
    assert!(
        records - total < objects,
        "{total} vs {records}, {objects} objects"
    );
    Ok(())
}
