//! Garbage collection: repack everything reachable into one pack — small files
//! compressed together in blocks, near copies as deltas — and remove what nothing
//! reaches.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::time::{Duration, SystemTime};

use rayon::prelude::*;

use super::{Repository, Result};
use crate::object::{EntryMode, Kind, ObjectId};
use crate::odb::{MAX_PACKED_SIZE, PackInfo, PackWriter};
use crate::refs::Head;
use crate::worktree::Index;

/// Knobs for [`Repository::gc`].
#[derive(Clone, Copy, Debug)]
pub struct GcOptions {
    /// Unreachable objects younger than this are kept (a commit may be about to point
    /// at them). `Duration::ZERO` is git's `--prune=now`; `None` never prunes.
    pub grace: Option<Duration>,
    /// Report what would be kept and reclaimed, and change nothing.
    pub dry_run: bool,
    /// zstd level for the new pack.
    pub level: i32,
}

impl Default for GcOptions {
    fn default() -> Self {
        GcOptions {
            grace: Some(DEFAULT_GRACE),
            dry_run: false,
            level: 9,
        }
    }
}

/// Unreachable objects younger than this survive a gc (git's two weeks).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(14 * 24 * 3600);

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
    /// Old packs removed.
    pub removed_packs: u64,
    /// Unreachable objects dropped.
    pub pruned: u64,
    /// Bytes of objects in the store before.
    pub bytes_before: u64,
    /// Bytes after (in a dry run, an estimate that leaves out compression gains).
    pub bytes_after: u64,
    /// The new pack.
    pub pack: Option<PackInfo>,
    /// Unreachable objects younger than the grace period, kept (counted in `packed`)
    /// in a cruft pack that records each one's own time, so it keeps ageing.
    pub cruft: u64,
    /// The new cruft pack, when there were such objects.
    pub cruft_pack: Option<PackInfo>,
}

/// Loose and packed objects and their bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ObjectCounts {
    /// Loose objects.
    pub loose: u64,
    /// Bytes of loose object files.
    pub loose_bytes: u64,
    /// Packs.
    pub packs: u64,
    /// Objects in packs.
    pub packed: u64,
    /// Bytes of packs and their indexes.
    pub pack_bytes: u64,
}

