//! What moving packs between stores needs from the odb: the ids a pack index lists,
//! read before the pack is fetched, and a full check of one received pack.

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::backend::FileKind;
use super::pack::{IDX_MAGIC, Pack};
use super::packed::Namespace;
use super::{Error, Odb, Result};
use crate::object::ObjectId;

/// The ids a pack index (`.idx` bytes) lists, after checking its shape and its
/// checksum; `what` names it in the error.
pub fn index_object_ids(idx: &[u8], what: &str) -> Result<Vec<ObjectId>> {
    let bad = |reason: &str| Error::BadPack {
        pack: what.to_owned(),
        offset: None,
        reason: reason.to_owned(),
    };
    if idx.len() < 8 + 1024 + 64 || &idx[..8] != IDX_MAGIC {
        return Err(bad("not a pack index"));
    }
    let (body, sum) = idx.split_at(idx.len() - 32);
    if Sha256::digest(body).as_slice() != sum {
        return Err(bad("index checksum mismatch"));
    }
    let count =
        u32::from_be_bytes(idx[8 + 255 * 4..8 + 256 * 4].try_into().expect("4 bytes")) as usize;
    if idx.len() != 8 + 1024 + count * 40 + 64 {
        return Err(bad("index size does not match its object count"));
    }
    let ids: Vec<ObjectId> = idx[8 + 1024..8 + 1024 + count * 32]
        .chunks_exact(32)
        .map(|id| ObjectId::from_slice(id).expect("32 bytes"))
        .collect();
    if ids.windows(2).any(|w| w[0] >= w[1]) {
        return Err(bad("index ids are not sorted"));
    }
    // The fan-out table is what lookups use: entry b counts the ids whose first byte
    // is at most b.
    let mut at = 0;
    for b in 0..256 {
        while at < ids.len() && usize::from(ids[at].as_bytes()[0]) <= b {
            at += 1;
        }
        let entry = u32::from_be_bytes(idx[8 + b * 4..8 + b * 4 + 4].try_into().expect("4 bytes"));
        if entry as usize != at {
            return Err(bad("index fan-out table does not match its ids"));
        }
    }
    Ok(ids)
}

impl Odb {
    /// Checks pack `name` of this store through: its index and pack checksums, and
    /// every record it lists read from this pack and checked — an object's content
    /// against its id, a chunk's against its key, a chunk list against its own
    /// checksum (a delta base may be read from elsewhere in this store). Returns the
    /// ids and keys it holds, and apart the blobs it holds as chunk lists: their
    /// chunks may be in other stores (the receiver's), so whoever installs the pack
    /// checks those whole ([`Odb::verify`]) once their chunks are all in one store.
    pub fn verify_pack(&self, name: &str) -> Result<VerifiedPack> {
        let pack = Pack::open(&**self.backend(), name)?;
        if let Some(idx) = self.backend().read(FileKind::Index, name).ok().flatten() {
            index_object_ids(&idx, &format!("pack-{name}.idx"))?;
        }
        if let Some(problem) = pack.verify().into_iter().next() {
            return Err(problem);
        }
        // In record order, each thread through one run of records: members of a block
        // are read together, so each block is decompressed once (through the block
        // cache), not once per member.
        let mut entries: Vec<(ObjectId, u64, Namespace)> = pack
            .object_entries()
            .map(|(id, offset)| (id, offset, Namespace::Objects))
            .chain(
                pack.chunk_entries()
                    .map(|(key, offset)| (key, offset, Namespace::Chunks)),
            )
            .collect();
        entries.sort_unstable_by_key(|e| e.1);
        let runs = rayon::current_num_threads().max(1) * 4;
        let per_run = entries.len().div_ceil(runs).max(1);
        let checked: Vec<(ObjectId, bool)> = entries
            .par_chunks(per_run)
            .map(|run| {
                run.iter()
                    .map(|(id, offset, namespace)| {
                        self.read_record(*namespace, id, &pack, *offset, 0, &mut Vec::new())
                            .map(|record| (*id, record.list.is_some()))
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?
            .concat();
        Ok(VerifiedPack {
            chunk_lists: checked.iter().filter(|c| c.1).map(|c| c.0).collect(),
            ids: checked.into_iter().map(|c| c.0).collect(),
        })
    }
}

/// What [`Odb::verify_pack`] checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifiedPack {
    /// Every id and chunk key the pack holds.
    pub ids: Vec<ObjectId>,
    /// The blobs it holds as chunk lists (to check whole once installed).
    pub chunk_lists: Vec<ObjectId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An index of `ids` (sorted), as the pack writer lays one out.
    fn index(ids: &[ObjectId]) -> Vec<u8> {
        let mut idx = IDX_MAGIC.to_vec();
        for b in 0..256usize {
            let n = ids
                .iter()
                .filter(|id| usize::from(id.as_bytes()[0]) <= b)
                .count();
            idx.extend_from_slice(&(n as u32).to_be_bytes());
        }
        for id in ids {
            idx.extend_from_slice(id.as_bytes());
        }
        for i in 0..ids.len() as u64 {
            idx.extend_from_slice(&(8 + i).to_be_bytes());
        }
        idx.extend_from_slice(&[0; 32]);
        let sum: [u8; 32] = Sha256::digest(&idx).into();
        idx.extend_from_slice(&sum);
        idx
    }

    #[test]
    fn an_index_is_read_only_when_its_fan_out_matches_its_ids() {
        let mut ids: Vec<ObjectId> = (0..5u8)
            .map(|i| ObjectId::hash(crate::object::Kind::Blob, &[i]))
            .collect();
        ids.sort();
        assert_eq!(index_object_ids(&index(&ids), "i").unwrap(), ids);
        // A fan-out entry off by one, with the checksum made to match.
        let mut bad = index(&ids);
        let at = 8 + 4 * usize::from(ids[0].as_bytes()[0]);
        bad[at + 3] = bad[at + 3].wrapping_add(1);
        let len = bad.len();
        let sum: [u8; 32] = Sha256::digest(&bad[..len - 32]).into();
        bad[len - 32..].copy_from_slice(&sum);
        let err = index_object_ids(&bad, "i").unwrap_err().to_string();
        assert!(err.contains("fan-out"), "{err}");
    }
}
