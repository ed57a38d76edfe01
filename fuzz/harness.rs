//! What each fuzz target does with its input, shared by the cargo-fuzz targets in
//! `fuzz/fuzz_targets/` and by the regression tests in `tests/it/fuzz.rs`, which feed
//! every seed and every saved crash input through the same function on stable Rust.
//!
//! Each function takes arbitrary bytes and must not panic, hang or allocate without
//! bound; a panic (including a failed assertion of a property) is a finding. Each
//! returns whether the input was accepted as valid (so the tests can check that the
//! seeds are what they claim to be). Decoders
//! that read files are fed through files in a scratch directory (on `/dev/shm` when
//! there is one), so they are reached exactly as a command reaches them.
//!
//! Input layouts, where one file is not enough:
//! - `pack`: a little-endian u32 length, that many bytes of `.idx`, the rest `.pack`;
//! - `idx`: the `.idx` alone, opened next to the fixed pack [`IDX_PACK`];
//! - `index`, `dircache`: the file without its SHA-256 trailer, which is appended here
//!   (random bytes would never get past the checksum); `dircache` also has each
//!   record whose path names a directory of the fixture's working directory take that
//!   directory's real stat data, so a scan trusts the record, as it trusts its own.

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use cow::Repository;
use cow::object::{Commit, Kind, ObjectId, Prefix, Signature, Time, Tree, TreeRefIter};
use cow::odb::Odb;
use cow::repository::{CommitOptions, Config, StatusOptions};
use cow::worktree::{DirCache, Index};
use sha2::{Digest, Sha256};

/// The pack the `idx` target's indexes are opened against (a seed of the `pack`
/// target's kind: blocks, deltas and whole records).
pub const IDX_PACK: &[u8] = include_bytes!("seeds/idx.pack");

/// A target's harness: runs an input, tells whether it was accepted as valid.
pub type Harness = fn(&[u8]) -> bool;

/// Every target, by name: the fuzz target and its seeds and regressions folders.
pub const TARGETS: &[(&str, Harness)] = &[
    ("revision", revision),
    ("pack", pack),
    ("idx", idx),
    ("loose", loose),
    ("tree", tree),
    ("commit", commit),
    ("index", index),
    ("dircache", dircache),
    ("config", config),
];

/// A scratch directory for this process, on tmpfs when there is one.
fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let builder = tempfile::Builder::new().prefix("cow-fuzz-").tempdir_in(shm);
        builder
            .or_else(|_| tempfile::tempdir())
            .expect("a scratch directory")
    })
    .path()
}

/// A fresh empty directory under the scratch directory.
fn fresh(name: &str) -> PathBuf {
    let dir = scratch().join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create a scratch directory");
    dir
}

fn sig() -> Signature {
    Signature::new(
        "A U Thor",
        "a@example.com",
        Time::parse("1700000000 +0130").expect("a time"),
    )
    .expect("a signature")
}

/// A repository with history: three commits on `main` (the last a merge of
/// `feature`), tags, a subdirectory and a symlink, part packed and part loose.
fn fixture() -> &'static Mutex<Repository> {
    static REPO: OnceLock<Mutex<Repository>> = OnceLock::new();
    REPO.get_or_init(|| {
        let work = fresh("fixture");
        let write = |p: &str, s: &str| {
            let p = work.join(p);
            fs::create_dir_all(p.parent().expect("a parent")).expect("mkdir");
            fs::write(p, s).expect("write");
        };
        write("a.txt", "one\n");
        write("d/b.txt", "two\n");
        write("d/e/c.txt", "three\n");
        std::os::unix::fs::symlink("a.txt", work.join("link")).expect("symlink");
        let repo = Repository::init(&work).expect("init");
        let options = CommitOptions {
            author: Some(sig()),
            committer: Some(sig()),
            ..CommitOptions::default()
        };
        repo.commit("first", &options).expect("commit");
        repo.create_tag("v1", None).expect("tag");
        repo.create_branch("feature", None).expect("branch");
        write("a.txt", "one\nmore\n");
        let second = repo.commit("second", &options).expect("commit");
        repo.gc(&cow::repository::GcOptions::default()).expect("gc");
        // A merge commit, so `^2` has something to find.
        let feature = repo.resolve("feature").expect("feature");
        let merge = Commit {
            tree: second.tree,
            parents: vec![second.id, feature],
            author: sig(),
            committer: sig(),
            extra_headers: vec![],
            message: b"merge\n".to_vec(),
        };
        let merge = repo.odb().write_commit(&merge).expect("write").id;
        repo.refs()
            .update_head(merge, cow::refs::Expected::Value(second.id))
            .expect("move HEAD");
        write("d/e/c.txt", "three\nfour\n");
        repo.commit("third", &options).expect("commit");
        repo.create_tag("v2", None).expect("tag");
        Mutex::new(repo)
    })
}

