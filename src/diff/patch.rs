//! git's renderings of a diff: unified patch (with git's extended headers, so that
//! `git apply` and `patch -p1` take it), `--stat` and `--numstat`.

use std::io::Write;

use imara_diff::{Algorithm, Diff, InternedInput};

use super::{
    BIG_FILE_THRESHOLD, BINARY_PROBE, BlobSource, Error, FileChange, Side, Status, head, is_binary,
    is_binary_blob, zero_id,
};
use crate::object::ObjectId;
use crate::object::{RepoPath, quote_path};

/// Knobs for [`write_patch`].
#[derive(Clone, Copy, Debug)]
pub struct PatchOptions {
    /// Lines of context around each change (`-U`), 3 by default.
    pub context: u32,
    /// Colour with ANSI escapes, as git does on a terminal.
    pub color: bool,
    /// Content above this size is binary, and not read (default
    /// [`BIG_FILE_THRESHOLD`], git's `core.bigFileThreshold`).
    pub big_file_threshold: u64,
}

impl Default for PatchOptions {
    fn default() -> Self {
        PatchOptions {
            context: 3,
            color: false,
            big_file_threshold: BIG_FILE_THRESHOLD,
        }
    }
}

/// Knobs for [`file_stats`].
#[derive(Clone, Copy, Debug)]
pub struct StatOptions {
    /// Content above this size is binary, and not read (default
    /// [`BIG_FILE_THRESHOLD`]).
    pub big_file_threshold: u64,
}

impl Default for StatOptions {
    fn default() -> Self {
        StatOptions {
            big_file_threshold: BIG_FILE_THRESHOLD,
        }
    }
}

/// Content up to this size is read whole in one go; for larger content (which only
/// loose objects and working files can be) the first bytes are probed for binary
/// content before the whole is read.
const READ_WHOLE: u64 = 16 << 20;

/// Both sides of a change, as a diff needs them.
enum Pair {
    /// Both sides text, read whole (an absent side is empty).
    Text(Vec<u8>, Vec<u8>),
    /// One side binary (or too large to look at): only the sizes, from headers.
    Binary(u64, u64),
}

/// Reads both sides of a change for a patch or a line count, or only their sizes
/// when either is binary: a side above `threshold` is binary unread, and a large side
/// is probed (its first 8,000 bytes) before anything is read whole.
fn load_pair(blobs: &dyn BlobSource, change: &FileChange, threshold: u64) -> Result<Pair, Error> {
    let sides = [
        (change.old, &*change.old_path),
        (change.new, &*change.new_path),
    ];
    let mut sizes = [0u64; 2];
    for (size, (side, path)) in sizes.iter_mut().zip(sides) {
        if let Some(side) = side {
            *size = blobs.size(&side, path)?;
        }
    }
    if sizes.iter().any(|&size| size > threshold) {
        return Ok(Pair::Binary(sizes[0], sizes[1]));
    }
    for (&size, (side, path)) in sizes.iter().zip(sides) {
        if let Some(side) = side
            && size > READ_WHOLE
            && is_binary(&head(blobs, &side, path, BINARY_PROBE)?)
        {
            return Ok(Pair::Binary(sizes[0], sizes[1]));
        }
    }
    let load = |(side, path): (Option<Side>, &RepoPath)| -> Result<Vec<u8>, Error> {
        side.map_or(Ok(Vec::new()), |s| blobs.blob(&s, path))
    };
    let (old, new) = (load(sides[0])?, load(sides[1])?);
    if is_binary(&old) || is_binary(&new) {
        return Ok(Pair::Binary(old.len() as u64, new.len() as u64));
    }
    Ok(Pair::Text(old, new))
}

pub(super) struct Painter {
    pub(super) on: bool,
}

impl Painter {
    pub(super) fn line(
        &self,
        out: &mut dyn Write,
        color: &str,
        text: &[u8],
    ) -> std::io::Result<()> {
        if self.on {
            out.write_all(color.as_bytes())?;
            out.write_all(text)?;
            out.write_all(b"\x1b[m\n")
        } else {
            out.write_all(text)?;
            out.write_all(b"\n")
        }
    }
}

pub(super) const META: &str = "\x1b[1m";
pub(super) const FRAG: &str = "\x1b[36m";
pub(super) const OLD: &str = "\x1b[31m";
pub(super) const NEW: &str = "\x1b[32m";

/// `a/<path>` as git prints it in headers: quoted as a whole when the path needs it.
pub(super) fn prefixed(prefix: &str, path: &RepoPath) -> Vec<u8> {
    let mut full = prefix.as_bytes().to_vec();
    full.extend_from_slice(path.as_bytes());
    quote_path(&full).into_bytes()
}

