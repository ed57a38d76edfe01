//! git's combined diff of a merge (`git show MERGE`, `--cc`): the files that differ
//! from every parent, each shown once against all parents at the same time, one
//! column of `+`/`-` per parent, with the hunks where the merge took one parent's
//! version left out (git's combine-diff.c, dense mode).

use std::io::Write;

use super::patch::{Painter, line_hunks, prefixed, short};
use super::{BlobSource, DiffOptions, Error, FileChange, Side, Status, TreeSource, is_binary};
use super::{diff, zero_id};
use crate::object::{ObjectId, RepoPathBuf};

/// One parent's side of a path in a merge.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ParentSide {
    /// How the merge's version differs from this parent's (`R` when the parent had
    /// it under another name).
    pub status: Status,
    /// The parent's entry (`None` when the parent did not have it).
    pub old: Option<Side>,
}

/// A path whose version in a merge differs from its version in every parent.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CombinedChange {
    /// The path in the merge.
    pub path: RepoPathBuf,
    /// Each parent's side, in parent order.
    pub parents: Vec<ParentSide>,
    /// The merge's entry (`None` when the merge deleted it).
    pub new: Option<Side>,
}

/// The files of tree `new` (a merge) that differ from their version in every one of
/// the `parents`' trees, in the first parent's diff order; files equal to one
/// parent's version are left out, as git's combined diff leaves them out.
pub fn diff_combined(
    trees: &dyn TreeSource,
    blobs: &dyn BlobSource,
    parents: &[Option<ObjectId>],
    new: Option<ObjectId>,
    options: &DiffOptions,
) -> Result<Vec<CombinedChange>, Error> {
    let mut combined: Vec<CombinedChange> = Vec::new();
    for (n, parent) in parents.iter().enumerate() {
        let changes = diff(trees, blobs, *parent, new, options)?.changes;
        let side = |c: &FileChange| ParentSide {
            status: c.status,
            old: c.old,
        };
        if n == 0 {
            combined = changes
                .iter()
                .map(|c| CombinedChange {
                    path: c.new_path.clone(),
                    parents: vec![side(c)],
                    new: c.new,
                })
                .collect();
            continue;
        }
        let by_path: std::collections::HashMap<&RepoPathBuf, &FileChange> =
            changes.iter().map(|c| (&c.new_path, c)).collect();
        combined.retain_mut(|entry| match by_path.get(&entry.path) {
            Some(c) => {
                entry.parents.push(side(c));
                true
            }
            None => false,
        });
    }
    Ok(combined)
}

/// `--name-status` of a merge: a status letter per parent, then the path.
pub fn write_combined_name_status(
    out: &mut dyn Write,
    changes: &[CombinedChange],
) -> std::io::Result<()> {
    for change in changes {
        let letters: String = change.parents.iter().map(|p| p.status.letter()).collect();
        writeln!(out, "{letters}\t{}", change.path.quoted())?;
    }
    Ok(())
}

/// A line lost from some parents: in them, not in the merge.
struct Lost<'a> {
    text: &'a [u8],
    /// Bit n: parent n had it.
    parents: u64,
}

/// A line of the merge's version (git's `sline`), or the slot after its last line.
#[derive(Default)]
struct Line<'a> {
    text: &'a [u8],
    /// Bit n: the line is not in parent n. Then `mark` (shown) and `no_pre_delete`
    /// (a context line whose lost lines belong to a hunk not shown).
    flag: u64,
    /// Lines lost just before this one, each once however many parents lost it.
    lost: Vec<Lost<'a>>,
    /// Lines lost before this one from the parent being diffed, before they are merged
    /// into `lost`.
    pending: Vec<Lost<'a>>,
    /// For each parent, its line number if a hunk started here.
    p_lno: Vec<u64>,
}

