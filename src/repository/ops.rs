//! Recording every ref change as an operation, and undo, redo and restore over them.
//!
//! Every ref transaction a command commits goes through [`Repository::commit_refs`],
//! which records it: the view after it and the operation are written and synced, and
//! the operation added as a second head of the log, the child of the first; then the
//! refs move; then the old head goes. A writer killed anywhere in between leaves the
//! refs and the log consistent once the next writer takes the lock: finding two heads,
//! it drops the operation if no ref had moved, and otherwise finishes it (moving the
//! refs that had not moved yet).

use std::collections::BTreeMap;
use std::time::Duration;

use super::{CheckoutOptions, CheckoutOutcome, Error, Repository, Result};
use crate::object::{ObjectId, Time};
use crate::oplog::{self, OpId, Operation, Reverses, View};
use crate::refs::{self, Change, Expected, Head, RefName, Value};

/// What a command's ref transaction is, for its operation.
#[derive(Clone, Debug)]
pub(crate) struct OpInfo {
    description: String,
    moved_worktree: bool,
    reverses: Reverses,
}

impl OpInfo {
    /// An operation described by `description` (`commit 1a2b3c4: subject`).
    pub(crate) fn new(description: impl Into<String>) -> OpInfo {
        OpInfo {
            description: description.into(),
            moved_worktree: false,
            reverses: Reverses::Nothing,
        }
    }

    /// The same, for a command that moved the working directory too (undoing it
    /// moves the working directory back).
    pub(crate) fn moving_worktree(mut self) -> OpInfo {
        self.moved_worktree = true;
        self
    }
}

/// One ref an operation changed (`None`: absent); HEAD is named `HEAD`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ViewChange {
    /// The ref.
    pub name: RefName,
    /// Its value before.
    pub old: Option<Value>,
    /// Its value after.
    pub new: Option<Value>,
}

/// The refs that differ between two views, HEAD first, then by name.
pub fn view_changes(before: Option<&View>, after: &View) -> Vec<ViewChange> {
    let mut changes = Vec::new();
    let old_head = before.map(|v| v.head.clone());
    if old_head.as_ref() != Some(&after.head) {
        changes.push(ViewChange {
            name: RefName::head(),
            old: old_head,
            new: Some(after.head.clone()),
        });
    }
    let empty = BTreeMap::new();
    let old_refs = before.map_or(&empty, |v| &v.refs);
    let mut names: Vec<&RefName> = old_refs.keys().chain(after.refs.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let (old, new) = (old_refs.get(name), after.refs.get(name));
        if old != new {
            changes.push(ViewChange {
                name: name.clone(),
                old: old.copied().map(Value::Id),
                new: new.copied().map(Value::Id),
            });
        }
    }
    changes
}

/// An operation as `op log` lists it.
#[derive(Clone, Debug)]
pub struct OpEntry {
    /// Its id.
    pub id: OpId,
    /// The operation.
    pub op: Operation,
    /// What it changed, against its parent's view.
    pub changes: Vec<ViewChange>,
}

/// What undo, redo and `op restore` did.
#[derive(Debug)]
pub struct OpOutcome {
    /// The operation recorded for it.
    pub id: OpId,
    /// Its description (`undo operation 1a2b3c4d5e6f: commit …`).
    pub description: String,
    /// The refs it changed.
    pub changes: Vec<ViewChange>,
    /// The working directory's move, when the operations undone had moved it.
    pub checkout: Option<CheckoutOutcome>,
}

/// How long operations' views keep their commits from gc: two weeks, unless
/// `gc.opLogExpire` says otherwise.
pub const DEFAULT_OPLOG_EXPIRE: Duration = Duration::from_secs(14 * 86_400);

fn user_and_host() -> (String, String) {
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| {
            format!(
                "uid {}", // SAFETY: getuid cannot fail.
                unsafe { libc::getuid() }
            )
        });
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates what fits.
    let host = if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    };
    (user, host)
}

