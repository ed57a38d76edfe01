//! Repacking: many objects into one new pack — small files compressed together in
//! blocks, near copies as deltas against an earlier version, and a dictionary trained
//! on the small blobs — then the old copies removed.
//!
//! The caller (gc) decides what to keep; this decides how it is stored, and which
//! packs are rewritten at all. By default large packs are kept byte for byte and only
//! the small ones are rolled up with the loose objects (and the quick packs commits
//! write) into one new pack, so that the packs form a geometric progression (git's
//! `repack --geometric=2`, see [`geometric_split`] and [`Odb::plan_repack`]): the cost
//! of a repack, and what a copy of the store by rsync or a push of packs sends after
//! it, follows what changed since the last one.
//! [`RepackOptions::full`] rewrites everything into one pack instead.
//!
//! Every pack written here is self-contained: the delta window of [`Packer`] holds
//! only objects of the pack being written (never one of a kept pack or a loose one),
//! and the pack writer refuses a pack that names a base it does not hold. Rolling up
//! or pruning one pack therefore never breaks another.

use std::collections::HashSet;
use std::sync::Arc;

use rayon::prelude::*;

use super::backend::Backend;
use super::pack::{Pack, PackWriter};
use super::{Error, MAX_PACKED_SIZE, Odb, PackInfo, Result};
use crate::object::{Kind, ObjectId};
use crate::progress::Progress;

/// An object to repack: its id, kind and a path it was seen at (the hint that pairs
/// versions of one file as deltas, and orders blocks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The object.
    pub id: ObjectId,
    /// Its kind.
    pub kind: Kind,
    /// A path it was seen at (a directory's path for a tree; empty for a commit).
    pub path: Vec<u8>,
}

/// Knobs for [`Odb::repack`] and [`Odb::write_pack`].
#[derive(Clone, Copy, Debug)]
pub struct RepackOptions {
    /// zstd level for the new packs.
    pub level: i32,
    /// Rewrite every pack into one (git's `repack -a -d`) instead of keeping the large
    /// ones (git's `repack --geometric=2 -d`). Only [`Odb::repack`] looks at it.
    pub full: bool,
    /// Keep chunk deltas whose base is in another pack (a store's own repack, whose
    /// candidates include every base a kept chunk needs); packs for another store
    /// leave this off, and are self-contained.
    pub external_chunk_bases: bool,
}

impl Default for RepackOptions {
    fn default() -> Self {
        RepackOptions {
            level: 9,
            full: false,
            external_chunk_bases: false,
        }
    }
}

/// The factor of the geometric progression repacking keeps packs in: each pack kept
/// holds at least twice as many objects as the next smaller one.
pub const GEOMETRIC_FACTOR: u64 = 2;

/// A pack, as a repack plan names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackSummary {
    /// The pack's name (its checksum in hex).
    pub name: String,
    /// Objects in it.
    pub objects: u64,
}

/// Which packs a repack keeps and which it rewrites.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PackGeometry {
    /// Packs left byte for byte as they are, largest first.
    pub kept: Vec<PackSummary>,
    /// Packs rolled up: their objects go into the new pack (or the cruft pack, or are
    /// dropped) and the pack is removed; smallest first.
    pub rolled: Vec<PackSummary>,
    /// How many of `rolled` are above the geometric split, rolled up only because
    /// they hold an object to drop (or a damaged copy of one a loose file also holds).
    pub rolled_to_prune: u64,
    /// Cruft packs (those with a `.mtimes`), whose objects go into the new cruft pack;
    /// they are removed, unless `cruft_kept`.
    pub cruft: Vec<PackSummary>,
    /// The one cruft pack holds exactly the new cruft, with the same times: it is
    /// kept as it is instead of being written again.
    pub cruft_kept: bool,
}

impl PackGeometry {
    /// Packs left as they are (the cruft pack included, when it is).
    pub fn kept_packs(&self) -> u64 {
        self.kept.len() as u64 + u64::from(self.cruft_kept)
    }

    /// Packs removed once the new ones are durable.
    pub fn removed_packs(&self) -> u64 {
        let cruft = if self.cruft_kept { 0 } else { self.cruft.len() };
        (self.rolled.len() + cruft) as u64
    }
}

/// What [`Odb::repack`] will do: computed without changing anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepackPlan {
    /// Which packs are kept and which rolled up.
    pub geometry: PackGeometry,
    /// The objects for the new pack: the candidates no kept pack holds.
    pub pack: Vec<Candidate>,
    /// The objects for the new cruft pack, with their times (empty when the cruft
    /// pack is kept).
    pub cruft: Vec<(ObjectId, u64)>,
    /// Loose objects a kept pack holds an intact copy of: their loose copies go.
    pub redundant_loose: Vec<ObjectId>,
}

/// What [`Odb::repack`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepackOutcome {
    /// Objects put in the new packs (the cruft pack's included).
    pub packed: u64,
    /// Of those, how many are stored as deltas.
    pub deltas: u64,
    /// Of those, how many are compressed together with others in blocks.
    pub in_blocks: u64,
    /// The new pack.
    pub pack: Option<PackInfo>,
    /// The new cruft pack.
    pub cruft_pack: Option<PackInfo>,
    /// Old packs removed.
    pub removed_packs: u64,
    /// Packs left byte for byte as they were.
    pub kept_packs: u64,
    /// Loose copies removed (of objects now packed).
    pub removed_loose: u64,
    /// Which packs were kept and which rolled up.
    pub geometry: PackGeometry,
}