fn file_len(path: &std::path::Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn age(path: &std::path::Path) -> Duration {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or(Duration::ZERO)
}

/// A file's modification time in unix seconds (now, when it cannot be read: young).
fn unix_secs(path: &std::path::Path) -> u64 {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| SystemTime::now())
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Bytes of samples a pack dictionary is trained on, and its size.
const DICT_SAMPLE_BYTES: usize = 8 << 20;
const DICT_SIZE: usize = 110 << 10;

/// Input bytes planned or compressed in parallel before a batch is written.
const BATCH_BYTES: u64 = 64 << 20;

/// An object gc packs: id, kind, path hint and size.
type Candidate = (ObjectId, Kind, Vec<u8>, u64);

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
fn runs(keep: &[Candidate]) -> Vec<&[Candidate]> {
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
    repo: &'a Repository,
    level: i32,
    dictionary: Option<&'a zstd::dict::EncoderDictionary<'static>>,
}

impl<'a> Packer<'a> {
    fn error(&self, e: std::io::Error) -> super::Error {
        crate::fs::IoError::new("compress", self.repo.odb.pack_dir(), e).into()
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
        let plain = crate::odb::compress(data, self.level).map_err(|e| self.error(e))?;
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
        run: &[Candidate],
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
            let data = self.repo.odb.read(id)?.data;
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

impl Repository {
    /// Trains a zstd dictionary on (the starts of) up to 8 MiB of small blobs; `None`
    /// when there are too few to be worth it.
    fn train_dictionary(&self, keep: &[(ObjectId, Kind, Vec<u8>, u64)]) -> Result<Option<Vec<u8>>> {
        let mut samples = Vec::new();
        let mut total = 0;
        for (id, kind, _, size) in keep {
            if *kind != Kind::Blob || *size > 64 << 10 || *size < 64 {
                continue;
            }
            let mut data = self.odb.read(id)?.data;
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
    fn write_cruft(
        &self,
        pack_dir: &std::path::Path,
        objects: &[(ObjectId, u64)],
        level: i32,
    ) -> Result<Option<PackInfo>> {
        if objects.is_empty() {
            return Ok(None);
        }
        let mut writer = PackWriter::new(pack_dir)?;
        writer.expect_objects(objects.iter().map(|c| c.0).collect());
        writer.set_times(objects.iter().copied().collect());
        for (id, _) in objects {
            let object = self.odb.read(id)?;
            writer.add(*id, object.kind, &object.data, level)?;
        }
        Ok(writer.finish()?)
    }

    /// Counts loose and packed objects and the bytes they take.
    #[doc(alias = "count-objects")]
    pub fn count_objects(&self) -> Result<ObjectCounts> {
        let mut counts = ObjectCounts::default();
        for id in self.odb.loose_object_ids()? {
            counts.loose += 1;
            counts.loose_bytes += file_len(&self.odb.loose_path_of(&id));
        }
        for pack in self.odb.packs() {
            counts.packs += 1;
            counts.packed += pack.len() as u64;
            let base = self.odb.pack_dir().join(format!("pack-{}", pack.name));
            counts.pack_bytes +=
                file_len(&base.with_extension("pack")) + file_len(&base.with_extension("idx"));
        }
        Ok(counts)
    }

    /// Every object reachable from branches, tags, HEAD and the stat cache, with a
    /// path hint (a path it was seen at) for delta pairing and block order.
    fn reachable(&self) -> Result<Vec<(ObjectId, Kind, Vec<u8>)>> {
        let mut tips: Vec<ObjectId> = Vec::new();
        for prefix in ["refs/heads/", "refs/tags/"] {
            tips.extend(self.refs.list(prefix)?.into_iter().map(|(_, id)| id));
        }
        if let Head::Detached(id) = self.refs.head()? {
            tips.push(id);
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut commits = tips;
        // Trees carry their directory's name, so versions of one directory pair up.
        let mut trees: Vec<(ObjectId, Vec<u8>)> = Vec::new();
        while let Some(id) = commits.pop() {
            if !seen.insert(id) {
                continue;
            }
            let commit = self.odb.find_commit(&id)?;
            out.push((id, Kind::Commit, Vec::new()));
            trees.push((commit.tree, Vec::new()));
            commits.extend(commit.parents);
        }
        while let Some((id, name)) = trees.pop() {
            if !seen.insert(id) {
                continue;
            }
            for entry in self.odb.find_tree(&id)?.entries() {
                let mut path = name.clone();
                if !path.is_empty() {
                    path.push(b'/');
                }
                path.extend_from_slice(&entry.name);
                if entry.mode == EntryMode::Tree {
                    trees.push((entry.id, path));
                } else if seen.insert(entry.id) {
                    out.push((entry.id, Kind::Blob, path));
                }
            }
            out.push((id, Kind::Tree, name));
        }
        if let Some(index) = Index::load(&self.cow_dir.join("index")) {
            for (path, entry) in index.iter() {
                if entry.stored && self.odb.contains(&entry.id) && seen.insert(entry.id) {
                    out.push((entry.id, Kind::Blob, path.to_vec()));
                }
            }
        }
        Ok(out)
    }

    /// Repacks every reachable object into one new pack — small blobs compressed
    /// together in blocks, in path order; near copies as zstd deltas against an
    /// earlier version, chains at most [`MAX_DELTA_CHAIN`] long; trees as deltas
    /// against directories of the same name — and packed unreachable objects younger
    /// than the grace period into a cruft pack that keeps each one's own time (see
    /// [`GcOutcome::cruft`]); then, once both are durable, removes the old packs, the
    /// loose copies, and unreachable objects older than the grace period.
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
        let keep = self.reachable()?;
        outcome.reachable = keep.len() as u64;
        let kept: HashSet<ObjectId> = keep.iter().map(|(id, _, _)| *id).collect();
        // Unreachable objects in packs keep their own time (a cruft pack's sidecar has
        // it; any other pack's file time is when its objects were written), the
        // newest where an object is in more than one pack.
        let old_packs = self.odb.packs();
        let pack_dir = self.odb.pack_dir();
        let mut unreachable: HashMap<ObjectId, u64> = HashMap::new();
        for pack in &old_packs {
            let pack_time = unix_secs(&pack_dir.join(format!("pack-{}.pack", pack.name)));
            let times = crate::odb::cruft::read_times(&pack_dir, pack);
            for (i, (id, _)) in pack.entries().enumerate() {
                if kept.contains(&id) {
                    continue;
                }
                let time = times.as_ref().map_or(pack_time, |t| t[i]);
                let newest = unreachable.entry(id).or_insert(time);
                *newest = (*newest).max(time);
            }
        }
        // Those younger than the grace period go into a cruft pack, with their times.
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut cruft: Vec<(ObjectId, u64)> = Vec::new();
        for (id, time) in unreachable {
            let age = Duration::from_secs(now.saturating_sub(time));
            if options.grace.is_none_or(|g| age < g) {
                cruft.push((id, time));
            } else {
                outcome.pruned += 1;
            }
        }
        cruft.sort_unstable();
        outcome.cruft = cruft.len() as u64;
        let loose = self.odb.loose_object_ids()?;
        let keep_set: HashSet<ObjectId> = keep
            .iter()
            .map(|(id, _, _)| *id)
            .chain(cruft.iter().map(|c| c.0))
            .collect();
        let mut unreachable_loose = Vec::new();
        for id in &loose {
            if !keep_set.contains(id) {
                let path = self.odb.loose_path_of(id);
                if options.grace.is_some_and(|g| age(&path) >= g) {
                    unreachable_loose.push(*id);
                }
            }
        }
        outcome.pruned += unreachable_loose.len() as u64;
        if options.dry_run {
            outcome.packed = keep_set.len() as u64;
            outcome.removed_packs = old_packs.len() as u64;
            outcome.removed_loose = loose.iter().filter(|id| kept.contains(id)).count() as u64
                + unreachable_loose.len() as u64;
            let dropped: u64 = unreachable_loose
                .iter()
                .map(|id| file_len(&self.odb.loose_path_of(id)))
                .sum();
            outcome.bytes_after = outcome.bytes_before - dropped;
            return Ok(outcome);
        }

        // Blobs grouped by file name, largest first, so a delta's base is a recent
        // version of the same file (a base is best bigger than what it encodes, as in
        // git); commits and trees first, as they are read most.
        let mut keep: Vec<Candidate> = keep
            .into_iter()
            .map(|(id, kind, path)| Ok((id, kind, path, self.odb.read_header(&id)?.1)))
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
            Some(dict) => PackWriter::with_dictionary(&pack_dir, dict)?,
            None => PackWriter::new(&pack_dir)?,
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
            repo: self,
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
                            content.extend_from_slice(&self.odb.read(id)?.data);
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
        outcome.cruft_pack = self.write_cruft(&pack_dir, &cruft, options.level)?;
        outcome.packed += outcome.cruft;
        self.odb.sync()?;
        let new_names: Vec<&String> = [&outcome.pack, &outcome.cruft_pack]
            .into_iter()
            .flatten()
            .map(|p| &p.name)
            .collect();
        for pack in &old_packs {
            if new_names.contains(&&pack.name) {
                continue;
            }
            let base = pack_dir.join(format!("pack-{}", pack.name));
            // The index first: without it, a reader no longer looks in the pack (and
            // the next writer removes what a kill leaves of the rest).
            let _ = fs::remove_file(base.with_extension("idx"));
            let _ = fs::remove_file(base.with_extension("pack"));
            let _ = fs::remove_file(base.with_extension("mtimes"));
            outcome.removed_packs += 1;
        }
        for id in loose
            .iter()
            .filter(|id| packed_ids.contains(id))
            .chain(&unreachable_loose)
        {
            if fs::remove_file(self.odb.loose_path_of(id)).is_ok() {
                outcome.removed_loose += 1;
            }
        }
        // Fan-out directories emptied above (rmdir fails, harmlessly, on the others).
        for b in 0..=255u8 {
            let _ = fs::remove_dir(self.odb.dir().join(format!("{b:02x}")));
        }
        self.odb.reload_packs();
        let after = self.count_objects()?;
        outcome.bytes_after = after.loose_bytes + after.pack_bytes;
        Ok(outcome)
    }
}
