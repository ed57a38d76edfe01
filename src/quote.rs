//! git's quoting of paths, for output and messages: no byte is ever shown lossily
//! (DESIGN: "Never a lossy U+FFFD"). The bottom of the layers: filesystem errors quote
//! their paths with it as snapshot paths do.

use std::borrow::Cow;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Quotes a path the way git does with its default `core.quotePath`: paths with control
/// characters, `"`, `\` or non-ASCII bytes are put in double quotes with C escapes and
/// octal bytes; all others are shown as they are.
pub fn quote_path(path: &[u8]) -> String {
    quote(path, false).into_owned()
}

/// Quotes a path as `git status` does: like [`quote_path`], and paths with a space are
/// quoted too.
pub fn quote_path_status(path: &[u8]) -> String {
    quote(path, true).into_owned()
}

/// Shows a path in an error message: in single quotes (`'a.txt'`), or, when git would
/// quote it ([`quote_path`]), in git's double-quoted form alone (`"\377"`), so no byte
/// is ever shown lossily.
pub fn quote_path_message(path: &[u8]) -> String {
    match quote(path, false) {
        Cow::Borrowed(plain) => format!("'{plain}'"),
        Cow::Owned(quoted) => quoted,
    }
}

/// A name (or path) in double quotes with git's escapes, whether or not git would
/// quote it: for messages that always quote names.
pub(crate) fn quote_name(name: &[u8]) -> String {
    match quote(name, false) {
        Cow::Borrowed(plain) => format!("\"{plain}\""),
        Cow::Owned(quoted) => quoted,
    }
}

/// The path unchanged when nothing in it needs quoting, else its quoted form.
fn quote(path: &[u8], space: bool) -> Cow<'_, str> {
    let needs = path
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\' || b >= 0x7f || (space && b == b' '));
    if !needs {
        return Cow::Borrowed(std::str::from_utf8(path).expect("printable ASCII is UTF-8"));
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
            b if !(0x20..0x7f).contains(&b) => {
                use std::fmt::Write;
                write!(out, "\\{b:03o}").expect("writing to a String cannot fail");
            }
            b => out.push(b as char),
        }
    }
    out.push('"');
    Cow::Owned(out)
}

/// A filesystem path in a message, as [`quote_path_message`] shows snapshot paths.
pub fn quote_fs_path(path: &Path) -> String {
    quote_path_message(path.as_os_str().as_bytes())
}
