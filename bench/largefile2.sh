#!/usr/bin/env bash
# bench/largefile2.sh — large files that change the way real ones do: cow, git (sha256),
# restic and borg on the same files in one run. Prints Markdown tables (stdout);
# progress on stderr. By hand only, never in CI. Companion of bench/largefile.sh
# (issue 16, large files); both source bench/lib-largefile.sh.
#
# Usage: bench/largefile2.sh sqlite|vm|throughput|all
#
#   sqlite      a SQLite database of SQLITE_MB MB (default 100): one table (integer key,
#               text and real columns) with an index on two of them, built from a fixed
#               seed with Python's sqlite3; then SQLITE_VERSIONS versions (default 5),
#               each one transaction of 200 UPDATEs of random existing rows and 2,000
#               INSERTs, committed and the database closed. Every version is made once
#               and copied into each tool's working directory.
#   vm          a VM-like disk image: a sparse file of VM_MIB MiB (default 2048, made by
#               truncate) with VM_DATA_MIB MiB (default 300, scaled with VM_MIB) of
#               seeded data written in 1 MiB extents at scattered offsets (alternately
#               random and text-like); then VM_VERSIONS versions (default 3), each
#               VM_WRITES (default 200) 4 KiB writes of random bytes at random 4 KiB-
#               aligned offsets. Copies keep the holes (cp --sparse=always); the tools
#               may read holes as zeros.
#   throughput  one file of SIZE_MIB MiB (default 4096; half random, half text-like, as
#               bench/largefile.sh makes it), linked (hard links) into each tool's
#               working directory. First the machine's floor, then each tool's time,
#               ratio to the floor, peak RSS and store size for: a first snapshot into
#               an empty store (cow commit, git add + commit, restic backup, borg
#               create); then restoring the file after deleting it (cow restore, git
#               checkout --, restic restore, borg extract), checked with cmp untimed.
#   all         the three, one after the other.
#
# sqlite and vm report store growth per version (`du -sb` of each store after the
# snapshot minus before it) and the snapshot's wall time, as bench/largefile.sh does.
#
# The floor (throughput): what hashing and compressing the file costs here with no
# store at all, timed on the same file from the page cache (every tool reads it warm
# too: nothing here drops caches):
#   hash      openssl dgst -sha256 (SHA-NI where the CPU has it; coreutils sha256sum
#             9.x has no SHA-NI and is ~4x slower, so it would flatter every tool)
#   compress  zstd -3 -T1 -c >/dev/null (one thread)
#   floor     both at once, each reading the file itself: what two cores can reach.
#             Snapshot rows give their ratio to it. (Feeding both from one read
#             through tee and a FIFO costs ~2x more than this, all of it pipe copies
#             and tee's small buffers, so that is no floor.) The sum of hash and
#             compress, the one-core figure, is shown too.
# For restoring, the floor is `zstd -d -c` of the file compressed beforehand, written
# to a new file, while openssl hashes the original (the same bytes: a verifying
# restore's work on two cores); restore rows give their ratio to that.
# Times and peak RSS come from GNU time (/usr/bin/time -f '%e %M'), else a
# Python wrapper (resource.getrusage); git's snapshot is `git add` then `git commit`,
# times added and the larger peak RSS shown.
#
# Disk: sqlite about 10x SQLITE_MB; vm about 4x VM_DATA_MIB plus the stores (the
# tools may store holes as compressed zeros); throughput about 5x SIZE_MIB at peak
# (the file, four stores of ~0.75x, one restored copy at a time).
# Needs: cow built in release mode (cargo build --release; COW=/path/to/cow for
# another build), git 2.45+, restic, borg, python3 (with sqlite3), zstd and openssl
# (throughput).
set -euo pipefail

# shellcheck source=bench/lib-largefile.sh
. "$(dirname "$0")/lib-largefile.sh"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[ $# -eq 1 ] || usage
case $1 in
    sqlite | vm) lf_setup largefile2 ;;
    throughput | all) lf_setup largefile2 zstd openssl ;;
    *) usage ;;
esac

