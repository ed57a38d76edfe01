//! Trees: directory listings in git's format and git's name order.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use super::path::{quote_name, quote_path_message};
use super::{BuildError, DecodeError, ObjectId};

/// The mode of a tree entry, written without a leading zero as git does.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum EntryMode {
    /// A directory (`40000`).
    Tree,
    /// A regular file (`100644`).
    Blob,
    /// An executable file (`100755`).
    BlobExecutable,
    /// A symbolic link; its blob holds the target (`120000`).
    Link,
}

impl EntryMode {
    /// The mode as written in a tree object.
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            EntryMode::Tree => b"40000",
            EntryMode::Blob => b"100644",
            EntryMode::BlobExecutable => b"100755",
            EntryMode::Link => b"120000",
        }
    }

    /// The mode as `ls-tree` prints it: six octal digits.
    pub fn as_padded_str(self) -> &'static str {
        match self {
            EntryMode::Tree => "040000",
            EntryMode::Blob => "100644",
            EntryMode::BlobExecutable => "100755",
            EntryMode::Link => "120000",
        }
    }

    /// Parses a mode as written in a tree object. Only the four canonical modes are
    /// accepted.
    pub fn from_bytes(mode: &[u8]) -> Option<EntryMode> {
        Some(match mode {
            b"40000" => EntryMode::Tree,
            b"100644" => EntryMode::Blob,
            b"100755" => EntryMode::BlobExecutable,
            b"120000" => EntryMode::Link,
            _ => return None,
        })
    }

    /// Whether the entry is a directory.
    pub fn is_tree(self) -> bool {
        self == EntryMode::Tree
    }

    /// The kind of object the entry points at.
    pub fn kind(self) -> super::Kind {
        if self.is_tree() {
            super::Kind::Tree
        } else {
            super::Kind::Blob
        }
    }
}

impl fmt::Display for EntryMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_padded_str())
    }
}

/// git's tree order: names compare as bytes, a directory's name as if it ended in `/`.
///
/// This one function is the order for sorting, walking and building trees.
pub fn name_order(a: &[u8], a_is_tree: bool, b: &[u8], b_is_tree: bool) -> Ordering {
    let common = a.len().min(b.len());
    match a[..common].cmp(&b[..common]) {
        Ordering::Equal => {}
        other => return other,
    }
    let next = |name: &[u8], is_tree: bool| {
        name.get(common)
            .copied()
            .or(if is_tree { Some(b'/') } else { None })
    };
    next(a, a_is_tree).cmp(&next(b, b_is_tree))
}

/// Checks that `name` may be a tree entry: not empty, `.`, `..` or `.cow` (in any letter
/// case), and without `/` or NUL. Returns the reason when it may not.
pub fn validate_name(name: &[u8]) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("empty name")
    } else if name == b"." || name == b".." {
        Err("'.' and '..' are not allowed")
    } else if name.eq_ignore_ascii_case(b".cow") {
        Err("'.cow' is reserved for the repository")
    } else if name.contains(&b'/') {
        Err("contains '/'")
    } else if name.contains(&0) {
        Err("contains NUL")
    } else {
        Ok(())
    }
}

/// One entry of an owned [`Tree`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Entry {
    /// File, executable, symlink or directory.
    pub mode: EntryMode,
    /// The name: any bytes but `/` and NUL.
    pub name: Vec<u8>,
    /// The blob or tree it points at.
    pub id: ObjectId,
}

impl Entry {
    /// Borrows the entry.
    pub fn to_ref(&self) -> EntryRef<'_> {
        EntryRef {
            mode: self.mode,
            name: &self.name,
            id: self.id,
        }
    }
}

/// One entry borrowed from an encoded tree.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EntryRef<'a> {
    /// File, executable, symlink or directory.
    pub mode: EntryMode,
    /// The name.
    pub name: &'a [u8],
    /// The blob or tree it points at.
    pub id: ObjectId,
}

impl EntryRef<'_> {
    /// Copies the entry into an owned [`Entry`].
    pub fn to_owned(&self) -> Entry {
        Entry {
            mode: self.mode,
            name: self.name.to_vec(),
            id: self.id,
        }
    }
}

/// A directory listing, kept in git's order with unique, valid names.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Tree {
    entries: Vec<Entry>,
}

impl Tree {
    /// The empty tree (an empty directory).
    pub fn empty() -> Self {
        Tree::default()
    }

