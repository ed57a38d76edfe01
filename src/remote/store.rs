//! A remote in an object store.

/// A remote kept in an object store.
#[derive(Debug)]
pub struct StoreRemote {}
