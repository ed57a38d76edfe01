//! Paths given on the command line.

use std::path::{Component, Path, PathBuf};

/// A path given on the command line, as a `/`-separated path from the repository root
/// (empty for the root itself). The path need not exist.
pub fn repo_path(work_dir: &Path, cwd: &Path, arg: &Path) -> anyhow::Result<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let lexical = |base: &Path| {
        let mut abs = PathBuf::new();
        for component in base.join(arg).components() {
            match component {
                Component::ParentDir => {
                    abs.pop();
                }
                Component::CurDir => {}
                other => abs.push(other),
            }
        }
        abs
    };
    // The current directory may be reached through a symlink: try its real path too.
    let real_cwd = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_owned());
    let (plain, real) = (lexical(cwd), lexical(&real_cwd));
    let rel = plain
        .strip_prefix(work_dir)
        .or_else(|_| real.strip_prefix(work_dir))
        .map_err(|_| anyhow::anyhow!("'{}' is outside the repository", arg.display()))?;
    let bytes = rel.as_os_str().as_bytes().to_vec();
    if bytes.eq_ignore_ascii_case(b".cow") || bytes.to_ascii_lowercase().starts_with(b".cow/") {
        anyhow::bail!("'{}' is inside the repository's store", arg.display());
    }
    Ok(bytes)
}
