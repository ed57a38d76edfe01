//! `cow status`.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use cow::Repository;
use cow::diff::{Change, ChangeKind};
use cow::object::{quote_path, quote_path_status};
use cow::refs::Head;
use cow::repository::{Status, StatusOptions};
use serde_json::{Map, Value, json};

use super::json::insert_bytes;

#[derive(clap::Args)]
pub struct Args {
    /// One `XY path` line per change, stable for scripts (git's porcelain v1): paths
    /// from the repository root
    #[arg(long, overrides_with = "short")]
    porcelain: bool,
    /// The same short format, paths relative to the current directory
    #[arg(short, long, overrides_with = "porcelain")]
    short: bool,
    /// End lines with NUL and do not quote paths (implies --porcelain, as in git)
    #[arg(short)]
    z: bool,
    /// With --porcelain or --short: first a `## BRANCH` line, as git's
    #[arg(short, long)]
    branch: bool,
    /// Print one JSON document (see docs/json.md)
    #[arg(long, conflicts_with_all = ["porcelain", "short", "z"])]
    pub json: bool,
    /// `all` lists every file of a new directory, `normal` the directory alone
    #[arg(short = 'u', long = "untracked-files", value_name = "MODE", default_value = "normal",
          num_args = 0..=1, default_missing_value = "all",
          value_parser = ["normal", "all"])]
    untracked: String,
    /// Report only these files or directories (relative to the current directory)
    paths: Vec<OsString>,
}

fn code(change: &Change) -> &'static str {
    match change.kind() {
        ChangeKind::Added => "??",
        ChangeKind::Deleted => " D",
        ChangeKind::Modified => " M",
        ChangeKind::TypeChanged => " T",
    }
}

/// The path as shown: directories end in `/`; relative to `cwd` (a path from the
/// root) unless it is `None`.
fn shown_path(change: &Change, cwd: Option<&[u8]>) -> Vec<u8> {
    let mut path = change.path.as_bytes().to_vec();
    if change.is_tree() {
        path.push(b'/');
    }
    match cwd {
        Some(cwd) => super::paths::relative(&path, cwd).into_owned(),
        None => path,
    }
}

pub fn run(repo: &Repository, cwd: &Path, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let status = repo.status(&StatusOptions {
        all_untracked: args.untracked == "all",
        paths: super::diff::repo_paths(repo, cwd, &args.paths)?,
    })?;
    // As git's status.relativePaths: the long and short formats show paths relative to
    // the current directory; porcelain, -z and JSON from the root. (Inside the store
    // there is no such path: from the root.)
    let here = repo
        .work_dir()
        .and_then(|work_dir| super::paths::repo_path(work_dir, cwd, Path::new(".")).ok());
    let relative = (!args.porcelain && !args.z && !args.json)
        .then(|| here.as_ref().map(|h| h.as_bytes()))
        .flatten();
    // Tracked changes first, then new paths, each in path order (as git lists them).
    let (new, tracked): (Vec<&Change>, Vec<&Change>) = status
        .changes
        .iter()
        .partition(|c| c.kind() == ChangeKind::Added);
    if args.json {
        return write_json(&status, tracked.iter().chain(&new), out);
    }
    if args.porcelain || args.short || args.z {
        if args.branch {
            let header = match (&status.head, status.head_commit) {
                (Head::Branch(name), Some(_)) => format!("## {}", name.shorten()),
                (Head::Branch(name), None) => format!("## No commits yet on {}", name.shorten()),
                (Head::Detached(_), _) => "## HEAD (no branch)".to_owned(),
            };
            write!(out, "{header}{}", if args.z { '\0' } else { '\n' })?;
        }
        for change in tracked.iter().chain(&new) {
            let path = shown_path(change, relative);
            if args.z {
                write!(out, "{} ", code(change))?;
                out.write_all(&path)?;
                out.write_all(b"\0")?;
            } else {
                writeln!(out, "{} {}", code(change), quote_path_status(&path))?;
            }
        }
        return Ok(());
    }
    match &status.head {
        Head::Branch(name) => writeln!(out, "On branch {}", name.shorten())?,
        Head::Detached(id) => writeln!(out, "HEAD detached at {}", id.to_hex_prefix(12))?,
    }
    if status.head_commit.is_none() {
        writeln!(out, "\nNo commits yet")?;
    }
    if !tracked.is_empty() {
        writeln!(out, "\nChanges not yet in a snapshot:")?;
        writeln!(
            out,
            "  (use \"cow commit -m <message>\" to snapshot them, \"cow restore <path>\" to discard them)"
        )?;
        for change in &tracked {
            let label = match change.kind() {
                ChangeKind::Deleted => "deleted:    ",
                ChangeKind::TypeChanged => "typechange: ",
                _ => "modified:   ",
            };
            writeln!(
                out,
                "\t{label}{}",
                quote_path(&shown_path(change, relative))
            )?;
        }
    }
    if !new.is_empty() {
        writeln!(out, "\nUntracked files:")?;
        writeln!(
            out,
            "  (use \"cow commit -m <message>\" to include them in a snapshot)"
        )?;
        for change in &new {
            writeln!(out, "\t{}", quote_path(&shown_path(change, relative)))?;
        }
    }
    if status.is_clean() {
        writeln!(out, "nothing to commit, working tree clean")?;
    } else {
        writeln!(out)?;
    }
    Ok(())
}

/// The status word of a change in `--json` output: what `status` prints in words.
fn word(change: &Change) -> &'static str {
    match change.kind() {
        ChangeKind::Added => "untracked",
        ChangeKind::Deleted => "deleted",
        ChangeKind::Modified => "modified",
        ChangeKind::TypeChanged => "type_changed",
    }
}

fn write_json<'a>(
    status: &Status,
    changes: impl Iterator<Item = &'a &'a Change>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let changes: Vec<Value> = changes
        .map(|change| {
            let mut fields = Map::new();
            fields.insert("type".into(), "change".into());
            fields.insert("status".into(), word(change).into());
            insert_bytes(&mut fields, "path", "path_b64", change.path.as_bytes());
            fields.insert("directory".into(), change.is_tree().into());
            super::json::insert_side(&mut fields, "old", change.old);
            super::json::insert_side(&mut fields, "new", change.new);
            Value::Object(fields)
        })
        .collect();
    let (branch, detached) = match &status.head {
        Head::Branch(name) => (Some(name.shorten().to_string()), false),
        Head::Detached(_) => (None, true),
    };
    let document = json!({
        "type": "status",
        "schema": 1,
        "branch": branch,
        "detached": detached,
        "head": status.head_commit.map(|id| id.to_string()),
        "clean": status.is_clean(),
        "changes": changes,
    });
    super::json::print(out, &document)
}
