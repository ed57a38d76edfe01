//! Rename detection: exact renames by blob id, renames with edits by content
//! similarity, as git does by default (`-M`, 50%).
//!
//! Similarity follows git's estimate: both contents are cut into chunks that end at a
//! newline or after 64 bytes (a CR before LF ignored in text), and the bytes of chunks
//! the destination shares with the source count as copied. The score is copied bytes
//! over the larger size; pairs whose sizes differ too much to reach the threshold are
//! not compared at all.
//!
//! What is read: exact renames are found by id, without reading; sizes come from
//! object headers; only files with at least one pair whose sizes allow a match are
//! read, each once and streamed (its chunk counts kept, not its bytes).

use std::collections::HashMap;
use std::io::Write;

use super::{BINARY_PROBE, BlobSource, Error, FileChange, Outcome, Side, Status};
use crate::object::{EntryMode, ObjectId, RepoPath};

/// Scores are fractions of this, as in git.
pub const MAX_SCORE: u64 = 60_000;

/// git's default `diff.renameLimit`: beyond this many sources times this many
/// destinations, only exact renames are looked for.
pub const RENAME_LIMIT: usize = 1000;

/// Knobs for [`detect_renames`].
#[derive(Clone, Copy, Debug)]
pub struct RenameOptions {
    /// The least score (out of [`MAX_SCORE`]) a rename with edits needs.
    pub min_score: u64,
    /// Renames with edits are looked for only while sources times destinations stay
    /// within `limit * limit`; 0 means no limit (git's `diff.renameLimit`).
    pub limit: usize,
    /// Files above this size (git's `core.bigFileThreshold`) are paired only by
    /// exact renames: comparing them would mean reading them whole.
    pub big_file_threshold: u64,
}

/// Parses git's `-M` argument: `50%`, or digits read as a decimal fraction (`5` is
/// 50%, `05` is 5%). Returns the minimum score out of [`MAX_SCORE`].
pub fn parse_threshold(arg: &str) -> Option<u64> {
    if let Some(percent) = arg.strip_suffix('%') {
        let p: u64 = percent.parse().ok()?;
        return (p <= 100).then_some(p * MAX_SCORE / 100);
    }
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // "5" = 0.5, "05" = 0.05, "75" = 0.75.
    let digits = &arg[..arg.len().min(9)];
    let scale = 10u64.pow(digits.len() as u32);
    Some(digits.parse::<u64>().ok()? * MAX_SCORE / scale)
}

/// Chunk counts of one blob: chunk hash to bytes.
type Counts = HashMap<u64, u64>;

/// git's spans (`diffcore-delta.c`): chunks end at LF or after 64 bytes, hashed with
/// git's rolling sum into 107,927 buckets (collisions included, so scores match git's);
/// a CR before LF is skipped in text; a last chunk without LF is not counted.
///
/// Fed in pieces, so content of any size is counted in bounded memory: the first
/// 8,000 bytes are held back until they decide text or binary (git's NUL rule), and
/// a CR waits for the byte after it.
struct ChunkCounter {
    /// Text (CRs before LF skipped) or binary; `None` until the probe decides.
    text: Option<bool>,
    probe: Vec<u8>,
    counts: Counts,
    accum1: u32,
    accum2: u32,
    n: u64,
    cr_pending: bool,
}

impl ChunkCounter {
    fn new() -> ChunkCounter {
        ChunkCounter {
            text: None,
            probe: Vec::new(),
            counts: Counts::new(),
            accum1: 0,
            accum2: 0,
            n: 0,
            cr_pending: false,
        }
    }

    fn feed(&mut self, data: &[u8]) {
        let Some(text) = self.text else {
            let room = BINARY_PROBE - self.probe.len();
            let (now, rest) = data.split_at(data.len().min(room));
            self.probe.extend_from_slice(now);
            if self.probe.len() == BINARY_PROBE {
                self.decide();
                self.feed(rest);
            }
            return;
        };
        for &c in data {
            if self.cr_pending {
                self.cr_pending = false;
                if c != b'\n' {
                    self.byte(b'\r');
                }
            }
            if text && c == b'\r' {
                self.cr_pending = true;
                continue;
            }
            self.byte(c);
        }
    }