pub(super) fn short(id: &ObjectId) -> String {
    id.to_hex_prefix(7)
}

/// Writes the unified patch of `changes`, as `git diff` does.
pub fn write_patch(
    out: &mut dyn Write,
    blobs: &dyn BlobSource,
    changes: &[FileChange],
    options: &PatchOptions,
) -> Result<(), Error> {
    let paint = Painter { on: options.color };
    for change in changes {
        if change.status == Status::TypeChanged {
            // git shows a file <-> symlink change as a deletion and an addition.
            let deleted = FileChange {
                status: Status::Deleted,
                new: None,
                ..change.clone()
            };
            let added = FileChange {
                status: Status::Added,
                old: None,
                ..change.clone()
            };
            write_one(out, blobs, &deleted, options, &paint)?;
            write_one(out, blobs, &added, options, &paint)?;
        } else {
            write_one(out, blobs, change, options, &paint)?;
        }
    }
    Ok(())
}

fn write_one(
    out: &mut dyn Write,
    blobs: &dyn BlobSource,
    change: &FileChange,
    options: &PatchOptions,
    paint: &Painter,
) -> Result<(), Error> {
    let w = |e| Error::Write(e);
    let a = prefixed("a/", &change.old_path);
    let b = prefixed("b/", &change.new_path);
    let mut header = Vec::new();
    header.push([&b"diff --git "[..], &a, b" ", &b].concat());
    match (change.old, change.new) {
        (None, Some(n)) => {
            header.push(format!("new file mode {}", n.mode.as_padded_str()).into_bytes())
        }
        (Some(o), None) => {
            header.push(format!("deleted file mode {}", o.mode.as_padded_str()).into_bytes())
        }
        (Some(o), Some(n)) if o.mode != n.mode => {
            header.push(format!("old mode {}", o.mode.as_padded_str()).into_bytes());
            header.push(format!("new mode {}", n.mode.as_padded_str()).into_bytes());
        }
        _ => {}
    }
    if change.status == Status::Renamed {
        header.push(format!("similarity index {}%", change.similarity.unwrap_or(100)).into_bytes());
        header.push([&b"rename from "[..], change.old_path.quoted().as_bytes()].concat());
        header.push([&b"rename to "[..], change.new_path.quoted().as_bytes()].concat());
    }
    let old_id = change.old.map_or(zero_id(), |s| s.id);
    let new_id = change.new.map_or(zero_id(), |s| s.id);
    if old_id == new_id {
        for line in &header {
            paint.line(out, META, line).map_err(w)?;
        }
        return Ok(());
    }
    let mut index = format!("index {}..{}", short(&old_id), short(&new_id));
    if let (Some(o), Some(n)) = (change.old, change.new)
        && o.mode == n.mode
    {
        index.push_str(&format!(" {}", o.mode.as_padded_str()));
    }
    header.push(index.into_bytes());
    let pair = load_pair(blobs, change, options.big_file_threshold)?;
    let minus = if change.old.is_some() {
        a.clone()
    } else {
        b"/dev/null".to_vec()
    };
    let plus = if change.new.is_some() {
        b.clone()
    } else {
        b"/dev/null".to_vec()
    };
    let Pair::Text(old, new) = pair else {
        header.push([&b"Binary files "[..], &minus, b" and ", &plus, b" differ"].concat());
        for line in &header {
            paint.line(out, META, line).map_err(w)?;
        }
        return Ok(());
    };
    if old.is_empty() && new.is_empty() {
        // An empty file added or deleted: git writes no ---/+++ lines and no hunk.
        for line in &header {
            paint.line(out, META, line).map_err(w)?;
        }
        return Ok(());
    }
    // Like git, end a name with a space in it with a tab, so `patch` reads it whole.
    let tab = |name: &[u8]| {
        if name.contains(&b' ') {
            &b"\t"[..]
        } else {
            &b""[..]
        }
    };
    header.push([&b"--- "[..], &minus, tab(&minus)].concat());
    header.push([&b"+++ "[..], &plus, tab(&plus)].concat());
    for line in &header {
        paint.line(out, META, line).map_err(w)?;
    }
    write_hunks(out, &old, &new, options.context, paint).map_err(w)
}

fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split_inclusive(|&b| b == b'\n').collect()
}

/// The changed line ranges of a line diff, as git's Myers diff with its indent
/// heuristic would place them.
pub(super) fn line_hunks(old: &[u8], new: &[u8]) -> Vec<imara_diff::Hunk> {
    let input = InternedInput::new(old, new);
    let mut diff = Diff::compute(Algorithm::Myers, &input);
    diff.postprocess_lines(&input);
    diff.hunks().collect()
}

