//! Revision syntax: full ids, unique prefixes, ref names, `HEAD`, `REV~N`, `REV^N`,
//! `REV^{type}` and `REV:path`.

use super::{Error, RefName, RefStore, Result};
use crate::object::{EntryMode, Kind, ObjectId, Prefix};
use crate::odb::Odb;

/// What a revision names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Resolved {
    /// The object.
    pub id: ObjectId,
    /// For `REV:path`, the mode of the entry at the path (a directory for `REV:`).
    pub mode: Option<EntryMode>,
}

/// Resolves a revision to an object.
///
/// Accepted forms: a full 64-digit id; a unique prefix of 4 or more hex digits; `HEAD`
/// (or `@`); a branch, tag or full ref name; any of these followed by `~N` (N-th first
/// parent), `^` / `^N` (N-th parent, `^0` the commit itself), `^{tree}` (a commit's
/// tree), `^{commit}`, `^{blob}` (the object, if it has that type), `^{}` and
/// `^{object}` (the object itself), repeated; and finally
/// `:path` for the object at a path of that snapshot (`REV:` is its root tree).
#[doc(alias = "rev-parse")]
pub fn resolve(odb: &Odb, refs: &RefStore, spec: impl AsRef<[u8]>) -> Result<Resolved> {
    let spec = spec.as_ref();
    let shown = String::from_utf8_lossy(spec).into_owned();
    let invalid = |reason| Error::InvalidRevision {
        spec: shown.clone(),
        reason,
    };
    let (rev, path) = match spec.iter().position(|&b| b == b':') {
        Some(i) => (&spec[..i], Some(&spec[i + 1..])),
        None => (spec, None),
    };
    let rev = std::str::from_utf8(rev).map_err(|_| invalid("not UTF-8 before ':'"))?;
    if rev.is_empty() {
        return Err(invalid("a revision is needed before ':'"));
    }
    let base_end = rev.find(['~', '^']).unwrap_or(rev.len());
    let mut id = resolve_base(odb, refs, &rev[..base_end])?;
    let mut suffix = &rev[base_end..];
    while let Some(op) = suffix.chars().next() {
        if let Some(rest) = suffix.strip_prefix("^{") {
            let end = rest.find('}').ok_or_else(|| invalid("'^{' without '}'"))?;
            id = peel(odb, id, &rest[..end], &shown)?;
            suffix = &rest[end + 1..];
            continue;
        }
        if op != '~' && op != '^' {
            return Err(invalid("expected '~' or '^'"));
        }
        let digits_end = suffix[1..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(suffix.len(), |i| i + 1);
        let n: usize = match &suffix[1..digits_end] {
            "" => 1,
            d => d.parse().map_err(|_| invalid("number too large"))?,
        };
        suffix = &suffix[digits_end..];
        let commit = odb.find_commit(&peel_to_commit(odb, id, &shown)?)?;
        id = match op {
            '~' => {
                let mut current = (id, commit);
                for _ in 0..n {
                    let parent = *current
                        .1
                        .parents
                        .first()
                        .ok_or_else(|| Error::NoSuchParent(shown.clone()))?;
                    current = (parent, odb.find_commit(&parent)?);
                }
                current.0
            }
            '^' if n == 0 => id,
            '^' => *commit
                .parents
                .get(n - 1)
                .ok_or_else(|| Error::NoSuchParent(shown.clone()))?,
            _ => return Err(invalid("expected '~' or '^'")),
        };
    }
    let Some(path) = path else {
        return Ok(Resolved { id, mode: None });
    };
    let mut tree = match odb.read_header(&id)?.0 {
        Kind::Commit => odb.find_commit(&id)?.tree,
        Kind::Tree => id,
        _ => return Err(invalid("only a commit or tree has paths")),
    };
    let mut mode = EntryMode::Tree;
    let mut components = path
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .peekable();
    while let Some(name) = components.next() {
        let not_found = || Error::PathNotFound {
            rev: rev.to_owned(),
            path: String::from_utf8_lossy(path).into_owned(),
        };
        if !mode.is_tree() {
            return Err(not_found());
        }
        let entry = odb.find_tree(&tree)?;
        let entry = entry.find(name).ok_or_else(not_found)?;
        mode = entry.mode;
        tree = entry.id;
        if components.peek().is_none() {
            break;
        }
    }
    Ok(Resolved {
        id: tree,
        mode: Some(mode),
    })
}

/// `id` as the type `want` names (git's `^{type}`).
fn peel(odb: &Odb, id: ObjectId, want: &str, spec: &str) -> Result<ObjectId> {
    let fail = |reason| Error::InvalidRevision {
        spec: spec.to_owned(),
        reason,
    };
    let kind = odb.read_header(&id)?.0;
    match (want, kind) {
        ("" | "object", _)
        | ("commit", Kind::Commit)
        | ("tree", Kind::Tree)
        | ("blob", Kind::Blob) => Ok(id),
        ("tree", Kind::Commit) => Ok(odb.find_commit(&id)?.tree),
        ("commit" | "tree" | "blob", _) => Err(fail("the object is not of the type in '^{...}'")),
        _ => Err(fail("'^{...}' takes commit, tree, blob, object or nothing")),
    }
}

fn peel_to_commit(odb: &Odb, id: ObjectId, spec: &str) -> Result<ObjectId> {
    match odb.read_header(&id)?.0 {
        Kind::Commit => Ok(id),
        _ => Err(Error::InvalidRevision {
            spec: spec.to_owned(),
            reason: "'~' and '^' need a commit",
        }),
    }
}

fn resolve_base(odb: &Odb, refs: &RefStore, base: &str) -> Result<ObjectId> {
    let base = if base == "@" { "HEAD" } else { base };
    if base.len() == ObjectId::HEX_LEN
        && let Ok(id) = base.parse::<ObjectId>()
    {
        return if odb.contains(&id) {
            Ok(id)
        } else {
            Err(Error::UnknownRevision(base.to_owned()))
        };
    }
    if base == "HEAD" {
        return refs.head_commit()?.ok_or_else(|| {
            let branch = match refs.head() {
                Ok(super::Head::Branch(name)) => name.shorten().to_owned(),
                _ => "HEAD".into(),
            };
            Error::Unborn(branch)
        });
    }
    // git's order: the name as given, then under refs/, refs/tags/, refs/heads/.
    for candidate in [
        base.to_owned(),
        format!("refs/{base}"),
        format!("refs/tags/{base}"),
        format!("refs/heads/{base}"),
    ] {
        if let Ok(name) = RefName::new(&candidate)
            && let Some(id) = refs.find(&name)?
        {
            return Ok(id);
        }
    }
    if let Ok(prefix) = Prefix::from_hex(base) {
        let candidates = odb.ids_with_prefix(&prefix)?;
        match candidates.len() {
            0 => {}
            1 => return Ok(candidates[0]),
            _ => {
                return Err(Error::Ambiguous {
                    prefix: base.to_owned(),
                    candidates,
                });
            }
        }
    }
    Err(Error::UnknownRevision(base.to_owned()))
}
