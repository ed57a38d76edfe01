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
//! Where the compiler has no `libgcc_eh.a`, or when cross-compiling, it does nothing.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let static_already = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    if var("CARGO_CFG_TARGET_OS") != "linux"
        || var("CARGO_CFG_TARGET_ENV") != "gnu"
        || var("TARGET") != var("HOST")
        || static_already
    {
        return;
    }
    let linker = env::var("RUSTC_LINKER").unwrap_or_else(|_| "cc".to_owned());
    let Ok(out) = Command::new(linker)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
    else {
        return;
    };
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || !Path::new(&path).is_absolute() || !Path::new(&path).exists() {
        return;
    }
    let dir = PathBuf::from(var("OUT_DIR")).join("static-libgcc");
    let script = format!("INPUT(\"{path}\")\n");
    if fs::create_dir_all(&dir).is_ok() && fs::write(dir.join("libgcc_s.so"), script).is_ok() {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
}
