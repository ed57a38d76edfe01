//! Identity against git: every blob, tree and commit id cow computes equals the one git
//! computes for the same content in a `git init --object-format=sha256` repository.
//!
//! git's ids are computed independently of cow's walk: blob ids and modes come from
//! `git add -A` + `git ls-files -s`, trees from `git mktree` built bottom-up over the
//! directories on disk (git's index cannot hold empty directories, `mktree` can), and
//! commits from `git commit-tree` with the same identity, date and message.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::util::*;

/// git over the same working directory ([`GitMirror`]), computing ids its own way.
struct Oracle {
    mirror: GitMirror,
    work: std::path::PathBuf,
}

impl Oracle {
    fn new(env: &Env) -> Oracle {
        Oracle {
            mirror: GitMirror::new(env),
            work: env.work(),
        }
    }

    fn git<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(
        &self,
        args: I,
        stdin: &[u8],
    ) -> String {
        String::from_utf8(self.git_raw(args, stdin))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn git_raw<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(
        &self,
        args: I,
        stdin: &[u8],
    ) -> Vec<u8> {
        self.mirror.raw(args, stdin)
    }

    /// git's id of the root tree of the working directory, empty directories included.
    fn tree_id(&self) -> String {
        self.git(["add", "-A"], b"");
        let listing = self.git_raw(["ls-files", "-s", "-z"], b"");
        // dir path -> (name -> mktree line)
        let mut dirs: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>> = BTreeMap::new();
        for record in listing.split(|&b| b == 0).filter(|r| !r.is_empty()) {
            // "<mode> <id> <stage>\t<path>"
            let tab = record.iter().position(|&b| b == b'\t').unwrap();
            let meta = std::str::from_utf8(&record[..tab]).unwrap();
            let mut parts = meta.split(' ');
            let (mode, id) = (parts.next().unwrap(), parts.next().unwrap());
            let path = &record[tab + 1..];
            let (dir, name) = match path.iter().rposition(|&b| b == b'/') {
                Some(i) => (path[..i].to_vec(), path[i + 1..].to_vec()),
                None => (Vec::new(), path.to_vec()),
            };
            let kind = if mode == "120000" || mode.starts_with("100") {
                "blob"
            } else {
                "commit"
            };
            let mut line = format!("{mode} {kind} {id}\t").into_bytes();
            line.extend_from_slice(&name);
            dirs.entry(dir).or_default().insert(name, line);
        }
        for entry in walkdir::WalkDir::new(&self.work)
            .min_depth(1)
            .into_iter()
            .filter_entry(|e| e.file_name() != ".cow")
        {
            let entry = entry.unwrap();
            if entry.file_type().is_dir() {
                let rel = entry.path().strip_prefix(&self.work).unwrap();
                dirs.entry(rel.as_os_str().as_bytes().to_vec()).or_default();
            }
        }
        self.mktree(&dirs, b"")
    }

    fn mktree(&self, dirs: &BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>, dir: &[u8]) -> String {
        let mut input = Vec::new();
        for line in dirs.get(dir).map(|m| m.values()).into_iter().flatten() {
            input.extend_from_slice(line);
            input.push(0);
        }
        let children: Vec<&Vec<u8>> = dirs
            .keys()
            .filter(|k| {
                let Some(rest) = (if dir.is_empty() {
                    Some(&k[..])
                } else {
                    k.strip_prefix(dir).and_then(|r| r.strip_prefix(b"/"))
                }) else {
                    return false;
                };
                !rest.is_empty() && !rest.contains(&b'/')
            })
            .collect();
        for child in children {
            let id = self.mktree(dirs, child);
            let name = child.rsplit(|&b| b == b'/').next().unwrap();
            input.extend_from_slice(format!("040000 tree {id}\t").as_bytes());
            input.extend_from_slice(name);
            input.push(0);
        }
        self.git(["mktree", "-z"], &input)
    }

    fn commit_tree(&self, tree: &str, parent: Option<&str>, message: &str) -> String {
        let mut args = vec![
            "commit-tree".to_owned(),
            tree.to_owned(),
            "-m".into(),
            message.into(),
        ];
        if let Some(p) = parent {
            args.extend(["-p".into(), p.to_owned()]);
        }
        self.git(args, b"")
    }

    /// git's blob id of a file's content.
    fn hash_file(&self, path: &Path) -> String {
        let content = std::fs::read(path).unwrap();
        self.git(["hash-object", "--stdin"], &content)
    }
}

/// Every blob and tree cow lists for HEAD, with its git id.
fn cow_ids(env: &Env) -> Vec<(String, String, Vec<u8>)> {
    let out = env.cow(["ls-tree", "-r", "-t", "-z", "HEAD"]);
    assert!(out.status.success(), "{}", describe(&out));
    out.stdout
        .split(|&b| b == 0)
        .filter(|r| !r.is_empty())
        .map(|r| {
            let tab = r.iter().position(|&b| b == b'\t').unwrap();
            let meta: Vec<&str> = std::str::from_utf8(&r[..tab]).unwrap().split(' ').collect();
            (
                meta[1].to_owned(),
                meta[2].to_owned(),
                r[tab + 1..].to_vec(),
            )
        })
        .collect()
}

#[test]
fn generated_trees_have_gits_ids() -> Result {
    if !git_available() {
        return Ok(());
    }
    for seed in 1..=8u64 {
        eprintln!("seed {seed}");
        let env = Env::new();
        let mut rng = Rng::new(seed);
        generate_tree(&mut rng, &env.work(), 3);
        env.init();
        let oracle = Oracle::new(&env);

        let first = env.commit("first snapshot");
        let tree = oracle.tree_id();
        assert_eq!(
            env.cow_ok(["rev-parse", "HEAD:"]).trim(),
            tree,
            "seed {seed}: root tree"
        );
        assert_eq!(
            first,
            oracle.commit_tree(&tree, None, "first snapshot"),
            "seed {seed}"
        );

        // Every subtree and blob too, each id checked on its own.
        for (kind, id, path) in cow_ids(&env) {
            let fs_path = env.work().join(std::ffi::OsStr::from_bytes(&path));
            let meta = std::fs::symlink_metadata(&fs_path)?;
            if kind == "blob" && meta.file_type().is_file() {
                assert_eq!(id, oracle.hash_file(&fs_path), "seed {seed}: {fs_path:?}");
            }
            let spec = [b"HEAD:".as_slice(), &path].concat();
            assert_eq!(
                env.cow_ok([
                    std::ffi::OsStr::new("rev-parse"),
                    std::ffi::OsStr::from_bytes(&spec)
                ])
                .trim(),
                id
            );
        }

        // A second snapshot on top of the first, with a parent line.
        let mut rng = Rng::new(seed + 1000);
        generate_tree(&mut rng, &env.work().join("added"), 2);
        write(&env.work().join("a.b"), "changed\n");
        let second = env.commit("second\n\nwith a body");
        let tree = oracle.tree_id();
        assert_eq!(
            second,
            oracle.commit_tree(&tree, Some(&first), "second\n\nwith a body"),
            "seed {seed}: second commit"
        );
    }
    Ok(())
}

#[test]
fn sort_rule_and_special_entries_match_git() -> Result {
    if !git_available() {
        return Ok(());
    }
    let env = Env::new();
    let w = env.work();
    // `a.b` < `a` (as `a/`) < `a0`: a directory sorts as if its name ended in '/'.
    write(&w.join("a.b"), "file a.b\n");
    write(&w.join("a/inner"), "inside a\n");
    write(&w.join("a-b"), "");
    write(&w.join("a0"), "zero\n");
    write(&w.join("with space/x"), "x");
    write(&w.join("tool.sh"), "#!/bin/sh\necho hi\n");
    set_exec(&w.join("tool.sh"), true);
    std::os::unix::fs::symlink("a/inner", w.join("link"))?;
    std::fs::create_dir_all(w.join("empty/nested-empty"))?;
    write(
        &w.join(std::ffi::OsStr::from_bytes(b"non-utf8-\xff")),
        "bytes\n",
    );
    env.init();
    let oracle = Oracle::new(&env);
    let id = env.commit("sorted");
    let tree = oracle.tree_id();
    assert_eq!(id, oracle.commit_tree(&tree, None, "sorted"));
    let listing = env.cow_ok(["ls-tree", "HEAD"]);
    let names: Vec<&str> = listing
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "a-b",
            "a.b",
            "a",
            "a0",
            "empty",
            "link",
            "\"non-utf8-\\377\"",
            "tool.sh",
            "with space"
        ]
    );
    // Symlinks are stored as their target; the executable bit as 100755.
    assert!(listing.contains("120000 blob"), "{listing}");
    assert!(listing.contains("100755 blob"), "{listing}");
    Ok(())
}

#[test]
fn cat_file_with_a_kind_prints_the_raw_bytes_git_prints() -> Result {
    if !git_available() {
        return Ok(());
    }
    let env = Env::new();
    generate_tree(&mut Rng::new(7), &env.work(), 2);
    write(&env.work().join("f"), "some content\n");
    env.init();
    let oracle = Oracle::new(&env);
    let commit = env.commit("first snapshot");
    let tree = oracle.tree_id();
    assert_eq!(commit, oracle.commit_tree(&tree, None, "first snapshot"));
    let blob = env.cow_ok(["rev-parse", "HEAD:f"]).trim().to_owned();
    for (kind, id) in [("commit", &commit), ("tree", &tree), ("blob", &blob)] {
        let ours = env.cow(["cat-file", kind, id]);
        assert!(ours.status.success(), "{kind}: {}", describe(&ours));
        assert!(
            ours.stdout == oracle.git_raw(["cat-file", kind, id], b""),
            "{kind}"
        );
    }
    assert_failure(
        &env.cow(["cat-file", "tree", &commit]),
        1,
        &format!("{commit} is a commit, not a tree"),
    );
    assert_failure(
        &env.cow(["cat-file", "nonsense", &commit]),
        1,
        "invalid object type",
    );
    Ok(())
}