    /// Builds a tree from entries in any order: validates every name, sorts them in
    /// git's order and refuses duplicate names.
    #[doc(alias = "mktree")]
    pub fn from_entries(mut entries: Vec<Entry>) -> Result<Self, BuildError> {
        for e in &entries {
            validate_name(&e.name).map_err(|reason| BuildError::InvalidName {
                name: e.name.clone(),
                reason,
            })?;
        }
        entries.sort_by(|a, b| name_order(&a.name, a.mode.is_tree(), &b.name, b.mode.is_tree()));
        for (i, e) in entries.iter().enumerate() {
            if has_earlier_namesake(&entries[..i], &e.name, e.mode.is_tree()) {
                return Err(BuildError::DuplicateName(e.name.clone()));
            }
        }
        Ok(Tree { entries })
    }

    /// The entries, in git's order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Consumes the tree, returning its entries.
    pub fn into_entries(self) -> Vec<Entry> {
        self.entries
    }

    /// Whether the tree has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Finds the entry called `name`.
    pub fn find(&self, name: &[u8]) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The canonical content bytes (without the `tree <len>\0` header).
    pub fn encode(&self) -> Vec<u8> {
        let len = self
            .entries
            .iter()
            .map(|e| e.mode.as_bytes().len() + e.name.len() + 2 + ObjectId::LEN)
            .sum();
        let mut out = Vec::with_capacity(len);
        for e in &self.entries {
            out.extend_from_slice(e.mode.as_bytes());
            out.push(b' ');
            out.extend_from_slice(&e.name);
            out.push(0);
            out.extend_from_slice(e.id.as_bytes());
        }
        out
    }

    /// Parses and checks canonical content bytes: modes, names, order and uniqueness.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let entries = TreeRefIter::new(data)
            .map(|e| e.map(|e| e.to_owned()))
            .collect::<Result<_, _>>()?;
        Ok(Tree { entries })
    }

    /// The id of this tree.
    pub fn id(&self) -> ObjectId {
        ObjectId::hash(super::Kind::Tree, &self.encode())
    }
}

/// Whether a name equal to `name` of the other type (file vs directory) sorts earlier in
/// `before`, which is in git's order and ends just before `name`'s entry.
///
/// A file `x` sorts before a directory `x` with only names that start with `x` and a byte
/// below `/` between them, so the scan stops at the first name without that prefix.
fn has_earlier_namesake(before: &[Entry], name: &[u8], is_tree: bool) -> bool {
    if !is_tree {
        return before.last().is_some_and(|p| p.name == name);
    }
    for prev in before.iter().rev() {
        if prev.name == name {
            return true;
        }
        if !prev.name.starts_with(name) {
            return false;
        }
    }
    false
}

/// Appends the canonical content (without header) of a tree with `entries`, which must
/// come in git's order, to `out`. Checks names and that no name appears twice, as
/// [`Tree::from_entries`] does, without an allocation per entry; on an error `out`
/// holds a partial encoding.
pub fn encode_sorted<'a>(
    entries: impl IntoIterator<Item = EntryRef<'a>>,
    out: &mut Vec<u8>,
) -> Result<(), BuildError> {
    let mut prev: Option<EntryRef<'a>> = None;
    // Names of files that could prefix a later directory's name (see TreeRefIter).
    let mut recent: Vec<&'a [u8]> = Vec::new();
    for e in entries {
        validate_name(e.name).map_err(|reason| BuildError::InvalidName {
            name: e.name.to_vec(),
            reason,
        })?;
        let duplicate = || BuildError::DuplicateName(e.name.to_vec());
        if let Some(p) = prev {
            let order = name_order(p.name, p.mode.is_tree(), e.name, e.mode.is_tree());
            debug_assert_ne!(order, Ordering::Greater, "entries out of git's order");
            if order != Ordering::Less || p.name == e.name {
                return Err(duplicate());
            }
        }
        recent.retain(|r| e.name.starts_with(r));
        if e.mode.is_tree() && recent.contains(&e.name) {
            return Err(duplicate());
        }
        if !e.mode.is_tree() {
            recent.push(e.name);
        }
        out.extend_from_slice(e.mode.as_bytes());
        out.push(b' ');
        out.extend_from_slice(e.name);
        out.push(0);
        out.extend_from_slice(e.id.as_bytes());
        prev = Some(e);
    }
    Ok(())
}

