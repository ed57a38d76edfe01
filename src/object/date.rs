//! Dates as git shows them: its default format, ISO 8601 (git's and strict), RFC 3339,
//! RFC 2822 and relative ("3 days ago"), each in the offset the date was recorded with
//! (none needs the machine's time zone). For programs that print commits as git does.

use super::Time;

/// A date as a user gives it, on the command line, in `COW_AUTHOR_DATE` or in a
/// revision (`main@{yesterday}`), as git's date parser takes the common forms:
///
/// - `<unix seconds> <+hhmm>` (git's internal format) and `@<unix seconds>` (offset
///   `+0000`, or the one that follows);
/// - ISO 8601: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]`, `T` between date and time, then
///   `Z`, `±hhmm` or `±hh:mm`; without an offset, local time;
/// - `now`, `yesterday` (24 hours before `now`), `N seconds|minutes|hours|days|weeks|
///   months|years ago` (a month is 30 days, a year 365).
///
/// Relative dates carry `now`'s offset. `None` when the text is none of these.
pub fn parse_user_date(text: &str, now: Time) -> Option<Time> {
    let text = text.trim();
    let relative = |seconds: i64| {
        Some(Time {
            seconds,
            offset_minutes: now.offset_minutes,
        })
    };
    match text {
        "now" => return relative(now.seconds),
        "yesterday" => return relative(now.seconds.checked_sub(86_400)?),
        _ => {}
    }
    if let Some(ago) = text.strip_suffix(" ago") {
        let (n, unit) = ago.trim().split_once(' ')?;
        let n: i64 = n.parse().ok()?;
        let secs = match unit.trim().trim_end_matches('s') {
            "second" => 1,
            "minute" => 60,
            "hour" => 3600,
            "day" => 86_400,
            "week" => 7 * 86_400,
            "month" => 30 * 86_400,
            "year" => 365 * 86_400,
            _ => return None,
        };
        return relative(now.seconds.checked_sub(n.checked_mul(secs)?)?);
    }
    parse_exact_date(text)
}

/// A date given exactly, as git takes `GIT_AUTHOR_DATE`: `<unix seconds> <+hhmm>`,
/// `@<unix seconds>` or ISO 8601 (see [`parse_user_date`], which also takes the
/// relative forms).
pub fn parse_exact_date(text: &str) -> Option<Time> {
    let text = text.trim();
    if let Some(unix) = text.strip_prefix('@') {
        let (seconds, zone) = match unix.split_once(' ') {
            Some((s, z)) => (s, Some(z.trim())),
            None => (unix, None),
        };
        return Some(Time {
            seconds: seconds.parse().ok()?,
            offset_minutes: zone.map_or(Some(0), parse_zone)?,
        });
    }
    if let Some((seconds, zone)) = text.split_once(' ')
        && seconds.bytes().all(|b| b.is_ascii_digit())
        && !seconds.is_empty()
    {
        return Some(Time {
            seconds: seconds.parse().ok()?,
            offset_minutes: parse_zone(zone.trim())?,
        });
    }
    parse_iso(text)
}

