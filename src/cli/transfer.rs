//! `cow push`, `cow fetch`, `cow pull` and `cow clone`.
//!
//! What moved is reported on stderr as git does (`To URL`, `old..new  main -> main`);
//! with `--json`, one summary document goes to stdout instead.

use std::io::Write;
use std::path::{Path, PathBuf};

use cow::Repository;
use cow::remote::{S3Options, Transfer};
use cow::repository::{
    CheckoutOptions, CloneOptions, FetchOptions, FetchOutcome, PushOptions, RefChange,
};

use super::progress::Reporter;

/// What the transfer commands print: progress, and JSON or not.
#[derive(clap::Args)]
pub struct OutputArgs {
    /// Show progress even when stderr is not a terminal
    #[arg(long, overrides_with = "no_progress")]
    progress: bool,
    /// Show no progress
    #[arg(long, short = 'q', alias = "quiet")]
    no_progress: bool,
    /// Print a JSON summary on stdout
    #[arg(long)]
    pub json: bool,
}

/// Progress on stderr, as `args` asks (see [`Reporter`]).
fn shown(op: &'static str, args: &OutputArgs) -> Reporter {
    Reporter::new(op, args.progress, args.no_progress, args.json)
}

#[derive(clap::Args)]
pub struct PushArgs {
    /// The remote's name or URL (default: origin)
    remote: Option<String>,
    /// Branches to push (default: the current branch)
    branches: Vec<String>,
    /// Push every branch
    #[arg(long)]
    all: bool,
    /// Push every tag too
    #[arg(long)]
    tags: bool,
    /// Move the remote's branches even where that drops commits
    #[arg(short, long)]
    force: bool,
    /// Delete the named branches on the remote
    #[arg(short, long, conflicts_with_all = ["all", "tags", "force"])]
    delete: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args)]
pub struct FetchArgs {
    /// The remote's name or URL (default: origin)
    remote: Option<String>,
    /// Delete remote-tracking branches whose branch the remote no longer has
    #[arg(short, long)]
    prune: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args)]
pub struct PullArgs {
    /// The remote's name or URL (default: origin)
    remote: Option<String>,
    /// Discard local changes the fast-forward would overwrite
    #[arg(short, long)]
    force: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(clap::Args)]
