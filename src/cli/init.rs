//! `cow init`.

use std::io::Write;
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
    writeln!(
        out,
        "Initialized empty cow repository in {}",
        repo.cow_dir().display()
    )?;
    Ok(())
}
