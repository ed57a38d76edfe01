//! `cow completions` and `cow man`: shell completion scripts and man pages generated
//! from the command-line definitions, so they never drift from the commands.

use std::io::Write;
use std::path::PathBuf;

use clap::CommandFactory;

#[derive(clap::Args)]
pub struct Args {
    /// The shell to complete for
    shell: clap_complete::Shell,
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// Write cow.1 and one page per command (cow-commit.1, …) into DIR instead of
    /// printing cow.1
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Prints the completion script for a shell.
pub fn run(args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut command = super::Cli::command();
    clap_complete::generate(args.shell, &mut command, "cow", out);
    Ok(())
}

/// Prints the man page of `cow`, or writes every page into a directory.
pub fn man(args: &ManArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let command = super::Cli::command();
    match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| {
                anyhow::anyhow!("could not create directory '{}': {e}", dir.display())
            })?;
            clap_mangen::generate_to(command, dir).map_err(|e| {
                anyhow::anyhow!("could not write man pages to '{}': {e}", dir.display())
            })?;
        }
        None => clap_mangen::Man::new(command).render(out)?,
    }
    Ok(())
}
