//! `cow log`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::Path;

use cow::Repository;
use cow::object::{Commit, ObjectId, Signature, Time};
use cow::refs::Head;
use cow::repository::WalkOptions;
use serde_json::{Map, Value, json};

use super::diff::{Format, repo_paths};
use super::format::{git_date, iso_date, iso_strict_date, relative_date, rfc2822_date};
use super::json::{insert_bytes, signature};

#[derive(clap::Args)]
pub struct Args {
    /// Where to start (default: HEAD)
    rev: Option<String>,
    /// Show at most N commits (also -N)
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    max_count: Option<usize>,
    /// One line per commit: abbreviated id, decorations and subject
    #[arg(long)]
    oneline: bool,
    /// Start from every branch, tag and remote-tracking branch, and HEAD
    #[arg(long, conflicts_with = "rev")]
    all: bool,
    /// Oldest first (after -n picks the newest N)
    #[arg(long)]
    reverse: bool,
    /// Draw the history as an ASCII graph beside the commits (in git's --topo-order)
    #[arg(long, conflicts_with = "reverse")]
    graph: bool,
    /// Follow only the first parent of merges
    #[arg(long)]
    first_parent: bool,
    /// Only commits whose author (`Name <email>`) matches this regular expression
    #[arg(long, value_name = "PATTERN")]
    author: Option<String>,
    /// Only commits made at or after DATE (`2024-01-31`, `2024-01-31 12:00:00 +0100`,
    /// `@UNIX`, `2 weeks ago`); the walk stops at older ones
    #[arg(long, alias = "after", value_name = "DATE")]
    since: Option<String>,
    /// Only commits made at or before DATE
    #[arg(long, alias = "before", value_name = "DATE")]
    until: Option<String>,
    /// Print each commit as FORMAT: %H %h %T %t %P %p %an %ae %ad %at %cn %ce %cd %ct
    /// %s %b %d %D %n %x00 %%, or oneline, short, medium, full, fuller, reference
    /// (`<id> (<subject>, <date>)`, dated with --date=short unless --date is given)
    #[arg(long = "format", value_name = "FORMAT", conflicts_with = "oneline")]
    user_format: Option<String>,
    /// As --format; `format:` before the string separates commits instead of ending each
    #[arg(long, value_name = "FORMAT", num_args = 0..=1, require_equals = true,
          default_missing_value = "medium", conflicts_with_all = ["oneline", "user_format"])]
    pretty: Option<String>,
    /// How %ad, %cd and the Date line show dates
    #[arg(long, value_name = "FORMAT", default_value = "default", value_parser = [
        "default", "iso", "iso8601", "iso-strict", "iso8601-strict", "rfc", "rfc2822", "unix",
        "relative", "short", "raw"])]
    date: String,
    /// Show the refs pointing at each commit: short, no, or auto (on a terminal)
    #[arg(long, value_name = "WHEN", num_args = 0..=1, require_equals = true,
          default_missing_value = "short", default_value = "auto",
          value_parser = ["short", "no", "auto"])]
    decorate: String,
    /// Do not show the refs pointing at each commit
    #[arg(long)]
    no_decorate: bool,
    /// End each commit with NUL instead of a newline; with --name-only, --name-status
    /// or --numstat, end each field with NUL and do not quote paths
    #[arg(short, conflicts_with = "graph")]
    z: bool,
    /// One JSON object per commit (JSON Lines)
    #[arg(long, conflicts_with_all = ["oneline", "user_format", "pretty", "patch", "name_only",
          "name_status", "stat", "numstat"])]
    json: bool,
    /// Show each commit's patch
    #[arg(short = 'p', long = "patch")]
    patch: bool,
    /// Show a merge's changes against all its parents at once, as `show` does (a
    /// combined patch; --stat against the first parent)
    #[arg(long = "cc", hide = true)]
    cc: bool,
    #[command(flatten)]
    diff_format: Format,
    /// Only commits that changed these paths
    #[arg(last = true)]
    paths: Vec<OsString>,
}

/// How each commit is printed.
enum Pretty {
    /// The id (abbreviated with `--oneline`) and the subject.
    Oneline(bool),
    Short,
    Medium,
    Full,
    Fuller,
    /// A user format; `true` when it ends each commit (tformat), `false` when it
    /// separates them (format:).
    User(String, bool),
}

