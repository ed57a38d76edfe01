//! `cow forget`: restic's retention policy over a branch's snapshots.

use std::io::Write;

use cow::Repository;
use cow::object::date::iso_date;
use cow::repository::policy::{Count, Policy, Span};
use cow::repository::{ForgetOptions, ForgetOutcome, ForgetSnapshot};
use serde_json::{Map, Value, json};

use super::json::insert_time;

#[derive(clap::Args)]
pub struct Args {
    /// Keep the last N snapshots (`unlimited`: all)
    #[arg(short = 'l', long, value_name = "N", value_parser = Count::parse)]
    keep_last: Option<Count>,
    /// Keep the newest snapshot of each of the last N hours with snapshots
    #[arg(short = 'H', long, value_name = "N", value_parser = Count::parse)]
    keep_hourly: Option<Count>,
    /// Keep the newest snapshot of each of the last N days with snapshots
    #[arg(short = 'd', long, value_name = "N", value_parser = Count::parse)]
    keep_daily: Option<Count>,
    /// Keep the newest snapshot of each of the last N ISO weeks with snapshots
    #[arg(short = 'w', long, value_name = "N", value_parser = Count::parse)]
    keep_weekly: Option<Count>,
    /// Keep the newest snapshot of each of the last N months with snapshots
    #[arg(short = 'm', long, value_name = "N", value_parser = Count::parse)]
    keep_monthly: Option<Count>,
    /// Keep the newest snapshot of each of the last N years with snapshots
    #[arg(short = 'y', long, value_name = "N", value_parser = Count::parse)]
    keep_yearly: Option<Count>,
    /// Keep snapshots newer than DURATION (`1y2m3d4h`) before the newest snapshot
    #[arg(long, value_name = "DURATION", value_parser = Span::parse)]
    keep_within: Option<Span>,
    /// Keep the newest snapshot of each hour within DURATION of the newest snapshot
    #[arg(long, value_name = "DURATION", value_parser = Span::parse)]
    keep_within_hourly: Option<Span>,
    /// Keep the newest snapshot of each day within DURATION of the newest snapshot
    #[arg(long, value_name = "DURATION", value_parser = Span::parse)]
    keep_within_daily: Option<Span>,
    /// Keep the newest snapshot of each ISO week within DURATION of the newest snapshot
    #[arg(long, value_name = "DURATION", value_parser = Span::parse)]
    keep_within_weekly: Option<Span>,
    /// Keep the newest snapshot of each month within DURATION of the newest snapshot
    #[arg(long, value_name = "DURATION", value_parser = Span::parse)]
    keep_within_monthly: Option<Span>,
    /// Keep the newest snapshot of each year within DURATION of the newest snapshot
    #[arg(long, value_name = "DURATION", value_parser = Span::parse)]
    keep_within_yearly: Option<Span>,
    /// Keep the snapshot tag TAG points at (every tagged snapshot is kept anyway;
    /// repeatable)
    #[arg(long, value_name = "TAG")]
    keep_tag: Vec<String>,
    /// The branch whose snapshots to thin (default: the current branch)
    #[arg(long, value_name = "NAME")]
    branch: Option<String>,
    /// List what would be kept, removed and rewritten; change nothing
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Print one JSON document (see docs/json.md)
    #[arg(long)]
    pub json: bool,
    /// Print nothing but errors (restic's -q): for scripts
    #[arg(short, long, conflicts_with = "json")]
    quiet: bool,
}

impl Args {
    fn policy(&self) -> Policy {
        Policy {
            last: self.keep_last.unwrap_or_default(),
            hourly: self.keep_hourly.unwrap_or_default(),
            daily: self.keep_daily.unwrap_or_default(),
            weekly: self.keep_weekly.unwrap_or_default(),
            monthly: self.keep_monthly.unwrap_or_default(),
            yearly: self.keep_yearly.unwrap_or_default(),
            within: self.keep_within.unwrap_or_default(),
            within_hourly: self.keep_within_hourly.unwrap_or_default(),
            within_daily: self.keep_within_daily.unwrap_or_default(),
            within_weekly: self.keep_within_weekly.unwrap_or_default(),
            within_monthly: self.keep_within_monthly.unwrap_or_default(),
            within_yearly: self.keep_within_yearly.unwrap_or_default(),
        }
    }
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let policy = args.policy();
    if policy.is_empty() && args.keep_tag.is_empty() {
        return Err(anyhow::anyhow!(
            "no policy was specified, no snapshots will be removed (use --keep-last, --keep-daily, --keep-within, --keep-tag, ...)"
        ));
    }
    let outcome = repo.forget(&ForgetOptions {
        branch: args.branch.clone(),
        policy: policy.clone(),
        keep_tags: args.keep_tag.clone(),
        dry_run: args.dry_run,
    })?;
    if args.json {
        return super::json::print(out, &forget_json(&outcome));
    }
    if args.quiet {
        return Ok(());
    }
    human(&outcome, &policy, &args.keep_tag, out)
}