/// What [`Odb::write_pack`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WritePackOutcome {
    /// The new pack; `None` when there was nothing to pack (nothing was written).
    pub pack: Option<PackInfo>,
    /// Objects stored as deltas (against objects of the same pack).
    pub deltas: u64,
    /// Objects compressed together with others in blocks.
    pub in_blocks: u64,
    /// Candidates larger than [`MAX_PACKED_SIZE`], which no pack holds: they stay
    /// loose.
    pub too_large: Vec<ObjectId>,
}

/// How many of the smallest packs to roll up into one new pack, so that the packs
/// kept and the new one form a geometric progression of `factor` — git's rule
/// (`split_pack_geometry` in git's `builtin/repack.c`, since 2.33; now
/// `pack_geometry_split` in `repack-geometry.c`).
///
/// `weights` are the packs' object counts, sorted ascending. Walking down from the
/// largest, packs stay while each is at least `factor` times the one below it; the
/// first pack that is not, and everything below it, is rolled up (when the walk
/// reaches the smallest pack, nothing is). The new pack will hold about the sum of the
/// rolled-up ones, so going up from the split, each pack smaller than `factor` times
/// that running sum is rolled up too. Packs from the returned index on are kept.
pub fn geometric_split(weights: &[u64], factor: u64) -> usize {
    debug_assert!(weights.is_sorted(), "{weights:?}");
    if weights.is_empty() {
        return 0;
    }
    let mut i = weights.len() - 1;
    while i > 0 && weights[i] >= factor.saturating_mul(weights[i - 1]) {
        i -= 1;
    }
    // Stopped in the middle: the larger of the last pair compared is not part of the
    // progression either.
    let mut split = if i > 0 { i + 1 } else { 0 };
    let mut total = weights[..split]
        .iter()
        .fold(0u64, |sum, w| sum.saturating_add(*w));
    while split < weights.len() && weights[split] < factor.saturating_mul(total) {
        total = total.saturating_add(weights[split]);
        split += 1;
    }
    split
}

/// Blobs up to this size with no delta base are compressed together in blocks.
const MAX_BLOCK_MEMBER: u64 = 128 << 10;
/// The content size a block is filled to.
const BLOCK_TARGET: u64 = 512 << 10;

/// What gc tries deltas within: versions of one file (a delta small enough to beat
/// a block is nearly always one), but trees by directory name, as directories of one
/// name tend to hold the same names (every locale's `LC_MESSAGES`).
fn delta_group(kind: Kind, path: &[u8]) -> &[u8] {
    match kind {
        Kind::Tree => path.rsplit(|&b| b == b'/').next().unwrap_or(path),
        _ => path,
    }
}

