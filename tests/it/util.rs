//! Test helpers: temporary repositories, the `cow` binary with a fixed identity, git
//! run hermetically as the oracle, and a seeded generator of file trees.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The fixed identity and date every test commit uses.
pub const NAME: &str = "A U Thor";
pub const EMAIL: &str = "author@example.com";
pub const DATE: &str = "1700000000 +0130";

/// A scratch directory with a working directory `work/` inside it.
pub struct Env {
    pub tmp: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::create_dir(tmp.path().join("work")).unwrap();
        Env { tmp }
    }

    /// The working directory.
    pub fn work(&self) -> PathBuf {
        self.tmp.path().join("work")
    }

    /// A `cow` command in `dir` with a cleared environment and the fixed identity.
    pub fn cow_cmd(&self, dir: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cow"));
        cmd.current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.tmp.path())
            .env("COW_AUTHOR_NAME", NAME)
            .env("COW_AUTHOR_EMAIL", EMAIL)
            .env("COW_AUTHOR_DATE", DATE);
        cmd
    }

    /// Runs `cow ARGS` in the working directory.
    pub fn cow<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cow_cmd(&self.work())
            .args(args)
            .output()
            .expect("run cow")
    }

    /// Runs `cow ARGS` and asserts success; returns stdout.
    pub fn cow_ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let out = self.cow(args);
        assert!(out.status.success(), "cow failed: {}", describe(&out));
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs `cow ARGS` in the working directory as an unprivileged user, so file
    /// permissions bite: as root (CI), the scratch directory is given to `nobody` and
    /// the binary run through `setpriv`; otherwise it runs as the current user.
    pub fn cow_as_nobody(&self, args: &[&str]) -> Output {
        let is_root = unsafe { libc::geteuid() } == 0;
        let mut cmd = if is_root {
            let status = Command::new("chown")
                .args(["-R", "65534:65534"])
                .arg(self.tmp.path())
                .status()
                .unwrap();
            assert!(status.success());
            fs::set_permissions(self.tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
            let mut cmd = Command::new("setpriv");
            cmd.args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                env!("CARGO_BIN_EXE_cow"),
            ]);
            cmd
        } else {
            Command::new(env!("CARGO_BIN_EXE_cow"))
        };
        cmd.current_dir(self.work())
            .env("COW_AUTHOR_NAME", NAME)
            .env("COW_AUTHOR_EMAIL", EMAIL)
            .env("COW_AUTHOR_DATE", DATE)
            .args(args)
            .output()
            .unwrap()
    }

    /// `cow init` in the working directory.
    pub fn init(&self) {
        self.cow_ok(["init"]);
    }

    /// Commits and returns the new commit id (from `rev-parse HEAD`).
    pub fn commit(&self, message: &str) -> String {
        self.cow_ok(["commit", "-m", message]);
        self.cow_ok(["rev-parse", "HEAD"]).trim().to_owned()
    }
}

/// Status, stdout and stderr of a finished command, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts a command failed with exit 1 and one `cow: error:` line containing `want`.
pub fn assert_error(out: &Output, want: &str) {
    assert_failure(out, 1, want);
}

/// Asserts a command failed with exit `code` and one `cow: error:` line containing
/// `want`.
pub fn assert_failure(out: &Output, code: i32, want: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{}", describe(out));
    assert!(
        stderr.starts_with("cow: error: ") && stderr.lines().count() == 1,
        "expected one error line: {}",
        describe(out)
    );
    assert!(
        stderr.contains(want),
        "expected {want:?} in: {}",
        describe(out)
    );
}

/// The file of loose object `id` (hex) in the repository at `work`.
pub fn object_path(work: &Path, id: &str) -> PathBuf {
    work.join(".cow/objects").join(&id[..2]).join(&id[2..])
}

/// Writes a file, making parent directories.
pub fn write(path: &Path, content: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, content).unwrap();
}

/// Sets or clears the executable bits of a file.
pub fn set_exec(path: &Path, exec: bool) {
    let mode = if exec { 0o755 } else { 0o644 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Fixed author and committer for library commits (empty commits allowed).
pub fn commit_options() -> cow::repository::CommitOptions<'static> {
    let sig =
        cow::object::Signature::new(NAME, EMAIL, cow::object::Time::parse(DATE).unwrap()).unwrap();
    cow::repository::CommitOptions {
        author: Some(sig.clone()),
        committer: Some(sig),
        allow_empty: true,
        ..Default::default()
    }
}

/// Every file under `dir` (not following symlinks), relative, sorted, `.cow` left out.
pub fn list_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".cow")
        .map(|e| e.unwrap())
        .filter(|e| !e.file_type().is_dir())
        .map(|e| e.path().strip_prefix(dir).unwrap().to_owned())
        .collect();
    out.sort();
    out
}