    /// Decides text or binary from the bytes held back, then counts them.
    fn decide(&mut self) {
        self.text = Some(!self.probe.contains(&0));
        let probe = std::mem::take(&mut self.probe);
        self.feed(&probe);
    }

    fn byte(&mut self, c: u8) {
        const HASHBASE: u32 = 107_927;
        let old1 = self.accum1;
        self.accum1 = (self.accum1 << 7) ^ (self.accum2 >> 25);
        self.accum2 = (self.accum2 << 7) ^ (old1 >> 25);
        self.accum1 = self.accum1.wrapping_add(u32::from(c));
        self.n += 1;
        if self.n < 64 && c != b'\n' {
            return;
        }
        let hash = self.accum1.wrapping_add(self.accum2.wrapping_mul(0x61)) % HASHBASE;
        *self.counts.entry(u64::from(hash)).or_default() += self.n;
        (self.accum1, self.accum2, self.n) = (0, 0, 0);
    }

    fn finish(mut self) -> Counts {
        if self.text.is_none() {
            self.decide();
        }
        if self.cr_pending {
            // A CR at the very end has no LF after it: it counts.
            self.cr_pending = false;
            self.byte(b'\r');
        }
        self.counts
    }
}

impl Write for ChunkCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.feed(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn chunk_counts(data: &[u8]) -> Counts {
    let mut counter = ChunkCounter::new();
    counter.feed(data);
    counter.finish()
}

/// The chunk counts of `side`'s content, read as a stream.
fn stream_counts(blobs: &dyn BlobSource, side: &Side, path: &RepoPath) -> Result<Counts, Error> {
    let mut counter = ChunkCounter::new();
    blobs.stream(side, path, &mut counter)?;
    Ok(counter.finish())
}

/// The similarity score of `dst` to `src`, out of [`MAX_SCORE`]; 0 when their sizes
/// alone rule out reaching `min_score`.
pub fn similarity(src: &[u8], dst: &[u8], min_score: u64) -> u64 {
    let (s, d) = (src.len() as u64, dst.len() as u64);
    if !sizes_allow(s, d, min_score) {
        return 0;
    }
    score(s, d, &chunk_counts(src), &chunk_counts(dst))
}

/// Whether sizes this far apart can still reach `min_score`.
fn sizes_allow(src_size: u64, dst_size: u64, min_score: u64) -> bool {
    let max = src_size.max(dst_size);
    let delta = max - src_size.min(dst_size);
    max > 0 && max * (MAX_SCORE - min_score) >= delta * MAX_SCORE
}

fn score(src_size: u64, dst_size: u64, src: &Counts, dst: &Counts) -> u64 {
    let copied: u64 = src
        .iter()
        .map(|(h, n)| (*n).min(dst.get(h).copied().unwrap_or(0)))
        .sum();
    copied * MAX_SCORE / src_size.max(dst_size)
}

fn basename(path: &RepoPath) -> &[u8] {
    path.file_name().unwrap_or_default()
}

fn is_link(mode: EntryMode) -> bool {
    mode == EntryMode::Link
}

/// Pairs deletions with additions into renames, in place. The result is in the
/// order of the input, a rename taking the place of its addition.
///
/// Exact renames (same blob id) are paired without reading anything. For renames
/// with edits, sizes come first, from headers: a pair whose sizes alone rule out the
/// threshold is never compared (git's `estimate_similarity` rule), and a file in no
/// possible pair is never read. Beyond the rename limit only exact renames are
/// paired, and the outcome says which limit would have been needed.
pub fn detect_renames(
    changes: Vec<FileChange>,
    blobs: &dyn BlobSource,
    options: &RenameOptions,
) -> Result<Outcome, Error> {
    let min_score = options.min_score;
    let sources: Vec<usize> = (0..changes.len())
        .filter(|&i| changes[i].status == Status::Deleted)
        .collect();
    let dests: Vec<usize> = (0..changes.len())
        .filter(|&i| changes[i].status == Status::Added)
        .collect();
    if sources.is_empty() || dests.is_empty() {
        return Ok(Outcome {
            changes,
            rename_limit_needed: None,
        });
    }
    let side = |i: usize| {
        changes[i]
            .old
            .or(changes[i].new)
            .expect("a change has a side")
    };
    // The path a change's content is found at on its own side.
    let path_of = |i: usize| -> &RepoPath {
        if changes[i].status == Status::Deleted {
            &changes[i].old_path
        } else {
            &changes[i].new_path
        }
    };
    // (destination, source, score)
    let mut pairs: Vec<(usize, usize, u64)> = Vec::new();
    let mut used_src = vec![false; changes.len()];
    let mut used_dst = vec![false; changes.len()];
    let mut rename_limit_needed = None;

    // Exact renames: same blob, same kind (file or symlink); prefer the same basename.
    let mut by_id: HashMap<(ObjectId, bool), Vec<usize>> = HashMap::new();
    for &s in &sources {
        let sd = side(s);
        by_id.entry((sd.id, is_link(sd.mode))).or_default().push(s);
    }
    for &d in &dests {
        let dd = side(d);
        let Some(candidates) = by_id.get(&(dd.id, is_link(dd.mode))) else {
            continue;
        };
        let free = candidates.iter().copied().filter(|&s| !used_src[s]);
        let same_name = free
            .clone()
            .find(|&s| basename(&changes[s].old_path) == basename(&changes[d].new_path));
        if let Some(s) = same_name.or_else(|| free.clone().next()) {
            used_src[s] = true;
            used_dst[d] = true;
            pairs.push((d, s, MAX_SCORE));
        }
    }

    // Renames with edits: regular files only.
    let src_left: Vec<usize> = sources
        .iter()
        .copied()
        .filter(|&s| !used_src[s] && !is_link(side(s).mode))
        .collect();
    let dst_left: Vec<usize> = dests
        .iter()
        .copied()
        .filter(|&d| !used_dst[d] && !is_link(side(d).mode))
        .collect();
    let over_limit = options.limit > 0
        && src_left.len().saturating_mul(dst_left.len())
            > options.limit.saturating_mul(options.limit);
    if over_limit {
        rename_limit_needed = Some(src_left.len().max(dst_left.len()));
    } else if !src_left.is_empty() && !dst_left.is_empty() {
        let size = |i: usize| blobs.size(&side(i), path_of(i));
        let src_size: Vec<u64> = src_left
            .iter()
            .map(|&s| size(s))
            .collect::<Result<_, _>>()?;
        let dst_size: Vec<u64> = dst_left
            .iter()
            .map(|&d| size(d))
            .collect::<Result<_, _>>()?;
        // Each destination's possible sources, by sizes alone; big files have none.
        let small = |size: u64| size <= options.big_file_threshold;
        let possible: Vec<Vec<usize>> = dst_size
            .iter()
            .map(|&ds| {
                (0..src_left.len())
                    .filter(|&k| {
                        small(ds) && small(src_size[k]) && sizes_allow(src_size[k], ds, min_score)
                    })
                    .collect()
            })
            .collect();
        let counts_of = |i: usize| stream_counts(blobs, &side(i), path_of(i));
        // Sources are read once each, and only when some destination may match them.
        let mut src_counts: Vec<Option<Counts>> = vec![None; src_left.len()];
        let mut candidates = Vec::new();
        for (m, &d) in dst_left.iter().enumerate() {
            if possible[m].is_empty() {
                continue;
            }
            let dc = counts_of(d)?;
            for &k in &possible[m] {
                let s = src_left[k];
                if src_counts[k].is_none() {
                    src_counts[k] = Some(counts_of(s)?);
                }
                let sc_counts = src_counts[k].as_ref().expect("just filled");
                let sc = score(src_size[k], dst_size[m], sc_counts, &dc);
                if sc >= min_score && sc > 0 {
                    let same = basename(&changes[s].old_path) == basename(&changes[d].new_path);
                    candidates.push((sc, same, d, s));
                }
            }
        }
        // Best first; a shared basename breaks ties, then path order for stability.
        candidates.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(b.1.cmp(&a.1))
                .then(a.2.cmp(&b.2))
                .then(a.3.cmp(&b.3))
        });
        for (sc, _, d, s) in candidates {
            if !used_src[s] && !used_dst[d] {
                used_src[s] = true;
                used_dst[d] = true;
                pairs.push((d, s, sc));
            }
        }
    }

    let mut rename_of: HashMap<usize, (usize, u64)> = HashMap::new();
    for (d, s, sc) in pairs {
        rename_of.insert(d, (s, sc));
    }
    let mut out = Vec::with_capacity(changes.len());
    for (i, change) in changes.iter().enumerate() {
        if used_src[i] {
            continue;
        }
        match rename_of.get(&i) {
            Some(&(s, sc)) => out.push(FileChange {
                status: Status::Renamed,
                old_path: changes[s].old_path.clone(),
                new_path: change.new_path.clone(),
                old: changes[s].old,
                new: change.new,
                similarity: Some((sc * 100 / MAX_SCORE) as u8),
            }),
            None => out.push(change.clone()),
        }
    }
    Ok(Outcome {
        changes: out,
        rename_limit_needed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_like_git() {
        assert_eq!(parse_threshold("50%"), Some(30_000));
        assert_eq!(parse_threshold("5"), Some(30_000));
        assert_eq!(parse_threshold("05"), Some(3_000));
        assert_eq!(parse_threshold("100%"), Some(MAX_SCORE));
        assert_eq!(parse_threshold("101%"), None);
        assert_eq!(parse_threshold("x"), None);
    }

    /// The one-pass count over whole content, as git's `hash_chars` does it.
    fn whole_counts(data: &[u8]) -> Counts {
        const HASHBASE: u32 = 107_927;
        let text = !crate::diff::is_binary(data);
        let mut counts = Counts::new();
        let (mut accum1, mut accum2, mut n) = (0u32, 0u32, 0u64);
        for (i, &c) in data.iter().enumerate() {
            if text && c == b'\r' && data.get(i + 1) == Some(&b'\n') {
                continue;
            }
            let old1 = accum1;
            accum1 = (accum1 << 7) ^ (accum2 >> 25);
            accum2 = (accum2 << 7) ^ (old1 >> 25);
            accum1 = accum1.wrapping_add(u32::from(c));
            n += 1;
            if n < 64 && c != b'\n' {
                continue;
            }
            let hash = accum1.wrapping_add(accum2.wrapping_mul(0x61)) % HASHBASE;
            *counts.entry(u64::from(hash)).or_default() += n;
            (accum1, accum2, n) = (0, 0, 0);
        }
        counts
    }

    #[test]
    fn counts_fed_in_pieces_equal_counts_of_the_whole() {
        let mut text: Vec<u8> = (0..3000)
            .flat_map(|i| {
                format!("line {i}{}", if i % 3 == 0 { "\r\n" } else { "\n" }).into_bytes()
            })
            .collect();
        text.extend_from_slice(b"lone\rcr\r\r\nend\r");
        let mut late_nul = text.clone();
        late_nul[9000] = 0; // after the 8,000-byte probe: still text
        let mut early_nul = text.clone();
        early_nul[100] = 0; // binary: CRs count
        let long_lines = vec![b'x'; 20_000];
        for data in [
            &text,
            &late_nul,
            &early_nul,
            &long_lines,
            &b"\r"[..].to_vec(),
            &Vec::new(),
        ] {
            let want = whole_counts(data);
            for piece in [1, 2, 7, 63, 64, 4096, 7999, 8000, 8001, usize::MAX] {
                let mut counter = ChunkCounter::new();
                for chunk in data.chunks(piece.min(data.len().max(1))) {
                    counter.write_all(chunk).expect("a counter takes any bytes");
                }
                assert_eq!(counter.finish(), want, "pieces of {piece}");
            }
        }
    }

    #[test]
    fn similarity_of_edits() {
        let a: Vec<u8> = (0..100)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        assert_eq!(similarity(&a, &a, 0), MAX_SCORE);
        let mut b = a.clone();
        b.extend_from_slice(b"one more line\n");
        let s = similarity(&a, &b, 0);
        assert!(s > MAX_SCORE * 9 / 10 && s < MAX_SCORE, "{s}");
        assert_eq!(
            similarity(b"x\n", &a, MAX_SCORE / 2),
            0,
            "sizes too far apart"
        );
        // CRLF and LF text count as the same.
        let crlf: Vec<u8> = String::from_utf8(a.clone())
            .unwrap()
            .replace('\n', "\r\n")
            .into_bytes();
        assert!(similarity(&a, &crlf, 0) >= MAX_SCORE * 85 / 100);
    }
}