impl Pretty {
    fn parse(spec: &str) -> anyhow::Result<Pretty> {
        if let Some(rest) = spec.strip_prefix("format:") {
            return Ok(Pretty::User(rest.into(), false));
        }
        if let Some(rest) = spec.strip_prefix("tformat:") {
            return Ok(Pretty::User(rest.into(), true));
        }
        Ok(match spec {
            "oneline" => Pretty::Oneline(false),
            "short" => Pretty::Short,
            "medium" => Pretty::Medium,
            "full" => Pretty::Full,
            "fuller" => Pretty::Fuller,
            // git's reference format: one line with the date (short unless --date).
            "reference" => Pretty::User(REFERENCE.into(), true),
            _ if spec.contains('%') => Pretty::User(spec.into(), true),
            _ => anyhow::bail!("invalid --pretty format: {spec}"),
        })
    }
}

/// git's `--pretty=reference`, without its colours.
const REFERENCE: &str = "%h (%s, %ad)";

/// Refs by the commit they point at: full names, and `HEAD`.
type RefMap = HashMap<ObjectId, Vec<String>>;

/// What every printed commit needs besides itself.
struct Context<'a> {
    repo: &'a Repository,
    /// Refs by the commit they point at, in git's decoration order (full names, `HEAD`).
    refs: RefMap,
    head_branch: Option<String>,
    date: &'a str,
    now: i64,
    /// What ends a commit (`-z`: NUL instead of a newline).
    end: &'static [u8],
}

impl Context<'_> {
    fn short(&self, id: &ObjectId) -> anyhow::Result<String> {
        Ok(self.repo.odb().shortest_unique_prefix(id, 7)?)
    }

    fn date(&self, time: Time) -> String {
        match self.date {
            "iso" | "iso8601" => iso_date(time),
            "iso-strict" | "iso8601-strict" => iso_strict_date(time),
            "rfc" | "rfc2822" => rfc2822_date(time),
            "unix" => time.seconds.to_string(),
            "raw" => time.to_string(),
            "short" => iso_date(time)[..10].to_owned(),
            "relative" => relative_date(time.seconds, self.now),
            _ => git_date(time),
        }
    }

    /// The refs at `id` as git decorates them: `HEAD -> main, tag: v1, other`.
    fn decorations(&self, id: &ObjectId) -> Option<String> {
        let names = self.refs.get(id)?;
        let current = self
            .head_branch
            .as_ref()
            .filter(|b| names.iter().any(|n| n == "HEAD") && names.contains(b));
        let mut parts = Vec::new();
        for name in names {
            if Some(name) == current {
                continue;
            }
            parts.push(match (name.as_str(), current) {
                ("HEAD", Some(branch)) => format!("HEAD -> {}", pretty_ref(branch)),
                (name, _) => match name.strip_prefix("refs/tags/") {
                    Some(tag) => format!("tag: {tag}"),
                    None => pretty_ref(name).to_owned(),
                },
            });
        }
        Some(parts.join(", "))
    }
}

/// A ref's name as git shows it in decorations.
fn pretty_ref(name: &str) -> &str {
    ["refs/heads/", "refs/remotes/"]
        .iter()
        .find_map(|p| name.strip_prefix(p))
        .unwrap_or(name)
}

/// `cow log` given its arguments as words (`show` of a commit is `log -n 1 -p REV`).
pub fn run_words(
    repo: &Repository,
    cwd: &Path,
    words: &[String],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    #[derive(clap::Parser)]
    #[command(no_binary_name = true)]
    struct Words {
        #[command(flatten)]
        args: Args,
    }
    let words = <Words as clap::Parser>::try_parse_from(words)?;
    run(repo, cwd, &words.args, out)
}

pub fn run(repo: &Repository, cwd: &Path, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    super::json::errors_as_json(args.json, || run_inner(repo, cwd, args, out))
}

