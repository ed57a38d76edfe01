//! `cow init`.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use cow::Repository;

#[derive(clap::Args)]
pub struct Args {
    /// Where to create it; made if missing
    dir: Option<PathBuf>,
}

pub fn run(cwd: &Path, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let dir = args
        .dir
        .as_ref()
        .map_or_else(|| cwd.to_owned(), |d| cwd.join(d));
    let repo = Repository::init(&dir)?;
    // The path's own bytes, as git prints them: `display()` would print U+FFFD for a
    // directory whose name is not UTF-8.
    out.write_all(b"Initialized empty cow repository in ")?;
    out.write_all(repo.cow_dir().as_os_str().as_bytes())?;
    writeln!(out)?;
    Ok(())
}
