//! Taking a snapshot of the working directory as a commit.

use super::ops::OpInfo;
use super::{Error, Repository, Result};
use crate::object::{Commit, ObjectId, Signature, Time};
use crate::refs::{Expected, Head, RefName};
use crate::worktree::{self, OnChange, Progress, ScanOptions, Warning};
use std::cell::OnceCell;
use std::path::PathBuf;

/// Knobs for [`Repository::commit`].
#[derive(Default, Clone)]
pub struct CommitOptions<'a> {
    /// Commit even when the snapshot equals HEAD's (or is empty on a new branch).
    pub allow_empty: bool,
    /// The author; by default from the environment and config ([`Repository::signatures`]).
    pub author: Option<Signature>,
    /// The committer; by default likewise.
    pub committer: Option<Signature>,
    /// Called after each file is stored, from any thread.
    pub progress: Option<&'a (dyn Fn(Progress) + Sync)>,
    /// Leave out files and directories that cannot be read, with a warning, instead
    /// of failing.
    pub skip_unreadable: bool,
    /// What to do with a file that keeps changing while it is read (after the
    /// retries); `None` takes the config's `commit.onChange`, else
    /// [`OnChange::Fail`]. With [`OnChange::Skip`] or [`OnChange::Warn`], files that
    /// vanish while read are reported with them, and files and directories that cannot
    /// be read are left out as with [`skip_unreadable`](Self::skip_unreadable): the
    /// snapshot completes, and [`CommitOutcome::is_complete`] says whether it holds
    /// everything as found.
    pub on_change: Option<OnChange>,
}

/// What became of a file that changed (or vanished) while a commit read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeAction {
    /// Left out of the snapshot: if HEAD tracks it, the snapshot records it deleted.
    Skipped,
    /// The bytes read last are in the snapshot, maybe a version the file never had
    /// as a whole (for a file only appended to, a version it had).
    Stored,
}

impl ChangeAction {
    /// `skipped` or `stored`, as `--json` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Skipped => "skipped",
            ChangeAction::Stored => "stored",
        }
    }
}

/// A file that changed or vanished while a commit read it, with
/// [`OnChange::Skip`] or [`OnChange::Warn`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedWhileRead {
    /// Its path relative to the working directory.
    pub path: PathBuf,
    /// What was done with it.
    pub action: ChangeAction,
    /// It was gone when read (else it kept changing).
    pub vanished: bool,
}

/// What a commit made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitOutcome {
    /// The new commit.
    pub id: ObjectId,
    /// Its root tree.
    pub tree: ObjectId,
    /// The commit it follows, if any.
    pub parent: Option<ObjectId>,
    /// The branch that moved, or `None` when HEAD is detached.
    pub branch: Option<RefName>,
    /// Files and symlinks in the snapshot.
    pub files: u64,
    /// Files and symlinks whose content was read (the others were unchanged according
    /// to the stat cache).
    pub hashed: u64,
    /// Objects new to the store, the commit included.
    pub new_objects: u64,
    /// Compressed bytes added to the store.
    pub bytes_added: u64,
    /// What the snapshot left out.
    pub warnings: Vec<Warning>,
    /// The mode the commit ran with: [`CommitOptions::on_change`], else the config's.
    pub on_change: OnChange,
    /// Files that changed or vanished while read (with [`OnChange::Skip`] or
    /// [`OnChange::Warn`]; with [`OnChange::Fail`] a change fails the commit, and a
    /// file that vanished is only a [`Warning::Vanished`]), sorted by path.
    pub changed_while_read: Vec<ChangedWhileRead>,
    /// Files and directories left out because they could not be read, sorted by path.
    pub unreadable: Vec<PathBuf>,
}

