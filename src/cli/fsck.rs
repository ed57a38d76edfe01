//! `cow fsck`.

use std::io::Write;

use cow::Repository;
use cow::repository::{FsckOptions, Problem};
use serde_json::{Map, Value, json};

use super::json::insert_repo_path;

use super::progress::ProgressArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Skip re-hashing every object; check only what refs reach
    #[arg(long)]
    connectivity_only: bool,
    /// Print one JSON document (see docs/json.md)
    #[arg(long)]
    pub json: bool,
    /// `--progress`, `--no-progress`; `-q` shows no progress (problems still show)
    #[command(flatten)]
    progress: ProgressArgs,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let reporter = args.progress.reporter("fsck", args.json);
    let report = repo.fsck(&FsckOptions {
        connectivity_only: args.connectivity_only,
        progress: Some(&reporter),
    });
    reporter.done();
    let report = report?;
    if args.json {
        let problems: Vec<Value> = report.problems.iter().map(problem_json).collect();
        let doc = json!({
            "type": "fsck", "schema": 1,
            "objects_checked": report.objects_checked,
            "ok": report.problems.is_empty(),
            "problems": problems,
            "notes": report.notes,
        });
        writeln!(out, "{doc}")?;
    } else {
        for problem in &report.problems {
            writeln!(out, "error: {problem}")?;
        }
        for note in &report.notes {
            writeln!(out, "note: {note}")?;
        }
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
    if args.json {
        return Ok(());
    }
    writeln!(
        out,
        "checked {} objects: no problems found",
        report.objects_checked
    )?;
    Ok(())
}

/// One finding: the object, ref, commit and path it concerns (each `null` when it
/// does not apply), the message, and the line the text output prints.
fn problem_json(problem: &Problem) -> Value {
    let mut fields = Map::new();
    fields.insert("type".into(), "problem".into());
    fields.insert("id".into(), problem.id.map(|id| id.to_string()).into());
    fields.insert("ref".into(), problem.reference.clone().into());
    fields.insert(
        "commit".into(),
        problem.commit.map(|id| id.to_string()).into(),
    );
    match &problem.path {
        Some(path) => insert_repo_path(&mut fields, "path", "path_b64", path),
        None => {
            fields.insert("path".into(), Value::Null);
        }
    }
    fields.insert("message".into(), problem.message.clone().into());
    fields.insert("text".into(), problem.to_string().into());
    Value::Object(fields)
}
