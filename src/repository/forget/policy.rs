//! restic's retention policy (`restic forget --keep-*`) as a pure function of the
//! snapshots' times: which to keep, and why.
//!
//! This follows restic's `ApplyPolicy` (internal/data/snapshot_policy.go, restic 0.16
//! and later): the snapshots are sorted newest first (stably, by instant); each rule
//! counts on its own and the rules are ORed. A count rule (`--keep-daily 7`) keeps the
//! newest snapshot of each period (hour, day, ISO week, month, year: the snapshot's
//! wall clock in its own recorded UTC offset) until its count is spent; when the
//! snapshots run out first, it also keeps the oldest snapshot (restic 0.16.0,
//! changelog `issue-3624`: "Keep oldest snapshot when there are not enough
//! snapshots"; restic 0.14 does not). `--keep-within` keeps every snapshot newer than
//! the duration before the newest snapshot (not before now); `--keep-within-daily`
//! and its kin keep the newest of each period within such a duration, with the same
//! oldest rule.

use std::fmt;

use crate::object::Time;

/// How many of a kind of snapshot a rule keeps: `--keep-daily 7`, or `unlimited`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Count {
    /// The rule is off (restic's 0).
    #[default]
    Off,
    /// At most this many (never 0: that is [`Count::Off`]).
    Up(u32),
    /// All of them (restic's `unlimited`, stored as -1).
    Unlimited,
}

impl Count {
    /// Parses a count as restic takes it: a number (0 is off) or `unlimited`;
    /// negative numbers are refused as restic refuses them.
    pub fn parse(s: &str) -> Result<Count, String> {
        if s == "unlimited" {
            return Ok(Count::Unlimited);
        }
        if s.starts_with('-') {
            return Err("negative values not allowed, use 'unlimited' instead".to_owned());
        }
        match s.parse::<u32>() {
            Ok(0) => Ok(Count::Off),
            Ok(n) => Ok(Count::Up(n)),
            Err(_) => Err(format!("'{s}' is not a count (a number, or 'unlimited')")),
        }
    }

    fn is_on(self) -> bool {
        self != Count::Off
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Count::Off => f.write_str("0"),
            Count::Up(n) => write!(f, "{n}"),
            Count::Unlimited => f.write_str("unlimited"),
        }
    }
}

/// restic's duration for `--keep-within`: years, months, days and hours (`1y2m3d4h`).
/// Years, months and days are calendar steps back from the newest snapshot's date in
/// its own offset; hours are 3600 seconds each.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Span {
    /// Years.
    pub years: u32,
    /// Months.
    pub months: u32,
    /// Days.
    pub days: u32,
    /// Hours.
    pub hours: u32,
}

impl Span {
    /// Parses restic's syntax: numbers each followed by `y`, `m`, `d` or `h`, in any
    /// order (a unit given twice counts its last value, as in restic). Negative
    /// values are refused, as `restic forget` refuses them.
    pub fn parse(s: &str) -> Result<Span, String> {
        let mut span = Span::default();
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err("empty duration (use e.g. 1y2m3d4h)".to_owned());
        }
        while !rest.is_empty() {
            if rest.starts_with('-') {
                return Err("durations containing negative values are not allowed".to_owned());
            }
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(format!("no number found in '{s}' (use e.g. 1y2m3d4h)"));
            }
            let num: u32 = rest[..digits]
                .parse()
                .map_err(|_| format!("'{}' is too large", &rest[..digits]))?;
            let unit = rest[digits..]
                .chars()
                .next()
                .ok_or_else(|| format!("no unit found after number {num}"))?;
            match unit {
                'y' => span.years = num,
                'm' => span.months = num,
                'd' => span.days = num,
                'h' => span.hours = num,
                other => {
                    return Err(format!(
                        "invalid unit '{other}' found after number {num} (use y, m, d or h)"
                    ));
                }
            }
            rest = &rest[digits + unit.len_utf8()..];
        }
        Ok(span)
    }

    /// Whether every part is zero (the rule is off).
    pub fn is_zero(&self) -> bool {
        *self == Span::default()
    }

    /// The instant this span before `latest` (restic: `latest.AddDate(-y, -m,
    /// -d).Add(-h hours)`, with Go's normalisation of out-of-range months and days,
    /// in `latest`'s offset).
    fn before(&self, latest: Time) -> i128 {
        let offset = i128::from(latest.offset_minutes) * 60;
        let local = i128::from(latest.seconds) + offset;
        let days = local.div_euclid(86_400);
        let secs_of_day = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        // Go's Date: months normalised into years first, then days counted on.
        let months = year * 12 + i128::from(month)
            - 1
            - i128::from(self.months)
            - 12 * i128::from(self.years);
        let (year, month) = (months.div_euclid(12), months.rem_euclid(12) + 1);
        let days =
            days_from_civil(year, month as u32, 1) + i128::from(day) - 1 - i128::from(self.days);
        days * 86_400 + secs_of_day - offset - i128::from(self.hours) * 3600
    }
}

