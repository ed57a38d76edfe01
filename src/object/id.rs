//! Object ids (SHA-256, git's) and abbreviated prefixes.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use super::Kind;

/// The SHA-256 id of an object: the hash of its canonical bytes, header included,
/// exactly as `git --object-format=sha256` computes it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId([u8; 32]);

/// Why a string is not an object id or an id prefix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseIdError {
    /// The string has a character that is not a hex digit.
    #[error("'{0}' is not a hexadecimal object id")]
    NotHex(String),
    /// The string has the wrong number of digits.
    #[error("'{input}' has {len} hex digits; expected {expected}")]
    Length {
        /// The offending input.
        input: String,
        /// Its length.
        len: usize,
        /// What was expected, in words.
        expected: &'static str,
    },
}

impl ObjectId {
    /// Length of an id in bytes.
    pub const LEN: usize = 32;
    /// Length of an id in hex digits.
    pub const HEX_LEN: usize = 64;

    /// Wraps 32 raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        ObjectId(bytes)
    }

    /// Reads an id from exactly 32 raw bytes, as stored in a tree entry.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(ObjectId)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Hashes an object's content (without header) as an object of `kind`.
    #[doc(alias = "hash-object")]
    pub fn hash(kind: Kind, content: &[u8]) -> Self {
        let mut hasher = Hasher::new(kind, content.len() as u64);
        hasher.update(content);
        hasher.finalize()
    }

    /// The id of the empty tree.
    pub fn empty_tree() -> Self {
        Self::hash(Kind::Tree, b"")
    }

    /// Writes the hex form into a stack buffer and returns it as a string.
    pub fn hex_buf<'a>(&self, buf: &'a mut [u8; 64]) -> &'a str {
        hex::encode_to_slice(self.0, buf).expect("64 bytes hold 32 bytes as hex");
        std::str::from_utf8(buf).expect("hex digits are ASCII")
    }

    /// The first `len` hex digits (at most 64).
    pub fn to_hex_prefix(&self, len: usize) -> String {
        let mut buf = [0u8; 64];
        self.hex_buf(&mut buf)[..len.min(64)].to_owned()
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 64];
        f.write_str(self.hex_buf(&mut buf))
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

impl FromStr for ObjectId {
    type Err = ParseIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != Self::HEX_LEN {
            return Err(ParseIdError::Length {
                input: s.to_owned(),
                len: s.len(),
                expected: "64",
            });
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| ParseIdError::NotHex(s.to_owned()))?;
        Ok(ObjectId(bytes))
    }
}

/// An abbreviated object id: 4 to 64 hex digits.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Prefix {
    hex: String,
}

impl Prefix {
    /// The fewest digits accepted.
    pub const MIN_LEN: usize = 4;

    /// Parses a prefix of 4 to 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Result<Self, ParseIdError> {
        if !(Self::MIN_LEN..=ObjectId::HEX_LEN).contains(&s.len()) {
            return Err(ParseIdError::Length {
                input: s.to_owned(),
                len: s.len(),
                expected: "4 to 64",
            });
        }
        if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ParseIdError::NotHex(s.to_owned()));
        }
        Ok(Prefix {
            hex: s.to_ascii_lowercase(),
        })
    }

    /// The prefix in lowercase hex.
    pub fn as_str(&self) -> &str {
        &self.hex
    }

    /// Whether `id` starts with this prefix.
    pub fn matches(&self, id: &ObjectId) -> bool {
        let mut buf = [0u8; 64];
        id.hex_buf(&mut buf).starts_with(&self.hex)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex)
    }
}

/// Incremental hashing of an object whose size is known up front: feeds git's header
/// `<kind> <size>\0` first, then the content in as many pieces as needed.
#[derive(Clone)]
pub struct Hasher {
    inner: Sha256,
}

impl Hasher {
    /// Starts hashing an object of `kind` with `size` content bytes.
    pub fn new(kind: Kind, size: u64) -> Self {
        let mut inner = Sha256::new();
        inner.update(header(kind, size));
        Hasher { inner }
    }

    /// Feeds content bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.inner.update(bytes);
    }

    /// The id of everything fed so far.
    pub fn finalize(self) -> ObjectId {
        ObjectId(self.inner.finalize().into())
    }
}

/// git's object header: `<kind> <size>\0`.
pub fn header(kind: Kind, size: u64) -> Vec<u8> {
    format!("{} {}\0", kind.as_str(), size).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors() {
        let id = ObjectId::hash(Kind::Blob, b"hello\n");
        let parsed: ObjectId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
        assert!(matches!(
            "zz".repeat(32).parse::<ObjectId>(),
            Err(ParseIdError::NotHex(_))
        ));
        assert!(matches!(
            "ab".parse::<ObjectId>(),
            Err(ParseIdError::Length { len: 2, .. })
        ));
    }

    #[test]
    fn empty_tree_is_gits() {
        // `git hash-object -t tree /dev/null` in a `git init --object-format=sha256` repository
        assert_eq!(
            ObjectId::empty_tree().to_string(),
            "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321"
        );
    }

    #[test]
    fn prefix_rules() {
        let id = ObjectId::hash(Kind::Blob, b"");
        let p = Prefix::from_hex(&id.to_string()[..6].to_uppercase()).unwrap();
        assert!(p.matches(&id));
        assert!(Prefix::from_hex("abc").is_err());
        assert!(Prefix::from_hex("abcg").is_err());
    }
}
