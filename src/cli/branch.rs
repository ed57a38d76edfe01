//! `cow branch` and `cow tag`.

use std::io::Write;

use cow::refs::Head;
use cow::{ObjectId, Repository, Rev};
use serde_json::json;

#[derive(clap::Args)]
pub struct Args {
    /// Delete branch NAME (refused if HEAD does not contain its commits)
    #[arg(short = 'd', long = "delete", conflicts_with = "start")]
    delete: bool,
    /// Delete branch NAME even if HEAD does not contain its commits
    #[arg(short = 'D', conflicts_with_all = ["delete", "start"])]
    force_delete: bool,
    /// Create branch NAME, or move it if it exists (refused for the branch HEAD is on)
    #[arg(short = 'f', long, conflicts_with_all = ["delete", "force_delete"])]
    force: bool,
    /// Rename branch OLD (default: the current one) to NEW, as `branch -m [OLD] NEW`
    #[arg(short = 'm', long = "move", conflicts_with_all = ["delete", "force_delete", "force"])]
    rename: bool,
    /// Rename even if NEW exists, replacing it
    #[arg(short = 'M', conflicts_with_all = ["delete", "force_delete", "force", "rename"])]
    force_rename: bool,
    /// The branch to create, move or delete (with -m: OLD, or NEW alone); without it,
    /// list branches
    #[arg(required_if_eq_any = [
        ("delete", "true"), ("force_delete", "true"), ("force", "true"),
        ("rename", "true"), ("force_rename", "true"),
    ])]
    name: Option<String>,
    /// Where the new branch starts (default HEAD); with -m, NEW
    start: Option<String>,
    /// List the remote-tracking branches (REMOTE/BRANCH)
    #[arg(short = 'r', long = "remotes", conflicts_with_all = ["name", "all"])]
    remotes: bool,
    /// List local and remote-tracking branches
    #[arg(short = 'a', long = "all", conflicts_with = "name")]
    all: bool,
    /// With the list: each branch's commit, abbreviated, and its subject (as git's -v)
    #[arg(short = 'v', long = "verbose", conflicts_with = "name")]
    verbose: bool,
    /// Print the current branch's name (nothing when HEAD is detached)
    #[arg(long, conflicts_with_all = ["name", "all", "remotes", "delete", "force_delete"])]
    show_current: bool,

    /// List as one JSON document (see docs/json.md)
    #[arg(long, conflicts_with = "name")]
    pub json: bool,
}

pub fn run(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.show_current {
        if let cow::refs::Head::Branch(name) = repo.head()? {
            writeln!(out, "{}", name.shorten())?;
        }
        return Ok(());
    }
    let Some(name) = &args.name else {
        if args.json {
            return list_json(repo, args, out);
        }
        // As git lists them: a detached HEAD first, then the branches, then (with -a)
        // the remote-tracking ones; with -v, names padded to one width, then each
        // commit's abbreviated id and subject.
        let mut rows: Vec<(char, String, ObjectId)> = Vec::new();
        if !args.remotes {
            if let Head::Detached(id) = repo.head()? {
                let short = repo.odb().shortest_unique_prefix(&id, 7)?;
                rows.push(('*', format!("(HEAD detached at {short})"), id));
            }
            for branch in repo.branches()? {
                let mark = if branch.current { '*' } else { ' ' };
                rows.push((mark, branch.name, branch.id));
            }
        }
        if args.remotes || args.all {
            let prefix = if args.all { "remotes/" } else { "" };
            for branch in repo.remote_branches()? {
                rows.push((' ', format!("{prefix}{}", branch.name), branch.id));
            }
        }
        let width = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
        for (mark, name, id) in rows {
            if !args.verbose {
                writeln!(out, "{mark} {name}")?;
                continue;
            }
            let short = repo.odb().shortest_unique_prefix(&id, 7)?;
            let subject = repo.odb().find_commit(&id)?.summary();
            writeln!(out, "{mark} {name:<width$} {short} {subject}")?;
        }
        return Ok(());
    };
    if args.rename || args.force_rename {
        let (old, new) = match &args.start {
            Some(new) => (Some(name.as_str()), new),
            None => (None, name),
        };
        repo.rename_branch(old, new, args.force_rename)?;
    } else if args.force {
        repo.force_branch(name, args.start.as_deref().map(Rev::from))?;
    } else if args.delete || args.force_delete {
        let id = repo.delete_branch(name, args.force_delete)?;
        writeln!(out, "Deleted branch {name} (was {})", id.to_hex_prefix(12))?;
    } else {
        repo.create_branch(name, args.start.as_deref().map(Rev::from))?;
    }
    Ok(())
}

