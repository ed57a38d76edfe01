//! `cow checkout` and `cow restore`.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use cow::Repository;
use cow::refs::Head;
use cow::repository::{CheckoutOptions, CheckoutOutcome};
use cow::worktree::Op;

#[derive(clap::Args)]
pub struct Args {
    /// Create branch NAME at REV (default HEAD) and switch to it (`switch -c` as well)
    #[arg(short = 'b', short_alias = 'c', long = "create", value_name = "NAME")]
    new_branch: Option<String>,
    /// Detach HEAD at REV even when it is a branch (any other revision detaches it)
    #[arg(long, conflicts_with = "new_branch")]
    detach: bool,
    /// Discard local changes and replace untracked or ignored files in the way
    #[arg(short, long)]
    force: bool,
    /// Print what would change and change nothing
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// A branch (attaches HEAD) or any other revision (detaches HEAD)
    #[arg(required_unless_present_any = ["new_branch", "paths"])]
    rev: Option<String>,
    /// git's `checkout -- FILE`: answered with a hint (that is `cow restore FILE`)
    #[arg(last = true, hide = true)]
    paths: Vec<OsString>,
}

/// `checkout [REV] -- FILE`: git's way to bring back files, which is `restore` here.
fn restore_hint(args: &Args) -> Option<super::Usage> {
    if args.paths.is_empty() {
        return None;
    }
    let source = match &args.rev {
        Some(rev) => format!(" --source {rev}"),
        None => String::new(),
    };
    Some(super::Usage(format!(
        "checkout moves HEAD to another snapshot; to bring back files without moving \
         HEAD, use `cow restore{source} PATH...`"
    )))
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let options = CheckoutOptions {
        force: args.force,
        dry_run: args.dry_run,
    };
    if let Some(hint) = restore_hint(args) {
        return Err(hint.into());
    }
    let outcome = match &args.new_branch {
        Some(name) => repo.checkout_new_branch(name, args.rev.as_deref(), &options)?,
        None => {
            let rev = args.rev.as_deref().expect("clap requires REV");
            if args.detach {
                repo.checkout(&repo.resolve_commit(rev)?.to_string(), &options)?
            } else {
                repo.checkout(rev, &options)?
            }
        }
    };
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
    /// git's `restore --staged`: answered with a hint (cow has no staging area), or
    /// with --worktree, the same as without either
    #[arg(short = 'S', long, hide = true)]
    staged: bool,
    /// Accepted for git's `restore --worktree`: the working directory is what cow
    /// restores
    #[arg(short = 'W', long)]
    worktree: bool,
    /// Files or directories, relative to the current directory
    #[arg(required = true)]
    paths: Vec<OsString>,
}

pub fn restore(
    repo: &Repository,
    cwd: &Path,
    args: &RestoreArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if args.staged && !args.worktree {
        return Err(super::Usage(
            "there is no staging area, so nothing to unstage: every commit snapshots the \
             whole working directory; `cow restore PATH` brings back HEAD's version of a file"
                .into(),
        )
        .into());
    }
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
    let outcome = repo.restore(
        &args.source,
        &paths,
        &CheckoutOptions {
            force: args.force,
            dry_run: args.dry_run,
        },
    )?;
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
