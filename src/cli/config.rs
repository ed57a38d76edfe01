//! `cow config`.

use std::io::Write;

use cow::Repository;
use serde_json::json;

use super::Quiet;

#[derive(clap::Args)]
pub struct Args {
    /// List every setting
    #[arg(short, long, conflicts_with_all = ["key", "value"])]
    list: bool,
    /// The setting, as section.name or section.subsection.name (remote.origin.url)
    #[arg(required_unless_present = "list")]
    key: Option<String>,
    /// The new value; without it, print the current one (exit 1 if unset)
    value: Option<String>,
    /// With --list, print one JSON document (see docs/json.md)
    #[arg(long, conflicts_with_all = ["key", "value"])]
    pub json: bool,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let config = repo.config()?;
    if args.list && args.json {
        let settings: Vec<_> = config
            .iter()
            .map(|(key, value)| json!({"type": "setting", "key": key, "value": value}))
            .collect();
        let doc = json!({"type": "config", "schema": 1, "settings": settings});
        writeln!(out, "{doc}")?;
        return Ok(());
    }
    if args.list {
        for (key, value) in config.iter() {
            writeln!(out, "{key}={value}")?;
        }
        return Ok(());
    }
    let key = args
        .key
        .as_deref()
        .expect("clap requires a key without --list");
    match &args.value {
        Some(value) => repo.set_config(key, value)?,
        None => match config.get(key) {
            Some(value) => writeln!(out, "{value}")?,
            None => return Err(Quiet(1).into()),
        },
    }
    Ok(())
}
