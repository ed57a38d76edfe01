//! `cow remote`: list, add, remove and show remotes.

use std::io::Write;
use std::path::Path;

use cow::Repository;
use cow::remote::{Spec, Url};
use cow::repository::{AddRemote, RefInfo};

use super::json::{Json, errors_as_json};

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(flatten)]
    list: ListArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Args)]
struct ListArgs {
    /// Show each remote's URL after its name, as `NAME\tURL (fetch)` and `(push)` lines
    #[arg(short, long)]
    verbose: bool,
    /// Print one JSON document (see docs/json.md)
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand)]
enum Command {
    /// List remotes, one name a line (the default)
    List(ListArgs),
    /// Add a remote; an object store is probed first for the conditional writes pushes need
    Add(AddArgs),
    /// Remove a remote, its settings and its remote-tracking branches
    #[command(alias = "rm")]
    Remove(RemoveArgs),
    /// Show a remote's URL, settings and remote-tracking branches
    Show(ShowArgs),
}

#[derive(clap::Args)]
struct AddArgs {
    /// The endpoint of an S3-compatible service (default: AWS_ENDPOINT_URL, else AWS S3)
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// The object store's region (default: AWS_REGION or AWS_DEFAULT_REGION)
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// Address the bucket in the path (ENDPOINT/BUCKET/KEY), as most self-hosted services need
    #[arg(long)]
    path_style: bool,
    /// Accept a service that ignores conditional writes: one machine at a time pushes here
    #[arg(long)]
    single_writer: bool,
    /// The remote's name
    name: String,
    /// A path, file:///path, or s3://BUCKET/PREFIX
    url: String,
}

#[derive(clap::Args)]
struct RemoveArgs {
    /// The remote to remove
    name: String,
}

#[derive(clap::Args)]
struct ShowArgs {
    /// Print one JSON document (see docs/json.md)
    #[arg(long)]
    json: bool,
    /// The remote to show
    name: String,
}

/// Runs `cow remote`; `repo` finds the repository (in `--json` mode, its failure is a
/// JSON error too).
pub fn run(
    repo: impl FnOnce() -> anyhow::Result<Repository>,
    cwd: &Path,
    args: &Args,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let json = match &args.command {
        None => args.list.json,
        Some(Command::List(list_args)) => list_args.json,
        Some(Command::Show(show_args)) => show_args.json,
        Some(Command::Add(_) | Command::Remove(_)) => false,
    };
    errors_as_json(json, || {
        let repo = repo()?;
        match &args.command {
            None => list(&repo, &args.list, out),
            Some(Command::List(list_args)) => list(&repo, list_args, out),
            Some(Command::Add(add)) => {
                let options = AddRemote {
                    s3: cow::remote::S3Options {
                        endpoint: add.endpoint.clone(),
                        region: add.region.clone(),
                        path_style: add.path_style,
                        ..Default::default()
                    },
                    single_writer: add.single_writer,
                    base_dir: Some(cwd.to_owned()),
                };
                repo.add_remote(&add.name, &add.url, options)?;
                Ok(())
            }
            Some(Command::Remove(remove)) => {
                repo.remove_remote(&remove.name)?;
                Ok(())
            }
            Some(Command::Show(show_args)) => {
                let spec = repo.remote(&show_args.name)?;
                let branches = repo.remote_branches(&show_args.name)?;
                if show_args.json {
                    writeln!(out, "{}", show_json(&spec, &branches))?;
                } else {
                    show(&spec, &branches, out)?;
                }
                Ok(())
            }
        }
    })
}

