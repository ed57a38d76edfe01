//! `cow stats`: what snapshots hold and cost, and the store as a whole (restic's
//! `stats`).

use std::io::Write;

use cow::repository::{SnapshotStats, StatsOptions, StoreStats, WalkOptions};
use cow::{ObjectId, Repository};
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct Args {
    /// Snapshots to measure, each, then all together (default: HEAD)
    #[arg(value_name = "REV")]
    revs: Vec<String>,
    /// Measure every snapshot branches, tags and HEAD reach
    #[arg(long, conflicts_with = "revs")]
    all: bool,
    /// Show only the store as a whole
    #[arg(long, conflicts_with_all = ["revs", "all"])]
    store: bool,
    /// Sizes in KiB, MiB, GiB (the default)
    #[arg(short = 'H', long = "human-readable", overrides_with = "bytes")]
    human: bool,
    /// Sizes in exact bytes
    #[arg(long)]
    bytes: bool,
    /// Print one JSON document (see docs/json.md)
    #[arg(long)]
    pub json: bool,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let commits: Vec<ObjectId> = if args.store {
        Vec::new()
    } else if args.all {
        let mut starts: Vec<ObjectId> = repo
            .refs()
            .list("refs/")?
            .into_iter()
            .map(|r| r.1)
            .collect();
        starts.extend(repo.head_commit()?);
        repo.walk(starts, &WalkOptions::default())?
            .map(|c| c.map(|(id, _)| id))
            .collect::<Result<_, _>>()?
    } else if args.revs.is_empty() {
        vec![repo.resolve_commit("HEAD")?]
    } else {
        args.revs
            .iter()
            .map(|rev| repo.resolve_commit(rev.as_str()))
            .collect::<Result<_, _>>()?
    };
    let report = repo.stats(&commits, &StatsOptions { store: true })?;
    let store = report.store.expect("asked for");
    if args.json {
        let snapshots: Vec<Value> = report
            .snapshots
            .iter()
            .map(|(id, s)| snapshot_json("snapshot", Some(id), s))
            .collect();
        let total =
            (report.snapshots.len() > 1).then(|| snapshot_json("total", None, &report.total));
        let doc = json!({
            "type": "stats", "schema": 1,
            "snapshots": snapshots,
            "total": total,
            "store": store_json(&store),
        });
        return super::json::print(out, &doc);
    }
    let size = |bytes: u64| {
        if args.bytes {
            format!("{bytes} bytes")
        } else {
            human(bytes)
        }
    };
    for (id, s) in &report.snapshots {
        writeln!(out, "snapshot {id}")?;
        snapshot_lines(out, s, &size)?;
        writeln!(out)?;
    }
    if report.snapshots.len() > 1 {
        writeln!(out, "total of {} snapshots", report.snapshots.len())?;
        snapshot_lines(out, &report.total, &size)?;
        writeln!(out)?;
    }
    writeln!(out, "store")?;
    writeln!(out, "  snapshots:         {}", store.snapshots)?;
    writeln!(out, "  logical size:      {}", size(store.logical_bytes))?;
    writeln!(
        out,
        "  unique contents:   {} ({})",
        store.unique_contents,
        size(store.unique_bytes)
    )?;
    writeln!(out, "  stored size:       {}", size(store.stored_bytes))?;
    writeln!(out, "  dedup ratio:       {:.2}", store.dedup_ratio())?;
    writeln!(out, "  compression ratio: {:.2}", store.compression_ratio())?;
    writeln!(
        out,
        "  unreachable:       {} ({} objects a gc may free)",
        size(store.unreachable_bytes),
        store.unreachable
    )?;
    Ok(())
}

fn snapshot_lines(
    out: &mut dyn Write,
    s: &SnapshotStats,
    size: &dyn Fn(u64) -> String,
) -> anyhow::Result<()> {
    writeln!(out, "  files:             {}", s.files)?;
    writeln!(out, "  directories:       {}", s.dirs)?;
    writeln!(out, "  logical size:      {}", size(s.logical_bytes))?;
    writeln!(
        out,
        "  unique contents:   {} ({})",
        s.unique_contents,
        size(s.unique_bytes)
    )?;
    writeln!(out, "  stored size:       {}", size(s.stored_bytes))?;
    writeln!(out, "  dedup ratio:       {:.2}", s.dedup_ratio())?;
    writeln!(out, "  compression ratio: {:.2}", s.compression_ratio())?;
    Ok(())
}

fn snapshot_json(kind: &str, id: Option<&ObjectId>, s: &SnapshotStats) -> Value {
    let mut doc = json!({
        "type": kind,
        "files": s.files,
        "dirs": s.dirs,
        "logical_bytes": s.logical_bytes,
        "unique_contents": s.unique_contents,
        "unique_bytes": s.unique_bytes,
        "stored_bytes": s.stored_bytes,
        "dedup_ratio": s.dedup_ratio(),
        "compression_ratio": s.compression_ratio(),
    });
    if let Some(id) = id {
        doc["id"] = id.to_string().into();
    }
    doc
}

fn store_json(s: &StoreStats) -> Value {
    json!({
        "type": "store",
        "snapshots": s.snapshots,
        "logical_bytes": s.logical_bytes,
        "unique_contents": s.unique_contents,
        "unique_bytes": s.unique_bytes,
        "stored_bytes": s.stored_bytes,
        "dedup_ratio": s.dedup_ratio(),
        "compression_ratio": s.compression_ratio(),
        "unreachable": s.unreachable,
        "unreachable_bytes": s.unreachable_bytes,
    })
}

/// git's `strbuf_humanise_bytes`: "1023 bytes", "1.50 KiB", "12.00 MiB", "2.25 GiB"
/// (two decimals; KiB and MiB rounded as git rounds them, GiB cut).
pub fn human(bytes: u64) -> String {
    if bytes > 1 << 30 {
        format!(
            "{}.{:02} GiB",
            bytes >> 30,
            (bytes & ((1 << 30) - 1)) / 10_737_419
        )
    } else if bytes > 1 << 20 {
        let x = bytes + 5243;
        format!("{}.{:02} MiB", x >> 20, ((x & ((1 << 20) - 1)) * 100) >> 20)
    } else if bytes > 1 << 10 {
        let x = bytes + 5;
        format!("{}.{:02} KiB", x >> 10, ((x & ((1 << 10) - 1)) * 100) >> 10)
    } else if bytes == 1 {
        "1 byte".to_owned()
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    /// Values worked through git's strbuf_humanise_bytes by hand.
    #[test]
    fn sizes_as_git_writes_them() {
        assert_eq!(human(0), "0 bytes");
        assert_eq!(human(1), "1 byte");
        assert_eq!(human(1024), "1024 bytes"); // git: "> 1 << 10", so 1024 stays bytes
        assert_eq!(human(1536), "1.50 KiB");
        // 12288 + 5 = 12293: 12 KiB and 5 bytes, 5 * 100 >> 10 = 0.
        assert_eq!(human(12_288), "12.00 KiB");
        // 1.5 MiB: x = 1572864 + 5243, fraction (524288 + 5243) * 100 >> 20 = 50.
        assert_eq!(human(3 << 19), "1.50 MiB");
        // 3 GiB + 1 GiB / 4: 268435456 / 10737419 = 24 (10737419 * 25 = 268435475),
        // git cuts GiB rather than rounding.
        assert_eq!(human((3 << 30) + (1 << 28)), "3.24 GiB");
    }
}
