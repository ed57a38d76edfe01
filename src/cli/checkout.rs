//! `cow checkout` and `cow restore`.

use std::ffi::OsString;
use std::io::Write;
use std::path::Path;

use cow::object::RepoPath;
use cow::refs::Head;
use cow::repository::{CheckoutOptions, CheckoutOutcome};
use cow::worktree::Op;
use cow::{ObjectId, Repository, Rev};
use serde_json::{Map, Value, json};

use super::json::insert_repo_path;

use super::progress::ProgressArgs;

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
    /// Print one JSON document (see docs/json.md)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    progress: ProgressArgs,
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
    let out: &mut dyn Write = match args.progress.quiet && !args.json {
        true => &mut std::io::sink(),
        false => out,
    };
    let reporter = args.progress.reporter("checkout", args.json);
    let options = CheckoutOptions {
        force: args.force,
        dry_run: args.dry_run,
        progress: Some(&reporter),
    };
    if let Some(hint) = restore_hint(args) {
        return Err(hint.into());
    }
    let before = (repo.head()?, repo.head_commit()?);
    let outcome = match &args.new_branch {
        Some(name) => repo.checkout_new_branch(name, args.rev.as_deref().map(Rev::from), &options),
        None => {
            let rev = args.rev.as_deref().expect("clap requires REV");
            if args.detach {
                repo.resolve_commit(rev)
                    .and_then(|id| repo.checkout(id, &options))
            } else {
                repo.checkout(rev, &options)
            }
        }
    };
    reporter.done();
    let outcome = outcome?;
    if let Head::Detached(old) = before.0
        && !args.dry_run
        && old != outcome.target
    {
        warn_left_behind(repo, old, outcome.target, args.json)?;
    }
    if args.json {
        let mut doc = outcome_json("checkout", &outcome, args.dry_run);
        doc.insert("head_before".into(), head_json(&before.0, before.1));
        doc.insert(
            "head_after".into(),
            head_json(&outcome.head, Some(outcome.target)),
        );
        writeln!(out, "{}", Value::Object(doc))?;
        return Ok(());
    }
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

