//! Large blobs in content-defined chunks: stable cut points, edits that store only
//! the chunks they touch, ids and bytes exactly git's whatever the storage, chunk keys
//! that never leak as objects, damage named precisely, gc, the threshold, dedup,
//! ranged reads, push/fetch of only the missing chunks, and SIGKILL mid-write.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use cow::odb::{ChunkList, ChunkParams, ObjectCounts, Odb, chunk_key};
use cow::refs::{Expected, RefName};
use cow::remote::{NoProgress, StoreRemote};
use cow::repository::{GcOptions, PushOptions};
use cow::{Kind, ObjectId, Repository};
use object_store::ObjectStore;

use crate::util::*;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// Smaller chunks than the defaults, so that tests of a few MB cut many of them.
const SMALL: ChunkParams = ChunkParams {
    min: 64 << 10,
    avg: 256 << 10,
    max: 1 << 20,
    normalization: 1,
    threshold: 1 << 20,
};

/// Deterministic incompressible bytes (xorshift64*, eight bytes a step: fast even in
/// a debug build).
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while out.len() < len {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        out.extend_from_slice(&s.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Rewrites the `[chunking]` lines `cow init` recorded (by hand, before any commit:
/// `cow config` refuses to change them).
fn set_chunking(work: &Path, p: &ChunkParams) {
    let path = work.join(".cow/config");
    let text = fs::read_to_string(&path).unwrap();
    let values = [
        ("minSize", u64::from(p.min)),
        ("avgSize", u64::from(p.avg)),
        ("maxSize", u64::from(p.max)),
        ("normalization", u64::from(p.normalization)),
        ("threshold", p.threshold),
    ];
    let mut replaced = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            for (key, value) in values {
                if line.trim_start().starts_with(&format!("{key} =")) {
                    replaced += 1;
                    return format!("\t{key} = {value}");
                }
            }
            line.to_owned()
        })
        .collect();
    assert_eq!(replaced, 5, "[chunking] as init wrote it:\n{text}");
    fs::write(&path, lines.join("\n") + "\n").unwrap();
}

/// `cow init` with the [`SMALL`] chunking parameters.
fn init_small(env: &Env) {
    env.init();
    set_chunking(&env.work(), &SMALL);
}

fn oid(hex: &str) -> ObjectId {
    hex.trim().parse().unwrap()
}

fn open(work: &Path) -> Repository {
    Repository::open(work).unwrap()
}

fn counts(work: &Path) -> ObjectCounts {
    open(work).odb().count_objects().unwrap()
}

fn list_of(work: &Path, id: &str) -> Option<ChunkList> {
    open(work).odb().chunk_list(&oid(id)).unwrap()
}

fn keys(list: &ChunkList) -> Vec<ObjectId> {
    list.chunks().iter().map(|c| c.key).collect()
}

/// Runs `cow ARGS` in `dir`.
fn cow_in(env: &Env, dir: &Path, args: &[&str]) -> Output {
    env.cow_cmd(dir).args(args).output().unwrap()
}

/// Runs `cow ARGS` in `dir`, asserting success; returns raw stdout.
fn cow_raw(env: &Env, dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = cow_in(env, dir, args);
    assert!(out.status.success(), "cow {args:?}: {}", describe(&out));
    out.stdout
}

/// Commits in `dir`; returns the new commit's id.
fn commit_in(env: &Env, dir: &Path, message: &str) -> String {
    cow_raw(env, dir, &["commit", "-m", message]);
    String::from_utf8(cow_raw(env, dir, &["rev-parse", "HEAD"]))
        .unwrap()
        .trim()
        .to_owned()
}

/// The id `cow ls-tree REV` lists for top-level `name`.
fn ls_tree_id(env: &Env, dir: &Path, rev: &str, name: &str) -> String {
    let out = String::from_utf8(cow_raw(env, dir, &["ls-tree", rev])).unwrap();
    out.lines()
        .find_map(|l| {
            let (meta, path) = l.split_once('\t')?;
            (path == name).then(|| meta.split(' ').nth(2).unwrap().to_owned())
        })
        .unwrap_or_else(|| panic!("{name} not in ls-tree {rev}:\n{out}"))
}

/// git's (SHA-256) blob id of `data`, from `git hash-object` in a scratch repository.
fn git_blob_id(env: &Env, data: &[u8]) -> String {
    let dir = env.tmp.path().join("oracle.git");
    if !dir.exists() {
        git(
            env.tmp.path(),
            [
                "init",
                "-q",
                "--bare",
                "--object-format=sha256",
                "oracle.git",
            ],
        );
    }
    git_stdin(&dir, ["hash-object", "--stdin"], data)
}

/// The pack files' names (sorted) with their inodes: what tells a pack kept as it
/// was from one rewritten.
fn packs(work: &Path) -> Vec<(String, u64)> {
    use std::os::unix::fs::MetadataExt;
    pack_files(&work.join(".cow/objects"), "pack")
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                fs::metadata(&p).unwrap().ino(),
            )
        })
        .collect()
}

/// The `pack/*.EXT` files of the object directory `objects` (a repository's
/// `.cow/objects`, or the directory of an [`Odb::at`]), sorted.
fn pack_files(objects: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(objects.join("pack"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    out.sort();
    out
}

/// A chunk record as a pack's index lists it.
struct ChunkEntry {
    pack: PathBuf,
    key: ObjectId,
    offset: u64,
    /// Where in the `.idx` the entry's big-endian offset (and its flag bits) starts.
    offset_at: usize,
}

/// Every chunk entry of every pack's `.idx` (read by hand from the documented format:
/// magic, 256 big-endian u32 fan-out counts, the sorted ids, their big-endian u64
/// offsets, bit 63 set for a chunk).
fn chunk_entries(work: &Path) -> Vec<ChunkEntry> {
    let mut out = Vec::new();
    for path in pack_files(&work.join(".cow/objects"), "idx") {
        let idx = fs::read(&path).unwrap();
        assert_eq!(&idx[..8], b"CWIDX\0\0\x01", "{}", path.display());
        let n = u32::from_be_bytes(idx[8 + 255 * 4..8 + 256 * 4].try_into().unwrap()) as usize;
        let ids = 8 + 256 * 4;
        let offsets = ids + 32 * n;
        for i in 0..n {
            let raw = u64::from_be_bytes(
                idx[offsets + 8 * i..offsets + 8 * i + 8]
                    .try_into()
                    .unwrap(),
            );
            if raw & (1 << 63) != 0 {
                out.push(ChunkEntry {
                    pack: path.with_extension("pack"),
                    key: ObjectId::from_slice(&idx[ids + 32 * i..ids + 32 * i + 32]).unwrap(),
                    offset: raw & !(1 << 63),
                    offset_at: offsets + 8 * i,
                });
            }
        }
    }
    out
}

fn varint(buf: &[u8], pos: &mut usize) -> u64 {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let b = buf[*pos];
        *pos += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return n;
        }
    }
    panic!("bad varint");
}

