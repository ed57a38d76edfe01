//! `cow ls-tree`.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use cow::object::{EntryMode, ObjectId};
use cow::{Kind, Repository};

use super::format::write_tree_line;

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
    /// End lines with NUL and do not quote paths
    #[arg(short)]
    z: bool,
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
    list(repo, args, &id, &mut Vec::new(), out)
}

fn list(
    repo: &Repository,
    args: &Args,
    tree: &ObjectId,
    prefix: &mut Vec<u8>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    for entry in repo.odb().find_tree(tree)?.entries() {
        let len = prefix.len();
        prefix.extend_from_slice(&entry.name);
        let recurse = args.r && entry.mode == EntryMode::Tree;
        if !recurse || args.t {
            write_tree_line(out, entry.mode, &entry.id, prefix, args.name_only, args.z)?;
        }
        if recurse {
            prefix.push(b'/');
            list(repo, args, &entry.id, prefix, out)?;
        }
        prefix.truncate(len);
    }
    Ok(())
}