/// git's warning when a checkout moves a detached HEAD away from commits no branch,
/// tag or remote-tracking branch reaches: the first few listed, and how to keep them.
fn warn_left_behind(
    repo: &Repository,
    old: ObjectId,
    new: ObjectId,
    json: bool,
) -> anyhow::Result<()> {
    // As git's ORPHAN_CUTOFF: four listed, a fifth only if it is the last.
    const SHOWN: usize = 4;
    let lost = repo.orphaned_commits(old, Some(new))?;
    if lost.is_empty() {
        return Ok(());
    }
    let describe = |id: &ObjectId| -> anyhow::Result<String> {
        let short = repo.odb().shortest_unique_prefix(id, 7)?;
        Ok(format!(
            "  {short} {}",
            repo.odb().find_commit(id)?.summary()
        ))
    };
    let mut lines = Vec::new();
    for id in lost.iter().take(SHOWN) {
        lines.push(describe(id)?);
    }
    match lost.len().saturating_sub(SHOWN) {
        0 => {}
        1 => lines.push(describe(&lost[SHOWN])?),
        more => lines.push(format!(" ... and {more} more.")),
    }
    let (count, it) = match lost.len() {
        1 => ("1 commit".to_owned(), "it"),
        n => (format!("{n} commits"), "them"),
    };
    let short = repo.odb().shortest_unique_prefix(&old, 7)?;
    if json {
        let message = format!(
            "you are leaving {count} behind, not connected to any of your branches: {}; \
             to keep {it}: cow branch <new-branch-name> {short}",
            lines
                .iter()
                .map(|l| l.trim())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let ids: Vec<String> = lost.iter().map(ToString::to_string).collect();
        eprintln!(
            "{}",
            json!({"type": "warning", "message": message, "path": null, "commits": ids})
        );
        return Ok(());
    }
    let listed: String = lines.iter().map(|l| format!("{l}\n")).collect();
    eprint!(
        "Warning: you are leaving {count} behind, not connected to\n\
         any of your branches:\n\n{listed}\n\
         If you want to keep {it} by creating a new branch, this may be a good time\n\
         to do so with:\n\n cow branch <new-branch-name> {short}\n\n"
    );
    Ok(())
}

fn summary(outcome: &CheckoutOutcome) -> String {
    let a = &outcome.applied;
    format!(
        "{} written, {} removed, {} directories created, {} modes changed",
        a.written, a.removed, a.created_dirs, a.modes_changed
    )
}

/// HEAD as a JSON record: its branch (or `null` when detached) and commit (`null` on a
/// branch with no commits yet).
pub(super) fn head_json(head: &Head, id: Option<ObjectId>) -> Value {
    let (branch, name) = match head {
        Head::Branch(name) => (Some(name.as_str()), Some(name.shorten())),
        Head::Detached(_) => (None, None),
    };
    json!({
        "type": "head",
        "ref": branch,
        "branch": name,
        "detached": matches!(head, Head::Detached(_)),
        "id": id.map(|id| id.to_string()),
    })
}

/// The fields checkout and restore share: the target, what was done (all zero in a
/// dry run) and the plan's operations, in order.
pub(super) fn outcome_json(
    kind: &str,
    outcome: &CheckoutOutcome,
    dry_run: bool,
) -> Map<String, Value> {
    let a = &outcome.applied;
    let ops: Vec<Value> = outcome.plan.ops.iter().map(op_json).collect();
    let mut doc = Map::new();
    doc.insert("type".into(), kind.into());
    doc.insert("schema".into(), 1.into());
    doc.insert("dry_run".into(), dry_run.into());
    doc.insert("target".into(), outcome.target.to_string().into());
    doc.insert("written".into(), a.written.into());
    doc.insert("removed".into(), a.removed.into());
    doc.insert("created_dirs".into(), a.created_dirs.into());
    doc.insert("modes_changed".into(), a.modes_changed.into());
    doc.insert("ops".into(), ops.into());
    doc
}

/// One step of a checkout plan: `op` (`write`, `remove`, `remove_dir`, `mkdir`,
/// `set_mode`), the path, and for `write` and `set_mode` the mode and blob.
pub(super) fn op_json(op: &Op) -> Value {
    let (name, entry) = match op {
        Op::Remove { .. } | Op::Purge { .. } => ("remove", None),
        Op::RemoveDir { .. } => ("remove_dir", None),
        Op::MkDir { .. } => ("mkdir", None),
        Op::Write { mode, id, .. } => ("write", Some((mode, id))),
        Op::SetMode { mode, id, .. } => ("set_mode", Some((mode, id))),
    };
    let mut fields = Map::new();
    fields.insert("type".into(), "op".into());
    fields.insert("op".into(), name.into());
    insert_repo_path(&mut fields, "path", "path_b64", op.path());
    fields.insert(
        "mode".into(),
        entry.map(|(mode, _)| mode.to_string()).into(),
    );
    fields.insert("id".into(), entry.map(|(_, id)| id.to_string()).into());
    Value::Object(fields)
}

/// Lists a dry run's operations, one per line.
fn print_plan(outcome: &CheckoutOutcome, out: &mut dyn Write) -> anyhow::Result<()> {
    print_ops(&outcome.plan.ops, out)
}

/// Lists a plan's operations as a dry run shows them, one per line.
pub(super) fn print_ops(ops: &[Op], out: &mut dyn Write) -> anyhow::Result<()> {
    for op in ops {
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
    pub(super) source: String,
    /// Write the snapshot (or PATHs of it) into DIR instead, a directory that need not
    /// be a repository (made if missing); files already there that differ are refused
    /// unless --force, other files are left alone
    #[arg(long, value_name = "DIR")]
    pub(super) target: Option<std::path::PathBuf>,
    /// Print what would change and change nothing
    #[arg(short = 'n', long)]
    pub(super) dry_run: bool,
    /// Discard unsaved changes to those paths, and replace untracked or ignored files
    /// in the way (with --target: replace files in DIR that differ)
    #[arg(short, long)]
    pub(super) force: bool,
    /// git's `restore --staged`: answered with a hint (cow has no staging area), or
    /// with --worktree, the same as without either
    #[arg(short = 'S', long, hide = true)]
    staged: bool,
    /// Accepted for git's `restore --worktree`: the working directory is what cow
    /// restores
    #[arg(short = 'W', long)]
    worktree: bool,
    /// Files or directories, relative to the current directory (with --target and no
    /// PATH: the whole snapshot)
    #[arg(required_unless_present = "target")]
    pub(super) paths: Vec<OsString>,
    /// Print one JSON document (see docs/json.md)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub(super) progress: ProgressArgs,
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
    if let Some(dir) = &args.target {
        return super::restore_to::run(repo, cwd, args, dir, out);
    }
    let mut paths = Vec::new();
    for arg in &args.paths {
        paths.push(super::paths::repo_path(
            repo.require_work_dir()?,
            cwd,
            Path::new(arg),
        )?);
    }
    if paths.iter().any(|path| path.is_root()) {
        paths.clear(); // the root: everything
    }
    let out: &mut dyn Write = match args.progress.quiet && !args.json {
        true => &mut std::io::sink(),
        false => out,
    };
    let reporter = args.progress.reporter("restore", args.json);
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
    if args.json {
        let mut doc = outcome_json("restore", &outcome, args.dry_run);
        // The files and symlinks restored (or, in a dry run, to restore): written,
        // removed or given their mode back.
        let mut restored: Vec<&RepoPath> = outcome
            .plan
            .ops
            .iter()
            .filter(|op| !matches!(op, Op::MkDir { .. } | Op::RemoveDir { .. }))
            .map(Op::path)
            .collect();
        restored.sort();
        restored.dedup();
        let paths: Vec<Value> = restored
            .into_iter()
            .map(|path| {
                let mut fields = Map::new();
                fields.insert("type".into(), "path".into());
                insert_repo_path(&mut fields, "path", "path_b64", path);
                Value::Object(fields)
            })
            .collect();
        doc.insert("paths".into(), paths.into());
        writeln!(out, "{}", Value::Object(doc))?;
        return Ok(());
    }
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
