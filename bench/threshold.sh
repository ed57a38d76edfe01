#!/usr/bin/env bash
# bench/threshold.sh — what the chunking threshold costs a text file that is edited a
# little at a time: for each file size and threshold, a fresh cow repository (its
# `chunking.threshold` set by hand in .cow/config before the first commit) snapshots a
# text-like file, then five versions of it with 20 lines edited each; prints a
# Markdown table (stdout) of the store growth per version before gc and the whole store
# after `cow gc`. Progress on stderr. By hand only, never in CI.
#
# Usage: bench/threshold.sh [SIZES] [THRESHOLDS]
#        (defaults "1500000 3000000 6000000" and "1048576 4194304 16777216")
#
# Needs cow built in release mode (cargo build --release) and python3; COW=/path/to/cow
# overrides the binary.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cow=${COW:-$root/target/release/cow}
sizes=${1:-1500000 3000000 6000000}
thresholds=${2:-1048576 4194304 16777216}
[ -x "$cow" ] || { echo "build cow first: cargo build --release" >&2; exit 1; }
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cow-threshold.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export COW_AUTHOR_NAME=bench COW_AUTHOR_EMAIL=bench@example.com

store() { du -sb "$1/.cow/objects" | cut -f1; }

echo "| file bytes | threshold | growth per version (bytes) | store after gc (bytes) |"
echo "|---|---|---|---|"
for size in $sizes; do
    for threshold in $thresholds; do
        echo "threshold: $size bytes, threshold $threshold" >&2
        repo=$scratch/r-$size-$threshold
        mkdir -p "$repo"
        cd "$repo"
        "$cow" init >/dev/null
        sed -i "s/^\(\s*threshold = \).*/\1$threshold/" .cow/config
        python3 - "$size" <<'PY'
import random, sys
rng = random.Random(5)
size = int(sys.argv[1])
words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 9))) for _ in range(3000)]
out, total = [], 0
while total < size:
    line = " ".join(rng.choice(words) for _ in range(10)) + "\n"
    out.append(line)
    total += len(line)
open("f.txt", "w").write("".join(out))
PY
        "$cow" commit -m base >/dev/null
        before=$(store "$repo")
        for v in 1 2 3 4 5; do
            python3 - "$v" <<'PY'
import random, sys
rng = random.Random(int(sys.argv[1]))
lines = open("f.txt").read().split("\n")
for _ in range(20):
    k = rng.randrange(len(lines))
    lines[k] = lines[k][::-1] + " edited"
open("f.txt", "w").write("\n".join(lines))
PY
            "$cow" commit -m "v$v" >/dev/null
        done
        after=$(store "$repo")
        "$cow" gc >/dev/null
        echo "| $size | $threshold | $(((after - before) / 5)) | $(store "$repo") |"
        cd "$scratch"
    done
done
