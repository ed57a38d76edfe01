//! Command-line front end: one module per command; the library does the work and
//! these modules only format its results.

mod archive;
mod branch;
mod cat_file;
mod checkout;
mod commit;
mod completions;
mod config;
mod diff;
mod editor;
mod forget;
mod format;
mod fsck;
mod gc;
mod graph;
mod habits;
mod init;
mod json;
mod log;
mod ls_files;
mod ls_tree;
mod op;
mod paths;
mod progress;
mod remote;
mod reset;
mod restore_to;
mod rev_parse;
mod show;
mod stats;
mod status;
mod transfer;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cow::Repository;

/// A content-addressed snapshotting version store: every version of a directory, kept
/// forever, at the cost of only what changed.
#[derive(Parser)]
#[command(name = "cow", version, propagate_version = true)]
struct Cli {
    /// Run as if cow was started in DIR
    #[arg(short = 'C', value_name = "DIR", global = true)]
    chdir: Vec<PathBuf>,

    /// Seconds a writer waits for another writer's lock before giving up
    #[arg(long, value_name = "SECONDS", global = true, default_value = "10",
          value_parser = parse_seconds)]
    lock_timeout: std::time::Duration,

    /// Read branches, tags and HEAD as operation OP left them (`cow op log`), for
    /// commands that only read: log, show, diff, ls-tree, rev-parse, cat-file, branch
    /// and tag lists
    #[arg(long, value_name = "OP", global = true)]
    at_op: Option<String>,

    #[command(subcommand)]
    command: Command,
}

// Each subcommand's arguments are defined only when it is the one invoked (clap's
// `defer`): building all of them cost every command a tenth of a millisecond.
#[derive(Subcommand)]
#[command(defer = true)]
enum Command {
    /// Create an empty repository in DIR (default: the current directory)
    Init(init::Args),
    /// Snapshot the whole working directory as a new commit
    Commit(commit::Args),
    /// Show what changed in the working directory since the last snapshot
    Status(status::Args),
    /// Show the history, newest first
    Log(log::Args),
    /// Show changes between snapshots, or between a snapshot and the working directory
    Diff(diff::Args),
    /// Show a commit (header, message and patch), or the file or directory at REV:PATH
    Show(show::Args),
    /// List a directory of a snapshot: `<mode> <type> <id>\t<path>`
    LsTree(ls_tree::Args),
    /// List the files a commit would snapshot now (git's `ls-files` after `add -A`)
    LsFiles(ls_files::Args),
    /// Print the full id each revision names
    RevParse(rev_parse::Args),
    /// Show an object's content, kind or size
    CatFile(cat_file::Args),
    /// Move the working directory and HEAD to another snapshot
    #[command(visible_alias = "switch")]
    Checkout(checkout::Args),
    /// Bring paths back from a snapshot without moving HEAD
    Restore(checkout::RestoreArgs),
    /// Write a snapshot (or paths of it) as a tar or .tar.zst archive
    Archive(archive::Args),
    /// Move the current branch (or detached HEAD) to another commit; with --hard, the
    /// working directory too
    Reset(reset::Args),
    /// Record a new commit that undoes a commit's changes
    Revert(reset::RevertArgs),
    /// List, create or delete branches
    Branch(branch::Args),
    /// List, create or delete tags
    Tag(branch::TagArgs),
    /// Get or set a repository setting, such as user.name and user.email
    Config(config::Args),
    /// List, add, remove or show remotes (other repositories, or object storage)
    Remote(remote::Args),
    /// Verify the store: every object's hash, and everything refs reach
    Fsck(fsck::Args),
    /// Repack everything reachable: loose objects and small packs into one new pack with
    /// deltas, large packs kept as they are; and remove unreachable objects
    Gc(gc::Args),
    /// Count loose and packed objects and the bytes they take
    CountObjects(gc::CountArgs),
    /// Show what snapshots hold and cost: files, logical and stored bytes, dedup and
    /// compression ratios, per snapshot and for the store (restic's `stats`)
    Stats(stats::Args),
    /// Forget snapshots of a branch by restic's retention policy (--keep-daily 7 ...),
    /// rewriting the chain after them; `gc --prune=now` then frees their data
    Forget(forget::Args),
    /// Send branches and the snapshots they reach to a remote
    Push(transfer::PushArgs),
    /// Bring a remote's snapshots and branches (as REMOTE/BRANCH) here
    Fetch(transfer::FetchArgs),
    /// Fetch, then fast-forward the current branch to the remote's
    Pull(transfer::PullArgs),
    /// Copy a repository (a path or s3://bucket/prefix) into a new directory
    Clone(transfer::CloneArgs),
    /// Undo the last operation (repeat to go further back); the log keeps it
    Undo(op::RestoreOptions),
    /// Redo the operation the last undo reversed
    Redo(op::RestoreOptions),
    /// The operation log: every command that changed branches, tags or HEAD
    Op(op::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(completions::Args),
    /// Print the man page, or write every command's page with --dir
    Man(completions::ManArgs),
    /// git's `add`, `stage`, `rm` and `mv`: answered with a hint (cow has no staging area)
    #[command(hide = true, alias = "stage", alias = "rm", alias = "mv")]
    Add(habits::StagingArgs),
}

/// Exit status for a command that ran but reports failure without an error message
/// (such as `config KEY` for an unset key).
pub(crate) struct Quiet(pub u8);

impl std::fmt::Debug for Quiet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}
impl std::fmt::Display for Quiet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}
impl std::error::Error for Quiet {}

