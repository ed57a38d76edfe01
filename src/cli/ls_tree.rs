//! `cow ls-tree`.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use cow::object::{EntryMode, ObjectId};
use cow::{Kind, Repository};
use serde_json::{Map, Value};

use super::format::write_tree_line;
use super::json::{insert_bytes, print};

#[derive(clap::Args)]
pub struct Args {
    /// Recurse into subdirectories (listing files only)
    #[arg(short)]
    r: bool,
    /// With -r, list directories too
    #[arg(short)]
    t: bool,
    /// Print paths only
    #[arg(long)]
    name_only: bool,
    /// Show each blob's size in bytes (`-` for a directory)
    #[arg(short = 'l', long = "long")]
    long: bool,
    /// End lines with NUL and do not quote paths
    #[arg(short)]
    z: bool,
    /// Print one JSON document (see docs/json.md)
    #[arg(long, conflicts_with_all = ["z", "name_only"])]
    pub json: bool,
    /// REV or REV:PATH naming a commit or directory
    tree: OsString,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let resolved = repo.resolve_full(args.tree.as_bytes())?;
    let mut id = resolved.id;
    match repo.odb().read_header(&id)?.0 {
        Kind::Commit => id = repo.odb().find_commit(&id)?.tree,
        Kind::Tree => {}
        kind => anyhow::bail!("'{}' is a {kind}, not a tree", args.tree.to_string_lossy()),
    }
    if args.json {
        let mut entries = Vec::new();
        list(
            repo,
            args,
            &id,
            &mut Vec::new(),
            &mut |mode, entry_id, path| {
                entries.push(entry_json(repo, mode, entry_id, path, args.long)?);
                Ok(())
            },
        )?;
        let document = serde_json::json!({
            "type": "ls_tree",
            "schema": 1,
            "tree": id.to_string(),
            "entries": entries,
        });
        return print(out, &document);
    }
    list(
        repo,
        args,
        &id,
        &mut Vec::new(),
        &mut |mode, entry_id, path| {
            if args.long && !args.name_only {
                let size = match mode {
                    EntryMode::Tree => "-".to_owned(),
                    _ => repo.odb().read_header(entry_id)?.1.to_string(),
                };
                write!(
                    out,
                    "{} {} {entry_id} {size:>7}\t",
                    mode.as_padded_str(),
                    mode.kind()
                )?;
                write_tree_line(out, mode, entry_id, path, true, args.z)?;
            } else {
                write_tree_line(out, mode, entry_id, path, args.name_only, args.z)?;
            }
            Ok(())
        },
    )
}

/// What [`list`] calls for each entry shown: its mode, id and path.
type Visit<'a> = dyn FnMut(EntryMode, &ObjectId, &[u8]) -> anyhow::Result<()> + 'a;

fn list(
    repo: &Repository,
    args: &Args,
    tree: &ObjectId,
    prefix: &mut Vec<u8>,
    visit: &mut Visit<'_>,
) -> anyhow::Result<()> {
    for entry in repo.odb().find_tree(tree)?.entries() {
        let len = prefix.len();
        prefix.extend_from_slice(&entry.name);
        let recurse = args.r && entry.mode == EntryMode::Tree;
        if !recurse || args.t {
            visit(entry.mode, &entry.id, prefix)?;
        }
        if recurse {
            prefix.push(b'/');
            list(repo, args, &entry.id, prefix, visit)?;
        }
        prefix.truncate(len);
    }
    Ok(())
}

/// A tree entry as `--json` shows it (`show`, `ls-tree`): `type` is the object's kind
/// (`blob` or `tree`); `size` is the blob's size in bytes when `with_size` (`null` for a
/// tree), and left out otherwise.
pub fn entry_json(
    repo: &Repository,
    mode: EntryMode,
    id: &cow::ObjectId,
    path: &[u8],
    with_size: bool,
) -> anyhow::Result<Value> {
    let mut fields = Map::new();
    fields.insert("type".into(), mode.kind().to_string().into());
    fields.insert("mode".into(), mode.as_padded_str().into());
    fields.insert("id".into(), id.to_string().into());
    insert_bytes(&mut fields, "path", "path_b64", path);
    if with_size {
        let size = match mode {
            EntryMode::Tree => None,
            _ => Some(repo.odb().read_header(id)?.1),
        };
        fields.insert("size".into(), size.into());
    }
    Ok(Value::Object(fields))
}
