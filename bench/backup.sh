#!/usr/bin/env bash
# bench/backup.sh — a nightly backup job with cow, restic and borg on the same data, in
# one run: twenty nights of snapshots, retention, the space it frees, a restore into
# another directory, and stats. Prints a Markdown table (stdout); progress on stderr.
# By hand only, never in CI.
#
# Usage: bench/backup.sh [SERIES_DIR]
#   SERIES_DIR   directories to snapshot in turn, one per night, in name order
#                (default: the release series of the corpus made by
#                ../shared/bench/corpus.sh, ~/.cache/cow-bench/series/*)
#
# Needs: restic and borg (apt-get install restic borgbackup), and cow built in release
# mode (cargo build --release). Everything happens in a scratch directory removed at the
# end. Each tool gets the same source directory, refilled before each night with the
# next release (every file rewritten, so every tool reads everything each night).
#
# Scenarios (wall seconds, one run each; all three sync their own data):
#   nightly   the sum of twenty snapshots, one a day, dated at 02:00 UTC
#   store     bytes of the store after them (du -sb)
#   forget    --keep-daily 7 --keep-weekly 2, then free the space: cow forget + gc
#             --prune=now; restic forget --prune; borg prune + compact
#   after     bytes of the store then, and how many snapshots each kept
#   restore   the newest snapshot into an empty directory (cow restore --target;
#             restic restore latest --target; borg extract), checked with diff -r
#   stats     cow stats; restic stats --mode raw-data; borg info
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cow=$root/target/release/cow
series=${1:-${COW_BENCH_CACHE:-$HOME/.cache/cow-bench}/series}
command -v restic >/dev/null || { echo "restic is not installed" >&2; exit 1; }
command -v borg >/dev/null || { echo "borg is not installed" >&2; exit 1; }
[ -x "$cow" ] || { echo "build cow first: cargo build --release" >&2; exit 1; }
mapfile -t nights < <(find "$series" -mindepth 1 -maxdepth 1 -type d | sort)
((${#nights[@]})) || { echo "no directories in $series" >&2; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/cow-backup-bench.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export RESTIC_PASSWORD=bench RESTIC_CACHE_DIR=$scratch/restic-cache
export BORG_PASSPHRASE=bench BORG_BASE_DIR=$scratch/borg-base BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export COW_AUTHOR_NAME=bench COW_AUTHOR_EMAIL=bench@example.com
src=$scratch/src
mkdir "$src"
"$cow" init --store "$scratch/cow" "$src" >/dev/null
restic init -q -r "$scratch/restic"
borg init -e repokey "$scratch/borg"

log() { echo "backup.sh: $*" >&2; }
now() { date +%s.%N; }
declare -A secs
add() { secs[$1]=$(echo "${secs[$1]:-0} + $2" | bc); }
timed() { # key command...
    local key=$1 t0 t1
    shift
    t0=$(now)
    "$@" >/dev/null
    t1=$(now)
    add "$key" "$(echo "$t1 - $t0" | bc)"
}
size() { du -sb "$1" | cut -f1; }
mb() { echo "scale=1; $1 / 1000000" | bc; }

for i in "${!nights[@]}"; do
    day=$(date -u -d "2026-11-01 +$i days" +%Y-%m-%d)
    log "night $((i + 1))/${#nights[@]}: ${nights[$i]##*/} as of $day"
    find "$src" -mindepth 1 -maxdepth 1 ! -name .cow -exec rm -rf {} +
    cp -a "${nights[$i]}/." "$src/"
    COW_AUTHOR_DATE="${day}T02:00:00Z" COW_COMMITTER_DATE="${day}T02:00:00Z" \
        timed nightly.cow "$cow" -C "$src" commit -q -m "night $day" --allow-unchanged
    timed nightly.restic env -C "$scratch" TZ=UTC restic -q -r "$scratch/restic" backup \
        --time "$day 02:00:00" --exclude .cow src
    timed nightly.borg env -C "$scratch" TZ=UTC borg create --timestamp "${day}T02:00:00" \
        --exclude src/.cow "$scratch/borg::night-$day" src
done
store_cow=$(size "$scratch/cow") store_restic=$(size "$scratch/restic") store_borg=$(size "$scratch/borg")

log "forget"
policy=(--keep-daily 7 --keep-weekly 2)
t0=$(now)
"$cow" -C "$src" forget -q "${policy[@]}" >/dev/null
"$cow" -C "$src" gc -q --prune=now >/dev/null
t1=$(now)
add forget.cow "$(echo "$t1 - $t0" | bc)"
timed forget.restic env TZ=UTC restic -q -r "$scratch/restic" forget --prune "${policy[@]}"
t0=$(now)
TZ=UTC borg prune "${policy[@]}" "$scratch/borg" >/dev/null
borg compact "$scratch/borg" >/dev/null
t1=$(now)
add forget.borg "$(echo "$t1 - $t0" | bc)"
kept_cow=$("$cow" -C "$src" log --oneline | wc -l)
kept_restic=$(restic -q -r "$scratch/restic" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
kept_borg=$(borg list --short "$scratch/borg" | wc -l)
after_cow=$(size "$scratch/cow") after_restic=$(size "$scratch/restic") after_borg=$(size "$scratch/borg")

log "restore"
timed restore.cow "$cow" -C "$src" restore -q --source HEAD --target "$scratch/r-cow"
timed restore.restic restic -q -r "$scratch/restic" restore latest --target "$scratch/r-restic"
mkdir "$scratch/r-borg"
last=$(borg list --short --last 1 "$scratch/borg")
timed restore.borg env -C "$scratch/r-borg" borg extract "$scratch/borg::$last"
latest=${nights[${#nights[@]}-1]}
diff -r "$latest" "$scratch/r-cow" >/dev/null || log "cow's restore differs from $latest"
diff -r "$latest" "$scratch/r-restic/src" >/dev/null || log "restic's restore differs"
diff -r "$latest" "$scratch/r-borg/src" >/dev/null || log "borg's restore differs"

log "stats"
timed stats.cow "$cow" -C "$src" stats
timed stats.restic restic -q -r "$scratch/restic" stats --mode raw-data
timed stats.borg borg info "$scratch/borg"

ratio() { echo "scale=2; $1 / $2" | bc; }
echo "| scenario | cow | restic | borg | cow/restic | cow/borg |"
echo "|---|---|---|---|---|---|"
for s in nightly forget restore stats; do
    c=${secs[$s.cow]} r=${secs[$s.restic]} b=${secs[$s.borg]}
    printf '| %s (s) | %.2f | %.2f | %.2f | %s | %s |\n' "$s" "$c" "$r" "$b" "$(ratio "$c" "$r")" "$(ratio "$c" "$b")"
done
printf '| store after %d nights (MB) | %s | %s | %s | %s | %s |\n' "${#nights[@]}" "$(mb "$store_cow")" \
    "$(mb "$store_restic")" "$(mb "$store_borg")" "$(ratio "$store_cow" "$store_restic")" "$(ratio "$store_cow" "$store_borg")"
printf '| store after forget (MB) | %s | %s | %s | %s | %s |\n' "$(mb "$after_cow")" "$(mb "$after_restic")" \
    "$(mb "$after_borg")" "$(ratio "$after_cow" "$after_restic")" "$(ratio "$after_cow" "$after_borg")"
printf '| snapshots kept | %s | %s | %s | | |\n' "$kept_cow" "$kept_restic" "$kept_borg"
