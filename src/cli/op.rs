//! `cow op log|restore|abandon`, `cow undo` and `cow redo`: the operation log.

use std::io::Write;

use cow::Repository;
use cow::object::date::iso_date;
use cow::refs::Value as RefValue;
use cow::repository::{CheckoutOptions, OpEntry, OpOutcome, ViewChange};
use serde_json::{Map, Value, json};

use super::json::{errors_as_json, insert_time};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// List operations, newest first, with what each changed
    Log(LogArgs),
    /// Set every branch, tag and HEAD as they were after operation OP
    Restore(RestoreArgs),
    /// Drop operation OP and every one before it from the log (`..OP`); gc then frees
    /// what only they kept
    Abandon(AbandonArgs),
}

#[derive(clap::Args)]
struct LogArgs {
    /// Show at most N operations
    #[arg(short = 'n', long = "limit", value_name = "N")]
    limit: Option<usize>,
    /// Print JSON Lines, one operation a line (see docs/json.md)
    #[arg(long)]
    json: bool,
}

/// Options of every command that restores a view.
#[derive(clap::Args)]
pub struct RestoreOptions {
    /// Move the working directory even when that loses unsaved changes
    #[arg(short, long)]
    force: bool,
    /// Print one JSON document (see docs/json.md)
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
struct RestoreArgs {
    /// The operation: an id or unique prefix, `@` (the last) or `@-` (the one before)
    op: String,
    #[command(flatten)]
    options: RestoreOptions,
}

#[derive(clap::Args)]
struct AbandonArgs {
    /// `..OP`: OP and every operation before it
    range: String,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    match &args.command {
        Command::Log(args) => errors_as_json(args.json, || log(repo, args, out)),
        Command::Restore(args) => errors_as_json(args.options.json, || {
            let outcome = repo.op_restore(&args.op, &checkout_options(&args.options))?;
            report(&outcome, &args.options, out)
        }),
        Command::Abandon(args) => {
            let Some(op) = args.range.strip_prefix("..") else {
                return Err(super::Usage(format!(
                    "expected ..OP (OP and every operation before it), not '{}'",
                    args.range
                ))
                .into());
            };
            let removed = repo.op_abandon(op)?;
            let plural = if removed == 1 { "" } else { "s" };
            writeln!(out, "Abandoned {removed} operation{plural}")?;
            Ok(())
        }
    }
}

/// `cow undo`.
pub fn undo(
    repo: &Repository,
    options: &RestoreOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let outcome = repo.undo(&checkout_options(options))?;
    report(&outcome, options, out)
}

/// `cow redo`.
pub fn redo(
    repo: &Repository,
    options: &RestoreOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let outcome = repo.redo(&checkout_options(options))?;
    report(&outcome, options, out)
}

fn checkout_options(options: &RestoreOptions) -> CheckoutOptions<'static> {
    CheckoutOptions {
        force: options.force,
        ..CheckoutOptions::default()
    }
}

fn report(
    outcome: &OpOutcome,
    options: &RestoreOptions,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if options.json {
        let document = json!({
            "type": "operation",
            "schema": 1,
            "id": outcome.id.to_string(),
            "description": outcome.description,
            "changes": outcome.changes.iter().map(change_json).collect::<Vec<_>>(),
            "moved_worktree": outcome.checkout.is_some(),
        });
        writeln!(out, "{document}")?;
        return Ok(());
    }
    let description = outcome.description.as_str();
    let mut first = description.chars();
    let capital: String = first
        .next()
        .map(|c| c.to_uppercase().chain(first).collect())
        .unwrap_or_default();
    writeln!(out, "{capital}")?;
    for change in &outcome.changes {
        writeln!(out, "  {}", change_line(change))?;
    }
    if let Some(checkout) = &outcome.checkout {
        let a = &checkout.applied;
        writeln!(
            out,
            "  working directory: {} written, {} removed",
            a.written, a.removed
        )?;
    }
    Ok(())
}

fn short(value: &RefValue) -> String {
    match value {
        RefValue::Id(id) => id.to_hex_prefix(12),
        RefValue::Symbolic(name) => name.shorten().to_owned(),
    }
}

/// `main: 1a2b → 3c4d`, `deleted branch x (was 5e6f)`, `HEAD: main → detached 7a8b`.
fn change_line(change: &ViewChange) -> String {
    let name = change.name.as_str();
    let (kind, shown) = if let Some(b) = name.strip_prefix("refs/heads/") {
        ("branch", b)
    } else if let Some(t) = name.strip_prefix("refs/tags/") {
        ("tag", t)
    } else if let Some(r) = name.strip_prefix("refs/remotes/") {
        ("remote-tracking branch", r)
    } else {
        ("ref", name)
    };
    if name == "HEAD" {
        let side = |v: &Option<RefValue>| match v {
            Some(RefValue::Id(id)) => format!("detached {}", id.to_hex_prefix(12)),
            Some(v) => short(v),
            None => "(none)".to_owned(),
        };
        return format!("HEAD: {} → {}", side(&change.old), side(&change.new));
    }
    match (&change.old, &change.new) {
        (None, Some(new)) => format!("created {kind} {shown} at {}", short(new)),
        (Some(old), None) => format!("deleted {kind} {shown} (was {})", short(old)),
        (Some(old), Some(new)) => format!("{shown}: {} → {}", short(old), short(new)),
        (None, None) => String::new(),
    }
}

fn value_json(value: &Option<RefValue>) -> Value {
    match value {
        None => Value::Null,
        Some(RefValue::Id(id)) => json!({"id": id.to_string(), "ref": null}),
        Some(RefValue::Symbolic(name)) => json!({"id": null, "ref": name.as_str()}),
    }
}

fn change_json(change: &ViewChange) -> Value {
    json!({
        "ref": change.name.as_str(),
        "old": value_json(&change.old),
        "new": value_json(&change.new),
    })
}

fn log(repo: &Repository, args: &LogArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let entries = repo.op_log(args.limit)?;
    for (i, entry) in entries.iter().enumerate() {
        if args.json {
            writeln!(out, "{}", Value::Object(entry_json(entry, i == 0)))?;
            continue;
        }
        write_entry(entry, i == 0, out)?;
    }
    Ok(())
}

fn entry_json(entry: &OpEntry, first: bool) -> Map<String, Value> {
    let op = &entry.op;
    let mut fields = Map::new();
    fields.insert("type".into(), "operation".into());
    if first {
        fields.insert("schema".into(), 1.into());
    }
    fields.insert("id".into(), entry.id.to_string().into());
    fields.insert("parent".into(), op.parent.map(|p| p.to_string()).into());
    insert_time(&mut fields, op.time);
    fields.insert("user".into(), op.user.clone().into());
    fields.insert("host".into(), op.host.clone().into());
    fields.insert("command".into(), op.command.clone().into());
    fields.insert("description".into(), op.description.clone().into());
    fields.insert(
        "changes".into(),
        entry.changes.iter().map(change_json).collect(),
    );
    fields.insert("head".into(), first.into());
    fields
}

fn write_entry(entry: &OpEntry, head: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let op = &entry.op;
    let marker = if head { "@" } else { "○" };
    writeln!(
        out,
        "{marker} {} {} {}@{}",
        entry.id.short(),
        iso_date(op.time),
        op.user,
        op.host
    )?;
    writeln!(out, "│ {}", op.description)?;
    writeln!(out, "│ args: {}", op.command)?;
    for change in &entry.changes {
        writeln!(out, "│   {}", change_line(change))?;
    }
    Ok(())
}
