//! `cow show`.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use cow::object::EntryMode;
use cow::{Kind, Repository};

use super::format::write_commit;

#[derive(clap::Args)]
pub struct Args {
    /// A revision, or REV:PATH for a file or directory in it
    #[arg(default_value = "HEAD")]
    object: OsString,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let spec = args.object.as_bytes();
    let resolved = repo.resolve_full(spec)?;
    let id = resolved.id;
    let kind = match resolved.mode {
        Some(mode) => mode.kind(),
        None => repo.odb().read_header(&id)?.0,
    };
    match kind {
        Kind::Commit => write_commit(out, &id, &repo.odb().find_commit(&id)?)?,
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
