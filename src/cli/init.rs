//! `cow init`.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use cow::Repository;

#[derive(clap::Args)]
pub struct Args {
    /// Where to create it; made if missing
    dir: Option<PathBuf>,

    /// Put the store at PATH (made if missing; it must be empty) instead of DIR/.cow,
    /// and a `.cow` file naming it in DIR when DIR is writable (default: $COW_DIR)
    #[arg(long, value_name = "PATH")]
    store: Option<PathBuf>,

    /// Make DIR a bare store: no working directory, for pushing backups to
    #[arg(long, conflicts_with = "store")]
    bare: bool,
}

/// `store` is `$COW_DIR` and `work_tree` `$COW_WORK_TREE`, if set: the store's path and
/// the working directory when neither `--store` nor DIR says, as git's `GIT_DIR` and
/// `GIT_WORK_TREE` do for `git init`.
pub fn run(
    cwd: &Path,
    args: &Args,
    store: Option<&Path>,
    work_tree: Option<&Path>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if args.bare {
        let dir = args
            .dir
            .as_ref()
            .map_or_else(|| cwd.to_owned(), |d| cwd.join(d));
        let repo = Repository::init_bare(&dir)?;
        return initialized(out, repo.cow_dir());
    }
    let dir = match (&args.dir, work_tree) {
        (Some(dir), _) => cwd.join(dir),
        (None, Some(dir)) => dir.to_owned(),
        (None, None) => cwd.to_owned(),
    };
    let store = args
        .store
        .as_ref()
        .map(|s| cwd.join(s))
        .or_else(|| store.map(Path::to_owned));
    let Some(store) = store else {
        let repo = Repository::init(&dir)?;
        return initialized(out, repo.cow_dir());
    };
    let made = Repository::init_with_store(&dir, &store)?;
    if made.link.is_none() {
        let work_dir = made.repository.work_dir().unwrap_or(&dir);
        super::json::warn(
            false,
            &format!(
                "{} is not writable: no .cow file there names the store; run commands with `cow -C {} ...` or COW_DIR={}",
                cow::quote::quote_fs_path(work_dir),
                cow::quote::quote_fs_path(made.repository.cow_dir()),
                cow::quote::quote_fs_path(made.repository.cow_dir()),
            ),
        );
    }
    initialized(out, made.repository.cow_dir())
}

fn initialized(out: &mut dyn Write, store: &Path) -> anyhow::Result<()> {
    // The path's own bytes, as git prints them: `display()` would print U+FFFD for a
    // directory whose name is not UTF-8.
    out.write_all(b"Initialized empty cow repository in ")?;
    out.write_all(store.as_os_str().as_bytes())?;
    writeln!(out)?;
    Ok(())
}