impl fmt::Display for Span {
    /// restic's form: `1y2m3d4h`, zero parts left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, unit) in [
            (self.years, 'y'),
            (self.months, 'm'),
            (self.days, 'd'),
            (self.hours, 'h'),
        ] {
            if n != 0 {
                write!(f, "{n}{unit}")?;
            }
        }
        Ok(())
    }
}

/// A count rule's period.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub enum Period {
    /// Every snapshot is its own period (`--keep-last`).
    Last,
    /// A clock hour.
    Hourly,
    /// A calendar day.
    Daily,
    /// An ISO 8601 week (Monday to Sunday; week 1 holds the year's first Thursday).
    Weekly,
    /// A calendar month.
    Monthly,
    /// A calendar year.
    Yearly,
}

impl Period {
    /// `last`, `hourly`, `daily`, `weekly`, `monthly` or `yearly`.
    pub fn name(self) -> &'static str {
        match self {
            Period::Last => "last",
            Period::Hourly => "hourly",
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::Yearly => "yearly",
        }
    }

    /// The period `time` falls in, as a number (restic's `ymdh`, `ymd`, `yw`, `ym`
    /// and `y`); for [`Period::Last`], the snapshot's position.
    fn key(self, time: Time, position: usize) -> i128 {
        let local = i128::from(time.seconds) + i128::from(time.offset_minutes) * 60;
        let days = local.div_euclid(86_400);
        let hour = local.rem_euclid(86_400) / 3600;
        let (year, month, day) = civil_from_days(days);
        match self {
            Period::Last => position as i128,
            Period::Hourly => {
                ((year * 100 + i128::from(month)) * 100 + i128::from(day)) * 100 + hour
            }
            Period::Daily => (year * 100 + i128::from(month)) * 100 + i128::from(day),
            Period::Weekly => {
                let (iso_year, week) = iso_week(days);
                iso_year * 100 + i128::from(week)
            }
            Period::Monthly => year * 100 + i128::from(month),
            Period::Yearly => year,
        }
    }
}

/// The count rules in restic's order.
const PERIODS: [Period; 6] = [
    Period::Last,
    Period::Hourly,
    Period::Daily,
    Period::Weekly,
    Period::Monthly,
    Period::Yearly,
];

/// The periods of the `--keep-within-*` rules, in restic's order.
const WITHIN_PERIODS: [Period; 5] = [
    Period::Hourly,
    Period::Daily,
    Period::Weekly,
    Period::Monthly,
    Period::Yearly,
];

/// A retention policy: restic's `--keep-*` options. Tags are not here: which
/// snapshots carry which tags is the caller's (see `Repository::forget`).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Policy {
    /// `--keep-last`.
    pub last: Count,
    /// `--keep-hourly`.
    pub hourly: Count,
    /// `--keep-daily`.
    pub daily: Count,
    /// `--keep-weekly`.
    pub weekly: Count,
    /// `--keep-monthly`.
    pub monthly: Count,
    /// `--keep-yearly`.
    pub yearly: Count,
    /// `--keep-within`.
    pub within: Span,
    /// `--keep-within-hourly`.
    pub within_hourly: Span,
    /// `--keep-within-daily`.
    pub within_daily: Span,
    /// `--keep-within-weekly`.
    pub within_weekly: Span,
    /// `--keep-within-monthly`.
    pub within_monthly: Span,
    /// `--keep-within-yearly`.
    pub within_yearly: Span,
}

impl Policy {
    /// Whether no rule is set (restic refuses to apply such a policy).
    pub fn is_empty(&self) -> bool {
        *self == Policy::default()
    }

    fn count(&self, period: Period) -> Count {
        match period {
            Period::Last => self.last,
            Period::Hourly => self.hourly,
            Period::Daily => self.daily,
            Period::Weekly => self.weekly,
            Period::Monthly => self.monthly,
            Period::Yearly => self.yearly,
        }
    }

    fn within_period(&self, period: Period) -> Span {
        match period {
            Period::Last => Span::default(),
            Period::Hourly => self.within_hourly,
            Period::Daily => self.within_daily,
            Period::Weekly => self.within_weekly,
            Period::Monthly => self.within_monthly,
            Period::Yearly => self.within_yearly,
        }
    }
}