impl CommitOutcome {
    /// Whether the snapshot holds every file as found. `false` only in the backup modes
    /// ([`OnChange::Skip`], [`OnChange::Warn`]) when a file changed, vanished or could
    /// not be read: the command line exits 3 then, as restic does for "snapshot
    /// created, but some files could not be read".
    pub fn is_complete(&self) -> bool {
        self.on_change == OnChange::Fail
            || (self.changed_while_read.is_empty() && self.unreadable.is_empty())
    }
}

/// The mode `commit.onChange` sets, if any.
fn configured_on_change(config: &super::Config) -> Result<Option<OnChange>> {
    config
        .get("commit.onChange")
        .map(|v| {
            v.parse()
                .map_err(|reason: String| Error::Config(format!("commit.onChange: {reason}")))
        })
        .transpose()
}

/// Cleans a message as `git commit -m` does: trailing spaces and leading and trailing
/// blank lines removed, runs of blank lines collapsed, and a final newline.
pub(crate) fn clean_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 1);
    let mut blank_run = false;
    for line in message.lines().map(str::trim_end) {
        if line.is_empty() {
            blank_run = !out.is_empty();
            continue;
        }
        if blank_run {
            out.push('\n');
            blank_run = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Commits with at least this many new objects write them as one pack; smaller ones
/// write loose files. On this machine creating a file costs about 360 µs and a pack
/// costs two files and three syncs, so a pack pays for itself from a few dozen objects.
pub const PACK_THRESHOLD: usize = 32;

/// Ends the pack a commit started: finished on success, dropped (with its temporary
/// file) when the commit fails.
struct PackGuard<'a>(&'a crate::odb::Odb);

impl PackGuard<'_> {
    fn finish(self) -> Result<()> {
        let odb = self.0;
        std::mem::forget(self);
        odb.finish_pack(PACK_THRESHOLD)?;
        Ok(())
    }
}

impl Drop for PackGuard<'_> {
    fn drop(&mut self) {
        self.0.abort_pack();
    }
}

impl Repository {
    /// Scans the working directory through the stat and directory caches, storing new
    /// objects when `store` (a commit) or only computing ids (status, checkout). With
    /// `store`, no tree is written when the root tree is `stored_tree` (HEAD's).
    /// Returns the scan and the stat cache it started from.
    pub(crate) fn scan(
        &self,
        store: bool,
        stored_tree: Option<ObjectId>,
        progress: Option<&(dyn Fn(Progress) + Sync)>,
        skip_unreadable: bool,
        on_change: OnChange,
    ) -> Result<(worktree::Scan, Option<worktree::Index>)> {
        let (index, dirs) = rayon::join(
            || worktree::Index::load(&self.cow_dir.join("index")),
            || worktree::DirCache::load(&self.cow_dir.join("dircache")),
        );
        let scan = worktree::scan(
            &self.odb,
            &self.work_dir,
            &ScanOptions {
                store,
                stored_tree,
                index: index.as_ref(),
                dirs: dirs.as_ref(),
                clock: worktree::Clock::SettleIn(&self.cow_dir),
                progress,
                skip_unreadable,
                on_change,
                // A commit holds the lock: no checkout is running to own them.
                remove_leftovers: store,
            },
        )?;
        Ok((scan, index))
    }

    /// Saves a fresh stat cache (with the repository lock held). The cache only saves
    /// work, so failing to write it is not an error: the next command rebuilds it.
    pub(crate) fn save_index(&self, index: &worktree::Index) {
        let _ = index.save(&self.cow_dir);
    }

    /// Saves a directory cache whose tree ids no stat cache vouches for (after a
    /// checkout changed files): only its listings will be used. Like the stat cache, it
    /// only saves work: failing to write it is not an error.
    pub(crate) fn save_dir_listings(&self, dirs: Option<&worktree::DirCache>) {
        if let Some(dirs) = dirs {
            let _ = dirs.save(&self.cow_dir, None);
        }
    }

