//! `cow remote`: list, add, remove and show remotes.

use std::io::Write;
use std::path::Path;

use cow::Repository;
use cow::remote::{Spec, Url};
use cow::repository::{AddRemote, RefInfo};

use serde_json::{Map, Value, json};

use super::json::{errors_as_json, insert_path};

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
                let branches = repo.tracking_branches(&show_args.name)?;
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
        let items: Vec<Value> = remotes
            .iter()
            .map(|spec| Value::Object(remote_fields(spec)))
            .collect();
        let doc = json!({"type": "remotes", "schema": 1, "remotes": items});
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

/// A remote as a JSON record (`"type": "remote"`), the same in `list` and `show`.
fn remote_fields(spec: &Spec) -> Map<String, Value> {
    let s3 = &spec.s3;
    let mut fields = Map::new();
    fields.insert("type".into(), "remote".into());
    fields.insert("name".into(), spec.name.clone().into());
    fields.insert("url".into(), url_text(&spec.url).into());
    match &spec.url {
        Url::Path(path) => {
            fields.insert("kind".into(), "path".into());
            insert_path(&mut fields, "path", "path_b64", path);
            fields.insert("bucket".into(), Value::Null);
            fields.insert("prefix".into(), Value::Null);
        }
        Url::S3(location) => {
            fields.insert("kind".into(), "s3".into());
            fields.insert("path".into(), Value::Null);
            fields.insert("bucket".into(), location.bucket.clone().into());
            fields.insert("prefix".into(), location.prefix.clone().into());
        }
    }
    fields.insert("endpoint".into(), s3.endpoint.clone().into());
    fields.insert("region".into(), s3.region.clone().into());
    fields.insert("path_style".into(), s3.path_style.into());
    fields.insert("access_key_id".into(), s3.access_key_id.clone().into());
    fields.insert(
        "secret_access_key_in_config".into(),
        s3.secret_access_key.is_some().into(),
    );
    fields.insert("single_writer".into(), spec.single_writer.into());
    fields
}

fn show_json(spec: &Spec, branches: &[RefInfo]) -> Value {
    let branches: Vec<Value> = branches
        .iter()
        .map(|b| {
            json!({
                "type": "remote_branch",
                "name": b.name,
                "ref": format!("refs/remotes/{}/{}", spec.name, b.name),
                "id": b.id.to_string(),
            })
        })
        .collect();
    let mut fields = remote_fields(spec);
    fields.insert("schema".into(), 1.into());
    fields.insert("branches".into(), branches.into());
    Value::Object(fields)
}