/// Where the zstd frame of the chunk record at `offset` lies in `pack`: after the type
/// byte (7, `0x80` for a delta whose base follows: 32 bytes, or with `0x10` a
/// varint), the size and the frame length as varints.
fn chunk_frame(pack: &[u8], offset: u64) -> std::ops::Range<usize> {
    let mut pos = offset as usize;
    let code = pack[pos];
    assert_eq!(code & 0x0f, 7, "a chunk record at {offset}");
    pos += 1;
    varint(pack, &mut pos); // size
    if code & 0x80 != 0 {
        if code & 0x10 != 0 {
            varint(pack, &mut pos);
        } else {
            pos += 32;
        }
    }
    let len = varint(pack, &mut pos) as usize;
    pos..pos + len
}

/// Cut lengths of `data` by the crate's chunker.
fn stream_cuts(params: &ChunkParams, data: &[u8]) -> Vec<usize> {
    params.chunker(data).map(|c| c.unwrap().length).collect()
}

#[test]
fn chunk_boundaries_are_those_of_fastcdc_2020_and_pinned() {
    use fastcdc::v2020::{FastCDC, Normalization};
    let p = ChunkParams::DEFAULT;
    let data = random_bytes(0x5eed, 12 * MIB);
    let cuts = stream_cuts(&p, &data);
    // fastcdc's in-memory reference API over the same bytes and parameters.
    let reference: Vec<usize> = FastCDC::with_level(
        &data,
        p.min as usize,
        p.avg as usize,
        p.max as usize,
        Normalization::Level1,
    )
    .map(|c| c.length)
    .collect();
    assert_eq!(cuts, reference);
    assert_eq!(cuts.iter().sum::<usize>(), data.len());
    assert!(cuts.len() > 4, "{cuts:?}");
    // Pinned: produced once by the crate's cut points (fastcdc =5.0.0, the defaults)
    // on this input. A fastcdc upgrade that moved them would make every stored chunk
    // useless for dedup against new writes: it must fail here.
    // (The keys were checked once outside cow too: Python's `blake3` package, in
    // key-derivation mode with cow's context, over the same generated bytes.)
    let pinned_lengths: &[usize] = &[1_253_819, 1_070_167, 532_117];
    let pinned_keys: &[&str] = &[
        "40b33e395369d81b7d3cadc89cc19d5f26bffa4e207b1bd563e9e3caa0641326",
        "2108be2d6dedab3ea8d4f353799cb44a287cc033c06555db82998222aa9a357c",
        "f363c75bdeb043bc1f82c3c0e3782303ee0bdb448708f3195233bc760c6b83e9",
    ];
    let mut at = 0;
    let first: Vec<(usize, String)> = cuts
        .iter()
        .take(3)
        .map(|&len| {
            let key = chunk_key(&data[at..at + len]).to_string();
            at += len;
            (len, key)
        })
        .collect();
    assert_eq!(
        first.iter().map(|f| f.0).collect::<Vec<_>>(),
        pinned_lengths
    );
    assert_eq!(
        first.iter().map(|f| f.1.as_str()).collect::<Vec<_>>(),
        pinned_keys
    );

    // Zeros never match the cut mask: every chunk is the largest (the last one the
    // rest).
    let zeros = vec![0u8; 10 * MIB];
    assert_eq!(stream_cuts(&p, &zeros), [4 * MIB, 4 * MIB, 2 * MIB]);

    // A commit stores exactly these cuts, each chunk under its key; the zeros' two
    // distinct chunks once each.
    let env = Env::new();
    let w = env.work();
    env.init();
    write(&w.join("random.bin"), &data);
    write(&w.join("zeros.bin"), &zeros);
    env.commit("two large files");
    let list = list_of(&w, &ls_tree_id(&env, &w, "HEAD", "random.bin")).unwrap();
    let mut at = 0;
    let stored: Vec<(usize, ObjectId)> = cuts
        .iter()
        .map(|&len| {
            let key = chunk_key(&data[at..at + len]);
            at += len;
            (len, key)
        })
        .collect();
    assert_eq!(
        list.chunks()
            .iter()
            .map(|c| (c.len as usize, c.key))
            .collect::<Vec<_>>(),
        stored
    );
    let zlist = list_of(&w, &ls_tree_id(&env, &w, "HEAD", "zeros.bin")).unwrap();
    assert_eq!(
        zlist.chunks().iter().map(|c| c.len).collect::<Vec<_>>(),
        [4 << 20, 4 << 20, 2 << 20]
    );
    let c = counts(&w);
    assert_eq!(c.chunks, cuts.len() as u64 + 2, "{c:?}");
    assert_eq!(c.chunked_blobs, 2, "{c:?}");
    assert_eq!(c.chunk_bytes, (12 + 4 + 2) as u64 * MIB as u64, "{c:?}");
}

#[test]
fn an_edit_stores_only_the_chunks_it_touches() {
    let env = Env::new();
    let w = env.work();
    init_small(&env);
    let mut data = random_bytes(2, 20 * MIB);
    write(&w.join("big.bin"), &data);
    env.commit("v1");
    let v1 = list_of(&w, &ls_tree_id(&env, &w, "HEAD", "big.bin")).unwrap();
    assert!(v1.chunks().len() > 40, "{} chunks", v1.chunks().len());
    assert!(v1.chunks().iter().all(|c| c.len <= u64::from(SMALL.max)));
    let before = counts(&w);

    // 4 KiB overwritten in the middle. A cut is decided by the bytes just before it
    // (FastCDC's gear hash), counted from the chunk's start: chunks wholly before the
    // edit keep their content and cuts, the old cut after the edit is still one, so
    // exactly the old chunks the edit overlaps (from the old offsets) are new.
    let pos = 10 * MIB + 12_345;
    data[pos..pos + 4 * KIB].copy_from_slice(&random_bytes(3, 4 * KIB));
    write(&w.join("big.bin"), &data);
    env.commit("overwrite 4 KiB");
    let v2 = list_of(&w, &ls_tree_id(&env, &w, "HEAD", "big.bin")).unwrap();
    let overlapping = |l: &ChunkList| -> Vec<ObjectId> {
        l.chunks()
            .iter()
            .filter(|c| c.offset < (pos + 4 * KIB) as u64 && c.offset + c.len > pos as u64)
            .map(|c| c.key)
            .collect()
    };
    let touched = overlapping(&v1);
    assert!((1..=2).contains(&touched.len()));
    let old: HashSet<ObjectId> = keys(&v1).into_iter().collect();
    let fresh: Vec<ObjectId> = keys(&v2).into_iter().filter(|k| !old.contains(k)).collect();
    assert_eq!(
        fresh,
        overlapping(&v2),
        "the new chunks are the edited ones"
    );
    assert_eq!(fresh.len(), touched.len());
    assert_eq!(
        v2.chunks().iter().map(|c| c.offset).collect::<Vec<_>>(),
        v1.chunks().iter().map(|c| c.offset).collect::<Vec<_>>(),
        "an overwrite moves no cut"
    );
    let after = counts(&w);
    let grown = after.pack_bytes - before.pack_bytes;
    assert!(
        grown < 3 * u64::from(SMALL.max),
        "{grown} bytes for a 4 KiB edit"
    );
    assert_eq!(after.chunks, before.chunks + fresh.len() as u64);

    // 4 KiB inserted near the start: the chunk it lands in changes, the cuts after it
    // find the old ones again within a chunk or two; everything after is shared.
    data.splice(300_000..300_000, random_bytes(4, 4 * KIB));
    write(&w.join("big.bin"), &data);
    env.commit("insert 4 KiB");
    let v3 = list_of(&w, &ls_tree_id(&env, &w, "HEAD", "big.bin")).unwrap();
    assert_eq!(v3.size(), data.len() as u64);
    let known: HashSet<ObjectId> = keys(&v1).into_iter().chain(keys(&v2)).collect();
    let fresh: Vec<usize> = (0..v3.chunks().len())
        .filter(|&i| !known.contains(&v3.chunks()[i].key))
        .collect();
    assert!(
        !fresh.is_empty() && fresh.len() <= 3,
        "new chunks at {fresh:?} of {}",
        v3.chunks().len()
    );
    assert!(
        v3.chunks()[fresh[fresh.len() - 1]].offset < MIB as u64 * 2,
        "every new chunk is near the insertion: {fresh:?}"
    );
    let grown = counts(&w).pack_bytes - after.pack_bytes;
    assert!(
        grown < 3 * u64::from(SMALL.max),
        "{grown} bytes for a 4 KiB insert"
    );

    let id = ls_tree_id(&env, &w, "HEAD", "big.bin");
    assert!(env.cow(["cat-file", "-p", &id]).stdout == data);
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
}