/// Revision syntax against the fixture repository; the bytes need not be UTF-8.
pub fn revision(data: &[u8]) -> bool {
    let repo = fixture().lock().unwrap_or_else(|e| e.into_inner());
    let resolved = repo.resolve_full(data);
    if let Ok(resolved) = &resolved {
        // What resolves names an object that is there.
        assert!(
            repo.odb().contains(&resolved.id),
            "resolved to a missing object"
        );
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let a_txt = cow::object::RepoPath::from_bytes(b"a.txt").expect("a valid path");
        let _ = repo.read_path(s, a_txt);
        let _ = repo.resolve_tree(s);
        let _ = repo.resolve_commit(s);
    }
    resolved.is_ok()
}

/// Reads every object of `ids` from `odb` every way there is; whether all read.
fn read_all(odb: &Odb, ids: &[ObjectId]) -> bool {
    let mut all = true;
    for (i, id) in ids.iter().enumerate() {
        let read = odb.read(id);
        let header = odb.read_header(id);
        // The other ways read the same records again: a few objects are enough.
        let few = i < 4;
        let verified = if few {
            odb.verify(id)
        } else {
            odb.read_header(id)
        };
        match &read {
            Ok(obj) => {
                // A read is verified: the content hashes to the id.
                assert_eq!(
                    ObjectId::hash(obj.kind, &obj.data),
                    *id,
                    "read unverified content"
                );
                if let Ok(v) = &verified {
                    assert_eq!(
                        *v,
                        (obj.kind, obj.data.len() as u64),
                        "verify disagrees with read"
                    );
                }
                if let Ok(h) = &header {
                    assert_eq!(h.0, obj.kind, "the header's kind disagrees with the read's");
                }
            }
            Err(_) => all = false,
        }
        if few {
            let _ = odb.stream_blob(id, &mut std::io::sink());
            let _ = odb.find_tree(id);
            let _ = odb.find_commit(id);
            let _ = odb.shortest_unique_prefix(id, 4);
        }
    }
    if let Some(id) = ids.first()
        && let Ok(prefix) = Prefix::from_hex(&id.to_hex_prefix(5))
    {
        let _ = odb.ids_with_prefix(&prefix);
    }
    let checked = odb.check_packs();
    all && checked.is_empty()
}

/// Opens `objects/pack/pack-N.{idx,pack}` written from `idx` and `pack` and reads
/// every object its index lists; whether it opened, all read and fsck's checks of the
/// pack found nothing.
fn open_pack(name: &str, idx: &[u8], pack: &[u8]) -> bool {
    let objects = fresh(name);
    let dir = objects.join("pack");
    fs::create_dir_all(&dir).expect("mkdir");
    // A pack is named after its trailing checksum, as cow names the packs it writes.
    let name = match pack.len().checked_sub(32) {
        Some(start) => hex::encode(&pack[start..]),
        None => "ab".repeat(32),
    };
    let stem = format!("pack-{name}");
    fs::write(dir.join(format!("{stem}.idx")), idx).expect("write");
    fs::write(dir.join(format!("{stem}.pack")), pack).expect("write");
    let odb = Odb::at(&objects);
    if odb.pack_names().is_empty() {
        return false; // the index did not open
    }
    let Ok(mut ids) = odb.ids_in_storage_order() else {
        return false;
    };
    ids.truncate(4096);
    for id in &ids {
        let _ = odb.locate(id);
    }
    let _ = odb.locate(&ObjectId::from_bytes([0xff; 32]));
    let _ = odb.locate(&ObjectId::from_bytes([0; 32]));
    read_all(&odb, &ids) && !ids.is_empty()
}

/// Pack records (whole, delta, block members, blocks, the dictionary) and their
/// index: `u32 LE idx length ++ idx ++ pack`.
pub fn pack(data: &[u8]) -> bool {
    let Some((len, rest)) = data.split_first_chunk::<4>() else {
        return false;
    };
    let len = (u32::from_le_bytes(*len) as usize).min(rest.len());
    let (idx, pack) = rest.split_at(len);
    open_pack("pack", idx, pack)
}

/// A `.idx` file, opened next to a fixed, valid pack.
pub fn idx(data: &[u8]) -> bool {
    open_pack("idx", data, IDX_PACK)
}

