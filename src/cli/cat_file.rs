//! `cow cat-file`.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use cow::{Kind, Repository};

use super::Quiet;
use super::format::write_tree_line;

#[derive(clap::Args)]
#[command(group(
    clap::ArgGroup::new("what").required(true).args(["p", "t", "s", "e", "typed_object"])
))]
pub struct Args {
    /// Print the content (trees as ls-tree lines)
    #[arg(short)]
    p: bool,
    /// Print the kind: blob, tree or commit
    #[arg(short)]
    t: bool,
    /// Print the size in bytes
    #[arg(short)]
    s: bool,
    /// Exit with 0 if the object exists and is valid, 1 otherwise, printing nothing
    #[arg(short)]
    e: bool,
    /// With -t or -s: print one JSON document with the kind and size (see docs/json.md)
    #[arg(long, conflicts_with_all = ["p", "e"])]
    pub json: bool,
    /// An id or any revision (with a second argument: the kind it must be, as in
    /// `cow cat-file commit HEAD`, which prints the object's raw bytes)
    object: OsString,
    /// The object, when the first argument is a kind
    #[arg(value_name = "OBJECT")]
    typed_object: Option<OsString>,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.e {
        return match repo.resolve(args.object.as_bytes()) {
            Ok(id) if repo.odb().verify(&id).is_ok() => Ok(()),
            _ => Err(Quiet(1).into()),
        };
    }
    if let Some(object) = &args.typed_object {
        return typed(repo, &args.object, object, out);
    }
    let id = repo.resolve(args.object.as_bytes())?;
    if args.t || args.s {
        let (kind, size) = repo.odb().verify(&id)?;
        if args.json {
            let document = serde_json::json!({
                "type": "object",
                "schema": 1,
                "id": id.to_string(),
                "kind": kind.to_string(),
                "size": size,
            });
            return super::json::print(out, &document);
        }
        if args.t {
            writeln!(out, "{kind}")?;
        } else {
            writeln!(out, "{size}")?;
        }
        return Ok(());
    }
    let (kind, _) = repo.odb().read_header(&id)?;
    match kind {
        Kind::Tree => {
            for entry in repo.odb().find_tree(&id)?.entries() {
                write_tree_line(out, entry.mode, &entry.id, &entry.name, false, false)?;
            }
        }
        Kind::Blob => {
            repo.odb().stream_blob(&id, out)?;
        }
        Kind::Commit | Kind::Tag => out.write_all(&repo.odb().read(&id)?.data)?,
    }
    Ok(())
}

/// `cat-file KIND OBJECT`: the object's raw bytes (a tree's in their binary form), when
/// it is of that kind, as git prints them.
fn typed(
    repo: &Repository,
    kind: &OsString,
    object: &OsString,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let kind = match kind.as_bytes() {
        b"blob" => Kind::Blob,
        b"tree" => Kind::Tree,
        b"commit" => Kind::Commit,
        b"tag" => Kind::Tag,
        _ => anyhow::bail!(
            "invalid object type {}: use blob, tree, commit or tag",
            cow::quote::quote_path(kind.as_bytes())
        ),
    };
    let id = repo.resolve(object.as_bytes())?;
    let (actual, _) = repo.odb().read_header(&id)?;
    if actual != kind {
        anyhow::bail!("{id} is a {actual}, not a {kind}");
    }
    if kind == Kind::Blob {
        repo.odb().stream_blob(&id, out)?;
    } else {
        out.write_all(&repo.odb().read(&id)?.data)?;
    }
    Ok(())
}
