//! What a scan or walk leaves out of a snapshot, and why.

use std::path::PathBuf;

use crate::quote::quote_fs_path;

/// Something a scan left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// A FIFO, socket or device file, which was not opened.
    SpecialFile {
        /// Its path relative to the root.
        path: PathBuf,
    },
    /// A file or directory named `.cow` (in any letter case) below the root: the name
    /// is reserved and cannot be stored.
    ReservedName {
        /// Its path relative to the root.
        path: PathBuf,
    },
    /// A file or directory that could not be read (with `skip_unreadable`).
    Unreadable {
        /// Its path relative to the root.
        path: PathBuf,
    },
    /// A file or directory that disappeared while the scan ran.
    Vanished {
        /// Its path relative to the root.
        path: PathBuf,
    },
    /// A file that kept changing while it was read, after the retries, with
    /// [`OnChange::Skip`](super::OnChange::Skip) or [`Warn`](super::OnChange::Warn).
    ChangedWhileRead {
        /// Its path relative to the root.
        path: PathBuf,
        /// Whether the bytes last read were stored (`Warn`); else it was left out.
        stored: bool,
    },
    /// A `.cowignore` line that is not a valid pattern.
    IgnoreRule {
        /// What is wrong, with the file and line.
        message: String,
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::SpecialFile { path } => {
                write!(
                    f,
                    "skipped {}: not a regular file, symlink or directory",
                    quote_fs_path(path)
                )
            }
            Warning::ReservedName { path } => {
                write!(
                    f,
                    "skipped {}: the name .cow is reserved",
                    quote_fs_path(path)
                )
            }
            Warning::IgnoreRule { message } => write!(f, "ignored a bad rule: {message}"),
            Warning::Unreadable { path } => {
                write!(f, "skipped {}: permission denied", quote_fs_path(path))
            }
            Warning::ChangedWhileRead {
                path,
                stored: false,
            } => write!(
                f,
                "skipped {}: it changed while being read",
                quote_fs_path(path)
            ),
            Warning::ChangedWhileRead { path, stored: true } => write!(
                f,
                "stored {} as read: it changed while being read",
                quote_fs_path(path)
            ),
            Warning::Vanished { path } => {
                write!(
                    f,
                    "skipped {}: it disappeared while being read",
                    quote_fs_path(path)
                )
            }
        }
    }
}
