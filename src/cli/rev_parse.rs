//! `cow rev-parse`.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use cow::Repository;

#[derive(clap::Args)]
pub struct Args {
    /// Print the shortest unique abbreviation of at least N digits (default 7)
    #[arg(long, value_name = "N", num_args = 0..=1, require_equals = true, default_missing_value = "7")]
    short: Option<usize>,
    /// Revisions: ids, prefixes, branches, tags, HEAD, REV~N, REV^N, REV:PATH
    #[arg(required = true)]
    revs: Vec<OsString>,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    for rev in &args.revs {
        let id = repo.resolve(rev.as_bytes())?;
        match args.short {
            Some(n) => writeln!(out, "{}", repo.odb().shortest_unique_prefix(&id, n)?)?,
            None => writeln!(out, "{id}")?,
        }
    }
    Ok(())
}