/// A loose object file, stored under the id its content would have (when it
/// decompresses to a header and content) and as a blob's, a tree's and a commit's it is
/// not; whether it reads back under its own id.
pub fn loose(data: &[u8]) -> bool {
    let objects = fresh("loose");
    let mut ids = vec![
        ObjectId::hash(Kind::Blob, b"target\n"),
        ObjectId::empty_tree(),
        ObjectId::from_bytes([0x11; 32]),
    ];
    let own = own_id(data);
    ids.extend(own);
    for id in &ids {
        let hex = id.to_string();
        let path = objects.join(&hex[..2]).join(&hex[2..]);
        fs::create_dir_all(path.parent().expect("a fan-out directory")).expect("mkdir");
        fs::write(&path, data).expect("write");
    }
    let odb = Odb::at(&objects);
    read_all(&odb, &ids);
    let _ = odb.loose_object_ids();
    own.is_some_and(|id| odb.read(&id).is_ok())
}

/// The id of a loose object file's content: the SHA-256 of its first MiB decompressed,
/// when that holds a header.
fn own_id(data: &[u8]) -> Option<ObjectId> {
    use std::io::Read;
    let mut full = Vec::new();
    let decoder = zstd::stream::read::Decoder::new(data).ok()?;
    decoder.take(1 << 20).read_to_end(&mut full).ok()?;
    full.contains(&0)
        .then(|| ObjectId::from_bytes(Sha256::digest(&full).into()))
}

/// Tree content (without the object header).
pub fn tree(data: &[u8]) -> bool {
    let borrowed: Vec<_> = TreeRefIter::new(data).collect();
    match Tree::decode(data) {
        Ok(tree) => {
            assert!(
                borrowed.iter().all(|e| e.is_ok()),
                "owned and borrowed decoders disagree"
            );
            assert_eq!(
                tree.encode(),
                data,
                "a decoded tree re-encodes to other bytes"
            );
            for e in tree.entries() {
                assert!(
                    cow::object::validate_name(&e.name).is_ok(),
                    "invalid name decoded"
                );
                assert_eq!(tree.find(&e.name), Some(e));
            }
            let _ = tree.id();
            true
        }
        Err(_) => {
            assert!(
                borrowed.iter().any(|e| e.is_err()),
                "owned and borrowed decoders disagree"
            );
            false
        }
    }
}

/// Commit content (without the object header); what decodes encodes to bytes that
/// decode the same.
pub fn commit(data: &[u8]) -> bool {
    for line in data.split(|&b| b == b'\n') {
        if let Some(sig) = Signature::decode(line) {
            let _ = (sig.to_string(), sig.time.to_string());
        }
        if let Ok(text) = std::str::from_utf8(line) {
            let _ = Time::parse(text).map(|t| t.to_string());
        }
    }
    let Ok(commit) = Commit::decode(data) else {
        return false;
    };
    let encoded = commit.encode();
    let again = Commit::decode(&encoded).expect("an encoded commit decodes");
    assert_eq!(again, commit, "decode . encode . decode differs");
    let _ = commit.summary();
    let _ = commit.id();
    true
}

fn with_trailer(body: &[u8]) -> Vec<u8> {
    let mut file = body.to_vec();
    file.extend_from_slice(&Sha256::digest(body));
    file
}

/// The stat cache, its checksum made valid.
pub fn index(data: &[u8]) -> bool {
    let dir = fresh("index");
    let path = dir.join("index");
    fs::write(&path, with_trailer(data)).expect("write");
    if let Some(index) = Index::load(&path) {
        let mut n = 0;
        let mut prev: Option<Vec<u8>> = None;
        for (path, entry) in index.iter() {
            assert!(
                prev.as_deref().is_none_or(|p| p < path),
                "entries out of order"
            );
            assert_eq!(index.get(path), Some(entry), "get disagrees with iter");
            prev = Some(path.to_vec());
            n += 1;
        }
        assert_eq!(n, index.len());
        assert_eq!(index.checksum(), Some(Sha256::digest(data).into()));
        // What loads saves back to the same bytes.
        let mut index = index;
        let sum = index.save(&dir).expect("save");
        assert_eq!(
            sum,
            <[u8; 32]>::from(Sha256::digest(data)),
            "saved other bytes"
        );
        // And survives being edited.
        index.remove_tree(b"a");
        let _ = index.save(&dir);
        return true;
    }
    false
}