    /// Saves the stat and directory caches a scan refreshed, those that changed;
    /// `loaded` is the stat cache the scan started from. The directory cache is saved
    /// only after its stat cache, with that cache's checksum.
    pub(crate) fn save_scanned(&self, scan: &worktree::Scan, loaded: Option<&worktree::Index>) {
        let index_sum = match &scan.index {
            Some(index) => match index.save(&self.cow_dir) {
                Ok(sum) => Some(sum),
                Err(_) => return,
            },
            None => loaded.and_then(worktree::Index::checksum),
        };
        if let Some(dirs) = &scan.dirs {
            let _ = dirs.save(&self.cow_dir, index_sum);
        }
    }

    /// Like [`save_scanned`](Self::save_scanned), from a command that does not write
    /// otherwise (status, diff), unless a writer holds the lock right now.
    pub(crate) fn save_scanned_if_free(
        &self,
        scan: &worktree::Scan,
        loaded: Option<&worktree::Index>,
    ) {
        if (scan.index.is_some() || scan.dirs.is_some())
            && let Some(_lock) = self.try_lock()
        {
            self.save_scanned(scan, loaded);
        }
    }

    /// The author and committer for a new commit: `COW_AUTHOR_NAME`,
    /// `COW_AUTHOR_EMAIL` and `COW_AUTHOR_DATE` (`<unix seconds> <+hhmm>`, `@<unix>` or ISO
    /// 8601, as git takes them), and
    /// `COW_COMMITTER_*` each falling back to its `COW_AUTHOR_*` counterpart; then the
    /// config's `user.name` and `user.email` (the repository's, else the global one:
    /// [`Repository::settings`]); then git's ([`git_identity`](super::git_identity));
    /// dates default to now.
    pub fn signatures(&self) -> Result<(Signature, Signature)> {
        let config = self.settings()?;
        let git = OnceCell::new();
        let now = Time::now();
        let var = |name: &'static str| match std::env::var(name) {
            Ok(v) => Ok(Some(v)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::InvalidEnv {
                name,
                reason: "not UTF-8".into(),
            }),
        };
        let pick = |own: &'static str, fallback: Option<&'static str>| -> Result<_> {
            Ok(match var(own)? {
                Some(v) => Some((own, v)),
                None => match fallback {
                    Some(f) => var(f)?.map(|v| (f, v)),
                    None => None,
                },
            })
        };
        let make = |role: &'static str,
                    prefix: [&'static str; 3],
                    fallback: Option<[&'static str; 3]>| {
            let fb = |i: usize| fallback.map(|f| f[i]);
            let name = match pick(prefix[0], fb(0))? {
                Some((var, v)) if v.trim().is_empty() => {
                    return Err(Error::InvalidEnv {
                        name: var,
                        reason: "empty".into(),
                    });
                }
                Some((_, v)) => v,
                None => match config.get("user.name") {
                    Some(v) => v.to_owned(),
                    None => git
                        .get_or_init(super::config::git_identity)
                        .name
                        .clone()
                        .map(|(v, _)| v)
                        .ok_or(Error::MissingIdentity(role))?,
                },
            };
            let email = match pick(prefix[1], fb(1))? {
                Some((_, v)) => v,
                None => match config.get("user.email") {
                    Some(v) => v.to_owned(),
                    None => git
                        .get_or_init(super::config::git_identity)
                        .email
                        .clone()
                        .map(|(v, _)| v)
                        .ok_or(Error::MissingIdentity(role))?,
                },
            };
            let time = match pick(prefix[2], fb(2))? {
                    Some((var, v)) => crate::object::date::parse_exact_date(&v)
                        .filter(|t| (0..=Time::MAX_SECONDS).contains(&t.seconds))
                        .ok_or_else(|| Error::InvalidEnv {
                            name: var,
                            reason: format!(
                                "'{v}' is not a date from 1970 to 9999 ('<unix seconds> <+hhmm>', '@<unix seconds>' or ISO 8601 such as '2024-01-31 12:00:00 +0100')"
                            ),
                        })?,
                    None => now,
                };
            Ok(Signature::new(name.trim(), email.trim(), time)?)
        };
        const AUTHOR: [&str; 3] = ["COW_AUTHOR_NAME", "COW_AUTHOR_EMAIL", "COW_AUTHOR_DATE"];
        const COMMITTER: [&str; 3] = [
            "COW_COMMITTER_NAME",
            "COW_COMMITTER_EMAIL",
            "COW_COMMITTER_DATE",
        ];
        Ok((
            make("author", AUTHOR, None)?,
            make("committer", COMMITTER, Some(AUTHOR))?,
        ))
    }

