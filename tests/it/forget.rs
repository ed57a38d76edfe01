//! `cow forget`: restic's retention policy checked against a model written here from
//! restic's documentation and against restic itself, and the chain rewrite checked
//! against git's ids.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::process::Command;

use cow::object::{Commit, Kind, Signature, Time};
use cow::repository::ForgetOptions;
use cow::repository::policy::{self, Count, Period, Policy, Reason, Span};
use cow::{ObjectId, Repository};
use serde_json::Value;

use crate::util::*;

// ---- a model of restic's policy, written independently of src/ ----

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn month_days(y: i64, m: u32) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the first of month `m` of year `y` (y >= 1970), counted
/// one year and one month at a time.
fn model_days(y: i64, m: u32) -> i64 {
    let mut days = 0;
    for year in 1970..y {
        days += if is_leap(year) { 366 } else { 365 };
    }
    for month in 1..m {
        days += month_days(y, month);
    }
    days
}

/// Local wall clock: (year, month, day, hour, day of year from 1, days since epoch).
fn model_local(t: Time) -> (i64, u32, u32, i64, i64, i64) {
    let local = t.seconds + i64::from(t.offset_minutes) * 60;
    let mut days = local.div_euclid(86_400);
    let hour = local.rem_euclid(86_400) / 3600;
    let epoch_days = days;
    let mut year = 1970;
    loop {
        let len = if is_leap(year) { 366 } else { 365 };
        if days < len {
            break;
        }
        days -= len;
        year += 1;
    }
    let ordinal = days + 1;
    let mut month = 1;
    while days >= month_days(year, month) {
        days -= month_days(year, month);
        month += 1;
    }
    (year, month, days as u32 + 1, hour, ordinal, epoch_days)
}

/// ISO week by the ordinal-date rule (Wikipedia, "ISO week date": week =
/// (ordinal - weekday + 10) / 7, then fixed up at the year's ends).
fn model_iso_week(t: Time) -> (i64, i64) {
    let (year, _, _, _, ordinal, epoch_days) = model_local(t);
    let weekday = (epoch_days + 3).rem_euclid(7) + 1; // Monday 1; 1970-01-01 a Thursday
    let weeks_in = |y: i64| {
        // 53 weeks when January 1st is a Thursday, or a Wednesday in a leap year.
        let jan1 = (model_days(y, 1) + 3).rem_euclid(7) + 1;
        if jan1 == 4 || (jan1 == 3 && is_leap(y)) {
            53
        } else {
            52
        }
    };
    let week = (ordinal - weekday + 10) / 7;
    if week < 1 {
        (year - 1, weeks_in(year - 1))
    } else if week > weeks_in(year) {
        (year + 1, 1)
    } else {
        (year, week)
    }
}

fn model_period(period: Period, t: Time) -> (i64, i64, i64, i64) {
    let (y, m, d, h, _, _) = model_local(t);
    match period {
        Period::Last => unreachable!("keep-last has no period"),
        Period::Hourly => (y, i64::from(m), i64::from(d), h),
        Period::Daily => (y, i64::from(m), i64::from(d), 0),
        Period::Weekly => {
            let (wy, w) = model_iso_week(t);
            (wy, w, 0, 0)
        }
        Period::Monthly => (y, i64::from(m), 0, 0),
        Period::Yearly => (y, 0, 0, 0),
    }
}

/// The instant `span` before `latest`, as restic computes it with Go's
/// `AddDate(-y, -m, -d)` in latest's offset (a month or day out of range rolls on:
/// March 31st less a month is "February 31st", March 3rd), then less the hours.
fn model_cut(latest: Time, span: Span) -> i64 {
    let (y, m, d, _, _, _) = model_local(latest);
    let local = latest.seconds + i64::from(latest.offset_minutes) * 60;
    let secs_of_day = local.rem_euclid(86_400);
    let (mut year, mut month) = (y - i64::from(span.years), i64::from(m));
    for _ in 0..span.months {
        month -= 1;
        if month == 0 {
            month = 12;
            year -= 1;
        }
    }
    let days = model_days(year, month as u32) + i64::from(d) - 1 - i64::from(span.days);
    days * 86_400 + secs_of_day
        - i64::from(latest.offset_minutes) * 60
        - i64::from(span.hours) * 3600
}

