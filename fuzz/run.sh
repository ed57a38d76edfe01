#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each, one after another, and
# prints a table: seconds run, executions, corpus size, crashes. Needs cargo-fuzz
# (`cargo install cargo-fuzz`); on a stable toolchain it sets RUSTC_BOOTSTRAP=1 for the
# nightly flags cargo-fuzz passes. Builds into fuzz/target (sanitizer flags), keeps
# the growing corpus in fuzz/corpus/<target> (seeded from fuzz/seeds/<target>, not
# committed), crash inputs in fuzz/artifacts/<target> and logs in fuzz/logs/.
#
# Usage: fuzz/run.sh [SECONDS [TARGET...]]   (default 60 seconds, every target)
# A crash input goes, minimised (`cargo fuzz tmin TARGET FILE`), into
# fuzz/regressions/<target>/, which `cargo test` replays (tests/it/fuzz.rs).
set -uo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(revision pack idx loose tree commit index dircache config)
export RUSTC_BOOTSTRAP=${RUSTC_BOOTSTRAP:-1}
cargo fuzz build -O >/dev/null 2>logs.build || { cat logs.build; exit 1; }
rm -f logs.build
mkdir -p logs
printf '%-10s %8s %12s %8s %8s\n' target seconds executions corpus crashes
status=0
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  before=$(ls "artifacts/$t" | wc -l)
  start=$(date +%s)
  cargo fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
    >"logs/$t.log" 2>&1
  rc=$?
  ran=$(( $(date +%s) - start ))
  # libFuzzer's own count and time (the wall time above includes any build).
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' | tail -1)
  done_in=$(grep -o 'Done [0-9]* runs in [0-9]* second' "logs/$t.log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' | tail -1)
  ran=${done_in:-$ran}
  crashes=$(( $(ls "artifacts/$t" | wc -l) - before ))
  printf '%-10s %8s %12s %8s %8s\n' "$t" "$ran" "${runs:-?}" "$(ls "corpus/$t" | wc -l)" "$crashes"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    status=1
    grep -m1 -E 'panicked at|ERROR: libFuzzer|SUMMARY' "logs/$t.log" | sed 's/^/    /'
  fi
done
exit $status
