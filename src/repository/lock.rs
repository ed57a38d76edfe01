//! The repository lock: one writer at a time.
//!
//! Writers hold an exclusive `flock` on `.cow/lock` for the whole operation, with their
//! pid written inside for the message a waiting writer shows. The kernel releases the
//! lock when its holder exits, however it exits, so a lock left by a killed process is
//! simply free again: the file's presence means nothing, only the `flock` does. A new
//! holder then removes what a killed writer may have left (temporary files, ref lock
//! files), which no reader ever trusts.

use crate::fs::IoResultExt;
use std::fs;
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::{Error, Repository, Result};

/// Held while a writer works; dropping it empties the pid and releases the lock.
#[derive(Debug)]
pub struct RepoLock {
    file: fs::File,
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        // Still locked until the descriptor closes, right after this.
        let _ = self.file.set_len(0);
    }
}

/// How long a writer waits for another by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

fn try_flock(file: &fs::File) -> std::io::Result<bool> {
    // SAFETY: `flock` on a descriptor `file` owns for the duration of the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}

impl Repository {
    /// Sets how long writers wait for another writer's lock before giving up.
    pub fn set_lock_timeout(&mut self, timeout: Duration) {
        self.lock_timeout = timeout;
    }

    /// Opens `.cow/lock`, creating it if needed. A symlink there is refused, not
    /// followed (the pid written into the lock would otherwise overwrite its target),
    /// and so is anything but a regular file.
    fn open_lock_file(&self) -> Result<fs::File> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.cow_dir.join("lock");
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path);
        let not_a_file =
            || crate::fs::IoError::new("open", &path, std::io::Error::other("not a regular file"));
        let file = match file {
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(not_a_file().into()),
            file => file.context("open", &path)?,
        };
        if !file.metadata().context("stat", &path)?.is_file() {
            return Err(not_a_file().into());
        }
        Ok(file)
    }

    /// Takes the repository's writer lock, waiting up to the lock timeout for another
    /// writer to finish; fails naming the holder's pid. Cleans up what a killed writer
    /// left behind, and finishes the operation it was recording.
    pub fn lock(&self) -> Result<RepoLock> {
        let mut file = self.open_lock_file()?;
        let started = Instant::now();
        loop {
            let locked = try_flock(&file).context("lock", self.cow_dir.join("lock"))?;
            if locked {
                break;
            }
            if started.elapsed() >= self.lock_timeout {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(Error::Locked {
                    pid: holder.trim().parse().ok(),
                    waited: self.lock_timeout,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()));
        self.clean_leftovers();
        let lock = RepoLock { file };
        // A killed writer's half-recorded operation is finished (or dropped) before
        // this writer reads or moves any ref.
        self.recover_operation()?;
        Ok(lock)
    }

    /// Takes the lock only if it is free right now (for optional writes, such as a
    /// status refreshing the stat cache).
    pub(crate) fn try_lock(&self) -> Option<RepoLock> {
        let file = self.open_lock_file().ok()?;
        // Not `then_some`: a RepoLock made and dropped unlocked would empty the file.
        if try_flock(&file).ok()? {
            Some(RepoLock { file })
        } else {
            None
        }
    }

    /// Removes what killed writers left: every temporary of [`crate::temp::ALL`]. Only
    /// called with the lock held, when no other writer can be using them.
    fn clean_leftovers(&self) {
        crate::temp::clean_leftovers(self.work_dir.as_deref(), &self.cow_dir);
    }
}