#[test]
fn large_files_round_trip_with_git_ids() {
    if !git_available() {
        return;
    }
    let env = Env::new();
    let w = env.work();
    env.init(); // the default parameters
    let mirror = GitMirror::new(&env);
    let v1 = random_bytes(31, 12 * MIB);
    write(&w.join("big.bin"), &v1);
    write(&w.join("small.txt"), "small\n");
    let c1 = env.commit("v1");
    assert_eq!(c1, mirror.snapshot("v1"), "the same commit id as git's");
    let id1 = ls_tree_id(&env, &w, "HEAD", "big.bin");
    assert_eq!(id1, git_blob_id(&env, &v1));
    assert!(list_of(&w, &id1).is_some(), "stored in chunks");

    let mut v2 = v1.clone();
    v2[6 * MIB..6 * MIB + 4 * KIB].copy_from_slice(&random_bytes(32, 4 * KIB));
    v2.extend(random_bytes(33, MIB + 7));
    write(&w.join("big.bin"), &v2);
    let c2 = env.commit("v2");
    assert_eq!(c2, mirror.snapshot("v2"));
    let id2 = ls_tree_id(&env, &w, "HEAD", "big.bin");
    assert_eq!(id2, git_blob_id(&env, &v2));

    let big = || fs::read(w.join("big.bin")).unwrap();
    env.cow_ok(["checkout", &c1]);
    assert!(big() == v1, "checkout of the first version");
    env.cow_ok(["checkout", "main"]);
    assert!(big() == v2, "and back");
    fs::remove_file(w.join("big.bin")).unwrap();
    env.cow_ok(["restore", "big.bin"]);
    assert!(big() == v2, "restore of a deleted file");
    env.cow_ok(["restore", "-s", &c1, "big.bin"]);
    assert!(big() == v1, "restore from another snapshot");
    // big.bin now differs from HEAD's, so restore treats it as a local change (it
    // compares with HEAD and the source only) and wants --force to replace it.
    env.cow_ok(["restore", "--force", "big.bin"]);
    assert!(big() == v2);
    assert!(env.cow_ok(["status"]).contains("nothing to commit"));

    for (id, data, rev) in [(&id1, &v1, &c1), (&id2, &v2, &c2)] {
        assert!(cow_raw(&env, &w, &["cat-file", "-p", id]) == *data);
        assert!(cow_raw(&env, &w, &["show", &format!("{rev}:big.bin")]) == *data);
        assert_eq!(
            env.cow_ok(["cat-file", "-s", id]).trim(),
            data.len().to_string()
        );
        assert_eq!(env.cow_ok(["cat-file", "-t", id]).trim(), "blob");
    }
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
}

#[test]
fn chunk_keys_are_never_objects() {
    let env = Env::new();
    let w = env.work();
    init_small(&env);
    write(&w.join("big.bin"), random_bytes(5, 4 * MIB));
    env.commit("big");
    let id = oid(&ls_tree_id(&env, &w, "HEAD", "big.bin"));
    let repo = open(&w);
    let odb = repo.odb();
    let list = odb.chunk_list(&id).unwrap().unwrap();
    let chunk_keys: HashSet<ObjectId> = keys(&list).into_iter().collect();
    assert!(chunk_keys.len() > 3);
    let all: HashSet<ObjectId> = odb.all_ids().unwrap().into_iter().collect();
    assert!(all.contains(&id), "the blob is an object");
    assert!(all.is_disjoint(&chunk_keys), "all_ids lists a chunk key");
    for key in &chunk_keys {
        let hex = key.to_string();
        assert!(odb.contains_stored(key) && !odb.contains(key));
        assert!(odb.read(key).is_err());
        for len in [4, 12, 64] {
            let prefix = cow::object::Prefix::from_hex(&hex[..len]).unwrap();
            let found = odb.ids_with_prefix(&prefix).unwrap();
            assert!(
                found.iter().all(|f| !chunk_keys.contains(f)),
                "ids_with_prefix({}) = {found:?}",
                &hex[..len]
            );
        }
        for args in [
            vec!["cat-file", "-p", &hex],
            vec!["cat-file", "-t", &hex],
            vec!["cat-file", "-s", &hex],
            vec!["rev-parse", &hex[..12]],
            vec!["rev-parse", &hex],
            vec!["show", &hex],
            vec!["ls-tree", &hex],
        ] {
            // As for any id the store does not hold.
            let out = env.cow(&args);
            assert_error(
                &out,
                &format!("unknown revision '{}'", args[args.len() - 1]),
            );
            assert!(out.stdout.is_empty(), "{args:?}: {}", describe(&out));
        }
    }
    // The blob itself is found by a prefix.
    let hex = id.to_string();
    assert_eq!(env.cow_ok(["rev-parse", &hex[..12]]).trim(), hex);
}

