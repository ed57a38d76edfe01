//! `cow reset` and `cow revert`.

use std::io::Write;

use cow::Repository;
use cow::diff::ChangeKind;
use cow::repository::{CheckoutOptions, CommitOptions, ResetMode, StatusOptions};
use serde_json::{Value, json};

use super::checkout::{head_json, outcome_json};
use super::progress::ProgressArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Move the branch only; the working directory stays as it is
    #[arg(long, conflicts_with_all = ["mixed", "hard"])]
    soft: bool,
    /// The same as --soft, as cow has no staging area to reset (the default)
    #[arg(long, conflicts_with = "hard")]
    mixed: bool,
    /// Also move the working directory to REV, refusing to lose changes that are in
    /// no snapshot
    #[arg(long)]
    hard: bool,
    /// With --hard: discard local changes and replace untracked or ignored files in the
    /// way
    #[arg(short, long, requires = "hard")]
    force: bool,
    /// The commit to move the branch (or detached HEAD) to
    #[arg(default_value = "HEAD")]
    rev: String,
    /// Print one JSON document (see docs/json.md)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    progress: ProgressArgs,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let out: &mut dyn Write = match args.progress.quiet && !args.json {
        true => &mut std::io::sink(),
        false => out,
    };
    let mode = if args.hard {
        ResetMode::Hard
    } else if args.soft {
        ResetMode::Soft
    } else {
        ResetMode::Mixed
    };
    let before = repo.head()?;
    let reporter = args.progress.reporter("reset", args.json);
    let outcome = repo.reset(
        args.rev.as_str(),
        mode,
        &CheckoutOptions {
            force: args.force,
            dry_run: false,
            progress: Some(&reporter),
        },
    );
    reporter.done();
    let outcome = outcome?;
    if args.json {
        let mut doc = match &outcome.checkout {
            Some(checkout) => outcome_json("reset", checkout, false),
            None => {
                let mut doc = serde_json::Map::new();
                doc.insert("type".into(), "reset".into());
                doc.insert("schema".into(), 1.into());
                doc.insert("dry_run".into(), false.into());
                doc.insert("target".into(), outcome.target.to_string().into());
                doc
            }
        };
        let mode = match mode {
            ResetMode::Soft => "soft",
            ResetMode::Mixed => "mixed",
            ResetMode::Hard => "hard",
        };
        doc.insert("mode".into(), mode.into());
        doc.insert("head_before".into(), head_json(&before, outcome.old));
        doc.insert(
            "head_after".into(),
            head_json(&outcome.head, Some(outcome.target)),
        );
        writeln!(out, "{}", Value::Object(doc))?;
        return Ok(());
    }
    match mode {
        // git's words after `reset --hard`.
        ResetMode::Hard => {
            let short = repo.odb().shortest_unique_prefix(&outcome.target, 7)?;
            let subject = repo.odb().find_commit(&outcome.target)?.summary();
            writeln!(out, "HEAD is now at {short} {subject}")?;
        }
        ResetMode::Soft => {}
        // As git's `--mixed`: the tracked files that now differ from HEAD (files HEAD
        // does not have are untracked, which git does not list either).
        ResetMode::Mixed => {
            let status = repo.status(&StatusOptions::default())?;
            let mut first = true;
            for change in &status.changes {
                let letter = match change.kind() {
                    ChangeKind::Added => continue,
                    ChangeKind::Deleted => 'D',
                    ChangeKind::Modified => 'M',
                    ChangeKind::TypeChanged => 'T',
                };
                if std::mem::take(&mut first) {
                    writeln!(out, "Unstaged changes after reset:")?;
                }
                writeln!(out, "{letter}\t{}", change.path.quoted())?;
            }
        }
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct RevertArgs {
    /// The commit whose changes to undo
    rev: String,
    /// Accepted for git's `revert --no-edit`: the message is always git's default one
    #[arg(long)]
    no_edit: bool,
    /// Print one JSON document (see docs/json.md)
    #[arg(long)]
    pub json: bool,
    /// Print no summary
    #[arg(short, long)]
    quiet: bool,
}

pub fn revert(repo: &Repository, args: &RevertArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let outcome = repo.revert(args.rev.as_str(), &CommitOptions::default())?;
    if args.json {
        let doc = json!({
            "type": "revert", "schema": 1,
            "id": outcome.id.to_string(),
            "reverted": outcome.reverted.to_string(),
            "branch": outcome.branch.as_ref().map(|b| b.shorten().to_owned()),
            "ref": outcome.branch.as_ref().map(|b| b.as_str().to_owned()),
            "parent": outcome.parent.to_string(),
            "tree": outcome.tree.to_string(),
            "written": outcome.checkout.applied.written,
            "removed": outcome.checkout.applied.removed,
        });
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    if args.quiet {
        return Ok(());
    }
    let place = match &outcome.branch {
        Some(name) => name.shorten().to_owned(),
        None => "detached HEAD".to_owned(),
    };
    let subject = repo.odb().find_commit(&outcome.id)?.summary();
    writeln!(out, "[{place} {}] {subject}", outcome.id)?;
    Ok(())
}