/// Which rule kept what, by restic's documented semantics: a count rule keeps the
/// newest snapshot of each of the N most recent periods that have snapshots, and
/// when there are fewer such periods than N (counting all but the oldest snapshot),
/// the oldest snapshot too (restic >= 0.16.0, changelog "Keep oldest snapshot when
/// there are not enough snapshots", issue #3624; restic 0.14 does not). `within D`
/// keeps everything strictly after D before the newest snapshot not in the future;
/// `within-daily D` keeps the newest of each day among those, and the oldest
/// snapshot of all when it is among those.
fn model(times: &[Time], p: &Policy, now: i64) -> BTreeMap<String, BTreeSet<usize>> {
    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(times[i].seconds)); // stable
    let mut out: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let n = order.len();
    // Each snapshot's periods, worked out once.
    let periods: Vec<[(i64, i64, i64, i64); 5]> = times
        .iter()
        .map(|&t| {
            [
                Period::Hourly,
                Period::Daily,
                Period::Weekly,
                Period::Monthly,
                Period::Yearly,
            ]
            .map(|period| model_period(period, t))
        })
        .collect();
    let period_of = |period: Period, i: usize| match period {
        Period::Last => unreachable!(),
        Period::Hourly => periods[i][0],
        Period::Daily => periods[i][1],
        Period::Weekly => periods[i][2],
        Period::Monthly => periods[i][3],
        Period::Yearly => periods[i][4],
    };
    let counts = [
        (Period::Last, p.last),
        (Period::Hourly, p.hourly),
        (Period::Daily, p.daily),
        (Period::Weekly, p.weekly),
        (Period::Monthly, p.monthly),
        (Period::Yearly, p.yearly),
    ];
    for (period, count) in counts {
        let limit = match count {
            Count::Off => continue,
            Count::Up(k) => k as usize,
            Count::Unlimited => usize::MAX,
        };
        let key = |pos: usize| match period {
            Period::Last => (pos as i64, 0, 0, 0),
            _ => period_of(period, order[pos]),
        };
        // The newest snapshot of each of the `limit` most recent periods.
        let mut seen = HashSet::new();
        let set = out.entry(period.name().to_owned()).or_default();
        for (pos, &i) in order.iter().enumerate() {
            if seen.len() < limit && seen.insert(key(pos)) {
                set.insert(i);
            }
        }
        // Fewer periods than the count, leaving the oldest out: the oldest too.
        let periods_before_oldest: HashSet<_> = (0..n - 1).map(key).collect();
        if limit > periods_before_oldest.len() {
            set.insert(order[n - 1]);
        }
    }
    let latest = order.iter().map(|&i| times[i]).find(|t| t.seconds < now);
    let cut = |span: Span| latest.map(|l| model_cut(l, span));
    let within = |cut: Option<i64>, t: Time| cut.is_none_or(|c| t.seconds > c);
    if !p.within.is_zero() {
        let c = cut(p.within);
        let set = out.entry("within".to_owned()).or_default();
        set.extend((0..times.len()).filter(|&i| within(c, times[i])));
    }
    for (period, span) in [
        (Period::Hourly, p.within_hourly),
        (Period::Daily, p.within_daily),
        (Period::Weekly, p.within_weekly),
        (Period::Monthly, p.within_monthly),
        (Period::Yearly, p.within_yearly),
    ] {
        if span.is_zero() {
            continue;
        }
        let c = cut(span);
        let set = out.entry(format!("{} within", period.name())).or_default();
        let mut seen = HashSet::new();
        for (pos, &i) in order.iter().enumerate() {
            if within(c, times[i]) && (seen.insert(period_of(period, i)) || pos == n - 1) {
                set.insert(i);
            }
        }
    }
    out.retain(|_, set| !set.is_empty());
    out
}

/// The same grouping of what `policy::apply` said.
fn by_rule(reasons: &[Vec<Reason>]) -> BTreeMap<String, BTreeSet<usize>> {
    let mut out: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for (i, why) in reasons.iter().enumerate() {
        for reason in why {
            let rule = match reason {
                Reason::Count(p, _) | Reason::Oldest(p) => p.name().to_owned(),
                Reason::Within(_) => "within".to_owned(),
                Reason::PeriodWithin { period, .. } => format!("{} within", period.name()),
                other => panic!("the policy gave {other:?}"),
            };
            out.entry(rule).or_default().insert(i);
        }
    }
    out
}