/// Trees held in memory by id, encoded as in the store and decoded when asked for:
/// what a scan of the working directory makes, without an allocation per entry.
#[derive(Clone, Default, Debug)]
pub struct Trees {
    by_id: HashMap<ObjectId, Vec<u8>>,
}

impl Trees {
    /// No trees.
    pub fn new() -> Trees {
        Trees::default()
    }

    /// Adds the tree with id `id` and canonical content `content`, which must be
    /// valid (made by [`encode_sorted`] or [`Tree::encode`]).
    pub(crate) fn insert_encoded(&mut self, id: ObjectId, content: Vec<u8>) {
        self.by_id.insert(id, content);
    }

    /// The tree with id `id`.
    pub fn get(&self, id: &ObjectId) -> Option<Tree> {
        self.encoded(id)
            .map(|data| Tree::decode(data).expect("trees are added valid"))
    }

    /// The canonical content of the tree with id `id`.
    pub fn encoded(&self, id: &ObjectId) -> Option<&[u8]> {
        self.by_id.get(id).map(Vec::as_slice)
    }

    /// Whether the tree with id `id` is here.
    pub fn contains(&self, id: &ObjectId) -> bool {
        self.by_id.contains_key(id)
    }

    /// Number of trees.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are no trees.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// A checking iterator over the entries of an encoded tree, borrowing its buffer.
///
/// Each entry is validated as it is read: mode, name rules, strict git order and no
/// duplicate names. After the first error the iterator ends.
pub struct TreeRefIter<'a> {
    data: &'a [u8],
    index: usize,
    prev: Option<EntryRef<'a>>,
    // Names of files seen since the last entry that could not prefix a later directory;
    // used to detect a file and a directory of the same name.
    recent: Vec<&'a [u8]>,
    failed: bool,
}

impl<'a> TreeRefIter<'a> {
    /// Iterates over the entries in `data`, a tree's content without header.
    pub fn new(data: &'a [u8]) -> Self {
        TreeRefIter {
            data,
            index: 0,
            prev: None,
            recent: Vec::new(),
            failed: false,
        }
    }

    fn fail(&mut self, reason: impl Into<String>) -> Option<Result<EntryRef<'a>, DecodeError>> {
        self.failed = true;
        Some(Err(DecodeError::TreeEntry {
            index: self.index,
            reason: reason.into(),
        }))
    }
}