/// A usage error found after parsing (exit status 2): a git habit cow answers with a
/// hint that teaches its model (no staging area: every commit snapshots everything),
/// or arguments git would also refuse.
#[derive(Debug)]
pub(crate) struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Usage {}

/// Runs the command line and maps the outcome to an exit status: 0 success, 1 error or
/// refusal, 2 usage error (from clap); a command may return [`Quiet`] with its own (3:
/// `commit --on-change=skip|warn` committed with warnings).
pub fn main() -> ExitCode {
    // A file-size limit (`ulimit -f`) must make a write fail with an error, not kill us.
    // SAFETY: setting a signal disposition before any other thread exists.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let args = git_style_args(std::env::args_os());
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, subcommand(&args)),
    };
    let stdout = io::stdout();
    let mut out: Box<dyn Write> = if stdout.is_terminal() {
        Box::new(io::LineWriter::new(stdout.lock()))
    } else {
        Box::new(io::BufWriter::new(stdout.lock()))
    };
    let result = run(cli, &mut out).and_then(|()| Ok(out.flush()?));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(Quiet(code)) = err.downcast_ref::<Quiet>() {
                return ExitCode::from(*code);
            }
            let broken_pipe = err.chain().any(|e| {
                e.downcast_ref::<io::Error>()
                    .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            let _ = out.flush();
            drop(out);
            if let Some(Usage(message)) = err.downcast_ref::<Usage>() {
                let _ = writeln!(io::stderr(), "cow: error: {message}");
                return ExitCode::from(2);
            }
            let hint = hint(&err).unwrap_or_default();
            let _ = writeln!(io::stderr(), "cow: error: {}{hint}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to stdout as clap prints them; a usage error is one line on
/// stderr, like every other error, with exit status 2.
fn usage_error(e: clap::Error, subcommand: Option<&str>) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit()
    }
    // clap's message: "error: what", maybe indented details, a blank line, then
    // tips ("a similar subcommand exists: 'commit'") and the usage line. Keep what, the
    // details and the tips, and point at the help of the command that was run.
    let text = e.render().to_string();
    let what: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.trim().trim_start_matches("error: "))
        .collect();
    let tips: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("tip: "))
        .collect();
    let tips: String = tips.iter().map(|t| format!("; {t}")).collect();
    let _ = writeln!(
        io::stderr(),
        "cow: error: {}{tips} (see '{} --help')",
        what.join(" "),
        usage_command(&text, subcommand)
    );
    ExitCode::from(2)
}

/// The command whose usage clap printed (`cow commit` from "Usage: cow commit
/// [OPTIONS]"), else the subcommand typed if there is one by that name, else `cow`.
fn usage_command(text: &str, subcommand: Option<&str>) -> String {
    if let Some(usage) = text.lines().find_map(|l| l.trim().strip_prefix("Usage: ")) {
        let words: Vec<&str> = usage
            .split_whitespace()
            .take_while(|w| {
                !w.starts_with('-') && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
            })
            .collect();
        if words.first() == Some(&"cow") {
            return words.join(" ");
        }
    }
    use clap::CommandFactory;
    match subcommand.and_then(|name| {
        Cli::command()
            .find_subcommand(name)
            .map(|c| c.get_name().to_owned())
    }) {
        Some(name) => format!("cow {name}"),
        None => "cow".to_owned(),
    }
}

/// The subcommand word: the first argument that is neither an option nor an option's
/// value.
fn subcommand(args: &[std::ffi::OsString]) -> Option<&str> {
    let mut i = 1;
    while i < args.len() {
        match args[i].to_str() {
            Some("-C" | "--lock-timeout") => i += 2,
            Some(a) if a.starts_with('-') => i += 1,
            other => return other,
        }
    }
    None
}

