//! `cow checkout` and `cow restore`.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use cow::Repository;
use cow::refs::Head;
use cow::repository::{CheckoutOptions, CheckoutOutcome};
use cow::worktree::Op;

use super::progress::ProgressArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Create branch NAME at REV (default HEAD) and switch to it
    #[arg(short = 'b', value_name = "NAME")]
    new_branch: Option<String>,
    /// Discard local changes and replace untracked or ignored files in the way
    #[arg(short, long)]
    force: bool,
    /// Print what would change and change nothing
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// A branch (attaches HEAD) or any other revision (detaches HEAD)
    #[arg(required_unless_present = "new_branch")]
    rev: Option<String>,
    #[command(flatten)]
    progress: ProgressArgs,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let out: &mut dyn Write = match args.progress.quiet {
        true => &mut std::io::sink(),
        false => out,
    };
    let reporter = args.progress.reporter("checkout", false);
    let options = CheckoutOptions {
        force: args.force,
        dry_run: args.dry_run,
        progress: Some(&reporter),
    };
    let outcome = match &args.new_branch {
        Some(name) => repo.checkout_new_branch(name, args.rev.as_deref(), &options),
        None => repo.checkout(args.rev.as_deref().expect("clap requires REV"), &options),
    };
    reporter.done();
    let outcome = outcome?;
    if args.dry_run {
        return print_plan(&outcome, out);
    }
    let summary = summary(&outcome);
    match &outcome.head {
        Head::Branch(name) => writeln!(out, "Switched to branch '{}' ({summary})", name.shorten())?,
        Head::Detached(id) => {
            let subject = repo.odb().find_commit(id)?.summary();
            writeln!(
                out,
                "HEAD is now at {} {subject} ({summary})",
                id.to_hex_prefix(12)
            )?
        }
    }
    Ok(())
}

fn summary(outcome: &CheckoutOutcome) -> String {
    let a = &outcome.applied;
    format!(
        "{} written, {} removed, {} directories created, {} modes changed",
        a.written, a.removed, a.created_dirs, a.modes_changed
    )
}

/// Lists a dry run's operations, one per line.
fn print_plan(outcome: &CheckoutOutcome, out: &mut dyn Write) -> anyhow::Result<()> {
    for op in &outcome.plan.ops {
        let verb = match op {
            Op::Remove { .. } | Op::Purge { .. } => "remove",
            Op::RemoveDir { .. } => "remove directory",
            Op::MkDir { .. } => "create directory",
            Op::Write { .. } => "write",
            Op::SetMode { .. } => "change mode",
        };
        writeln!(out, "would {verb} {}", op.path().quoted())?;
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The snapshot to restore from
    #[arg(short, long, value_name = "REV", default_value = "HEAD")]
    source: String,
    /// Print what would change and change nothing
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Also replace untracked or ignored files in the way
    #[arg(short, long)]
    force: bool,
    /// Files or directories, relative to the current directory
    #[arg(required = true)]
    paths: Vec<OsString>,
    #[command(flatten)]
    progress: ProgressArgs,
}

pub fn restore(
    repo: &Repository,
    cwd: &Path,
    args: &RestoreArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut paths = Vec::new();
    for arg in &args.paths {
        paths.push(super::paths::repo_path(
            repo.work_dir(),
            cwd,
            Path::new(arg),
        )?);
    }
    if paths.iter().any(|path| path.is_root()) {
        paths.clear(); // the root: everything
    }
    let out: &mut dyn Write = match args.progress.quiet {
        true => &mut std::io::sink(),
        false => out,
    };
    let reporter = args.progress.reporter("restore", false);
    let outcome = repo.restore(
        &args.source,
        &paths,
        &CheckoutOptions {
            force: args.force,
            dry_run: args.dry_run,
            progress: Some(&reporter),
        },
    );
    reporter.done();
    let outcome = outcome?;
    if args.dry_run {
        return print_plan(&outcome, out);
    }
    writeln!(
        out,
        "Restored from {} ({})",
        outcome.target.to_hex_prefix(12),
        summary(&outcome)
    )?;
    Ok(())
}
