//! Garbage collection: find what is reachable, decide what unreachable objects are
//! old enough to drop, and have the object database repack the rest
//! ([`Odb::repack`](crate::odb::Odb::repack)) and remove what nothing reaches. Large
//! packs are kept as they are (geometric repacking, as git's `repack --geometric=2`);
//! [`GcOptions::full`] rewrites everything into one pack.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use super::{Repository, Result};
use crate::object::{Kind, ObjectId};
use crate::odb::{Candidate, PackInfo, RepackOptions};
pub use crate::odb::{MAX_DELTA_CHAIN, ObjectCounts};
pub use crate::odb::{PackGeometry, PackSummary};
use crate::progress::Progress;
use crate::reach::Reached;

/// `now`, `never` or `<n>h|d|w` as a grace period (`None`: never prune).
pub fn parse_age(s: &str) -> Result<Option<Duration>, &'static str> {
    const USAGE: &str = "use now, never, or an age such as 14d, 12h or 2w";
    match s {
        "now" => return Ok(Some(Duration::ZERO)),
        "never" => return Ok(None),
        _ => {}
    }
    // The unit is one ASCII letter: split bytes, so that a multi-byte last character
    // is refused instead of cut in the middle.
    let (&unit, num) = s.as_bytes().split_last().ok_or(USAGE)?;
    if num.is_empty() || !num.iter().all(u8::is_ascii_digit) {
        return Err(USAGE);
    }
    let secs: u64 = match unit {
        b'h' => 3600,
        b'd' => 86_400,
        b'w' => 7 * 86_400,
        _ => return Err(USAGE),
    };
    std::str::from_utf8(num)
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
        .and_then(|n| n.checked_mul(secs))
        .map(|secs| Some(Duration::from_secs(secs)))
        .ok_or("the age is too large")
}

/// Knobs for [`Repository::gc`].
#[derive(Clone, Copy)]
pub struct GcOptions<'a> {
    /// Unreachable objects younger than this are kept (a commit may be about to point
    /// at them). `Duration::ZERO` is git's `--prune=now`: then the operation log keeps
    /// nothing either (within `gc.opLogExpire` it otherwise keeps what its views name,
    /// so that undo works), and undoing past the gc is refused. `None` never prunes.
    pub grace: Option<Duration>,
    /// Report what would be kept and reclaimed, and change nothing.
    pub dry_run: bool,
    /// zstd level for the new pack.
    pub level: i32,
    /// Rewrite every pack into one (git's `repack -a -d`) instead of keeping large
    /// packs as they are and rolling up only the small ones (git's
    /// `repack --geometric=2`).
    pub full: bool,
    /// Told of the objects found reachable (step `"reach"`), then packed (step
    /// `"pack"`, and `"deltas"` for those stored as deltas), unit `"objects"`.
    pub progress: Option<&'a (dyn Progress + Sync)>,
}

impl Default for GcOptions<'_> {
    fn default() -> Self {
        GcOptions {
            grace: Some(DEFAULT_GRACE),
            dry_run: false,
            level: 9,
            full: false,
            progress: None,
        }
    }
}

impl std::fmt::Debug for GcOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcOptions")
            .field("grace", &self.grace)
            .field("dry_run", &self.dry_run)
            .field("level", &self.level)
            .field("full", &self.full)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Unreachable objects younger than this survive a gc (git's two weeks).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(14 * 24 * 3600);

/// What [`Repository::gc`] did, or (dry run) would do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcOutcome {
    /// Objects reachable from refs, HEAD and the stat cache.
    pub reachable: u64,
    /// Objects put in the new packs (the cruft pack's included).
    pub packed: u64,
    /// Of those, how many are stored as deltas.
    pub deltas: u64,
    /// Of those, how many are compressed together with others in blocks.
    pub in_blocks: u64,
    /// Loose objects removed (packed now, or unreachable and old).
    pub removed_loose: u64,
    /// Old packs removed (rolled up into the new pack, or old cruft packs).
    pub removed_packs: u64,
    /// Packs left byte for byte as they were: large packs, in a geometric progression,
    /// that hold nothing to prune.
    pub kept_packs: u64,
    /// Which packs were (dry run: would be) kept and which rolled up.
    pub geometry: PackGeometry,
    /// Unreachable objects dropped.
    pub pruned: u64,
    /// Their bytes on disk: loose files and pack records, each copy counted (pack
    /// records as [`Odb::stored_size`](crate::odb::Odb::stored_size) counts them).
    pub pruned_bytes: u64,
    /// Bytes of objects in the store before.
    pub bytes_before: u64,
    /// Bytes after (in a dry run, an estimate that leaves out compression gains:
    /// `bytes_before` less `pruned_bytes` and the loose copies of objects a kept pack
    /// holds).
    pub bytes_after: u64,
    /// The new pack.
    pub pack: Option<PackInfo>,
    /// Packed unreachable objects younger than the grace period, kept: where they are
    /// when a kept pack holds them, else (counted in `packed`) in a cruft pack that
    /// records each one's own time, so it keeps ageing.
    pub cruft: u64,
    /// The new cruft pack, when there were such objects.
    pub cruft_pack: Option<PackInfo>,
}