/// Why a snapshot is kept.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Reason {
    /// The `n`th snapshot a count rule kept, newest first (`daily 3`).
    Count(Period, u32),
    /// The oldest snapshot, kept by a count rule whose count the snapshots did not
    /// use up although its period was counted already (`oldest daily`).
    Oldest(Period),
    /// `--keep-within` (`within 7d`).
    Within(Span),
    /// A `--keep-within-*` rule (`daily within 7d`), `oldest` as for [`Reason::Oldest`].
    PeriodWithin {
        /// The period.
        period: Period,
        /// The rule's duration.
        span: Span,
        /// Kept as the oldest snapshot rather than as a new period.
        oldest: bool,
    },
    /// A tag points at it (`tag v1`).
    Tag(String),
    /// Another branch points at it (`branch NAME`).
    Branch(String),
    /// A detached HEAD points at it.
    Head,
    /// It is the branch's tip, which is always kept.
    Tip,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Count(period, n) => write!(f, "{} {n}", period.name()),
            Reason::Oldest(period) => write!(f, "oldest {}", period.name()),
            Reason::Within(span) => write!(f, "within {span}"),
            Reason::PeriodWithin {
                period,
                span,
                oldest,
            } => {
                let oldest = if *oldest { "oldest " } else { "" };
                write!(f, "{oldest}{} within {span}", period.name())
            }
            Reason::Tag(name) => write!(f, "tag {name}"),
            Reason::Branch(name) => write!(f, "branch {name}"),
            Reason::Head => f.write_str("HEAD"),
            Reason::Tip => f.write_str("tip"),
        }
    }
}

/// Applies `policy` to snapshots taken at `times` (in any order), as restic does, with
/// `now` (unix seconds) to leave snapshots from the future out of "the newest"
/// `--keep-within` counts from. Returns, for each snapshot in the order given, why it
/// is kept; an empty list means it goes.
pub fn apply(times: &[Time], policy: &Policy, now: i64) -> Vec<Vec<Reason>> {
    let mut reasons = vec![Vec::new(); times.len()];
    if times.is_empty() {
        return reasons;
    }
    // Newest first; equal instants keep their order (Go's sort.Stable).
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by(|&a, &b| times[b].seconds.cmp(&times[a].seconds));
    // The newest snapshot not in the future (restic's findLatestTimestamp); with
    // none, restic's zero time, before which nothing is.
    let latest = order.iter().map(|&i| times[i]).find(|t| t.seconds < now);
    let within_cut = |span: &Span| latest.map(|latest| span.before(latest));
    let after =
        |time: Time, cut: Option<i128>| cut.is_none_or(|cut| i128::from(time.seconds) > cut);

    struct Bucket {
        period: Period,
        left: Count,
        last: Option<i128>,
        kept: u32,
    }
    let mut buckets: Vec<Bucket> = PERIODS
        .iter()
        .map(|&period| Bucket {
            period,
            left: policy.count(period),
            last: None,
            kept: 0,
        })
        .collect();
    let mut within_buckets: Vec<(Period, Span, Option<i128>, Option<i128>)> = WITHIN_PERIODS
        .iter()
        .map(|&p| {
            let span = policy.within_period(p);
            (p, span, within_cut(&span), None)
        })
        .collect();
    let within = (!policy.within.is_zero()).then(|| within_cut(&policy.within));

    let oldest = times.len() - 1;
    for (nr, &index) in order.iter().enumerate() {
        let time = times[index];
        let why = &mut reasons[index];
        if let Some(cut) = within
            && after(time, cut)
        {
            why.push(Reason::Within(policy.within));
        }
        for bucket in &mut buckets {
            if !bucket.left.is_on() {
                continue;
            }
            let key = bucket.period.key(time, nr);
            if bucket.last != Some(key) || nr == oldest {
                if bucket.last == Some(key) {
                    why.push(Reason::Oldest(bucket.period));
                } else {
                    bucket.kept += 1;
                    why.push(Reason::Count(bucket.period, bucket.kept));
                }
                bucket.last = Some(key);
                bucket.left = match bucket.left {
                    Count::Up(1) => Count::Off,
                    Count::Up(n) => Count::Up(n - 1),
                    other => other,
                };
            }
        }
        for (period, span, cut, last) in &mut within_buckets {
            if span.is_zero() || !after(time, *cut) {
                continue;
            }
            let key = period.key(time, nr);
            if *last != Some(key) || nr == oldest {
                why.push(Reason::PeriodWithin {
                    period: *period,
                    span: *span,
                    oldest: *last == Some(key),
                });
                *last = Some(key);
            }
        }
    }
    reasons
}