fn range(start: u64, len: u64) -> String {
    // 1-based; an empty range names the line before it.
    let first = if len == 0 { start } else { start + 1 };
    if len == 1 {
        format!("{first}")
    } else {
        format!("{first},{len}")
    }
}

/// git's default function context: the nearest line above that starts with a letter,
/// `_` or `$`, without trailing whitespace, at most 80 bytes.
fn function_context<'a>(old: &[&'a [u8]], before: u64) -> Option<&'a [u8]> {
    old[..before as usize].iter().rev().find_map(|line| {
        let first = *line.first()?;
        if !(first.is_ascii_alphabetic() || first == b'_' || first == b'$') {
            return None;
        }
        // Cut to 80 bytes first, then trim, as git does.
        Some(line[..line.len().min(80)].trim_ascii_end())
    })
}

fn write_hunks(
    out: &mut dyn Write,
    old: &[u8],
    new: &[u8],
    context: u32,
    paint: &Painter,
) -> std::io::Result<()> {
    let (a, b) = (lines(old), lines(new));
    let changes = line_hunks(old, new);
    // Line numbers are u32; context may be as large as u32::MAX. Work in u64, where
    // neither `2 * context` nor `end + context` can overflow; every range is then
    // clamped to the file, as git clamps it.
    let context = u64::from(context);
    let mut i = 0;
    while i < changes.len() {
        // Gather changes whose context overlaps into one hunk.
        let mut j = i;
        while j + 1 < changes.len()
            && u64::from(changes[j + 1].before.start - changes[j].before.end) <= 2 * context
        {
            j += 1;
        }
        let first = &changes[i];
        let last = &changes[j];
        let lead = u64::from(first.before.start).min(context);
        let old_start = u64::from(first.before.start) - lead;
        let new_start = u64::from(first.after.start) - lead;
        let old_end = (u64::from(last.before.end) + context).min(a.len() as u64);
        let trail = old_end - u64::from(last.before.end);
        let new_end = u64::from(last.after.end) + trail;
        let mut head = format!(
            "@@ -{} +{} @@",
            range(old_start, old_end - old_start),
            range(new_start, new_end - new_start)
        )
        .into_bytes();
        if paint.on {
            head = [FRAG.as_bytes(), &head, b"\x1b[m"].concat();
        }
        if let Some(func) = function_context(&a, old_start) {
            head.push(b' ');
            head.extend_from_slice(func);
        }
        out.write_all(&head)?;
        out.write_all(b"\n")?;
        let mut pos = old_start;
        for change in &changes[i..=j] {
            for line in &a[pos as usize..change.before.start as usize] {
                emit(out, paint, b' ', line)?;
            }
            for line in &a[change.before.start as usize..change.before.end as usize] {
                emit(out, paint, b'-', line)?;
            }
            for line in &b[change.after.start as usize..change.after.end as usize] {
                emit(out, paint, b'+', line)?;
            }
            pos = u64::from(change.before.end);
        }
        for line in &a[pos as usize..old_end as usize] {
            emit(out, paint, b' ', line)?;
        }
        i = j + 1;
    }
    Ok(())
}

fn emit(out: &mut dyn Write, paint: &Painter, sign: u8, line: &[u8]) -> std::io::Result<()> {
    let (body, complete) = match line.strip_suffix(b"\n") {
        Some(body) => (body, true),
        None => (line, false),
    };
    let color = match sign {
        b'-' => Some(OLD),
        b'+' => Some(NEW),
        _ => None,
    };
    match color {
        Some(c) if paint.on => {
            out.write_all(c.as_bytes())?;
            out.write_all(&[sign])?;
            out.write_all(body)?;
            out.write_all(b"\x1b[m\n")?;
        }
        _ => {
            out.write_all(&[sign])?;
            out.write_all(body)?;
            out.write_all(b"\n")?;
        }
    }
    if !complete {
        out.write_all(b"\\ No newline at end of file\n")?;
    }
    Ok(())
}

/// Lines added and removed in one file, or its sizes when binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStat {
    /// The path as `--stat` shows it (`old => new` for a rename).
    pub name: String,
    /// Lines added.
    pub added: u64,
    /// Lines removed.
    pub removed: u64,
    /// For binary content, the old and new sizes in bytes.
    pub binary: Option<(u64, u64)>,
    /// The content is the same on both sides (a rename or mode change).
    pub unchanged: bool,
}