/// Merges the lines one parent lost (`new`) into those other parents lost at the
/// same place (`base`), sharing the longest common subsequence (git's
/// `coalesce_lines`).
fn coalesce<'a>(base: Vec<Lost<'a>>, new: Vec<Lost<'a>>, bit: u64) -> Vec<Lost<'a>> {
    if new.is_empty() {
        return base;
    }
    if base.is_empty() {
        return new;
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Dir {
        Base,
        New,
        Match,
    }
    let (lb, ln) = (base.len(), new.len());
    let mut lcs = vec![vec![0usize; ln + 1]; lb + 1];
    let mut dir = vec![vec![Dir::Base; ln + 1]; lb + 1];
    for cell in dir[0].iter_mut().skip(1) {
        *cell = Dir::New;
    }
    for i in 1..=lb {
        for j in 1..=ln {
            if base[i - 1].text == new[j - 1].text {
                lcs[i][j] = lcs[i - 1][j - 1] + 1;
                dir[i][j] = Dir::Match;
            } else if lcs[i][j - 1] >= lcs[i - 1][j] {
                lcs[i][j] = lcs[i][j - 1];
                dir[i][j] = Dir::New;
            } else {
                lcs[i][j] = lcs[i - 1][j];
                dir[i][j] = Dir::Base;
            }
        }
    }
    let mut base: Vec<Option<Lost>> = base.into_iter().map(Some).collect();
    let mut new: Vec<Option<Lost>> = new.into_iter().map(Some).collect();
    let mut reversed = Vec::with_capacity(lb + ln);
    let (mut i, mut j) = (lb, ln);
    while i != 0 || j != 0 {
        match dir[i][j] {
            Dir::Match => {
                let mut line = base[i - 1].take().expect("each line is taken once");
                line.parents |= bit;
                reversed.push(line);
                i -= 1;
                j -= 1;
            }
            Dir::New => {
                reversed.push(new[j - 1].take().expect("each line is taken once"));
                j -= 1;
            }
            Dir::Base => {
                reversed.push(base[i - 1].take().expect("each line is taken once"));
                i -= 1;
            }
        }
    }
    reversed.reverse();
    reversed
}

/// Records how parent `n` (`parent`'s content) differs from the merge's lines.
fn combine_parent<'a>(lines: &mut [Line<'a>], result: &[u8], parent: &'a [u8], n: usize) {
    let bit = 1u64 << n;
    let cnt = lines.len() - 2;
    let parent_lines: Vec<&[u8]> = parent.split_inclusive(|&b| b == b'\n').collect();
    for hunk in line_hunks(parent, result) {
        // Lost lines hang before the line that follows them in the merge.
        let bucket = hunk.after.start as usize;
        for line in &parent_lines[hunk.before.start as usize..hunk.before.end as usize] {
            lines[bucket].pending.push(Lost {
                text: line.strip_suffix(b"\n").unwrap_or(line),
                parents: bit,
            });
        }
        for line in &mut lines[hunk.after.start as usize..hunk.after.end as usize] {
            line.flag |= bit;
        }
    }
    let mut p_lno = 1;
    for (lno, line) in lines.iter_mut().enumerate().take(cnt + 1) {
        line.p_lno[n] = p_lno;
        let pending = std::mem::take(&mut line.pending);
        line.lost = coalesce(std::mem::take(&mut line.lost), pending, bit);
        p_lno += line.lost.iter().filter(|l| l.parents & bit != 0).count() as u64;
        if lno < cnt && line.flag & bit == 0 {
            p_lno += 1;
        }
    }
    lines[cnt + 1].p_lno[n] = p_lno;
}