/// The ISO 8601 week-numbering year and week of the day `days` after 1970-01-01.
fn iso_week(days: i128) -> (i128, u32) {
    // Monday is 0; 1970-01-01 was a Thursday.
    let weekday = (days + 3).rem_euclid(7);
    // A week belongs to the year its Thursday is in.
    let thursday = days - weekday + 3;
    let (year, _, _) = civil_from_days(thursday);
    let day_of_year = thursday - days_from_civil(year, 1, 1);
    (year, (day_of_year / 7 + 1) as u32)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant).
fn civil_from_days(days: i128) -> (i128, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i128::from(month <= 2), month, day)
}

/// (year, month, day) to days since 1970-01-01, proleptic Gregorian (H. Hinnant).
fn days_from_civil(year: i128, month: u32, day: u32) -> i128 {
    let year = year - i128::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = i128::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i128::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Time {
        // "YYYY-MM-DD HH" in UTC.
        let (date, hour) = s.split_once(' ').unwrap();
        let parts: Vec<i128> = date.split('-').map(|p| p.parse().unwrap()).collect();
        let days = days_from_civil(parts[0], parts[1] as u32, parts[2] as u32);
        let hour: i128 = hour.parse().unwrap();
        Time {
            seconds: (days * 86_400 + hour * 3600) as i64,
            offset_minutes: 0,
        }
    }

    fn kept(times: &[Time], policy: &Policy) -> Vec<usize> {
        apply(times, policy, i64::MAX)
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.is_empty())
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn calendar_round_trips_and_iso_weeks() {
        for days in -800_000..800_000i128 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        // Known ISO weeks (from `date +%G-%V`): 2021-01-03 is 2020-W53, 2024-12-30
        // is 2025-W01, 2026-01-01 is 2026-W01, 2027-01-01 is 2026-W53.
        let week = |y, m, d| iso_week(days_from_civil(y, m, d));
        assert_eq!(week(2021, 1, 3), (2020, 53));
        assert_eq!(week(2021, 1, 4), (2021, 1));
        assert_eq!(week(2024, 12, 30), (2025, 1));
        assert_eq!(week(2026, 1, 1), (2026, 1));
        assert_eq!(week(2027, 1, 1), (2026, 53));
        assert_eq!(week(1970, 1, 1), (1970, 1));
    }

    #[test]
    fn durations_as_restic_parses_them() {
        let span = |y, m, d, h| Span {
            years: y,
            months: m,
            days: d,
            hours: h,
        };
        assert_eq!(Span::parse("1y2m3d4h"), Ok(span(1, 2, 3, 4)));
        assert_eq!(Span::parse("4h3d"), Ok(span(0, 0, 3, 4)));
        assert_eq!(Span::parse(" 7d "), Ok(span(0, 0, 7, 0)));
        // A unit given twice: the last wins (restic's loop overwrites).
        assert_eq!(Span::parse("1d2d"), Ok(span(0, 0, 2, 0)));
        for bad in ["", "7", "d", "7w", "-1d", "1d-2h", "99999999999d", "7dx"] {
            assert!(Span::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(span(1, 0, 3, 0).to_string(), "1y3d");
        assert_eq!(Count::parse("unlimited"), Ok(Count::Unlimited));
        assert_eq!(Count::parse("0"), Ok(Count::Off));
        assert_eq!(Count::parse("3"), Ok(Count::Up(3)));
        assert!(Count::parse("-1").is_err());
        assert!(Count::parse("x").is_err());
    }

    #[test]
    fn within_steps_back_in_the_calendar_as_go_does() {
        // Go: time.Date(2023, 3, 31, 12, 0, 0, 0, UTC).AddDate(0, -1, 0) is March 3
        // (February 31 normalised), and AddDate(-1, 0, 0) of 2024-02-29 is 2023-03-01.
        let cut = |t: &str, span: &str| Span::parse(span).unwrap().before(utc(t));
        assert_eq!(
            cut("2023-03-31 12", "1m"),
            i128::from(utc("2023-03-03 12").seconds)
        );
        assert_eq!(
            cut("2024-02-29 00", "1y"),
            i128::from(utc("2023-03-01 00").seconds)
        );
        assert_eq!(
            cut("2024-01-10 05", "10d6h"),
            i128::from(utc("2023-12-30 23").seconds)
        );
        // In the snapshot's own offset: 00:30 on March 1st at +0100 is Feb 29 23:30
        // UTC; one month back in +0100 is February 1st 00:30 +0100.
        let latest = Time {
            seconds: utc("2024-02-29 23").seconds + 1800,
            offset_minutes: 60,
        };
        assert_eq!(
            Span::parse("1m").unwrap().before(latest),
            i128::from(utc("2024-01-31 23").seconds + 1800)
        );
    }

    #[test]
    fn counts_keep_the_newest_of_each_period_and_the_oldest_when_short() {
        // Newest first: two on the 3rd, one on the 2nd, two on the 1st.
        let times = [
            utc("2024-01-03 20"),
            utc("2024-01-03 10"),
            utc("2024-01-02 10"),
            utc("2024-01-01 20"),
            utc("2024-01-01 10"),
        ];
        let daily = |n| Policy {
            daily: Count::Up(n),
            ..Policy::default()
        };
        assert_eq!(kept(&times, &daily(2)), [0, 2]);
        // Three days, three kept: the count is used up at the oldest day's newest.
        assert_eq!(kept(&times, &daily(3)), [0, 2, 3]);
        // A count not used up keeps the oldest as well (restic >= 0.16).
        assert_eq!(kept(&times, &daily(4)), [0, 2, 3, 4]);
        let reasons = apply(&times, &daily(4), i64::MAX);
        assert_eq!(reasons[3], [Reason::Count(Period::Daily, 3)]);
        assert_eq!(reasons[4], [Reason::Oldest(Period::Daily)]);
        let all = Policy {
            daily: Count::Unlimited,
            ..Policy::default()
        };
        assert_eq!(kept(&times, &all), [0, 2, 3, 4]);
        // The input order does not matter: reasons come back in it.
        let mut shuffled = times;
        shuffled.reverse();
        assert_eq!(kept(&shuffled, &daily(2)), [2, 4]);
        let last = Policy {
            last: Count::Up(2),
            ..Policy::default()
        };
        assert_eq!(kept(&times, &last), [0, 1]);
        assert_eq!(
            apply(&times, &last, i64::MAX)[1],
            [Reason::Count(Period::Last, 2)]
        );
    }

    #[test]
    fn within_counts_from_the_newest_snapshot_not_in_the_future() {
        let times = [
            utc("2024-01-10 12"),
            utc("2024-01-09 13"),
            utc("2024-01-09 12"),
            utc("2024-01-08 12"),
        ];
        let policy = Policy {
            within: Span::parse("1d").unwrap(),
            ..Policy::default()
        };
        // Strictly after the cut: the one exactly a day older goes.
        assert_eq!(kept(&times, &policy), [0, 1]);
        assert_eq!(
            apply(&times, &policy, i64::MAX)[0][0].to_string(),
            "within 1d"
        );
        // With "now" before the newest, the cut is a day before the second.
        let now = utc("2024-01-10 00").seconds;
        let kept_now: Vec<usize> = apply(&times, &policy, now)
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.is_empty())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(kept_now, [0, 1, 2]);
        // Within daily: the newest of each day within 2 days; the oldest within is
        // the last one in the list only if it is within.
        let policy = Policy {
            within_daily: Span::parse("2d").unwrap(),
            ..Policy::default()
        };
        assert_eq!(kept(&times, &policy), [0, 1]);
        assert_eq!(
            apply(&times, &policy, i64::MAX)[1][0].to_string(),
            "daily within 2d"
        );
    }

    #[test]
    fn periods_use_the_recorded_offset() {
        // 23:30 UTC on Jan 1st and 00:30 UTC on Jan 2nd: one day at +0200 (both on
        // Jan 2nd there), two days at +0000.
        let at = |h: i64, offset| Time {
            seconds: utc("2024-01-01 23").seconds + 1800 + h * 3600,
            offset_minutes: offset,
        };
        let daily = Policy {
            daily: Count::Up(5),
            ..Policy::default()
        };
        assert_eq!(kept(&[at(1, 0), at(0, 0)], &daily), [0, 1]);
        let reasons = apply(&[at(1, 120), at(0, 120)], &daily, i64::MAX);
        assert_eq!(reasons[1], [Reason::Oldest(Period::Daily)]);
    }

    #[test]
    fn reasons_read_as_documented() {
        let span = Span::parse("7d").unwrap();
        let shown: Vec<String> = [
            Reason::Count(Period::Daily, 3),
            Reason::Oldest(Period::Weekly),
            Reason::Within(span),
            Reason::PeriodWithin {
                period: Period::Daily,
                span,
                oldest: true,
            },
            Reason::Tag("v1".into()),
            Reason::Tip,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            shown,
            [
                "daily 3",
                "oldest weekly",
                "within 7d",
                "oldest daily within 7d",
                "tag v1",
                "tip"
            ]
        );
    }
}
