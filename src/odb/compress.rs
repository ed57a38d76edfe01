//! zstd contexts, one of each kind per thread and reused: making a context (and
//! loading a pack's dictionary into it) costs as much as compressing or decompressing
//! a small object.

use std::cell::RefCell;
use std::io;

thread_local! {
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
    static DELTA_DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
    /// The last pack whose dictionary was loaded, by name.
    static PACK_DECOMPRESSOR: RefCell<Option<(String, zstd::bulk::Decompressor<'static>)>> =
        const { RefCell::new(None) };
}

/// Compresses `data` into one zstd frame at `level`, reusing this thread's context:
/// making a zstd context costs as much as compressing a small file.
pub(crate) fn compress(data: &[u8], level: i32) -> io::Result<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        let compressor = match cell.as_mut() {
            Some(c) => c,
            None => cell.insert(zstd::bulk::Compressor::new(level)?),
        };
        compressor.set_compression_level(level)?;
        compressor.compress(data)
    })
}

/// What a frame was compressed with.
pub(crate) enum Dictionary<'a> {
    /// Nothing.
    None,
    /// A delta's base content.
    Base(&'a [u8]),
    /// The dictionary of the pack named `name`.
    Pack { name: &'a str, content: &'a [u8] },
}

/// Decompresses a frame of at most `capacity` bytes, reusing this thread's contexts:
/// making a zstd context (and loading a pack's dictionary) costs more than
/// decompressing a small object.
pub(crate) fn decompress_with(
    frame: &[u8],
    capacity: usize,
    dictionary: Dictionary<'_>,
) -> io::Result<Vec<u8>> {
    let fresh = zstd::bulk::Decompressor::new;
    match dictionary {
        Dictionary::None => DECOMPRESSOR.with(|cell| {
            let mut cell = cell.borrow_mut();
            let d = match cell.as_mut() {
                Some(d) => d,
                None => cell.insert(fresh()?),
            };
            d.decompress(frame, capacity)
        }),
        Dictionary::Base(base) => DELTA_DECOMPRESSOR.with(|cell| {
            let mut cell = cell.borrow_mut();
            let d = match cell.as_mut() {
                Some(d) => d,
                None => cell.insert(fresh()?),
            };
            d.set_dictionary(base)?;
            d.decompress(frame, capacity)
        }),
        Dictionary::Pack { name, content } => PACK_DECOMPRESSOR.with(|cell| {
            let mut cell = cell.borrow_mut();
            if cell.as_ref().is_none_or(|(n, _)| n != name) {
                *cell = Some((
                    name.to_owned(),
                    zstd::bulk::Decompressor::with_dictionary(content)?,
                ));
            }
            let (_, d) = cell.as_mut().expect("set above");
            d.decompress(frame, capacity)
        }),
    }
}

/// Decompresses a frame of at most `capacity` bytes (no dictionary).
pub(crate) fn decompress(frame: &[u8], capacity: usize) -> io::Result<Vec<u8>> {
    decompress_with(frame, capacity, Dictionary::None)
}