impl<'a> Iterator for TreeRefIter<'a> {
    type Item = Result<EntryRef<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.data.is_empty() {
            return None;
        }
        let Some(space) = self.data.iter().position(|&b| b == b' ') else {
            return self.fail("no space after mode");
        };
        let mode_bytes = &self.data[..space];
        let Some(mode) = EntryMode::from_bytes(mode_bytes) else {
            return self.fail(format!(
                "unsupported mode {}",
                quote_path_message(mode_bytes)
            ));
        };
        let rest = &self.data[space + 1..];
        let Some(nul) = rest.iter().position(|&b| b == 0) else {
            return self.fail("name not terminated");
        };
        let name = &rest[..nul];
        if let Err(reason) = validate_name(name) {
            return self.fail(format!("name {}: {reason}", quote_name(name)));
        }
        let Some(id) = rest.get(nul + 1..nul + 1 + ObjectId::LEN) else {
            return self.fail("truncated object id");
        };
        let entry = EntryRef {
            mode,
            name,
            id: ObjectId::from_slice(id).expect("slice is 32 bytes"),
        };
        if let Some(prev) = self.prev {
            match name_order(prev.name, prev.mode.is_tree(), name, mode.is_tree()) {
                Ordering::Less if prev.name != name => {}
                Ordering::Less | Ordering::Equal => {
                    return self.fail(format!("duplicate name {}", quote_name(name)));
                }
                Ordering::Greater => {
                    return self.fail(format!("{} is out of git's tree order", quote_name(name)));
                }
            }
        }
        // A file `x` and a directory `x` are not neighbours in git's order; only names
        // with prefix `x` lie between them.
        self.recent.retain(|r| name.starts_with(r));
        if mode.is_tree() && self.recent.contains(&name) {
            return self.fail(format!("duplicate name {}", quote_name(name)));
        }
        if !mode.is_tree() {
            self.recent.push(name);
        }
        self.data = &rest[nul + 1 + ObjectId::LEN..];
        self.prev = Some(entry);
        self.index += 1;
        Some(Ok(entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Kind;

    fn entry(name: &str, mode: EntryMode) -> Entry {
        Entry {
            mode,
            name: name.as_bytes().to_vec(),
            id: ObjectId::hash(Kind::Blob, name.as_bytes()),
        }
    }

    #[test]
    fn encode_sorted_matches_from_entries_and_refuses_namesakes() {
        let entries = vec![
            entry("a.c", EntryMode::Blob),
            entry("a", EntryMode::Tree),
            entry("b", EntryMode::Link),
        ];
        let tree = Tree::from_entries(entries).unwrap();
        let mut out = Vec::new();
        encode_sorted(tree.entries().iter().map(|e| e.to_ref()), &mut out).unwrap();
        assert_eq!(out, tree.encode());

        // A file and a directory of the same name, apart in git's order.
        let namesakes = [
            entry("x", EntryMode::Blob),
            entry("x-y", EntryMode::Blob),
            entry("x", EntryMode::Tree),
        ];
        let refs = namesakes.iter().map(|e| e.to_ref());
        assert!(matches!(
            encode_sorted(refs, &mut Vec::new()),
            Err(BuildError::DuplicateName(_))
        ));
        let bad = [entry("..", EntryMode::Blob)];
        assert!(matches!(
            encode_sorted(bad.iter().map(|e| e.to_ref()), &mut Vec::new()),
            Err(BuildError::InvalidName { .. })
        ));
    }

    #[test]
    fn git_order_puts_directories_after_dotted_files() {
        let tree = Tree::from_entries(vec![
            entry("a", EntryMode::Tree),
            entry("a.b", EntryMode::Blob),
            entry("a-b", EntryMode::Blob),
            entry("ab", EntryMode::Blob),
        ])
        .unwrap();
        let names: Vec<_> = tree.entries().iter().map(|e| e.name.as_slice()).collect();
        assert_eq!(names, [&b"a-b"[..], b"a.b", b"a", b"ab"]);
    }

    #[test]
    fn encode_decode_round_trip() {
        let tree = Tree::from_entries(vec![
            entry("x", EntryMode::BlobExecutable),
            entry("l", EntryMode::Link),
            entry("d", EntryMode::Tree),
        ])
        .unwrap();
        assert_eq!(Tree::decode(&tree.encode()).unwrap(), tree);
    }

    #[test]
    fn builder_refuses_bad_and_duplicate_names() {
        for bad in ["", ".", "..", ".cow", ".CoW", "a/b", "a\0b"] {
            let err = Tree::from_entries(vec![entry(bad, EntryMode::Blob)]).unwrap_err();
            assert!(matches!(err, BuildError::InvalidName { .. }), "{bad:?}");
        }
        let err = Tree::from_entries(vec![
            entry("a", EntryMode::Blob),
            entry("a.x", EntryMode::Blob),
            entry("a", EntryMode::Tree),
        ])
        .unwrap_err();
        assert_eq!(err, BuildError::DuplicateName("a".into()));
    }

    fn raw(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (mode, name) in entries {
            out.extend_from_slice(mode.as_bytes());
            out.push(b' ');
            out.extend_from_slice(name);
            out.push(0);
            out.extend_from_slice(&[7u8; 32]);
        }
        out
    }

    #[test]
    fn decode_refuses_hostile_trees() {
        type Case<'a> = (&'a [(&'a str, &'a [u8])], &'a str);
        let cases: &[Case] = &[
            (&[("100644", b"..")], "not allowed"),
            (&[("100644", b".COW")], "reserved"),
            (&[("100644", b"")], "empty"),
            (&[("100644", b"b"), ("100644", b"a")], "order"),
            (&[("100644", b"a"), ("100644", b"a")], "duplicate"),
            (
                &[("100644", b"a"), ("100644", b"a.b"), ("40000", b"a")],
                "duplicate",
            ),
            (&[("040000", b"a")], "unsupported mode"),
            (&[("160000", b"a")], "unsupported mode"),
        ];
        for (entries, want) in cases {
            let err = Tree::decode(&raw(entries)).unwrap_err().to_string();
            assert!(err.contains(want), "{entries:?}: {err}");
        }
        let mut truncated = raw(&[("100644", b"a")]);
        truncated.pop();
        assert!(
            Tree::decode(&truncated)
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
    }
}
