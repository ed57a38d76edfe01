//! Rename detection: exact renames by blob id, renames with edits by content
//! similarity, as git does by default (`-M`, 50%).
//!
//! Similarity follows git's estimate: both contents are cut into chunks that end at a
//! newline or after 64 bytes (a CR before LF ignored in text), and the bytes of chunks
//! the destination shares with the source count as copied. The score is copied bytes
//! over the larger size; pairs whose sizes differ too much to reach the threshold are
//! not compared at all.

use std::collections::HashMap;

use super::{BlobSource, Error, FileChange, Status};
use crate::object::{EntryMode, ObjectId};

/// Scores are fractions of this, as in git.
pub const MAX_SCORE: u64 = 60_000;

/// Beyond this many sources times destinations, only exact renames are looked for
/// (git's default `diff.renameLimit` is 1000, squared).
const RENAME_LIMIT: usize = 1000 * 1000;

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
fn chunk_counts(data: &[u8]) -> Counts {
    const HASHBASE: u32 = 107_927;
    let text = !super::is_binary(data);
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

fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

fn is_link(mode: EntryMode) -> bool {
    mode == EntryMode::Link
}

/// Pairs deletions with additions into renames, in place. `min_score` is out of
/// [`MAX_SCORE`]. The result is in the order of the input, a rename taking the place
/// of its addition.
pub fn detect_renames(
    changes: Vec<FileChange>,
    blobs: &dyn BlobSource,
    min_score: u64,
) -> Result<Vec<FileChange>, Error> {
    let sources: Vec<usize> = (0..changes.len())
        .filter(|&i| changes[i].status == Status::Deleted)
        .collect();
    let dests: Vec<usize> = (0..changes.len())
        .filter(|&i| changes[i].status == Status::Added)
        .collect();
    if sources.is_empty() || dests.is_empty() {
        return Ok(changes);
    }
    let side = |i: usize| {
        changes[i]
            .old
            .or(changes[i].new)
            .expect("a change has a side")
    };
    // (destination, source, score)
    let mut pairs: Vec<(usize, usize, u64)> = Vec::new();
    let mut used_src = vec![false; changes.len()];
    let mut used_dst = vec![false; changes.len()];

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
    if !src_left.is_empty()
        && !dst_left.is_empty()
        && src_left.len() * dst_left.len() <= RENAME_LIMIT
    {
        let load = |i: usize, path: &[u8]| blobs.blob(&side(i), path);
        let src_data: Vec<Vec<u8>> = src_left
            .iter()
            .map(|&s| load(s, &changes[s].old_path))
            .collect::<Result<_, _>>()?;
        let src_counts: Vec<Counts> = src_data.iter().map(|d| chunk_counts(d)).collect();
        let mut candidates = Vec::new();
        for &d in &dst_left {
            let data = load(d, &changes[d].new_path)?;
            let mut counts = None;
            for (k, &s) in src_left.iter().enumerate() {
                let (ss, ds) = (src_data[k].len() as u64, data.len() as u64);
                if !sizes_allow(ss, ds, min_score) {
                    continue;
                }
                let dc = counts.get_or_insert_with(|| chunk_counts(&data));
                let sc = score(ss, ds, &src_counts[k], dc);
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
    Ok(out)
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