# ---------------------------------------------------------------- sqlite
sqlite_make() { # DB MB
    python3 - "$1" "$2" <<'EOF'
import random, sqlite3, sys
path, mb = sys.argv[1], int(sys.argv[2])
rng = random.Random(16)
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
db = sqlite3.connect(path)
db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, tag TEXT NOT NULL, score REAL NOT NULL, body TEXT NOT NULL)")
db.execute("CREATE INDEX items_tag_score ON items (tag, score)")
def row():
    return (" ".join(rng.choices(words, k=2)), "tag%04d" % rng.randrange(1000), rng.random() * 1000,
            " ".join(rng.choices(words, k=rng.randint(10, 40))))
while True:
    with db:
        db.executemany("INSERT INTO items (name, tag, score, body) VALUES (?, ?, ?, ?)", (row() for _ in range(10000)))
    pages, = db.execute("PRAGMA page_count").fetchone()
    size, = db.execute("PRAGMA page_size").fetchone()
    if pages * size >= mb * 1000000:
        break
db.close()
EOF
}
sqlite_edit() { # DB VERSION
    python3 - "$1" "$2" <<'EOF'
import random, sqlite3, sys
path, version = sys.argv[1], sys.argv[2]
rng = random.Random(16)
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
rng = random.Random("sqlite-" + version)
db = sqlite3.connect(path)
last, = db.execute("SELECT max(id) FROM items").fetchone()
with db:
    for _ in range(200):
        db.execute("UPDATE items SET score = ?, body = ? WHERE id = ?",
                   (rng.random() * 1000, " ".join(rng.choices(words, k=rng.randint(10, 40))), rng.randint(1, last)))
    db.executemany("INSERT INTO items (name, tag, score, body) VALUES (?, ?, ?, ?)",
                   ((" ".join(rng.choices(words, k=2)), "tag%04d" % rng.randrange(1000), rng.random() * 1000,
                     " ".join(rng.choices(words, k=rng.randint(10, 40)))) for _ in range(2000)))
db.close()
EOF
}

pages_changed() { # OLD NEW: how many 4 KiB pages of NEW differ from OLD's (or are new)
    python3 - "$1" "$2" <<'EOF'
import sys
with open(sys.argv[1], "rb") as a, open(sys.argv[2], "rb") as b:
    n = 0
    while True:
        x, y = a.read(4096), b.read(4096)
        if not y:
            break
        n += x != y
print(n)
EOF
}

