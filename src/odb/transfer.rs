//! What moving packs between stores needs from the odb: the ids a pack index lists,
//! read before the pack is fetched, and a full check of one received pack.

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::pack::{IDX_MAGIC, Pack};
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
    Ok(ids)
}

impl Odb {
    /// Checks pack `name` of this store through: its index and pack checksums, and
    /// every object it lists read from this pack and hashed against its id (a delta
    /// base may be read from elsewhere in the store). Returns the ids it holds.
    pub fn verify_pack(&self, name: &str) -> Result<Vec<ObjectId>> {
        let pack = Pack::open(&**self.backend(), name)?;
        if let Some(problem) = pack.verify().into_iter().next() {
            return Err(problem);
        }
        // In record order, each thread through one run of records: members of a block
        // are read together, so each block is decompressed once (through the block
        // cache), not once per member.
        let mut entries: Vec<(ObjectId, u64)> = pack.entries().collect();
        entries.sort_unstable_by_key(|e| e.1);
        let runs = rayon::current_num_threads().max(1) * 4;
        let per_run = entries.len().div_ceil(runs).max(1);
        entries
            .par_chunks(per_run)
            .map(|run| {
                run.iter()
                    .map(|(id, offset)| {
                        self.read_packed(id, &pack, *offset, 0, &mut Vec::new())
                            .map(|_| *id)
                    })
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()
            .map(|runs| runs.concat())
    }
}
