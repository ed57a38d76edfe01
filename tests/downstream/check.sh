#!/usr/bin/env bash
# tests/downstream/check.sh — builds the program of another crate that uses cow's
# library without its command line (default-features = false), and checks that it
# links the way any Rust program does: no clap among its dependencies, the usual
# libgcc_s.so.1 (cow's build script changes how cow's own programs link, not its
# dependents'), and that it runs: it snapshots a directory and prints the commit's id.
# Run by .ci/run after the tests; CARGO_TARGET_DIR may point at cow's target directory
# to reuse its dependencies.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
manifest=$here/Cargo.toml
target=${CARGO_TARGET_DIR:-$here/target}
# Each command's output is taken whole before it is searched: under pipefail,
# `cmd | grep -q` fails when grep stops reading early and cmd dies of SIGPIPE.
deps=$(cargo tree --manifest-path "$manifest" -e normal --prefix none)
if grep -Eq '^(clap|indicatif|anyhow) ' <<<"$deps"; then
    echo "downstream: the library pulls the command line's dependencies" >&2
    exit 1
fi
CARGO_TARGET_DIR=$target cargo build --quiet --manifest-path "$manifest"
program=$target/debug/cow-downstream
libs=$(ldd "$program")
if ! grep -q 'libgcc_s\.so\.1' <<<"$libs"; then
    echo "downstream: $program does not link libgcc_s.so.1 as Rust programs do:" >&2
    echo "$libs" >&2
    exit 1
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
id=$("$program" "$scratch/repo")
if ! [[ $id =~ ^[0-9a-f]{64}$ ]]; then
    echo "downstream: expected a commit id, got '$id'" >&2
    exit 1
fi
echo "downstream: ok ($id)"
