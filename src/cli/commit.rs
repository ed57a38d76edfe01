//! `cow commit`.

use std::io::Write;

use clap::builder::TypedValueParser as _;
use cow::Repository;
use cow::diff::{DiffOptions, Status};
use cow::progress::Progress as _;
use cow::refs::Head;
use cow::repository::{ChangeAction, CommitOptions, CommitOutcome, OnChange};
use cow::worktree::{Progress, Warning};
use serde_json::{Map, Value, json};

use super::json::insert_path;
use super::progress::ProgressArgs;

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
    /// Replace HEAD's commit with one of the snapshot now: same parents and author,
    /// the message given or (with --no-edit) the old one
    #[arg(long)]
    amend: bool,
    /// With --amend and no -m: keep the old message instead of opening the editor
    #[arg(long, requires = "amend")]
    no_edit: bool,
    /// Accepted for git's `commit -a`: cow always snapshots every file
    #[arg(short = 'a', long = "all")]
    all: bool,
    /// Commit even if nothing changed since HEAD
    #[arg(long)]
    allow_empty: bool,
    /// Leave out files and directories that cannot be read, with a warning
    #[arg(long)]
    skip_unreadable: bool,
    /// What to do with a file that keeps changing while it is read: fail (the
    /// default, or the config's commit.onChange), skip (leave it out: a file HEAD has
    /// is recorded as deleted) or warn (store the bytes read). With skip and warn,
    /// vanished and unreadable files are left out too, the commit is made, and the
    /// exit status is 3 if any of this happened
    #[arg(
        long,
        value_name = "MODE",
        value_parser = clap::builder::PossibleValuesParser::new(["fail", "skip", "warn"])
            .map(|s| s.parse::<OnChange>().expect("one of the possible values")),
    )]
    on_change: Option<OnChange>,
    /// When nothing changed since HEAD, say so and exit 0 without a commit
    #[arg(long)]
    allow_unchanged: bool,
    /// Show sizes in KiB, MiB, GiB (default: exact bytes)
    #[arg(short = 'H', long)]
    human: bool,
    /// Print one JSON document (see docs/json.md)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    progress: ProgressArgs,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    // `-q` drops the summary, as git's does; a `--json` document is still printed.
    let out: &mut dyn Write = match args.progress.quiet && !args.json {
        true => &mut std::io::sink(),
        false => out,
    };
    let from_git = repo.identity_from_git()?;
    let reporter = args.progress.reporter("commit", args.json);
    // Files read and hashed (stored when new), with the bytes read beside them.
    let progress = |p: Progress| {
        reporter.extra("bytes", p.bytes_done);
        reporter.update("snapshot", p.files_done, p.files_total, "files");
    };
    let options = CommitOptions {
        allow_empty: args.allow_empty,
        skip_unreadable: args.skip_unreadable,
        on_change: args.on_change,
        progress: Some(&progress),
        ..CommitOptions::default()
    };
    let amended = match args.amend {
        true => Some(
            repo.head_commit()?
                .ok_or(cow::repository::Error::UnbornHead("amend"))?,
        ),
        false => None,
    };
    let message = if !args.message.is_empty() {
        Some(args.message.join("\n\n"))
    } else if let Some(old) = amended {
        match args.no_edit {
            true => None,
            false => Some(amend_message_from_editor(repo, old)?),
        }
    } else {
        Some(message_from_editor(repo, args.allow_empty)?)
    };
    let outcome = match (amended, &message) {
        (Some(_), message) => repo.amend(message.as_deref(), &options),
        (None, Some(message)) => repo.commit(message, &options),
        (None, None) => unreachable!("a commit without --amend always has a message"),
    };
    reporter.done();
    let outcome = match outcome {
        Err(cow::repository::Error::NothingToCommit) if args.allow_unchanged => {
            return unchanged(repo, args, out);
        }
        outcome => outcome?,
    };
    if !args.progress.quiet {
        say_identity_source(&from_git, args.json);
    }
    for warning in &outcome.warnings {
        if args.json {
            eprintln!("{}", warning_json(warning));
        } else {
            eprintln!("cow: warning: {warning}");
        }
    }
    let changes = Changes::count(repo, &outcome)?;
    if args.json {
        let doc = json!({
            "type": "commit", "schema": 1, "committed": true, "reason": null,
            "id": outcome.id.to_string(),
            "amended": amended.map(|id| id.to_string()),
            "branch": outcome.branch.as_ref().map(|b| b.shorten().to_owned()),
            "ref": outcome.branch.as_ref().map(|b| b.as_str().to_owned()),
            "parent": outcome.parent.map(|p| p.to_string()),
            "parents": outcome.parent.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "tree": outcome.tree.to_string(),
            "files": outcome.files,
            "hashed": outcome.hashed,
            "changed": changes.changed(),
            "added": changes.added,
            "modified": changes.modified,
            "deleted": changes.deleted,
            "objects_written": outcome.new_objects,
            "bytes_added": outcome.bytes_added,
            "on_change": outcome.on_change.as_str(),
            "complete": outcome.is_complete(),
            "changed_while_read": outcome.changed_while_read.iter().map(|c| {
                let mut fields = Map::new();
                insert_path(&mut fields, "path", "path_b64", &c.path);
                fields.insert("action".into(), c.action.as_str().into());
                fields.insert("reason".into(), if c.vanished { "vanished" } else { "changed" }.into());
                Value::Object(fields)
            }).collect::<Vec<_>>(),
            "unreadable": outcome.unreadable.iter().map(|path| {
                let mut fields = Map::new();
                insert_path(&mut fields, "path", "path_b64", path);
                Value::Object(fields)
            }).collect::<Vec<_>>(),
        });
        writeln!(out, "{doc}")?;
        return incomplete(&outcome, out);
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
    let mut kinds = Vec::new();
    if changes.added > 0 {
        kinds.push(format!("{} added", changes.added));
    }
    if changes.deleted > 0 {
        kinds.push(format!("{} deleted", changes.deleted));
    }
    let kinds = if kinds.is_empty() {
        String::new()
    } else {
        format!(" ({})", kinds.join(", "))
    };
    writeln!(
        out,
        " {} changed{kinds}, {} added to the store",
        counted(changes.changed(), "file"),
        size(outcome.bytes_added, args.human),
    )?;
    for file in &outcome.changed_while_read {
        let what = match (file.vanished, file.action) {
            (true, _) => "vanished while read, left out",
            (false, ChangeAction::Skipped) => "changed while read, left out",
            (false, ChangeAction::Stored) => "changed while read, stored as read",
        };
        writeln!(out, " {what}: {}", cow::quote::quote_fs_path(&file.path))?;
    }
    if !outcome.is_complete() {
        for path in &outcome.unreadable {
            let path = cow::quote::quote_fs_path(path);
            writeln!(out, " could not be read, left out: {path}")?;
        }
    }
    incomplete(&outcome, out)
}

