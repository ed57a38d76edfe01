//! Object ages of a cruft pack: the `pack-<sum>.mtimes` sidecar.
//!
//! `gc` keeps unreachable objects younger than its grace period in a pack of their own
//! (as git's cruft packs). A pack's file time is when it was written, which is not
//! when its objects were: the sidecar records each object's own time, so an object
//! repacked by every gc still ages, and is pruned once its original age passes the
//! grace period. Format: `CWMTIME\x01` (8 bytes), the pack's checksum (32 bytes),
//! then one big-endian u64 per object — unix seconds, in the order of the pack's index
//! (sorted ids) — then the SHA-256 of everything before it.

use sha2::{Digest, Sha256};

use super::backend::{FileKind, ReadBackend};
use super::pack::Pack;

const MAGIC: &[u8; 8] = b"CWMTIME\x01";

/// The sidecar of a pack with checksum `pack_sum` whose objects, in index order, have
/// the times `times` (unix seconds).
pub(crate) fn encode(pack_sum: &[u8; 32], times: impl ExactSizeIterator<Item = u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + 32 + times.len() * 8 + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(pack_sum);
    for t in times {
        out.extend_from_slice(&t.to_be_bytes());
    }
    let sum: [u8; 32] = Sha256::digest(&out).into();
    out.extend_from_slice(&sum);
    out
}

/// The object times (unix seconds, in index order) recorded beside `pack`, or `None`
/// when it has no sidecar or one that does not belong to it intact (then the pack's
/// own file time is the best age there is).
pub(crate) fn read_times(backend: &dyn ReadBackend, pack: &Pack) -> Option<Vec<u64>> {
    let data = backend.read(FileKind::Times, &pack.name).ok()??;
    let body_len = 8 + 32 + pack.len().checked_mul(8)?;
    if data.len() != body_len + 32 || &data[..8] != MAGIC {
        return None;
    }
    let (body, sum) = data.split_at(body_len);
    if Sha256::digest(body)[..] != sum[..] || hex::encode(&body[8..40]) != pack.name {
        return None;
    }
    Some(
        body[40..]
            .chunks_exact(8)
            .map(|c| u64::from_be_bytes(c.try_into().expect("8 bytes")))
            .collect(),
    )
}
