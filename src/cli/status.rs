//! `cow status`.

use std::io::Write;

use cow::Repository;
use cow::diff::{Change, ChangeKind};
use cow::object::quote_path_status as quote_path;
use cow::refs::Head;
use cow::repository::StatusOptions;

#[derive(clap::Args)]
pub struct Args {
    /// One `XY path` line per change, stable for scripts (git's porcelain v1)
    #[arg(long)]
    porcelain: bool,
    /// The same short format
    #[arg(short, long)]
    short: bool,
    /// With --porcelain or --short: end lines with NUL and do not quote paths
    #[arg(short)]
    z: bool,
    /// With --porcelain or --short: first a `## BRANCH` line, as git's
    #[arg(short, long)]
    branch: bool,
    /// `all` lists every file of a new directory, `normal` the directory alone
    #[arg(short = 'u', long = "untracked-files", value_name = "MODE", default_value = "normal",
          num_args = 0..=1, default_missing_value = "all",
          value_parser = ["normal", "all"])]
    untracked: String,
}

fn code(change: &Change) -> &'static str {
    match change.kind() {
        ChangeKind::Added => "??",
        ChangeKind::Deleted => " D",
        ChangeKind::Modified => " M",
        ChangeKind::TypeChanged => " T",
    }
}

/// The path as shown: directories end in `/`.
fn shown_path(change: &Change) -> Vec<u8> {
    let mut path = change.path.as_bytes().to_vec();
    if change.is_tree() {
        path.push(b'/');
    }
    path
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let status = repo.status(&StatusOptions {
        all_untracked: args.untracked == "all",
    })?;
    // Tracked changes first, then new paths, each in path order (as git lists them).
    let (new, tracked): (Vec<&Change>, Vec<&Change>) = status
        .changes
        .iter()
        .partition(|c| c.kind() == ChangeKind::Added);
    if args.porcelain || args.short {
        if args.branch {
            let header = match (&status.head, status.head_commit) {
                (Head::Branch(name), Some(_)) => format!("## {}", name.shorten()),
                (Head::Branch(name), None) => format!("## No commits yet on {}", name.shorten()),
                (Head::Detached(_), _) => "## HEAD (no branch)".to_owned(),
            };
            write!(out, "{header}{}", if args.z { '\0' } else { '\n' })?;
        }
        for change in tracked.iter().chain(&new) {
            let path = shown_path(change);
            if args.z {
                write!(out, "{} ", code(change))?;
                out.write_all(&path)?;
                out.write_all(b"\0")?;
            } else {
                writeln!(out, "{} {}", code(change), quote_path(&path))?;
            }
        }
        return Ok(());
    }
    match &status.head {
        Head::Branch(name) => writeln!(out, "On branch {}", name.shorten())?,
        Head::Detached(id) => writeln!(out, "HEAD detached at {}", id.to_hex_prefix(12))?,
    }
    if status.head_commit.is_none() {
        writeln!(out, "\nNo commits yet")?;
    }
    if !tracked.is_empty() {
        writeln!(out, "\nChanges not yet in a snapshot:")?;
        writeln!(
            out,
            "  (use \"cow commit -m <message>\" to snapshot them, \"cow restore <path>\" to discard them)"
        )?;
        for change in &tracked {
            let label = match change.kind() {
                ChangeKind::Deleted => "deleted:    ",
                ChangeKind::TypeChanged => "typechange: ",
                _ => "modified:   ",
            };
            writeln!(out, "\t{label}{}", quote_path(&shown_path(change)))?;
        }
    }
    if !new.is_empty() {
        writeln!(out, "\nUntracked files:")?;
        writeln!(
            out,
            "  (use \"cow commit -m <message>\" to include them in a snapshot)"
        )?;
        for change in &new {
            writeln!(out, "\t{}", quote_path(&shown_path(change)))?;
        }
    }
    if status.is_clean() {
        writeln!(out, "nothing to commit, working tree clean")?;
    } else {
        writeln!(out)?;
    }
    Ok(())
}
