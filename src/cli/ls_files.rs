//! `cow ls-files`: the files a commit would snapshot now, as `git ls-files` lists them
//! after `git add -A` (cow has no index: its "tracked files" are HEAD's files, less
//! those deleted, plus the new files no `.cowignore` rule leaves out).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use cow::Repository;
use cow::diff::ChangeKind;
use cow::object::{EntryMode, ObjectId, quote_path};
use cow::repository::StatusOptions;

#[derive(clap::Args)]
pub struct Args {
    /// End lines with NUL and do not quote paths
    #[arg(short, conflicts_with = "json")]
    z: bool,
    /// Print one JSON document (see docs/json.md)
    #[arg(long)]
    json: bool,
    /// List only these files or directories (relative to the current directory)
    paths: Vec<OsString>,
}

pub fn run(repo: &Repository, cwd: &Path, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    super::json::errors_as_json(args.json, || list(repo, cwd, args, out))
}

fn list(repo: &Repository, cwd: &Path, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    // Paths are shown relative to the current directory as git shows them; without
    // PATH arguments only those below it are listed.
    let here = super::paths::repo_path(repo.require_work_dir()?, cwd, Path::new("."))?;
    let wanted = if !args.paths.is_empty() {
        super::diff::repo_paths(repo, cwd, &args.paths)?
    } else if here.is_root() {
        Vec::new()
    } else {
        vec![here.clone()]
    };
    let status = repo.status(&StatusOptions {
        all_untracked: true,
        paths: wanted.clone(),
    })?;
    let mut files = BTreeSet::new();
    if let Some(head) = status.head_commit {
        let tree = repo.odb().find_commit(&head)?.tree;
        collect(repo, &tree, &mut Vec::new(), &mut files)?;
    }
    for change in &status.changes {
        match change.kind() {
            ChangeKind::Deleted => {
                files.remove(change.path.as_bytes());
            }
            ChangeKind::Added if !change.is_tree() => {
                files.insert(change.path.as_bytes().to_vec());
            }
            _ => {}
        }
    }
    let mut records = Vec::new();
    for file in &files {
        let selected = wanted.is_empty()
            || wanted.iter().any(|w| {
                let w = w.as_bytes();
                file == w || (file.starts_with(w) && file.get(w.len()) == Some(&b'/'))
            });
        if !selected {
            continue;
        }
        let shown = super::paths::relative(file, here.as_bytes());
        let shown = shown.as_ref();
        if args.json {
            let mut record = serde_json::Map::new();
            record.insert("type".into(), "file".into());
            let path = Path::new(std::ffi::OsStr::from_bytes(shown));
            super::json::insert_path(&mut record, "path", "path_b64", path);
            records.push(serde_json::Value::Object(record));
        } else if args.z {
            out.write_all(shown)?;
            out.write_all(b"\0")?;
        } else {
            writeln!(out, "{}", quote_path(shown))?;
        }
    }
    if args.json {
        let document = serde_json::json!({"type": "ls_files", "schema": 1, "files": records});
        writeln!(out, "{document}")?;
    }
    Ok(())
}

/// Every file and symlink under `tree`, as paths from the root.
fn collect(
    repo: &Repository,
    tree: &ObjectId,
    prefix: &mut Vec<u8>,
    files: &mut BTreeSet<Vec<u8>>,
) -> anyhow::Result<()> {
    for entry in repo.odb().find_tree(tree)?.entries() {
        let len = prefix.len();
        prefix.extend_from_slice(&entry.name);
        if entry.mode == EntryMode::Tree {
            prefix.push(b'/');
            collect(repo, &entry.id, prefix, files)?;
        } else {
            files.insert(prefix.clone());
        }
        prefix.truncate(len);
    }
    Ok(())
}
