//! The object database's tests run against every backend: each test is a function of
//! a [`Fixture`], and [`both!`] makes one `#[test]` of it per backend.

use std::io::Write;
use std::sync::Arc;

use super::Odb;
use super::backend::{Backend, FileKind, LocalBackend, MemoryBackend};

/// A store to test on, and ways to inspect and damage its files through the backend.
pub(super) struct Fixture {
    pub(super) backend: Arc<dyn Backend>,
    dir: Option<tempfile::TempDir>,
}

pub(super) type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

impl Fixture {
    /// A `.cow/objects` directory in a new temporary directory.
    pub(super) fn local() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let objects = dir.path().join("objects");
        std::fs::create_dir(&objects).expect("mkdir");
        Fixture {
            backend: Arc::new(LocalBackend::new(objects)),
            dir: Some(dir),
        }
    }

    /// An empty in-memory store.
    pub(super) fn memory() -> Fixture {
        Fixture {
            backend: Arc::new(MemoryBackend::new()),
            dir: None,
        }
    }

    /// An object database over the store (each call a new one, as another process
    /// opening the same repository would have).
    pub(super) fn odb(&self) -> Odb {
        Odb::with_backend(Arc::clone(&self.backend))
    }

    /// A stored file's bytes.
    pub(super) fn read(&self, kind: FileKind, name: &str) -> Vec<u8> {
        self.backend
            .read(kind, name)
            .expect("read")
            .expect("stored")
            .to_vec()
    }

    /// Replaces a stored file's bytes with `f`'s edit of them (another program, or a
    /// disk, damaging the store).
    pub(super) fn patch(&self, kind: FileKind, name: &str, f: impl FnOnce(&mut Vec<u8>)) {
        let mut bytes = self.read(kind, name);
        f(&mut bytes);
        let mut file = self.backend.create(kind).expect("create");
        file.write_all(&bytes).expect("write");
        file.finish(name, false).expect("finish");
    }

    /// Every file in the store, as `kind/name`; for the local backend, every file
    /// under the directory, temporary ones included.
    pub(super) fn files(&self) -> Vec<String> {
        let mut out: Vec<String> = match &self.dir {
            Some(dir) => walkdir::WalkDir::new(dir.path())
                .into_iter()
                .map(|e| e.expect("walk"))
                .filter(|e| !e.file_type().is_dir())
                .map(|e| {
                    e.path()
                        .strip_prefix(dir.path())
                        .unwrap()
                        .display()
                        .to_string()
                })
                .collect(),
            None => FileKind::ALL
                .iter()
                .flat_map(|&kind| {
                    let names = self.backend.list(kind, "").expect("list");
                    names.into_iter().map(move |n| format!("{kind:?}/{n}"))
                })
                .collect(),
        };
        out.sort();
        out
    }
}

/// One `#[test]` per backend for each named test function (`fn(&Fixture) ->
/// TestResult` in the enclosing module).
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(#[test] fn $name() { super::$name(&$crate::odb::testing::Fixture::local()).unwrap() })*
        }
        mod memory {
            $(#[test] fn $name() { super::$name(&$crate::odb::testing::Fixture::memory()).unwrap() })*
        }
    };
}
pub(super) use both;
