//! `cow archive`: a snapshot as a tar (or .tar.zst) archive.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use cow::Repository;
use cow::repository::{ArchiveFormat, ArchiveOptions};
use serde_json::{Map, Value};

use super::json::insert_path;

#[derive(clap::Args)]
pub struct Args {
    /// The snapshot to archive
    #[arg(value_name = "REV")]
    rev: String,
    /// Only these files or directories (with the directories above them), relative to
    /// the current directory inside the working directory, else to the snapshot's root
    #[arg(value_name = "PATH")]
    paths: Vec<OsString>,
    /// Write the archive to FILE (`-` or none: standard output); a name ending in
    /// `.zst` or `.tzst` chooses zstd compression
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// `tar` or `tar.zst` (default: from FILE's name, else tar)
    #[arg(long, value_name = "FORMAT", value_parser = ["tar", "tar.zst"])]
    format: Option<String>,
    /// Put PREFIX before every name (`project/` to put everything in a directory)
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<OsString>,
    /// Print one JSON document about the archive written (needs -o FILE)
    #[arg(long)]
    pub json: bool,
}

pub fn run(repo: &Repository, cwd: &Path, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let file = args.output.as_ref().filter(|p| p.as_os_str() != "-");
    let format = match (args.format.as_deref(), file) {
        (Some("tar.zst"), _) => ArchiveFormat::TarZstd,
        (Some(_), _) => ArchiveFormat::Tar,
        (None, Some(path)) => {
            let name = path.as_os_str().as_bytes();
            if name.ends_with(b".zst") || name.ends_with(b".tzst") {
                ArchiveFormat::TarZstd
            } else {
                ArchiveFormat::Tar
            }
        }
        (None, None) => ArchiveFormat::Tar,
    };
    if args.json && file.is_none() {
        return Err(super::Usage(
            "--json needs -o FILE: standard output carries the archive".into(),
        )
        .into());
    }
    let paths = super::paths::snapshot_paths(repo.work_dir(), cwd, &args.paths)?;
    let prefix = args
        .prefix
        .as_ref()
        .map(|p| p.as_bytes().to_vec())
        .unwrap_or_default();
    let options = ArchiveOptions {
        prefix: &prefix,
        format,
    };
    let Some(file) = file else {
        if std::io::stdout().is_terminal() {
            anyhow::bail!(
                "refusing to write a binary archive to a terminal; use -o FILE or redirect standard output"
            );
        }
        repo.archive(&args.rev, &paths, out, &options)?;
        return Ok(());
    };
    let file = cwd.join(file);
    // Written beside its final name and renamed into place once complete: a failed
    // archive leaves nothing behind, and never a truncated file under the name.
    // An archive over the store's HEAD or config breaks the repository.
    repo.check_outside_store(&file)?;
    let dir = file.parent().unwrap_or(Path::new("."));
    // Readable as any file the user makes (0666 less the umask), as `git archive -o`
    // and `tar -cf` leave theirs, not tempfile's private 0600.
    let mut temp = tempfile::Builder::new()
        .prefix(".cow-archive-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| anyhow::anyhow!("could not create a file in {}: {e}", dir.display()))?;
    let outcome = {
        let mut writer = std::io::BufWriter::new(temp.as_file_mut());
        let outcome = repo.archive(&args.rev, &paths, &mut writer, &options)?;
        writer.flush()?;
        outcome
    };
    temp.as_file().sync_all()?;
    temp.persist(&file)
        .map_err(|e| anyhow::anyhow!("could not write {}: {}", file.display(), e.error))?;
    if args.json {
        let mut doc = Map::new();
        doc.insert("type".into(), "archive".into());
        doc.insert("schema".into(), 1.into());
        doc.insert("commit".into(), outcome.commit.to_string().into());
        insert_path(&mut doc, "file", "file_b64", &file);
        let format = match format {
            ArchiveFormat::Tar => "tar",
            ArchiveFormat::TarZstd => "tar.zst",
        };
        doc.insert("format".into(), format.into());
        doc.insert("files".into(), outcome.files.into());
        doc.insert("dirs".into(), outcome.dirs.into());
        doc.insert("content_bytes".into(), outcome.content_bytes.into());
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        doc.insert("size".into(), size.into());
        writeln!(out, "{}", Value::Object(doc))?;
    }
    Ok(())
}
