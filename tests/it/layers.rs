//! The module layout shows the layers: each module uses only those below it (the list
//! in lib.rs's docs), so no import runs back up.

use std::collections::BTreeSet;
use std::path::Path;

/// Each library module and the crate modules it may use.
const ALLOWED: &[(&str, &[&str])] = &[
    ("temp", &[]),
    ("progress", &[]),
    ("quote", &[]),
    ("fs", &["quote", "temp"]),
    ("object", &["quote"]),
    ("odb", &["fs", "object", "progress", "quote", "temp"]),
    ("reach", &["object", "odb"]),
    // refs know objects only as ids.
    ("refs", &["fs", "object", "quote", "temp"]),
    // The operation log: views of refs, stored as files of its own.
    ("oplog", &["fs", "object", "quote", "refs", "temp"]),
    // `NAME@{op:OP}` reads a view of the operation log.
    ("revision", &["object", "odb", "oplog", "refs"]),
    (
        "worktree",
        &["fs", "object", "odb", "progress", "quote", "temp"],
    ),
    // diff reads working-directory files through the worktree's descriptors; paths
    // and their quoting come from object.
    ("diff", &["fs", "object", "odb", "quote", "worktree"]),
    // Remotes: transfers between stores, over refs and the odb; no working directory.
    (
        "remote",
        &[
            "fs", "object", "odb", "progress", "quote", "reach", "refs", "revision", "temp",
        ],
    ),
    (
        "repository",
        &[
            "fs", "object", "odb", "reach", "refs", "revision", "worktree", "diff", "remote",
            "oplog", "progress", "quote", "temp",
        ],
    ),
];

/// The crate modules a file names as `crate::<module>` (the crate root's re-exports
/// counted as the modules they come from).
fn uses(source: &str) -> BTreeSet<String> {
    source
        .match_indices("crate::")
        .map(|(at, m)| {
            let name: String = source[at + m.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            match name.as_str() {
                "Kind" | "ObjectId" => "object".to_owned(),
                "Error" | "Repository" => "repository".to_owned(),
                _ => name,
            }
        })
        .collect()
}

fn sources(path: &Path) -> Vec<(String, String)> {
    let files: Vec<_> = if path.is_dir() {
        walkdir::WalkDir::new(path)
            .into_iter()
            .map(|e| e.unwrap().into_path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .collect()
    } else {
        vec![path.to_owned()]
    };
    files
        .into_iter()
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn no_import_runs_back_up() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for (module, allowed) in ALLOWED {
        let path = if src.join(module).is_dir() {
            src.join(module)
        } else {
            src.join(format!("{module}.rs"))
        };
        assert!(path.exists(), "{} is missing", path.display());
        for (file, text) in sources(&path) {
            for used in uses(&text) {
                if used != *module && !allowed.contains(&used.as_str()) {
                    wrong.push(format!("{file} uses crate::{used}"));
                }
            }
        }
    }
    // Every library module is in the list.
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    for line in lib.lines() {
        if let Some(name) = line
            .strip_prefix("pub mod ")
            .or_else(|| line.strip_prefix("mod "))
        {
            let name = name.trim_end_matches(';');
            assert!(
                ALLOWED.iter().any(|(m, _)| *m == name),
                "lib.rs's module {name} has no place in the layers"
            );
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that run back up:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_scanner_and_the_walk_do_not_import_each_other() {
    let worktree = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/worktree");
    for (file, text) in sources(&worktree.join("walk.rs")) {
        assert!(!text.contains("scan::"), "{file} imports the scanner");
    }
}