#[test]
fn a_damaged_chunk_is_named_and_never_checked_out() {
    let env = Env::new();
    let w = env.work();
    init_small(&env);
    write(&w.join("small.txt"), "small\n");
    let c0 = env.commit("no large file");
    let va = random_bytes(6, 4 * MIB);
    write(&w.join("big.bin"), &va);
    let ca = env.commit("version a");
    let vb = random_bytes(7, 4 * MIB);
    write(&w.join("big.bin"), &vb);
    let cb = env.commit("version b");
    let id_a = ls_tree_id(&env, &w, &ca, "big.bin");
    let id_b = ls_tree_id(&env, &w, &cb, "big.bin");
    let a_keys: HashSet<ObjectId> = keys(&list_of(&w, &id_a).unwrap()).into_iter().collect();
    // A chunk in the middle of b that a does not have.
    let list_b = list_of(&w, &id_b).unwrap();
    let victim = list_b.chunks()[list_b.chunks().len() / 2].key;
    assert!(!a_keys.contains(&victim));
    env.cow_ok(["checkout", &c0]);
    assert!(!w.join("big.bin").exists());

    // One byte flipped in the middle of the victim's zstd frame.
    let entry = chunk_entries(&w)
        .into_iter()
        .find(|e| e.key == victim)
        .expect("the chunk is in a pack's index");
    let mut pack = fs::read(&entry.pack).unwrap();
    let frame = chunk_frame(&pack, entry.offset);
    assert!(frame.len() > 1000, "{frame:?}");
    pack[frame.start + frame.len() / 2] ^= 0x10;
    fs::write(&entry.pack, &pack).unwrap();

    let out = env.cow(["fsck"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{}", describe(&out));
    for want in [id_b.as_str(), &victim.to_string(), "big.bin"] {
        assert!(text.contains(want), "fsck does not name {want}:\n{text}");
    }

    // From a snapshot without the file: the checkout fails and creates nothing.
    let head = |env: &Env| env.cow_ok(["rev-parse", "HEAD"]).trim().to_owned();
    for rev in [cb.as_str(), "main"] {
        let out = env.cow(["checkout", rev]);
        assert!(!out.status.success(), "{}", describe(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with("cow: error: "),
            "{}",
            describe(&out)
        );
        assert_eq!(list_files(&w), [PathBuf::from("small.txt")]);
        assert_eq!(head(&env), c0);
    }
    // From a snapshot with another version of it: that version stays.
    env.cow_ok(["checkout", &ca]);
    assert!(fs::read(w.join("big.bin")).unwrap() == va);
    let out = env.cow(["checkout", &cb]);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("cow: error: "));
    assert!(fs::read(w.join("big.bin")).unwrap() == va, "left as it was");
    assert_eq!(head(&env), ca);

    // Reads of b fail, naming what is damaged; a still reads.
    for args in [
        vec!["cat-file", "-p", &id_b],
        vec!["show", &format!("{cb}:big.bin")],
    ] {
        let out = env.cow(&args);
        assert_error(&out, &victim.to_string());
    }
    assert!(cow_raw(&env, &w, &["cat-file", "-p", &id_a]) == va);
    let range = open(&w).odb().read_range(&oid(&id_b), 0, 100).unwrap();
    assert!(
        range == vb[..100],
        "chunks before the damaged one still read"
    );
}

#[test]
fn gc_frees_the_chunks_nothing_needs_and_keeps_the_rest() {
    let env = Env::new();
    let w = env.work();
    init_small(&env);
    let base = random_bytes(8, 6 * MIB);
    write(&w.join("big.bin"), &base);
    env.commit("base, on main");
    env.cow_ok(["checkout", "-b", "side"]);
    let mut longer = base.clone();
    longer.extend(random_bytes(9, 4 * MIB));
    write(&w.join("big.bin"), &longer);
    env.commit("longer, on side");
    let base_id = ls_tree_id(&env, &w, "main", "big.bin");
    let longer_id = ls_tree_id(&env, &w, "side", "big.bin");
    let base_keys: BTreeSet<ObjectId> = keys(&list_of(&w, &base_id).unwrap()).into_iter().collect();
    let all_keys: BTreeSet<ObjectId> = keys(&list_of(&w, &longer_id).unwrap())
        .into_iter()
        .chain(base_keys.iter().copied())
        .collect();
    let stored =
        |w: &Path| -> BTreeSet<ObjectId> { chunk_entries(w).into_iter().map(|e| e.key).collect() };
    assert_eq!(stored(&w), all_keys);
    let before = counts(&w);

    // Both reachable: gc keeps every chunk.
    env.cow_ok(["gc", "--prune=now"]);
    let kept = counts(&w);
    assert_eq!(stored(&w), all_keys);
    assert_eq!((kept.chunks, kept.chunked_blobs), (before.chunks, 2));
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
    assert!(cow_raw(&env, &w, &["show", "side:big.bin"]) == longer);
    assert!(cow_raw(&env, &w, &["show", "main:big.bin"]) == base);

    // side deleted: what only it needed goes; main's chunks stay (no operation's
    // view keeps side either).
    env.cow_ok(["config", "gc.opLogExpire", "now"]);
    env.cow_ok(["checkout", "main"]);
    env.cow_ok(["branch", "-D", "side"]);
    env.cow_ok(["gc", "--prune=now"]);
    let after = counts(&w);
    assert_eq!(stored(&w), base_keys);
    assert_eq!(after.chunks, base_keys.len() as u64, "{after:?}");
    assert_eq!(after.chunked_blobs, 1);
    assert_eq!(after.chunk_bytes, base.len() as u64);
    // At least the 4 MiB of random bytes only side had (incompressible, no delta base).
    let freed = kept.pack_bytes - after.pack_bytes;
    assert!(freed >= 4 * MIB as u64, "{kept:?} -> {after:?}");
    assert!(!open(&w).odb().contains(&oid(&longer_id)));
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
    assert!(fs::read(w.join("big.bin")).unwrap() == base);

    // With no snapshot left that needs a chunk, none stays.
    let env = Env::new();
    let w = env.work();
    init_small(&env);
    env.cow_ok(["config", "gc.opLogExpire", "now"]);
    write(&w.join("small.txt"), "small\n");
    env.commit("small");
    env.cow_ok(["checkout", "-b", "side"]);
    write(&w.join("big.bin"), random_bytes(10, 3 * MIB));
    env.commit("big, on side");
    env.cow_ok(["gc", "--prune=now"]);
    let kept = counts(&w);
    assert!(kept.chunks > 3, "{kept:?}");
    env.cow_ok(["checkout", "main"]);
    env.cow_ok(["branch", "-D", "side"]);
    env.cow_ok(["gc", "--prune=now"]);
    let after = counts(&w);
    assert_eq!(
        (after.chunks, after.chunked_blobs, after.chunk_bytes),
        (0, 0, 0)
    );
    assert!(
        kept.pack_bytes - after.pack_bytes >= 3 * MIB as u64,
        "{kept:?} -> {after:?}"
    );
    assert!(chunk_entries(&w).is_empty());
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
}

#[test]
fn a_second_gc_with_nothing_new_keeps_packs_of_chunks_as_they_are() {
    let env = Env::new();
    let w = env.work();
    init_small(&env);
    write(&w.join("big.bin"), random_bytes(18, 6 * MIB));
    env.commit("big");
    write(&w.join("big.bin"), random_bytes(19, 4 * MIB));
    env.commit("another");
    env.cow_ok(["gc", "--prune=now"]);
    let packs_before = packs(&w);
    let bytes_before = counts(&w).pack_bytes;
    assert_eq!(packs_before.len(), 1);
    // Nothing new: the pack the first gc wrote is kept as it is and nothing is
    // written (its name and inode stay; the store does not grow).
    let out = env.cow_ok(["gc", "--prune=now"]);
    assert_eq!(packs(&w), packs_before, "{out}");
    assert_eq!(counts(&w).pack_bytes, bytes_before, "{out}");
}

#[test]
fn a_file_growing_past_the_threshold_and_shrinking_back() {
    if !git_available() {
        return;
    }
    // At 1 MiB (the defaults' threshold: a file of that size is read into memory, one
    // byte more is streamed) and at 2 MiB (files just below it are streamed).
    for threshold in [1 << 20, 2 << 20] {
        let env = Env::new();
        let w = env.work();
        env.init();
        set_chunking(&w, &ChunkParams { threshold, ..SMALL });
        let t = threshold as usize;
        let all = random_bytes(11, 3 * MIB);
        let mut snapshots = Vec::new();
        // Blobs of at least the threshold are stored in chunks, smaller ones whole.
        for (len, chunked) in [
            (600 * KIB, false),
            (3 * MIB, true),
            (t, true),
            (t - 1, false),
            (t + 1, true),
            (200 * KIB, false),
        ] {
            let data = &all[..len];
            write(&w.join("grows.bin"), data);
            let c = env.commit(&format!("{len} bytes"));
            let id = ls_tree_id(&env, &w, "HEAD", "grows.bin");
            assert_eq!(id, git_blob_id(&env, data), "{len} bytes");
            assert!(cow_raw(&env, &w, &["cat-file", "-p", &id]) == data);
            assert_eq!(
                list_of(&w, &id).is_some(),
                chunked,
                "{len} bytes, threshold {t}"
            );
            snapshots.push((c, data));
        }
        for (c, data) in &snapshots {
            env.cow_ok(["checkout", c]);
            assert!(fs::read(w.join("grows.bin")).unwrap() == *data);
        }
        env.cow_ok(["checkout", "main"]);
        assert_eq!(counts(&w).chunked_blobs, 3);
        assert!(env.cow_ok(["fsck"]).contains("no problems"));
    }
}

#[test]
fn copies_share_chunks_and_chunked_reads_equal_whole_ones() {
    let env = Env::new();
    let w = env.work();
    init_small(&env);
    let data = random_bytes(12, 16 * MIB);
    write(&w.join("big.bin"), &data);
    env.commit("big");
    let c0 = counts(&w);
    // The same content under a second name: the same blob, nothing stored again.
    write(&w.join("copy.bin"), &data);
    env.commit("copy");
    let c1 = counts(&w);
    assert!(
        c1.pack_bytes + c1.loose_bytes - c0.pack_bytes - c0.loose_bytes < data.len() as u64 / 100,
        "{c0:?} -> {c1:?}"
    );
    assert_eq!(c1.chunks, c0.chunks);
    // A near copy (the last byte changed): a new blob, whose only new chunk is its
    // last (every cut before it is decided by bytes before it).
    let mut near = data.clone();
    *near.last_mut().unwrap() ^= 1;
    write(&w.join("near.bin"), &near);
    env.commit("near copy");
    let c2 = counts(&w);
    let id = ls_tree_id(&env, &w, "HEAD", "big.bin");
    let near_id = ls_tree_id(&env, &w, "HEAD", "near.bin");
    let list = list_of(&w, &id).unwrap();
    let last = list.chunks().last().unwrap().len;
    assert_eq!(c2.chunks, c1.chunks + 1);
    assert_eq!(c2.chunked_blobs, 2);
    assert_eq!(c2.chunked_bytes, 2 * data.len() as u64);
    assert_eq!(c2.chunk_bytes, data.len() as u64 + last);
    let grown = c2.pack_bytes + c2.loose_bytes - c1.pack_bytes - c1.loose_bytes;
    assert!(
        grown < last + 64 * KIB as u64,
        "{grown} bytes for one chunk of {last}"
    );
    assert_eq!(
        keys(&list_of(&w, &near_id).unwrap())[..list.chunks().len() - 1],
        keys(&list)[..list.chunks().len() - 1]
    );

    // The same file in a repository that stores it whole.
    let whole = Env::new();
    let ww = whole.work();
    whole.init();
    set_chunking(
        &ww,
        &ChunkParams {
            threshold: 1 << 40,
            ..ChunkParams::DEFAULT
        },
    );
    write(&ww.join("big.bin"), &data);
    whole.commit("big, whole");
    assert_eq!(ls_tree_id(&whole, &ww, "HEAD", "big.bin"), id);
    assert!(list_of(&ww, &id).is_none());
    assert_eq!(counts(&ww).chunks, 0);
    for args in [
        ["cat-file", "-p", &id],
        ["cat-file", "-s", &id],
        ["cat-file", "-t", &id],
    ] {
        assert!(
            cow_raw(&env, &w, &args) == cow_raw(&whole, &ww, &args),
            "{args:?}"
        );
    }
    assert!(cow_raw(&whole, &ww, &["show", "HEAD:big.bin"]) == data);
    let (chunked, stored_whole) = (open(&w), open(&ww));
    for (offset, len) in [
        (0, 10),
        (5 * MIB as u64, MIB as u64 * 3),
        (data.len() as u64 - 3, 9),
    ] {
        assert_eq!(
            chunked.odb().read_range(&oid(&id), offset, len).unwrap(),
            stored_whole
                .odb()
                .read_range(&oid(&id), offset, len)
                .unwrap()
        );
    }
}

#[test]
fn ranged_reads_equal_slices_of_the_file() {
    let env = Env::new();
    let w = env.work();
    init_small(&env);
    let data = random_bytes(13, 5 * MIB + 333);
    let small = random_bytes(14, 100 * KIB);
    write(&w.join("big.bin"), &data);
    write(&w.join("small.bin"), &small);
    env.commit("files");
    let repo = open(&w);
    let odb = repo.odb();
    for (name, data) in [("big.bin", &data), ("small.bin", &small)] {
        let id = oid(&ls_tree_id(&env, &w, "HEAD", name));
        let size = data.len() as u64;
        let slice = |o: u64, l: u64| {
            let start = o.min(size) as usize;
            &data[start..o.saturating_add(l).min(size) as usize]
        };
        let mut cases = vec![
            (0, 0),
            (0, 1),
            (0, 100),
            (1, size - 2),
            (size - 1, 1),
            (size - 5, 100),
            (size, 10),
            (size + 100, 10),
            (0, size),
            (0, u64::MAX),
            (12_345, u64::MAX),
        ];
        if let Some(list) = odb.chunk_list(&id).unwrap() {
            let chunks = list.chunks();
            assert!(chunks.len() > 5);
            assert_eq!(list.size(), size);
            for (i, c) in chunks.iter().enumerate() {
                // A chunk exactly, its first and last byte, across its end.
                cases.extend([
                    (c.offset, c.len),
                    (c.offset, 1),
                    (c.offset + c.len - 1, 1),
                    (c.offset + c.len - 1, 2),
                    (c.offset, 0),
                ]);
                assert_eq!(list.chunk_at(c.offset), Some(i));
                assert_eq!(list.chunk_at(c.offset + c.len - 1), Some(i));
            }
            assert_eq!(list.chunk_at(size), None);
            // Across three chunks.
            cases.push((chunks[1].offset - 10, chunks[2].len + 20));
        }
        for (offset, len) in cases {
            let got = odb.read_range(&id, offset, len).unwrap();
            assert!(got == slice(offset, len), "{name}: {len} bytes at {offset}");
        }
    }
}

/// `cow clone SRC DST` (from the scratch directory).
fn clone(env: &Env, src: &Path, dst: &Path) -> serde_json::Value {
    let out = cow_raw(
        env,
        env.tmp.path(),
        &[
            "clone",
            "--json",
            src.to_str().unwrap(),
            dst.to_str().unwrap(),
        ],
    );
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn push_and_fetch_send_only_the_missing_chunks() {
    let env = Env::new();
    let origin = env.work();
    env.init(); // the default parameters
    let v1 = random_bytes(15, 20 * MIB);
    write(&origin.join("big.bin"), &v1);
    env.commit("v1");
    let dir = env.tmp.path().join("clone");
    let cloned = clone(&env, &origin, &dir);
    // The origin off main, so that a push may move it.
    env.cow_ok(["checkout", "-b", "parked"]);
    assert!(
        cloned["transfer"]["bytes"].as_u64().unwrap() >= v1.len() as u64,
        "{cloned}"
    );
    assert!(fs::read(dir.join("big.bin")).unwrap() == v1);
    let id1 = ls_tree_id(&env, &dir, "HEAD", "big.bin");
    assert_eq!(id1, ls_tree_id(&env, &origin, "main", "big.bin"));
    assert_eq!(counts(&dir).chunks, counts(&origin).chunks);
    assert!(
        String::from_utf8(cow_raw(&env, &dir, &["fsck"]))
            .unwrap()
            .contains("no problems")
    );

    // 4 KiB edited in the clone, pushed: only what the edit changed goes.
    let mut v2 = v1.clone();
    v2[9 * MIB..9 * MIB + 4 * KIB].copy_from_slice(&random_bytes(16, 4 * KIB));
    write(&dir.join("big.bin"), &v2);
    let c2 = commit_in(&env, &dir, "v2");
    let id2 = ls_tree_id(&env, &dir, "HEAD", "big.bin");
    let old: HashSet<ObjectId> = keys(&list_of(&dir, &id1).unwrap()).into_iter().collect();
    let fresh: u64 = list_of(&dir, &id2)
        .unwrap()
        .chunks()
        .iter()
        .filter(|c| !old.contains(&c.key))
        .map(|c| c.len)
        .sum();
    assert!(fresh > 0 && fresh <= 2 * u64::from(ChunkParams::DEFAULT.max));
    let pushed: serde_json::Value =
        serde_json::from_slice(&cow_raw(&env, &dir, &["push", "--json", "origin", "main"]))
            .unwrap();
    // The touched chunk went as a delta against the chunk the origin holds: the
    // 4 KiB edited (random, so incompressible), the new chunk list, a tree and a
    // commit — kilobytes, not the chunk.
    let bytes = pushed["transfer"]["bytes"].as_u64().unwrap();
    assert!(
        bytes < 64 * KIB as u64,
        "{bytes} bytes pushed for {fresh} bytes of new chunks: {pushed}"
    );
    assert_eq!(env.cow_ok(["rev-parse", "main"]).trim(), c2);
    assert!(cow_raw(&env, &origin, &["cat-file", "-p", &id2]) == v2);
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
    assert_eq!(counts(&origin).chunks, counts(&dir).chunks);

    // Edited again at the origin, fetched: the same.
    env.cow_ok(["checkout", "main"]);
    let mut v3 = v2.clone();
    v3[15 * MIB..15 * MIB + 4 * KIB].copy_from_slice(&random_bytes(17, 4 * KIB));
    write(&origin.join("big.bin"), &v3);
    env.commit("v3");
    let id3 = ls_tree_id(&env, &origin, "HEAD", "big.bin");
    let fetched: serde_json::Value =
        serde_json::from_slice(&cow_raw(&env, &dir, &["fetch", "--json"])).unwrap();
    let bytes = fetched["transfer"]["bytes"].as_u64().unwrap();
    assert!(bytes < 64 * KIB as u64, "{bytes} bytes fetched: {fetched}");
    assert!(cow_raw(&env, &dir, &["cat-file", "-p", &id3]) == v3);
    assert!(
        String::from_utf8(cow_raw(&env, &dir, &["fsck"]))
            .unwrap()
            .contains("no problems")
    );
}

/// Writes `mib` MiB to `path`: 4 MiB of random bytes (from `seed`), 4 MiB of hole,
/// and so on.
fn write_sparse_mix(path: &Path, mib: usize, seed: u64) {
    use std::io::{Seek, SeekFrom};
    let mut file = fs::File::create(path).unwrap();
    for (i, at) in (0..mib).step_by(4).enumerate() {
        if i % 2 == 0 {
            file.seek(SeekFrom::Start((at * MIB) as u64)).unwrap();
            let len = 4.min(mib - at) * MIB;
            file.write_all(&random_bytes(seed * 1000 + i as u64, len))
                .unwrap();
        }
    }
    file.set_len((mib * MIB) as u64).unwrap();
}

/// Starts `cow ARGS` in `dir`, waits until it has written more than `bytes` to a
/// temporary pack, and SIGKILLs it. Returns whether the kill is what ended it (not,
/// when it finished first).
fn kill_while_writing_a_pack(env: &Env, dir: &Path, args: &[&str], bytes: u64) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let pack_dir = dir.join(".cow/objects/pack");
    let mut child = env
        .cow_cmd(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let writing = fs::read_dir(&pack_dir).is_ok_and(|d| {
            d.flatten().any(|e| {
                e.file_name().to_string_lossy().starts_with(".tmp-pack-")
                    && e.metadata().is_ok_and(|m| m.len() > bytes)
            })
        });
        if writing {
            child.kill().unwrap();
            // Killed by the signal, not exited: it had not finished.
            return child.wait().unwrap().signal() == Some(libc::SIGKILL);
        }
        assert!(Instant::now() < deadline, "cow {args:?} never wrote a pack");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn sigkill_mid_commit_or_mid_gc_of_a_large_file_loses_nothing() {
    let env = Env::new();
    let w = env.work();
    env.init(); // the default parameters
    write(&w.join("small.txt"), "small\n");
    let c0 = env.commit("before");
    let head_file = w.join(".cow/refs/heads/main");
    let mut mib = 200;
    let mut seed = 1;
    loop {
        write_sparse_mix(&w.join("big.bin"), mib, seed);
        // Killed once several chunks are in its pack, before the list and the commit.
        if kill_while_writing_a_pack(&env, &w, &["commit", "-m", "big"], 8 << 20) {
            break;
        }
        // It finished first: undo it and try a larger file (of new bytes).
        fs::write(&head_file, format!("{c0}\n")).unwrap();
        mib *= 2;
        seed += 1;
        assert!(mib <= 1600, "the commit always finished before the kill");
    }
    assert_eq!(env.cow_ok(["rev-parse", "HEAD"]).trim(), c0);
    let fsck = env.cow_ok(["fsck"]);
    assert!(fsck.contains("no problems"), "{fsck}");
    let c1 = env.commit("big, again");
    assert_ne!(c1, c0);
    let id = ls_tree_id(&env, &w, "HEAD", "big.bin");
    assert_eq!(
        env.cow_ok(["cat-file", "-s", &id]).trim(),
        (mib * MIB).to_string()
    );
    let before = counts(&w);
    assert_eq!(before.chunked_blobs, 1, "{before:?}");
    // fsck reads every chunk and checks the blob's id over them.
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
    assert!(env.cow_ok(["status"]).contains("nothing to commit"));

    // gc rewriting every pack, killed while it writes the new one.
    let mut killed = false;
    for _ in 0..5 {
        if kill_while_writing_a_pack(&env, &w, &["gc", "--full", "--prune=now"], 8 << 20) {
            killed = true;
            break;
        }
    }
    assert!(killed, "gc always finished before the kill");
    assert_eq!(env.cow_ok(["rev-parse", "HEAD"]).trim(), c1);
    let fsck = env.cow_ok(["fsck"]);
    assert!(fsck.contains("no problems"), "{fsck}");
    let after = counts(&w);
    assert_eq!(
        (after.chunks, after.chunk_bytes, after.chunked_blobs),
        (before.chunks, before.chunk_bytes, 1)
    );
    env.cow_ok(["gc", "--prune=now"]);
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
    assert_eq!(counts(&w).chunks, before.chunks);
    write(&w.join("after.txt"), "after\n");
    env.commit("after");
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
}

/// Runs `cow ARGS` in `dir` with at most `limit` bytes of data memory (see
/// [`limit_data`]).
fn cow_limited(env: &Env, dir: &Path, args: &[&str], limit: u64) -> Output {
    limit_data(env.cow_cmd(dir).args(args), limit)
        .output()
        .unwrap()
}

/// [`cow_limited`], asserting success; returns stdout.
fn cow_within(env: &Env, dir: &Path, args: &[&str], limit: u64) -> String {
    let out = cow_limited(env, dir, args, limit);
    assert!(out.status.success(), "cow {args:?}: {}", describe(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_diff_of_large_binaries_reads_neither_whole() {
    // 96 MiB of random bytes (NULs in the first 8,000: binary by git's rule), edited
    // in the middle. Reading a version whole would take 96 MiB, more than the 64 MiB
    // each command may have; the diff reads the first 8,000 bytes of each.
    let env = Env::new();
    let w = env.work();
    env.init();
    let mut data = random_bytes(61, 96 * MIB);
    fs::write(w.join("big.bin"), &data).unwrap();
    commit_in(&env, &w, "v1");
    data[48 * MIB..48 * MIB + 4 * KIB].fill(7);
    fs::write(w.join("big.bin"), &data).unwrap();
    commit_in(&env, &w, "v2");
    let limit = 64 << 20;
    let binary = "Binary files a/big.bin and b/big.bin differ";
    let out = cow_within(&env, &w, &["diff", "HEAD~1", "HEAD"], limit);
    assert!(out.contains(binary), "{out}");
    // Against the working file: the same.
    data[MIB] ^= 1;
    fs::write(w.join("big.bin"), &data).unwrap();
    assert!(cow_within(&env, &w, &["diff"], limit).contains(binary));
    // The sizes --stat shows come from headers.
    let out = cow_within(&env, &w, &["diff", "--stat", "HEAD~1", "HEAD"], limit);
    assert!(out.contains("Bin 100663296 -> 100663296 bytes"), "{out}");
    // The limit does bite: a text file of the same size, whose diff reads both
    // versions whole (as git's does), fails under it.
    let text: String = (0..12 * MIB).map(|i| format!("{i:07}\n")).collect();
    fs::write(w.join("big.txt"), &text).unwrap();
    commit_in(&env, &w, "text");
    fs::write(w.join("big.txt"), text.replacen("0000007", "seven!!", 1)).unwrap();
    let whole = cow_limited(&env, &w, &["diff", "--", "big.txt"], limit);
    assert!(!whole.status.success(), "{}", describe(&whole));
}

/// `data` with the 4 KiB at 3 MiB replaced by other random bytes: a small edit, which
/// touches a chunk or two.
fn edited(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    out[3 * MIB..3 * MIB + 4 * KIB].copy_from_slice(&random_bytes(2, 4 * KIB));
    out
}

/// A clone made before an edit of a large file fetches the edit from object storage
/// (in memory) when the edit was pushed after a gc. gc repacks the edit's chunk
/// deltas and their bases out of the packs the commits wrote, so the push sends packs
/// laid out otherwise than
/// `remote::an_edited_large_file_travels_through_object_storage_as_readable_packs`
/// does (the same edit, pushed as committed); the fetch must still stage and check
/// them, and the clone read the edit back.
#[test]
fn an_edited_large_file_pushed_after_gc_is_fetched_through_object_storage() {
    let env = Env::new();
    let work = env.work();
    env.init();
    let v1 = random_bytes(1, 6 * MIB);
    write(&work.join("big.bin"), &v1);
    env.commit("v1");
    let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let remote = || {
        StoreRemote::new(
            Arc::clone(&store),
            "p",
            "mem".into(),
            false,
            env.tmp.path().join("scratch"),
        )
        .unwrap()
    };
    let push = || {
        open(&work)
            .push_to(&mut remote(), None, &PushOptions::default(), &NoProgress)
            .unwrap()
    };
    push();
    let other = Repository::init(env.tmp.path().join("other")).unwrap();
    let fetch = || {
        other.fetch_from(
            &mut remote(),
            Some("origin"),
            &Default::default(),
            &NoProgress,
        )
    };
    fetch().unwrap();
    let v2 = edited(&v1);
    write(&work.join("big.bin"), &v2);
    env.commit("v2");
    env.cow_ok(["gc"]);
    push();
    fetch().expect("incremental fetch of an edited large file");
    let mut out = Vec::new();
    other
        .odb()
        .stream_blob(&ObjectId::hash(Kind::Blob, &v2), &mut out)
        .expect("the edited file reads back in the clone");
    assert!(out == v2);
}

/// Writes blob `data` (a new version of `previous`, if given: a new chunk may be
/// stored as a delta against `previous`'s) and tags it `tag`, so that gc keeps it.
fn tag_blob(
    repo: &Repository,
    tag: &str,
    data: &[u8],
    previous: Option<&ObjectId>,
) -> (RefName, ObjectId) {
    let id = repo
        .odb()
        .write_blob_stream(data.len() as u64, data, previous)
        .unwrap()
        .id;
    let name = RefName::tag(tag).unwrap();
    repo.refs()
        .update(&name, id, Expected::from_option(None))
        .unwrap();
    (name, id)
}

/// gc that prunes every unreachable object, however young.
fn prune_now() -> GcOptions<'static> {
    GcOptions {
        grace: Some(Duration::ZERO),
        ..Default::default()
    }
}

/// Installs in `work`'s store a pack written by another store, holding `data` in
/// chunks all stored whole, and named to sort before every pack of `work` that holds
/// chunk `key`: the copy of `key` a read finds first is then a whole one (as after a
/// fetch that installs a pack as it was sent).
fn install_a_whole_copy_first(env: &Env, work: &Path, data: &[u8], key: &ObjectId) {
    let holders: Vec<String> = chunk_entries(work)
        .into_iter()
        .filter(|e| e.key == *key)
        .map(|e| e.pack.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for attempt in 0..200 {
        let dir = env.tmp.path().join(format!("another-store-{attempt}"));
        let another = Odb::at(&dir);
        another.begin_pack().unwrap();
        // Another small object each attempt: a pack of another name.
        another
            .write(Kind::Blob, format!("pad {attempt}").as_bytes())
            .unwrap();
        another
            .write_blob_stream(data.len() as u64, data, None)
            .unwrap();
        let name = format!(
            "pack-{}.pack",
            another.finish_pack(0).unwrap().unwrap().name
        );
        if holders.iter().all(|h| name < *h) {
            let files = [pack_files(&dir, "pack"), pack_files(&dir, "idx")].concat();
            assert_eq!(files.len(), 2, "{files:?}");
            for f in files {
                let to = work.join(".cow/objects/pack").join(f.file_name().unwrap());
                fs::copy(&f, to).unwrap();
            }
            return;
        }
    }
    panic!("no pack named before {holders:?}");
}

/// gc keeps the base of a chunk delta whichever copy of the chunk it keeps. An edit's
/// chunk stored as a delta against the previous version's chunk may also be in the
/// store whole (a fetch installs packs as they were sent), and the whole copy may be
/// the one a read finds first: once the previous version is unreachable, gc must still
/// keep the base, or the pack it keeps with the delta copy leaves the edit unreadable.
#[test]
fn gc_keeps_the_base_of_a_chunk_delta_whichever_copy_of_the_chunk_comes_first() {
    let env = Env::new();
    let work = env.work();
    env.init();
    let repo = open(&work);
    let odb = repo.odb();
    let v1 = random_bytes(1, 6 * MIB);
    let (t1, w1) = tag_blob(&repo, "t1", &v1, None);
    repo.gc(&prune_now()).unwrap();
    let v2 = edited(&v1);
    let (_, w2) = tag_blob(&repo, "t2", &v2, Some(&w1));
    repo.gc(&prune_now()).unwrap();
    let l1 = keys(&odb.chunk_list(&w1).unwrap().unwrap());
    let l2 = keys(&odb.chunk_list(&w2).unwrap().unwrap());
    let k = l2
        .into_iter()
        .find(|k| !l1.contains(k) && odb.chunk_base(k).unwrap().is_some())
        .expect("a chunk of v2 stored as a delta");
    install_a_whole_copy_first(&env, &work, &v2, &k);
    let repo = open(&work);
    assert_eq!(
        repo.odb().chunk_base(&k).unwrap(),
        None,
        "first copy is whole"
    );
    repo.refs()
        .delete(&t1, Expected::from_option(Some(w1)))
        .unwrap();
    repo.gc(&prune_now()).unwrap();
    let mut out = Vec::new();
    open(&work)
        .odb()
        .stream_blob(&w2, &mut out)
        .expect("v2 still readable after gc");
    assert!(out == v2);
}

/// A chunk's record under an index entry without the chunk flag (a crafted index) is
/// not read as the object of that id: a chunk's bytes do not hash to its key as an
/// object, so serving them would hand out content under an id it does not have.
#[test]
fn a_chunk_record_listed_as_an_object_is_not_read_as_one() {
    use sha2::Digest;
    let env = Env::new();
    let work = env.work();
    env.init();
    write(&work.join("big.bin"), random_bytes(3, 3 * MIB));
    env.commit("v1");
    let entry = chunk_entries(&work)
        .into_iter()
        .next()
        .expect("a chunk entry");
    let path = entry.pack.with_extension("idx");
    let mut idx = fs::read(&path).unwrap();
    idx[entry.offset_at] &= 0x7f; // bit 63: a chunk
    let n = idx.len();
    let sum: [u8; 32] = sha2::Sha256::digest(&idx[..n - 32]).into();
    idx[n - 32..].copy_from_slice(&sum);
    fs::write(&path, &idx).unwrap();
    let key = entry.key;
    if let Ok(obj) = open(&work).odb().read(&key) {
        panic!(
            "read {key} as a {:?} of {} bytes hashing to {}",
            obj.kind,
            obj.data.len(),
            ObjectId::hash(obj.kind, &obj.data)
        );
    }
}

/// gc keeps the base of a young unreachable chunk delta, however old the base. An
/// unreachable blob within the grace period must stay readable (a commit of the same
/// file again reuses it rather than store it anew), so a chunk of it stored as a delta
/// keeps its base, though nothing reaches the base and its pack is past the grace
/// period.
#[test]
fn gc_keeps_the_old_base_of_a_young_unreachable_chunk_delta() {
    let env = Env::new();
    let work = env.work();
    env.init();
    let repo = open(&work);
    let v1 = random_bytes(1, 6 * MIB);
    let (t1, w1) = tag_blob(&repo, "t1", &v1, None);
    repo.gc(&prune_now()).unwrap();
    // The first gc's pack, with v1's chunks, is a month old.
    let packs = packs(&work);
    assert_eq!(packs.len(), 1, "{packs:?}");
    fs::File::open(work.join(".cow/objects/pack").join(&packs[0].0))
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(30 * 86400))
        .unwrap();
    let v2 = edited(&v1);
    let (t2, w2) = tag_blob(&repo, "t2", &v2, Some(&w1));
    repo.gc(&prune_now()).unwrap();
    // Both versions dropped; a gc with a two-week grace period.
    repo.refs()
        .delete(&t1, Expected::from_option(Some(w1)))
        .unwrap();
    repo.refs()
        .delete(&t2, Expected::from_option(Some(w2)))
        .unwrap();
    repo.gc(&GcOptions {
        grace: Some(Duration::from_secs(14 * 86400)),
        ..Default::default()
    })
    .unwrap();
    let fsck = env.cow(["fsck"]);
    assert!(fsck.status.success(), "{}", describe(&fsck));
    // The same file committed again (copied back in): the commit stores nothing new.
    write(&work.join("big.bin"), &v2);
    env.commit("v2 again");
    let repo = open(&work);
    assert!(repo.odb().contains(&w2), "v2 kept within the grace period");
    let mut out = Vec::new();
    repo.odb()
        .stream_blob(&w2, &mut out)
        .expect("a blob kept by the grace period reads back");
}
