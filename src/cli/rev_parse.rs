//! `cow rev-parse`.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

use cow::Repository;
use serde_json::{Map, Value, json};

use super::json::{insert_bytes, print};

#[derive(clap::Args)]
pub struct Args {
    /// Print the shortest unique abbreviation of at least N digits (default 7)
    #[arg(long, value_name = "N", num_args = 0..=1, require_equals = true, default_missing_value = "7")]
    short: Option<usize>,
    /// Print the short name of each revision that is a ref (`main` for HEAD on main,
    /// `HEAD` when detached), as git's `--abbrev-ref`
    #[arg(long, value_name = "MODE", num_args = 0..=1, require_equals = true,
          default_missing_value = "strict", value_parser = ["strict", "loose"])]
    abbrev_ref: Option<String>,
    /// Print the absolute path of the working directory's top
    #[arg(long)]
    show_toplevel: bool,
    /// Print one JSON document (see docs/json.md)
    #[arg(long)]
    pub json: bool,
    /// Revisions: ids, prefixes, branches, tags, HEAD, REV~N, REV^N, REV:PATH
    #[arg(required_unless_present = "show_toplevel")]
    revs: Vec<OsString>,
}

/// git's `--abbrev-ref`: HEAD as its branch (or `HEAD` when detached), a branch or tag
/// as its short name; `None` for a revision that is no ref (git prints nothing).
fn abbrev_ref(repo: &Repository, rev: &str) -> anyhow::Result<Option<String>> {
    use cow::refs::{Head, RefName};
    if rev == "HEAD" || rev == "@" {
        return Ok(Some(match repo.head()? {
            Head::Branch(name) => name.shorten().to_owned(),
            Head::Detached(_) => "HEAD".to_owned(),
        }));
    }
    let candidates = [
        RefName::new(rev),
        RefName::tag(rev),
        RefName::branch(rev),
        RefName::new(&format!("refs/remotes/{rev}")),
    ];
    for name in candidates.into_iter().flatten() {
        if repo.refs().find(&name)?.is_some() {
            return Ok(Some(name.shorten().to_owned()));
        }
    }
    Ok(None)
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.json {
        let mut ids = Vec::new();
        let mut revisions = Vec::new();
        for rev in &args.revs {
            let id = repo.resolve(rev.as_bytes())?;
            let mut fields = Map::new();
            fields.insert("type".into(), "revision".into());
            insert_bytes(&mut fields, "rev", "rev_b64", rev.as_bytes());
            fields.insert("id".into(), id.to_string().into());
            let short = match args.short {
                Some(n) => Some(repo.odb().shortest_unique_prefix(&id, n)?.to_string()),
                None => None,
            };
            fields.insert("short".into(), short.into());
            ids.push(Value::from(id.to_string()));
            revisions.push(Value::Object(fields));
        }
        let document =
            json!({"type": "rev_parse", "schema": 1, "ids": ids, "revisions": revisions});
        return print(out, &document);
    }
    if args.show_toplevel {
        out.write_all(repo.require_work_dir()?.as_os_str().as_bytes())?;
        writeln!(out)?;
    }
    for rev in &args.revs {
        let id = repo.resolve(rev.as_bytes())?;
        if args.abbrev_ref.is_some() {
            if let Some(name) = abbrev_ref(repo, &rev.to_string_lossy())? {
                writeln!(out, "{name}")?;
            }
            continue;
        }
        match args.short {
            Some(n) => writeln!(out, "{}", repo.odb().shortest_unique_prefix(&id, n)?)?,
            None => writeln!(out, "{id}")?,
        }
    }
    Ok(())
}
