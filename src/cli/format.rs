//! Shared renderers: tree listings, and the dates the library formats.

use std::io::Write;

pub use cow::object::date::{
    git_date, iso_date, iso_strict_date, relative_date, rfc2822_date, rfc3339_date,
};
use cow::object::quote_path;
use cow::object::{EntryMode, ObjectId};

/// One `ls-tree` line: `<mode> <type> <id>\t<path>`, or the path alone, ended by a
/// newline or (with `-z`) a NUL and not quoted.
pub fn write_tree_line(
    out: &mut dyn Write,
    mode: EntryMode,
    id: &ObjectId,
    path: &[u8],
    name_only: bool,
    nul: bool,
) -> std::io::Result<()> {
    if !name_only {
        write!(out, "{} {} {id}\t", mode.as_padded_str(), mode.kind())?;
    }
    if nul {
        out.write_all(path)?;
        out.write_all(b"\0")
    } else {
        writeln!(out, "{}", quote_path(path))
    }
}