/// A rename shown as git's `--stat` does: `dir/{old => new}.rs`, `a/{b => }/c`, or
/// `old => new` (git's `pprint_rename`).
fn rename_name(old: &RepoPath, new: &RepoPath) -> String {
    let old = old.quoted();
    let new = new.quoted();
    let (a, b) = (old.as_bytes(), new.as_bytes());
    // Common prefix ending at a '/'.
    let mut prefix = 0;
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            break;
        }
        if *x == b'/' {
            prefix = i + 1;
        }
    }
    // Common suffix starting at a '/'. With a prefix, the scan may reach back onto the
    // prefix's final '/', so one side's middle can be empty.
    let at = |s: &[u8], i: isize| {
        if i as usize == s.len() {
            0
        } else {
            s[i as usize]
        }
    };
    let floor = prefix as isize - isize::from(prefix > 0);
    let (mut i, mut j) = (a.len() as isize, b.len() as isize);
    let mut suffix = 0usize;
    while i >= floor.max(0) && j >= floor.max(0) && at(a, i) == at(b, j) {
        if at(a, i) == b'/' {
            suffix = a.len() - i as usize;
        }
        i -= 1;
        j -= 1;
    }
    if prefix + suffix == 0 {
        return format!("{old} => {new}");
    }
    let mid = |s: &str| {
        let end = s.len().saturating_sub(suffix).max(prefix);
        s[prefix..end].to_owned()
    };
    format!(
        "{}{{{} => {}}}{}",
        &old[..prefix],
        mid(&old),
        mid(&new),
        &old[old.len() - suffix..]
    )
}

/// Counts the lines each change adds and removes. Binary content is not read beyond
/// its first 8,000 bytes, and content above the big-file threshold not at all: their
/// sizes come from headers.
pub fn file_stats(
    blobs: &dyn BlobSource,
    changes: &[FileChange],
    options: &StatOptions,
) -> Result<Vec<FileStat>, Error> {
    changes
        .iter()
        .map(|change| {
            let name = if change.status == Status::Renamed {
                rename_name(&change.old_path, &change.new_path)
            } else {
                change.new_path.quoted()
            };
            let same = change.old.map(|s| s.id) == change.new.map(|s| s.id);
            if let (true, Some(side)) = (same, change.new) {
                // A rename or mode change: nothing added or removed, but git still
                // calls binary content binary. Its size and first bytes tell.
                let path = &change.new_path;
                let size = blobs.size(&side, path)?;
                let binary = is_binary_blob(blobs, &side, path, size, options.big_file_threshold)?;
                return Ok(FileStat {
                    name,
                    added: 0,
                    removed: 0,
                    binary: binary.then_some((size, size)),
                    unchanged: true,
                });
            }
            let (old, new) = match load_pair(blobs, change, options.big_file_threshold)? {
                Pair::Text(old, new) => (old, new),
                Pair::Binary(old, new) => {
                    return Ok(FileStat {
                        name,
                        added: 0,
                        removed: 0,
                        binary: Some((old, new)),
                        unchanged: false,
                    });
                }
            };
            let input = InternedInput::new(&old[..], &new[..]);
            let diff = Diff::compute(Algorithm::Myers, &input);
            Ok(FileStat {
                name,
                added: u64::from(diff.count_additions()),
                removed: u64::from(diff.count_removals()),
                binary: None,
                unchanged: false,
            })
        })
        .collect()
}

/// `--numstat`: `added<TAB>removed<TAB>path`, `-` for binary files.
pub fn write_numstat(out: &mut dyn Write, stats: &[FileStat]) -> std::io::Result<()> {
    for s in stats {
        match s.binary {
            Some(_) => writeln!(out, "-\t-\t{}", s.name)?,
            None => writeln!(out, "{}\t{}\t{}", s.added, s.removed, s.name)?,
        }
    }
    Ok(())
}

