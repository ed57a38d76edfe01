//! `cow fsck`.

use std::io::Write;

use cow::Repository;
use cow::repository::FsckOptions;

use super::progress::ProgressArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Skip re-hashing every object; check only what refs reach
    #[arg(long)]
    connectivity_only: bool,
    /// `--progress`, `--no-progress`; `-q` shows no progress (problems still show)
    #[command(flatten)]
    progress: ProgressArgs,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let reporter = args.progress.reporter("fsck", false);
    let report = repo.fsck(&FsckOptions {
        connectivity_only: args.connectivity_only,
        progress: Some(&reporter),
    });
    reporter.done();
    let report = report?;
    for problem in &report.problems {
        writeln!(out, "error: {problem}")?;
    }
    if !report.problems.is_empty() {
        out.flush()?;
        anyhow::bail!(
            "fsck found {} problem{} in {} objects checked",
            report.problems.len(),
            if report.problems.len() == 1 { "" } else { "s" },
            report.objects_checked
        );
    }
    writeln!(
        out,
        "checked {} objects: no problems found",
        report.objects_checked
    )?;
    Ok(())
}