/// Europe/Berlin's offset at `seconds`: +0200 from the last Sunday of March 01:00 UTC
/// to the last Sunday of October 01:00 UTC, +0100 otherwise.
fn berlin_offset(seconds: i64) -> i32 {
    let (year, ..) = model_local(Time {
        seconds,
        offset_minutes: 0,
    });
    let last_sunday = |month: u32| {
        let first_next = model_days(year, month + 1);
        let weekday = (first_next - 1 + 3).rem_euclid(7); // Monday 0
        (first_next - 1 - (weekday + 1) % 7) * 86_400 + 3600
    };
    if seconds >= last_sunday(3) && seconds < last_sunday(10) {
        120
    } else {
        60
    }
}

/// Hourly snapshots (a few minutes past) over two years in Berlin time, with gaps of
/// hours to weeks.
fn two_years_hourly(rng: &mut Rng) -> Vec<Time> {
    let start = model_days(2023, 1) * 86_400 + 7 * 60;
    let end = start + 2 * 365 * 86_400;
    let mut times = Vec::new();
    let mut t = start;
    while t < end {
        if rng.below(1000) < 2 {
            t += 3600 * (1 + rng.below(200) as i64); // a gap
        }
        times.push(Time {
            seconds: t + rng.below(600) as i64,
            offset_minutes: berlin_offset(t),
        });
        t += 3600;
    }
    times
}

fn random_count(rng: &mut Rng) -> Count {
    match rng.below(10) {
        0..=4 => Count::Off,
        5 => Count::Unlimited,
        6 => Count::Up(1 + rng.below(3) as u32),
        _ => Count::Up(1 + rng.below(60) as u32),
    }
}

fn random_span(rng: &mut Rng) -> Span {
    if rng.chance(70) {
        return Span::default();
    }
    Span {
        years: if rng.chance(20) { 1 } else { 0 },
        months: rng.below(14) as u32,
        days: rng.below(40) as u32,
        hours: rng.below(50) as u32,
    }
}

fn random_policy(rng: &mut Rng) -> Policy {
    loop {
        let policy = Policy {
            last: random_count(rng),
            hourly: random_count(rng),
            daily: random_count(rng),
            weekly: random_count(rng),
            monthly: random_count(rng),
            yearly: random_count(rng),
            within: random_span(rng),
            within_hourly: random_span(rng),
            within_daily: random_span(rng),
            within_weekly: random_span(rng),
            within_monthly: random_span(rng),
            within_yearly: random_span(rng),
        };
        if !policy.is_empty() {
            return policy;
        }
    }
}

#[test]
fn the_policy_matches_a_model_of_restic_on_two_years_of_hourly_snapshots() {
    let mut rng = Rng::new(19);
    let times = two_years_hourly(&mut rng);
    assert!(times.len() > 13_000, "{}", times.len());
    // The offsets switch both ways, as Berlin's do.
    assert!(
        times
            .windows(2)
            .any(|w| (w[0].offset_minutes, w[1].offset_minutes) == (60, 120))
    );
    assert!(
        times
            .windows(2)
            .any(|w| (w[0].offset_minutes, w[1].offset_minutes) == (120, 60))
    );
    let newest = times.last().unwrap().seconds;
    for round in 0..60 {
        let policy = random_policy(&mut rng);
        // Mostly "now" after every snapshot; sometimes before the newest few.
        let now = if round % 5 == 0 {
            newest - rng.below(30 * 86_400) as i64
        } else {
            i64::MAX
        };
        let got = by_rule(&policy::apply(&times, &policy, now));
        let want = model(&times, &policy, now);
        assert!(got == want, "round {round}: {policy:?}, now {now}");
    }
    // Short histories (a few days to a few months) with random policies, where the
    // counts run out and the oldest is kept.
    for round in 0..300 {
        let len = 1 + rng.below(400) as usize;
        let mut t = model_days(2023, 3) * 86_400 + 25 * 86_400;
        let mut times = Vec::new();
        for _ in 0..len {
            t += [600, 3600, 5400, 86_400, 3 * 86_400, 9 * 86_400][rng.below(6) as usize];
            times.push(Time {
                seconds: t,
                offset_minutes: berlin_offset(t),
            });
        }
        if rng.chance(50) {
            times.reverse(); // the input order does not matter
        }
        let policy = random_policy(&mut rng);
        let got = by_rule(&policy::apply(&times, &policy, i64::MAX));
        let want = model(&times, &policy, i64::MAX);
        assert!(got == want, "short round {round}: {policy:?}, {times:?}");
    }
}

