//! Property tests over the decoders and parsers that read untrusted bytes: object
//! decoding, tree parsing, commit parsing, revision parsing, the stat-cache and
//! directory-cache readers and the loose-object reader. No input may panic, hang or
//! allocate without bound; what decodes re-encodes to the same bytes; a damaged cache
//! is refused and status then finds what it finds with no cache. Bounded case counts
//! keep them quick in CI. The cargo-fuzz targets (fuzz/) go further; their seeds and
//! saved crash inputs are replayed here.

use std::fs;

use cow::object::{Commit, EntryMode, ObjectId, Tree};
use cow::repository::StatusOptions;
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

}

/// A repository whose working directory differs from HEAD (a modified, a new, a
/// deleted and a retyped file, in subdirectories), its status with no cache to trust
/// (the oracle), and the stat cache and directory cache that status left behind.
struct Cached {
    env: crate::util::Env,
    repo: cow::Repository,
    fresh: cow::repository::Status,
    index: Vec<u8>,
    dircache: Vec<u8>,
}

impl Cached {
    fn new() -> crate::util::Result<Cached> {
        use crate::util::write;
        let env = crate::util::Env::new();
        let work = env.work();
        for path in ["a.txt", "d/b.txt", "d/e/c.txt", "d/e/gone", "f/x", "f/y"] {
            write(&work.join(path), path);
        }
        let repo = cow::Repository::init(&work)?;
        repo.commit("base", &crate::util::commit_options())?;
        write(&work.join("a.txt"), "changed");
        write(&work.join("d/new"), "new");
        fs::remove_file(work.join("d/e/gone"))?;
        fs::remove_file(work.join("f/x"))?;
        std::os::unix::fs::symlink("y", work.join("f/x"))?;
        let fresh = Cached::status_without_caches(&repo)?;
        assert_eq!(fresh.changes.len(), 4, "{:?}", fresh.changes);
        // A second run leaves caches with every directory recorded (none racy).
        repo.status(&StatusOptions::default())?;
        let index = fs::read(repo.cow_dir().join("index"))?;
        let dircache = fs::read(repo.cow_dir().join("dircache"))?;
        assert!(Index::load(&repo.cow_dir().join("index")).is_some());
        assert!(DirCache::load(&repo.cow_dir().join("dircache")).is_some_and(|d| d.len() >= 4));
        Ok(Cached {
            env,
            repo,
            fresh,
            index,
            dircache,
        })
    }

    fn status_without_caches(
        repo: &cow::Repository,
    ) -> crate::util::Result<cow::repository::Status> {
        for name in ["index", "dircache"] {
            match fs::remove_file(repo.cow_dir().join(name)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        Ok(repo.status(&StatusOptions::default())?)
    }

    /// Installs `index` and `dircache` as the caches, checks that neither loads
    /// unless it is the file status wrote, and that status then gives exactly the
    /// fresh result and leaves a valid stat cache behind.
    fn check(&self, index: &[u8], dircache: &[u8]) -> Result<(), TestCaseError> {
        let (index_path, dircache_path) = (
            self.repo.cow_dir().join("index"),
            self.repo.cow_dir().join("dircache"),
        );
        fs::write(&index_path, index).unwrap();
        fs::write(&dircache_path, dircache).unwrap();
        prop_assert_eq!(Index::load(&index_path).is_some(), index == self.index);
        prop_assert_eq!(
            DirCache::load(&dircache_path).is_some(),
            dircache == self.dircache
        );
        let status = self.repo.status(&StatusOptions::default()).unwrap();
        prop_assert_eq!(&status.changes, &self.fresh.changes);
        prop_assert_eq!(status.files, self.fresh.files);
        // Rebuilt, not kept.
        prop_assert!(Index::load(&index_path).is_some());
        Ok(())
    }
}

/// `valid` damaged: cut short, bytes overwritten, or replaced by random bytes.
fn garbled(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = valid.len();
    let cut = {
        let valid = valid.clone();
        (0..len).prop_map(move |n| valid[..n].to_vec())
    };
    let flips = {
        let valid = valid.clone();
        prop::collection::vec((0..len, 1..=255u8), 1..4).prop_map(move |flips| {
            let mut data = valid.clone();
            for (at, x) in flips {
                data[at] ^= x;
            }
            data
        })
    };
    prop_oneof![cut, flips, prop::collection::vec(any::<u8>(), 0..400)]
}

/// A damaged stat cache is refused and rebuilt: status (with the directory cache
/// intact) is exactly what a status with no cache at all finds.
#[test]
fn the_stat_cache_reader_never_trusts_garbage() -> crate::util::Result {
    let cached = Cached::new()?;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 150,
        ..config()
    });
    runner.run(&garbled(cached.index.clone()), |index| {
        cached.check(&index, &cached.dircache)
    })?;
    drop(cached.env);
    Ok(())
}