/// Rewrites git's attached short forms clap cannot take while keeping `-M` alone
/// optional: in `diff` and `log`, `-M50%` becomes `--find-renames=50%`. Arguments of
/// other commands (a commit message, say) and after `--` are left alone.
fn git_style_args(args: impl Iterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let args: Vec<std::ffi::OsString> = args.collect();
    if !matches!(subcommand(&args), Some("diff" | "log")) {
        return args;
    }
    let is_log = subcommand(&args) == Some("log");
    let mut seen_dashes = false;
    args.into_iter()
        .map(|arg| {
            if arg == "--" {
                seen_dashes = true;
            }
            // `log -5`: git's short form of `-n 5`.
            let count = arg.to_str().and_then(|a| a.strip_prefix('-'));
            if is_log
                && !seen_dashes
                && count.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            {
                return format!("--max-count={}", count.unwrap_or_default()).into();
            }
            match arg.to_str().and_then(|a| a.strip_prefix("-M")) {
                Some(value) if !seen_dashes && !value.is_empty() => {
                    format!("--find-renames={value}").into()
                }
                _ => arg,
            }
        })
        .collect()
}

/// What the command line adds to a library error: the flag or command that gets past
/// it. The library names no flags (a program embedding it has none).
fn hint(err: &anyhow::Error) -> Option<&'static str> {
    use cow::repository::Error;
    Some(match err.downcast_ref::<Error>()? {
        Error::Locked { .. } => " (see --lock-timeout)",
        Error::NothingToCommit => {
            " (use --allow-empty to commit anyway, or --allow-unchanged to exit 0 without a commit)"
        }
        Error::MissingIdentity(_) => {
            ", or run `cow config --global user.name NAME` and `cow config --global user.email EMAIL`"
        }
        Error::CheckoutConflicts(_) => "; commit or move them, or use --force to discard them",
        Error::RestoreConflicts(_) => "; commit them, or use --force to discard them",
        Error::TargetConflicts { .. } => " (use --force to replace them)",
        Error::NotMerged(_) => "; use -D to delete it anyway",
        Error::AmendEmpty => {
            " (use --allow-empty to amend anyway, or `cow reset HEAD~1` to drop the commit and keep the files)"
        }
        Error::RevertUnsaved(_) => "; commit them, or bring HEAD's back with `cow restore PATH`",
        Error::RevertConflicts { .. } => {
            " (only clean reverts are made: bring those paths back by hand with `cow restore --source REV^ PATH` and commit)"
        }
        Error::Remote(cow::remote::Error::Unsafe { .. }) => " (cow remote add --single-writer)",
        Error::NoWorkDir(_) => {
            " (run the command in the working directory, or name one with COW_WORK_TREE=DIR)"
        }
        Error::LinkMismatch { .. } => {
            " (if the working directory moved, run `cow -C STORE config core.worktree DIR`)"
        }
        _ => return None,
    })
}

/// The error and its causes joined on one line, each cause once.
fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ").replace('\n', " ")
}

/// `--lock-timeout`: a number of seconds, fractions allowed; a bad one is a usage error.
fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    s.parse::<f64>()
        .ok()
        .and_then(|secs| std::time::Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| "not a number of seconds".to_owned())
}

/// Whether `command` only reads refs, so that `--at-op` may give it an operation's.
fn reads_only(command: &Command) -> bool {
    match command {
        Command::Log(_)
        | Command::Show(_)
        | Command::Diff(_)
        | Command::LsTree(_)
        | Command::RevParse(_)
        | Command::CatFile(_) => true,
        Command::Branch(args) => args.lists_only(),
        Command::Tag(args) => args.lists_only(),
        _ => false,
    }
}

