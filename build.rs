//! Links GCC's unwinder into cow's programs instead of loading `libgcc_s.so.1`.
//!
//! On linux-gnu, Rust's standard library asks for `-lgcc_s` (for unwinding). Loading
//! that library runs its constructor, `__cpu_indicator_init`, which executes `cpuid`
//! a dozen times; under a hypervisor each one traps, and on our benchmark VM that was
//! about 80 µs of every command (`perf record` of `cow log`; a `cpuid` costs 3.8 µs
//! there). git loads no such library.
//!
//! This script puts a one-line linker script named `libgcc_s.so` in a directory that
//! the linker searches first; it stands for the static unwinder `libgcc_eh.a`, which is
//! what `gcc -static-libgcc` and Rust's own `crt-static` builds link. Nothing else
//! changes: panics still unwind, and the programs still use the system's C library.
//!
//! It does nothing (the usual `libgcc_s.so.1` is linked) when cross-compiling, for
//! other targets, when `COW_SHARED_LIBGCC` is set, or unless the linker driver finds a
//! `libgcc_eh.a` and links a small position-independent program with it first.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=COW_SHARED_LIBGCC");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let static_already = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    if var("CARGO_CFG_TARGET_OS") != "linux"
        || var("CARGO_CFG_TARGET_ENV") != "gnu"
        || var("TARGET") != var("HOST")
        || static_already
        || env::var_os("COW_SHARED_LIBGCC").is_some()
    {
        return;
    }
    let linker = linker();
    let Some(unwinder) = print_file_name(&linker, "libgcc_eh.a") else {
        return;
    };
    // A GCC upgrade moves the archive: link against the new one, not a stale path.
    println!("cargo:rerun-if-changed={}", unwinder.display());
    let out = PathBuf::from(var("OUT_DIR"));
    if !links_position_independent(&linker, &unwinder, &out) {
        return;
    }
    let dir = out.join("static-libgcc");
    let script = format!("INPUT(\"{}\")\n", unwinder.display());
    // For cow's own programs only (`-L` for the linker, not a search path every
    // program depending on the library would inherit): a program of another crate
    // links the usual way.
    if fs::create_dir_all(&dir).is_ok() && fs::write(dir.join("libgcc_s.so"), script).is_ok() {
        for programs in ["bins", "tests", "benches"] {
            println!("cargo:rustc-link-arg-{programs}=-L{}", dir.display());
        }
    }
}

/// The linker driver rustc will call: `-C linker=` in the flags, the configured
/// linker, or `cc`.
fn linker() -> String {
    let flags = env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let mut flags = flags.split('\x1f');
    while let Some(flag) = flags.next() {
        let value = match flag {
            "-C" | "--codegen" => flags.next().unwrap_or_default(),
            _ => flag.strip_prefix("-C").unwrap_or_default(),
        };
        if let Some(linker) = value.strip_prefix("linker=") {
            return linker.to_owned();
        }
    }
    env::var("RUSTC_LINKER").unwrap_or_else(|_| "cc".to_owned())
}

/// Where the driver finds `name`, if it does.
fn print_file_name(linker: &str, name: &str) -> Option<PathBuf> {
    let out = Command::new(linker)
        .arg(format!("-print-file-name={name}"))
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (out.status.success() && path.is_absolute() && path.exists()).then_some(path)
}

/// Whether a position-independent program that unwinds links with `unwinder` (an
/// archive built without `-fPIC` would not).
fn links_position_independent(linker: &str, unwinder: &Path, out: &Path) -> bool {
    let source = out.join("unwinder-probe.c");
    let program =
        "void _Unwind_Backtrace(void);\nint main(void) { return &_Unwind_Backtrace == 0; }\n";
    fs::write(&source, program).is_ok()
        && Command::new(linker)
            .args(["-fPIE", "-pie", "-o"])
            .arg(out.join("unwinder-probe"))
            .arg(&source)
            .arg(unwinder)
            .output()
            .is_ok_and(|o| o.status.success())
}
