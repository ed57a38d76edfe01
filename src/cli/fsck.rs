//! `cow fsck`.

use std::io::Write;

use cow::Repository;
use cow::repository::FsckOptions;

#[derive(clap::Args)]
pub struct Args {
    /// Skip re-hashing every object; check only what refs reach
    #[arg(long)]
    connectivity_only: bool,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let report = repo.fsck(&FsckOptions {
        connectivity_only: args.connectivity_only,
    })?;
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