/// `Z`, `±hhmm` or `±hh:mm` as minutes east of UTC.
fn parse_zone(zone: &str) -> Option<i32> {
    if zone == "Z" {
        return Some(0);
    }
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = zone[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let minutes = digits[..2].parse::<i32>().ok()? * 60 + digits[2..].parse::<i32>().ok()?;
    (minutes < 24 * 60).then_some(sign * minutes)
}

/// `YYYY-MM-DD[( |T)HH:MM[:SS]][ ][Z|±hhmm|±hh:mm]`; local time without an offset.
fn parse_iso(text: &str) -> Option<Time> {
    if text.len() < 10 || !text.is_char_boundary(10) {
        return None;
    }
    let (date, rest) = text.split_at(10);
    let mut parts = date.split('-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: i32 = parts.next()?.parse().ok()?;
    let day: i32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let rest = rest.trim_start_matches(['T', ' ']);
    let (clock, zone) = match rest.find(['+', '-', 'Z']) {
        Some(i) => (rest[..i].trim(), Some(rest[i..].trim())),
        None => (rest.trim(), None),
    };
    let mut hms = [0i32; 3];
    if !clock.is_empty() {
        let fields: Vec<&str> = clock.split(':').collect();
        if !(2..=3).contains(&fields.len()) {
            return None;
        }
        for (slot, field) in hms.iter_mut().zip(fields) {
            *slot = field.parse().ok()?;
        }
        if hms[0] > 23 || hms[1] > 59 || hms[2] > 60 {
            return None;
        }
    }
    // SAFETY: an all-zero `tm` is a valid value; timegm and mktime read only it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hms[0];
    tm.tm_min = hms[1];
    tm.tm_sec = hms[2];
    tm.tm_isdst = -1;
    match zone {
        None => {
            // SAFETY: as above.
            let t = unsafe { libc::mktime(&mut tm) };
            (t != -1).then(|| Time {
                seconds: t,
                offset_minutes: super::commit::local_offset_minutes(t),
            })
        }
        Some(zone) => {
            let offset = parse_zone(zone)?;
            // SAFETY: as above.
            let t = unsafe { libc::timegm(&mut tm) };
            Some(Time {
                seconds: t - i64::from(offset) * 60,
                offset_minutes: offset,
            })
        }
    }
}

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

/// The recorded local time of `time` as (year, month, day, hour, minute, second), or
/// `None` when it is too far out to show.
fn local_parts(time: Time) -> Option<(i64, u32, u32, i64, i64, i64)> {
    let local = time
        .seconds
        .checked_add(i64::from(time.offset_minutes) * 60)
        .filter(|&local| local < i64::MAX)?;
    let secs = local.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(local.div_euclid(86_400));
    Some((year, month, day, secs / 3600, secs % 3600 / 60, secs % 60))
}

/// `2023-11-14 23:43:20 +0130`: git's `--date=iso`.
pub fn iso_date(time: Time) -> String {
    let Some((y, mo, d, h, mi, s)) = local_parts(time) else {
        return iso_date(Time {
            seconds: 0,
            offset_minutes: 0,
        });
    };
    let sign = if time.offset_minutes < 0 { '-' } else { '+' };
    let off = time.offset_minutes.unsigned_abs();
    format!(
        "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} {sign}{:02}{:02}",
        off / 60,
        off % 60
    )
}

/// `2023-11-14T23:43:20+01:30`: RFC 3339 in the recorded offset (git's
/// `--date=iso-strict`; `Z` is never used, as git writes `+00:00`).
pub fn rfc3339_date(time: Time) -> String {
    let Some((y, mo, d, h, mi, s)) = local_parts(time) else {
        return rfc3339_date(Time {
            seconds: 0,
            offset_minutes: 0,
        });
    };
    let sign = if time.offset_minutes < 0 { '-' } else { '+' };
    let off = time.offset_minutes.unsigned_abs();
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{sign}{:02}:{:02}",
        off / 60,
        off % 60
    )
}

/// `2023-11-14T23:43:20+01:30`: git's `--date=iso-strict`, which writes `Z` for UTC.
pub fn iso_strict_date(time: Time) -> String {
    let text = rfc3339_date(time);
    match text.strip_suffix("+00:00") {
        Some(utc) if time.offset_minutes == 0 => format!("{utc}Z"),
        _ => text,
    }
}

/// `Tue, 14 Nov 2023 23:43:20 +0130`: git's `--date=rfc` (RFC 2822).
pub fn rfc2822_date(time: Time) -> String {
    // git's default format holds the same parts: weekday month day time year offset.
    let default = git_date(time);
    let parts: Vec<&str> = default.split(' ').collect();
    match parts[..] {
        [weekday, month, day, clock, year, offset] => {
            format!("{weekday}, {day} {month} {year} {clock} {offset}")
        }
        _ => default,
    }
}

/// `3 days ago`: git's `--date=relative`, as seen at `now` (unix seconds).
pub fn relative_date(seconds: i64, now: i64) -> String {
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("{n} {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    if now < seconds {
        return "in the future".into();
    }
    let mut diff = now - seconds;
    if diff < 90 {
        return plural(diff, "second") + " ago";
    }
    diff = (diff + 30) / 60;
    if diff < 90 {
        return plural(diff, "minute") + " ago";
    }
    diff = (diff + 30) / 60;
    if diff < 36 {
        return plural(diff, "hour") + " ago";
    }
    diff = (diff + 12) / 24;
    if diff < 14 {
        return plural(diff, "day") + " ago";
    }
    if diff < 70 {
        return plural((diff + 3) / 7, "week") + " ago";
    }
    if diff < 365 {
        return plural((diff + 15) / 30, "month") + " ago";
    }
    if diff < 1825 {
        let total_months = (diff * 12 * 2 + 365) / (365 * 2);
        let (years, months) = (total_months / 12, total_months % 12);
        if months > 0 {
            return format!("{}, {} ago", plural(years, "year"), plural(months, "month"));
        }
        return plural(years, "year") + " ago";
    }
    plural((diff + 183) / 365, "year") + " ago"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_users_give_them() {
        let now = Time {
            seconds: 1_000_000,
            offset_minutes: 60,
        };
        let at = |s| parse_user_date(s, now).map(|t| (t.seconds, t.offset_minutes));
        assert_eq!(at("@1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(at("@1700000000 +0130"), Some((1_700_000_000, 90)));
        assert_eq!(at("1700000000 -0200"), Some((1_700_000_000, -120)));
        assert_eq!(at("2023-11-14 23:43:20 +0130"), Some((1_700_000_000, 90)));
        assert_eq!(at("2023-11-14T22:13:20Z"), Some((1_700_000_000, 0)));
        assert_eq!(at("2023-11-14T23:43:20+01:30"), Some((1_700_000_000, 90)));
        assert_eq!(at("3 days ago"), Some((1_000_000 - 3 * 86_400, 60)));
        assert_eq!(at("yesterday"), Some((1_000_000 - 86_400, 60)));
        assert_eq!(at("now"), Some((1_000_000, 60)));
        for bad in [
            "yesterday-ish",
            "2023-13-01",
            "2023-11-14 25:00",
            "12345",
            "é2023-11-14",
            "@x",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
    }

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
    fn relative_dates_match_git() {
        // git 2.47 `log --format=%ar` of a commit dated 1700000000, run with
        // GIT_TEST_DATE_NOW set to each `now`.
        for (now, want) in [
            (1_700_000_050, "50 seconds ago"),
            (1_700_003_000, "50 minutes ago"),
            (1_700_090_000, "25 hours ago"),
            (1_700_500_000, "6 days ago"),
            (1_703_000_000, "5 weeks ago"),
            (1_720_000_000, "8 months ago"),
            (1_750_000_000, "1 year, 7 months ago"),
            (1_900_000_000, "6 years ago"),
            (1_699_999_999, "in the future"),
        ] {
            assert_eq!(relative_date(1_700_000_000, now), want, "now {now}");
        }
    }

    #[test]
    fn iso_and_rfc3339_dates() {
        let t = |s| Time::parse(s).unwrap();
        assert_eq!(iso_date(t("1700000000 +0130")), "2023-11-14 23:43:20 +0130");
        assert_eq!(iso_date(t("951782400 -0800")), "2000-02-28 16:00:00 -0800");
        assert_eq!(
            rfc3339_date(t("1700000000 +0130")),
            "2023-11-14T23:43:20+01:30"
        );
        assert_eq!(rfc3339_date(t("0 +0000")), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso_strict_date(t("0 +0000")), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc2822_date(t("1700000000 +0130")),
            "Tue, 14 Nov 2023 23:43:20 +0130"
        );
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