    /// Snapshots the whole working directory (honouring `.cowignore`, leaving out
    /// `.cow`) and records it as a new commit on HEAD.
    ///
    /// Only objects not yet in the store are written; they are made durable before the
    /// branch moves. Refuses with [`Error::NothingToCommit`] when the snapshot equals
    /// HEAD's, unless `allow_empty`. The message is cleaned as `git commit -m` does.
    pub fn commit(&self, message: &str, options: &CommitOptions<'_>) -> Result<CommitOutcome> {
        let _lock = self.lock()?;
        let message = clean_message(message);
        if message.is_empty() {
            return Err(Error::EmptyMessage);
        }
        let parent = self.refs.head_commit()?;
        let (author, committer) = self.signatures_for(options)?;
        let unchanged_if = match (options.allow_empty, parent) {
            (true, _) => None,
            (false, Some(p)) => Some(self.odb.find_commit(&p)?.tree),
            (false, None) => Some(ObjectId::empty_tree()),
        };
        self.snapshot_commit(
            Recipe {
                parents: parent.into_iter().collect(),
                author,
                committer,
                message: message.into_bytes(),
                unchanged_if,
                what: "commit",
            },
            options,
        )
    }

    /// The author and committer `options` give, else [`signatures`](Self::signatures).
    pub(crate) fn signatures_for(
        &self,
        options: &CommitOptions<'_>,
    ) -> Result<(Signature, Signature)> {
        Ok(match (&options.author, &options.committer) {
            (Some(a), Some(c)) => (a.clone(), c.clone()),
            (a, c) => {
                let (env_a, env_c) = self.signatures()?;
                (a.clone().unwrap_or(env_a), c.clone().unwrap_or(env_c))
            }
        })
    }

