//! `cow gc` and `cow count-objects`.

use std::io::Write;

use cow::Repository;
use cow::odb::PackInfo;
use cow::repository::{DEFAULT_GRACE, GcOptions, GcOutcome, PackSummary};
use serde_json::{Value, json};

use super::progress::ProgressArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Remove unreachable objects older than this: `now`, `never`, or a number of
    /// days, hours or weeks (`14d`, `12h`, `2w`); default two weeks
    #[arg(long, value_name = "AGE", num_args = 0..=1, require_equals = true, default_missing_value = "now",
          value_parser = |s: &str| cow::repository::parse_age(s).map(|_| s.to_owned()))]
    prune: Option<String>,
    /// Report what would be kept and reclaimed, and which packs would be kept or
    /// rolled up; change nothing
    #[arg(short = 'n', long)]
    dry_run: bool,
    /// Rewrite every pack into one, instead of keeping the large packs as they are
    #[arg(long)]
    full: bool,
    /// Print one JSON document (see docs/json.md)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    progress: ProgressArgs,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let grace = match &args.prune {
        None => Some(DEFAULT_GRACE),
        Some(s) => cow::repository::parse_age(s)
            .map_err(|reason| anyhow::anyhow!("invalid --prune value '{s}': {reason}"))?,
    };
    let out: &mut dyn Write = match args.progress.quiet {
        true => &mut std::io::sink(),
        false => out,
    };
    let reporter = args.progress.reporter("gc", args.json);
    let outcome = repo.gc(&GcOptions {
        grace,
        dry_run: args.dry_run,
        full: args.full,
        progress: Some(&reporter),
        ..GcOptions::default()
    });
    reporter.done();
    let outcome = outcome?;
    if args.json {
        writeln!(out, "{}", gc_json(&outcome, args.dry_run))?;
        return Ok(());
    }
    let verb = if args.dry_run { "would keep" } else { "kept" };
    writeln!(
        out,
        "{verb} {} reachable objects; packed {} ({} as deltas, {} in blocks); removed {} loose objects and {} packs; pruned {} unreachable",
        outcome.reachable,
        outcome.packed,
        outcome.deltas,
        outcome.in_blocks,
        outcome.removed_loose,
        outcome.removed_packs,
        outcome.pruned
    )?;
    let geometry = &outcome.geometry;
    let (keep, were, roll) = if args.dry_run {
        ("would keep", "are", "would roll up")
    } else {
        ("kept", "were", "rolled up")
    };
    let mut packs = format!(
        "packs: {keep} {} as they {were}{}; {roll} {}{}",
        outcome.kept_packs,
        objects(&geometry.kept),
        geometry.rolled.len(),
        objects(&geometry.rolled)
    );
    if geometry.rolled_to_prune > 0 {
        packs += &format!(
            " ({} of them to prune what they hold)",
            geometry.rolled_to_prune
        );
    }
    if !geometry.cruft.is_empty() && !geometry.cruft_kept {
        packs += &format!(" and {} cruft", geometry.cruft.len());
    }
    if args.full {
        packs += " (--full)";
    }
    writeln!(out, "{packs}")?;
    writeln!(
        out,
        "store: {} bytes before, {} bytes after",
        outcome.bytes_before, outcome.bytes_after
    )?;
    let freed = outcome.bytes_before.saturating_sub(outcome.bytes_after);
    let (free, about) = match args.dry_run {
        true => ("would free about", "; repacking may save more"),
        false => ("freed", ""),
    };
    writeln!(
        out,
        "{free} {} ({} unreachable objects: {}){about}",
        super::stats::human(freed),
        outcome.pruned,
        super::stats::human(outcome.pruned_bytes)
    )?;
    Ok(())
}