/// restic's "Applying Policy: keep 7 daily, 4 weekly snapshots ..." line.
fn describe(policy: &Policy, tags: &[String]) -> String {
    let mut keeps = Vec::new();
    for (count, what) in [
        (policy.last, "latest"),
        (policy.hourly, "hourly"),
        (policy.daily, "daily"),
        (policy.weekly, "weekly"),
        (policy.monthly, "monthly"),
        (policy.yearly, "yearly"),
    ] {
        match count {
            Count::Off => {}
            Count::Up(n) => keeps.push(format!("{n} {what}")),
            Count::Unlimited => keeps.push(format!("all {what}")),
        }
    }
    let mut parts = Vec::new();
    if !keeps.is_empty() {
        parts.push(format!("{} snapshots", keeps.join(", ")));
    }
    for (span, what) in [
        (policy.within_hourly, "hourly"),
        (policy.within_daily, "daily"),
        (policy.within_weekly, "weekly"),
        (policy.within_monthly, "monthly"),
        (policy.within_yearly, "yearly"),
    ] {
        if !span.is_zero() {
            parts.push(format!("{what} snapshots within {span}"));
        }
    }
    if !tags.is_empty() {
        parts.push(format!("all snapshots tagged {}", tags.join(", ")));
    }
    if !policy.within.is_zero() {
        parts.push(format!(
            "all snapshots within {} of the newest",
            policy.within
        ));
    }
    format!(
        "keep {}, and the tip and tagged snapshots",
        parts.join(" and ")
    )
}

fn human(
    outcome: &ForgetOutcome,
    policy: &Policy,
    tags: &[String],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let rule = "-".repeat(60);
    let plural = |n: usize| if n == 1 { "snapshot" } else { "snapshots" };
    writeln!(out, "Applying Policy: {}", describe(policy, tags))?;
    writeln!(out, "snapshots of {}", outcome.branch.shorten())?;
    let kept: Vec<&ForgetSnapshot> = outcome.kept().collect();
    let removed: Vec<&ForgetSnapshot> = outcome.removed().collect();
    let verb = |now: &'static str, later: &'static str| if outcome.dry_run { later } else { now };
    writeln!(out, "keep {} {}:", kept.len(), plural(kept.len()))?;
    writeln!(out, "{:<12}  {:<25}  Reasons", "ID", "Time")?;
    writeln!(out, "{rule}")?;
    for s in &kept {
        let reasons: Vec<String> = s.reasons.iter().map(ToString::to_string).collect();
        writeln!(
            out,
            "{:<12}  {:<25}  {}",
            s.id.to_hex_prefix(12),
            iso_date(s.time),
            reasons.join(", ")
        )?;
    }
    writeln!(out, "{rule}")?;
    if !removed.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "{} {} {}:",
            verb("remove", "would remove"),
            removed.len(),
            plural(removed.len())
        )?;
        writeln!(out, "{:<12}  Time", "ID")?;
        writeln!(out, "{rule}")?;
        for s in &removed {
            writeln!(out, "{:<12}  {}", s.id.to_hex_prefix(12), iso_date(s.time))?;
        }
        writeln!(out, "{rule}")?;
    }
    let rewritten: Vec<_> = outcome.rewritten().collect();
    writeln!(out)?;
    if rewritten.is_empty() {
        writeln!(out, "nothing to forget: the chain is unchanged")?;
        return Ok(());
    }
    writeln!(
        out,
        "{} the chain from the oldest forgotten snapshot on: {} commit{} {} new ids (trees and files untouched)",
        verb("rewrote", "would rewrite"),
        rewritten.len(),
        if rewritten.len() == 1 { "" } else { "s" },
        verb("got", "would get"),
    )?;
    for (old, new) in &rewritten {
        writeln!(
            out,
            "  {} -> {}",
            old.to_hex_prefix(12),
            new.to_hex_prefix(12)
        )?;
    }
    for r in &outcome.refs {
        writeln!(
            out,
            "{} {} {} -> {}",
            verb("moved", "would move"),
            r.name.shorten(),
            r.old.to_hex_prefix(12),
            r.new.to_hex_prefix(12)
        )?;
    }
    if !outcome.dry_run {
        writeln!(
            out,
            "the forgotten snapshots' data stays in the store until `cow gc --prune=now`; `cow undo` brings them back until then"
        )?;
    }
    Ok(())
}

/// The document `forget --json` prints (docs/json.md).
fn forget_json(outcome: &ForgetOutcome) -> Value {
    let keep: Vec<Value> = outcome
        .kept()
        .map(|s| {
            let mut fields = Map::new();
            fields.insert("id".into(), s.id.to_string().into());
            fields.insert("new_id".into(), s.new_id.map(|n| n.to_string()).into());
            insert_time(&mut fields, s.time);
            let reasons: Vec<Value> = s.reasons.iter().map(|r| r.to_string().into()).collect();
            fields.insert("reasons".into(), reasons.into());
            Value::Object(fields)
        })
        .collect();
    let remove: Vec<Value> = outcome
        .removed()
        .map(|s| {
            let mut fields = Map::new();
            fields.insert("id".into(), s.id.to_string().into());
            insert_time(&mut fields, s.time);
            Value::Object(fields)
        })
        .collect();
    let rewritten: Vec<Value> = outcome
        .rewritten()
        .map(|(old, new)| json!({"old": old.to_string(), "new": new.to_string()}))
        .collect();
    let refs: Vec<Value> = outcome
        .refs
        .iter()
        .map(|r| json!({"name": r.name.as_str(), "old": r.old.to_string(), "new": r.new.to_string()}))
        .collect();
    json!({
        "type": "forget",
        "schema": 1,
        "dry_run": outcome.dry_run,
        "branch": outcome.branch.as_str(),
        "keep": keep,
        "remove": remove,
        "rewritten": rewritten,
        "refs": refs,
    })
}