pub struct CloneArgs {
    /// What to clone: a path, file:///path or s3://bucket/prefix
    url: String,
    /// Where (default: the last part of the URL)
    dir: Option<PathBuf>,
    /// The S3-compatible service's URL (such as http://127.0.0.1:8333)
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// The S3 region
    #[arg(long)]
    region: Option<String>,
    /// Address the bucket in the path rather than the host name
    #[arg(long)]
    path_style: bool,
    /// Allow a service that ignores conditional writes (one writer at a time only)
    #[arg(long)]
    single_writer: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

const DEFAULT_REMOTE: &str = "origin";

/// The remote a command names: a configured remote as it is, else a URL, with a
/// relative path taken from `cwd` (which `-C` moves; the process does not).
fn remote_arg(repo: &Repository, cwd: &Path, arg: Option<&str>) -> String {
    let arg = arg.unwrap_or(DEFAULT_REMOTE);
    if repo.remote(arg).is_ok() || arg.contains("://") || Path::new(arg).is_absolute() {
        return arg.to_owned();
    }
    let path = cwd.join(arg);
    if arg.contains('/') || path.is_dir() {
        return path.to_string_lossy().into_owned();
    }
    arg.to_owned()
}

fn short(id: Option<cow::ObjectId>) -> String {
    id.map_or_else(|| "0000000".into(), |id| id.to_string()[..7].to_owned())
}

fn hex(id: Option<cow::ObjectId>) -> serde_json::Value {
    id.map_or(serde_json::Value::Null, |id| id.to_string().into())
}

fn changes_json(changes: &[RefChange]) -> serde_json::Value {
    changes
        .iter()
        .map(|c| {
            serde_json::json!({
                "ref": c.name, "old": hex(c.old), "new": hex(c.new), "forced": c.forced,
            })
        })
        .collect()
}

fn transfer_json(t: &Transfer) -> serde_json::Value {
    serde_json::json!({
        "objects": t.objects, "bytes": t.bytes, "packs": t.packs,
        "reused_packs": t.reused_packs, "requests": t.requests,
    })
}

/// git's line for one ref change: `   a..b  main -> main`, `+ a...b` (forced), or
/// ` * [new branch]`.
fn change_line(change: &RefChange, from: &str, to: &str) -> String {
    if change.new.is_none() {
        return match from {
            "(none)" => format!(" - [deleted]         (none) -> {to}"),
            _ => format!(" - [deleted]         {to}"),
        };
    }
    match change.old {
        None if to.starts_with("refs/tags/") || from.starts_with("refs/tags/") => {
            format!(" * [new tag]         {from} -> {to}")
        }
        None => format!(" * [new branch]      {from} -> {to}"),
        Some(_) if change.forced => format!(
            " + {}...{} {from} -> {to} (forced update)",
            short(change.old),
            short(change.new)
        ),
        Some(_) => format!(
            "   {}..{}  {from} -> {to}",
            short(change.old),
            short(change.new)
        ),
    }
}

fn shorten(name: &str) -> &str {
    name.strip_prefix("refs/heads/")
        .or_else(|| name.strip_prefix("refs/tags/"))
        .or_else(|| name.strip_prefix("refs/remotes/"))
        .unwrap_or(name)
}

pub fn push(
    repo: &Repository,
    cwd: &Path,
    args: &PushArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let remote = &remote_arg(repo, cwd, args.remote.as_deref());
    let shown = shown("push", &args.output);
    let outcome = repo.push(
        remote,
        &PushOptions {
            branches: args.branches.clone(),
            all: args.all,
            tags: args.tags,
            force: args.force,
            delete: args.delete,
        },
        &shown,
    );
    shown.done();
    let outcome = outcome?;
    if args.output.json {
        let doc = serde_json::json!({
            "type": "push", "schema": 1, "url": outcome.url,
            "updated": changes_json(&outcome.updated),
            "up_to_date": outcome.up_to_date,
            "transfer": transfer_json(&outcome.transfer),
        });
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    let mut err = std::io::stderr().lock();
    if outcome.updated.is_empty() {
        writeln!(err, "Everything up-to-date")?;
        return Ok(());
    }
    writeln!(err, "To {}", outcome.url)?;
    for change in &outcome.updated {
        let name = shorten(&change.name);
        writeln!(err, "{}", change_line(change, name, name))?;
    }
    Ok(())
}

fn report_fetch(outcome: &FetchOutcome, err: &mut dyn Write) -> std::io::Result<()> {
    for warning in &outcome.warnings {
        super::json::warn(false, warning);
    }
    if outcome.updated.is_empty() {
        return Ok(());
    }
    writeln!(err, "From {}", outcome.url)?;
    for change in &outcome.updated {
        let to = shorten(&change.name);
        let from = to.split_once('/').map_or(to, |(_, b)| b);
        let from = if change.name.starts_with("refs/tags/") {
            to
        } else if change.new.is_none() {
            "(none)"
        } else {
            from
        };
        writeln!(err, "{}", change_line(change, from, to))?;
    }
    Ok(())
}

fn fetch_json(outcome: &FetchOutcome) -> serde_json::Value {
    for warning in &outcome.warnings {
        super::json::warn(true, warning);
    }
    serde_json::json!({
        "url": outcome.url,
        "updated": changes_json(&outcome.updated),
        "remote_head": outcome.remote_head,
        "transfer": transfer_json(&outcome.transfer),
    })
}

pub fn fetch(
    repo: &Repository,
    cwd: &Path,
    args: &FetchArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let remote = &remote_arg(repo, cwd, args.remote.as_deref());
    let shown = shown("fetch", &args.output);
    let options = FetchOptions { prune: args.prune };
    let outcome = repo.fetch(remote, &options, &shown);
    shown.done();
    let outcome = outcome?;
    if args.output.json {
        let mut doc = fetch_json(&outcome);
        doc["type"] = "fetch".into();
        doc["schema"] = 1.into();
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    report_fetch(&outcome, &mut std::io::stderr().lock())?;
    Ok(())
}

pub fn pull(
    repo: &Repository,
    cwd: &Path,
    args: &PullArgs,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let remote = &remote_arg(repo, cwd, args.remote.as_deref());
    let shown = shown("pull", &args.output);
    let options = CheckoutOptions {
        force: args.force,
        progress: Some(&shown),
        ..CheckoutOptions::default()
    };
    let outcome = repo.pull(remote, &options, &shown);
    shown.done();
    let outcome = outcome?;
    if args.output.json {
        let doc = serde_json::json!({
            "type": "pull", "schema": 1, "branch": outcome.branch,
            "old": hex(outcome.old), "new": outcome.new.to_string(),
            "fetch": fetch_json(&outcome.fetch),
        });
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    let mut err = std::io::stderr().lock();
    report_fetch(&outcome.fetch, &mut err)?;
    if outcome.old == Some(outcome.new) {
        writeln!(err, "Already up to date.")?;
    } else {
        writeln!(
            err,
            "Updating {}..{}\nFast-forward",
            short(outcome.old),
            short(Some(outcome.new))
        )?;
    }
    Ok(())
}

/// The directory a clone makes by default: the URL's last component.
fn default_dir(url: &str) -> PathBuf {
    let last = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(url)
        .trim_start_matches("s3:");
    PathBuf::from(if last.is_empty() { "repository" } else { last })
}

pub fn clone(cwd: &Path, args: &CloneArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let dir = cwd.join(args.dir.clone().unwrap_or_else(|| default_dir(&args.url)));
    let url = match args.url.starts_with("s3://") || args.url.contains("://") {
        true => args.url.clone(),
        false => cwd.join(&args.url).to_string_lossy().into_owned(),
    };
    let options = CloneOptions {
        s3: S3Options {
            endpoint: args.endpoint.clone(),
            region: args.region.clone(),
            path_style: args.path_style,
            ..S3Options::default()
        },
        single_writer: args.single_writer,
    };
    if !args.output.json {
        writeln!(std::io::stderr(), "Cloning into '{}'...", dir.display())?;
    }
    let shown = shown("clone", &args.output);
    let outcome = Repository::clone_from(&url, &dir, &options, &shown);
    shown.done();
    let outcome = outcome?;
    if args.output.json {
        let mut fetch = fetch_json(&outcome.fetch);
        fetch["type"] = "clone".into();
        fetch["schema"] = 1.into();
        fetch["dir"] = dir.to_string_lossy().into_owned().into();
        fetch["branch"] = outcome.branch.clone().into();
        writeln!(out, "{fetch}")?;
    }
    if outcome.branch.is_none() {
        super::json::warn(
            args.output.json,
            "you appear to have cloned an empty repository",
        );
    }
    Ok(())
}