/// Exit status 3 when the snapshot was made without some files as found (restic's
/// "snapshot created, but some files could not be read"); the summary is out first.
fn incomplete(outcome: &CommitOutcome, out: &mut dyn Write) -> anyhow::Result<()> {
    if outcome.is_complete() {
        return Ok(());
    }
    out.flush()?;
    Err(super::Quiet(3).into())
}

/// `commit --allow-unchanged` when the snapshot equals HEAD's: no commit, exit 0.
fn unchanged(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    const MESSAGE: &str = "nothing to commit, working directory matches HEAD";
    if !args.json {
        writeln!(out, "{MESSAGE}")?;
        return Ok(());
    }
    let head = repo.head_commit()?;
    let tree = match head {
        Some(id) => repo.odb().find_commit(&id)?.tree,
        None => cow::ObjectId::empty_tree(),
    };
    let branch = match repo.head()? {
        Head::Branch(name) => Some(name),
        Head::Detached(_) => None,
    };
    let doc = json!({
        "type": "commit", "schema": 1, "committed": false, "reason": MESSAGE,
        "id": null,
        "amended": null,
        "branch": branch.as_ref().map(|b| b.shorten().to_owned()),
        "ref": branch.as_ref().map(|b| b.as_str().to_owned()),
        "parent": head.map(|p| p.to_string()),
        "parents": head.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "tree": tree.to_string(),
        "files": null,
        "hashed": null,
        "changed": 0, "added": 0, "modified": 0, "deleted": 0,
        "objects_written": 0, "bytes_added": 0,
        "on_change": null, "complete": true, "changed_while_read": [], "unreadable": [],
    });
    writeln!(out, "{doc}")?;
    Ok(())
}

