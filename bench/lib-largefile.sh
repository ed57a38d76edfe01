# shellcheck shell=bash
# bench/lib-largefile.sh — helpers shared by bench/largefile.sh and bench/largefile2.sh.
# Sourced at the top level of those scripts, never run on its own.
#
# After sourcing: $root (the repository), $cow (COW from the environment, else
# $root/target/release/cow), the hermetic environment (git with no user or system
# config and a fixed identity, cow's identity, restic and borg passwords), and the
# arrays growth[tool,step] and time[tool,step] that lf_snapshot_all fills.
# lf_setup NAME then checks the tools and makes $scratch (removed on exit); restic's
# and borg's caches and borg's security and config directories live under it too, so
# a run leaves nothing in the home directory.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cow=${COW:-$root/target/release/cow}
tools=(cow git restic borg)
declare -A growth time

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
export COW_AUTHOR_NAME=bench COW_AUTHOR_EMAIL=bench@example.com
export RESTIC_PASSWORD=bench BORG_PASSPHRASE=bench BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes

# lf_setup NAME [COMMAND...]: check that cow is built and the commands exist (git,
# restic, borg and python3 always), make $scratch, and point the tools' caches into it.
lf_setup() {
    local name=$1 tool
    shift
    [ -x "$cow" ] || { echo "build cow first: cargo build --release (or set COW=/path/to/cow)" >&2; exit 1; }
    for tool in git restic borg python3 "$@"; do
        command -v "$tool" >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
    done
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/cow-$name.XXXXXX")
    trap 'rm -rf "$scratch"' EXIT
    export RESTIC_CACHE_DIR=$scratch/cache/restic BORG_BASE_DIR=$scratch/cache/borg
}

# lf_make_file PATH MIB: MIB MiB, the first half pseudo-random (incompressible), the
# second text-like (compressible), from a fixed seed: the same bytes on every run.
lf_make_file() {
    python3 - "$1" "$2" <<'EOF'
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
}

# lf_init_repos: an empty store per tool, each with its own working directory
# $scratch/TOOL/work (restic's and borg's repositories are $scratch/TOOL/repo).
lf_init_repos() {
    local t
    for t in "${tools[@]}"; do mkdir -p "$scratch/$t/work"; done
    (cd "$scratch/cow/work" && "$cow" init >/dev/null)
    git -C "$scratch/git/work" init -q --object-format=sha256
    git -C "$scratch/git/work" config gc.auto 0
    restic init -q -r "$scratch/restic/repo" >/dev/null
    borg init -e none "$scratch/borg/repo" >/dev/null 2>&1
}

# store_bytes TOOL: bytes of TOOL's store (du -sb).
store_bytes() {
    case $1 in
        cow) du -sb "$scratch/cow/work/.cow/objects" | cut -f1 ;;
        git) du -sb "$scratch/git/work/.git/objects" | cut -f1 ;;
        restic) du -sb "$scratch/restic/repo" | cut -f1 ;;
        borg) du -sb "$scratch/borg/repo" | cut -f1 ;;
    esac
}

# snapshot TOOL NAME: snapshot TOOL's working directory as NAME.
snapshot() {
    local t=$1 n=$2
    case $t in
        cow) "$cow" -C "$scratch/cow/work" commit -m "$n" >/dev/null ;;
        git) git -C "$scratch/git/work" add -A && git -C "$scratch/git/work" commit -q -m "$n" ;;
        restic) restic -q -r "$scratch/restic/repo" backup "$scratch/restic/work" >/dev/null ;;
        borg) (cd "$scratch/borg/work" && borg create "$scratch/borg/repo::$n" . >/dev/null 2>&1) ;;
    esac
}

now() { date +%s.%N; }
mb() { printf '%.2f' "$(echo "scale=2; $1 / 1000000" | bc)"; }

# lf_snapshot_all STEP: for each tool in turn, call the caller's `prepare TOOL STEP`
# (which brings $scratch/TOOL/work to STEP's content), then snapshot it; records
# growth[TOOL,STEP] (store bytes after minus before) and time[TOOL,STEP] (wall seconds).
lf_snapshot_all() {
    local step=$1 t before t0 t1
    for t in "${tools[@]}"; do
        prepare "$t" "$step"
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
}

# lf_growth_table HEADING STEP...: the Markdown table of growth and time per step.
lf_growth_table() {
    local heading=$1 step
    shift
    echo "| $heading | cow MB | git MB | restic MB | borg MB | cow s | git s | restic s | borg s |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for step in "$@"; do
        printf '| %s | %s | %s | %s | %s | %.2f | %.2f | %.2f | %.2f |\n' "$step" \
            "$(mb "${growth[cow,$step]}")" "$(mb "${growth[git,$step]}")" \
            "$(mb "${growth[restic,$step]}")" "$(mb "${growth[borg,$step]}")" \
            "${time[cow,$step]}" "${time[git,$step]}" "${time[restic,$step]}" "${time[borg,$step]}"
    done
}