    /// Snapshots the working directory and records it as a commit made from `recipe`,
    /// then moves HEAD's ref (expected at HEAD's current commit) to it. The caller
    /// holds the lock.
    pub(crate) fn snapshot_commit(
        &self,
        recipe: Recipe,
        options: &CommitOptions<'_>,
    ) -> Result<CommitOutcome> {
        let head = self.refs.head()?;
        let expected = self.refs.head_commit()?;
        let config = self.config()?;
        self.odb.set_chunk_params(config.chunk_params()?);
        if let Some(v) = config.get("core.compression") {
            let level = v
                .parse()
                .ok()
                .filter(|l| (1..=19).contains(l))
                .ok_or_else(|| {
                    Error::Config(format!(
                        "core.compression must be a zstd level from 1 to 19, not '{v}'"
                    ))
                })?;
            self.odb.set_level(level);
        }
        // New objects go into one pack (or loose files, if only a few).
        self.odb.begin_pack()?;
        let packing = PackGuard(&self.odb);
        let head_tree = match expected {
            Some(p) => Some(self.odb.find_commit(&p)?.tree),
            None => None,
        };
        let on_change = match options.on_change {
            Some(mode) => mode,
            None => configured_on_change(&self.settings()?)?.unwrap_or_default(),
        };
        let (snapshot, loaded) = self.scan(
            true,
            head_tree,
            options.progress,
            options.skip_unreadable || on_change != OnChange::Fail,
            on_change,
        )?;
        let changed_while_read = changed_while_read(&snapshot.warnings, on_change);
        let mut unreadable: Vec<PathBuf> = snapshot
            .warnings
            .iter()
            .filter_map(|w| match w {
                Warning::Unreadable { path } => Some(path.clone()),
                _ => None,
            })
            .collect();
        unreadable.sort();
        // A snapshot that left a file out or took it as read is made even when its tree
        // is HEAD's (the working directory does not match HEAD): its warnings are the
        // news, and a refusal would lose them.
        let complete =
            on_change == OnChange::Fail || (changed_while_read.is_empty() && unreadable.is_empty());
        if recipe.unchanged_if == Some(snapshot.tree) && complete {
            packing.finish()?;
            self.save_scanned(&snapshot, loaded.as_ref());
            return Err(Error::NothingToCommit);
        }
        let parent = recipe.parents.first().copied();
        let commit = Commit {
            tree: snapshot.tree,
            parents: recipe.parents,
            author: recipe.author,
            committer: recipe.committer,
            extra_headers: Vec::new(),
            message: recipe.message,
        };
        let written = self.odb.write_commit(&commit)?;
        packing.finish()?;
        // Invariant 4: every object the ref will reach is durable before it moves.
        self.odb.sync()?;
        let mut tx = self.refs.transaction();
        tx.update_head(written.id, Expected::from_option(expected));
        let what = match (recipe.what, parent) {
            ("commit", None) => "commit (initial)",
            (what, _) => what,
        };
        let description = format!(
            "{what} {}: {}",
            written.id.to_hex_prefix(12),
            commit.summary()
        );
        self.commit_refs(tx.prepare()?, OpInfo::new(description))?;
        self.save_scanned(&snapshot, loaded.as_ref());
        Ok(CommitOutcome {
            id: written.id,
            tree: snapshot.tree,
            parent,
            branch: match head {
                Head::Branch(name) => Some(name),
                Head::Detached(_) => None,
            },
            files: snapshot.files,
            hashed: snapshot.hashed,
            new_objects: snapshot.new_objects + written.new as u64,
            bytes_added: snapshot.bytes_added + written.stored_bytes,
            changed_while_read,
            unreadable,
            on_change,
            warnings: snapshot.warnings,
        })
    }
}

/// The files a scan's warnings say changed or vanished while read, by path; none with
/// [`OnChange::Fail`] (a vanished file is only a warning there, as it always was).
fn changed_while_read(warnings: &[Warning], on_change: OnChange) -> Vec<ChangedWhileRead> {
    if on_change == OnChange::Fail {
        return Vec::new();
    }
    let mut files: Vec<ChangedWhileRead> = warnings
        .iter()
        .filter_map(|w| match w {
            Warning::ChangedWhileRead { path, stored } => Some(ChangedWhileRead {
                path: path.clone(),
                action: match stored {
                    true => ChangeAction::Stored,
                    false => ChangeAction::Skipped,
                },
                vanished: false,
            }),
            Warning::Vanished { path } => Some(ChangedWhileRead {
                path: path.clone(),
                action: ChangeAction::Skipped,
                vanished: true,
            }),
            _ => None,
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// What a snapshot commit is made of, besides its tree.
pub(crate) struct Recipe {
    /// The new commit's parents.
    pub parents: Vec<ObjectId>,
    /// Its author.
    pub author: Signature,
    /// Its committer.
    pub committer: Signature,
    /// Its message, as stored.
    pub message: Vec<u8>,
    /// Refuse with [`Error::NothingToCommit`] when the snapshot's tree is this one.
    pub unchanged_if: Option<ObjectId>,
    /// What the operation log calls it: `commit`, `commit (amend)`.
    pub what: &'static str,
}

#[cfg(test)]
mod tests {
    use super::clean_message;

    #[test]
    fn messages_are_cleaned_like_git() {
        assert_eq!(clean_message("x"), "x\n");
        assert_eq!(
            clean_message("\n\nsubject  \n\n\n\nbody\n\n"),
            "subject\n\nbody\n"
        );
        assert_eq!(clean_message("  \n \n"), "");
    }
}
