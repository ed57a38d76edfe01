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
# Needs: cow built in release mode (cargo build --release), git 2.45+, restic, borg
# (apt-get install restic borgbackup).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cow=$root/target/release/cow
size_mib=${1:-1024}
[ -x "$cow" ] || { echo "build cow first: cargo build --release" >&2; exit 1; }
for tool in git restic borg python3; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/cow-largefile.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
export COW_AUTHOR_NAME=bench COW_AUTHOR_EMAIL=bench@example.com
export RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes

# One working directory per tool (each holds its own copy of the file).
for t in cow git restic borg; do mkdir -p "$scratch/$t/work"; done
file=$scratch/data.bin
python3 - "$file" "$size_mib" <<'EOF'
import random, sys
path, mib = sys.argv[1], int(sys.argv[2])
rng = random.Random(16)
words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
half = mib * (1 << 20) // 2
with open(path, "wb") as f:
    left = half
    while left:
        n = min(left, 1 << 20)
        f.write(rng.randbytes(n))
        left -= n
    left = half
    while left:
        line = b" ".join(rng.choice(words) for _ in range(12)) + b"\n"
        line = line[:left]
        f.write(line)
        left -= len(line)
EOF
for t in cow git restic borg; do cp "$file" "$scratch/$t/work/data.bin"; done

(cd "$scratch/cow/work" && "$cow" init >/dev/null)
git -C "$scratch/git/work" init -q --object-format=sha256
git -C "$scratch/git/work" config gc.auto 0
restic init -q -r "$scratch/restic/repo" >/dev/null
borg init -e none "$scratch/borg/repo" >/dev/null 2>&1

store_bytes() {
    case $1 in
        cow) du -sb "$scratch/cow/work/.cow/objects" | cut -f1 ;;
        git) du -sb "$scratch/git/work/.git/objects" | cut -f1 ;;
        restic) du -sb "$scratch/restic/repo" | cut -f1 ;;
        borg) du -sb "$scratch/borg/repo" | cut -f1 ;;
    esac
}
snapshot() {
    local t=$1 n=$2
    case $t in
        cow) "$cow" -C "$scratch/cow/work" commit -m "$n" >/dev/null ;;
        git) git -C "$scratch/git/work" add -A && git -C "$scratch/git/work" commit -q -m "$n" ;;
        restic) restic -q -r "$scratch/restic/repo" backup "$scratch/restic/work" >/dev/null ;;
        borg) (cd "$scratch/borg/work" && borg create "$scratch/borg/repo::$n" . >/dev/null 2>&1) ;;
    esac
}
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

now() { date +%s.%N; }
declare -A growth time
for step in base overwrite insert append; do
    for t in cow git restic borg; do
        [ "$step" = base ] || edit "$scratch/$t/work/data.bin" "$step"
        sync
        before=$(store_bytes "$t")
        t0=$(now)
        snapshot "$t" "$step"
        t1=$(now)
        sync
        growth[$t,$step]=$(( $(store_bytes "$t") - before ))
        time[$t,$step]=$(echo "$t1 - $t0" | bc)
        echo "$step $t: ${growth[$t,$step]} bytes, ${time[$t,$step]} s" >&2
    done
done

mb() { echo "scale=2; $1 / 1000000" | bc; }
echo "| snapshot (${size_mib} MiB file) | cow MB | git MB | restic MB | borg MB | cow s | git s | restic s | borg s |"
echo "|---|---|---|---|---|---|---|---|---|"
for step in base overwrite insert append; do
    printf '| %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f |\n' "$step" \
        "$(mb "${growth[cow,$step]}")" "$(mb "${growth[git,$step]}")" \
        "$(mb "${growth[restic,$step]}")" "$(mb "${growth[borg,$step]}")" \
        "${time[cow,$step]}" "${time[git,$step]}" "${time[restic,$step]}" "${time[borg,$step]}"
done