fn run_inner(
    repo: &Repository,
    cwd: &Path,
    args: &Args,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut walk = WalkOptions {
        first_parent: args.first_parent,
        ..Default::default()
    };
    let now = Time::now().seconds;
    if let Some(since) = &args.since {
        walk.since = Some(parse_date(since, now)?);
    }
    if let Some(until) = &args.until {
        walk.until = Some(parse_date(until, now)?);
    }
    let author = match &args.author {
        Some(p) => Some(regex::Regex::new(p).map_err(|e| {
            anyhow::anyhow!(
                "--author: invalid pattern '{p}': {}",
                one_line(&e.to_string())
            )
        })?),
        None => None,
    };
    let pretty = match args.user_format.as_deref().or(args.pretty.as_deref()) {
        Some(spec) => Pretty::parse(spec)?,
        None if args.oneline => Pretty::Oneline(true),
        None => Pretty::Medium,
    };
    let decorate = !args.no_decorate
        && match args.decorate.as_str() {
            "no" => false,
            "auto" => std::io::stdout().is_terminal(),
            _ => true,
        };
    // As in git, the reference format dates with --date=short unless --date says
    // otherwise (an explicit --date=default included, which clap cannot tell apart).
    let reference = args.user_format.as_deref().or(args.pretty.as_deref()) == Some("reference");
    let date = match reference && args.date == "default" {
        true => "short",
        false => args.date.as_str(),
    };
    let (refs, head_branch) = ref_map(repo)?;
    let ctx = Context {
        repo,
        refs,
        head_branch,
        date,
        now,
        end: if args.z { b"\0" } else { b"\n" },
    };

    let starts = if args.all {
        let mut starts: Vec<ObjectId> = repo
            .refs()
            .list("refs/")?
            .into_iter()
            .map(|r| r.1)
            .collect();
        starts.extend(repo.head_commit()?);
        starts
    } else {
        vec![repo.resolve_commit(args.rev.as_deref().unwrap_or("HEAD"))?]
    };
    let paths = repo_paths(repo, cwd, &args.paths)?;
    let show_diff = args.patch || args.diff_format.any();
    let options = args.diff_format.options(paths.clone())?;
    let limit = args.max_count.unwrap_or(usize::MAX);

    // The commits to show, streamed as the walk finds them (collected only to reverse).
    let keep = |entry: cow::repository::Result<(ObjectId, Commit)>| {
        let (id, commit) = match entry {
            Ok(entry) => entry,
            Err(e) => return Some(Err(anyhow::Error::from(e))),
        };
        if let Some(author) = &author
            && !author.is_match(&commit.author.to_string())
        {
            return None;
        }
        if !paths.is_empty() {
            match repo.commit_touches(&commit, &paths) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return Some(Err(e.into())),
            }
        }
        Some(Ok((id, commit)))
    };
    if args.graph && !paths.is_empty() {
        anyhow::bail!("--graph with paths is not supported yet");
    }
    let selected = repo.walk(&starts, &walk)?.filter_map(keep).take(limit);
    let commits: Box<dyn Iterator<Item = anyhow::Result<(ObjectId, Commit)>>> = if args.graph {
        let all = repo
            .walk(&starts, &walk)?
            .filter_map(keep)
            .collect::<anyhow::Result<Vec<_>>>()?;
        Box::new(
            topo_order(all, args.first_parent)
                .into_iter()
                .take(limit)
                .map(Ok),
        )
    } else if args.reverse {
        let mut all = selected.collect::<anyhow::Result<Vec<_>>>()?;
        all.reverse();
        Box::new(all.into_iter().map(Ok))
    } else {
        Box::new(selected)
    };

    let mut graph = args.graph.then(super::graph::Graph::new);
    // git warns once, after the walk, with the largest limit any commit needed.
    let mut rename_limit_needed = None;
    for (shown, entry) in commits.enumerate() {
        let (id, commit) = entry?;
        let (id, commit) = (&id, &commit);
        if args.json {
            let mut record = commit_json(&ctx, id, commit);
            if shown == 0 {
                record.insert("schema".into(), 1.into());
            }
            writeln!(out, "{}", Value::Object(record))?;
            continue;
        }
        let decorations = decorate.then(|| ctx.decorations(id)).flatten();
        let Some(graph) = graph.as_mut() else {
            write_pretty(
                &ctx,
                &pretty,
                shown,
                id,
                commit,
                decorations.as_deref(),
                out,
            )?;
            if show_diff {
                let needed = write_diff(repo, args, &pretty, &options, commit, out)?;
                rename_limit_needed = rename_limit_needed.max(needed);
            }
            continue;
        };
        // With --graph, each line the commit prints gets the graph's next line before it.
        let mut buf = Vec::new();
        write_pretty(
            &ctx,
            &pretty,
            0,
            id,
            commit,
            decorations.as_deref(),
            &mut buf,
        )?;
        if show_diff {
            let needed = write_diff(repo, args, &pretty, &options, commit, &mut buf)?;
            rename_limit_needed = rename_limit_needed.max(needed);
        }
        let parents = &commit.parents[..if args.first_parent {
            commit.parents.len().min(1)
        } else {
            commit.parents.len()
        }];
        graph.update(*id, parents);
        if shown > 0 {
            match pretty {
                Pretty::Oneline(_) | Pretty::User(_, true) => {}
                Pretty::User(_, false) => writeln!(out)?,
                _ => writeln!(out, "{}", graph.padding_line())?,
            }
        }
        // The rows before the commit's own (room for an octopus merge) stand alone.
        loop {
            let (row, commit_row) = graph.next_line();
            out.write_all(row.as_bytes())?;
            if commit_row {
                break;
            }
            writeln!(out)?;
        }
        let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                writeln!(out)?;
                out.write_all(graph.next_line().0.as_bytes())?;
            }
            out.write_all(line)?;
        }
        while !graph.is_finished() {
            write!(out, "\n{}", graph.next_line().0)?;
        }
        if buf.ends_with(b"\n") {
            writeln!(out)?;
        }
    }
    super::diff::Format::warn_rename_limit(rename_limit_needed, false, out)?;
    Ok(())
}

