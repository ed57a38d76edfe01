//! `cow config`.

use std::io::Write;

use cow::Repository;
use cow::repository::{Config, check_key};
use serde_json::json;

use super::Quiet;

#[derive(clap::Args)]
pub struct Args {
    /// List every setting: the global ones, then the repository's (which win)
    #[arg(short, long, conflicts_with_all = ["key", "value", "unset"])]
    list: bool,
    /// Read or write the global settings ($XDG_CONFIG_HOME/cow/config, else
    /// ~/.config/cow/config) instead of the repository's
    #[arg(long)]
    global: bool,
    /// Remove the setting KEY
    #[arg(long, conflicts_with = "value")]
    unset: bool,
    /// The setting, as section.name or section.subsection.name (remote.origin.url)
    #[arg(required_unless_present = "list")]
    key: Option<String>,
    /// The new value; without it, print the current one (exit 1 if unset)
    value: Option<String>,
    /// With --list, print one JSON document (see docs/json.md)
    #[arg(long, conflicts_with_all = ["key", "value"])]
    pub json: bool,
}

/// Runs `cow config`; `discover` finds the repository, which `--global` does not need.
pub fn run(
    discover: impl FnOnce() -> anyhow::Result<Repository>,
    args: &Args,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let repo = match args.global {
        true => None,
        false => Some(discover()?),
    };
    if args.list {
        let config = match &repo {
            Some(repo) => repo.settings()?,
            None => Config::global()?,
        };
        if args.json {
            let settings: Vec<_> = config
                .iter()
                .map(|(key, value)| json!({"type": "setting", "key": key, "value": value}))
                .collect();
            let doc = json!({"type": "config", "schema": 1, "settings": settings});
            writeln!(out, "{doc}")?;
            return Ok(());
        }
        for (key, value) in config.iter() {
            writeln!(out, "{key}={value}")?;
        }
        return Ok(());
    }
    let key = args
        .key
        .as_deref()
        .expect("clap requires a key without --list");
    if args.unset {
        let removed = match &repo {
            Some(repo) => repo.unset_config(key)?,
            None => Config::edit_global(|config| config.remove(key))?,
        };
        // As git: unsetting a key that is not set is exit 5, without a message.
        return if removed {
            Ok(())
        } else {
            Err(Quiet(5).into())
        };
    }
    match &args.value {
        Some(value) => match &repo {
            Some(repo) => repo.set_config(key, value)?,
            None => {
                check_key(key)?;
                Config::edit_global(|config| config.set(key, value))?
            }
        },
        None => {
            let config = match &repo {
                Some(repo) => repo.settings()?,
                None => Config::global()?,
            };
            match config.get(key) {
                Some(value) => writeln!(out, "{value}")?,
                None => return Err(Quiet(1).into()),
            }
        }
    }
    Ok(())
}
