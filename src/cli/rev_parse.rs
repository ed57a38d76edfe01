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
    /// Print one JSON document (see docs/json.md)
    #[arg(long)]
    pub json: bool,
    /// Revisions: ids, prefixes, branches, tags, HEAD, REV~N, REV^N, REV:PATH
    #[arg(required = true)]
    revs: Vec<OsString>,
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
    for rev in &args.revs {
        let id = repo.resolve(rev.as_bytes())?;
        match args.short {
            Some(n) => writeln!(out, "{}", repo.odb().shortest_unique_prefix(&id, n)?)?,
            None => writeln!(out, "{id}")?,
        }
    }
    Ok(())
}