impl Repository {
    /// Counts loose and packed objects and the bytes they take.
    #[doc(alias = "count-objects")]
    pub fn count_objects(&self) -> Result<ObjectCounts> {
        Ok(self.odb.count_objects()?)
    }

    /// Every object the roots reach ([`Repository::roots`]), with a path hint (a
    /// path it was seen at) for delta pairing and block order; with `op_log`, what
    /// recent operations' views name too.
    pub(super) fn reachable(&self, op_log: bool) -> Result<Vec<Reached>> {
        let mut roots = self.roots();
        let index_blobs = std::mem::take(&mut roots.index_blobs);
        // Pruning on a partial view would delete what an unreadable ref reaches.
        let mut include = roots.ref_tips()?;
        include.extend(index_blobs.iter().map(|(_, id)| *id));
        // What recent operations' views name, so that undo works after a gc (but not
        // after `--prune=now`, which asks for everything unreachable to go now).
        if op_log {
            let op_tips = self.op_log_tips()?;
            include.extend(op_tips.into_iter().filter(|id| self.odb.contains(id)));
        }
        let mut out = crate::reach::reachable_stored(&self.odb, &include, &[])?;
        // A blob only the stat cache names is reached with no path: give it its own.
        let paths: std::collections::HashMap<ObjectId, Vec<u8>> = index_blobs
            .into_iter()
            .map(|(path, id)| (id, path))
            .collect();
        for r in out
            .iter_mut()
            .filter(|r| r.path.is_empty() && r.kind == Kind::Blob)
        {
            if let Some(path) = paths.get(&r.id) {
                r.path = path.clone();
            }
        }
        Ok(out)
    }

    /// The blobs that the snapshots refs reach hold (not the stat cache's, nor the
    /// operation log's: gc may drop those).
    pub(super) fn blobs_in_snapshots(&self) -> Result<std::collections::HashSet<ObjectId>> {
        let include = self.roots().ref_tips()?;
        Ok(crate::reach::reachable_stored(&self.odb, &include, &[])?
            .into_iter()
            .filter(|r| r.kind == Kind::Blob)
            .map(|r| r.id)
            .collect())
    }

