//! Shared renderers: git's default date format, commit headers and tree listings.

use std::io::Write;

use cow::object::quote_path;
use cow::object::{Commit, EntryMode, ObjectId, Time};

/// `Tue Nov 14 23:43:20 2023 +0130`: git's default date format, in the recorded offset.
/// A stored date too far out to show (its local time overflows, or its year is beyond
/// what `gmtime` counts) is shown as the epoch, as git shows it.
pub fn git_date(time: Time) -> String {
    let local = time
        .seconds
        .checked_add(i64::from(time.offset_minutes) * 60)
        .filter(|&local| local < i64::MAX);
    let Some(local) = local else {
        return git_date(Time {
            seconds: 0,
            offset_minutes: 0,
        });
    };
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if i32::try_from(year - 1900).is_err() {
        return git_date(Time {
            seconds: 0,
            offset_minutes: 0,
        });
    }
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let sign = if time.offset_minutes < 0 { '-' } else { '+' };
    let off = time.offset_minutes.unsigned_abs();
    format!(
        "{} {} {} {:02}:{:02}:{:02} {} {sign}{:02}{:02}",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        year,
        off / 60,
        off % 60
    )
}

/// `2023-11-14T23:43:20+01:30`: RFC 3339 in the recorded offset (`Z` is never used,
/// so the offset is always shown as stored).
pub fn rfc3339_date(time: Time) -> String {
    let local = time
        .seconds
        .saturating_add(i64::from(time.offset_minutes) * 60);
    let (year, month, day) = civil_from_days(local.div_euclid(86_400));
    let secs = local.rem_euclid(86_400);
    let sign = if time.offset_minutes < 0 { '-' } else { '+' };
    let off = time.offset_minutes.unsigned_abs();
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        off / 60,
        off % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A commit as `git log` shows it by default: id, merge parents, author, date and the
/// indented message.
pub fn write_commit(out: &mut dyn Write, id: &ObjectId, commit: &Commit) -> std::io::Result<()> {
    writeln!(out, "commit {id}")?;
    if commit.parents.len() > 1 {
        let short: Vec<String> = commit.parents.iter().map(|p| p.to_hex_prefix(12)).collect();
        writeln!(out, "Merge: {}", short.join(" "))?;
    }
    writeln!(out, "Author: {}", commit.author)?;
    writeln!(out, "Date:   {}", git_date(commit.author.time))?;
    writeln!(out)?;
    let message = String::from_utf8_lossy(&commit.message);
    for line in message.trim_end_matches('\n').split('\n') {
        writeln!(out, "    {line}")?;
    }
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_git() {
        // git 2.47 `log --format=%ad` printed the first and last for these
        // GIT_AUTHOR_DATE values; the epoch (which git refuses as a date) is by hand.
        let t = |s| git_date(Time::parse(s).unwrap());
        assert_eq!(t("1700000000 +0130"), "Tue Nov 14 23:43:20 2023 +0130");
        assert_eq!(t("0 +0000"), "Thu Jan 1 00:00:00 1970 +0000");
        assert_eq!(t("951782400 -0800"), "Mon Feb 28 16:00:00 2000 -0800");
    }

    #[test]
    fn rfc3339_keeps_the_offset() {
        // `date -d @1700000000 --rfc-3339=seconds` in TZ=UTC-01:30 and UTC+08.
        let t = |s| rfc3339_date(Time::parse(s).unwrap());
        assert_eq!(t("1700000000 +0130"), "2023-11-14T23:43:20+01:30");
        assert_eq!(t("1700000000 -0800"), "2023-11-14T14:13:20-08:00");
        assert_eq!(t("0 +0000"), "1970-01-01T00:00:00+00:00");
    }

    #[test]
    fn far_dates_show_as_git_shows_them() {
        // git 2.47 `log` of commits stored with these dates (made with
        // GIT_AUTHOR_DATE='@<seconds> +0000'): year 10000 and a seven-digit year as
        // they are, i64::MAX (beyond gmtime) as the epoch. Where the local time overflows,
        // git stops ("Timestamp too large for this system"); cow shows the epoch too.
        let t = |seconds, offset_minutes| {
            git_date(Time {
                seconds,
                offset_minutes,
            })
        };
        assert_eq!(t(253402300800, 0), "Sat Jan 1 00:00:00 10000 +0000");
        assert_eq!(t(99999999999999, 0), "Sat Nov 7 09:46:39 3170843 +0000");
        assert_eq!(t(i64::MAX, 0), "Thu Jan 1 00:00:00 1970 +0000");
        assert_eq!(t(i64::MAX - 10, 90), "Thu Jan 1 00:00:00 1970 +0000");
        assert_eq!(t(i64::MIN, -90), "Thu Jan 1 00:00:00 1970 +0000");
    }
}