/// A scan warning as a JSON line for stderr.
fn warning_json(warning: &Warning) -> Value {
    let mut fields = Map::new();
    fields.insert("type".into(), "warning".into());
    fields.insert("message".into(), warning.to_string().into());
    match warning {
        Warning::SpecialFile { path }
        | Warning::ReservedName { path }
        | Warning::Unreadable { path }
        | Warning::Vanished { path }
        | Warning::ChangedWhileRead { path, .. } => {
            insert_path(&mut fields, "path", "path_b64", path)
        }
        Warning::IgnoreRule { .. } => {
            fields.insert("path".into(), Value::Null);
        }
    }
    Value::Object(fields)
}

/// Files the commit changed against its parent's tree (a moved file counts as one
/// deleted and one added; a file that became a symlink, or the reverse, as modified).
#[derive(Default)]
struct Changes {
    added: u64,
    modified: u64,
    deleted: u64,
}

impl Changes {
    fn count(repo: &Repository, outcome: &CommitOutcome) -> anyhow::Result<Changes> {
        let Some(parent) = outcome.parent else {
            // A root commit adds every file of the snapshot: no trees to read.
            return Ok(Changes {
                added: outcome.files,
                ..Changes::default()
            });
        };
        let parent_tree = repo.odb().find_commit(&parent)?.tree;
        let diff = repo.diff_trees(
            Some(parent_tree),
            Some(outcome.tree),
            &DiffOptions {
                renames: None,
                ..DiffOptions::default()
            },
        )?;
        let mut changes = Changes::default();
        for change in &diff.changes {
            match change.status {
                Status::Added => changes.added += 1,
                Status::Deleted => changes.deleted += 1,
                Status::Modified | Status::TypeChanged => changes.modified += 1,
                Status::Renamed => {
                    changes.added += 1;
                    changes.deleted += 1;
                }
            }
        }
        Ok(changes)
    }

    fn changed(&self) -> u64 {
        self.added + self.modified + self.deleted
    }
}

/// Says, once, which git config files gave the name or email (`cow: using user.name
/// and user.email from ~/.gitconfig`; a JSON warning line with `--json`).
fn say_identity_source(from_git: &[(&str, std::path::PathBuf)], json: bool) {
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
        let message = format!("using {} from {shown}", keys.join(" and "));
        if json {
            eprintln!(
                "{}",
                json!({"type": "warning", "message": message, "path": null})
            );
        } else {
            eprintln!("cow: {message}");
        }
    }
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

/// `commit --amend` without `-m`: the editor opens on the old message.
fn amend_message_from_editor(repo: &Repository, old: cow::ObjectId) -> anyhow::Result<String> {
    let status = repo.status(&cow::repository::StatusOptions::default())?;
    let old = repo.odb().find_commit(&old)?;
    super::editor::commit_message_from(&status, &String::from_utf8_lossy(&old.message))
}

/// "1 byte", "12345 bytes"; with `human`, "12.3 KiB" (bytes below 1 KiB as they are).
fn size(bytes: u64, human: bool) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if !human || bytes < 1024 {
        return counted(bytes, "byte");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    // One decimal, as long as it does not round up to the next unit.
    if format!("{value:.1}") == "1024.0" && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn sizes_are_exact_or_human() {
        assert_eq!(size(1, false), "1 byte");
        assert_eq!(size(12_345, false), "12345 bytes");
        assert_eq!(size(1023, true), "1023 bytes");
        assert_eq!(size(1024, true), "1.0 KiB");
        assert_eq!(size(12_595, true), "12.3 KiB");
        assert_eq!(size(1024 * 1024 - 1, true), "1.0 MiB");
        assert_eq!(size(5 << 30, true), "5.0 GiB");
    }
}
