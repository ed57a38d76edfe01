//! `cow diff`, and the diff options `cow log` shares.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::Path;

use cow::diff::{self, DiffOptions, FileChange, PatchOptions, StatOptions};
use cow::object::RepoPathBuf;
use cow::{Diff, Repository};

use super::json::insert_bytes;
use super::{Quiet, Usage};

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
          require_equals = true, default_missing_value = "50%", value_parser = rename_threshold)]
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

/// `-M`'s value, checked when the command line is parsed (a bad one is a usage error).
fn rename_threshold(arg: &str) -> Result<String, String> {
    match diff::parse_threshold(arg) {
        Some(_) => Ok(arg.to_owned()),
        None => Err("use a percentage such as 50%".to_owned()),
    }
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
        needed: Option<usize>,
        json: bool,
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        if let Some(needed) = needed {
            out.flush()?;
            let advice = format!("you may want to use -l {needed} (or more) and retry the command");
            let skipped = "exhaustive rename detection was skipped due to too many files";
            if json {
                super::json::warn(true, &format!("{skipped}; {advice}"));
            } else {
                super::json::warn(false, skipped);
                super::json::warn(false, &advice);
            }
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

    /// Writes merge `commit`'s changes as `git show` does: `--stat` and `--numstat`
    /// against the first parent; `--name-only`, `--name-status` (a letter per parent)
    /// and the combined patch of the files that differ from every parent. Returns the
    /// rename limit the diff would have needed, if it was too small.
    pub fn write_merge(
        &self,
        repo: &Repository,
        commit: &cow::Commit,
        options: &DiffOptions,
        out: &mut dyn Write,
    ) -> anyhow::Result<Option<usize>> {
        if self.stat || self.numstat {
            let parent = repo.odb().find_commit(&commit.parents[0])?.tree;
            let outcome = repo.diff_trees(Some(parent), Some(commit.tree), options)?;
            self.write(&outcome, out)?;
            return Ok(outcome.rename_limit_needed);
        }
        let changes = repo.diff_merge(commit, options)?;
        if self.name_only {
            for c in &changes {
                writeln!(out, "{}", c.path.quoted())?;
            }
        } else if self.name_status {
            diff::write_combined_name_status(out, &changes)?;
        } else {
            let options = PatchOptions {
                context: self.context,
                color: self.color(),
                ..PatchOptions::default()
            };
            diff::write_combined_patch(out, repo.odb(), &changes, &options)?;
        }
        Ok(None)
    }

    /// Writes `changes` as a unified patch.
    pub fn write_patch(&self, diff: &Diff, out: &mut dyn Write) -> anyhow::Result<()> {
        let options = PatchOptions {
            context: self.context,
            color: self.color(),
            ..PatchOptions::default()
        };
        diff.write_patch(out, &options)?;
        Ok(())
    }

    /// Writes `changes` as `-z` asks: `--name-only`, `--name-status` and `--numstat`
    /// with raw paths, each field ended by NUL as git prints them (a rename's two paths
    /// as fields of their own); other formats as [`Format::write`] writes them.
    pub fn write_nul(&self, diff: &Diff, out: &mut dyn Write) -> anyhow::Result<()> {
        let changes = &diff.changes;
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
            let stats = diff.file_stats(&StatOptions::default())?;
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
            self.write(diff, out)?;
        }
        Ok(())
    }

    /// `changes` as `--json` records: status, paths, modes and ids, rename similarity
    /// and the line counts `--numstat` shows.
    pub fn json_files(&self, diff: &Diff) -> anyhow::Result<Vec<serde_json::Value>> {
        use serde_json::{Map, Value};
        let stats = diff.file_stats(&StatOptions::default())?;
        Ok(diff
            .changes
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
    pub fn write(&self, diff: &Diff, out: &mut dyn Write) -> anyhow::Result<()> {
        let changes = &diff.changes;
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
            let stats = diff.file_stats(&StatOptions::default())?;
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
            diff.write_patch(out, &options)?;
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
    /// git's `--cached`/`--staged`: refused with a hint (cow has no staging area)
    #[arg(long, alias = "staged", hide = true)]
    cached: bool,
    /// With --name-only, --name-status or --numstat: end fields with NUL and do not
    /// quote paths
    #[arg(short)]
    z: bool,
    /// Print one JSON document: the changed files with their line counts (see
    /// docs/json.md)
    #[arg(long, conflicts_with = "z")]
    pub json: bool,
    /// No revision: HEAD against the working directory; one: that revision against the
    /// working directory; two (or A..B): one snapshot against the other; A...B: from
    /// the merge base of A and B to B. Then paths, as git takes them without `--`:
    /// from the first word that is no revision but an existing file
    #[arg(num_args = 0.., value_name = "REV")]
    revs: Vec<OsString>,
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
        let path = super::paths::repo_path(repo.require_work_dir()?, cwd, Path::new(p))?;
        if path.is_root() {
            return Ok(Vec::new()); // the root: everything
        }
        out.push(path);
    }
    Ok(out)
}

pub fn run(repo: &Repository, cwd: &Path, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.cached {
        return Err(Usage(
            "there is no staging area: `cow diff` already compares HEAD with the working \
             directory, which is what `cow commit` snapshots"
                .into(),
        )
        .into());
    }
    let (revs, mut paths) = revs_and_paths(repo, cwd, &args.revs, !args.paths.is_empty())?;
    paths.extend(args.paths.iter().cloned());
    let options = args.format.options(repo_paths(repo, cwd, &paths)?)?;
    let merge_base;
    let revs: Vec<&str> = match revs.as_slice() {
        [one] if one.contains("...") => {
            let (a, b) = one.split_once("...").expect("checked");
            let (a, b) = (or_head(a), or_head(b));
            let bases = repo.merge_bases(repo.resolve_commit(a)?, repo.resolve_commit(b)?)?;
            let Some(base) = bases.first() else {
                anyhow::bail!("{one}: no merge base");
            };
            if bases.len() > 1 {
                out.flush()?;
                let message = format!("{one}: multiple merge bases, using {base}");
                super::json::warn(args.json, &message);
            }
            merge_base = base.to_string();
            vec![merge_base.as_str(), b]
        }
        [one] if one.contains("..") => {
            let (a, b) = one.split_once("..").expect("checked");
            vec![or_head(a), or_head(b)]
        }
        revs => revs.iter().map(String::as_str).collect(),
    };
    let outcome = match revs.as_slice() {
        [] => repo.diff_worktree("HEAD", &options)?,
        [rev] => repo.diff_worktree(rev, &options)?,
        [old, new] => repo.diff_revs(old, new, &options)?,
        _ => {
            return Err(Usage(format!(
                "too many revisions: {} (diff compares at most two)",
                revs.join(" ")
            ))
            .into());
        }
    };
    if args.json {
        let document = serde_json::json!({
            "type": "diff",
            "schema": 1,
            "files": args.format.json_files(&outcome)?,
        });
        super::json::print(out, &document)?;
    } else {
        if args.z {
            args.format.write_nul(&outcome, out)?;
        } else {
            args.format.write(&outcome, out)?;
        }
    }
    Format::warn_rename_limit(outcome.rename_limit_needed, args.json, out)?;
    if args.exit_code && !outcome.changes.is_empty() {
        out.flush()?;
        return Err(Quiet(1).into());
    }
    Ok(())
}

/// An empty side of `A..B` or `A...B` is HEAD.
fn or_head(side: &str) -> &str {
    if side.is_empty() { "HEAD" } else { side }
}

/// Splits the words before `--` into revisions and paths by git's rule. With `--`,
/// every word is a revision. Without it, words are revisions up to the first that is
/// none, which starts the paths; a word that is both a revision and an existing file is
/// ambiguous, and a path must exist.
fn revs_and_paths(
    repo: &Repository,
    cwd: &Path,
    words: &[OsString],
    dashes: bool,
) -> anyhow::Result<(Vec<String>, Vec<OsString>)> {
    let exists = |word: &OsString| std::fs::symlink_metadata(cwd.join(word)).is_ok();
    let mut revs = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let rev = word.to_str().filter(|w| dashes || is_revision(repo, w));
        match rev {
            Some(rev) => {
                if !dashes && exists(word) {
                    return Err(Usage(format!(
                        "ambiguous argument '{rev}': both revision and filename (use '--' to \
                         separate paths from revisions: cow diff [REV...] -- [PATH...])"
                    ))
                    .into());
                }
                revs.push(rev.to_owned());
            }
            None => {
                let paths = &words[i..];
                if let Some(word) = word.to_str().filter(|_| !exists(word)) {
                    // Neither: the resolver says why it is no revision.
                    repo.resolve(word)?;
                }
                if let Some(missing) = paths.iter().find(|p| !exists(p)) {
                    anyhow::bail!(
                        "ambiguous argument '{}': unknown revision or path not in the working \
                         tree (use '--' to separate paths from revisions: cow diff [REV...] \
                         -- [PATH...])",
                        missing.to_string_lossy()
                    );
                }
                return Ok((revs, paths.to_vec()));
            }
        }
    }
    Ok((revs, Vec::new()))
}

/// Whether `word` names a revision, or a range of two (`A..B`, `A...B`).
fn is_revision(repo: &Repository, word: &str) -> bool {
    let resolves = |rev: &str| rev.is_empty() || rev == "HEAD" || repo.resolve(rev).is_ok();
    match word.split_once("...").or_else(|| word.split_once("..")) {
        Some((a, b)) => resolves(a) && resolves(b),
        None => resolves(word),
    }
}
