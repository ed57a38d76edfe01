//! Repacking: many objects into one new pack — small files compressed together in
//! blocks, near copies as deltas against an earlier version, and a dictionary trained
//! on the small blobs — then the old copies removed.
//!
//! The caller (gc) decides what to keep; this decides how it is stored.

use std::collections::HashSet;
use std::sync::Arc;

use rayon::prelude::*;

use super::pack::PackWriter;
use super::{Error, MAX_PACKED_SIZE, Odb, PackInfo, Result};
use crate::object::{Kind, ObjectId};

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

/// Knobs for [`Odb::repack`].
#[derive(Clone, Copy, Debug)]
pub struct RepackOptions {
    /// zstd level for the new packs.
    pub level: i32,
}

impl Default for RepackOptions {
    fn default() -> Self {
        RepackOptions { level: 9 }
    }
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
    /// Loose copies removed (of objects now packed).
    pub removed_loose: u64,
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
    /// Too large to pack: stays loose.
    Loose,
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
    /// else in a block (small blobs) or alone.
    fn plan_run(
        &self,
        run: &[Member],
        with_dict: &mut Option<zstd::bulk::Compressor<'a>>,
    ) -> Result<Vec<Stored>> {
        let mut out = Vec::with_capacity(run.len());
        let mut window: Vec<(ObjectId, Vec<u8>, usize)> = Vec::new();
        for (i, (id, kind, _, size)) in run.iter().enumerate() {
            if *size > MAX_PACKED_SIZE {
                out.push(Stored::Loose); // stays loose, streamed
                continue;
            }
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
            let object = self.read(id)?;
            writer.add(*id, object.kind, &object.data, level)?;
        }
        writer.finish()
    }

    /// Repacks `candidates` into one new pack — small blobs compressed together in
    /// blocks, in path order; near copies as zstd deltas against an earlier version,
    /// chains at most [`MAX_DELTA_CHAIN`] long; trees as deltas against directories
    /// of the same name — and `cruft` (id, unix time) into a cruft pack that keeps
    /// each one's time; then, once both are durable, removes every pack that was
    /// there before and the loose copies of what the new packs hold. Objects larger
    /// than [`MAX_PACKED_SIZE`] stay loose.
    pub fn repack(
        &self,
        candidates: Vec<Candidate>,
        cruft: Vec<(ObjectId, u64)>,
        options: &RepackOptions,
    ) -> Result<RepackOutcome> {
        let mut outcome = RepackOutcome::default();
        // Every pack there is now is replaced, including ones another store wrote.
        self.reload_packs();
        let old_packs = self.pack_names();
        // Blobs grouped by file name, largest first, so a delta's base is a recent
        // version of the same file (a base is best bigger than what it encodes, as in
        // git); commits and trees first, as they are read most.
        let mut keep: Vec<Member> = candidates
            .into_iter()
            .map(|c| Ok((c.id, c.kind, c.path, self.read_header(&c.id)?.1)))
            .collect::<Result<_>>()?;
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
        let mut writer = match &dictionary {
            Some(dict) => PackWriter::with_dictionary(Arc::clone(&self.backend), dict)?,
            None => PackWriter::new(Arc::clone(&self.backend))?,
        };
        writer.expect_objects(
            keep.iter()
                .filter(|k| k.3 <= MAX_PACKED_SIZE)
                .map(|k| k.0)
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
        let mut packed_ids = HashSet::new();
        let mut solid: Vec<(&[u8], ObjectId, u64)> = Vec::new();
        for batch in batches(
            runs(&keep),
            |run| run.iter().map(|c| c.3).sum(),
            BATCH_BYTES,
        ) {
            let planned: Vec<Vec<Stored>> = batch
                .par_iter()
                .map_init(|| packer.compressor(), |c, run| packer.plan_run(run, c))
                .collect::<Result<_>>()?;
            for (run, stored) in batch.iter().zip(planned) {
                for ((id, kind, path, size), stored) in run.iter().zip(stored) {
                    match stored {
                        Stored::Loose => continue,
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
                    packed_ids.insert(*id);
                }
            }
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
        }
        outcome.packed = writer.len() as u64;
        // The new packs are synced and in place before anything old goes.
        outcome.pack = writer.finish()?;
        outcome.cruft_pack = self.write_cruft(&cruft, options.level)?;
        outcome.packed += cruft.len() as u64;
        packed_ids.extend(cruft.iter().map(|c| c.0));
        self.sync()?;
        let new_names: Vec<&String> = [&outcome.pack, &outcome.cruft_pack]
            .into_iter()
            .flatten()
            .map(|p| &p.name)
            .collect();
        for name in &old_packs {
            if !new_names.contains(&name) {
                self.remove_pack(name);
                outcome.removed_packs += 1;
            }
        }
        for id in self.loose_ids()? {
            if packed_ids.contains(&id) && self.remove_loose(&id) {
                outcome.removed_loose += 1;
            }
        }
        self.reload_packs();
        Ok(outcome)
    }
}