fn run(cli: Cli, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut cwd = std::env::current_dir()?;
    for dir in &cli.chdir {
        cwd = cwd.join(dir);
    }
    let timeout = cli.lock_timeout;
    if let Some(op) = &cli.at_op
        && !reads_only(&cli.command)
    {
        return Err(Usage(format!(
            "--at-op {op} is for commands that only read (log, show, diff, ls-tree, rev-parse, cat-file, branch and tag lists)"
        ))
        .into());
    }
    // As git's GIT_DIR and GIT_WORK_TREE: the store, and the working directory (else
    // the store's own `core.worktree`; none makes it bare), relative to the directory
    // cow runs in.
    let env_path = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(|v| cwd.join(v))
    };
    let (store_env, work_env) = (env_path("COW_DIR"), env_path("COW_WORK_TREE"));
    let discover = || -> anyhow::Result<Repository> {
        let mut repo = match (&store_env, &work_env) {
            (Some(store), work) => Repository::open_store(store, work.as_deref())?,
            (None, Some(work)) => {
                Repository::open_store(Repository::discover(&cwd)?.cow_dir(), Some(work))?
            }
            (None, None) => Repository::discover(&cwd)?,
        };
        repo.set_lock_timeout(timeout);
        match &cli.at_op {
            Some(op) => Ok(repo.at_operation(op)?),
            None => Ok(repo),
        }
    };
    match &cli.command {
        Command::Init(args) => {
            init::run(&cwd, args, store_env.as_deref(), work_env.as_deref(), out)
        }
        Command::Commit(args) => {
            json::errors_as_json(args.json, || commit::run(&discover()?, args, out))
        }
        Command::Status(args) => {
            json::errors_as_json(args.json, || status::run(&discover()?, &cwd, args, out))
        }
        Command::Checkout(args) => {
            json::errors_as_json(args.json, || checkout::run(&discover()?, args, out))
        }
        Command::Restore(args) => json::errors_as_json(args.json, || {
            checkout::restore(&discover()?, &cwd, args, out)
        }),
        Command::Archive(args) => {
            json::errors_as_json(args.json, || archive::run(&discover()?, &cwd, args, out))
        }
        Command::Reset(args) => {
            json::errors_as_json(args.json, || reset::run(&discover()?, args, out))
        }
        Command::Revert(args) => {
            json::errors_as_json(args.json, || reset::revert(&discover()?, args, out))
        }
        Command::Branch(args) => {
            json::errors_as_json(args.json, || branch::run(&discover()?, args, out))
        }
        Command::Tag(args) => {
            json::errors_as_json(args.json, || branch::tag(&discover()?, args, out))
        }
        Command::Log(args) => log::run(&discover()?, &cwd, args, out),
        Command::Diff(args) => {
            json::errors_as_json(args.json, || diff::run(&discover()?, &cwd, args, out))
        }
        Command::Show(args) => {
            json::errors_as_json(args.json, || show::run(&discover()?, &cwd, args, out))
        }
        Command::LsTree(args) => {
            json::errors_as_json(args.json, || ls_tree::run(&discover()?, args, out))
        }
        Command::LsFiles(args) => ls_files::run(&discover()?, &cwd, args, out),
        Command::RevParse(args) => {
            json::errors_as_json(args.json, || rev_parse::run(&discover()?, args, out))
        }
        Command::CatFile(args) => {
            json::errors_as_json(args.json, || cat_file::run(&discover()?, args, out))
        }
        Command::Config(args) => {
            json::errors_as_json(args.json, || config::run(discover, args, out))
        }
        Command::Remote(args) => remote::run(discover, &cwd, args, out),
        Command::Undo(args) => {
            json::errors_as_json(args.json, || op::undo(&discover()?, args, out))
        }
        Command::Redo(args) => {
            json::errors_as_json(args.json, || op::redo(&discover()?, args, out))
        }
        Command::Op(args) => op::run(&discover()?, args, out),
        Command::Fsck(args) => {
            json::errors_as_json(args.json, || fsck::run(&discover()?, args, out))
        }
        Command::Gc(args) => json::errors_as_json(args.json, || gc::run(&discover()?, args, out)),
        Command::CountObjects(args) => {
            json::errors_as_json(args.json, || gc::count(&discover()?, args, out))
        }
        Command::Stats(args) => {
            json::errors_as_json(args.json, || stats::run(&discover()?, args, out))
        }
        Command::Forget(args) => {
            json::errors_as_json(args.json, || forget::run(&discover()?, args, out))
        }
        Command::Push(args) => json::errors_as_json(args.output.json, || {
            transfer::push(&discover()?, &cwd, args, out)
        }),
        Command::Fetch(args) => json::errors_as_json(args.output.json, || {
            transfer::fetch(&discover()?, &cwd, args, out)
        }),
        Command::Pull(args) => json::errors_as_json(args.output.json, || {
            transfer::pull(&discover()?, &cwd, args, out)
        }),
        Command::Completions(args) => completions::run(args, out),
        Command::Man(args) => completions::man(args, out),
        Command::Add(_) => Err(habits::staging(std::env::args_os())),
        Command::Clone(args) => {
            json::errors_as_json(args.output.json, || transfer::clone(&cwd, args, out))
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// clap checks a command's definition (clashing flags, bad defaults) as it builds
    /// it. With `defer`, a subcommand's arguments are built only when it is invoked, so
    /// build and check every one here.
    #[test]
    fn every_command_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