fn list(repo: &Repository, args: &ListArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let remotes = repo.remotes()?;
    if args.json {
        let items = remotes
            .iter()
            .map(|spec| Json::record("remote", remote_fields(spec)));
        let doc = Json::document("remotes", vec![("remotes", Json::Array(items.collect()))]);
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    for spec in &remotes {
        if args.verbose {
            let url = url_text(&spec.url);
            writeln!(out, "{}\t{url} (fetch)", spec.name)?;
            writeln!(out, "{}\t{url} (push)", spec.name)?;
        } else {
            writeln!(out, "{}", spec.name)?;
        }
    }
    Ok(())
}

/// `* remote NAME`, its URLs, the settings that are set, and its remote-tracking
/// branches with short ids; never the secret key.
fn show(spec: &Spec, branches: &[RefInfo], out: &mut dyn Write) -> anyhow::Result<()> {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    writeln!(out, "* remote {}", spec.name)?;
    let url = url_text(&spec.url);
    writeln!(out, "  Fetch URL: {url}")?;
    writeln!(out, "  Push  URL: {url}")?;
    if let Url::S3(_) = spec.url {
        let s3 = &spec.s3;
        let or_env = |value: &Option<String>, var: &str| {
            value
                .clone()
                .unwrap_or_else(|| format!("(from {var} when set)"))
        };
        writeln!(
            out,
            "  Endpoint: {}",
            or_env(&s3.endpoint, "AWS_ENDPOINT_URL")
        )?;
        writeln!(out, "  Region: {}", or_env(&s3.region, "AWS_REGION"))?;
        writeln!(out, "  Path-style addressing: {}", yes_no(s3.path_style))?;
        writeln!(
            out,
            "  Access key id: {}",
            or_env(&s3.access_key_id, "AWS_ACCESS_KEY_ID")
        )?;
        if s3.secret_access_key.is_some() {
            writeln!(out, "  Secret access key: (in the config, not shown)")?;
        }
    }
    writeln!(out, "  Single-writer: {}", yes_no(spec.single_writer))?;
    if branches.is_empty() {
        writeln!(out, "  Remote-tracking branches: (none)")?;
    } else {
        writeln!(out, "  Remote-tracking branches:")?;
        let width = branches.iter().map(|b| b.name.len()).max().unwrap_or(0);
        for branch in branches {
            writeln!(
                out,
                "    {:width$} {}",
                branch.name,
                branch.id.to_hex_prefix(12)
            )?;
        }
    }
    Ok(())
}

/// A URL as the user wrote it: a path as it is (git-quoted only if it is not UTF-8).
fn url_text(url: &Url) -> String {
    match url {
        Url::Path(path) => path.to_str().map_or_else(|| url.to_string(), str::to_owned),
        Url::S3(location) => location.to_string(),
    }
}

/// A remote's JSON fields (after `"type"`), the same in `list` and `show`.
fn remote_fields(spec: &Spec) -> Vec<(&'static str, Json)> {
    let (kind, bucket, prefix) = match &spec.url {
        Url::Path(_) => ("path", Json::Null, Json::Null),
        Url::S3(location) => (
            "s3",
            Json::from(location.bucket.as_str()),
            Json::from(location.prefix.as_str()),
        ),
    };
    let mut fields = vec![
        ("name", Json::from(spec.name.as_str())),
        ("url", Json::Str(url_text(&spec.url))),
        ("kind", Json::from(kind)),
    ];
    match &spec.url {
        Url::Path(path) => fields.extend(Json::path("path", "path_b64", path)),
        Url::S3(_) => fields.push(("path", Json::Null)),
    }
    let s3 = &spec.s3;
    fields.extend([
        ("bucket", bucket),
        ("prefix", prefix),
        ("endpoint", Json::opt_str(s3.endpoint.as_deref())),
        ("region", Json::opt_str(s3.region.as_deref())),
        ("path_style", s3.path_style.into()),
        ("access_key_id", Json::opt_str(s3.access_key_id.as_deref())),
        (
            "secret_access_key_in_config",
            s3.secret_access_key.is_some().into(),
        ),
        ("single_writer", spec.single_writer.into()),
    ]);
    fields
}

fn show_json(spec: &Spec, branches: &[RefInfo]) -> Json {
    let branches = branches
        .iter()
        .map(|b| {
            Json::record(
                "remote_branch",
                vec![
                    ("name", Json::from(b.name.as_str())),
                    (
                        "ref",
                        Json::Str(format!("refs/remotes/{}/{}", spec.name, b.name)),
                    ),
                    ("id", Json::Str(b.id.to_string())),
                ],
            )
        })
        .collect();
    let mut fields = remote_fields(spec);
    fields.push(("branches", Json::Array(branches)));
    Json::document("remote", fields)
}
