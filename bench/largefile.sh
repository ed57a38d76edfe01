#!/usr/bin/env bash
# bench/largefile.sh — what small edits to one large file cost each tool: cow, git
# (sha256), restic and borg snapshot the same file after the same edits, in one run.
# Prints a Markdown table (stdout): store growth and wall time per snapshot. Progress
# on stderr. By hand only, never in CI. The baseline for the large-files issue.
#
# Usage: bench/largefile.sh [SIZE_MIB]     (default 1024)
#
# The file: SIZE_MIB MiB, the first half pseudo-random (incompressible), the second
# text-like (compressible), both from a fixed seed. Snapshots, in order:
#   base     the file as made
#   overwrite 4 KiB overwritten in the middle
#   insert   4 KiB inserted 1 MiB from the start (everything after shifts)
#   append   1 MiB appended
# Growth is `du -sb` of each tool's store after the snapshot minus before it.
#
# Needs: cow built in release mode (cargo build --release; COW=/path/to/cow to use
# another build), git 2.45+, restic, borg (apt-get install restic borgbackup).
# Shares its helpers with bench/largefile2.sh (bench/lib-largefile.sh).
set -euo pipefail

# shellcheck source=bench/lib-largefile.sh
. "$(dirname "$0")/lib-largefile.sh"
size_mib=${1:-1024}
lf_setup largefile

file=$scratch/data.bin
lf_make_file "$file" "$size_mib"
lf_init_repos
for t in "${tools[@]}"; do cp "$file" "$scratch/$t/work/data.bin"; done

edit() {
    python3 - "$1" "$2" <<'EOF'
import os, random, sys
path, kind = sys.argv[1], sys.argv[2]
rng = random.Random(kind)
size = os.path.getsize(path)
if kind == "overwrite":
    with open(path, "r+b") as f:
        f.seek(size // 2)
        f.write(rng.randbytes(4096))
elif kind == "insert":
    tmp = path + ".new"
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        dst.write(src.read(1 << 20))
        dst.write(rng.randbytes(4096))
        while True:
            block = src.read(1 << 20)
            if not block:
                break
            dst.write(block)
    os.replace(tmp, path)
elif kind == "append":
    with open(path, "ab") as f:
        f.write(rng.randbytes(1 << 20))
EOF
}

prepare() { [ "$2" = base ] || edit "$scratch/$1/work/data.bin" "$2"; }

for step in base overwrite insert append; do
    lf_snapshot_all "$step"
done
lf_growth_table "snapshot (${size_mib} MiB file)" base overwrite insert append
