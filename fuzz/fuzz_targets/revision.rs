//! The `revision` fuzz target: what it does is `harness::revision` (fuzz/harness.rs).
#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::revision(data);
});
