//! `cow branch` and `cow tag`.

use std::io::Write;

use cow::Repository;

#[derive(clap::Args)]
pub struct Args {
    /// Delete branch NAME (refused if HEAD does not contain its commits)
    #[arg(short = 'd', long = "delete", conflicts_with = "start")]
    delete: bool,
    /// Delete branch NAME even if HEAD does not contain its commits
    #[arg(short = 'D', conflicts_with_all = ["delete", "start"])]
    force_delete: bool,
    /// The branch to create or delete; without it, list branches
    #[arg(required_if_eq_any = [("delete", "true"), ("force_delete", "true")])]
    name: Option<String>,
    /// Where the new branch starts (default HEAD)
    start: Option<String>,
    /// List the remote-tracking branches (REMOTE/BRANCH)
    #[arg(short = 'r', long = "remotes", conflicts_with_all = ["name", "all"])]
    remotes: bool,
    /// List local and remote-tracking branches
    #[arg(short = 'a', long = "all", conflicts_with = "name")]
    all: bool,
    /// Print the current branch's name (nothing when HEAD is detached)
    #[arg(long, conflicts_with_all = ["name", "all", "remotes", "delete", "force_delete"])]
    show_current: bool,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.show_current {
        if let cow::refs::Head::Branch(name) = repo.head()? {
            writeln!(out, "{}", name.shorten())?;
        }
        return Ok(());
    }
    let Some(name) = &args.name else {
        if !args.remotes {
            for branch in repo.branches()? {
                let mark = if branch.current { '*' } else { ' ' };
                writeln!(out, "{mark} {}", branch.name)?;
            }
        }
        if args.remotes || args.all {
            let prefix = if args.all { "remotes/" } else { "" };
            for branch in repo.remote_branches()? {
                writeln!(out, "  {prefix}{}", branch.name)?;
            }
        }
        return Ok(());
    };
    if args.delete || args.force_delete {
        let id = repo.delete_branch(name, args.force_delete)?;
        writeln!(out, "Deleted branch {name} (was {})", id.to_hex_prefix(12))?;
    } else {
        repo.create_branch(name, args.start.as_deref())?;
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct TagArgs {
    /// Delete tag NAME
    #[arg(
        short = 'd',
        long = "delete",
        conflicts_with = "target",
        requires = "name"
    )]
    delete: bool,
    /// The tag to create or delete; without it, list tags
    name: Option<String>,
    /// The commit to tag (default HEAD)
    target: Option<String>,
}

pub fn tag(repo: &Repository, args: &TagArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let Some(name) = &args.name else {
        for tag in repo.tags()? {
            writeln!(out, "{}", tag.name)?;
        }
        return Ok(());
    };
    if args.delete {
        let id = repo.delete_tag(name)?;
        writeln!(out, "Deleted tag '{name}' (was {})", id.to_hex_prefix(12))?;
    } else {
        repo.create_tag(name, args.target.as_deref())?;
    }
    Ok(())
}