/// Every field of [`GcOutcome`], as `gc --json` prints it.
fn gc_json(outcome: &GcOutcome, dry_run: bool) -> Value {
    let packs = |packs: &[PackSummary]| -> Vec<Value> {
        packs
            .iter()
            .map(|p| json!({"type": "pack", "name": p.name, "objects": p.objects}))
            .collect()
    };
    let pack = |info: &Option<PackInfo>| match info {
        Some(p) => json!({"type": "pack", "name": p.name, "objects": p.objects, "bytes": p.bytes}),
        None => Value::Null,
    };
    let g = &outcome.geometry;
    json!({
        "type": "gc", "schema": 1, "dry_run": dry_run,
        "reachable": outcome.reachable,
        "packed": outcome.packed,
        "deltas": outcome.deltas,
        "in_blocks": outcome.in_blocks,
        "removed_loose": outcome.removed_loose,
        "removed_packs": outcome.removed_packs,
        "kept_packs": outcome.kept_packs,
        "geometry": {
            "kept": packs(&g.kept),
            "rolled": packs(&g.rolled),
            "rolled_to_prune": g.rolled_to_prune,
            "cruft": packs(&g.cruft),
            "cruft_kept": g.cruft_kept,
        },
        "pruned": outcome.pruned,
        "bytes_before": outcome.bytes_before,
        "bytes_after": outcome.bytes_after,
        "pruned_bytes": outcome.pruned_bytes,
        "freed_bytes": outcome.bytes_before.saturating_sub(outcome.bytes_after),
        "pack": pack(&outcome.pack),
        "cruft": outcome.cruft,
        "cruft_pack": pack(&outcome.cruft_pack),
    })
}

/// ` (N, M objects)`: the object counts of `packs`, at most eight of them.
fn objects(packs: &[PackSummary]) -> String {
    if packs.is_empty() {
        return String::new();
    }
    let mut counts: Vec<String> = packs
        .iter()
        .take(8)
        .map(|p| p.objects.to_string())
        .collect();
    if packs.len() > 8 {
        counts.push("...".to_owned());
    }
    format!(" ({} objects)", counts.join(", "))
}

#[derive(clap::Args)]
pub struct CountArgs {
    /// Print one JSON document (see docs/json.md)
    #[arg(long)]
    pub json: bool,
    /// Accepted for git's `count-objects -v`: cow always prints every count
    #[arg(short, long)]
    verbose: bool,
    /// Sizes in KiB, MiB, GiB as git's `-H` prints them, instead of bytes
    #[arg(short = 'H', long = "human-readable")]
    human: bool,
}

pub fn count(repo: &Repository, args: &CountArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let c = repo.count_objects()?;
    if args.json {
        let doc = json!({
            "type": "count_objects", "schema": 1,
            "loose": c.loose,
            "loose_bytes": c.loose_bytes,
            "packs": c.packs,
            "packed": c.packed,
            "pack_bytes": c.pack_bytes,
            "prune_packable": c.prune_packable,
            "chunks": c.chunks,
            "chunk_bytes": c.chunk_bytes,
            "chunked_blobs": c.chunked_blobs,
            "chunked_bytes": c.chunked_bytes,
            "dedup_saved": c.chunked_bytes.saturating_sub(c.chunk_bytes),
        });
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    // git's `count-objects -v` lines and order (its `garbage` lines are for files
    // git cannot name; cow's store has none to report), sizes in bytes or, with -H,
    // as git's -H writes them.
    let size = |bytes: u64| match args.human {
        true => super::stats::human(bytes),
        false => bytes.to_string(),
    };
    writeln!(out, "count: {}", c.loose)?;
    writeln!(out, "size: {}", size(c.loose_bytes))?;
    writeln!(out, "in-pack: {}", c.packed)?;
    writeln!(out, "packs: {}", c.packs)?;
    writeln!(out, "size-pack: {}", size(c.pack_bytes))?;
    writeln!(out, "prune-packable: {}", c.prune_packable)?;
    if c.chunked_blobs > 0 || c.chunks > 0 {
        // Large blobs stored in chunks: how many, and what sharing chunks saves.
        writeln!(out, "chunked-blobs: {}", c.chunked_blobs)?;
        writeln!(out, "chunked-size: {}", size(c.chunked_bytes))?;
        writeln!(out, "chunks: {}", c.chunks)?;
        writeln!(out, "chunks-size: {}", size(c.chunk_bytes))?;
        writeln!(
            out,
            "dedup-saved: {}",
            size(c.chunked_bytes.saturating_sub(c.chunk_bytes))
        )?;
    }
    Ok(())
}