/// Cuts `members` (path, id, size), in order, into runs of at most [`BLOCK_TARGET`]
/// bytes (a member bigger than that alone).
fn blocks<'a>(members: &'a [(&[u8], ObjectId, u64)]) -> Vec<&'a [(&'a [u8], ObjectId, u64)]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, (_, _, size)) in members.iter().enumerate() {
        if i > start && bytes + size > BLOCK_TARGET {
            out.push(&members[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < members.len() {
        out.push(&members[start..]);
    }
    out
}

/// How many earlier blobs of the same name a blob is tried against as a delta base.
const DELTA_WINDOW: usize = 10;
/// The longest chain of deltas gc writes.
pub const MAX_DELTA_CHAIN: usize = 10;

/// An object being packed: id, kind, path hint and size.
type Member = (ObjectId, Kind, Vec<u8>, u64);

/// Bytes of samples a pack dictionary is trained on, and its size.
const DICT_SAMPLE_BYTES: usize = 8 << 20;
const DICT_SIZE: usize = 110 << 10;

/// Input bytes planned or compressed in parallel before a batch is written.
const BATCH_BYTES: u64 = 64 << 20;

/// How gc stores one object.
enum Stored {
    /// Its own frame, compressed with the pack's dictionary or not.
    Alone { frame: Vec<u8>, dictionary: bool },
    /// A frame compressed against `base`.
    Delta { base: ObjectId, frame: Vec<u8> },
    /// In a block, written after all the rest.
    InBlock,
}

/// The runs of `keep` (sorted) that share a kind and delta group.
fn runs(keep: &[Member]) -> Vec<&[Member]> {
    keep.chunk_by(|a, b| a.1 == b.1 && delta_group(a.1, &a.2) == delta_group(b.1, &b.2))
        .collect()
}

/// Cuts `items` into consecutive batches of about `limit` bytes each.
fn batches<T>(items: Vec<T>, bytes: impl Fn(&T) -> u64, limit: u64) -> Vec<Vec<T>> {
    let mut out = vec![Vec::new()];
    let mut total = 0;
    for item in items {
        total += bytes(&item);
        out.last_mut().expect("never empty").push(item);
        if total >= limit {
            out.push(Vec::new());
            total = 0;
        }
    }
    out
}

/// Compression shared by gc's worker threads.
struct Packer<'a> {
    odb: &'a Odb,
    level: i32,
    dictionary: Option<&'a zstd::dict::EncoderDictionary<'static>>,
}

impl<'a> Packer<'a> {
    fn error(&self, e: std::io::Error) -> Error {
        Error::Compress(e)
    }

    /// A compressor with the pack's dictionary, one per thread.
    fn compressor(&self) -> Option<zstd::bulk::Compressor<'a>> {
        // Dictionary setup can only fail on memory; then compress without it.
        self.dictionary
            .and_then(|d| zstd::bulk::Compressor::with_prepared_dictionary(d).ok())
    }

    /// The smaller of `data` compressed alone and with the pack's dictionary.
    fn alone(
        &self,
        data: &[u8],
        with_dict: &mut Option<zstd::bulk::Compressor<'a>>,
    ) -> Result<Stored> {
        let plain = super::compress::compress(data, self.level).map_err(|e| self.error(e))?;
        if let Some(c) = with_dict.as_mut() {
            let frame = c.compress(data).map_err(|e| self.error(e))?;
            if frame.len() < plain.len() {
                return Ok(Stored::Alone {
                    frame,
                    dictionary: true,
                });
            }
        }
        Ok(Stored::Alone {
            frame: plain,
            dictionary: false,
        })
    }

    /// Decides how each object of one run (one delta group, largest first) is stored:
    /// against one of the [`DELTA_WINDOW`] before it where that is small enough,
    /// else in a block (small blobs) or alone. The window holds only earlier members
    /// of `run`, each written to the same pack (alone, as a delta or in a block): a
    /// delta's base is always in the pack being written, never in another pack.
    fn plan_run(
        &self,
        run: &[Member],
        with_dict: &mut Option<zstd::bulk::Compressor<'a>>,
    ) -> Result<Vec<Stored>> {
        let mut out = Vec::with_capacity(run.len());
        let mut window: Vec<(ObjectId, Vec<u8>, usize)> = Vec::new();
        for (i, (id, kind, _, size)) in run.iter().enumerate() {
            let block_member = *kind == Kind::Blob && *size <= MAX_BLOCK_MEMBER;
            let last = i + 1 == run.len();
            if block_member && window.is_empty() && last {
                out.push(Stored::InBlock); // nothing to compare: not even read
                continue;
            }
            let data = self.odb.read(id)?.data;
            let mut best: Option<(ObjectId, Vec<u8>, usize)> = None;
            let alone = if block_member && window.is_empty() {
                None
            } else {
                Some(self.alone(&data, with_dict)?)
            };
            if let Some(Stored::Alone { frame, .. }) = &alone {
                // A block compresses versions of a file side by side about as well as
                // deltas would, and reads faster: only a near copy becomes a delta.
                let limit = if block_member {
                    frame.len() / 4
                } else {
                    frame.len()
                };
                for (base, base_data, depth) in window.iter().rev() {
                    if *depth >= MAX_DELTA_CHAIN {
                        continue;
                    }
                    let mut c = zstd::bulk::Compressor::with_dictionary(self.level, base_data)
                        .map_err(|e| self.error(e))?;
                    let frame = c.compress(&data).map_err(|e| self.error(e))?;
                    if frame.len() < best.as_ref().map_or(limit, |b| b.1.len()) {
                        best = Some((*base, frame, depth + 1));
                    }
                }
            }
            let depth = best.as_ref().map_or(0, |b| b.2);
            out.push(match (best, alone) {
                (Some((base, frame, _)), _) => Stored::Delta { base, frame },
                _ if block_member => Stored::InBlock,
                (None, Some(alone)) => alone,
                (None, None) => self.alone(&data, with_dict)?,
            });
            if !last {
                window.push((*id, data, depth));
                if window.len() > DELTA_WINDOW {
                    window.remove(0);
                }
            }
        }
        Ok(out)
    }
}

impl Odb {
    /// Trains a zstd dictionary on (the starts of) up to 8 MiB of small blobs; `None`
    /// when there are too few to be worth it.
    fn train_dictionary(&self, keep: &[Member]) -> Result<Option<Vec<u8>>> {
        let mut samples = Vec::new();
        let mut total = 0;
        for (id, kind, _, size) in keep {
            if *kind != Kind::Blob || *size > 64 << 10 || *size < 64 {
                continue;
            }
            let mut data = self.read(id)?.data;
            data.truncate(16 << 10);
            total += data.len();
            samples.push(data);
            if total >= DICT_SAMPLE_BYTES {
                break;
            }
        }
        if samples.len() < 100 {
            return Ok(None);
        }
        // Training can fail on unsuitable samples; then there is simply no dictionary.
        Ok(zstd::dict::from_samples(&samples, DICT_SIZE).ok())
    }

    /// Writes the cruft pack: `objects` (id, time), each compressed alone, with their
    /// times in its `.mtimes`. `None` when there are none.
    fn write_cruft(&self, objects: &[(ObjectId, u64)], level: i32) -> Result<Option<PackInfo>> {
        if objects.is_empty() {
            return Ok(None);
        }
        let mut writer = PackWriter::new(Arc::clone(&self.backend))?;
        writer.expect_objects(objects.iter().map(|c| c.0).collect());
        writer.set_times(objects.iter().copied().collect());
        for (id, _) in objects {
            if self.is_chunk_record(id)? {
                // Whole: an unreachable chunk's base may be pruned.
                self.copy_chunk_record(id, &mut writer, level, &|_| false)?;
                continue;
            }
            let object = self.read(id)?;
            writer.add(*id, object.kind, &object.data, level)?;
        }
        writer.finish()
    }

    /// Decides what [`Odb::repack`] of `candidates` and `cruft` does, changing
    /// nothing: which packs are kept byte for byte and which rolled up, what goes into
    /// the new pack and the new cruft pack, and which loose copies go.
    ///
    /// The packs a repack wrote are split as git's `repack --geometric=2` does
    /// ([`geometric_split`] of their object counts); with [`RepackOptions::full`],
    /// all of them are rolled up. The packs a commit wrote quickly (each object alone,
    /// at the commit's level) are rolled up whatever their size, as loose objects are,
    /// so every object is stored the way a repack stores it once. A pack above the
    /// split that holds an object neither in `candidates` nor in `cruft` is rolled up
    /// too, so that the object is dropped: a repack prunes whatever it is not asked to
    /// keep, however large the pack that holds it. A copy is dropped (loose, or with a
    /// pack rolled up) in favour of a kept pack's only once that copy reads back
    /// intact; a kept pack whose copy does not is rolled up as well, its objects taken
    /// from intact copies. Cruft packs are always rolled into the new cruft pack,
    /// unless there is one, it already holds exactly that, and the repack is not
    /// full.
    ///
    /// What a kept pack holds stays there: such candidates are left out of the new
    /// pack, and such cruft too, unless its time (from a cruft pack) is newer than the
    /// kept pack's, which would make the object older than it is.
    pub fn plan_repack(
        &self,
        candidates: Vec<Candidate>,
        cruft: Vec<(ObjectId, u64)>,
        options: &RepackOptions,
    ) -> Result<RepackPlan> {
        // Every pack there is now counts, including ones another store wrote.
        self.reload_packs();
        let keep: HashSet<ObjectId> = candidates
            .iter()
            .map(|c| c.id)
            .chain(cruft.iter().map(|c| c.0))
            .collect();
        let by_size = |a: &Arc<Pack>, b: &Arc<Pack>| (a.len(), &a.name).cmp(&(b.len(), &b.name));
        let (cruft_packs, packs): (Vec<Arc<Pack>>, Vec<Arc<Pack>>) = self
            .packs()
            .into_iter()
            .partition(|p| self.is_cruft_pack(&p.name));
        let (mut settled, mut rolled): (Vec<Arc<Pack>>, Vec<Arc<Pack>>) =
            packs.into_iter().partition(|p| p.is_repacked());
        settled.sort_by(by_size);
        let split = if options.full {
            settled.len()
        } else {
            let weights: Vec<u64> = settled.iter().map(|p| p.len() as u64).collect();
            geometric_split(&weights, GEOMETRIC_FACTOR)
        };
        let mut kept = settled.split_off(split);
        rolled.extend(settled);
        let mut forced: Vec<Arc<Pack>> = Vec::new();
        kept.retain(|p| {
            let prune = p.entries().any(|(id, _)| !keep.contains(&id));
            if prune {
                forced.push(Arc::clone(p));
            }
            !prune
        });
        // Objects with a copy to drop that a kept pack also holds: each kept copy is
        // read through first. Rolling up a damaged pack drops more copies: repeat.
        let loose = self.loose_ids()?;
        let mut verified: HashSet<(String, ObjectId)> = HashSet::new();
        loop {
            let dropped = loose.iter().copied().chain(
                rolled
                    .iter()
                    .chain(&forced)
                    .chain(&cruft_packs)
                    .flat_map(|p| p.entries().map(|(id, _)| id)),
            );
            let mut damaged: Vec<String> = Vec::new();
            for id in dropped {
                for pack in &kept {
                    let Some(offset) = pack.find_stored(&id) else {
                        continue;
                    };
                    if damaged.contains(&pack.name) || !verified.insert((pack.name.clone(), id)) {
                        continue;
                    }
                    if self
                        .read_packed(&id, pack, offset, 0, &mut Vec::new())
                        .is_err()
                    {
                        damaged.push(pack.name.clone());
                    }
                }
            }
            if damaged.is_empty() {
                break;
            }
            kept.retain(|p| {
                let bad = damaged.contains(&p.name);
                if bad {
                    forced.push(Arc::clone(p));
                }
                !bad
            });
        }
        let rolled_to_prune = forced.len() as u64;
        rolled.extend(forced);
        rolled.sort_by(by_size);

        let in_kept = |id: &ObjectId| kept.iter().any(|p| p.find_stored(id).is_some());
        let kept_times: Vec<u64> = kept.iter().map(|p| self.pack_time(&p.name)).collect();
        let kept_time = |id: &ObjectId| {
            kept.iter()
                .zip(&kept_times)
                .filter(|(p, _)| p.find_stored(id).is_some())
                .map(|(_, time)| *time)
                .max()
        };
        let redundant_loose: Vec<ObjectId> =
            loose.iter().filter(|id| in_kept(id)).copied().collect();
        let mut seen = HashSet::new();
        let pack: Vec<Candidate> = candidates
            .into_iter()
            .filter(|c| seen.insert(c.id) && !in_kept(&c.id))
            .collect();
        let mut cruft: Vec<(ObjectId, u64)> = cruft
            .into_iter()
            .filter(|(id, time)| kept_time(id).is_none_or(|kept| *time > kept))
            .collect();
        cruft.sort_unstable();
        cruft.dedup_by_key(|c| c.0);
        // A full repack rewrites the cruft pack too, as everything else.
        let cruft_kept = match &cruft_packs[..] {
            [only] if !options.full && !cruft.is_empty() => {
                let loose: HashSet<&ObjectId> = loose.iter().collect();
                only.len() == cruft.len()
                    && only.entries().zip(&cruft).all(|(a, b)| a.0 == b.0)
                    && !cruft.iter().any(|c| loose.contains(&c.0))
                    && super::cruft::read_times(&*self.backend, only)
                        .is_some_and(|times| times.iter().eq(cruft.iter().map(|c| &c.1)))
            }
            _ => false,
        };
        if cruft_kept {
            cruft.clear();
        }
        let summary = |p: &Arc<Pack>| PackSummary {
            name: p.name.clone(),
            objects: p.len() as u64,
        };
        Ok(RepackPlan {
            geometry: PackGeometry {
                kept: kept.iter().rev().map(summary).collect(),
                rolled: rolled.iter().map(summary).collect(),
                rolled_to_prune,
                cruft: cruft_packs.iter().map(summary).collect(),
                cruft_kept,
            },
            pack,
            cruft,
            redundant_loose,
        })
    }

    /// Repacks what [`Odb::plan_repack`] decides: the candidates no kept pack holds
    /// into one new pack ([`Odb::write_pack`]), and `cruft` (id, unix time) into a
    /// cruft pack that keeps each one's time; then, once both are durable, removes the
    /// packs rolled up, the old cruft packs, and the loose copies of what the new and
    /// kept packs hold. Packs kept are not touched. Objects larger than
    /// [`MAX_PACKED_SIZE`] stay loose. Nothing is written or removed when there is
    /// nothing to do.
    pub fn repack(
        &self,
        candidates: Vec<Candidate>,
        cruft: Vec<(ObjectId, u64)>,
        options: &RepackOptions,
    ) -> Result<RepackOutcome> {
        self.repack_with_progress(candidates, cruft, options, None)
    }

    /// [`Odb::repack`], telling `progress` of the objects packed (step `"pack"`, unit
    /// `"objects"`) and of those stored as deltas (step `"deltas"`, with the objects
    /// packed so far as the total).
    pub fn repack_with_progress(
        &self,
        candidates: Vec<Candidate>,
        cruft: Vec<(ObjectId, u64)>,
        options: &RepackOptions,
        progress: Option<&(dyn Progress + Sync)>,
    ) -> Result<RepackOutcome> {
        let plan = self.plan_repack(candidates, cruft, options)?;
        let mut packed_ids: HashSet<ObjectId> = plan.pack.iter().map(|c| c.id).collect();
        let written = self.write_pack_with(
            plan.pack,
            Arc::clone(&self.backend),
            options,
            None,
            progress,
        )?;
        for id in &written.too_large {
            packed_ids.remove(id);
        }
        let mut outcome = RepackOutcome {
            deltas: written.deltas,
            in_blocks: written.in_blocks,
            pack: written.pack,
            kept_packs: plan.geometry.kept_packs(),
            ..RepackOutcome::default()
        };
        // The new packs are synced and in place before anything old goes.
        outcome.cruft_pack = self.write_cruft(&plan.cruft, options.level)?;
        packed_ids.extend(plan.cruft.iter().map(|c| c.0));
        outcome.packed = [&outcome.pack, &outcome.cruft_pack]
            .into_iter()
            .flatten()
            .map(|p| p.objects)
            .sum();
        self.sync()?;
        let new_names: Vec<&String> = [&outcome.pack, &outcome.cruft_pack]
            .into_iter()
            .flatten()
            .map(|p| &p.name)
            .collect();
        let geometry = &plan.geometry;
        let cruft = if geometry.cruft_kept {
            &[][..]
        } else {
            &geometry.cruft[..]
        };
        for old in geometry.rolled.iter().chain(cruft) {
            if !new_names.contains(&&old.name) {
                self.remove_pack(&old.name);
                outcome.removed_packs += 1;
            }
        }
        packed_ids.extend(plan.redundant_loose);
        for id in self.loose_ids()? {
            if packed_ids.contains(&id) && self.remove_loose(&id) {
                outcome.removed_loose += 1;
            }
        }
        outcome.geometry = plan.geometry;
        self.reload_packs();
        Ok(outcome)
    }

    /// Writes `candidates` into one new pack in `target` — which may be another store
    /// than this one's (a remote's), the objects being read from this one — and syncs
    /// it: small blobs compressed together in blocks, in path order; near copies as
    /// zstd deltas against an earlier version, chains at most [`MAX_DELTA_CHAIN`]
    /// long; trees as deltas against directories of the same name; the rest alone,
    /// with a dictionary trained on the small blobs.
    ///
    /// The pack is self-contained: every delta's base is one of `candidates` (the
    /// delta window only ever holds objects of this pack), so the pack reads without
    /// any other — but for chunk deltas with [`RepackOptions::external_chunk_bases`].
    /// Candidates larger than [`MAX_PACKED_SIZE`] are left out (listed in
    /// [`WritePackOutcome::too_large`]); a candidate listed twice is packed once.
    /// Nothing is written when nothing is left to pack.
    pub fn write_pack(
        &self,
        candidates: Vec<Candidate>,
        target: Arc<dyn Backend>,
        options: &RepackOptions,
    ) -> Result<WritePackOutcome> {
        self.write_pack_with(candidates, target, options, None, None)
    }

    /// [`Odb::write_pack`] into another repository's store `target`: a chunk stored
    /// here as a delta against a chunk `target` holds stays a delta (`target`'s gc
    /// keeps the bases its chunks need), so sending an edit of a large file sends
    /// kilobytes, not the chunks it touched.
    pub fn write_pack_into(
        &self,
        candidates: Vec<Candidate>,
        target: &Odb,
        options: &RepackOptions,
    ) -> Result<WritePackOutcome> {
        self.write_pack_with(
            candidates,
            Arc::clone(&target.backend),
            options,
            Some(target),
            None,
        )
    }

    fn write_pack_with(
        &self,
        candidates: Vec<Candidate>,
        target: Arc<dyn Backend>,
        options: &RepackOptions,
        target_odb: Option<&Odb>,
        progress: Option<&(dyn Progress + Sync)>,
    ) -> Result<WritePackOutcome> {
        let mut outcome = WritePackOutcome::default();
        let mut seen = HashSet::new();
        let mut keep: Vec<Member> = Vec::with_capacity(candidates.len());
        // Chunks and chunk lists, copied as they are stored (never chunked again).
        let mut chunk_records: Vec<ObjectId> = Vec::new();
        let chunked = self.has_chunks();
        for c in candidates {
            if !seen.insert(c.id) {
                continue;
            }
            if chunked && self.is_chunk_record(&c.id)? {
                chunk_records.push(c.id);
                continue;
            }
            let size = self.read_header(&c.id)?.1;
            if size > MAX_PACKED_SIZE {
                outcome.too_large.push(c.id); // stays loose, streamed
            } else {
                keep.push((c.id, c.kind, c.path, size));
            }
        }
        if keep.is_empty() && chunk_records.is_empty() {
            return Ok(outcome);
        }
        // Blobs grouped by file name, largest first, so a delta's base is a recent
        // version of the same file (a base is best bigger than what it encodes, as in
        // git); commits and trees first, as they are read most.
        keep.sort_by(|a, b| {
            let rank = |k: Kind| match k {
                Kind::Commit => 0,
                Kind::Tree => 1,
                _ => 2,
            };
            rank(a.1)
                .cmp(&rank(b.1))
                .then_with(|| delta_group(a.1, &a.2).cmp(delta_group(b.1, &b.2)))
                .then_with(|| b.3.cmp(&a.3))
        });
        // A dictionary trained on the blobs helps most for the many small files that
        // have no earlier version to be a delta of.
        let dictionary = self.train_dictionary(&keep)?;
        // The dictionary record, even empty, marks the pack as a repack's.
        let mut writer = PackWriter::with_dictionary(target, dictionary.as_deref().unwrap_or(&[]))?;
        writer.expect_objects(
            keep.iter()
                .map(|k| k.0)
                .chain(chunk_records.iter().copied())
                .collect(),
        );
        let prepared = dictionary
            .as_ref()
            .map(|d| zstd::dict::EncoderDictionary::copy(d, options.level));
        let packer = Packer {
            odb: self,
            level: options.level,
            dictionary: prepared.as_ref(),
        };
        // Runs of one delta group are independent: plan them in parallel, a batch of
        // bounded size at a time, and write each batch in order.
        let mut solid: Vec<(&[u8], ObjectId, u64)> = Vec::new();
        let total = (keep.len() + chunk_records.len()) as u64;
        let mut done = 0u64;
        let report = |done: u64, deltas: u64| {
            if let Some(progress) = progress {
                progress.update("pack", done, total, "objects");
                progress.update("deltas", deltas, done, "objects");
            }
        };
        for batch in batches(
            runs(&keep),
            |run| run.iter().map(|c| c.3).sum(),
            BATCH_BYTES,
        ) {
            let planned: Vec<Vec<Stored>> = batch
                .par_iter()
                .map_init(|| packer.compressor(), |c, run| packer.plan_run(run, c))
                .collect::<Result<_>>()?;
            let solid_before = solid.len() as u64;
            for (run, stored) in batch.iter().zip(planned) {
                for ((id, kind, path, size), stored) in run.iter().zip(stored) {
                    match stored {
                        Stored::Alone { frame, dictionary } if dictionary => {
                            writer.add_frame_with_dictionary(*id, *kind, *size, &frame)?;
                        }
                        Stored::Alone { frame, .. } => {
                            writer.add_frame(*id, *kind, *size, None, &frame)?;
                        }
                        Stored::Delta { base, frame } => {
                            writer.add_frame(*id, *kind, *size, Some(&base), &frame)?;
                            outcome.deltas += 1;
                        }
                        Stored::InBlock => solid.push((path, *id, *size)),
                    }
                }
            }
            let runs_len: u64 = batch.iter().map(|run| run.len() as u64).sum();
            // Objects going into blocks are counted when their block is written.
            done += runs_len - (solid.len() as u64 - solid_before);
            report(done, outcome.deltas);
        }
        // Blocks, in path order: versions of one file, and neighbouring files, are the
        // most alike.
        solid.sort_unstable();
        let groups = blocks(&solid);
        for batch in batches(groups, |g| g.iter().map(|m| m.2).sum(), BATCH_BYTES) {
            let frames: Vec<Stored> = batch
                .par_iter()
                .map_init(
                    || packer.compressor(),
                    |c, group| {
                        let mut content = Vec::new();
                        for (_, id, _) in *group {
                            content.extend_from_slice(&self.read(id)?.data);
                        }
                        // Blocks are mostly text the dictionary was trained on: not
                        // worth compressing a second time without it to compare.
                        match c.as_mut() {
                            Some(c) => Ok(Stored::Alone {
                                frame: c.compress(&content).map_err(|e| packer.error(e))?,
                                dictionary: true,
                            }),
                            None => packer.alone(&content, c),
                        }
                    },
                )
                .collect::<Result<_>>()?;
            for (group, stored) in batch.iter().zip(frames) {
                let Stored::Alone { frame, dictionary } = stored else {
                    unreachable!("blocks are compressed alone")
                };
                match group {
                    // A block of one would only add a record.
                    [(_, id, size)] if dictionary => {
                        writer.add_frame_with_dictionary(*id, Kind::Blob, *size, &frame)?
                    }
                    [(_, id, size)] => writer.add_frame(*id, Kind::Blob, *size, None, &frame)?,
                    _ => {
                        let members: Vec<_> = group
                            .iter()
                            .map(|(_, id, size)| (*id, Kind::Blob, *size))
                            .collect();
                        outcome.in_blocks += members.len() as u64;
                        writer.add_block(&members, dictionary, &frame)?
                    }
                };
            }
            done += batch.iter().map(|g| g.len() as u64).sum::<u64>();
            report(done, outcome.deltas);
        }
        // A chunk delta stays one when its base is in this pack, or in the target
        // store, or for this store's own packs, wherever the base is (reachability
        // keeps it).
        let in_pack: HashSet<ObjectId> = chunk_records.iter().copied().collect();
        if options.external_chunk_bases || target_odb.is_some() {
            writer.allow_external_chunk_bases();
        }
        let keep_delta = |base: &ObjectId| {
            options.external_chunk_bases
                || in_pack.contains(base)
                || target_odb.is_some_and(|t| t.contains_chunk(base) && t.chunk_intact(base))
        };
        for id in &chunk_records {
            self.copy_chunk_record(id, &mut writer, options.level, &keep_delta)?;
        }
        // Synced and in place when this returns.
        outcome.pack = writer.finish()?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::odb::backend::{FileKind, MemoryBackend};
    use crate::odb::testing::{Fixture, TestResult, both};
    use std::collections::HashMap;

    both!(
        a_repack_keeps_a_large_pack_and_writes_the_new_objects_beside_it,
        a_commits_quick_pack_is_rolled_up_whatever_its_size,
        a_pack_naming_a_base_it_does_not_hold_is_refused,
        write_pack_writes_into_another_store,
    );

    /// Worked examples of git's rule with factor 2 (weights ascending).
    #[test]
    fn geometric_split_follows_gits_rule() {
        let split = |weights: &[u64]| geometric_split(weights, 2);
        // No pack, or one: nothing to roll up (the roll-up's total is 0, and no pack
        // is smaller than twice that).
        assert_eq!(split(&[]), 0);
        assert_eq!(split(&[5]), 0);
        // Each pack at least twice the one below: the walk down reaches the smallest,
        // the packs already form a progression.
        assert_eq!(split(&[1, 2, 4, 8]), 0);
        assert_eq!(split(&[1, 100]), 0);
        // The walk stops at the second pack (1 < 2 × 1): it and the one below roll up
        // into one of 2; 4 ≥ 2 × 2 stays.
        assert_eq!(split(&[1, 1, 4]), 2);
        // The same, but 3 < 2 × 2: the 3 joins the roll-up.
        assert_eq!(split(&[1, 1, 3]), 3);
        // 1000 ≥ 2 × 100 and 100 ≥ 2 × 10, but 10 < 2 × 10: the two 10s roll up
        // (20), and 100 ≥ 2 × 20 stays.
        assert_eq!(split(&[10, 10, 100, 1000]), 2);
        // The two largest are too close (150 < 2 × 100): the walk stops at the top,
        // and the top pack of the pair rolls up too — everything does.
        assert_eq!(split(&[2, 3, 100, 150]), 4);
        // A cascade going up: the walk stops at 1 < 2 × 1 (total 2); then 3 < 2 × 2
        // joins (5), 7 < 2 × 5 joins (12), and 100 ≥ 2 × 12 stays.
        assert_eq!(split(&[1, 1, 3, 7, 100]), 4);
        // The usual case after a few gcs: the small packs roll up, the big one stays.
        assert_eq!(split(&[12, 15, 50_000]), 2);
        // Huge counts saturate instead of overflowing.
        assert_eq!(split(&[u64::MAX / 2, u64::MAX]), 0);
    }

    /// `n` lines of pseudo-random hex: compresses badly alone, well against a near
    /// copy (so a version of it becomes a delta).
    fn noise(n: usize) -> String {
        let mut state = 1u64;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                format!("{state:016x}\n")
            })
            .collect()
    }

    /// Writes a blob (loose) and returns it as a candidate at `path`.
    fn blob(odb: &Odb, path: &str, data: &[u8]) -> Result<Candidate> {
        Ok(Candidate {
            id: odb.write_blob(data)?.id,
            kind: Kind::Blob,
            path: path.as_bytes().to_vec(),
        })
    }

    /// Every delta in every pack of `odb` has its base in the same pack; returns
    /// the deltas seen in each pack.
    fn deltas_in_their_own_pack(odb: &Odb) -> Result<HashMap<String, u64>> {
        let mut deltas = HashMap::new();
        for pack in odb.packs() {
            for (id, offset) in pack.entries() {
                if let Some(base) = pack.header(offset)?.base {
                    assert!(
                        pack.find(&base).is_some(),
                        "{id} in pack-{} is a delta against {base}, which is not in it",
                        pack.name
                    );
                    *deltas.entry(pack.name.clone()).or_default() += 1;
                }
            }
        }
        Ok(deltas)
    }

    fn a_repack_keeps_a_large_pack_and_writes_the_new_objects_beside_it(
        store: &Fixture,
    ) -> TestResult {
        let odb = store.odb();
        let base = noise(4000);
        let mut candidates = Vec::new();
        for i in 0..4 {
            candidates.push(blob(
                &odb,
                "file.txt",
                format!("{base}version {i}\n").as_bytes(),
            )?);
        }
        for i in 0..200 {
            candidates.push(blob(
                &odb,
                &format!("dir/f{i:03}"),
                format!("small {i}\n").as_bytes(),
            )?);
        }
        let first = odb.repack(candidates.clone(), vec![], &RepackOptions::default())?;
        let big = first.pack.expect("a pack").name;
        assert_eq!(odb.pack_names(), std::slice::from_ref(&big));
        let big_bytes = store.read(FileKind::Pack, &big);

        // Newer versions of the file, loose: their natural delta base (version 3) is
        // in the kept pack, which a delta must not name.
        for i in 4..8 {
            candidates.push(blob(
                &odb,
                "file.txt",
                format!("{base}version {i}\n").as_bytes(),
            )?);
        }
        let second = odb.repack(candidates.clone(), vec![], &RepackOptions::default())?;
        assert_eq!(
            (second.kept_packs, second.removed_packs),
            (1, 0),
            "{second:?}"
        );
        assert_eq!(second.removed_loose, 4);
        let small = second.pack.expect("a new pack");
        assert_eq!(small.objects, 4);
        assert_eq!(
            store.read(FileKind::Pack, &big),
            big_bytes,
            "kept byte for byte"
        );
        let mut names = odb.pack_names();
        names.sort();
        let mut want = vec![big.clone(), small.name.clone()];
        want.sort();
        assert_eq!(names, want);
        let deltas = deltas_in_their_own_pack(&odb)?;
        assert!(deltas.get(&small.name) >= Some(&1), "{deltas:?}");

        // Nothing to do: nothing is written or removed.
        let files = store.files();
        let third = odb.repack(candidates.clone(), vec![], &RepackOptions::default())?;
        assert_eq!(
            (third.pack, third.packed, third.removed_packs),
            (None, 0, 0)
        );
        assert_eq!(third.kept_packs, 2);
        assert_eq!(store.files(), files);

        // A full repack: one pack, the old ones gone, still self-contained.
        let full = RepackOptions {
            full: true,
            ..RepackOptions::default()
        };
        let fourth = odb.repack(candidates.clone(), vec![], &full)?;
        assert_eq!(
            (fourth.kept_packs, fourth.removed_packs),
            (0, 2),
            "{fourth:?}"
        );
        assert_eq!(odb.pack_names(), [fourth.pack.expect("a pack").name]);
        deltas_in_their_own_pack(&odb)?;
        let fresh = store.odb();
        for c in &candidates {
            fresh.read(&c.id)?;
        }
        Ok(())
    }

    fn a_commits_quick_pack_is_rolled_up_whatever_its_size(store: &Fixture) -> TestResult {
        let odb = store.odb();
        // A repack's small pack, then a commit's pack more than twice its size.
        let small: Vec<Candidate> = (0..10)
            .map(|i| blob(&odb, &format!("a/{i}"), format!("first {i}\n").as_bytes()))
            .collect::<Result<_>>()?;
        let repacked = odb.repack(small.clone(), vec![], &RepackOptions::default())?;
        let repacked = repacked.pack.expect("a pack").name;
        odb.begin_pack()?;
        let quick: Vec<Candidate> = (0..100)
            .map(|i| blob(&odb, &format!("b/{i}"), format!("second {i}\n").as_bytes()))
            .collect::<Result<_>>()?;
        let quick_pack = odb.finish_pack(1)?.expect("a pack").name;
        assert!(
            !odb.packs()
                .iter()
                .any(|p| p.name == quick_pack && p.is_repacked())
        );
        // By count alone, the quick pack would be kept and the small one too
        // (100 ≥ 2 × 10); as a commit's pack it is rolled up, as loose objects are.
        let all: Vec<Candidate> = small.iter().chain(&quick).cloned().collect();
        let outcome = odb.repack(all.clone(), vec![], &RepackOptions::default())?;
        assert_eq!(outcome.geometry.kept.len(), 1, "{outcome:?}");
        assert_eq!(outcome.geometry.kept[0].name, repacked);
        assert_eq!(outcome.geometry.rolled[0].name, quick_pack);
        assert_eq!(outcome.pack.as_ref().map(|p| p.objects), Some(100));
        assert!(odb.packs().iter().all(|p| p.is_repacked()));
        for c in &all {
            store.odb().read(&c.id)?;
        }
        Ok(())
    }

    fn a_pack_naming_a_base_it_does_not_hold_is_refused(store: &Fixture) -> TestResult {
        let (base, data) = (
            b"a base elsewhere\n".repeat(20),
            b"a base elsewhere, edited\n",
        );
        let odb = store.odb();
        let base = odb.write_blob(&base)?.id;
        let mut writer = PackWriter::new(Arc::clone(&store.backend))?;
        let frame = super::super::compress::compress(data, 3)?;
        let id = ObjectId::hash(Kind::Blob, data);
        writer.add_frame(id, Kind::Blob, data.len() as u64, Some(&base), &frame)?;
        let err = writer.finish().unwrap_err();
        let mut chain = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(e) = source {
            chain += &format!(": {e}");
            source = e.source();
        }
        assert!(
            chain.contains(&format!("base {base} is not in the pack")),
            "{chain}"
        );
        assert!(store.backend.list(FileKind::Pack, "")?.is_empty());
        assert!(store.backend.list(FileKind::Index, "")?.is_empty());
        Ok(())
    }

    fn write_pack_writes_into_another_store(store: &Fixture) -> TestResult {
        let odb = store.odb();
        let base = noise(2000);
        let mut candidates: Vec<Candidate> = (0..3)
            .map(|i| blob(&odb, "f", format!("{base}{i}\n").as_bytes()))
            .collect::<Result<_>>()?;
        candidates.push(candidates[0].clone()); // listed twice, packed once
        // A large object stored whole and loose, as before chunking.
        odb.set_chunk_params(crate::odb::ChunkParams {
            threshold: u64::MAX,
            ..crate::odb::ChunkParams::DEFAULT
        });
        let huge = vec![7u8; MAX_PACKED_SIZE as usize + 1];
        let huge = odb
            .write_stream(Kind::Blob, huge.len() as u64, &huge[..])?
            .id;
        candidates.push(Candidate {
            id: huge,
            kind: Kind::Blob,
            path: b"huge".to_vec(),
        });
        let target: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
        let written = odb.write_pack(
            candidates.clone(),
            Arc::clone(&target),
            &RepackOptions::default(),
        )?;
        assert_eq!(written.too_large, [huge]);
        assert!(written.deltas >= 1, "{written:?}");
        let pack = written.pack.expect("a pack");
        assert_eq!(pack.objects, 3);
        // The pack is in the target only, and reads there on its own.
        assert!(odb.pack_names().is_empty());
        let remote = Odb::with_backend(target);
        assert_eq!(remote.pack_names(), [pack.name]);
        for c in &candidates[..3] {
            assert_eq!(remote.read(&c.id)?, odb.read(&c.id)?);
        }
        assert!(!remote.contains(&huge));
        deltas_in_their_own_pack(&remote)?;
        // Nothing to pack: nothing written anywhere.
        let files = store.files();
        let empty = odb.write_pack(
            vec![],
            Arc::clone(&store.backend),
            &RepackOptions::default(),
        )?;
        assert_eq!(empty, WritePackOutcome::default());
        assert_eq!(store.files(), files);
        Ok(())
    }
}