#[test]
fn the_model_agrees_with_hand_worked_cases() {
    // The model itself, against cases worked out by hand.
    let at = |y: i64, m: u32, d: i64, h: i64| Time {
        seconds: (model_days(y, m) + d - 1) * 86_400 + h * 3600,
        offset_minutes: 0,
    };
    assert_eq!(model_iso_week(at(2021, 1, 3, 12)), (2020, 53));
    assert_eq!(model_iso_week(at(2024, 12, 30, 12)), (2025, 1));
    assert_eq!(model_iso_week(at(2027, 1, 1, 0)), (2026, 53));
    assert_eq!(
        model_cut(at(2023, 3, 31, 12), Span::parse("1m").unwrap()),
        at(2023, 3, 3, 12).seconds
    );
    // Berlin: 2024's switches are March 31st and October 27th, 01:00 UTC.
    assert_eq!(berlin_offset(at(2024, 3, 31, 0).seconds), 60);
    assert_eq!(berlin_offset(at(2024, 3, 31, 1).seconds), 120);
    assert_eq!(berlin_offset(at(2024, 10, 27, 0).seconds), 120);
    assert_eq!(berlin_offset(at(2024, 10, 27, 1).seconds), 60);
    // keep-daily 3 over two days: both days' newest, and the oldest (0.16+).
    let times = [
        at(2024, 1, 2, 10),
        at(2024, 1, 2, 9),
        at(2024, 1, 1, 10),
        at(2024, 1, 1, 9),
    ];
    let policy = Policy {
        daily: Count::Up(3),
        ..Policy::default()
    };
    let want: BTreeSet<usize> = [0, 2, 3].into();
    assert_eq!(model(&times, &policy, i64::MAX)["daily"], want);
}

// ---- restic itself as the oracle ----

/// Whether restic runs; with `COW_REQUIRE_RESTIC=1` (CI) its absence fails the test.
fn restic_available() -> bool {
    let ok = Command::new("restic")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var_os("COW_REQUIRE_RESTIC").is_some_and(|v| v == "1") {
            panic!("restic is not available, and COW_REQUIRE_RESTIC=1");
        }
        eprintln!("skipping: restic is not available");
    }
    ok
}

fn restic(env: &Env, args: &[&str]) -> Command {
    let mut cmd = Command::new("restic");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.tmp.path())
        .env("RESTIC_PASSWORD", "x")
        .env("TZ", "UTC")
        .arg("--no-cache")
        .arg("-q")
        .arg("-r")
        .arg(env.tmp.path().join("restic"))
        .args(args);
    cmd
}

