//! Review scratch tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cow::odb::Odb;
use cow::refs::{Expected, RefName};
use cow::remote::{NoProgress, StoreRemote};
use cow::repository::{GcOptions, PushOptions};
use cow::{Kind, ObjectId, Repository};
use object_store::ObjectStore;

use crate::util::*;

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

fn files_with_ext(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_with_ext(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

/// S3 store remote: A pushes v1, B fetches; A edits 4 KiB of the big file, commits,
/// pushes; B fetches again.
#[test]
fn review_s3_incremental_fetch_of_an_edited_large_file() {
    let env = Env::new();
    let work = env.work();
    env.init();
    let v1 = random_bytes(1, 6 << 20);
    write(&work.join("big.bin"), &v1);
    env.commit("v1");
    let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let open = || {
        StoreRemote::new(
            Arc::clone(&store),
            "p",
            "mem".into(),
            false,
            env.tmp.path().join("scratch"),
        )
        .unwrap()
    };
    let opts = PushOptions::default();
    Repository::open(&work)
        .unwrap()
        .push_to(&mut open(), None, &opts, &NoProgress)
        .unwrap();
    let other = env.tmp.path().join("other");
    let clone = Repository::init(&other).unwrap();
    clone
        .fetch_from(
            &mut open(),
            Some("origin"),
            &Default::default(),
            &NoProgress,
        )
        .unwrap();
    let mut v2 = v1.clone();
    v2[3 << 20..(3 << 20) + 4096].copy_from_slice(&random_bytes(2, 4096));
    write(&work.join("big.bin"), &v2);
    env.commit("v2");
    {
        let a = Repository::open(&work).unwrap();
        let head = a.head_commit().unwrap().unwrap();
        let c1 = a.odb().find_commit(&head).unwrap().parents[0];
        let wanted = cow::reach::reachable_stored(a.odb(), &[head], &[c1]).unwrap();
        eprintln!(
            "wanted: {:?}",
            wanted
                .iter()
                .map(|r| r.id.to_string()[..8].to_owned())
                .collect::<Vec<_>>()
        );
        let mut idxs = Vec::new();
        files_with_ext(&work.join(".cow/objects"), "idx", &mut idxs);
        for i in idxs {
            let ids = cow::odb::index_object_ids(&fs::read(&i).unwrap(), "x").unwrap();
            eprintln!(
                "{}: {:?}",
                i.display(),
                ids.iter()
                    .map(|r| r.to_string()[..8].to_owned())
                    .collect::<Vec<_>>()
            );
        }
    }
    let pushed = Repository::open(&work)
        .unwrap()
        .push_to(&mut open(), None, &opts, &NoProgress)
        .unwrap();
    eprintln!("push: {:?}", pushed.transfer);
    let fetched = clone.fetch_from(
        &mut open(),
        Some("origin"),
        &Default::default(),
        &NoProgress,
    );
    fetched.expect("incremental fetch of an edited large file");
}

/// S3 store remote: A pushes v1, B fetches; A edits 4 KiB of the big file, commits,
/// pushes; B fetches again.
#[test]
fn review_s3_incremental_fetch_after_gc() {
    let env = Env::new();
    let work = env.work();
    env.init();
    let v1 = random_bytes(1, 6 << 20);
    write(&work.join("big.bin"), &v1);
    env.commit("v1");
    let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let open = || {
        StoreRemote::new(
            Arc::clone(&store),
            "p",
            "mem".into(),
            false,
            env.tmp.path().join("scratch"),
        )
        .unwrap()
    };
    let opts = PushOptions::default();
    Repository::open(&work)
        .unwrap()
        .push_to(&mut open(), None, &opts, &NoProgress)
        .unwrap();
    let other = env.tmp.path().join("other");
    let clone = Repository::init(&other).unwrap();
    clone
        .fetch_from(
            &mut open(),
            Some("origin"),
            &Default::default(),
            &NoProgress,
        )
        .unwrap();
    let mut v2 = v1.clone();
    v2[3 << 20..(3 << 20) + 4096].copy_from_slice(&random_bytes(2, 4096));
    write(&work.join("big.bin"), &v2);
    env.commit("v2");
    {
        let a = Repository::open(&work).unwrap();
        let head = a.head_commit().unwrap().unwrap();
        let c1 = a.odb().find_commit(&head).unwrap().parents[0];
        let wanted = cow::reach::reachable_stored(a.odb(), &[head], &[c1]).unwrap();
        eprintln!(
            "wanted: {:?}",
            wanted
                .iter()
                .map(|r| r.id.to_string()[..8].to_owned())
                .collect::<Vec<_>>()
        );
        let mut idxs = Vec::new();
        files_with_ext(&work.join(".cow/objects"), "idx", &mut idxs);
        for i in idxs {
            let ids = cow::odb::index_object_ids(&fs::read(&i).unwrap(), "x").unwrap();
            eprintln!(
                "{}: {:?}",
                i.display(),
                ids.iter()
                    .map(|r| r.to_string()[..8].to_owned())
                    .collect::<Vec<_>>()
            );
        }
    }
    env.cow_ok(["gc"]);
    let pushed = Repository::open(&work)
        .unwrap()
        .push_to(&mut open(), None, &opts, &NoProgress)
        .unwrap();
    eprintln!("push: {:?}", pushed.transfer);
    let fetched = clone.fetch_from(
        &mut open(),
        Some("origin"),
        &Default::default(),
        &NoProgress,
    );
    fetched.expect("incremental fetch of an edited large file");
}

/// Chunk K of v2 is a delta against chunk B of v1 (a kept gc pack); the same K also
/// sits whole in another pack (as a fetch installing a whole pack leaves it). Once v1
/// is unreachable, gc follows K's first copy (whole), drops B, and keeps the pack with
/// K as a delta against B.
#[test]
fn review_gc_drops_the_base_of_a_kept_chunk_delta() {
    let env = Env::new();
    let work = env.work();
    env.init();
    for i in 0..60 {
        write(&work.join(format!("s{i}")), format!("small {i}\n"));
    }
    env.commit("c1");
    let repo = Repository::open(&work).unwrap();
    let odb = repo.odb();
    let prune = GcOptions {
        grace: Some(Duration::ZERO),
        ..Default::default()
    };
    let v1 = random_bytes(1, 6 << 20);
    let w1 = odb
        .write_blob_stream(v1.len() as u64, &v1[..], None)
        .unwrap();
    let t1 = RefName::tag("t1").unwrap();
    repo.refs()
        .update(&t1, w1.id, Expected::from_option(None))
        .unwrap();
    repo.gc(&prune).unwrap();
    let mut v2 = v1.clone();
    v2[3 << 20..(3 << 20) + 4096].copy_from_slice(&random_bytes(2, 4096));
    let w2 = odb
        .write_blob_stream(v2.len() as u64, &v2[..], Some(&w1.id))
        .unwrap();
    let t2 = RefName::tag("t2").unwrap();
    repo.refs()
        .update(&t2, w2.id, Expected::from_option(None))
        .unwrap();
    let g = repo.gc(&prune).unwrap();
    eprintln!("gc2: {:?}", g.geometry);
    let l1 = odb.chunk_list(&w1.id).unwrap().unwrap();
    let l2 = odb.chunk_list(&w2.id).unwrap().unwrap();
    let k = l2
        .chunks()
        .iter()
        .map(|c| c.key)
        .find(|k| !l1.chunks().iter().any(|c| c.key == *k) && odb.chunk_base(k).unwrap().is_some())
        .expect("a chunk stored as a delta");
    // The same v2 written whole by another store, its pack installed here.
    let objects = work.join(".cow/objects");
    for attempt in 0.. {
        let ydir = env.tmp.path().join(format!("y{attempt}"));
        let y = Odb::at(&ydir);
        y.begin_pack().unwrap();
        y.write(Kind::Blob, format!("pad {attempt}").as_bytes())
            .unwrap();
        y.write_blob_stream(v2.len() as u64, &v2[..], None).unwrap();
        let info = y.finish_pack(0).unwrap().unwrap();
        let mut kpacks = Vec::new();
        files_with_ext(&objects, "idx", &mut kpacks);
        let holders: Vec<String> = kpacks
            .iter()
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .filter(|n| {
                let idx =
                    fs::read(objects.join("pack").join(format!("{n}.idx"))).unwrap_or_default();
                idx.windows(32).any(|w| w == k.as_bytes())
            })
            .collect();
        eprintln!(
            "attempt {attempt}: y pack {} ; holders {holders:?}",
            info.name
        );
        if holders.iter().all(|h| format!("pack-{}", info.name) < *h) {
            let mut files = Vec::new();
            files_with_ext(&ydir, "pack", &mut files);
            files_with_ext(&ydir, "idx", &mut files);
            for f in files {
                let rel = f.strip_prefix(&ydir).unwrap();
                fs::copy(&f, objects.join(rel)).unwrap();
            }
            break;
        }
    }
    let repo = Repository::open(&work).unwrap();
    assert_eq!(
        repo.odb().chunk_base(&k).unwrap(),
        None,
        "first copy is whole"
    );
    repo.refs()
        .delete(&t1, Expected::from_option(Some(w1.id)))
        .unwrap();
    let g = repo.gc(&prune).unwrap();
    eprintln!("gc3: {:?}", g.geometry);
    let repo = Repository::open(&work).unwrap();
    let mut out = Vec::new();
    repo.odb()
        .stream_blob(&w2.id, &mut out)
        .expect("v2 still readable after gc");
    assert!(out == v2);
}

/// A crafted index lists a chunk's key as an object (bit 63 cleared): the chunk's
/// bytes are served as blob `key`, though they do not hash to it.
#[test]
fn review_a_chunk_record_under_an_object_entry_is_read_as_a_blob() {
    let env = Env::new();
    let work = env.work();
    env.init();
    write(&work.join("big.bin"), random_bytes(3, 3 << 20));
    env.commit("v1");
    let mut idxs = Vec::new();
    files_with_ext(&work.join(".cow/objects"), "idx", &mut idxs);
    let mut key = None;
    for path in idxs {
        let mut idx = fs::read(&path).unwrap();
        let count = u32::from_be_bytes(idx[8 + 255 * 4..8 + 256 * 4].try_into().unwrap()) as usize;
        for i in 0..count {
            let at = 8 + 1024 + count * 32 + i * 8;
            if idx[at] & 0x80 != 0 {
                idx[at] &= 0x7f;
                key = Some(
                    ObjectId::from_slice(&idx[8 + 1024 + i * 32..8 + 1024 + i * 32 + 32]).unwrap(),
                );
                break;
            }
        }
        if key.is_some() {
            use sha2::Digest;
            let n = idx.len();
            let sum: [u8; 32] = sha2::Sha256::digest(&idx[..n - 32]).into();
            idx[n - 32..].copy_from_slice(&sum);
            fs::write(&path, &idx).unwrap();
            break;
        }
    }
    let key = key.expect("a chunk entry");
    let repo = Repository::open(&work).unwrap();
    let read = repo.odb().read(&key);
    let fsck = env.cow(["fsck"]);
    eprintln!("fsck: {}", describe(&fsck));
    match read {
        Ok(obj) => panic!(
            "read {key} as a {:?} of {} bytes hashing to {}",
            obj.kind,
            obj.data.len(),
            ObjectId::hash(obj.kind, &obj.data)
        ),
        Err(e) => eprintln!("refused: {e}"),
    }
}

/// A young unreachable chunk delta left in a kept pack while its old base is pruned:
/// after a routine gc, the cruft blob is unreadable and fsck reports damage.
#[test]
fn review_gc_prunes_the_old_base_of_a_young_unreachable_chunk_delta() {
    let env = Env::new();
    let work = env.work();
    env.init();
    for i in 0..60 {
        write(&work.join(format!("s{i}")), format!("small {i}\n"));
    }
    env.commit("c1");
    let repo = Repository::open(&work).unwrap();
    let odb = repo.odb();
    let now = GcOptions {
        grace: Some(Duration::ZERO),
        ..Default::default()
    };
    let v1 = random_bytes(1, 6 << 20);
    let w1 = odb
        .write_blob_stream(v1.len() as u64, &v1[..], None)
        .unwrap();
    let t1 = RefName::tag("t1").unwrap();
    repo.refs()
        .update(&t1, w1.id, Expected::from_option(None))
        .unwrap();
    repo.gc(&now).unwrap();
    // The first gc's pack is a month old.
    let mut packs = Vec::new();
    files_with_ext(&work.join(".cow/objects"), "pack", &mut packs);
    assert_eq!(packs.len(), 1);
    let st = std::process::Command::new("touch")
        .arg("-d")
        .arg("30 days ago")
        .arg(&packs[0])
        .status()
        .unwrap();
    assert!(st.success());
    let mut v2 = v1.clone();
    v2[3 << 20..(3 << 20) + 4096].copy_from_slice(&random_bytes(2, 4096));
    let w2 = odb
        .write_blob_stream(v2.len() as u64, &v2[..], Some(&w1.id))
        .unwrap();
    let t2 = RefName::tag("t2").unwrap();
    repo.refs()
        .update(&t2, w2.id, Expected::from_option(None))
        .unwrap();
    let g = repo.gc(&now).unwrap();
    eprintln!("gc2: {:?}", g.geometry);
    // Both versions dropped; a gc with a two-week grace period.
    repo.refs()
        .delete(&t1, Expected::from_option(Some(w1.id)))
        .unwrap();
    repo.refs()
        .delete(&t2, Expected::from_option(Some(w2.id)))
        .unwrap();
    let grace = GcOptions {
        grace: Some(Duration::from_secs(14 * 86400)),
        ..Default::default()
    };
    let g = repo.gc(&grace).unwrap();
    eprintln!(
        "gc3: {:?} pruned {} cruft {}",
        g.geometry, g.pruned, g.cruft
    );
    let fsck = env.cow(["fsck"]);
    eprintln!("fsck: {}", describe(&fsck));
    // The same file committed again (copied back in): the commit stores nothing new.
    write(&work.join("big.bin"), &v2);
    env.commit("v2 again");
    let shown = env.cow(["cat-file", "-p", &w2.id.to_string()]);
    eprintln!(
        "cat-file after re-commit: {}",
        describe(&shown)
            .lines()
            .filter(|l| l.contains("error"))
            .collect::<Vec<_>>()
            .join("|")
    );
    let repo = Repository::open(&work).unwrap();
    assert!(
        repo.odb().contains(&w2.id),
        "v2 kept within the grace period"
    );
    let mut out = Vec::new();
    repo.odb()
        .stream_blob(&w2.id, &mut out)
        .expect("a blob kept by the grace period reads back");
    assert!(fsck.status.success());
}
