//! Paths inside snapshots are bytes; these helpers show them and map them to the disk.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::object::validate_name;

/// Quotes a path the way git does with its default `core.quotePath`: paths with control
/// characters, `"`, `\` or non-ASCII bytes are put in double quotes with C escapes and
/// octal bytes; all others are shown as they are.
pub fn quote_path(path: &[u8]) -> String {
    quote(path, false)
}

/// Quotes a path as `git status` does: like [`quote_path`], and paths with a space are
/// quoted too.
pub fn quote_path_status(path: &[u8]) -> String {
    quote(path, true)
}

fn quote(path: &[u8], space: bool) -> String {
    let needs = path
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\' || b >= 0x7f || (space && b == b' '));
    if !needs {
        return String::from_utf8(path.to_vec()).expect("printable ASCII is UTF-8");
    }
    let mut out = String::with_capacity(path.len() + 2);
    out.push('"');
    for &b in path {
        match b {
            b'\x07' => out.push_str("\\a"),
            b'\x08' => out.push_str("\\b"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\x0b' => out.push_str("\\v"),
            b'\x0c' => out.push_str("\\f"),
            b'\r' => out.push_str("\\r"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b if !(0x20..0x7f).contains(&b) => out.push_str(&format!("\\{b:03o}")),
            b => out.push(b as char),
        }
    }
    out.push('"');
    out
}

/// Maps a `/`-separated snapshot path to a path under `root`, refusing any component
/// that could leave it (`..`, `.`, empty, `.cow`, NUL). Returns `None` for such a path.
pub fn to_fs_path(root: &Path, path: &[u8]) -> Option<PathBuf> {
    let mut out = root.to_path_buf();
    for component in path.split(|&b| b == b'/') {
        validate_name(component).ok()?;
        out.push(OsStr::from_bytes(component));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_matches_git() {
        assert_eq!(quote_path(b"plain name.txt"), "plain name.txt");
        assert_eq!(quote_path(b"tab\there"), "\"tab\\there\"");
        assert_eq!(quote_path(b"q\"b\\"), "\"q\\\"b\\\\\"");
        assert_eq!(quote_path(b"caf\xc3\xa9"), "\"caf\\303\\251\"");
        assert_eq!(quote_path(b"\xff"), "\"\\377\"");
        assert_eq!(quote_path_status(b"new file"), "\"new file\"");
    }

    #[test]
    fn fs_paths_stay_inside() {
        let root = Path::new("/r");
        assert_eq!(to_fs_path(root, b"a/b"), Some(PathBuf::from("/r/a/b")));
        for bad in [
            &b"../x"[..],
            b"a/../../x",
            b"",
            b"a//b",
            b".cow/HEAD",
            b"a/.COW",
        ] {
            assert_eq!(to_fs_path(root, bad), None, "{bad:?}");
        }
    }
}