/// Number of objects in a repository's store, loose or packed.
pub fn count_objects(work: &Path) -> usize {
    cow::Repository::open(work)
        .unwrap()
        .odb()
        .all_ids()
        .unwrap()
        .len()
}

/// Number of files under `.cow/objects` (loose objects, packs and their indexes).
pub fn count_object_files(work: &Path) -> usize {
    walkdir::WalkDir::new(work.join(".cow/objects"))
        .min_depth(1)
        .into_iter()
        .filter(|e| e.as_ref().unwrap().file_type().is_file())
        .count()
}

// ---- git, the oracle ----

/// Whether git with SHA-256 support can run. When it cannot, prints why; under
/// `COW_REQUIRE_GIT=1` (as in CI) it panics instead of letting the caller skip.
pub fn git_available() -> bool {
    let probe = tempfile::tempdir().expect("tempdir");
    let ok = Command::new("git")
        .args(["init", "-q", "--object-format=sha256"])
        .arg(probe.path())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        let why = "git with --object-format=sha256 is not available";
        if std::env::var_os("COW_REQUIRE_GIT").is_some_and(|v| v == "1") {
            panic!("{why}, and COW_REQUIRE_GIT=1");
        }
        eprintln!("skipping: {why}");
    }
    ok
}

/// A hermetic git command in `dir`: no global or system config, fixed identity and
/// dates matching the cow ones.
pub fn git_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", NAME)
        .env("GIT_AUTHOR_EMAIL", EMAIL)
        .env("GIT_AUTHOR_DATE", DATE)
        .env("GIT_COMMITTER_NAME", NAME)
        .env("GIT_COMMITTER_EMAIL", EMAIL)
        .env("GIT_COMMITTER_DATE", DATE);
    cmd
}

/// Runs git and returns its trimmed stdout, panicking on failure.
pub fn git<I, S>(dir: &Path, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    git_stdin(dir, args, b"")
}

/// Runs git with `stdin` and returns its trimmed stdout, panicking on failure.
pub fn git_stdin<I, S>(dir: &Path, args: I, stdin: &[u8]) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    String::from_utf8(git_raw(dir, args, stdin))
        .expect("utf-8 git output")
        .trim()
        .to_owned()
}

/// Runs git with `stdin` and returns its raw stdout, panicking on failure.
pub fn git_raw<I, S>(dir: &Path, args: I, stdin: &[u8]) -> Vec<u8>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    use std::io::Write;
    let mut child = git_cmd(dir)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run git");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "git failed: {}", describe(&out));
    out.stdout
}

/// A git repository over a cow working directory, its `.git` kept outside (so cow
/// never snapshots it) and `.cow` excluded.
pub struct GitMirror {
    pub git_dir: PathBuf,
    pub work: PathBuf,
}

impl GitMirror {
    pub fn new(env: &Env) -> GitMirror {
        let git_dir = env.tmp.path().join("mirror.git");
        git(
            env.tmp.path(),
            [
                "init",
                "-q",
                "--bare",
                "--object-format=sha256",
                "mirror.git",
            ],
        );
        git(&git_dir, ["config", "core.bare", "false"]);
        fs::write(git_dir.join("info/exclude"), "/.cow/\n").unwrap();
        GitMirror {
            git_dir,
            work: env.work(),
        }
    }

    /// Runs git on the mirror with `stdin`; returns raw stdout.
    pub fn raw<I, S>(&self, args: I, stdin: &[u8]) -> Vec<u8>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut full: Vec<std::ffi::OsString> = vec![
            format!("--git-dir={}", self.git_dir.display()).into(),
            format!("--work-tree={}", self.work.display()).into(),
        ];
        full.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        git_raw(&self.work, full, stdin)
    }

    /// Runs git on the mirror; returns raw stdout.
    pub fn run(&self, args: &[&str]) -> Vec<u8> {
        self.raw(args, b"")
    }

    /// Runs git on the mirror from `dir` (a directory of the working directory, so
    /// git shows paths relative to it); returns raw stdout.
    pub fn run_in(&self, dir: &Path, args: &[&str]) -> Vec<u8> {
        let mut full: Vec<std::ffi::OsString> = vec![
            format!("--git-dir={}", self.git_dir.display()).into(),
            format!("--work-tree={}", self.work.display()).into(),
        ];
        full.extend(args.iter().map(|a| a.into()));
        git_raw(dir, full, b"")
    }

    /// Commits the working directory as it is; returns the commit id.
    pub fn snapshot(&self, message: &str) -> String {
        self.run(&["add", "-A"]);
        self.run(&["commit", "-q", "--allow-empty", "-m", message]);
        String::from_utf8(self.run(&["rev-parse", "HEAD"]))
            .unwrap()
            .trim()
            .to_owned()
    }
}

