//! Paths given on the command line.

use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use cow::object::{RepoPathBuf, quote_path_message};

/// A path given on the command line, as a path from the repository root (the root
/// itself when it names the working directory). The path need not exist; it must be
/// inside the working directory and not name anything a snapshot cannot hold (the
/// repository's store, or a nested repository's).
pub fn repo_path(work_dir: &Path, cwd: &Path, arg: &Path) -> anyhow::Result<RepoPathBuf> {
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
        .map_err(|_| anyhow::anyhow!("{} is outside the repository", shown(arg)))?;
    let bytes = rel.as_os_str().as_bytes().to_vec();
    if bytes.eq_ignore_ascii_case(b".cow") || bytes.to_ascii_lowercase().starts_with(b".cow/") {
        anyhow::bail!("{} is inside the repository's store", shown(arg));
    }
    // Lexically normal and relative: only a nested `.cow` can be refused here.
    RepoPathBuf::from_bytes(bytes)
        .map_err(|e| anyhow::anyhow!("{} is not a repository path: {}", shown(arg), e.reason))
}

/// A path from the repository root as git shows it to a user whose current directory
/// is `cwd` (a path from the root, empty at the root): relative to it, climbing with
/// `../` where needed, `./` for the directory itself (git's `relative_path`, used by
/// `status` and `ls-files`). A directory's path may end in `/`; it keeps it.
pub fn relative<'a>(path: &'a [u8], cwd: &[u8]) -> std::borrow::Cow<'a, [u8]> {
    if cwd.is_empty() {
        return path.into();
    }
    let components = cwd.split(|&b| b == b'/');
    let (mut at, mut up) = (0, 0);
    for component in components {
        let rest = &path[at..];
        let same = up == 0
            && rest.starts_with(component)
            && matches!(rest.get(component.len()), None | Some(b'/'));
        if same {
            at = (at + component.len() + 1).min(path.len());
        } else {
            up += 1;
        }
    }
    let mut shown = b"../".repeat(up);
    shown.extend_from_slice(&path[at..]);
    if shown.is_empty() {
        shown.extend_from_slice(b"./");
    }
    shown.into()
}

/// A command-line path in a message: as given between single quotes, or C-quoted
/// when it is not UTF-8 (never with a lossy U+FFFD).
fn shown(arg: &Path) -> String {
    match arg.to_str() {
        Some(text) => format!("'{text}'"),
        None => quote_path_message(arg.as_os_str().as_bytes()),
    }
}

/// A path naming part of a snapshot for commands that read snapshots rather than the
/// working directory (`restore --target`, `archive`): inside the working directory it
/// is taken from the current directory, as [`repo_path`] takes it; elsewhere (a store
/// reached with `-C`) from the snapshot's root, as `git archive` takes paths in a bare
/// repository (and always, for a bare store: `work_dir` `None`).
pub fn snapshot_path(
    work_dir: Option<&Path>,
    cwd: &Path,
    arg: &Path,
) -> anyhow::Result<RepoPathBuf> {
    if let Some(work_dir) = work_dir {
        let real_cwd = std::fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_owned());
        if cwd.starts_with(work_dir) || real_cwd.starts_with(work_dir) {
            return repo_path(work_dir, cwd, arg);
        }
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for component in arg.components() {
        match component {
            Component::Normal(name) => parts.push(name.as_bytes()),
            Component::CurDir => {}
            Component::ParentDir if parts.pop().is_some() => {}
            _ => anyhow::bail!("{} is outside the snapshot", shown(arg)),
        }
    }
    RepoPathBuf::from_bytes(parts.join(&b'/'))
        .map_err(|e| anyhow::anyhow!("{} is not a repository path: {}", shown(arg), e.reason))
}

/// [`snapshot_path`] of each argument.
pub fn snapshot_paths<P: AsRef<Path>>(
    work_dir: Option<&Path>,
    cwd: &Path,
    args: &[P],
) -> anyhow::Result<Vec<RepoPathBuf>> {
    args.iter()
        .map(|arg| snapshot_path(work_dir, cwd, arg.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_become_repository_paths() {
        let work = Path::new("/w");
        let at = |cwd: &str, arg: &str| repo_path(work, Path::new(cwd), Path::new(arg));
        assert_eq!(at("/w", "a/b").unwrap().as_bytes(), b"a/b");
        assert_eq!(at("/w/a", "../c/./d").unwrap().as_bytes(), b"c/d");
        assert!(at("/w", ".").unwrap().is_root());
        assert!(at("/w/a", "..").unwrap().is_root());
        let error = |cwd, arg| at(cwd, arg).unwrap_err().to_string();
        assert_eq!(error("/w", "../x"), "'../x' is outside the repository");
        assert_eq!(
            error("/w", ".COW/HEAD"),
            "'.COW/HEAD' is inside the repository's store"
        );
        assert_eq!(
            error("/w", "sub/.cow/HEAD"),
            "'sub/.cow/HEAD' is not a repository path: '.cow' is reserved for the repository"
        );
        let odd = repo_path(
            work,
            work,
            Path::new(std::ffi::OsStr::from_bytes(b"../\xff")),
        );
        assert_eq!(
            odd.unwrap_err().to_string(),
            "\"../\\377\" is outside the repository"
        );
    }

    #[test]
    fn paths_are_shown_relative_to_the_current_directory() {
        let shown = |path: &str, cwd: &str| {
            String::from_utf8(relative(path.as_bytes(), cwd.as_bytes()).into_owned()).unwrap()
        };
        assert_eq!(shown("a/b", ""), "a/b");
        assert_eq!(shown("sub/f", "sub"), "f");
        assert_eq!(shown("top", "sub"), "../top");
        assert_eq!(shown("sub/new/", "sub/new"), "./");
        assert_eq!(shown("sub/new/x", "sub/new"), "x");
        assert_eq!(shown("sub/f", "sub/new"), "../f");
        assert_eq!(shown("other/o", "sub/deep"), "../../other/o");
        assert_eq!(shown("subway/x", "sub"), "../subway/x");
        assert_eq!(shown("dir/", "sub"), "../dir/");
    }
}
