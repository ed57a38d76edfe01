//! `cow show`.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use cow::object::EntryMode;
use cow::revision::Resolved;
use cow::{Kind, Repository};
use serde_json::{Map, Value, json};

use super::json::{insert_bytes, print, signature};
use super::ls_tree::entry_json;

#[derive(clap::Args)]
pub struct Args {
    /// A revision, or REV:PATH for a file or directory in it
    #[arg(default_value = "HEAD")]
    object: OsString,
    /// Print one JSON document (see docs/json.md)
    #[arg(long, conflicts_with_all = ["no_patch", "stat", "name_status", "name_only",
          "numstat", "oneline", "format"])]
    pub json: bool,
    /// A commit's header and message only, no changes (git's -s)
    #[arg(short = 's', long = "no-patch")]
    no_patch: bool,
    /// A commit's changes as a diffstat instead of the patch
    #[arg(long, group = "changes")]
    stat: bool,
    /// A commit's changed files with their status instead of the patch
    #[arg(long, group = "changes")]
    name_status: bool,
    /// A commit's changed files instead of the patch
    #[arg(long, group = "changes")]
    name_only: bool,
    /// A commit's added and deleted lines per file instead of the patch
    #[arg(long, group = "changes")]
    numstat: bool,
    /// A commit on one line: abbreviated id and subject
    #[arg(long)]
    oneline: bool,
    /// A commit as log --format prints it
    #[arg(
        long,
        alias = "pretty",
        value_name = "FORMAT",
        conflicts_with = "oneline"
    )]
    format: Option<String>,
}

/// `log`'s words for showing commit `id` as `args` asks (git's `show` of a commit is
/// `log -n 1 -p --cc`: a merge shows its combined diff).
fn log_words(args: &Args, id: &cow::ObjectId) -> Vec<String> {
    let mut words = vec!["-n".to_owned(), "1".to_owned(), "--cc".to_owned()];
    let changes = [
        (args.stat, "--stat"),
        (args.name_status, "--name-status"),
        (args.name_only, "--name-only"),
        (args.numstat, "--numstat"),
    ];
    match changes.iter().find(|(on, _)| *on) {
        _ if args.no_patch => {}
        Some((_, flag)) => words.push((*flag).to_owned()),
        None => words.push("-p".to_owned()),
    }
    if args.oneline {
        words.push("--oneline".to_owned());
    }
    if let Some(format) = &args.format {
        words.push(format!("--format={format}"));
    }
    words.push(id.to_string());
    words
}

pub fn run(
    repo: &Repository,
    cwd: &std::path::Path,
    args: &Args,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let spec = args.object.as_bytes();
    let resolved = repo.resolve_full(spec)?;
    let id = resolved.id;
    let kind = match resolved.mode {
        Some(mode) => mode.kind(),
        None => repo.odb().read_header(&id)?.0,
    };
    if args.json {
        return write_json(repo, &resolved, kind, out);
    }
    match kind {
        Kind::Commit => super::log::run_words(repo, cwd, &log_words(args, &id), out)?,
        Kind::Tree => {
            let tree = repo.odb().find_tree(&id)?;
            out.write_all(b"tree ")?;
            out.write_all(spec)?;
            out.write_all(b"\n\n")?;
            for entry in tree.entries() {
                out.write_all(&entry.name)?;
                if entry.mode == EntryMode::Tree {
                    out.write_all(b"/")?;
                }
                out.write_all(b"\n")?;
            }
        }
        Kind::Blob => {
            repo.odb().stream_blob(&id, out)?;
        }
        Kind::Tag => anyhow::bail!("object {id} is a tag, which cow does not read yet"),
    }
    Ok(())
}

/// `--json`: a commit's fields, a tree's entries, or a blob's id and size.
fn write_json(
    repo: &Repository,
    resolved: &Resolved,
    kind: Kind,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let id = resolved.id;
    let mode = resolved.mode.map(|m| m.as_padded_str());
    let document = match kind {
        Kind::Commit => {
            let commit = repo.odb().find_commit(&id)?;
            let mut fields = Map::new();
            fields.insert("type".into(), "commit".into());
            fields.insert("schema".into(), 1.into());
            fields.insert("id".into(), id.to_string().into());
            fields.insert("tree".into(), commit.tree.to_string().into());
            let parents: Vec<String> = commit.parents.iter().map(|p| p.to_string()).collect();
            fields.insert("parents".into(), parents.into());
            fields.insert("author".into(), signature(&commit.author));
            fields.insert("committer".into(), signature(&commit.committer));
            insert_bytes(&mut fields, "message", "message_b64", &commit.message);
            Value::Object(fields)
        }
        Kind::Tree => {
            let entries = repo
                .odb()
                .find_tree(&id)?
                .entries()
                .iter()
                .map(|entry| entry_json(repo, entry.mode, &entry.id, &entry.name, false))
                .collect::<anyhow::Result<Vec<Value>>>()?;
            json!({"type": "tree", "schema": 1, "id": id.to_string(), "mode": mode, "entries": entries})
        }
        Kind::Blob => {
            let (_, size) = repo.odb().read_header(&id)?;
            json!({"type": "blob", "schema": 1, "id": id.to_string(), "mode": mode, "size": size})
        }
        Kind::Tag => anyhow::bail!("object {id} is a tag, which cow does not read yet"),
    };
    print(out, &document)
}
