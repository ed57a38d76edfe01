//! git commands cow has no use for, answered with a hint that teaches its model: there
//! is no staging area, every commit snapshots the whole working directory.

use std::ffi::OsString;

use super::Usage;

/// Whatever follows `add`, `stage`, `rm` or `mv`.
#[derive(clap::Args)]
pub struct StagingArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<OsString>,
}

/// The hint for `add`, `stage`, `rm` or `mv`, named as typed (found in `argv`).
pub fn staging(argv: impl Iterator<Item = OsString>) -> anyhow::Error {
    let argv: Vec<OsString> = argv.collect();
    let typed = super::subcommand(&argv).unwrap_or("add");
    let what = match typed {
        "rm" => "delete the files (rm PATH), then `cow commit -m MSG` snapshots their absence",
        "mv" => "move the files (mv OLD NEW), then `cow commit -m MSG` snapshots the move",
        _ => "`cow commit -m MSG` snapshots every file of the working directory as it is",
    };
    Usage(format!(
        "there is no `cow {typed}`: cow has no staging area; {what}"
    ))
    .into()
}
