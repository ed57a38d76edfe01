//! `cow log`.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use cow::Repository;

use super::diff::{Format, repo_paths};
use super::format::write_commit;

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
    /// Show each commit's patch
    #[arg(short = 'p', long = "patch")]
    patch: bool,
    #[command(flatten)]
    format: Format,
    /// Only commits that changed these paths
    #[arg(last = true)]
    paths: Vec<OsString>,
}

pub fn run(repo: &Repository, cwd: &Path, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let start = repo.resolve_commit(&args.rev)?;
    let paths = repo_paths(repo, cwd, &args.paths)?;
    let show_diff = args.patch || args.format.any();
    let options = args.format.options(paths.clone())?;
    let limit = args.max_count.unwrap_or(usize::MAX);
    let mut shown = 0;
    // git warns once, after the walk, with the largest limit any commit needed.
    let mut rename_limit_needed = None;
    for entry in repo.log(start) {
        if shown == limit {
            break;
        }
        let (id, commit) = entry?;
        if !paths.is_empty() && !repo.commit_touches(&commit, &paths)? {
            continue;
        }
        if args.oneline {
            let short = repo.odb().shortest_unique_prefix(&id, 7)?;
            writeln!(out, "{short} {}", commit.summary())?;
        } else {
            if shown > 0 {
                writeln!(out)?;
            }
            write_commit(out, &id, &commit)?;
        }
        if show_diff {
            let parent = match commit.parents.first() {
                Some(p) => Some(repo.odb().find_commit(p)?.tree),
                None => None,
            };
            let outcome = repo.diff_trees(parent, Some(commit.tree), &options)?;
            rename_limit_needed = rename_limit_needed.max(outcome.rename_limit_needed);
            let changes = outcome.changes;
            if !args.oneline {
                writeln!(out)?;
            }
            args.format.write(repo, &changes, out)?;
            if args.patch && args.format.any() {
                // `-p` with a summary format: the summary, then the patch, as git.
                writeln!(out)?;
                args.format.write_patch(repo, &changes, out)?;
            }
        }
        shown += 1;
    }
    args.format.warn_rename_limit(rename_limit_needed, out)?;
    Ok(())
}