/// `branch --json`: the local branches (and a detached HEAD, first, as git lists it),
/// then with `-r` or `-a` the remote-tracking ones.
fn list_json(repo: &Repository, args: &Args, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut branches = Vec::new();
    if !args.remotes {
        if let (Head::Detached(_), Some(id)) = (repo.head()?, repo.head_commit()?) {
            branches.push(json!({
                "type": "branch", "name": "HEAD", "ref": null, "id": id.to_string(),
                "current": true, "detached": true, "remote": false,
            }));
        }
        for branch in repo.branches()? {
            branches.push(json!({
                "type": "branch", "name": branch.name,
                "ref": format!("refs/heads/{}", branch.name), "id": branch.id.to_string(),
                "current": branch.current, "detached": false, "remote": false,
            }));
        }
    }
    if args.remotes || args.all {
        for branch in repo.remote_branches()? {
            branches.push(json!({
                "type": "branch", "name": branch.name,
                "ref": format!("refs/remotes/{}", branch.name), "id": branch.id.to_string(),
                "current": false, "detached": false, "remote": true,
            }));
        }
    }
    let doc = json!({"type": "branches", "schema": 1, "branches": branches});
    writeln!(out, "{doc}")?;
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
    /// Create tag NAME, or move it if it exists
    #[arg(short = 'f', long, conflicts_with = "delete", requires = "name")]
    force: bool,
    /// The tag to create or delete; without it, list tags
    name: Option<String>,
    /// The commit to tag (default HEAD)
    target: Option<String>,
    /// List as one JSON document (see docs/json.md)
    #[arg(long, conflicts_with = "name")]
    pub json: bool,
}

impl Args {
    /// Whether the command only lists (no branch named: nothing changes).
    pub fn lists_only(&self) -> bool {
        self.name.is_none()
    }
}

impl TagArgs {
    /// Whether the command only lists (no tag named: nothing changes).
    pub fn lists_only(&self) -> bool {
        self.name.is_none()
    }
}

pub fn tag(repo: &Repository, args: &TagArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let Some(name) = &args.name else {
        if args.json {
            let tags: Vec<_> = repo
                .tags()?
                .into_iter()
                .map(|tag| {
                    json!({
                        "type": "tag", "name": tag.name,
                        "ref": format!("refs/tags/{}", tag.name), "id": tag.id.to_string(),
                    })
                })
                .collect();
            writeln!(
                out,
                "{}",
                json!({"type": "tags", "schema": 1, "tags": tags})
            )?;
            return Ok(());
        }
        for tag in repo.tags()? {
            writeln!(out, "{}", tag.name)?;
        }
        return Ok(());
    };
    if args.delete {
        let id = repo.delete_tag(name)?;
        writeln!(out, "Deleted tag '{name}' (was {})", id.to_hex_prefix(12))?;
    } else if args.force {
        // git's words when an existing tag moves.
        let (old, new) = repo.force_tag(name, args.target.as_deref().map(Rev::from))?;
        if let Some(old) = old.filter(|old| *old != new) {
            let short = repo.odb().shortest_unique_prefix(&old, 7)?;
            writeln!(out, "Updated tag '{name}' (was {short})")?;
        }
    } else {
        repo.create_tag(name, args.target.as_deref().map(Rev::from))?;
    }
    Ok(())
}
