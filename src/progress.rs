//! Progress reports from long operations (commit, checkout, gc, fsck, transfers), for
//! a display the caller owns: the library only counts, and never prints.

/// Told how a long operation goes, for a progress display. Calls may come from any
/// thread of the operation, often: an implementation throttles what it shows.
pub trait Progress {
    /// `done` of `total` units (`"files"`, `"bytes"` or `"objects"`; `total` 0 when
    /// unknown) of the current step (such as `"write"`, `"pack"` or `"verify"`).
    fn update(&self, step: &'static str, done: u64, total: u64, unit: &'static str);
}

/// A [`Progress`] that shows nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&self, _: &'static str, _: u64, _: u64, _: &'static str) {}
}
