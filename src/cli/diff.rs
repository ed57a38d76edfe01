//! `cow diff`, and the diff options `cow log` shares.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::Path;

use cow::Repository;
use cow::diff::{self, DiffOptions, FileChange, PatchOptions};
use cow::object::RepoPathBuf;

use super::Quiet;
use super::json::insert_bytes;

// How to show changes, shared by `diff` and `log` (a plain comment: clap would take a
// doc comment as the help text of the commands that flatten it).
#[derive(clap::Args)]
pub struct Format {
    /// Show only the names of changed files
    #[arg(long, group = "format")]
    name_only: bool,
    /// Show the names and status letters (A, D, M, T, R<score>) of changed files
    #[arg(long, group = "format")]
    name_status: bool,
    /// Show a bar graph of lines added and removed per file
    #[arg(long, group = "format")]
    stat: bool,
    /// Show lines added and removed per file, for scripts
    #[arg(long, group = "format")]
    numstat: bool,
    /// Lines of context in the patch
    #[arg(short = 'U', long = "unified", value_name = "N", default_value_t = 3,
          value_parser = parse_context)]
    context: u32,
    /// Find renames with at least this similarity (default 50%)
    #[arg(short = 'M', long = "find-renames", value_name = "N%", num_args = 0..=1,
          require_equals = true, default_missing_value = "50%")]
    find_renames: Option<String>,
    /// Do not look for renames
    #[arg(long, conflicts_with = "find_renames")]
    no_renames: bool,
    /// Look for renames with edits only while sources and destinations number at
    /// most N each (N times N pairs; 0: no limit)
    #[arg(short = 'l', value_name = "N", default_value_t = diff::RENAME_LIMIT)]
    rename_limit: usize,
    /// Colour the output: auto (on a terminal, unless NO_COLOR is set), always, never
    #[arg(long, value_name = "WHEN", num_args = 0..=1, require_equals = true,
          default_missing_value = "always", default_value = "auto",
          value_parser = ["auto", "always", "never"])]
    color: String,
}

/// `-U N`: any count of decimal digits; counts beyond `u32::MAX` mean "the whole
/// file" just as `u32::MAX` does, so they saturate rather than fail.
fn parse_context(arg: &str) -> Result<u32, String> {
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{arg}' is not a number of lines"));
    }
    Ok(arg.parse::<u32>().unwrap_or(u32::MAX))
}

impl Format {
    /// The library options for these flags.
    pub fn options(&self, paths: Vec<RepoPathBuf>) -> anyhow::Result<DiffOptions> {
        let renames = if self.no_renames {
            None
        } else {
            let arg = self.find_renames.as_deref().unwrap_or("50%");
            Some(diff::parse_threshold(arg).ok_or_else(|| {
                anyhow::anyhow!("invalid rename threshold '{arg}': use a percentage such as 50%")
            })?)
        };
        Ok(DiffOptions {
            renames,
            paths,
            rename_limit: self.rename_limit,
            ..DiffOptions::default()
        })
    }

    /// Warns, as git does, that renames with edits were not looked for because
    /// `needed` (the larger of sources and destinations) was over the limit.
    pub fn warn_rename_limit(
        &self,
        needed: Option<usize>,
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        if let Some(needed) = needed {
            out.flush()?;
            eprintln!(
                "cow: warning: exhaustive rename detection was skipped due to too many files"
            );
            eprintln!(
                "cow: warning: you may want to use -l {needed} (or more) and retry the command"
            );
        }
        Ok(())
    }