/// The changes a commit made, in the diff formats asked for; returns the rename limit
/// the commit would have needed, if it was too small.
fn write_diff(
    repo: &Repository,
    args: &Args,
    pretty: &Pretty,
    options: &cow::diff::DiffOptions,
    commit: &Commit,
    out: &mut dyn Write,
) -> anyhow::Result<Option<usize>> {
    if commit.parents.len() > 1 {
        // git shows no changes for a merge unless asked how (-m, --cc).
        if !args.cc {
            return Ok(None);
        }
        // After the message, a blank line whatever the format, as git's combined diff.
        writeln!(out)?;
        return args.diff_format.write_merge(repo, commit, options, out);
    }
    let parent = match commit.parents.first() {
        Some(p) => Some(repo.odb().find_commit(p)?.tree),
        None => None,
    };
    let diff = repo.diff_trees(parent, Some(commit.tree), options)?;
    if !matches!(pretty, Pretty::Oneline(_) | Pretty::User(..))
        || (args.z && matches!(pretty, Pretty::User(..)))
    {
        writeln!(out)?;
    }
    if args.z {
        args.diff_format.write_nul(&diff, out)?;
    } else {
        args.diff_format.write(&diff, out)?;
    }
    if args.patch && args.diff_format.any() {
        // `-p` with a summary format: the summary, then the patch, as git.
        writeln!(out)?;
        args.diff_format.write_patch(&diff, out)?;
    }
    Ok(diff.rename_limit_needed)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Commits in git's `--topo-order`: no parent before its children, and each line of
/// history shown as a run (a stack of commits whose children are all shown).
fn topo_order(commits: Vec<(ObjectId, Commit)>, first_parent: bool) -> Vec<(ObjectId, Commit)> {
    let parents = |c: &Commit| -> Vec<ObjectId> {
        let n = if first_parent {
            c.parents.len().min(1)
        } else {
            c.parents.len()
        };
        c.parents[..n].to_vec()
    };
    let mut indegree: HashMap<ObjectId, usize> = commits.iter().map(|(id, _)| (*id, 0)).collect();
    for (_, commit) in &commits {
        for p in parents(commit) {
            if let Some(n) = indegree.get_mut(&p) {
                *n += 1;
            }
        }
    }
    let mut by_id: HashMap<ObjectId, Commit> = HashMap::new();
    let mut stack: Vec<ObjectId> = Vec::new();
    for (id, commit) in commits {
        if indegree[&id] == 0 {
            stack.push(id);
        }
        by_id.insert(id, commit);
    }
    // The first tip is taken first.
    stack.reverse();
    let mut out = Vec::with_capacity(by_id.len());
    while let Some(id) = stack.pop() {
        let Some(commit) = by_id.remove(&id) else {
            continue;
        };
        for p in parents(&commit) {
            if let Some(n) = indegree.get_mut(&p) {
                *n -= 1;
                if *n == 0 {
                    stack.push(p);
                }
            }
        }
        out.push((id, commit));
    }
    out
}

/// Every ref by the commit it points at, in the order git decorates a commit with them
/// (refs by name, newest added first, HEAD first), and the branch HEAD is on.
fn ref_map(repo: &Repository) -> anyhow::Result<(RefMap, Option<String>)> {
    let mut refs: HashMap<ObjectId, Vec<String>> = HashMap::new();
    for (name, id) in repo.refs().list("refs/")? {
        refs.entry(id)
            .or_default()
            .insert(0, name.as_str().to_owned());
    }
    let head_branch = match repo.head()? {
        Head::Branch(name) => Some(name.as_str().to_owned()),
        Head::Detached(_) => None,
    };
    if let Some(id) = repo.head_commit()? {
        refs.entry(id).or_default().insert(0, "HEAD".into());
    }
    Ok((refs, head_branch))
}

/// git's subject (the first paragraph, its lines joined by spaces) and body (what
/// follows the blank lines after it).
fn subject_and_body(message: &[u8]) -> (String, &[u8]) {
    /// Where the first line of `rest` ends (after its newline), and whether it is blank.
    fn first_line(rest: &[u8]) -> (usize, bool) {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        (end, rest[..end].iter().all(u8::is_ascii_whitespace))
    }
    fn skip_blank(mut rest: &[u8]) -> &[u8] {
        while !rest.is_empty() {
            let (end, blank) = first_line(rest);
            if !blank {
                break;
            }
            rest = &rest[end..];
        }
        rest
    }
    let mut rest = skip_blank(message);
    let mut lines = Vec::new();
    while !rest.is_empty() {
        let (end, blank) = first_line(rest);
        let line = &rest[..end];
        rest = &rest[end..];
        if blank {
            break;
        }
        lines.push(String::from_utf8_lossy(line.trim_ascii_end()).into_owned());
    }
    (lines.join(" "), skip_blank(rest))
}

fn write_pretty(
    ctx: &Context<'_>,
    pretty: &Pretty,
    shown: usize,
    id: &ObjectId,
    commit: &Commit,
    decorations: Option<&str>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let deco = |d: Option<&str>| d.map(|d| format!(" ({d})")).unwrap_or_default();
    match pretty {
        Pretty::Oneline(abbrev) => {
            let (subject, _) = subject_and_body(&commit.message);
            let id = if *abbrev {
                ctx.short(id)?
            } else {
                id.to_string()
            };
            write!(out, "{id}{} {subject}", deco(decorations))?;
            out.write_all(ctx.end)?;
        }
        Pretty::User(format, terminator) => {
            if shown > 0 && !terminator {
                out.write_all(ctx.end)?;
            }
            out.write_all(&expand(ctx, format, id, commit)?)?;
            if *terminator {
                out.write_all(ctx.end)?;
            }
        }
        Pretty::Short | Pretty::Medium | Pretty::Full | Pretty::Fuller => {
            if shown > 0 {
                out.write_all(ctx.end)?;
            }
            writeln!(out, "commit {id}{}", deco(decorations))?;
            if commit.parents.len() > 1 {
                let short = commit
                    .parents
                    .iter()
                    .map(|p| ctx.short(p))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                writeln!(out, "Merge: {}", short.join(" "))?;
            }
            match pretty {
                Pretty::Short => writeln!(out, "Author: {}", commit.author)?,
                Pretty::Medium => {
                    writeln!(out, "Author: {}", commit.author)?;
                    writeln!(out, "Date:   {}", ctx.date(commit.author.time))?;
                }
                Pretty::Full => {
                    writeln!(out, "Author: {}", commit.author)?;
                    writeln!(out, "Commit: {}", commit.committer)?;
                }
                _ => {
                    writeln!(out, "Author:     {}", commit.author)?;
                    writeln!(out, "AuthorDate: {}", ctx.date(commit.author.time))?;
                    writeln!(out, "Commit:     {}", commit.committer)?;
                    writeln!(out, "CommitDate: {}", ctx.date(commit.committer.time))?;
                }
            }
            write_message(commit, matches!(pretty, Pretty::Short), out)?;
        }
    }
    Ok(())
}

/// The message indented by four spaces after a blank line, as git's built-in formats
/// show it: leading blank lines and trailing whitespace dropped; `short` shows only
/// the subject's paragraph.
fn write_message(commit: &Commit, short: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(out)?;
    let message = String::from_utf8_lossy(&commit.message);
    let mut started = false;
    for line in message.trim_end_matches('\n').split('\n') {
        let line = line.trim_end();
        if line.is_empty() {
            if !started {
                continue;
            }
            if short {
                break;
            }
        }
        started = true;
        writeln!(out, "    {line}")?;
    }
    Ok(())
}

/// A user format with the commit's fields put in.
fn expand(
    ctx: &Context<'_>,
    format: &str,
    id: &ObjectId,
    commit: &Commit,
) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = format;
    let hex = |ids: &[ObjectId]| {
        ids.iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let short = |ids: &[ObjectId]| -> anyhow::Result<String> {
        Ok(ids
            .iter()
            .map(|p| ctx.short(p))
            .collect::<anyhow::Result<Vec<_>>>()?
            .join(" "))
    };
    while let Some(at) = rest.find('%') {
        out.extend_from_slice(&rest.as_bytes()[..at]);
        rest = &rest[at + 1..];
        let two = rest.get(..2).unwrap_or("");
        let one = rest.get(..1).unwrap_or("");
        let sig = |s: &Signature, what: &str| -> Option<Vec<u8>> {
            Some(match what {
                "n" => s.name.clone(),
                "e" => s.email.clone(),
                "d" => ctx.date(s.time).into_bytes(),
                "t" => s.time.seconds.to_string().into_bytes(),
                "i" => iso_date(s.time).into_bytes(),
                "I" => iso_strict_date(s.time).into_bytes(),
                "r" => relative_date(s.time.seconds, ctx.now).into_bytes(),
                "D" => rfc2822_date(s.time).into_bytes(),
                _ => return None,
            })
        };
        let (value, used): (Option<Vec<u8>>, usize) = match one {
            "H" => (Some(id.to_string().into_bytes()), 1),
            "h" => (Some(ctx.short(id)?.into_bytes()), 1),
            "T" => (Some(commit.tree.to_string().into_bytes()), 1),
            "t" => (Some(ctx.short(&commit.tree)?.into_bytes()), 1),
            "P" => (Some(hex(&commit.parents).into_bytes()), 1),
            "p" => (Some(short(&commit.parents)?.into_bytes()), 1),
            "s" => (Some(subject_and_body(&commit.message).0.into_bytes()), 1),
            "b" => (Some(subject_and_body(&commit.message).1.to_vec()), 1),
            "B" => (Some(commit.message.clone()), 1),
            "n" => (Some(b"\n".to_vec()), 1),
            "%" => (Some(b"%".to_vec()), 1),
            "d" => (
                Some(
                    ctx.decorations(id)
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                        .into_bytes(),
                ),
                1,
            ),
            "D" => (
                Some(ctx.decorations(id).unwrap_or_default().into_bytes()),
                1,
            ),
            "a" if two.len() == 2 => (sig(&commit.author, &two[1..]), 2),
            "c" if two.len() == 2 => (sig(&commit.committer, &two[1..]), 2),
            "x" => match rest.get(1..3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(byte) => (Some(vec![byte]), 3),
                None => (None, 0),
            },
            _ => (None, 0),
        };
        match value {
            Some(v) => {
                out.extend_from_slice(&v);
                rest = &rest[used..];
            }
            // Unknown placeholders are printed as they are, as git does.
            None => out.push(b'%'),
        }
    }
    out.extend_from_slice(rest.as_bytes());
    Ok(out)
}

/// One `log --json` record.
fn commit_json(ctx: &Context<'_>, id: &ObjectId, commit: &Commit) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("type".into(), "commit".into());
    fields.insert("id".into(), id.to_string().into());
    fields.insert("tree".into(), commit.tree.to_string().into());
    fields.insert(
        "parents".into(),
        commit
            .parents
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .into(),
    );
    fields.insert("author".into(), signature(&commit.author));
    fields.insert("committer".into(), signature(&commit.committer));
    insert_bytes(&mut fields, "message", "message_b64", &commit.message);
    fields.insert("summary".into(), subject_and_body(&commit.message).0.into());
    let refs = ctx.refs.get(id).cloned().unwrap_or_default();
    fields.insert("refs".into(), json!(refs));
    fields.insert("head".into(), json!(refs.iter().any(|r| r == "HEAD")));
    fields
}

/// A date given on the command line (see [`cow::object::date::parse_user_date`]).
fn parse_date(text: &str, now: i64) -> anyhow::Result<i64> {
    let now = cow::object::Time {
        seconds: now,
        offset_minutes: 0,
    };
    cow::object::date::parse_user_date(text, now)
        .map(|t| t.seconds)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "'{text}' is not a date (use YYYY-MM-DD, YYYY-MM-DD HH:MM:SS [+hhmm], @UNIX, 'yesterday' or 'N days ago')"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_bodies_as_git_splits_them() {
        let (s, b) = subject_and_body(b"\n\nfirst\nsecond  \n\n\nbody\n\nmore\n");
        assert_eq!(s, "first second");
        assert_eq!(b, b"body\n\nmore\n");
        let (s, b) = subject_and_body(b"only\n");
        assert_eq!((s.as_str(), b), ("only", &b""[..]));
    }
}