run_sqlite() {
    local mb=${SQLITE_MB:-100} versions=${SQLITE_VERSIONS:-5} master step steps changed=
    echo "sqlite: building a ${mb} MB database" >&2
    master=$scratch/data.db
    sqlite_make "$master" "$mb"
    lf_init_repos
    prepare() { cp "$master" "$scratch/$1/work/data.db"; }
    steps=(base)
    lf_snapshot_all base
    for ((v = 1; v <= versions; v++)); do
        step=v$v
        cp "$master" "$scratch/prev.db"
        sqlite_edit "$master" "$step"
        changed+="${changed:+, }$step $(pages_changed "$scratch/prev.db" "$master")"
        steps+=("$step")
        lf_snapshot_all "$step"
    done
    echo
    echo "SQLite database, $(mb "$(stat -c %s "$master")") MB after $versions versions" \
        "(each 200 UPDATEs + 2,000 INSERTs); store growth per snapshot:"
    echo "4 KiB pages changed (of $(( $(stat -c %s "$master") / 4096 ))), per version: $changed."
    echo
    lf_growth_table "snapshot (${mb} MB database)" "${steps[@]}"
    rm -rf "${scratch:?}"/*
}

# ---------------------------------------------------------------- vm
vm_make() { # IMAGE MIB DATA_MIB
    truncate -s "${2}M" "$1"
    python3 - "$1" "$2" "$3" <<'EOF'
import random, sys
path, mib, data_mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(16)
words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(5000)]
words += [w + b"\n" for w in words[:500]]
with open(path, "r+b") as f:
    for i, block in enumerate(sorted(rng.sample(range(mib), min(data_mib, mib)))):
        if i % 2 == 0:
            data = rng.randbytes(1 << 20)
        else:
            data = b" ".join(rng.choices(words, k=200000))[: 1 << 20]
        f.seek(block << 20)
        f.write(data)
EOF
}
vm_edit() { # IMAGE VERSION WRITES
    python3 - "$1" "$2" "$3" <<'EOF'
import os, random, sys
path, version, writes = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random("vm-" + version)
pages = os.path.getsize(path) // 4096
with open(path, "r+b") as f:
    for _ in range(writes):
        f.seek(rng.randrange(pages) * 4096)
        f.write(rng.randbytes(4096))
EOF
}

run_vm() {
    local mib=${VM_MIB:-2048}
    local data=${VM_DATA_MIB:-$(( mib * 300 / 2048 ))} versions=${VM_VERSIONS:-3} writes=${VM_WRITES:-200}
    local master step steps
    echo "vm: a ${mib} MiB sparse image with ${data} MiB of data" >&2
    master=$scratch/disk.img
    vm_make "$master" "$mib" "$data"
    lf_init_repos
    prepare() { cp --sparse=always "$master" "$scratch/$1/work/disk.img"; }
    steps=(base)
    lf_snapshot_all base
    for ((v = 1; v <= versions; v++)); do
        step=v$v
        vm_edit "$master" "$step" "$writes"
        steps+=("$step")
        lf_snapshot_all "$step"
    done
    echo
    echo "VM-like image: ${mib} MiB sparse, ${data} MiB written in 1 MiB extents," \
        "$(mb "$(du -B1 "$master" | cut -f1)") MB allocated at the end;" \
        "each version ${writes} scattered 4 KiB writes; store growth per snapshot:"
    echo
    lf_growth_table "snapshot (${mib} MiB image)" "${steps[@]}"
    rm -rf "${scratch:?}"/*
}

# ---------------------------------------------------------------- throughput
# timed DIR CMD...: run CMD in DIR under GNU time (else a Python wrapper); sets T_S
# (wall seconds) and T_MB (peak RSS, MB). Its output goes to $scratch/timed.log.
if /usr/bin/time -f '%e %M' -o /dev/null true 2>/dev/null; then
    timer=(/usr/bin/time -f '%e %M' -o)
else
    timer=(python3 -c 'import resource, subprocess, sys, time
t = time.monotonic(); rc = subprocess.run(sys.argv[2:]).returncode; e = time.monotonic() - t
open(sys.argv[1], "w").write("%.2f %d\n" % (e, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(rc)')
fi
timed() {
    local dir=$1 kb
    shift
    (cd "$dir" && "${timer[@]}" "$scratch/timed.out" "$@") >>"$scratch/timed.log" 2>&1 ||
        { echo "failed: $*" >&2; tail -n 20 "$scratch/timed.log" >&2; exit 1; }
    read -r T_S kb <"$scratch/timed.out"
    T_MB=$(( kb / 1024 ))
}
# wall VARIABLE FUNCTION: wall seconds of FUNCTION (a pipeline; no RSS) into VARIABLE.
wall() {
    local t0 t1
    t0=$(now)
    "$2"
    t1=$(now)
    printf -v "$1" '%.2f' "$(echo "$t1 - $t0" | bc)"
}
# The floors (see the header); $file and $scratch are run_throughput's.
floor_hash() { openssl dgst -sha256 "$file" >/dev/null; }
floor_compress() { zstd -3 -T1 -q -c "$file" >/dev/null; }
floor_both() {
    openssl dgst -sha256 "$file" >/dev/null &
    zstd -3 -T1 -q -c "$file" >/dev/null
    wait
}
floor_restore() {
    openssl dgst -sha256 "$file" >/dev/null &
    zstd -d -q -c "$scratch/data.zst" >"$scratch/floor.out"
    wait
}

run_throughput() {
    local mib=${SIZE_MIB:-4096} file t out s0 m0 hash compress floor dfloor
    local -A sec rss store
    file=$scratch/data.bin
    echo "throughput: making a ${mib} MiB file" >&2
    lf_make_file "$file" "$mib"
    lf_init_repos
    for t in "${tools[@]}"; do ln "$file" "$scratch/$t/work/data.bin"; done
    cat "$file" >/dev/null

    echo "throughput: floor" >&2
    wall hash floor_hash
    wall compress floor_compress
    wall floor floor_both
    zstd -3 -T1 -q -c "$file" >"$scratch/data.zst"
    sync
    wall dfloor floor_restore
    cmp "$file" "$scratch/floor.out"
    rm -f "$scratch/data.zst" "$scratch/floor.out"
    echo "throughput: hash $hash s, compress $compress s, both $floor s, restore $dfloor s" >&2

    for t in "${tools[@]}"; do
        sync
        case $t in
            cow) timed "$scratch/cow/work" "$cow" commit -m base ;;
            git)
                timed "$scratch/git/work" git add -A
                s0=$T_S m0=$T_MB
                timed "$scratch/git/work" git commit -q -m base
                T_S=$(echo "$s0 + $T_S" | bc) T_MB=$(( m0 > T_MB ? m0 : T_MB )) ;;
            restic) timed "$scratch/restic/work" restic -q -r "$scratch/restic/repo" backup "$scratch/restic/work" ;;
            borg) timed "$scratch/borg/work" borg create "$scratch/borg/repo::base" . ;;
        esac
        sync
        sec[$t,snap]=$T_S rss[$t,snap]=$T_MB store[$t]=$(store_bytes "$t")
        echo "throughput: $t snapshot $T_S s, $T_MB MB peak RSS" >&2
    done

    for t in "${tools[@]}"; do
        rm "$scratch/$t/work/data.bin"
        sync
        case $t in
            cow) timed "$scratch/cow/work" "$cow" restore data.bin; out=$scratch/cow/work/data.bin ;;
            git) timed "$scratch/git/work" git checkout -- data.bin; out=$scratch/git/work/data.bin ;;
            restic)
                timed "$scratch/restic" restic -q -r "$scratch/restic/repo" restore latest --target "$scratch/restic/out"
                out=$scratch/restic/out$scratch/restic/work/data.bin ;;
            borg) timed "$scratch/borg/work" borg extract "$scratch/borg/repo::base"; out=$scratch/borg/work/data.bin ;;
        esac
        cmp "$file" "$out"
        rm "$out"
        sec[$t,restore]=$T_S rss[$t,restore]=$T_MB
        echo "throughput: $t restore $T_S s, $T_MB MB peak RSS" >&2
    done

    ratio() { printf '%.2f' "$(echo "scale=3; $1 / $2" | bc)"; }
    echo
    echo "One ${mib} MiB file (half random, half text-like), warm page cache, one run each."
    echo
    echo "| ${mib} MiB file | s | × floor | peak RSS MB | store MB |"
    echo "|---|---|---|---|---|"
    echo "| hash: openssl dgst -sha256 | $hash | $(ratio "$hash" "$floor") | | |"
    echo "| compress: zstd -3 -T1 | $compress | $(ratio "$compress" "$floor") | | |"
    echo "| hash then compress (one core: the sum) | $(echo "$hash + $compress" | bc) | $(ratio "$(echo "$hash + $compress" | bc)" "$floor") | | |"
    echo "| **floor**: hash and compress at once (two cores) | $floor | 1.00 | | |"
    echo "| cow commit | ${sec[cow,snap]} | $(ratio "${sec[cow,snap]}" "$floor") | ${rss[cow,snap]} | $(mb "${store[cow]}") |"
    echo "| git add + commit | ${sec[git,snap]} | $(ratio "${sec[git,snap]}" "$floor") | ${rss[git,snap]} | $(mb "${store[git]}") |"
    echo "| restic backup | ${sec[restic,snap]} | $(ratio "${sec[restic,snap]}" "$floor") | ${rss[restic,snap]} | $(mb "${store[restic]}") |"
    echo "| borg create | ${sec[borg,snap]} | $(ratio "${sec[borg,snap]}" "$floor") | ${rss[borg,snap]} | $(mb "${store[borg]}") |"
    echo "| **restore floor**: zstd -d to a file, and hash, at once | $dfloor | 1.00 | | |"
    echo "| cow restore | ${sec[cow,restore]} | $(ratio "${sec[cow,restore]}" "$dfloor") | ${rss[cow,restore]} | |"
    echo "| git checkout -- | ${sec[git,restore]} | $(ratio "${sec[git,restore]}" "$dfloor") | ${rss[git,restore]} | |"
    echo "| restic restore | ${sec[restic,restore]} | $(ratio "${sec[restic,restore]}" "$dfloor") | ${rss[restic,restore]} | |"
    echo "| borg extract | ${sec[borg,restore]} | $(ratio "${sec[borg,restore]}" "$dfloor") | ${rss[borg,restore]} | |"
    rm -rf "${scratch:?}"/*
}

case $1 in
    sqlite) run_sqlite ;;
    vm) run_vm ;;
    throughput) run_throughput ;;
    all) run_sqlite; echo; run_vm; echo; run_throughput ;;
esac