/// The directory cache, its checksum made valid and its records for the fixture's
/// directories made current (see the module docs), then used by two status runs in the
/// fixture, each starting from the same stat cache.
pub fn dircache(data: &[u8]) -> bool {
    let repo = fixture().lock().unwrap_or_else(|e| e.into_inner());
    let (index_file, head_tree) = fixture_caches(&repo);
    let mut body = data.to_vec();
    make_current(
        &mut body,
        repo.require_work_dir().expect("a working directory"),
        index_file,
        head_tree,
    );
    let file = with_trailer(&body);
    let dir = fresh("dircache");
    let path = dir.join("dircache");
    fs::write(&path, &file).expect("write");
    let cache = DirCache::load(&path);
    if let Some(cache) = &cache {
        let _ = (cache.len(), cache.trees(), cache.tree());
    }
    for all_untracked in [false, true] {
        fs::write(repo.cow_dir().join("index"), index_file).expect("write");
        fs::write(repo.cow_dir().join("dircache"), &file).expect("write");
        let _ = repo.status(&StatusOptions {
            all_untracked,
            ..StatusOptions::default()
        });
    }
    cache.is_some()
}

/// The fixture's stat cache as a clean status leaves it, and HEAD's tree.
fn fixture_caches(repo: &Repository) -> (&'static [u8], ObjectId) {
    static CACHES: OnceLock<(Vec<u8>, ObjectId)> = OnceLock::new();
    let (index, tree) = CACHES.get_or_init(|| {
        let status = repo.status(&StatusOptions::default()).expect("status");
        assert!(status.is_clean(), "the fixture is clean");
        let index = fs::read(repo.cow_dir().join("index")).expect("a stat cache");
        let head = repo.resolve("HEAD^{tree}").expect("HEAD's tree");
        (index, head)
    });
    (index, *tree)
}

/// In a directory cache body: points a non-zero stat-cache checksum at `index_file`
/// and a non-zero tree at `head_tree`, and gives each record whose path is a directory
/// under `work` that directory's stat data (a best effort over malformed bodies).
fn make_current(body: &mut [u8], work: &Path, index_file: &[u8], head_tree: ObjectId) {
    use std::os::unix::ffi::OsStrExt;
    const HEADER: usize = 8 + 4 + 4 + 32 + 32;
    if body.len() < HEADER {
        return;
    }
    if body[16..48] != [0; 32] && index_file.len() >= 32 {
        body[16..48].copy_from_slice(&index_file[index_file.len() - 32..]);
    }
    if body[48..80] != [0; 32] {
        body[48..80].copy_from_slice(head_tree.as_bytes());
    }
    let u32_at = |b: &[u8], at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?) as usize)
    };
    let mut at = HEADER;
    while let Some(len) = u32_at(body, at) {
        // Path, then size, mtime and ctime (secs, nsecs), inode: 40 bytes.
        let path_start = at + 4;
        let Some(stat_start) = path_start
            .checked_add(len)
            .filter(|&s| s + 48 <= body.len())
        else {
            return;
        };
        let rel = &body[path_start..stat_start];
        let full = work.join(std::ffi::OsStr::from_bytes(rel));
        let is_dir = |m: &fs::Metadata| m.is_dir();
        if let Some(meta) = fs::symlink_metadata(&full).ok().filter(is_dir) {
            let s = &mut body[stat_start..stat_start + 40];
            s[0..8].copy_from_slice(&meta.size().to_le_bytes());
            s[8..16].copy_from_slice(&meta.mtime().to_le_bytes());
            s[16..20].copy_from_slice(&(meta.mtime_nsec() as u32).to_le_bytes());
            s[20..28].copy_from_slice(&meta.ctime().to_le_bytes());
            s[28..32].copy_from_slice(&(meta.ctime_nsec() as u32).to_le_bytes());
            s[32..40].copy_from_slice(&meta.ino().to_le_bytes());
        }
        // Entry count, entries' length, entries, then the tree flag and maybe an id.
        let Some(entries_len) = u32_at(body, stat_start + 44) else {
            return;
        };
        let Some(flag_at) = (stat_start + 48).checked_add(entries_len) else {
            return;
        };
        at = match body.get(flag_at) {
            Some(1) => flag_at + 33,
            Some(_) => flag_at + 1,
            None => return,
        };
    }
}

/// Config text; what parses prints back to text that parses the same.
pub fn config(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(config) = Config::parse(text) else {
        return false;
    };
    let printed = config.to_string();
    let again = Config::parse(&printed).expect("printed config parses");
    assert_eq!(
        again, config,
        "config changes when printed and parsed again"
    );
    for (key, value) in config.iter() {
        let _ = config.get(&key);
        // A key set twice is issue 13's item 16 (`set` changes the copy not read;
        // to be refused as git does): the property is checked for single keys.
        let copies = config
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(&key))
            .count();
        let mut edited = config.clone();
        if edited.set(&key, value).is_ok() && copies == 1 {
            let reparsed = Config::parse(&edited.to_string()).expect("edited config parses");
            assert_eq!(reparsed.get(&key), Some(value), "set value not read back");
        }
    }
    true
}