    /// Repacks what is reachable and young, and removes the rest.
    ///
    /// Packs gc wrote that form a geometric progression by object count (each at
    /// least twice the next smaller) are kept byte for byte; the smaller packs, the
    /// quick packs commits wrote and the loose objects are rolled up into one new pack
    /// ([`Odb::plan_repack`] says which), so a gc after a small change writes a small
    /// pack. A kept pack holding an unreachable
    /// object older than the grace period is rolled up too, so pruning drops every
    /// such object, as a full repack would. With [`GcOptions::full`], everything goes
    /// into one new pack.
    ///
    /// The new pack stores small blobs compressed together in blocks, in path order;
    /// near copies as zstd deltas against an earlier version, chains at most
    /// [`MAX_DELTA_CHAIN`] long; trees as deltas against directories of the same name.
    /// Packed unreachable objects younger than the grace period stay in a kept pack
    /// or go into a cruft pack that keeps each one's own time (see
    /// [`GcOutcome::cruft`]); then, once the new packs are durable, gc removes the
    /// packs rolled up, the loose copies of what is packed, and unreachable objects
    /// older than the grace period.
    ///
    /// [`Odb::plan_repack`]: crate::odb::Odb::plan_repack
    pub fn gc(&self, options: &GcOptions) -> Result<GcOutcome> {
        // A dry run only reads: it needs no lock (and works where it cannot take one,
        // in a read-only repository), and tolerates a writer's changes as any reader.
        let _lock = if options.dry_run {
            None
        } else {
            Some(self.lock()?)
        };
        let before = self.count_objects()?;
        let mut outcome = GcOutcome {
            bytes_before: before.loose_bytes + before.pack_bytes,
            ..GcOutcome::default()
        };
        let keep = self.reachable(options.grace != Some(Duration::ZERO))?;
        outcome.reachable = keep.len() as u64;
        if let Some(progress) = options.progress {
            progress.update("reach", outcome.reachable, outcome.reachable, "objects");
        }
        let kept: HashSet<ObjectId> = keep.iter().map(|r| r.id).collect();
        // Unreachable objects in packs keep their own time.
        let unreachable = self.odb.packed_times(|id| kept.contains(id));
        // Those younger than the grace period go into a cruft pack, with their times.
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut cruft: Vec<(ObjectId, u64)> = Vec::new();
        let mut old: HashSet<ObjectId> = HashSet::new();
        for (id, time) in unreachable {
            let age = Duration::from_secs(now.saturating_sub(time));
            if options.grace.is_none_or(|g| age < g) {
                cruft.push((id, time));
            } else {
                old.insert(id);
            }
        }
        // What a young object's storage needs stays with it, however old (with the
        // young one's time, so that they go together): a chunked blob's chunks, a
        // chunk delta's base.
        let mut i = 0;
        while i < cruft.len() {
            let (id, time) = cruft[i];
            let mut needs = self.odb.chunk_bases(&id)?;
            if !old.is_empty() {
                for list in self.odb.chunk_lists(&id)? {
                    needs.extend(list.chunks().iter().map(|c| c.key));
                }
            }
            for need in needs {
                if old.remove(&need) {
                    cruft.push((need, time));
                }
            }
            i += 1;
        }
        outcome.pruned += old.len() as u64;
        for id in &old {
            outcome.pruned_bytes += self.odb.packed_bytes(id)?;
        }
        cruft.sort_unstable();
        outcome.cruft = cruft.len() as u64;
        let loose = self.odb.loose_object_ids()?;
        let keep_set: HashSet<ObjectId> = keep
            .iter()
            .map(|r| r.id)
            .chain(cruft.iter().map(|c| c.0))
            .collect();
        let mut unreachable_loose = Vec::new();
        let mut dropped_bytes = 0;
        for id in &loose {
            if keep_set.contains(id) {
                continue;
            }
            let (size, age) = self.odb.loose_size_and_age(id).unwrap_or_default();
            if options.grace.is_some_and(|g| age >= g) {
                unreachable_loose.push(*id);
                dropped_bytes += size;
            }
        }
        outcome.pruned += unreachable_loose.len() as u64;
        outcome.pruned_bytes += dropped_bytes;
        let candidates = keep
            .into_iter()
            .map(|Reached { id, kind, path }| Candidate { id, kind, path })
            .collect();
        let repack_options = RepackOptions {
            level: options.level,
            full: options.full,
            external_chunk_bases: true,
        };
        if options.dry_run {
            let plan = self.odb.plan_repack(candidates, cruft, &repack_options)?;
            let packed: HashSet<ObjectId> = plan
                .pack
                .iter()
                .map(|c| c.id)
                .chain(plan.cruft.iter().map(|c| c.0))
                .chain(plan.redundant_loose.iter().copied())
                .collect();
            outcome.packed = (plan.pack.len() + plan.cruft.len()) as u64;
            outcome.removed_packs = plan.geometry.removed_packs();
            outcome.kept_packs = plan.geometry.kept_packs();
            outcome.removed_loose = loose.iter().filter(|id| packed.contains(id)).count() as u64
                + unreachable_loose.len() as u64;
            outcome.geometry = plan.geometry;
            // Loose copies of what a kept pack holds go; loose objects packed anew
            // move into the new pack at about their size.
            let pruned_loose: HashSet<&ObjectId> = unreachable_loose.iter().collect();
            let redundant: u64 = plan
                .redundant_loose
                .iter()
                .filter(|id| !pruned_loose.contains(id))
                .filter_map(|id| self.odb.loose_size_and_age(id))
                .map(|(size, _)| size)
                .sum();
            outcome.bytes_after = outcome
                .bytes_before
                .saturating_sub(outcome.pruned_bytes)
                .saturating_sub(redundant);
            return Ok(outcome);
        }

        let repacked =
            self.odb
                .repack_with_progress(candidates, cruft, &repack_options, options.progress)?;
        outcome.packed = repacked.packed;
        outcome.deltas = repacked.deltas;
        outcome.in_blocks = repacked.in_blocks;
        outcome.pack = repacked.pack;
        outcome.cruft_pack = repacked.cruft_pack;
        outcome.removed_packs = repacked.removed_packs;
        outcome.kept_packs = repacked.kept_packs;
        outcome.geometry = repacked.geometry;
        outcome.removed_loose = repacked.removed_loose;
        for id in &unreachable_loose {
            if self.odb.remove_loose(id) {
                outcome.removed_loose += 1;
            }
        }
        let after = self.count_objects()?;
        outcome.bytes_after = after.loose_bytes + after.pack_bytes;
        Ok(outcome)
    }
}
