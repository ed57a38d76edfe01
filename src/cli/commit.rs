//! `cow commit`.

use std::io::Write;

use cow::Repository;
use cow::progress::Progress as _;
use cow::repository::CommitOptions;
use cow::worktree::Progress;

use super::progress::ProgressArgs;

#[derive(clap::Args)]
pub struct Args {
    /// The commit message; several are joined as paragraphs
    #[arg(
        short,
        long = "message",
        value_name = "MSG",
        required = true,
        allow_hyphen_values = true
    )]
    message: Vec<String>,
    /// Commit even if nothing changed since HEAD
    #[arg(long)]
    allow_empty: bool,
    /// Leave out files and directories that cannot be read, with a warning
    #[arg(long)]
    skip_unreadable: bool,
    #[command(flatten)]
    progress: ProgressArgs,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let out: &mut dyn Write = match args.progress.quiet {
        true => &mut std::io::sink(),
        false => out,
    };
    let from_git = repo.identity_from_git()?;
    let reporter = args.progress.reporter("commit", false);
    // Files read and hashed (stored when new), with the bytes read beside them.
    let progress = |p: Progress| {
        reporter.extra("bytes", p.bytes_done);
        reporter.update("snapshot", p.files_done, p.files_total, "files");
    };
    let options = CommitOptions {
        allow_empty: args.allow_empty,
        skip_unreadable: args.skip_unreadable,
        progress: Some(&progress),
        ..CommitOptions::default()
    };
    let outcome = repo.commit(&args.message.join("\n\n"), &options);
    reporter.done();
    let outcome = outcome?;
    if !args.progress.quiet {
        say_identity_source(&from_git);
    }
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

/// Says, once, which git config files gave the name or email (`cow: using user.name
/// and user.email from ~/.gitconfig`).
fn say_identity_source(from_git: &[(&str, std::path::PathBuf)]) {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let mut files: Vec<&std::path::Path> = Vec::new();
    for (_, path) in from_git {
        if !files.contains(&path.as_path()) {
            files.push(path);
        }
    }
    for file in files {
        let keys: Vec<&str> = from_git
            .iter()
            .filter(|(_, p)| p == file)
            .map(|(k, _)| *k)
            .collect();
        let shown = match home.as_deref().and_then(|h| file.strip_prefix(h).ok()) {
            Some(rest) => format!("~/{}", rest.display()),
            None => file.display().to_string(),
        };
        eprintln!("cow: using {} from {shown}", keys.join(" and "));
    }
}

/// "1 file", "2 files".
fn counted(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}