/// `--stat`: a bar graph per file and a summary line, laid out as git's `show_stats`
/// does for a `width`-column output (git uses 80 when not on a terminal).
pub fn write_stat(
    out: &mut dyn Write,
    stats: &[FileStat],
    width: usize,
    color: bool,
) -> std::io::Result<()> {
    if stats.is_empty() {
        return Ok(());
    }
    let decimal_width = |n: u64| n.to_string().len();
    let mut max_change = 0u64;
    let mut number_width = 0usize;
    let mut bin_width = 0usize;
    for s in stats {
        match s.binary {
            Some((o, n)) => {
                // "Bin XXX -> YYY bytes"
                bin_width = bin_width.max(14 + decimal_width(o) + decimal_width(n));
                number_width = 3;
            }
            None => max_change = max_change.max(s.added + s.removed),
        }
    }
    let max_len = stats
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0);
    number_width = number_width.max(decimal_width(max_change));
    let width = width.max(16 + 6 + number_width) as i64;
    let number = number_width as i64;
    let mut graph_width = if max_change as i64 + 4 > bin_width as i64 {
        max_change as i64
    } else {
        bin_width as i64 - 4
    };
    let mut name_width = max_len as i64;
    if name_width + number + 6 + graph_width > width {
        if graph_width > width * 3 / 8 - number - 6 {
            graph_width = (width * 3 / 8 - number - 6).max(6);
        }
        if name_width > width - number - 6 - graph_width {
            name_width = width - number - 6 - graph_width;
        } else {
            graph_width = width - number - 6 - name_width;
        }
    }
    let scale = |it: u64| -> u64 {
        if it == 0 {
            0
        } else {
            1 + it * (graph_width as u64 - 1) / max_change
        }
    };
    let (mut added, mut removed) = (0, 0);
    for s in stats {
        // Names too long lose their beginning, then up to the next '/'.
        let chars: Vec<char> = s.name.chars().collect();
        let (prefix, name) = if (chars.len() as i64) > name_width {
            let keep = (name_width - 3).max(0) as usize;
            let tail: String = chars[chars.len() - keep.min(chars.len())..]
                .iter()
                .collect();
            let tail = match tail.find('/') {
                Some(i) => tail[i..].to_owned(),
                None => tail,
            };
            ("...", tail)
        } else {
            ("", s.name.clone())
        };
        let len = if prefix.is_empty() {
            name_width
        } else {
            (name_width - 3).max(0)
        };
        let padding = (len - name.chars().count() as i64).max(0) as usize;
        let head = format!(" {prefix}{name}{:padding$} | ", "");
        match s.binary {
            Some(_) if s.unchanged => writeln!(out, "{head}{:>number_width$}", "Bin")?,
            Some((o, n)) => writeln!(out, "{head}{:>number_width$} {o} -> {n} bytes", "Bin")?,
            None => {
                let (mut add, mut del) = (s.added, s.removed);
                if graph_width as u64 <= max_change {
                    let mut total = scale(add + del);
                    if total < 2 && add > 0 && del > 0 {
                        total = 2;
                    }
                    if add < del {
                        add = scale(add);
                        del = total - add;
                    } else {
                        del = scale(del);
                        add = total - del;
                    }
                }
                let total = s.added + s.removed;
                let (plus, minus) = ("+".repeat(add as usize), "-".repeat(del as usize));
                let paint = |c: &str, bar: String| {
                    if color && !bar.is_empty() {
                        format!("{c}{bar}\x1b[m")
                    } else {
                        bar
                    }
                };
                let gap = if total > 0 { " " } else { "" };
                writeln!(
                    out,
                    "{head}{total:>number_width$}{gap}{}{}",
                    paint(NEW, plus),
                    paint(OLD, minus)
                )?;
            }
        }
        added += s.added;
        removed += s.removed;
    }
    let files = stats.len();
    let mut summary = format!(" {files} file{} changed", if files == 1 { "" } else { "s" });
    if added > 0 || removed == 0 {
        summary.push_str(&format!(
            ", {added} insertion{}(+)",
            if added == 1 { "" } else { "s" }
        ));
    }
    if removed > 0 || added == 0 {
        summary.push_str(&format!(
            ", {removed} deletion{}(-)",
            if removed == 1 { "" } else { "s" }
        ));
    }
    writeln!(out, "{summary}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_names_like_git() {
        let rename_name = |old: &[u8], new: &[u8]| {
            let path = |p| RepoPath::from_bytes(p).unwrap();
            rename_name(path(old), path(new))
        };
        assert_eq!(rename_name(b"a", b"b"), "a => b");
        assert_eq!(rename_name(b"src/a.rs", b"src/b.rs"), "src/{a.rs => b.rs}");
        assert_eq!(rename_name(b"x/f", b"y/f"), "{x => y}/f");
        assert_eq!(rename_name(b"d/x/f", b"d/y/f"), "d/{x => y}/f");
        // From git 2.47's `--stat`.
        assert_eq!(rename_name(b"a/b/c", b"a/c"), "a/{b => }/c");
        assert_eq!(rename_name(b"x/y/z/f", b"x/z/f"), "x/{y => }/z/f");
    }

    #[test]
    fn hunk_ranges() {
        assert_eq!(range(0, 0), "0,0");
        assert_eq!(range(0, 3), "1,3");
        assert_eq!(range(4, 1), "5");
    }
}
