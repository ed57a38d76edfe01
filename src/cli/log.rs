//! `cow log`.

use std::io::Write;

use cow::Repository;

use super::format::write_commit;

/// Show the history, newest first, following first parents
#[derive(clap::Args)]
pub struct Args {
    /// Where to start (default: HEAD)
    #[arg(default_value = "HEAD")]
    rev: String,
    /// Show at most N commits
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    max_count: Option<usize>,
    /// One line per commit: abbreviated id and subject
    #[arg(long)]
    oneline: bool,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let start = repo.resolve_commit(&args.rev)?;
    let limit = args.max_count.unwrap_or(usize::MAX);
    for (i, entry) in repo.log(start).take(limit).enumerate() {
        let (id, commit) = entry?;
        if args.oneline {
            let short = repo.odb().shortest_unique_prefix(&id, 7)?;
            writeln!(out, "{short} {}", commit.summary())?;
        } else {
            if i > 0 {
                writeln!(out)?;
            }
            write_commit(out, &id, &commit)?;
        }
    }
    Ok(())
}