    fn color(&self) -> bool {
        match self.color.as_str() {
            "always" => true,
            "never" => false,
            _ => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }

    /// Whether the flags ask for a patch (the default of `diff`).
    pub fn is_patch(&self) -> bool {
        !(self.name_only || self.name_status || self.stat || self.numstat)
    }

    /// Whether any output format was asked for (`log` shows none by default).
    pub fn any(&self) -> bool {
        !self.is_patch()
    }

    /// Writes `changes` as a unified patch.
    pub fn write_patch(
        &self,
        repo: &Repository,
        changes: &[FileChange],
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        let options = PatchOptions {
            context: self.context,
            color: self.color(),
            ..PatchOptions::default()
        };
        diff::write_patch(out, &repo.blobs(), changes, &options)?;
        Ok(())
    }

    /// Writes `changes` as `-z` asks: `--name-only`, `--name-status` and `--numstat`
    /// with raw paths, each field ended by NUL as git prints them (a rename's two paths
    /// as fields of their own); other formats as [`Format::write`] writes them.
    pub fn write_nul(
        &self,
        repo: &Repository,
        changes: &[FileChange],
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        let renamed = |c: &FileChange| c.status == diff::Status::Renamed;
        if self.name_only {
            for c in changes {
                out.write_all(c.new_path.as_bytes())?;
                out.write_all(b"\0")?;
            }
        } else if self.name_status {
            for c in changes {
                match c.similarity {
                    Some(score) => write!(out, "{}{score:03}\0", c.status.letter())?,
                    None => write!(out, "{}\0", c.status.letter())?,
                }
                if renamed(c) {
                    out.write_all(c.old_path.as_bytes())?;
                    out.write_all(b"\0")?;
                }
                out.write_all(c.new_path.as_bytes())?;
                out.write_all(b"\0")?;
            }
        } else if self.numstat {
            let stats = diff::file_stats(&repo.blobs(), changes, &diff::StatOptions::default())?;
            for (c, s) in changes.iter().zip(&stats) {
                match s.binary {
                    Some(_) => out.write_all(b"-\t-\t")?,
                    None => write!(out, "{}\t{}\t", s.added, s.removed)?,
                }
                if renamed(c) {
                    out.write_all(b"\0")?;
                    out.write_all(c.old_path.as_bytes())?;
                    out.write_all(b"\0")?;
                }
                out.write_all(c.new_path.as_bytes())?;
                out.write_all(b"\0")?;
            }
        } else {
            self.write(repo, changes, out)?;
        }
        Ok(())
    }

    /// `changes` as `--json` records: status, paths, modes and ids, rename similarity
    /// and the line counts `--numstat` shows.
    pub fn json_files(
        &self,
        repo: &Repository,
        changes: &[FileChange],
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        use serde_json::{Map, Value};
        let stats = diff::file_stats(&repo.blobs(), changes, &diff::StatOptions::default())?;
        Ok(changes
            .iter()
            .zip(&stats)
            .map(|(c, s)| {
                let mut fields = Map::new();
                fields.insert("type".into(), "file".into());
                let status = match c.status {
                    diff::Status::Added => "added",
                    diff::Status::Deleted => "deleted",
                    diff::Status::Modified => "modified",
                    diff::Status::TypeChanged => "type_changed",
                    diff::Status::Renamed => "renamed",
                };
                fields.insert("status".into(), status.into());
                insert_bytes(
                    &mut fields,
                    "old_path",
                    "old_path_b64",
                    c.old_path.as_bytes(),
                );
                insert_bytes(
                    &mut fields,
                    "new_path",
                    "new_path_b64",
                    c.new_path.as_bytes(),
                );
                super::json::insert_side(&mut fields, "old", c.old);
                super::json::insert_side(&mut fields, "new", c.new);
                fields.insert("similarity".into(), c.similarity.into());
                let binary = s.binary.is_some();
                fields.insert("binary".into(), binary.into());
                fields.insert("additions".into(), (!binary).then_some(s.added).into());
                fields.insert("deletions".into(), (!binary).then_some(s.removed).into());
                Value::Object(fields)
            })
            .collect())
    }

    /// Writes `changes` in the chosen format.
    pub fn write(
        &self,
        repo: &Repository,
        changes: &[FileChange],
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        let blobs = repo.blobs();
        if self.name_only {
            for c in changes {
                writeln!(out, "{}", c.new_path.quoted())?;
            }
        } else if self.name_status {
            for c in changes {
                match c.similarity {
                    Some(score) => writeln!(
                        out,
                        "{}{score:03}\t{}\t{}",
                        c.status.letter(),
                        c.old_path.quoted(),
                        c.new_path.quoted()
                    )?,
                    None => writeln!(out, "{}\t{}", c.status.letter(), c.new_path.quoted())?,
                }
            }
        } else if self.stat || self.numstat {
            let stats = diff::file_stats(&blobs, changes, &diff::StatOptions::default())?;
            if self.stat {
                diff::write_stat(out, &stats, 80, self.color())?;
            } else {
                diff::write_numstat(out, &stats)?;
            }
        } else {
            let options = PatchOptions {
                context: self.context,
                color: self.color(),
                ..PatchOptions::default()
            };
            diff::write_patch(out, &blobs, changes, &options)?;
        }
        Ok(())
    }
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    format: Format,
    /// Exit with 1 when there are differences, 0 when there are none
    #[arg(long)]
    exit_code: bool,
    /// With --name-only, --name-status or --numstat: end fields with NUL and do not
    /// quote paths
    #[arg(short)]
    z: bool,
    /// Print one JSON document: the changed files with their line counts (see
    /// docs/json.md)
    #[arg(long, conflicts_with = "z")]
    pub json: bool,
    /// No revision: HEAD against the working directory; one: that revision against the
    /// working directory; two (or A..B): one snapshot against the other
    #[arg(num_args = 0..=2)]
    revs: Vec<String>,
    /// Limit the diff to these paths
    #[arg(last = true)]
    paths: Vec<OsString>,
}

/// Command-line paths as repository paths.
pub fn repo_paths(
    repo: &Repository,
    cwd: &Path,
    paths: &[OsString],
) -> anyhow::Result<Vec<RepoPathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let path = super::paths::repo_path(repo.work_dir(), cwd, Path::new(p))?;
        if path.is_root() {
            return Ok(Vec::new()); // the root: everything
        }
        out.push(path);
    }
    Ok(out)
}

