//! The commit message editor, as git opens it: `$GIT_EDITOR`, `$VISUAL`, `$EDITOR`, else
//! `vi` (refused on a dumb terminal), run by the shell on a temporary file whose lines
//! starting with `#` are dropped.

use std::io::Write;

use cow::diff::ChangeKind;
use cow::refs::Head;
use cow::repository::Status;

/// The editor command, as git chooses it; `None` when none is set and the terminal is
/// dumb (git refuses to start `vi` there).
fn editor() -> Option<String> {
    for var in ["GIT_EDITOR", "VISUAL", "EDITOR"] {
        if let Ok(value) = std::env::var(var)
            && !value.is_empty()
        {
            return Some(value);
        }
    }
    let dumb = std::env::var("TERM").map_or(true, |t| t == "dumb");
    (!dumb).then(|| "vi".to_owned())
}

/// The template: an empty first line, then git's instructions and what the snapshot
/// will change, as comments.
fn template(status: &Status) -> String {
    let mut text = String::from(
        "\n# Please enter the commit message for your changes. Lines starting\n\
         # with '#' will be ignored, and an empty message aborts the commit.\n#\n",
    );
    match &status.head {
        Head::Branch(name) => text.push_str(&format!("# On branch {}\n", name.shorten())),
        Head::Detached(id) => {
            text.push_str(&format!("# HEAD detached at {}\n", id.to_hex_prefix(12)))
        }
    }
    if !status.changes.is_empty() {
        text.push_str("#\n# Changes in this snapshot (cow snapshots every file):\n");
        for change in &status.changes {
            let label = match change.kind() {
                ChangeKind::Added => "new file:   ",
                ChangeKind::Deleted => "deleted:    ",
                ChangeKind::Modified => "modified:   ",
                ChangeKind::TypeChanged => "typechange: ",
            };
            let path = cow::object::quote_path_status(change.path.as_bytes());
            text.push_str(&format!("#\t{label}{path}\n"));
        }
    }
    text.push_str("#\n");
    text
}

/// git's `--cleanup=strip`: drop comment lines and trailing whitespace, fold runs of
/// blank lines into one, and drop blank lines at either end.
pub fn cleanup(text: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let line = line.trim_end();
        if line.is_empty() && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut message = lines.join("\n");
    if !message.is_empty() {
        message.push('\n');
    }
    message
}

/// Opens the editor on the template and returns the cleaned-up message; an empty one
/// is refused with git's words.
pub fn commit_message(status: &Status) -> anyhow::Result<String> {
    commit_message_from(status, "")
}

/// Like [`commit_message`], the file starting with `initial` (an amended commit's
/// message) above the template's comments.
pub fn commit_message_from(status: &Status, initial: &str) -> anyhow::Result<String> {
    let Some(editor) = editor() else {
        anyhow::bail!(
            "terminal is dumb, but EDITOR unset: give the message with -m MSG, or set \
             GIT_EDITOR, VISUAL or EDITOR"
        );
    };
    let mut file = tempfile::Builder::new()
        .prefix("COW_EDITMSG-")
        .tempfile()
        .map_err(|e| anyhow::anyhow!("could not create the commit message file: {e}"))?;
    file.write_all(initial.trim_end_matches('\n').as_bytes())?;
    file.write_all(template(status).as_bytes())?;
    file.flush()?;
    // As git: the shell runs the editor command with the file as its argument, so an
    // editor setting may hold options (`code --wait`).
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$@\""))
        .arg(&editor)
        .arg(file.path())
        .status()
        .map_err(|e| anyhow::anyhow!("could not run the editor '{editor}': {e}"))?;
    if !status.success() {
        anyhow::bail!(
            "there was a problem with the editor '{editor}'; give the message with -m MSG"
        );
    }
    let text = std::fs::read(file.path())?;
    let message = cleanup(&String::from_utf8_lossy(&text));
    if message.is_empty() {
        anyhow::bail!("Aborting commit due to empty commit message.");
    }
    Ok(message)
}