/// A damaged directory cache is refused: status (with the stat cache intact, and
/// with both caches damaged) is exactly what a status with no cache at all finds.
#[test]
fn the_directory_cache_reader_never_trusts_garbage() -> crate::util::Result {
    let cached = Cached::new()?;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 150,
        ..config()
    });
    runner.run(&garbled(cached.dircache.clone()), |dircache| {
        cached.check(&cached.index, &dircache)
    })?;
    let both = (
        garbled(cached.index.clone()),
        garbled(cached.dircache.clone()),
    );
    runner.run(&both, |(index, dircache)| cached.check(&index, &dircache))?;
    Ok(())
}

/// Revision strings of any UTF-8 (multi-byte characters after operators, inside
/// `^{…}`, before `:`) never panic the parser, and whatever resolves exists.
#[test]
fn revision_parsing_of_arbitrary_utf8_never_panics() {
    let env = crate::util::Env::new();
    crate::util::write(&env.work().join("d/f"), "x\n");
    let repo = cow::Repository::init(env.work()).unwrap();
    let sig = cow::object::Signature::new("a", "b", cow::object::Time::parse("1 +0000").unwrap())
        .unwrap();
    let options = cow::repository::CommitOptions {
        author: Some(sig.clone()),
        committer: Some(sig),
        allow_empty: true,
        ..Default::default()
    };
    repo.commit("one", &options).unwrap();
    repo.commit("two", &options).unwrap();
    repo.create_branch("é", None).unwrap();
    let piece = prop_oneof![
        Just("~".to_owned()),
        Just("^".to_owned()),
        Just("^{".to_owned()),
        Just("}".to_owned()),
        Just("tree".to_owned()),
        Just("commit".to_owned()),
        Just(":".to_owned()),
        Just("/".to_owned()),
        "[0-9]{1,3}",
        any::<char>().prop_map(String::from),
        "\\PC{1,3}",
    ];
    let structured = (
        prop::sample::select(vec!["HEAD", "@", "main", "é", "refs/heads/main", ""]),
        prop::collection::vec(piece, 0..8),
    )
        .prop_map(|(base, pieces)| format!("{base}{}", pieces.concat()));
    let spec = prop_oneof![any::<String>(), structured];
    let mut runner = proptest::test_runner::TestRunner::new(config());
    runner
        .run(&spec, |s| {
            match cow::revision::resolve(repo.odb(), repo.refs(), &s) {
                Ok(resolved) => prop_assert!(repo.odb().contains(&resolved.id), "{s:?}"),
                Err(e) => prop_assert!(!e.to_string().is_empty(), "{s:?}"),
            }
            Ok(())
        })
        .unwrap();
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
    repo.create_tag("v1", None).unwrap();
    crate::util::write(&env.work().join("d/f"), "y\n");
    let head = repo.commit("two", &options).unwrap().id.to_string();
    // Arbitrary UTF-8, and revisions built from the syntax's parts (a base, then
    // `~N`, `^N`, `^{type}` or any character, then maybe `:path`) with braces and
    // non-ASCII where they may and may not be.
    let base = prop_oneof![
        prop::sample::select(vec![
            "HEAD",
            "@",
            "main",
            "v1",
            "refs/heads/main",
            "tags/v1"
        ])
        .prop_map(str::to_owned),
        (4..=64usize).prop_map(move |n| head[..n].to_owned()),
        any::<String>(),
    ];
    let op = prop_oneof![
        "[~^][0-9]{0,3}",
        "\\^\\{(tree|commit|blob|object|)\\}",
        "\\^\\{[^}]{0,4}\\}?",
        "[~^][0-9]{0,2}[^0-9]",
        any::<char>().prop_map(String::from),
    ];
    let path = prop::option::of(prop_oneof!["[d/f]{0,4}", any::<String>()]);
    let built = (base, prop::collection::vec(op, 0..5), path).prop_map(|(base, ops, path)| {
        let path = path.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{base}{}{path}", ops.concat())
    });
    let spec = prop_oneof![1 => any::<String>(), 3 => built];
    let (resolved, refused) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 2000,
        ..config()
    });
    runner
        .run(&spec, |s| {
            match repo.resolve(&s) {
                Ok(id) => {
                    // What resolves names an object that is there.
                    prop_assert!(repo.odb().contains(&id), "{s:?} resolved to {id}");
                    resolved.set(resolved.get() + 1);
                }
                Err(_) => refused.set(refused.get() + 1),
            }
            Ok(())
        })
        .unwrap();
    assert!(
        resolved.get() > 20 && refused.get() > 20,
        "{resolved:?} resolved, {refused:?} refused"
    );
    // Bytes that are not UTF-8 are refused, wherever they are.
    let bytes = prop::collection::vec(any::<u8>(), 0..24);
    runner
        .run(&bytes, |b| {
            let result = repo.resolve(&b);
            if std::str::from_utf8(&b).is_err() {
                prop_assert!(result.is_err(), "{b:?} resolved");
            }
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
