//! The racy tick: the moment before which a file must have been modified for its
//! stat data to vouch for its content next time, settled lazily and judged per
//! filesystem. Scans, walks and checkouts all take it from here.

use std::os::fd::BorrowedFd;
use std::path::Path;
use std::sync::OnceLock;

use super::index::Timestamp;

/// Where a scan's racy tick comes from.
#[derive(Clone, Copy, Debug)]
pub enum Clock<'a> {
    /// A tick from [`settle_clock`](super::settle_clock) taken before the scan.
    Settled(Timestamp),
    /// Settle the clock in this directory (the repository's `.cow`) just before the
    /// first file or directory is read: a scan that reads none waits for no tick.
    SettleIn(&'a Path),
}

impl Default for Clock<'_> {
    /// The epoch: everything the scan reads is recorded as racy.
    fn default() -> Self {
        Clock::Settled(Timestamp::default())
    }
}

/// A [`Clock`] settled at most once, by whichever thread needs it first.
pub(super) struct LazyClock<'a> {
    clock: Clock<'a>,
    settled: OnceLock<Timestamp>,
    /// The device the tick was measured on: the settling directory's, or for a tick
    /// given, the working directory's.
    home_dev: u64,
}

/// How far before the tick a file on another filesystem may have been modified and
/// still share a timestamp with a later edit: the coarsest granularity in common use
/// (FAT's two seconds; ext4 with 128-byte inodes and many network and FUSE mounts
/// keep whole seconds).
const COARSE_GRANULARITY_SECS: i64 = 2;

impl<'a> LazyClock<'a> {
    /// A clock for a scan of the working directory `root` (open as `root_fd`).
    pub(super) fn new(clock: Clock<'a>, root_fd: BorrowedFd<'_>) -> LazyClock<'a> {
        let stat = match clock {
            Clock::SettleIn(dir) => rustix::fs::stat(dir).or_else(|_| rustix::fs::fstat(root_fd)),
            Clock::Settled(_) => rustix::fs::fstat(root_fd),
        };
        LazyClock {
            clock,
            settled: OnceLock::new(),
            #[allow(clippy::unnecessary_cast)]
            home_dev: stat.map_or(u64::MAX, |s| s.st_dev as u64),
        }
    }

    /// The tick; the first call settles the clock if it has not been.
    pub(super) fn get(&self) -> Timestamp {
        match self.clock {
            Clock::Settled(tick) => tick,
            Clock::SettleIn(dir) => *self.settled.get_or_init(|| super::settle_clock(dir)),
        }
    }

    /// Whether a file on device `dev` with timestamp `time` may change again without
    /// its timestamp changing: it is racy, and is read again next time.
    ///
    /// The tick was measured on one filesystem, whose clock granularity it reflects. A
    /// file on another (a mount inside the working directory) may keep coarser times:
    /// an edit within the same second there leaves mtime as it was, so such a file is
    /// racy when modified within [`COARSE_GRANULARITY_SECS`] of the tick.
    pub(super) fn is_racy(&self, dev: u64, time: Timestamp) -> bool {
        is_racy(self.home_dev, self.get(), dev, time)
    }
}

/// Whether a file on device `dev` with timestamp `time` is racy against `tick`,
/// measured on device `home_dev` (see [`LazyClock::is_racy`]).
pub(super) fn is_racy(home_dev: u64, tick: Timestamp, dev: u64, time: Timestamp) -> bool {
    if dev == home_dev {
        time >= tick
    } else {
        time.secs >= tick.secs.saturating_sub(COARSE_GRANULARITY_SECS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, nsecs: u32) -> Timestamp {
        Timestamp { secs, nsecs }
    }

    /// A file on the filesystem the tick was measured on is racy from the tick on; on
    /// another, whose times may be whole seconds (or FAT's two), from two seconds
    /// before the tick's second: an edit there within the same second as the snapshot
    /// leaves `S.000000000`, below a nanosecond tick of that second.
    #[test]
    fn racy_is_judged_by_each_file_system_s_granularity() {
        let tick = at(1000, 500_000_000);
        let (home, other) = (7, 8);
        assert!(!is_racy(home, tick, home, at(1000, 0)));
        assert!(!is_racy(home, tick, home, at(1000, 499_999_999)));
        assert!(is_racy(home, tick, home, at(1000, 500_000_000)));
        assert!(is_racy(home, tick, home, at(1001, 0)));
        assert!(is_racy(home, tick, other, at(1000, 0)));
        assert!(is_racy(home, tick, other, at(998, 0)));
        assert!(!is_racy(home, tick, other, at(997, 999_999_999)));
    }
}
