//! What the benchmarks share: deterministic text-like content and the shape of the
//! 75,000-file tree.
//!
//! Content is pseudo-random words from a small vocabulary, so it compresses roughly as
//! source code does (`zstd -3` keeps 28% of 8 MiB of it) instead of to nothing, as zeros
//! would.

// Each benchmark binary uses only part of this module.
#![allow(dead_code)]

/// Directories at the top of the large tree.
pub const TOP_DIRS: usize = 30;
/// Directories inside each top directory.
pub const SUB_DIRS: usize = 50;
/// Files inside each of those.
pub const FILES_PER_DIR: usize = 50;
/// Files in the large tree: 30 × 50 × 50.
pub const FILES: usize = TOP_DIRS * SUB_DIRS * FILES_PER_DIR;

const WORDS: &[&str] = &[
    "fn", "let", "mut", "self", "return", "match", "Some", "None", "impl", "struct", "pub", "use",
    "tree", "blob", "commit", "index", "odb", "write", "read", "error", "path", "entry", "mode",
    "size", "hash", "data", "buffer", "options", "result", "value", "the", "of", "and", "to", "in",
    "for", "if", "else", "while", "loop", "0", "1", "42", "0x7f", "//", "{", "}", "(", ")", ";",
    "=", "->", "&", ".", "::", "<", ">", "\"cow\"", "true", "false", "Vec<u8>", "Ok(())", "?",
];

/// A xorshift64* generator: fast, and the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `len` bytes of text-like content that depend only on `seed`: indented lines of
/// words.
pub fn text(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        let r = rng.next();
        let indent = (r % 4) as usize * 4;
        out.resize(out.len() + indent, b' ');
        for i in 0..3 + (r >> 8) % 10 {
            if i > 0 {
                out.push(b' ');
            }
            let word = WORDS[(rng.next() % WORDS.len() as u64) as usize];
            out.extend_from_slice(word.as_bytes());
        }
        out.push(b'\n');
    }
    out.truncate(len);
    out
}

/// Name of top directory `i`.
pub fn top_name(i: usize) -> String {
    format!("component_{i:02}")
}

/// Name of directory `j` inside a top directory.
pub fn sub_name(j: usize) -> String {
    format!("module_{j:02}")
}

/// Name of file `k` inside a directory.
pub fn file_name(k: usize) -> String {
    format!("source_file_{k:02}.rs")
}

/// Content of one small file of the large tree (64 to 320 bytes, unique per file).
pub fn small_file(top: usize, sub: usize, file: usize) -> Vec<u8> {
    let n = ((top * SUB_DIRS + sub) * FILES_PER_DIR + file) as u64;
    text(n, 64 + (n % 257) as usize)
}