// ---- generated trees ----

/// A small deterministic PRNG (SplitMix64), so generated trees are reproducible from
/// a printed seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Names that exercise git's sort rule, spaces, dots and non-UTF-8 bytes.
pub const TRICKY_NAMES: &[&[u8]] = &[
    b"a",
    b"a.b",
    b"a-b",
    b"a0",
    b"ab",
    b"A",
    b"with space",
    b".hidden",
    b"..dots",
    b"caf\xc3\xa9",
    b"raw\xff\xfe",
    b"tab\tname",
    b"quote\"d",
    b"back\\slash",
    b"z",
];

/// Fills `dir` with a random tree: regular and executable files, symlinks, nested and
/// empty directories, tricky names. Returns the number of files and symlinks made.
pub fn generate_tree(rng: &mut Rng, dir: &Path, depth: u32) -> usize {
    fs::create_dir_all(dir).unwrap();
    let mut made = 0;
    let entries = 1 + rng.below(6);
    for _ in 0..entries {
        let name = OsStr::from_bytes(rng.pick(TRICKY_NAMES));
        let path = dir.join(name);
        if fs::symlink_metadata(&path).is_ok() {
            continue;
        }
        match rng.below(10) {
            0..=4 => {
                let len = rng.pick(&[0usize, 1, 17, 300, 5000]);
                fs::write(&path, rng.bytes(len)).unwrap();
                set_exec(&path, rng.chance(25));
                made += 1;
            }
            5 => {
                let target = OsStr::from_bytes(rng.pick(TRICKY_NAMES));
                std::os::unix::fs::symlink(target, &path).unwrap();
                made += 1;
            }
            6 => fs::create_dir(&path).unwrap(),
            _ if depth > 0 => made += generate_tree(rng, &path, depth - 1),
            _ => fs::create_dir(&path).unwrap(),
        }
    }
    made
}

// ---- comparing directories ----

/// What a path holds, for comparing a directory with a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    File {
        data: Vec<u8>,
        exec: bool,
    },
    Link(Vec<u8>),
    Dir,
    /// A FIFO, socket or device (never opened).
    Special,
}

/// Every path under `dir` (`.cow` left out) with its content, mode or link target.
pub fn manifest(dir: &Path) -> std::collections::BTreeMap<Vec<u8>, Item> {
    let mut out = std::collections::BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".cow")
    {
        let entry = entry.unwrap();
        let rel = entry
            .path()
            .strip_prefix(dir)
            .unwrap()
            .as_os_str()
            .as_bytes()
            .to_vec();
        let ft = entry.file_type();
        let item = if ft.is_symlink() {
            Item::Link(
                fs::read_link(entry.path())
                    .unwrap()
                    .as_os_str()
                    .as_bytes()
                    .to_vec(),
            )
        } else if ft.is_dir() {
            Item::Dir
        } else if !ft.is_file() {
            Item::Special
        } else {
            let exec = entry.metadata().unwrap().permissions().mode() & 0o100 != 0;
            Item::File {
                data: fs::read(entry.path()).unwrap(),
                exec,
            }
        };
        out.insert(rel, item);
    }
    out
}

/// Makes `cmd` run with at most `limit` bytes of data memory (RLIMIT_DATA: heap and
/// private writable mappings), so that a command that held a large object whole fails
/// to allocate it. Peak RSS cannot show that in tests: a forked child's counts the
/// parent's pages, and the tests share one process.
pub fn limit_data(cmd: &mut std::process::Command, limit: u64) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let rlimit = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_DATA, &rlimit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Writes (through the library) a commit of the empty tree with `message` and
/// `parents`, by the fixed identity of [`commit_options`]; returns its id.
pub fn empty_commit(
    repo: &cow::Repository,
    message: &str,
    parents: Vec<cow::ObjectId>,
) -> cow::ObjectId {
    let tree = repo
        .odb()
        .write_tree(&cow::object::Tree::from_entries(vec![]).unwrap())
        .unwrap()
        .id;
    let sig = commit_options().author.unwrap();
    let commit = cow::object::Commit {
        tree,
        parents,
        author: sig.clone(),
        committer: sig,
        extra_headers: vec![],
        message: format!("{message}\n").into_bytes(),
    };
    repo.odb().write_commit(&commit).unwrap().id
}
