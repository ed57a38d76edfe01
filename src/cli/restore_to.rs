//! `cow restore --target DIR`: a snapshot written into another directory.

use std::io::Write;
use std::path::Path;

use cow::Repository;
use cow::repository::CheckoutOptions;
use cow::worktree::Op;
use serde_json::{Map, Value};

use super::checkout::{RestoreArgs, op_json, print_ops};
use super::json::{insert_path, insert_repo_path};

/// Runs `restore --target DIR`: PATHs are taken from the current directory inside the
/// working directory, from the snapshot's root otherwise (as `git archive` takes its
/// paths).
pub fn run(
    repo: &Repository,
    cwd: &Path,
    args: &RestoreArgs,
    dir: &Path,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let paths = super::paths::snapshot_paths(repo.work_dir(), cwd, &args.paths)?;
    let dir = cwd.join(dir);
    let out: &mut dyn Write = match args.progress.quiet && !args.json {
        true => &mut std::io::sink(),
        false => out,
    };
    let reporter = args.progress.reporter("restore", args.json);
    let outcome = repo.restore_to(
        &args.source,
        &paths,
        &dir,
        &CheckoutOptions {
            force: args.force,
            dry_run: args.dry_run,
            progress: Some(&reporter),
        },
    );
    reporter.done();
    let outcome = outcome?;
    let a = &outcome.applied;
    if args.json {
        let mut doc = Map::new();
        doc.insert("type".into(), "restore".into());
        doc.insert("schema".into(), 1.into());
        doc.insert("dry_run".into(), args.dry_run.into());
        doc.insert("target".into(), outcome.commit.to_string().into());
        insert_path(&mut doc, "dir", "dir_b64", &outcome.dir);
        doc.insert("written".into(), a.written.into());
        doc.insert("removed".into(), a.removed.into());
        doc.insert("created_dirs".into(), a.created_dirs.into());
        doc.insert("modes_changed".into(), a.modes_changed.into());
        let ops: Vec<Value> = outcome.plan.ops.iter().map(op_json).collect();
        doc.insert("ops".into(), ops.into());
        // The files and symlinks written (or, in a dry run, to write).
        let written: Vec<Value> = outcome
            .plan
            .ops
            .iter()
            .filter(|op| matches!(op, Op::Write { .. } | Op::SetMode { .. }))
            .map(|op| {
                let mut fields = Map::new();
                fields.insert("type".into(), "path".into());
                insert_repo_path(&mut fields, "path", "path_b64", op.path());
                Value::Object(fields)
            })
            .collect();
        doc.insert("paths".into(), written.into());
        writeln!(out, "{}", Value::Object(doc))?;
        return Ok(());
    }
    if args.dry_run {
        return print_ops(&outcome.plan.ops, out);
    }
    writeln!(
        out,
        "Restored {} into {} ({} written, {} removed, {} directories created)",
        outcome.commit.to_hex_prefix(12),
        cow::quote::quote_fs_path(&outcome.dir),
        a.written,
        a.removed,
        a.created_dirs
    )?;
    Ok(())
}