/// The command line of this process, each argument quoted when it needs to be.
fn command_line() -> String {
    std::env::args_os()
        .enumerate()
        .map(|(i, arg)| {
            let arg = arg.to_string_lossy();
            let arg = if i == 0 {
                // The program by its name, not its path.
                std::path::Path::new(&*arg)
                    .file_name()
                    .map_or(arg.to_string(), |n| n.to_string_lossy().into_owned())
            } else {
                arg.into_owned()
            };
            let plain = !arg.is_empty()
                && arg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%^~".contains(&b));
            if plain {
                arg
            } else {
                format!("'{}'", arg.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Repository {
    /// The refs as they are now.
    pub fn current_view(&self) -> Result<View> {
        let head = match self.refs.head()? {
            Head::Branch(name) => Value::Symbolic(name),
            Head::Detached(id) => Value::Id(id),
        };
        let refs = self.refs.list("refs/")?.into_iter().collect();
        Ok(View { head, refs })
    }

    /// The operation log.
    pub fn ops(&self) -> &oplog::OpStore {
        &self.ops
    }

    fn new_op(&self, view: OpId, parent: Option<OpId>, info: OpInfo) -> Operation {
        let (user, host) = user_and_host();
        Operation {
            view,
            parent,
            time: Time::now(),
            user,
            host,
            command: command_line(),
            description: info.description,
            moved_worktree: info.moved_worktree,
            reverses: info.reverses,
        }
    }

    /// The operation a new one follows: the head, after recording the refs as they
    /// are when they differ from the head's view (changed by hand, or by a cow from
    /// before the log) or when there is no log yet. The caller holds the lock.
    fn op_parent(&self, current: &View) -> Result<OpId> {
        // A log whose heads are lost starts again (fsck reported it; gc refuses it).
        let head = match self.ops.head() {
            Err(oplog::Error::NoHead) => None,
            head => head?,
        };
        let description = match head {
            None => "start the operation log",
            Some(head) => {
                let view = self.ops.read_op(&head)?.view;
                if self.ops.read_view(&view)? == *current {
                    return Ok(head);
                }
                "import refs changed outside cow"
            }
        };
        let view = self.ops.write_view(current)?;
        let id = self
            .ops
            .write_op(&self.new_op(view, head, OpInfo::new(description)))?;
        self.ops.sync()?;
        self.ops.set_head(id)?;
        Ok(id)
    }

    /// Applies a command's ref changes as one transaction and records them as one
    /// operation. Every command that moves refs or HEAD goes through here, once. The
    /// caller holds the lock. A transaction that leaves every ref as it was records
    /// nothing (unless it is an undo or redo).
    pub(crate) fn commit_refs(
        &self,
        tx: refs::Prepared<'_>,
        info: OpInfo,
    ) -> Result<Vec<refs::Applied>> {
        let before = self.current_view()?;
        let mut after = before.clone();
        for (name, change) in tx.changes() {
            match (name == &RefName::head(), change) {
                (true, Change::Set(value)) => after.head = value.clone(),
                (false, Change::Set(Value::Id(id))) => {
                    after.refs.insert(name.clone(), *id);
                }
                (false, Change::Delete) => {
                    after.refs.remove(name);
                }
                // Symbolic refs other than HEAD, and deleting HEAD, are never made.
                _ => {}
            }
        }
        if after == before && info.reverses == Reverses::Nothing {
            return Ok(tx.commit()?);
        }
        let parent = self.op_parent(&before)?;
        let view = self.ops.write_view(&after)?;
        let id = self.ops.write_op(&self.new_op(view, Some(parent), info))?;
        self.ops.sync()?;
        self.ops.add_head(id)?;
        match tx.commit() {
            Ok(applied) => {
                // The refs moved: the command happened. An old head left behind is
                // removed by the next writer (the new one is its child).
                let _ = self.ops.remove_heads_but(id);
                Ok(applied)
            }
            Err(e) => {
                // Refused or failed: the operation did not happen. (Refs a failing
                // filesystem did move are recorded by the next command, as changed
                // outside the log.)
                let _ = self.ops.remove_heads_but(parent);
                Err(e.into())
            }
        }
    }

    /// Finishes the operation a killed writer was recording (see the module docs):
    /// with two heads, when every ref is as the operation found it or left it and
    /// some moved, the rest are moved and the older head goes; otherwise (no ref
    /// moved, or some changed outside cow) the newer goes.
    /// Called with the lock held, before a writer changes anything.
    pub(crate) fn recover_operation(&self) -> Result<()> {
        if self.ops.head_files()?.len() < 2 {
            return Ok(());
        }
        let Some(head) = self.ops.head()? else {
            return Ok(());
        };
        let op = self.ops.read_op(&head)?;
        let Some(parent) = op.parent else {
            return Ok(self.ops.remove_heads_but(head)?);
        };
        let before = self.ops.read_view(&self.ops.read_op(&parent)?.view)?;
        let after = self.ops.read_view(&op.view)?;
        let current = self.current_view()?;
        // Each ref as the operation found it or as it left it: the killed command
        // moved some (or all) of its refs and none was changed otherwise.
        let between = view_changes(Some(&after), &current).iter().all(|change| {
            let name = &change.name;
            let was = if *name == RefName::head() {
                Some(before.head.clone())
            } else {
                before.refs.get(name).copied().map(Value::Id)
            };
            change.new == was
        });
        if current != before && between {
            // Move the rest, so the command happened whole.
            if current != after {
                self.transaction_to(&current, &after).commit()?;
            }
            return Ok(self.ops.remove_heads_but(head)?);
        }
        // No ref moved (the command did not happen, as without a log), or refs were
        // changed outside cow meanwhile (the next operation records them as found).
        Ok(self.ops.remove_heads_but(parent)?)
    }

    /// A transaction that sets the refs from `current` to `target`: branches and tags
    /// made or moved first, then HEAD, then deletions.
    fn transaction_to(&self, current: &View, target: &View) -> refs::Transaction<'_> {
        let mut tx = self.refs.transaction();
        for (name, id) in &target.refs {
            let old = current.refs.get(name).copied();
            if old != Some(*id) {
                tx.update(name.clone(), *id, Expected::from_option(old));
            }
        }
        if current.head != target.head {
            let head = match &target.head {
                Value::Symbolic(name) => Head::Branch(name.clone()),
                Value::Id(id) => Head::Detached(*id),
            };
            let expected = match &current.head {
                Value::Symbolic(name) => Expected::Symbolic(name.clone()),
                Value::Id(id) => Expected::Value(*id),
            };
            tx.set_head(head, expected);
        }
        for (name, id) in &current.refs {
            if !target.refs.contains_key(name) {
                tx.delete(name.clone(), Expected::Value(*id));
            }
        }
        tx
    }

    /// The repository as operation `spec` left its refs, for reading (`--at-op`): its
    /// branches, tags and HEAD are that operation's view (copied into a temporary
    /// directory); objects, working directory and settings are this repository's.
    /// Commands that change refs must not be run on it.
    pub fn at_operation(&self, spec: &str) -> Result<Repository> {
        let id = self.ops.resolve(spec)?;
        let view = self.ops.read_view(&self.ops.read_op(&id)?.view)?;
        let dir = tempfile::tempdir().map_err(|e| {
            crate::fs::IoError::new("create a temporary directory in", std::env::temp_dir(), e)
        })?;
        let refs = refs::RefStore::at(dir.path());
        let mut tx = refs.transaction();
        for (name, id) in &view.refs {
            tx.update(name.clone(), *id, Expected::Any);
        }
        let head = match &view.head {
            Value::Symbolic(name) => Head::Branch(name.clone()),
            Value::Id(id) => Head::Detached(*id),
        };
        tx.set_head(head, Expected::Any);
        tx.commit()?;
        Ok(Repository {
            work_dir: self.work_dir.clone(),
            cow_dir: self.cow_dir.clone(),
            odb: crate::odb::Odb::at(self.cow_dir.join("objects")),
            refs,
            ops: self.ops.clone(),
            lock_timeout: self.lock_timeout,
            _view_dir: Some(std::sync::Arc::new(dir)),
        })
    }

    /// The operations from the head back, newest first, at most `limit`. Two views
    /// are held at a time, however long the log.
    pub fn op_log(&self, limit: Option<usize>) -> Result<Vec<OpEntry>> {
        let mut entries: Vec<OpEntry> = Vec::new();
        let mut newer: Option<View> = None;
        for item in self.ops.walk(self.ops.head()?) {
            let (id, op) = item?;
            let view = self.ops.read_view(&op.view)?;
            if let (Some(entry), Some(after)) = (entries.last_mut(), newer.take()) {
                entry.changes = view_changes(Some(&view), &after);
            }
            if limit.is_some_and(|n| entries.len() == n) {
                return Ok(entries);
            }
            let first = op.parent.is_none();
            entries.push(OpEntry {
                id,
                op,
                changes: Vec::new(),
            });
            if first {
                entries.last_mut().expect("just pushed").changes = view_changes(None, &view);
            }
            newer = Some(view);
        }
        Ok(entries)
    }

    /// The operation whose view `id`'s view equals, in the history undo walks: an
    /// ordinary operation itself; an undo, the position before what it undid; a
    /// redo, what it redid.
    fn position(&self, mut id: OpId) -> Result<(OpId, Operation)> {
        loop {
            let op = self.ops.read_op(&id)?;
            id = match op.reverses {
                Reverses::Nothing => return Ok((id, op)),
                Reverses::Undo(undone) => self
                    .ops
                    .read_op(&undone)?
                    .parent
                    .ok_or_else(|| Error::OpLog(oplog::Error::Unknown(undone.to_string())))?,
                Reverses::Redo(redone) => redone,
            };
        }
    }

    fn head_op(&self) -> Result<OpId> {
        self.ops
            .head()?
            .ok_or(Error::NothingToUndo("no operation is recorded yet"))
    }

    /// Restores the view before the last operation, and records that as an operation;
    /// repeated, walks further back. Undoing a checkout moves the working directory
    /// back, with checkout's rules (refused, naming the paths, when it would lose
    /// unsaved work, unless `force`); undoing a commit leaves it as it is.
    pub fn undo(&self, options: &CheckoutOptions) -> Result<OpOutcome> {
        let _lock = self.lock()?;
        // Refs changed outside cow are recorded first: undo reverses that, not more.
        self.op_parent(&self.current_view()?)?;
        let (target, op) = self.position(self.head_op()?)?;
        let Some(parent) = op.parent else {
            return Err(Error::NothingToUndo("nothing to undo: the log starts here"));
        };
        let view = self.ops.read_view(&self.ops.read_op(&parent)?.view)?;
        let info = OpInfo {
            description: format!("undo operation {}: {}", target.short(), op.description),
            moved_worktree: op.moved_worktree,
            reverses: Reverses::Undo(target),
        };
        self.restore_view(&view, info, options)
    }

    /// Repeats the operation the last undo (not yet redone) reversed.
    pub fn redo(&self, options: &CheckoutOptions) -> Result<OpOutcome> {
        let _lock = self.lock()?;
        // Refs changed outside cow are recorded first: undo reverses that, not more.
        self.op_parent(&self.current_view()?)?;
        let mut depth = 0usize;
        let mut target = None;
        for item in self.ops.walk(Some(self.head_op()?)) {
            let (_, op) = item?;
            match op.reverses {
                Reverses::Redo(_) => depth += 1,
                Reverses::Undo(undone) if depth == 0 => {
                    target = Some(undone);
                    break;
                }
                Reverses::Undo(_) => depth -= 1,
                Reverses::Nothing => break,
            }
        }
        let target = target.ok_or(Error::NothingToUndo("nothing to redo"))?;
        let op = self.ops.read_op(&target)?;
        let view = self.ops.read_view(&op.view)?;
        let info = OpInfo {
            description: format!("redo operation {}: {}", target.short(), op.description),
            moved_worktree: op.moved_worktree,
            reverses: Reverses::Redo(target),
        };
        self.restore_view(&view, info, options)
    }

    /// Sets every ref to operation `spec`'s view (`@-`, an id or a unique prefix);
    /// moves the working directory too when an operation since moved it.
    pub fn op_restore(&self, spec: &str, options: &CheckoutOptions) -> Result<OpOutcome> {
        let _lock = self.lock()?;
        // Refs changed outside cow are recorded first: undo reverses that, not more.
        self.op_parent(&self.current_view()?)?;
        let target = self.ops.resolve(spec)?;
        let op = self.ops.read_op(&target)?;
        let mut moved_worktree = false;
        for item in self.ops.walk(Some(self.head_op()?)) {
            let (id, op) = item?;
            if id == target {
                break;
            }
            moved_worktree |= op.moved_worktree;
        }
        let view = self.ops.read_view(&op.view)?;
        let info = OpInfo {
            description: format!(
                "restore to operation {}: {}",
                target.short(),
                op.description
            ),
            moved_worktree,
            reverses: Reverses::Nothing,
        };
        self.restore_view(&view, info, options)
    }

    /// Moves the refs (and, as `info` says, the working directory) to `view`,
    /// recorded as one operation. The caller holds the lock.
    fn restore_view(
        &self,
        view: &View,
        info: OpInfo,
        options: &CheckoutOptions,
    ) -> Result<OpOutcome> {
        let current = self.current_view()?;
        let detached = match &view.head {
            Value::Id(id) => Some(id),
            Value::Symbolic(_) => None,
        };
        for id in view.refs.values().chain(detached) {
            if !self.odb.contains(id) {
                return Err(Error::OpViewGone(*id));
            }
        }
        let changes = view_changes(Some(&current), view);
        let description = info.description.clone();
        let tx = self.transaction_to(&current, view);
        let moves = info.moved_worktree
            && view.head_commit().is_some()
            && view.head_commit() != current.head_commit();
        let checkout = match (moves, view.head_commit()) {
            (true, Some(target)) => {
                let head = match &view.head {
                    Value::Symbolic(name) => Head::Branch(name.clone()),
                    Value::Id(id) => Head::Detached(*id),
                };
                let refs = if options.dry_run {
                    None
                } else {
                    Some(tx.prepare()?)
                };
                Some(self.move_worktree(target, head, refs, options, info)?)
            }
            _ => {
                if !options.dry_run {
                    self.commit_refs(tx.prepare()?, info)?;
                }
                None
            }
        };
        Ok(OpOutcome {
            id: self.head_op()?,
            description,
            changes,
            checkout,
        })
    }

    /// Removes operation `spec` and every one before it from the log; the operations
    /// after it are rewritten (new ids) to start the log. gc then frees what only the
    /// removed operations' views kept. Returns how many operations were removed.
    pub fn op_abandon(&self, spec: &str) -> Result<usize> {
        let _lock = self.lock()?;
        let cut = self.ops.resolve(spec)?;
        let head = self.head_op()?;
        if cut == head {
            return Err(Error::NothingToUndo(
                "the head operation cannot be abandoned",
            ));
        }
        let mut kept = Vec::new();
        let mut found = false;
        for item in self.ops.walk(Some(head)) {
            let (id, op) = item?;
            if id == cut {
                found = true;
                break;
            }
            kept.push((id, op));
        }
        if !found {
            return Err(Error::OpLog(oplog::Error::Unknown(spec.to_owned())));
        }
        let mut parent = None;
        let mut renamed = std::collections::HashMap::new();
        for (old_id, mut op) in kept.into_iter().rev() {
            op.parent = parent;
            // Undo and redo name operations by id: follow them to their new ids, or
            // forget what they reversed when it is abandoned.
            op.reverses = match op.reverses {
                Reverses::Undo(x) => renamed
                    .get(&x)
                    .map_or(Reverses::Nothing, |&n| Reverses::Undo(n)),
                Reverses::Redo(x) => renamed
                    .get(&x)
                    .map_or(Reverses::Nothing, |&n| Reverses::Redo(n)),
                Reverses::Nothing => Reverses::Nothing,
            };
            let new_id = self.ops.write_op(&op)?;
            renamed.insert(old_id, new_id);
            parent = Some(new_id);
        }
        let new_head = parent.expect("the head is kept");
        self.ops.sync()?;
        self.ops.set_head(new_head)?;
        let live: std::collections::HashSet<OpId> = renamed.values().copied().collect();
        // How many are abandoned: OP and those before it.
        let abandoned = self.ops.walk(Some(cut)).take_while(Result::is_ok).count();
        // Their files go, with the kept operations' old files (rewritten) and any
        // operation no head reaches.
        for id in self.ops.all_ops()? {
            if !live.contains(&id) {
                self.ops.remove_op(&id)?;
            }
        }
        self.ops.remove_unused_views()?;
        Ok(abandoned)
    }

    /// What is wrong with the operation log, for fsck: unreadable operations or views
    /// (problems); and refs that differ from the head operation's view, or an
    /// operation being recorded (notes: the next writer records or finishes them).
    pub(crate) fn op_log_problems(&self) -> (Vec<String>, Vec<String>) {
        let (mut problems, mut notes) = (Vec::new(), Vec::new());
        let head = match self.ops.head() {
            Ok(Some(head)) => head,
            Ok(None) => return (problems, notes),
            Err(e) => return (vec![e.to_string()], notes),
        };
        for item in self.ops.walk(Some(head)) {
            if let Err(e) = item.and_then(|(_, op)| self.ops.read_view(&op.view)) {
                problems.push(e.to_string());
                break;
            }
        }
        let head_view = self
            .ops
            .read_op(&head)
            .and_then(|op| self.ops.read_view(&op.view));
        match self.ops.head_files() {
            Ok(heads) if heads.len() > 1 => notes.push(format!(
                "operation {} is being recorded, or was by a command that was killed; the next command that writes finishes it",
                head.short()
            )),
            Ok(_) => {}
            Err(e) => problems.push(e.to_string()),
        }
        let recording = self.ops.head_files().is_ok_and(|h| h.len() > 1);
        match (head_view, self.current_view()) {
            (Ok(view), Ok(current)) if view != current && !recording => {
                let differ = view_changes(Some(&view), &current);
                let names: Vec<&str> = differ.iter().take(3).map(|c| c.name.as_str()).collect();
                notes.push(format!(
                    "the refs differ from the operation log's head view ({}): the next command that changes refs records them as an operation; `cow op restore @` sets them back",
                    names.join(", ")
                ));
            }
            (Err(e), _) => problems.push(e.to_string()),
            (_, Err(e)) => problems.push(e.to_string()),
            _ => {}
        }
        (problems, notes)
    }

    /// How long operations' views keep their commits from gc (`gc.opLogExpire`,
    /// default two weeks; `None`: for ever).
    pub fn op_log_expiry(&self) -> Result<Option<Duration>> {
        match self.config()?.get("gc.opLogExpire") {
            None => Ok(Some(DEFAULT_OPLOG_EXPIRE)),
            Some(value) => super::gc::parse_age(value)
                .map_err(|reason| Error::Config(format!("gc.opLogExpire '{value}': {reason}"))),
        }
    }

    /// The commits the views of operations younger than the expiry name: gc keeps
    /// them, so that undo works within it.
    pub(crate) fn op_log_tips(&self) -> Result<Vec<ObjectId>> {
        let Some(expiry) = self.op_log_expiry()? else {
            return self.all_op_tips(None);
        };
        let now = Time::now().seconds;
        let oldest = now.saturating_sub(expiry.as_secs().min(i64::MAX as u64) as i64);
        self.all_op_tips(Some(oldest))
    }

    fn all_op_tips(&self, since: Option<i64>) -> Result<Vec<ObjectId>> {
        let mut tips = std::collections::BTreeSet::new();
        for item in self.ops.walk(self.ops.head()?) {
            let (_, op) = item?;
            // Kept while younger than the expiry (`now` keeps none). Every operation
            // is looked at: a clock set back once must not end the walk early.
            if since.is_some_and(|s| op.time.seconds <= s) {
                continue;
            }
            let view = self.ops.read_view(&op.view)?;
            tips.extend(view.refs.values().copied());
            if let Value::Id(id) = view.head {
                tips.insert(id);
            }
        }
        Ok(tips.into_iter().collect())
    }
}