/// Parent `n` has the same content as parent `m`, already diffed: the same marks.
fn reuse_parent(lines: &mut [Line<'_>], n: usize, m: usize) {
    let (nbit, mbit) = (1u64 << n, 1u64 << m);
    for line in lines.iter_mut() {
        line.p_lno[n] = line.p_lno[m];
        for lost in &mut line.lost {
            if lost.parents & mbit != 0 {
                lost.parents |= nbit;
            }
        }
        if line.flag & mbit != 0 {
            line.flag |= nbit;
        }
    }
}

/// The marks and their meaning for `parents` parents.
#[derive(Clone, Copy)]
struct Masks {
    all: u64,
    mark: u64,
    no_pre_delete: u64,
}

impl Masks {
    fn new(parents: usize) -> Masks {
        Masks {
            all: (1u64 << parents) - 1,
            mark: 1u64 << parents,
            no_pre_delete: 2u64 << parents,
        }
    }
}

/// Where a hunk's trailing context starts: a last line interesting only for the lines
/// lost before it is itself context.
fn adjust_hunk_tail(lines: &[Line<'_>], all: u64, begin: usize, i: usize) -> usize {
    if begin < i && lines[i - 1].flag & all == 0 {
        i - 1
    } else {
        i
    }
}

/// The next line from `i` on that is marked (or, with `unmarked`, that is not).
fn find_next(lines: &[Line<'_>], mark: u64, mut i: usize, cnt: usize, unmarked: bool) -> usize {
    while i <= cnt {
        if (lines[i].flag & mark == 0) == unmarked {
            return i;
        }
        i += 1;
    }
    i
}

/// Marks the context lines around the marked ones; whether any line is marked.
fn give_context(lines: &mut [Line<'_>], cnt: usize, masks: Masks, context: usize) -> bool {
    let Masks {
        all,
        mark,
        no_pre_delete,
    } = masks;
    let mut i = find_next(lines, mark, 0, cnt, false);
    if cnt < i {
        return false;
    }
    while i <= cnt {
        for line in &mut lines[i.saturating_sub(context)..i] {
            if line.flag & mark == 0 {
                line.flag |= no_pre_delete;
            }
            line.flag |= mark;
        }
        loop {
            let j = find_next(lines, mark, i, cnt, true);
            if cnt < j {
                return true;
            }
            let k = find_next(lines, mark, j, cnt, false);
            let j = adjust_hunk_tail(lines, all, i, j);
            if k < j + context {
                // A short gap: the two groups become one hunk.
                for line in &mut lines[j..k] {
                    line.flag |= mark;
                }
                i = k;
                continue;
            }
            i = k;
            for line in &mut lines[j..(j + context).min(cnt + 1)] {
                line.flag |= mark;
            }
            break;
        }
    }
    true
}

/// Marks the lines to show: those that differ from some parent, less the hunks where
/// the merge took one parent's version (`--cc`), plus context. Whether any is shown.
fn make_hunks(lines: &mut [Line<'_>], cnt: usize, parents: usize, context: usize) -> bool {
    let masks = Masks::new(parents);
    let Masks { all, mark, .. } = masks;
    for line in lines.iter_mut().take(cnt + 1) {
        if line.flag & all != 0 || !line.lost.is_empty() {
            line.flag |= mark;
        } else {
            line.flag &= !mark;
        }
    }
    let mut i = 0;
    while i <= cnt {
        while i <= cnt && lines[i].flag & mark == 0 {
            i += 1;
        }
        if cnt < i {
            break;
        }
        let begin = i;
        let mut j = i + 1;
        while j <= cnt {
            if lines[j].flag & mark == 0 {
                // Is there a marked line within the context span after this one?
                let mut la = adjust_hunk_tail(lines, all, begin, j);
                la = (la + context).min(cnt + 1);
                let mut more = false;
                while la > 0 {
                    la -= 1;
                    if la < j {
                        break;
                    }
                    if lines[la].flag & mark != 0 {
                        more = true;
                        break;
                    }
                }
                if !more {
                    break;
                }
                j = la;
            }
            j += 1;
        }
        let end = j;
        // Only two versions, the merge being one parent's, is not interesting: every
        // changed line then differs from the same set of parents, not all of them.
        let mut same = 0;
        let mut interesting = false;
        'hunk: for line in &lines[begin..end] {
            let diff = line.flag & all;
            let lost = line.lost.iter().map(|l| l.parents);
            for this in (diff != 0).then_some(diff).into_iter().chain(lost) {
                if same == 0 {
                    same = this;
                } else if same != this {
                    interesting = true;
                    break 'hunk;
                }
            }
        }
        if !interesting && same != all {
            for line in &mut lines[begin..end] {
                line.flag &= !mark;
            }
        }
        i = end;
    }
    give_context(lines, cnt, masks, context)
}

/// A line with the merge's text: git's default function-context rule.
fn is_funcname(text: &[u8]) -> bool {
    text.first()
        .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_' || c == b'$')
}

const RESET: &str = "\x1b[m";

/// Writes the marked lines as hunks, `@@@ -l,n -l,n +l,n @@@`.
fn dump(
    out: &mut dyn Write,
    lines: &[Line<'_>],
    parents: usize,
    context: usize,
    paint: &Painter,
) -> std::io::Result<()> {
    let cnt = lines.len() - 2;
    let Masks {
        all,
        mark,
        no_pre_delete,
    } = Masks::new(parents);
    let color = |c: &'static str| if paint.on { c } else { "" };
    let markers = "@".repeat(parents + 1);
    let mut lno = 0;
    loop {
        let mut comment: Option<&[u8]> = None;
        while lno <= cnt && lines[lno].flag & mark == 0 {
            if lno < cnt && is_funcname(lines[lno].text) {
                comment = Some(lines[lno].text);
            }
            lno += 1;
        }
        if cnt < lno {
            return Ok(());
        }
        let mut end = lno + 1;
        while end <= cnt && lines[end].flag & mark != 0 {
            end += 1;
        }
        let mut rlines = end - lno;
        if cnt < end {
            rlines -= 1; // the slot after the last line
        }
        let mut null_context = 0;
        if context == 0 {
            null_context = lines[lno..end].iter().filter(|l| l.flag & all == 0).count();
            rlines -= null_context;
        }
        let mut head = format!("{}{markers}", color(super::patch::FRAG));
        for n in 0..parents {
            let from = lines[lno].p_lno[n];
            let to = lines[end].p_lno[n];
            head.push_str(&format!(" -{from},{}", to - from - null_context as u64));
        }
        head.push_str(&format!(" +{},{rlines} {markers}", lno + 1));
        out.write_all(head.as_bytes())?;
        if let Some(text) = comment {
            // git looks at 40 bytes and stops before the last non-space one.
            let text = &text[..text.len().min(40)];
            let end = text
                .iter()
                .rposition(|c| !c.is_ascii_whitespace() && *c != 0x0b)
                .unwrap_or(0);
            if end > 0 {
                write!(out, "{} {}", color(RESET), color(RESET))?;
                out.write_all(&text[..end])?;
            }
        }
        writeln!(out, "{}", color(RESET))?;
        while lno < end {
            let line = &lines[lno];
            lno += 1;
            if line.flag & no_pre_delete == 0 {
                for lost in &line.lost {
                    let signs: String = (0..parents)
                        .map(|n| {
                            if lost.parents & (1 << n) != 0 {
                                '-'
                            } else {
                                ' '
                            }
                        })
                        .collect();
                    write!(out, "{}{signs}", color(super::patch::OLD))?;
                    write_text(out, lost.text, color(RESET))?;
                }
            }
            if cnt < lno {
                break;
            }
            if line.flag & all == 0 {
                // A line there to hang the lost lines before it.
                if context == 0 {
                    continue;
                }
            } else {
                out.write_all(color(super::patch::NEW).as_bytes())?;
            }
            let signs: String = (0..parents)
                .map(|n| if line.flag & (1 << n) != 0 { '+' } else { ' ' })
                .collect();
            out.write_all(signs.as_bytes())?;
            write_text(out, line.text, color(RESET))?;
        }
    }
}

/// A line's text, the colour reset before a carriage return that ends it.
fn write_text(out: &mut dyn Write, text: &[u8], reset: &str) -> std::io::Result<()> {
    match text.strip_suffix(b"\r") {
        Some(body) => {
            out.write_all(body)?;
            write!(out, "{reset}\r\n")
        }
        None => {
            out.write_all(text)?;
            writeln!(out, "{reset}")
        }
    }
}

/// Writes the dense combined diff (`diff --cc`) of a merge's `changes`, as
/// `git show MERGE` prints it: a file whose every hunk takes one parent's version
/// shows nothing.
pub fn write_combined_patch(
    out: &mut dyn Write,
    blobs: &dyn BlobSource,
    changes: &[CombinedChange],
    options: &super::PatchOptions,
) -> Result<(), Error> {
    let paint = Painter { on: options.color };
    for change in changes {
        write_one(out, blobs, change, options, &paint)?;
    }
    Ok(())
}

fn write_one(
    out: &mut dyn Write,
    blobs: &dyn BlobSource,
    change: &CombinedChange,
    options: &super::PatchOptions,
    paint: &Painter,
) -> Result<(), Error> {
    let w = Error::Write;
    let parents = change.parents.len();
    let context = options.context as usize;
    let path = &*change.path;
    let load = |side: Option<Side>| -> Result<Vec<u8>, Error> {
        side.map_or(Ok(Vec::new()), |s| blobs.blob(&s, path))
    };
    let result = load(change.new)?;
    let contents = change
        .parents
        .iter()
        .map(|p| load(p.old))
        .collect::<Result<Vec<_>, _>>()?;
    let mode = |side: Option<Side>| side.map_or("000000", |s| s.mode.as_padded_str());
    let mode_differs = change
        .parents
        .iter()
        .any(|p| mode(p.old) != mode(change.new));
    let deleted = change.new.is_none();
    let added = mode_differs && !deleted && change.parents.iter().all(|p| p.old.is_none());

    let mut header = vec![[&b"diff --cc "[..], &change.path.quoted().into_bytes()].concat()];
    let ids: Vec<String> = change
        .parents
        .iter()
        .map(|p| short(&p.old.map_or(zero_id(), |s| s.id)))
        .collect();
    header.push(
        format!(
            "index {}..{}",
            ids.join(","),
            short(&change.new.map_or(zero_id(), |s| s.id))
        )
        .into_bytes(),
    );
    if mode_differs {
        let line = if added {
            format!("new file mode {}", mode(change.new))
        } else {
            let modes: Vec<&str> = change.parents.iter().map(|p| mode(p.old)).collect();
            let mut line = format!(
                "{}mode {}",
                if deleted { "deleted file " } else { "" },
                modes.join(",")
            );
            if !deleted {
                line.push_str(&format!("..{}", mode(change.new)));
            }
            line
        };
        header.push(line.into_bytes());
    }
    if is_binary(&result) || contents.iter().any(|c| is_binary(c)) {
        for line in &header {
            paint.line(out, super::patch::META, line).map_err(w)?;
        }
        out.write_all(b"Binary files differ\n").map_err(w)?;
        return Ok(());
    }

    // The merge's lines, and a slot after the last for lines lost at the end (and one
    // more for the line numbers there).
    let mut lines: Vec<Line> = result
        .split_inclusive(|&b| b == b'\n')
        .map(|text| Line {
            text: text.strip_suffix(b"\n").unwrap_or(text),
            ..Line::default()
        })
        .collect();
    let cnt = lines.len();
    lines.extend([Line::default(), Line::default()]);
    for line in &mut lines {
        line.p_lno = vec![0; parents];
    }
    for (n, content) in contents.iter().enumerate() {
        let id = |m: usize| change.parents[m].old.map(|s| s.id);
        match (0..n).find(|&m| id(m) == id(n)) {
            Some(m) => reuse_parent(&mut lines, n, m),
            None => combine_parent(&mut lines, &result, content, n),
        }
    }
    let show_hunks = make_hunks(&mut lines, cnt, parents, context);
    if !(show_hunks || mode_differs) {
        return Ok(());
    }
    let minus = if added {
        b"/dev/null".to_vec()
    } else {
        prefixed("a/", path)
    };
    let plus = if deleted {
        b"/dev/null".to_vec()
    } else {
        prefixed("b/", path)
    };
    header.push([&b"--- "[..], &minus].concat());
    header.push([&b"+++ "[..], &plus].concat());
    for line in &header {
        paint.line(out, super::patch::META, line).map_err(w)?;
    }
    dump(out, &lines, parents, context, paint).map_err(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost(lines: &[&'static str], parents: u64) -> Vec<Lost<'static>> {
        lines
            .iter()
            .map(|l| Lost {
                text: l.as_bytes(),
                parents,
            })
            .collect()
    }

    #[test]
    fn lost_lines_are_shared_along_their_longest_common_subsequence() {
        let merged = coalesce(lost(&["a", "b", "c"], 1), lost(&["b", "x", "c"], 2), 2);
        let got: Vec<(&[u8], u64)> = merged.iter().map(|l| (l.text, l.parents)).collect();
        assert_eq!(
            got,
            vec![
                (&b"a"[..], 1),
                (&b"b"[..], 3),
                (&b"x"[..], 2),
                (&b"c"[..], 3)
            ]
        );
    }
}
