//! `cow commit`.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cow::Repository;
use cow::repository::CommitOptions;
use cow::worktree::Progress;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(clap::Args)]
pub struct Args {
    /// The commit message; several are joined as paragraphs. Without it, the editor
    /// opens ($GIT_EDITOR, $VISUAL, $EDITOR or vi), as in git
    #[arg(
        short,
        long = "message",
        value_name = "MSG",
        allow_hyphen_values = true
    )]
    message: Vec<String>,
    /// Accepted for git's `commit -a`: cow always snapshots every file
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Commit even if nothing changed since HEAD
    #[arg(long)]
    allow_empty: bool,
    /// Leave out files and directories that cannot be read, with a warning
    #[arg(long)]
    skip_unreadable: bool,
}

/// Shows a progress bar on stderr once a snapshot has taken longer than this.
const PROGRESS_AFTER: Duration = Duration::from_millis(300);

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let started = Instant::now();
    let bar: OnceLock<ProgressBar> = OnceLock::new();
    let show_progress = std::io::stderr().is_terminal();
    let progress = |p: Progress| {
        if !show_progress || started.elapsed() < PROGRESS_AFTER {
            return;
        }
        let bar = bar.get_or_init(|| {
            let bar = ProgressBar::new(p.files_total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} snapshot {pos}/{len} files, {msg} [{elapsed}]",
                )
                .expect("template is valid"),
            );
            bar
        });
        bar.set_position(p.files_done);
        bar.set_message(indicatif::HumanBytes(p.bytes_done).to_string());
    };
    let options = CommitOptions {
        allow_empty: args.allow_empty,
        skip_unreadable: args.skip_unreadable,
        progress: Some(&progress),
        ..CommitOptions::default()
    };
    let message = if args.message.is_empty() {
        message_from_editor(repo, args.allow_empty)?
    } else {
        args.message.join("\n\n")
    };
    let outcome = repo.commit(&message, &options);
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }
    let outcome = outcome?;
    for warning in &outcome.warnings {
        eprintln!("cow: warning: {warning}");
    }
    let commit = repo.odb().find_commit(&outcome.id)?;
    let place = match &outcome.branch {
        Some(name) => name.shorten().to_owned(),
        None => "detached HEAD".to_owned(),
    };
    let root = if outcome.parent.is_none() {
        " (root-commit)"
    } else {
        ""
    };
    writeln!(out, "[{place}{root} {}] {}", outcome.id, commit.summary())?;
    writeln!(
        out,
        " {}, {}, {} added to the store",
        counted(outcome.files, "file"),
        counted(outcome.new_objects, "new object"),
        counted(outcome.bytes_added, "byte"),
    )?;
    Ok(())
}

/// "1 file", "2 files".
fn counted(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// `commit` without `-m`: refuses "nothing to commit" before the editor opens (as git
/// does), then asks the editor for the message.
fn message_from_editor(repo: &Repository, allow_empty: bool) -> anyhow::Result<String> {
    let status = repo.status(&cow::repository::StatusOptions::default())?;
    if status.is_clean() && status.head_commit.is_some() && !allow_empty {
        return Err(cow::repository::Error::NothingToCommit.into());
    }
    super::editor::commit_message(&status)
}