pub fn run(repo: &Repository, cwd: &Path, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let options = args.format.options(repo_paths(repo, cwd, &args.paths)?)?;
    let revs: Vec<&str> = match args.revs.as_slice() {
        [one] if one.contains("..") => {
            let (a, b) = one.split_once("..").expect("checked");
            vec![
                if a.is_empty() { "HEAD" } else { a },
                if b.is_empty() { "HEAD" } else { b },
            ]
        }
        revs => revs.iter().map(String::as_str).collect(),
    };
    let outcome = match revs.as_slice() {
        [] => repo.diff_worktree("HEAD", &options)?,
        [rev] => repo.diff_worktree(rev, &options)?,
        [old, new] => repo.diff_revs(old, new, &options)?,
        _ => unreachable!("clap allows at most two revisions"),
    };
    if args.json {
        let document = serde_json::json!({
            "type": "diff",
            "schema": 1,
            "files": args.format.json_files(repo, &outcome.changes)?,
        });
        super::json::print(out, &document)?;
        if let Some(needed) = outcome.rename_limit_needed {
            let message = format!(
                "exhaustive rename detection was skipped due to too many files; you may want to use -l {needed} (or more) and retry the command"
            );
            let line = serde_json::json!({"type": "warning", "message": message});
            eprintln!("{line}");
        }
    } else {
        if args.z {
            args.format.write_nul(repo, &outcome.changes, out)?;
        } else {
            args.format.write(repo, &outcome.changes, out)?;
        }
        args.format
            .warn_rename_limit(outcome.rename_limit_needed, out)?;
    }
    if args.exit_code && !outcome.changes.is_empty() {
        out.flush()?;
        return Err(Quiet(1).into());
    }
    Ok(())
}
