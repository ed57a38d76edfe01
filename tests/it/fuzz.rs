//! Property tests over the decoders and parsers that read untrusted bytes: object
//! decoding, tree parsing, commit parsing, revision parsing, the stat-cache and
//! directory-cache readers and the loose-object reader. No input may panic, hang or allocate without bound; what
//! decodes re-encodes to the same bytes. Bounded case counts keep them quick in CI.

use std::fs;

use cow::object::{Commit, EntryMode, ObjectId, Tree};
use cow::worktree::{DirCache, Index};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Bytes that look like tree entries often enough to get past the first check.
fn tree_like() -> impl Strategy<Value = Vec<u8>> {
    let name = prop::collection::vec(prop::sample::select(b"ab./\0-cow".to_vec()), 0..6);
    let mode = prop::sample::select(vec![
        "100644", "100755", "120000", "40000", "040000", "1", "",
    ]);
    let id = prop::collection::vec(any::<u8>(), 30..34);
    let entry =
        (mode, name, id).prop_map(|(m, n, id)| [m.as_bytes(), b" ", &n, b"\0", &id].concat());
    prop::collection::vec(entry, 0..6).prop_map(|e| e.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn tree_decoding_never_panics_and_round_trips(data in prop_oneof![tree_like(), prop::collection::vec(any::<u8>(), 0..200)]) {
        if let Ok(tree) = Tree::decode(&data) {
            prop_assert_eq!(tree.encode(), data);
            for e in tree.entries() {
                prop_assert!(cow::object::validate_name(&e.name).is_ok());
            }
        }
    }

    #[test]
    fn built_trees_decode_to_themselves(names in prop::collection::btree_set("[a-z.]{1,4}", 0..8), dirs in any::<u8>()) {
        let entries: Vec<_> = names.iter().enumerate().map(|(i, n)| cow::object::Entry {
            mode: if dirs & (1 << (i % 8)) != 0 { EntryMode::Tree } else { EntryMode::Blob },
            name: n.as_bytes().to_vec(),
            id: ObjectId::from_bytes([i as u8; 32]),
        }).collect();
        if let Ok(tree) = Tree::from_entries(entries) {
            prop_assert_eq!(Tree::decode(&tree.encode()).unwrap(), tree);
        }
    }

    #[test]
    fn commit_decoding_never_panics(data in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        ("[a-z ]{0,12}", "[a-z<>@ 0-9+-]{0,40}", "[a-z\n ]{0,20}").prop_map(|(h, sig, msg)| format!(
            "tree {}\n{h}\nauthor {sig}\ncommitter {sig}\n\n{msg}", "ab".repeat(32)).into_bytes()),
    ]) {
        if let Ok(commit) = Commit::decode(&data) {
            // What decodes re-encodes to bytes that decode the same way.
            prop_assert_eq!(Commit::decode(&commit.encode()).unwrap(), commit);
        }
    }

    #[test]
    fn the_stat_cache_reader_never_trusts_garbage(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        fs::write(&path, &data).unwrap();
        // Random bytes almost never carry a valid SHA-256 trailer; either way, no panic.
        let _ = Index::load(&path);
    }

    #[test]
    fn the_directory_cache_reader_never_trusts_garbage(data in prop::collection::vec(any::<u8>(), 0..400)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dircache");
        fs::write(&path, &data).unwrap();
        let _ = DirCache::load(&path);
    }
}

/// Revisions and loose objects need a repository; one is shared by many cases.
#[test]
fn revision_parsing_and_object_reading_never_panic() {
    let env = crate::util::Env::new();
    crate::util::write(&env.work().join("d/f"), "x\n");
    let repo = cow::Repository::init(env.work()).unwrap();
    let sig = cow::object::Signature::new("a", "b", cow::object::Time::parse("1 +0000").unwrap())
        .unwrap();
    let options = cow::repository::CommitOptions {
        author: Some(sig.clone()),
        committer: Some(sig),
        ..Default::default()
    };
    repo.commit("one", &options).unwrap();
    let spec = prop_oneof![
        "[a-zA-Z0-9~^:@./-]{0,16}",
        "(HEAD|main|@|[0-9a-f]{4,8})([~^][0-9]{0,3}){0,4}(:[a-z/.]{0,6})?",
    ];
    let mut runner = proptest::test_runner::TestRunner::new(config());
    runner
        .run(&spec, |s| {
            let _ = repo.resolve(&s);
            Ok(())
        })
        .unwrap();

    // Arbitrary bytes, zstd-compressed or not, stored as an object file.
    let target = ObjectId::hash(cow::Kind::Blob, b"target");
    let hex = target.to_string();
    let dir = env.work().join(".cow/objects").join(&hex[..2]);
    fs::create_dir_all(&dir).unwrap();
    let bytes = prop::collection::vec(any::<u8>(), 0..300);
    runner
        .run(&(bytes, any::<bool>()), |(data, compress)| {
            let stored = if compress {
                zstd::encode_all(&data[..], 1).unwrap()
            } else {
                data
            };
            fs::write(dir.join(&hex[2..]), &stored).unwrap();
            prop_assert!(repo.odb().read(&target).is_err());
            let _ = repo.odb().read_header(&target);
            let _ = repo.odb().verify(&target);
            Ok(())
        })
        .unwrap();
}

/// The cargo-fuzz targets' harness (fuzz/harness.rs), run here on stable Rust.
#[path = "../../fuzz/harness.rs"]
mod harness;

/// Every seed of every fuzz target is accepted (it is the valid input it claims to be;
/// revision seeds include refused syntax), and every saved crash input of
/// `fuzz/regressions/<target>/` runs through the same harness without a panic.
#[test]
fn fuzz_seeds_are_accepted_and_regressions_do_not_panic() -> crate::util::Result {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (target, run) in harness::TARGETS {
        let seeds = files(&fuzz.join("seeds").join(target))?;
        assert!(!seeds.is_empty(), "no seeds for {target}");
        let mut accepted = 0;
        for path in &seeds {
            if run(&fs::read(path)?) {
                accepted += 1;
            } else {
                assert_eq!(*target, "revision", "seed {} is refused", path.display());
            }
        }
        assert!(accepted > 0, "no seed of {target} is accepted");
        for path in files(&fuzz.join("regressions").join(target))? {
            let data = fs::read(&path)?;
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{} panics", path.display());
        }
    }
    Ok(())
}

/// The files in `dir`, sorted; none when it does not exist.
fn files(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    match fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                files.push(entry?.path());
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    files.sort();
    Ok(files)
}