fn utc_text(t: i64) -> String {
    let (y, m, d, h, ..) = model_local(Time {
        seconds: t,
        offset_minutes: 0,
    });
    let (mi, s) = (t.rem_euclid(3600) / 60, t.rem_euclid(60));
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

/// Snapshots at the same times in restic and on a cow branch; `restic forget
/// --dry-run --json` and `Repository::forget` with the same policies keep the same
/// snapshots. The policies are ones where restic 0.14 (installed here) and the rule
/// of 0.16 agree: every count is used up before the oldest snapshot, and no window
/// reaches it (checked below: no `oldest` reason).
#[test]
fn restic_keeps_what_cow_keeps() -> Result {
    if !restic_available() {
        return Ok(());
    }
    let env = Env::new();
    // Times that cross hours, days, ISO weeks, months and years.
    let mut rng = Rng::new(3624);
    let mut t = model_days(2022, 11) * 86_400 + 9 * 3600;
    let mut times = Vec::new();
    for _ in 0..72 {
        t += [
            1200,
            2 * 3600,
            7 * 3600,
            86_400,
            3 * 86_400,
            11 * 86_400,
            33 * 86_400,
        ][rng.below(7) as usize]
            + rng.below(60) as i64;
        times.push(t);
    }
    let src = env.tmp.path().join("src");
    std::fs::create_dir(&src)?;
    write(&src.join("file"), "data\n");
    let out = restic(&env, &["init"]).output()?;
    assert!(out.status.success(), "{}", describe(&out));
    // Four backups at a time: each pays restic's key derivation.
    for batch in times.chunks(4) {
        let children: Vec<_> = batch
            .iter()
            .map(|&t| {
                restic(&env, &["backup", "--host", "h", "--time", &utc_text(t)])
                    .arg(&src)
                    .stdout(std::process::Stdio::null())
                    .spawn()
            })
            .collect::<std::io::Result<_>>()?;
        for child in children {
            let out = child.wait_with_output()?;
            assert!(out.status.success(), "{}", describe(&out));
        }
    }

    // The same times as a cow branch (oldest first), in UTC as restic recorded them.
    let w = env.work();
    let repo = Repository::init(&w)?;
    let mut parent = None;
    for &t in &times {
        let time = Time {
            seconds: t,
            offset_minutes: 0,
        };
        parent = Some(commit_at(
            &repo,
            time,
            parent.into_iter().collect(),
            "nightly",
        ));
    }
    repo.create_branch("main", Some(parent.unwrap().into()))?;

    let policies: &[&[&str]] = &[
        &["--keep-last", "5"],
        &["--keep-hourly", "6"],
        &["--keep-daily", "9"],
        &["--keep-weekly", "7"],
        &["--keep-monthly", "5"],
        &["--keep-yearly", "2"],
        &["--keep-within", "20d"],
        &["--keep-within", "1m2d5h"],
        &["--keep-within-daily", "40d"],
        &["--keep-within-weekly", "3m"],
        &["--keep-within-monthly", "8m"],
        &[
            "--keep-daily",
            "3",
            "--keep-weekly",
            "4",
            "--keep-monthly",
            "3",
        ],
    ];
    for args in policies {
        let mut argv = vec!["forget", "--dry-run", "--json"];
        argv.extend_from_slice(args);
        let out = restic(&env, &argv).output()?;
        assert!(out.status.success(), "{}", describe(&out));
        let doc: Value = serde_json::from_slice(&out.stdout)?;
        let restic_kept: BTreeSet<String> = doc[0]["keep"]
            .as_array()
            .ok_or("no keep list")?
            .iter()
            .map(|s| s["time"].as_str().unwrap_or_default()[..19].replace('T', " "))
            .collect();
        let outcome = repo.forget(&ForgetOptions {
            policy: parse_policy(args),
            dry_run: true,
            ..ForgetOptions::default()
        })?;
        let mut cow_kept = BTreeSet::new();
        for s in outcome.kept() {
            // The tip is kept by every policy here anyway; no oldest rule may apply.
            let policy_reasons: Vec<&Reason> =
                s.reasons.iter().filter(|r| **r != Reason::Tip).collect();
            assert!(!policy_reasons.is_empty(), "{args:?}: kept only as the tip");
            for r in policy_reasons {
                assert!(!r.to_string().starts_with("oldest"), "{args:?}: {r}");
            }
            cow_kept.insert(utc_text(s.time.seconds));
        }
        assert_eq!(cow_kept, restic_kept, "{args:?}");
        assert!(restic_kept.len() < times.len(), "{args:?} forgets nothing");
    }
    Ok(())
}

fn parse_policy(args: &[&str]) -> Policy {
    let mut p = Policy::default();
    for pair in args.chunks(2) {
        let (flag, value) = (pair[0], pair[1]);
        let count = || Count::parse(value).unwrap();
        let span = || Span::parse(value).unwrap();
        match flag {
            "--keep-last" => p.last = count(),
            "--keep-hourly" => p.hourly = count(),
            "--keep-daily" => p.daily = count(),
            "--keep-weekly" => p.weekly = count(),
            "--keep-monthly" => p.monthly = count(),
            "--keep-yearly" => p.yearly = count(),
            "--keep-within" => p.within = span(),
            "--keep-within-daily" => p.within_daily = span(),
            "--keep-within-weekly" => p.within_weekly = span(),
            "--keep-within-monthly" => p.within_monthly = span(),
            other => panic!("{other}"),
        }
    }
    p
}

/// A commit of the empty tree at `time` (author and committer), through the library.
fn commit_at(repo: &Repository, time: Time, parents: Vec<ObjectId>, message: &str) -> ObjectId {
    let tree = repo
        .odb()
        .write_tree(&cow::object::Tree::from_entries(vec![]).unwrap())
        .unwrap()
        .id;
    let sig = Signature::new(NAME, EMAIL, time).unwrap();
    repo.odb()
        .write_commit(&Commit {
            tree,
            parents,
            author: sig.clone(),
            committer: sig,
            extra_headers: vec![],
            message: format!("{message}\n").into_bytes(),
        })
        .unwrap()
        .id
}

// ---- the rewrite, end to end ----

/// Six snapshots a day apart, each with its own file content; returns their ids,
/// oldest first.
fn six_days(env: &Env) -> Vec<String> {
    env.init();
    let w = env.work();
    let mut ids = Vec::new();
    for day in 0..6 {
        // Content only this snapshot has, big enough that freeing it shows.
        let mut rng = Rng::new(day);
        write(&w.join("data.bin"), rng.bytes(64 * 1024));
        write(&w.join("day.txt"), format!("day {day}\n"));
        let date = format!("{} +0100", 1_700_000_000 + day * 86_400);
        let out = env
            .cow_cmd(&w)
            .env("COW_AUTHOR_DATE", &date)
            .args(["commit", "-q", "-m", &format!("day {day}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
        ids.push(env.cow_ok(["rev-parse", "HEAD"]).trim().to_owned());
    }
    ids
}

fn rev(env: &Env, name: &str) -> String {
    env.cow_ok(["rev-parse", name]).trim().to_owned()
}

fn raw_commit(w: &std::path::Path, id: &str) -> Vec<u8> {
    let repo = Repository::open(w).unwrap();
    repo.odb()
        .read_kind(&id.parse().unwrap(), Kind::Commit)
        .unwrap()
}

/// `old` with its parent lines replaced by `parents`, built by hand from the bytes.
fn replace_parents(old: &[u8], parents: &[&str]) -> Vec<u8> {
    let text = String::from_utf8(old.to_vec()).unwrap();
    let mut out = String::new();
    let mut done = false;
    for line in text.split_inclusive('\n') {
        if line.starts_with("parent ") {
            continue;
        }
        out.push_str(line);
        if line.starts_with("tree ") && !done {
            for p in parents {
                out.push_str(&format!("parent {p}\n"));
            }
            done = true;
        }
    }
    out.into_bytes()
}

#[test]
fn forget_rewrites_the_chain_only_in_its_parent_lines_as_git_computes_the_ids() {
    let env = Env::new();
    let w = env.work();
    let ids = six_days(&env);
    // A tag on day 1 keeps it, whatever the policy.
    env.cow_ok(["tag", "v1", &ids[1]]);
    let out = env.cow_ok(["forget", "--keep-last", "2", "--json"]);
    let doc: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (doc["type"].as_str(), doc["schema"].as_i64()),
        (Some("forget"), Some(1))
    );
    assert_eq!(doc["dry_run"], false);
    assert_eq!(doc["branch"], "refs/heads/main");
    let kept: Vec<&str> = doc["keep"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(kept, [&ids[5], &ids[4], &ids[1]]);
    let reasons: Vec<Value> = doc["keep"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["reasons"].clone())
        .collect();
    assert_eq!(
        reasons,
        [
            serde_json::json!(["last 1", "tip"]),
            serde_json::json!(["last 2"]),
            serde_json::json!(["tag v1"])
        ]
    );
    let removed: Vec<&str> = doc["remove"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(removed, [&ids[3], &ids[2], &ids[0]]);
    assert_eq!(doc["keep"][1]["unix"], 1_700_000_000 + 4 * 86_400);
    assert_eq!(doc["keep"][1]["time"], "2023-11-18T23:13:20+01:00");

    // The oldest forgotten is day 0, so all three kept ones are rewritten: day 1
    // becomes a root, day 4 follows it, day 5 follows day 4.
    let new = |i: usize| {
        doc["keep"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == ids[i].as_str())
            .unwrap()["new_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (n1, n4, n5) = (new(1), new(4), new(5));
    for (old, id, parents) in [
        (&ids[1], &n1, vec![]),
        (&ids[4], &n4, vec![n1.as_str()]),
        (&ids[5], &n5, vec![n4.as_str()]),
    ] {
        assert_ne!(old, id);
        let want = replace_parents(&raw_commit(&w, old), &parents);
        assert_eq!(raw_commit(&w, id), want, "only the parent lines change");
        if git_available() {
            let probe = env.tmp.path().join("probe.git");
            if !probe.exists() {
                git(
                    env.tmp.path(),
                    [
                        "init",
                        "-q",
                        "--bare",
                        "--object-format=sha256",
                        "probe.git",
                    ],
                );
            }
            let git_id = git_stdin(&probe, ["hash-object", "-t", "commit", "--stdin"], &want);
            assert_eq!(&git_id, id, "git computes the same id");
        }
    }
    let rewritten: Vec<(String, String)> = doc["rewritten"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["old"].as_str().unwrap().into(),
                r["new"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        rewritten,
        [
            (ids[5].clone(), n5.clone()),
            (ids[4].clone(), n4.clone()),
            (ids[1].clone(), n1.clone())
        ]
    );
    // The branch (HEAD follows it) and the tag moved to the twins.
    assert_eq!(rev(&env, "main"), n5);
    assert_eq!(rev(&env, "HEAD"), n5);
    assert_eq!(rev(&env, "v1"), n1);
    let refs: Vec<(&str, &str)> = doc["refs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["new"].as_str().unwrap()))
        .collect();
    assert_eq!(
        refs,
        [
            ("refs/heads/main", n5.as_str()),
            ("refs/tags/v1", n1.as_str())
        ]
    );
    // The log is the three kept snapshots; their files are as they were.
    let log = env.cow_ok(["log", "--format=%s"]);
    assert_eq!(log, "day 5\nday 4\nday 1\n");
    assert_eq!(env.cow_ok(["show", "v1:day.txt"]), "day 1\n");
    assert_eq!(env.cow_ok(["status", "--porcelain"]), "");
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
}

#[test]
fn dry_run_changes_nothing_and_says_what_would_happen() {
    let env = Env::new();
    let w = env.work();
    let ids = six_days(&env);
    let ops_before = env.cow_ok(["op", "log"]);
    let files_before = list_files(&w.join(".cow"));
    let out = env.cow_ok(["forget", "--keep-last", "2", "--dry-run"]);
    assert!(out.contains("keep 2 snapshots:"), "{out}");
    assert!(out.contains("would remove 4 snapshots:"), "{out}");
    assert!(out.contains("would rewrite the chain"), "{out}");
    assert!(out.contains("2 commits would get new ids"), "{out}");
    assert!(
        out.contains(&ids[5][..12]) && out.contains("last 1, tip"),
        "{out}"
    );
    assert!(
        out.contains(&format!("would move main {}", &ids[5][..12])),
        "{out}"
    );
    assert_eq!(rev(&env, "main"), ids[5]);
    assert_eq!(env.cow_ok(["op", "log"]), ops_before);
    assert_eq!(list_files(&w.join(".cow")), files_before);
}

#[test]
fn forgetting_again_by_the_same_policy_changes_nothing() {
    let env = Env::new();
    let ids = six_days(&env);
    let out = env.cow_ok(["forget", "--keep-last", "3"]);
    assert!(out.contains("rewrote the chain"), "{out}");
    assert!(out.contains("3 commits got new ids"), "{out}");
    let tip = rev(&env, "main");
    assert_ne!(tip, ids[5]);
    let ops = env.cow_ok(["op", "log"]);
    let out = env.cow_ok(["forget", "--keep-last", "3"]);
    assert!(out.contains("nothing to forget"), "{out}");
    assert!(!out.contains("remove"), "{out}");
    assert_eq!(rev(&env, "main"), tip);
    assert_eq!(env.cow_ok(["op", "log"]), ops, "no operation recorded");
    // -q prints nothing, whatever it did.
    assert_eq!(env.cow_ok(["forget", "-q", "--keep-last", "2"]), "");
    assert_ne!(rev(&env, "main"), tip);
}

#[test]
fn undo_brings_the_old_chain_back_until_gc_prune_now_frees_it() {
    let env = Env::new();
    let w = env.work();
    let ids = six_days(&env);
    env.cow_ok(["tag", "old", &ids[0]]);
    env.cow_ok(["tag", "mid", &ids[3]]);
    env.cow_ok(["forget", "--keep-last", "1"]);
    // Kept: the tip, day 3 and day 0 (tagged); rewritten: the tip and day 3.
    assert_eq!(env.cow_ok(["log", "--format=%s"]), "day 5\nday 3\nday 0\n");
    assert_eq!(
        rev(&env, "old"),
        ids[0],
        "not rewritten: nothing older was forgotten"
    );
    assert_ne!(rev(&env, "mid"), ids[3]);
    // One undo brings every ref back.
    let out = env.cow_ok(["undo"]);
    assert!(out.contains("forget 3 snapshots of main"), "{out}");
    assert_eq!(rev(&env, "main"), ids[5], "the old ids exactly");
    assert_eq!(rev(&env, "mid"), ids[3]);
    assert_eq!(env.cow_ok(["log", "--format=%s"]).lines().count(), 6);

    // Forget again; gc without grace frees the forgotten snapshots' data ...
    env.cow_ok(["redo"]);
    let size = |env: &Env| -> u64 {
        let doc: Value = serde_json::from_str(&env.cow_ok(["count-objects", "--json"])).unwrap();
        doc["loose_bytes"].as_u64().unwrap() + doc["pack_bytes"].as_u64().unwrap()
    };
    env.cow_ok(["gc"]);
    let before = size(&env);
    let out = env.cow_ok(["gc", "--prune=now"]);
    let after = size(&env);
    // Three snapshots' 64 KiB of random data each went.
    assert!(before - after > 3 * 60 * 1024, "{before} -> {after}: {out}");
    assert!(env.cow_ok(["fsck"]).contains("no problems"));
    // ... and undo then refuses, cleanly, changing nothing.
    let tip = rev(&env, "main");
    assert_error(&env.cow(["undo"]), "no longer in the store");
    assert_eq!(rev(&env, "main"), tip);
    assert!(w.join(".cow").is_dir());
}

#[test]
fn other_branches_tags_and_a_detached_head_keep_their_snapshots_and_follow() {
    let env = Env::new();
    let ids = six_days(&env);
    env.cow_ok(["branch", "side", &ids[2]]);
    env.cow_ok(["tag", "t3", &ids[3]]);
    env.cow_ok(["checkout", "-q", "--detach", &ids[4]]);
    let out = env.cow_ok(["forget", "--branch", "main", "--keep-last", "1", "--json"]);
    let doc: Value = serde_json::from_str(out.trim()).unwrap();
    let reasons: Vec<String> = doc["keep"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            k["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    assert_eq!(reasons, ["last 1,tip", "HEAD", "tag t3", "branch side"]);
    let removed: Vec<&str> = doc["remove"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(removed, [&ids[1], &ids[0]]);
    // Everything was rewritten (day 0 went): each ref is at its twin, HEAD detached
    // still, and the chain reads the same.
    assert_eq!(
        env.cow_ok(["log", "--format=%s", "main"]),
        "day 5\nday 4\nday 3\nday 2\n"
    );
    assert_eq!(
        env.cow_ok(["log", "--format=%s", "HEAD"]),
        "day 4\nday 3\nday 2\n"
    );
    assert_eq!(env.cow_ok(["log", "--format=%s", "side"]), "day 2\n");
    assert_eq!(env.cow_ok(["log", "--format=%s", "t3"]), "day 3\nday 2\n");
    let status = env.cow_ok(["status"]);
    assert!(status.contains("HEAD detached"), "{status}");
    // Without --branch, a detached HEAD has no branch to thin.
    assert_error(&env.cow(["forget", "--keep-last", "1"]), "HEAD is detached");
}

#[test]
fn bad_policies_are_refused_with_one_error_line() {
    let env = Env::new();
    six_days(&env);
    let main = rev(&env, "main");
    assert_error(&env.cow(["forget"]), "no policy was specified");
    assert_error(
        &env.cow(["forget", "--keep-tag", "nope"]),
        "no tag named 'nope'",
    );
    assert_error(
        &env.cow(["forget", "--keep-last", "1", "--branch", "nope"]),
        "nope not found",
    );
    for bad in [
        &["forget", "--keep-daily", "-1"][..],
        &["forget", "--keep-daily", "x"],
        &["forget", "--keep-within", "7w"],
        &["forget", "--keep-within", "-7d"],
    ] {
        assert_failure(&env.cow(bad), 2, "");
    }
    // --json: the error as a JSON line on stderr, nothing on stdout.
    let out = env.cow(["forget", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let line: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(line["type"], "error");
    assert_eq!(rev(&env, "main"), main);
}

#[test]
fn a_tag_alone_is_a_policy_and_merges_keep_their_other_parents() -> Result {
    let env = Env::new();
    let w = env.work();
    let repo = Repository::init(&w)?;
    let at = |h: i64| Time {
        seconds: 1_700_000_000 + h * 3600,
        offset_minutes: 0,
    };
    let a = commit_at(&repo, at(0), vec![], "a");
    let side = commit_at(&repo, at(1), vec![a], "side");
    let b = commit_at(&repo, at(2), vec![a], "b");
    let merge = commit_at(&repo, at(3), vec![b, side], "merge");
    let c = commit_at(&repo, at(4), vec![merge], "c");
    repo.create_branch("main", Some(c.into()))?;
    repo.create_tag("keep", Some(merge.into()))?;
    let outcome = repo.forget(&ForgetOptions {
        keep_tags: vec!["keep".into()],
        ..ForgetOptions::default()
    })?;
    // The chain is c, merge, b, a (first parents); the tag and the tip stay.
    let kept: Vec<ObjectId> = outcome.kept().map(|s| s.id).collect();
    assert_eq!(kept, [c, merge]);
    let new_merge = repo.odb().find_commit(&repo.resolve_commit("keep")?)?;
    assert_eq!(
        new_merge.parents,
        [side],
        "no older kept snapshot: the side parent stays"
    );
    let new_c = repo.odb().find_commit(&repo.resolve_commit("main")?)?;
    assert_eq!(new_c.parents, [repo.resolve_commit("keep")?]);
    Ok(())
}
