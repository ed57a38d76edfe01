#!/usr/bin/env bash
# bench/compare.sh — time cow against git on the same trees, in the same run, and
# print a Markdown table (stdout) of median wall time, cow/git ratio and peak RSS.
# Progress and warnings go to stderr. Run by hand from anywhere; never in CI.
#
# Usage: bench/compare.sh [OPTIONS]
#
#   --corpus DIR      corpus made by ../shared/bench/corpus.sh DIR
#                     (default: $COW_BENCH_CACHE, else ~/.cache/cow-bench)
#   --runs N          timed runs per scenario and tool (default 3)
#   --s8-runs N       full replays of the release series per tool (default 1)
#   --only LIST       scenarios to run, comma-separated: S1..S9, R1 (default: S1-S9,
#                     plus R1 with --big); prerequisites are built untimed
#   --big             also run R1: commit one 4 GiB pseudo-random file (needs about
#                     2x that on the scratch filesystem and a few minutes)
#   --big-size SIZE   size of R1's file, as `head -c` takes it (default 4G; implies --big)
#   --scratch DIR     make the scratch directory inside DIR (default: ${TMPDIR:-/tmp});
#                     it needs ~15 GB free for the kernel scenarios (~20 GB with
#                     --baseline)
#   --baseline REV    also time cow built at REV (a revision of this repository) as a
#                     third tool, base: before/after figures of a change in one run
#                     (see Baseline below)
#   --keep            keep the scratch directory (repositories, trees) and the
#                     baseline's worktree at the end
#   -h, --help        this help
#
# Scenarios (the performance issue's list; A and B are the two kernel trees):
#   S1  first snapshot of A: cow init + commit; git init + add -A -f + commit
#   S2  nothing changed: cow status vs git status; cow commit vs git add -A -f + commit
#       (both refuse "nothing to commit", exit 1, which is expected)
#   S3  one file edited (a line appended to README), snapshot
#   S4  checkout A->B and B->A, with A and B committed and tagged a, b
#   S5  diff a b: --name-status and --stat (renames on by default in both)
#   S6  log of the release series, and log -- django/__init__.py (else PKG-INFO)
#   S7  store bytes (du -sb of the objects directory) with A and B; gc --prune=now
#       time (one run: gc changes the store) and store bytes after it
#   S8  replay the release series as successive snapshots (sum of the commit times);
#       store bytes; cow gc vs git gc and git gc --aggressive (one run each)
#   S9  durability: a one-file commit in a small generated tree (~1,300 files; no
#       corpus needed), on a quiet filesystem and right after another program wrote
#       40,000 files of 4 KiB that are still dirty in the page cache (not synced before
#       the timed commit): a commit should flush what it wrote, not the whole filesystem
#   R1  (--big) commit one 4 GiB file: peak RSS (one run)
#
# Method: the kernel trees are copied into the scratch directory (cp -a; the corpus is
# never modified), one working directory per tool (a .cow and a .git cannot share one:
# each would snapshot the other). Before each timed command: sync. Tools alternate each
# run (cow first in odd runs, git first in even ones; with --baseline the three go
# through their six orders, so that in runs 1-3, as in 4-6, each is once first, once
# second and once last). Read-only scenarios get one untimed warm-up; S1 reads its tree
# (tar to a pipe) before each run. Files are never deleted before a timed command: old
# repositories and trees are moved to a trash directory (same filesystem) and removed at
# the end. Wall time is measured in the shell (EPOCHREALTIME) around GNU time, which
# reports peak RSS (%M); for `sh -c` chains %M is the largest single process among the
# ones it waited for (sh, git add, git commit...), not their sum.
#
# git is the baseline with default settings, hermetic: GIT_CONFIG_GLOBAL=/dev/null,
# GIT_CONFIG_NOSYSTEM=1, fixed author/committer/date, `init --object-format=sha256`,
# init.defaultBranch=main; and gc.auto=0, maintenance.auto=false, because a git commit
# of thousands of loose objects otherwise starts a detached `git gc --auto` that keeps
# running during the next measurements (git's own gc is measured in S7 and S8).
# Debian's kernel tree has a top-level .gitignore with `/*`; cow does not read
# .gitignore files, so git takes the files with `add -A -f` to snapshot the same tree;
# the script checks that both produce the same root tree ids.
#
# Baseline (--baseline REV; git above is the reference, base is cow's own past), for a
# change's before/after figures ("no scenario more than 5% slower, median of 5, same
# run"): cow is still this checkout as it is (HEAD and any uncommitted changes); REV is
# checked out in a detached git worktree under the scratch directory (removed at the end
# unless --keep) and built with `cargo build --release` into its own target directory,
# kept between runs in ${COW_BENCH_CACHE:-~/.cache/cow-bench}/baseline-target so that a
# rerun rebuilds only cow itself. That program, base, is timed wherever cow is, exactly
# like cow: the same command lines (its binary first in PATH), the same untimed steps,
# warm-ups and checks, in working directories and repositories of its own. The tables
# gain base's median, store size and peak RSS and the ratio cow/base (three decimals);
# when cow is more than 5% slower than base (or its store 5% larger), the cell is marked
# ! and a warning goes to stderr and under Warnings.
set -euo pipefail
# Everything below is one compound command, which bash reads whole before running it: a
# full run takes tens of minutes, and an edit or a checkout of this file meanwhile must
# not change it.
{
export LC_ALL=C

die() { printf 'cow-bench: %s\n' "$*" >&2; exit 1; }
log() { printf '[compare %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
WARNINGS=()
warn() { WARNINGS+=("$*"); printf 'cow-bench: warning: %s\n' "$*" >&2; }
usage() { sed -n '2,/^set -euo/{/^#/!d;s/^# \{0,1\}//;p}' "$0"; }

# ------------------------------------------------------------------ options
CORPUS=${COW_BENCH_CACHE:-$HOME/.cache/cow-bench}
RUNS=3
S8_RUNS=1
ONLY=""
SCRATCH_PARENT=${TMPDIR:-/tmp}
KEEP=0
BIG=0
BIG_SIZE=4G
BASE_REV=""
while (($#)); do
  opt=$1 val=""
  case $opt in
    --*=*) val=${opt#*=}; opt=${opt%%=*} ;;
    --corpus | --runs | --s8-runs | --only | --scratch | --big-size | --baseline)
      (($# >= 2)) || die "$opt needs a value"; val=$2; shift ;;
  esac
  case $opt in
    --corpus) CORPUS=$val ;;
    --runs) RUNS=$val ;;
    --s8-runs) S8_RUNS=$val ;;
    --only) ONLY=$val ;;
    --scratch) SCRATCH_PARENT=$val ;;
    --big-size) BIG_SIZE=$val; BIG=1 ;;
    --baseline) [[ -n $val ]] || die "--baseline needs a revision"; BASE_REV=$val ;;
    --big) BIG=1 ;;
    --keep) KEEP=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
  shift
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive integer, not '$RUNS'"
[[ $S8_RUNS =~ ^[1-9][0-9]*$ ]] || die "--s8-runs needs a positive integer, not '$S8_RUNS'"
BASE=0
[[ -z $BASE_REV ]] || BASE=1

declare -A SEL=()
if [[ -n $ONLY ]]; then
  for s in ${ONLY//,/ }; do
    s=${s^^}
    case $s in S[1-9] | R1) SEL[$s]=1 ;; *) die "--only: unknown scenario '$s' (S1..S9, R1)" ;; esac
  done
else
  for s in S1 S2 S3 S4 S5 S6 S7 S8 S9; do SEL[$s]=1; done
  ((BIG)) && SEL[R1]=1
fi
sel() { [[ -n ${SEL[$1]:-} ]]; }

# ------------------------------------------------------------------ corpus
# A tree counts only with its "<dir>.done" marker (corpus.sh writes it last).
done_trees() {
  local m
  for m in "$1"/*.done; do
    [[ -e $m && -d ${m%.done} ]] && basename "${m%.done}"
  done
  return 0
}
NEED_KERNEL=0 NEED_SERIES=0
for s in S1 S2 S3 S4 S5 S7; do sel "$s" && NEED_KERNEL=1; done
for s in S6 S8; do sel "$s" && NEED_SERIES=1; done
mapfile -t KTREES < <(done_trees "$CORPUS/kernel" | sort -V)
mapfile -t STREES < <(done_trees "$CORPUS/series" | sort)
if { ((NEED_KERNEL)) && ((${#KTREES[@]} < 2)); } || { ((NEED_SERIES)) && ((${#STREES[@]} < 2)); }; then
  printf 'cow-bench: corpus missing under %s; make it with: ../shared/bench/corpus.sh %s\n' \
    "$CORPUS" "$CORPUS" >&2
  exit 1
fi
# (S9 alone needs no corpus.)
if [[ -d $CORPUS ]]; then CORPUS=$(cd "$CORPUS" && pwd); fi
KA_NAME="" KB_NAME=""
if ((${#KTREES[@]})); then KA_NAME=${KTREES[0]} KB_NAME=${KTREES[${#KTREES[@]}-1]}; fi
KA=$CORPUS/kernel/$KA_NAME KB=$CORPUS/kernel/$KB_NAME

# ------------------------------------------------------------------ tools, build
if ! /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
  die "GNU time is needed at /usr/bin/time (apt-get install time)"
fi
command -v git >/dev/null || die "git is needed"
command -v cargo >/dev/null || die "cargo is needed"

mkdir -p "$SCRATCH_PARENT"
SCRATCH_PARENT=$(cd "$SCRATCH_PARENT" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if ((BASE)); then
  BASE_ID=$(git rev-parse --verify --quiet "$BASE_REV^{commit}") ||
    die "--baseline: '$BASE_REV' is not a commit of $ROOT"
  BASE_SHORT=$(git rev-parse --short "$BASE_ID")
fi
COW_REV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $COW_REV != unknown && -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
  COW_REV+="+uncommitted changes"
fi
log "building the release binary (cargo build --release)"
cargo build --release >&2
TARGET=${CARGO_TARGET_DIR:-target}
[[ $TARGET == /* ]] || TARGET=$ROOT/$TARGET
COW=$TARGET/release/cow
[[ -x $COW ]] || die "no binary at $COW after the build"
GIT_VERSION=$(git --version)

W=$(mktemp -d "$SCRATCH_PARENT/cow-bench.XXXXXX")
BASE_SRC=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  local rc=$?
  if ((KEEP)); then
    log "scratch kept: $W"
    [[ -z $BASE_SRC ]] || log "baseline worktree kept: $BASE_SRC (git worktree remove --force $BASE_SRC)"
  else
    if [[ -n $BASE_SRC ]]; then
      log "removing the baseline worktree $BASE_SRC"
      git -C "$ROOT" worktree remove --force "$BASE_SRC" ||
        { rm -rf "$BASE_SRC"; git -C "$ROOT" worktree prune; }
    fi
    log "removing scratch $W"
    rm -rf "$W"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$W/bin" "$W/trash" "$W/tmp"
# A copy, so that a rebuild during the run (another cargo build in this checkout) cannot
# change the program measured.
cp "$COW" "$W/bin/cow"
log "scratch: $W"

# base: cow built at --baseline REV, in a worktree under the scratch directory, with a
# target directory kept between runs (only what changed since the last build is rebuilt).
BASE_BIN=$W/base-bin
if ((BASE)); then
  BASE_TARGET=${COW_BENCH_CACHE:-$HOME/.cache/cow-bench}/baseline-target
  BASE_SRC=$W/cow-baseline
  log "building the baseline: $BASE_REV ($BASE_SHORT) in $BASE_SRC, target $BASE_TARGET"
  mkdir -p "$BASE_BIN" "$BASE_TARGET"
  git worktree add --quiet --detach "$BASE_SRC" "$BASE_ID" >&2 ||
    die "--baseline: cannot add a worktree at $BASE_SRC"
  (cd "$BASE_SRC" && CARGO_TARGET_DIR=$BASE_TARGET cargo build --release) >&2 ||
    die "--baseline: cargo build --release failed at $BASE_REV ($BASE_SHORT)"
  [[ -x $BASE_TARGET/release/cow ]] || die "no binary at $BASE_TARGET/release/cow after the build"
  cp "$BASE_TARGET/release/cow" "$BASE_BIN/cow"
fi
export PATH="$W/bin:$PATH" TMPDIR="$W/tmp"

# Hermetic identities and git configuration (see the header).
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES \
  GIT_CONFIG GIT_CONFIG_PARAMETERS COW_COMMITTER_DATE
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 GIT_CEILING_DIRECTORIES=$W \
  GIT_TERMINAL_PROMPT=0 GIT_PAGER=cat PAGER=cat
export GIT_CONFIG_COUNT=3 \
  GIT_CONFIG_KEY_0=gc.auto GIT_CONFIG_VALUE_0=0 \
  GIT_CONFIG_KEY_1=maintenance.auto GIT_CONFIG_VALUE_1=false \
  GIT_CONFIG_KEY_2=init.defaultBranch GIT_CONFIG_VALUE_2=main
export GIT_AUTHOR_NAME="cow bench" GIT_AUTHOR_EMAIL=bench@example.com GIT_AUTHOR_DATE="1700000000 +0000"
export GIT_COMMITTER_NAME="cow bench" GIT_COMMITTER_EMAIL=bench@example.com GIT_COMMITTER_DATE="1700000000 +0000"
export COW_AUTHOR_NAME="cow bench" COW_AUTHOR_EMAIL=bench@example.com COW_AUTHOR_DATE="1700000000 +0000"
export COW_COMMITTER_NAME="cow bench" COW_COMMITTER_EMAIL=bench@example.com
(cd "$W/tmp" && git init -q --object-format=sha256 probe && rm -rf probe) ||
  die "this git cannot make SHA-256 repositories ($GIT_VERSION)"

# ------------------------------------------------------------------ measuring
declare -A T=() M=() ERR=() BYTES=() DISK=()
LAST_US=0 LAST_KB=0 LAST_RC=0 LAST_OK=1
NTRASH=0

# The tools timed, in the order of their untimed steps. base runs cow's commands with
# base's binary (path_of, cmdline) in its own directories.
TOOLS=(cow git)
((BASE)) && TOOLS+=(base)
store_of() { if [[ $1 == git ]]; then echo .git; else echo .cow; fi; }

# Move DIR's entries (but not the repository) to the trash: no mass deletion now.
clear_tree() {
  local d=$1 t
  NTRASH=$((NTRASH + 1)); t=$W/trash/$NTRASH; mkdir -p "$t"
  find "$d" -mindepth 1 -maxdepth 1 ! -name .cow ! -name .git -exec mv -t "$t" -- {} +
}
trash() { NTRASH=$((NTRASH + 1)); mv -- "$1" "$W/trash/$NTRASH"; }

preread() { tar -C "$1" --exclude=./.cow --exclude=./.git -cf - . 2>/dev/null | cat >/dev/null || true; }

# q DIR CMD...: an untimed step that must succeed (CMD and CMD_PATH from cmdline).
q() {
  local d=$1; shift
  if ! (cd "$d" && PATH=$CMD_PATH "$@") >"$W/q.out" 2>"$W/q.err"; then
    tail -n 5 "$W/q.err" "$W/q.out" >&2 || true
    die "failed (untimed setup) in $d: $*"
  fi
}

# timed KEY DIR OKCODES CMD...: sync (unless NOSYNC is set), run CMD in DIR under GNU
# time with CMD_PATH as PATH; sets LAST_US (wall, µs), LAST_KB (peak RSS), LAST_RC,
# LAST_OK. An exit status outside OKCODES marks KEY failed (shown as "error" in the
# table) instead of stopping the run.
timed() {
  local key=$1 d=$2 ok=$3; shift 3
  local t0 t1
  [[ -n ${NOSYNC:-} ]] || sync
  LAST_RC=0
  t0=$EPOCHREALTIME
  (cd "$d" && PATH=$CMD_PATH exec /usr/bin/time -f %M -o "$W/last.time" "$@") >"$W/last.out" 2>"$W/last.err" || LAST_RC=$?
  t1=$EPOCHREALTIME
  LAST_US=$((${t1/./} - ${t0/./}))
  LAST_KB=$(tail -n 1 "$W/last.time" 2>/dev/null || echo 0)
  [[ $LAST_KB =~ ^[0-9]+$ ]] || LAST_KB=0
  if [[ " $ok " == *" $LAST_RC "* ]]; then
    LAST_OK=1
  else
    LAST_OK=0
    ERR[$key]="exit $LAST_RC: $(tail -n 2 "$W/last.err" | tr '\n' ' ')"
    warn "$key: '$*' failed in $d with exit $LAST_RC: $(tail -n 3 "$W/last.err" | tr '\n' ' ')"
  fi
}
record() { # KEY: add LAST_US and LAST_KB to KEY's runs
  T[$1]="${T[$1]:-} $LAST_US"
  local m=${M[$1]:-0}
  ((LAST_KB > m)) && m=$LAST_KB
  M[$1]=$m
}
# bench SCENARIO TOOL DIR OKCODES ACTION [ARG]: time one command and record it.
bench() {
  local s=$1 tool=$2 d=$3 ok=$4; shift 4
  cmdline "$tool" "$@"
  timed "$s.$tool" "$d" "$ok" "${CMD[@]}"
  ((LAST_OK)) && record "$s.$tool"
  return 0
}
# warmup TOOL DIR ACTION [ARG]: the same command, untimed, output kept in $W/last.out.
warmup() {
  local tool=$1 d=$2; shift 2
  cmdline "$tool" "$@"
  (cd "$d" && PATH=$CMD_PATH "${CMD[@]}") >"$W/last.out" 2>"$W/last.err" ||
    warn "warm-up of '${CMD[*]}' in $d failed: $(tail -n 2 "$W/last.err" | tr '\n' ' ')"
}

CMD=() CMD_PATH=$PATH
# path_of TOOL: the PATH that TOOL's commands run with.
path_of() { if [[ $1 == base ]]; then echo "$BASE_BIN:$PATH"; else echo "$PATH"; fi; }
# cmdline TOOL ACTION [ARG]: set CMD to TOOL's command for ACTION, CMD_PATH to its PATH.
# shellcheck disable=SC2016  # the $1 in the sh -c scripts is sh's
cmdline() {
  local tool=$1 act=$2 arg=${3:-}
  CMD_PATH=$PATH
  if [[ $tool == base ]]; then tool=cow CMD_PATH=$BASE_BIN:$PATH; fi
  case $tool.$act in
    cow.first) CMD=(sh -c 'cow init >/dev/null && cow commit -m "$1"' sh "$arg") ;;
    git.first) CMD=(sh -c 'git init -q --object-format=sha256 && git add -A -f && git commit -qm "$1"' sh "$arg") ;;
    cow.init) CMD=(cow init) ;;
    git.init) CMD=(git init -q --object-format=sha256) ;;
    cow.commit) CMD=(cow commit -m "$arg") ;;
    git.commit) CMD=(sh -c 'git add -A -f && git commit -qm "$1"' sh "$arg") ;;
    cow.tag) CMD=(cow tag "$arg") ;;
    git.tag) CMD=(git tag "$arg") ;;
    cow.status) CMD=(cow status --porcelain) ;;
    git.status) CMD=(git status --porcelain) ;;
    cow.checkout) CMD=(cow checkout "$arg") ;;
    git.checkout) CMD=(git checkout -q "$arg") ;;
    cow.namestatus) CMD=(cow diff --name-status a b) ;;
    git.namestatus) CMD=(git diff --name-status a b) ;;
    cow.stat) CMD=(cow diff --stat a b) ;;
    git.stat) CMD=(git diff --stat a b) ;;
    cow.log) CMD=(cow log) ;;
    git.log) CMD=(git log) ;;
    cow.logpath) CMD=(cow log -- "$arg") ;;
    git.logpath) CMD=(git log -- "$arg") ;;
    cow.gc) CMD=(cow gc --prune=now) ;;
    git.gc) CMD=(git gc -q --prune=now) ;;
    git.gcaggressive) CMD=(git gc -q --aggressive --prune=now) ;;
    *) die "internal: no command for $tool.$act" ;;
  esac
}
# order RUN: the tools in RUN's order. cow and git alternate (cow first in odd runs); with
# base, runs go through the six orders of the three, so that in runs 1-3, 4-6, ... each
# tool is once first, once second and once last.
ORDERS3=("cow git base" "git base cow" "base cow git" "base git cow" "git cow base" "cow base git")
order() {
  if ((BASE)); then
    echo "${ORDERS3[($1 - 1) % 6]}"
  elif (($1 % 2)); then echo cow git; else echo git cow; fi
}

tree_id() { # TOOL DIR REV
  local tool=$1 d=$2 rev=$3
  if [[ $tool == git ]]; then
    (cd "$d" && git rev-parse "$rev^{tree}") 2>/dev/null
  else
    local p
    p=$(path_of "$tool")
    (cd "$d" && { PATH=$p cow rev-parse "$rev^{tree}" || PATH=$p cow rev-parse "$rev:" ||
      PATH=$p cow cat-file -p "$rev" | sed -n 's/^tree //p'; }) 2>/dev/null
  fi
}
CHECKS=()
check_trees() { # LABEL DIRPREFIX REV: REV's root tree in DIRPREFIX-TOOL for each tool
  local c g b
  c=$(tree_id cow "$2-cow" "$3" || true) g=$(tree_id git "$2-git" "$3" || true)
  if ((BASE)); then
    b=$(tree_id base "$2-base" "$3" || true)
    if [[ -n $c && $c == "$g" && $b == "$g" ]]; then
      CHECKS+=("$1: same root tree in cow, base and git (${c:0:12})")
    else
      warn "$1: root trees differ: cow ${c:-?} base ${b:-?} git ${g:-?}"
    fi
  elif [[ -n $c && $c == "$g" ]]; then
    CHECKS+=("$1: same root tree in cow and git (${c:0:12})")
  else
    warn "$1: root trees differ: cow ${c:-?} git ${g:-?}"
  fi
}
store_size() { # KEY TOOL DIR: bytes (du -sb) and disk use (du -sk) of the objects directory
  local o
  o=$3/$(store_of "$2")/objects
  BYTES[$1]=$(du -sb "$o" | cut -f1)
  DISK[$1]=$(($(du -sk "$o" | cut -f1) * 1024))
}

# ------------------------------------------------------------------ kernel repositories
kdir() { echo "$W/kernel-$1"; }
A_READY=0 AB_READY=0 AB_BROKEN=0

copy_kernel_a() {
  log "copying kernel A ($KA_NAME) into the scratch directory, once per tool"
  local tool
  for tool in "${TOOLS[@]}"; do
    mkdir -p "$(kdir "$tool")"
    cp -a "$KA/." "$(kdir "$tool")/"
  done
  sync; sleep 2
}

# After S1 (or its untimed stand-in): tag a, and check the trees.
finish_a() {
  local tool
  for tool in "${TOOLS[@]}"; do
    cmdline "$tool" tag a
    q "$(kdir "$tool")" "${CMD[@]}"
  done
  check_trees "kernel A" "$W/kernel" a
  A_READY=1
}

ensure_a() {
  ((A_READY)) && return 0
  log "S1 not run: committing A untimed"
  local tool
  for tool in "${TOOLS[@]}"; do
    cmdline "$tool" first "kernel A"
    q "$(kdir "$tool")" "${CMD[@]}"
  done
  finish_a
}

ensure_ab() {
  ((AB_READY)) && return 0
  ensure_a
  log "S4 setup: replacing A by B ($KB_NAME) in both working directories, committing B"
  local tool d
  for tool in "${TOOLS[@]}"; do
    d=$(kdir "$tool")
    clear_tree "$d"
    cp -a "$KB/." "$d/"
  done
  sync; sleep 2
  for tool in "${TOOLS[@]}"; do
    d=$(kdir "$tool")
    bench B "$tool" "$d" 0 commit "kernel B"
    if ((!LAST_OK)); then
      warn "committing B failed with $tool: S4, S5 and S7 are skipped"
      AB_READY=1 AB_BROKEN=1
      return 0
    fi
    cmdline "$tool" tag b
    q "$d" "${CMD[@]}"
  done
  check_trees "kernel B" "$W/kernel" b
  AB_READY=1
}

# ------------------------------------------------------------------ scenarios
s1() {
  log "S1: first snapshot of A, $RUNS run(s) per tool"
  local r tool d st
  for ((r = 1; r <= RUNS; r++)); do
    for tool in $(order "$r"); do
      d=$(kdir "$tool") st=$(store_of "$tool")
      [[ -e $d/$st ]] && trash "$d/$st"
      preread "$d"
      bench S1 "$tool" "$d" 0 first "kernel A"
      log "  run $r $tool: $(fmt_s "$LAST_US") s, $((LAST_KB / 1024)) MiB"
      if ((!LAST_OK)); then
        [[ -e $d/$st ]] && trash "$d/$st"
        cmdline "$tool" first "kernel A"
        q "$d" "${CMD[@]}"
      fi
    done
  done
  finish_a
}

s2() {
  ensure_a
  log "S2: nothing changed: status, then commit"
  local r tool d n
  for tool in "${TOOLS[@]}"; do
    warmup "$tool" "$(kdir "$tool")" status
    n=$(wc -l <"$W/last.out")
    ((n == 0)) || warn "S2: $tool status lists $n change(s) right after the commit: $(head -n 3 "$W/last.out" | tr '\n' ' ')"
  done
  for ((r = 1; r <= RUNS; r++)); do
    for tool in $(order "$r"); do
      bench S2status "$tool" "$(kdir "$tool")" 0 status
    done
  done
  for ((r = 1; r <= RUNS; r++)); do
    for tool in $(order "$r"); do
      d=$(kdir "$tool")
      bench S2commit "$tool" "$d" "0 1" commit "nothing changed $r"
      if ((LAST_OK)); then
        if ((LAST_RC == 0)); then
          warn "S2: $tool made a commit with nothing changed (run $r)"
        elif ! grep -qi 'nothing to commit' "$W/last.out" "$W/last.err"; then
          warn "S2: $tool commit exit 1 without 'nothing to commit': $(tail -n 2 "$W/last.err" | tr '\n' ' ')"
        fi
      fi
    done
  done
}

s3() {
  ensure_a
  log "S3: one file edited (README), snapshot"
  local r tool d
  for ((r = 1; r <= RUNS; r++)); do
    for tool in $(order "$r"); do
      d=$(kdir "$tool")
      printf 'cow-bench S3 edit %d\n' "$r" >>"$d/README"
      bench S3 "$tool" "$d" 0 commit "S3 edit $r"
    done
  done
}

verify_clean() { # TOOL LABEL (TOOL: cow or base)
  local n
  (cd "$(kdir "$1")" && PATH=$(path_of "$1") cow status --porcelain) >"$W/v.out" 2>&1 || true
  n=$(wc -l <"$W/v.out")
  ((n == 0)) || warn "S4: $1 status after $2 is not clean ($n lines): $(head -n 3 "$W/v.out" | tr '\n' ' ')"
}

s4() {
  ensure_ab
  ((!AB_BROKEN)) || return 0
  log "S4: checkout A->B and B->A"
  local r tool
  for tool in "${TOOLS[@]}"; do warmup "$tool" "$(kdir "$tool")" checkout a; done
  for tool in "${TOOLS[@]}"; do
    [[ $tool == git ]] || verify_clean "$tool" "the warm-up checkout of a"
  done
  for ((r = 1; r <= RUNS; r++)); do
    for tool in $(order "$r"); do
      bench S4ab "$tool" "$(kdir "$tool")" 0 checkout b
      ((r == 1)) && [[ $tool != git ]] && verify_clean "$tool" "checkout b"
    done
    for tool in $(order "$r"); do
      bench S4ba "$tool" "$(kdir "$tool")" 0 checkout a
      ((r == 1)) && [[ $tool != git ]] && verify_clean "$tool" "checkout a"
    done
  done
  for tool in "${TOOLS[@]}"; do
    [[ $tool != git ]] || continue
    if diff -rq --no-dereference --exclude=.cow --exclude=.git "$(kdir "$tool")" "$(kdir git)" >"$W/v.out" 2>&1; then
      CHECKS+=("S4: after checkout a, $tool's and git's working directories are identical (diff -r)")
    else
      warn "S4: after checkout a, the working directories of $tool and git differ ($(wc -l <"$W/v.out") lines of diff -rq): $(head -n 3 "$W/v.out" | tr '\n' ' ')"
    fi
  done
}

s5() {
  ensure_ab
  ((!AB_BROKEN)) || return 0
  log "S5: diff --name-status and --stat between a and b"
  local r tool
  for tool in "${TOOLS[@]}"; do
    warmup "$tool" "$(kdir "$tool")" namestatus
    sort "$W/last.out" >"$W/ns.$tool"
    warmup "$tool" "$(kdir "$tool")" stat
  done
  for tool in "${TOOLS[@]}"; do
    [[ $tool != git ]] || continue
    if cmp -s "$W/ns.$tool" "$W/ns.git"; then
      CHECKS+=("S5: diff --name-status a b: same $(wc -l <"$W/ns.$tool") lines from $tool and git")
    else
      warn "S5: diff --name-status a b differs: $tool $(wc -l <"$W/ns.$tool") lines, git $(wc -l <"$W/ns.git") lines, $(comm -3 "$W/ns.$tool" "$W/ns.git" | wc -l) differing; first: $(comm -3 "$W/ns.$tool" "$W/ns.git" | head -n 4 | tr '\t\n' '  ')"
    fi
  done
  for ((r = 1; r <= RUNS; r++)); do
    for tool in $(order "$r"); do bench S5ns "$tool" "$(kdir "$tool")" 0 namestatus; done
  done
  for ((r = 1; r <= RUNS; r++)); do
    for tool in $(order "$r"); do bench S5stat "$tool" "$(kdir "$tool")" 0 stat; done
  done
}

s7() {
  ensure_ab
  ((!AB_BROKEN)) || return 0
  log "S7: store size with A and B, gc --prune=now (one run each)"
  local tool d
  for tool in "${TOOLS[@]}"; do store_size "S7pre.$tool" "$tool" "$(kdir "$tool")"; done
  for tool in "${TOOLS[@]}"; do
    d=$(kdir "$tool")
    bench S7gc "$tool" "$d" 0 gc
    log "  $tool gc: $(fmt_s "$LAST_US") s, $((LAST_KB / 1024)) MiB"
    store_size "S7post.$tool" "$tool" "$d"
  done
}

# ------------------------------------------------------------------ release series
sdir() { echo "$W/series-$1"; }
SERIES_READY=0 SERIES_BROKEN=0
LOGPATH=django/__init__.py

# replay RECORD(0|1) RUN: the releases as successive commits, one repository per tool.
replay() {
  local rec=$1 r=$2 i tool d name failed=0 line=""
  local -A sum_us=() peak_kb=()
  for tool in "${TOOLS[@]}"; do
    d=$(sdir "$tool")
    [[ -e $d ]] && trash "$d"
    mkdir -p "$d"
    cmdline "$tool" init
    q "$d" "${CMD[@]}"
  done
  for ((i = 0; i < ${#STREES[@]}; i++)); do
    name=${STREES[i]}
    for tool in "${TOOLS[@]}"; do
      d=$(sdir "$tool")
      clear_tree "$d"
      cp -a "$CORPUS/series/$name/." "$d/"
    done
    for tool in $(order $((r + i))); do
      bench S8one "$tool" "$(sdir "$tool")" 0 commit "release $name"
      if ((!LAST_OK)); then failed=1; break 2; fi
      sum_us[$tool]=$((${sum_us[$tool]:-0} + LAST_US))
      ((LAST_KB > ${peak_kb[$tool]:-0})) && peak_kb[$tool]=$LAST_KB
    done
  done
  SERIES_READY=1
  if ((failed)); then
    for tool in "${TOOLS[@]}"; do ERR[S8.$tool]=${ERR[S8one.$tool]:-}; done
    warn "S8: a commit of the release series failed: S6 and S8's gc are skipped"
    SERIES_BROKEN=1
    return 0
  fi
  if ((rec)); then
    for tool in "${TOOLS[@]}"; do
      LAST_US=${sum_us[$tool]:-0} LAST_KB=${peak_kb[$tool]:-0}; record "S8.$tool"
      line+="${line:+, }$tool $(fmt_s "$LAST_US") s"
    done
    log "  replay $r: $line"
  fi
  [[ -e $(sdir git)/$LOGPATH ]] || LOGPATH=PKG-INFO
  check_trees "last release ${STREES[${#STREES[@]}-1]}" "$W/series" HEAD
}

s8() {
  log "S8: replaying ${#STREES[@]} releases, $S8_RUNS replay(s) per tool"
  local r
  for ((r = 1; r <= S8_RUNS && !SERIES_BROKEN; r++)); do replay 1 "$r"; done
}

s6() {
  ((SERIES_READY)) || { log "S8 not run: replaying the series untimed"; replay 0 1; }
  ((!SERIES_BROKEN)) || return 0
  log "S6: log, and log -- $LOGPATH"
  local r tool n n_git
  for tool in "${TOOLS[@]}"; do
    warmup "$tool" "$(sdir "$tool")" log
    grep -c '^commit ' "$W/last.out" >"$W/n.log.$tool" || true
    warmup "$tool" "$(sdir "$tool")" logpath "$LOGPATH"
    grep -c '^commit ' "$W/last.out" >"$W/n.path.$tool" || true
  done
  for tool in "${TOOLS[@]}"; do
    [[ $tool != git ]] || continue
    n=$(cat "$W/n.log.$tool") n_git=$(cat "$W/n.log.git")
    [[ $n == "$n_git" ]] || warn "S6: log lists $n commits in $tool, $n_git in git"
    n=$(cat "$W/n.path.$tool") n_git=$(cat "$W/n.path.git")
    if [[ $n == "$n_git" ]]; then
      CHECKS+=("S6: log -- $LOGPATH lists $n commits in $tool and in git")
    else
      warn "S6: log -- $LOGPATH lists $n commits in $tool, $n_git in git"
    fi
  done
  for ((r = 1; r <= RUNS; r++)); do
    for tool in $(order "$r"); do bench S6log "$tool" "$(sdir "$tool")" 0 log; done
  done
  for ((r = 1; r <= RUNS; r++)); do
    for tool in $(order "$r"); do bench S6path "$tool" "$(sdir "$tool")" 0 logpath "$LOGPATH"; done
  done
}

s8gc() {
  ((!SERIES_BROKEN)) || return 0
  log "S8: store size, cow gc vs git gc and git gc --aggressive (one run each)"
  local tool
  for tool in "${TOOLS[@]}"; do store_size "S8pre.$tool" "$tool" "$(sdir "$tool")"; done
  cp -a "$(sdir git)" "$W/series-git-aggressive"
  sync; sleep 2
  for tool in "${TOOLS[@]}"; do
    bench S8gc "$tool" "$(sdir "$tool")" 0 gc
    store_size "S8post.$tool" "$tool" "$(sdir "$tool")"
  done
  bench S8gcaggr git "$W/series-git-aggressive" 0 gcaggressive
  store_size S8postaggr.git git "$W/series-git-aggressive"
}

# ------------------------------------------------------------------ S9: durability
NOISE_FILES=40000 NOISE_BYTES=4096

# small_tree DIR: about 1,300 text files in 20 directories, and a README.
small_tree() {
  local i
  for i in $(seq -w 0 19); do
    mkdir -p "$1/dir$i"
    head -c 150000 /dev/urandom | base64 -w 76 | split -l 40 -a 2 - "$1/dir$i/file"
  done
  echo "small tree" >"$1/README"
}

# noise DIR: what another program (a build, an unpack) does: write NOISE_FILES files of
# NOISE_BYTES each, left dirty in the page cache.
noise() {
  mkdir -p "$1"
  head -c $((NOISE_FILES * NOISE_BYTES)) /dev/urandom | split -b "$NOISE_BYTES" -a 4 - "$1/f"
}

s9() {
  log "S9: one-file commit, quiet and right after another program wrote $NOISE_FILES files"
  local r tool d n
  small_tree "$W/small-src"
  for tool in "${TOOLS[@]}"; do
    d=$W/small-$tool
    mkdir -p "$d"
    cp -a "$W/small-src/." "$d/"
    cmdline "$tool" init
    q "$d" "${CMD[@]}"
    cmdline "$tool" commit "small tree"
    q "$d" "${CMD[@]}"
  done
  n=$(find "$W/small-cow" -path "$W/small-cow/.cow" -prune -o -type f -print | wc -l)
  CHECKS+=("S9: the small tree has $n files")
  check_trees "S9 small tree" "$W/small" HEAD
  for ((r = 1; r <= RUNS; r++)); do
    for tool in $(order "$r"); do
      d=$W/small-$tool
      printf 'S9 quiet edit %d\n' "$r" >>"$d/README"
      bench S9quiet "$tool" "$d" 0 commit "S9 quiet $r"
    done
    for tool in $(order "$r"); do
      d=$W/small-$tool
      printf 'S9 edit after writes %d\n' "$r" >>"$d/README"
      sync
      noise "$W/noise-$r-$tool"
      NOSYNC=1 bench S9noisy "$tool" "$d" 0 commit "S9 after writes $r"
      trash "$W/noise-$r-$tool"
    done
  done
}

# ------------------------------------------------------------------ R1: one big file
r1() {
  local bytes avail tool d
  bytes=$(numfmt --from=iec "$BIG_SIZE") || die "--big-size: cannot read '$BIG_SIZE'"
  avail=$(($(df -Pk "$W" | awk 'NR == 2 { print $4 }') * 1024))
  if ((avail < bytes * 5 / 2)); then
    warn "R1 skipped: $avail bytes free in the scratch filesystem, $((bytes * 5 / 2)) needed"
    return 0
  fi
  log "R1: making a $BIG_SIZE pseudo-random file (untimed)"
  mkdir -p "$W/big"
  head -c "$bytes" /dev/urandom >"$W/big/big.bin"
  sync
  for tool in "${TOOLS[@]}"; do
    d=$W/big-$tool
    mkdir -p "$d"
    ln "$W/big/big.bin" "$d/big.bin" 2>/dev/null || cp "$W/big/big.bin" "$d/big.bin"
    cmdline "$tool" init
    q "$d" "${CMD[@]}"
    cat "$d/big.bin" >/dev/null
    bench R1 "$tool" "$d" 0 commit "one big file"
    log "  $tool: $(fmt_s "$LAST_US") s, $((LAST_KB / 1024)) MiB"
    rm -rf "${d:?}/$(store_of "$tool")" # one big file: quick to delete, frees the space
  done
}

# ------------------------------------------------------------------ formatting
# Seconds: three decimals, four under 0.1 s (log takes about 3 ms).
fmt_s() { awk -v u="$1" 'BEGIN { printf (u < 100000 ? "%.4f" : "%.3f"), u / 1e6 }'; }
fmt_mib() { awk -v k="$1" 'BEGIN { m = k / 1024; printf (m < 10 ? "%.1f MiB" : "%.0f MiB"), m }'; }
fmt_bytes() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
median() { # runs (µs) -> median (µs)
  printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END {
    if (NR % 2) print a[(NR + 1) / 2]; else print int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "—" }'; }
met() { # RATIO TARGET
  [[ $2 == — || $1 == — ]] && { echo —; return; }
  awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t ? "yes" : "**no**") }'
}
runs_of() { local x out=""; for x in ${T[$1]:-}; do out+="${out:+, }$(fmt_s "$x")"; done; echo "$out"; }

# vs_base KEY LABEL WORD COW BASE COWSHOW BASESHOW: set VS to the cell cow/base (COW over
# BASE, three decimals), marked "!" with a warning (once per KEY) when COW is more than
# BASE_MARGIN percent above BASE; WORD says what that means ("slower", "larger").
BASE_MARGIN=5 VS=—
declare -A FLAGGED=()
vs_base() {
  local key=$1 label=$2 word=$3 c=$4 b=$5
  VS=—
  [[ -n $c && -n $b ]] && ((b > 0)) || return 0
  VS=$(awk -v a="$c" -v b="$b" 'BEGIN { printf "%.3f", a / b }')
  if ((c * 100 > b * (100 + BASE_MARGIN))); then
    VS+=" !"
    if [[ -z ${FLAGGED[$key]:-} ]]; then
      FLAGGED[$key]=1
      warn "$label: cow is $(awk -v a="$c" -v b="$b" 'BEGIN { printf "%.1f", (a / b - 1) * 100 }')% $word than base ($6 against $7)"
    fi
  fi
}

# time_row COWKEY GITKEY LABEL TARGET (base's key: COWKEY with .base for .cow)
time_row() {
  local ck=$1 gk=$2 label=$3 target=$4 bk=${1%.cow}.base c="" g="" b="" cm gm bm rt cr gr br
  [[ -z ${T[$ck]:-} && -z ${T[$gk]:-} && -z ${ERR[$ck]:-} && -z ${ERR[$gk]:-} ]] && return 0
  if [[ -n ${T[$ck]:-} ]]; then
    # shellcheck disable=SC2086
    c=$(median ${T[$ck]}); cm=$(fmt_s "$c"); cr=$(fmt_mib "${M[$ck]}")
  else cm=error cr=—; fi
  if [[ -n ${T[$gk]:-} ]]; then
    # shellcheck disable=SC2086
    g=$(median ${T[$gk]}); gm=$(fmt_s "$g"); gr=$(fmt_mib "${M[$gk]}")
  else gm=error gr=—; fi
  if [[ -n $c && -n $g ]]; then rt=$(ratio "$c" "$g"); else rt=—; fi
  local tshow=—
  [[ $target != — ]] && tshow="≤ $target"
  if ((!BASE)); then
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |\n' "$label" "$cm" "$gm" "$rt" \
      "$tshow" "$(met "$rt" "$target")" "$cr" "$gr" "$(runs_of "$ck")" "$(runs_of "$gk")"
    return 0
  fi
  if [[ -n ${T[$bk]:-} ]]; then
    # shellcheck disable=SC2086
    b=$(median ${T[$bk]}); bm=$(fmt_s "$b"); br=$(fmt_mib "${M[$bk]}")
  else bm=error br=—; fi
  vs_base "$ck" "$label" slower "$c" "$b" "${cm} s" "${bm} s"
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s / %s |\n' "$label" \
    "$cm" "$bm" "$VS" "$gm" "$rt" "$tshow" "$(met "$rt" "$target")" "$cr" "$br" "$gr" \
    "$(runs_of "$ck")" "$(runs_of "$bk")" "$(runs_of "$gk")"
}

# size_row COWKEY GITKEY LABEL TARGET (base's key: COWKEY with .base for .cow)
size_row() {
  local ck=$1 gk=$2 label=$3 target=$4 bk=${1%.cow}.base rt tshow=— bb=— bd=—
  [[ -n ${BYTES[$ck]:-} && -n ${BYTES[$gk]:-} ]] || return 0
  rt=$(ratio "${BYTES[$ck]}" "${BYTES[$gk]}")
  [[ $target != — ]] && tshow="≤ $target"
  if ((!BASE)); then
    printf '| %s | %s | %s | %s | %s | %s | %s / %s |\n' "$label" "$(fmt_bytes "${BYTES[$ck]}")" \
      "$(fmt_bytes "${BYTES[$gk]}")" "$rt" "$tshow" "$(met "$rt" "$target")" \
      "$(fmt_mib $((DISK[$ck] / 1024)))" "$(fmt_mib $((DISK[$gk] / 1024)))"
    return 0
  fi
  if [[ -n ${BYTES[$bk]:-} ]]; then
    bb=$(fmt_bytes "${BYTES[$bk]}") bd=$(fmt_mib $((DISK[$bk] / 1024)))
  fi
  vs_base "$ck" "$label" larger "${BYTES[$ck]}" "${BYTES[$bk]:-}" \
    "$(fmt_bytes "${BYTES[$ck]}") bytes" "$bb bytes"
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s / %s |\n' "$label" \
    "$(fmt_bytes "${BYTES[$ck]}")" "$bb" "$VS" "$(fmt_bytes "${BYTES[$gk]}")" "$rt" "$tshow" \
    "$(met "$rt" "$target")" "$(fmt_mib $((DISK[$ck] / 1024)))" "$bd" "$(fmt_mib $((DISK[$gk] / 1024)))"
}

rss_row() { # KEY LABEL LIMIT_MIB (KEY: cow's; with --baseline, base's shown next to it)
  [[ -n ${M[$1]:-} ]] || return 0
  local ok="**no**" kb=${M[$1]} bk=${1%.cow}.base
  ((kb < $3 * 1024)) && ok=yes
  if ((BASE)); then
    local bm=—
    [[ -z ${M[$bk]:-} ]] || bm=$(fmt_mib "${M[$bk]}")
    printf '| %s | %s | %s | < %s MiB | %s |\n' "$2" "$(fmt_mib "${M[$1]}")" "$bm" "$3" "$ok"
  else
    printf '| %s | %s | < %s MiB | %s |\n' "$2" "$(fmt_mib "${M[$1]}")" "$3" "$ok"
  fi
}

report() {
  local cpu fs files="" s
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
  fs=$(df -PT "$W" | awk 'NR == 2 { print $2 " (" $1 ")" }')
  ((NEED_KERNEL)) && files=" ($(fmt_bytes "$(find "$KA" -type f | wc -l)") files, $(du -sh "$KA" | cut -f1))"
  echo "## cow vs git, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- machine: $(nproc) cores, ${cpu:-unknown CPU}, $(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo), scratch on $fs"
  if ((NEED_KERNEL)); then
    echo "- corpus: kernel A \`$KA_NAME\`$files, B \`$KB_NAME\`"
  fi
  if ((NEED_SERIES)); then
    echo "- corpus: series of ${#STREES[@]} releases, \`${STREES[0]}\` … \`${STREES[${#STREES[@]}-1]}\`"
  fi
  local turns=alternating
  if ((BASE)); then
    echo "- cow \`$COW_REV\` and base \`$BASE_SHORT\` (\`--baseline $BASE_REV\`), release builds, $GIT_VERSION (hermetic defaults, gc.auto=0)"
    turns="rotating the order of cow, base and git"
  else
    echo "- cow \`$COW_REV\` (release build), $GIT_VERSION (hermetic defaults, gc.auto=0)"
  fi
  echo "- $RUNS run(s) per scenario and tool, $turns (S8: $S8_RUNS replay(s); gc and R1: one run); scenarios: $(printf '%s\n' "${!SEL[@]}" | sort | tr '\n' ' ')"
  echo
  if ((BASE)); then
    echo "| scenario | cow (median s) | base (median s) | cow/base | git (median s) | cow/git | target | met? | cow peak RSS | base peak RSS | git peak RSS | runs cow / base / git (s) |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  else
    echo "| scenario | cow (median s) | git (median s) | cow/git | target | met? | cow peak RSS | git peak RSS | runs cow / git (s) |"
    echo "|---|---|---|---|---|---|---|---|---|"
  fi
  time_row S1.cow S1.git "S1 first snapshot of A (init + commit)" 0.20
  time_row S2status.cow S2status.git "S2 status, nothing changed" 1.0
  time_row S2commit.cow S2commit.git "S2 commit, nothing changed (git: add -A -f + commit)" 0.5
  time_row S3.cow S3.git "S3 one file edited, commit" 0.8
  time_row B.cow B.git "commit B on top of A (S4 setup, one run)" —
  time_row S4ab.cow S4ab.git "S4 checkout A→B" 0.7
  time_row S4ba.cow S4ba.git "S4 checkout B→A" 0.7
  time_row S5ns.cow S5ns.git "S5 diff --name-status A B" 1.0
  time_row S5stat.cow S5stat.git "S5 diff --stat A B" 0.7
  time_row S6log.cow S6log.git "S6 log (${#STREES[@]} commits)" 1.0
  time_row S6path.cow S6path.git "S6 log -- $LOGPATH" 1.0
  time_row S7gc.cow S7gc.git "S7 gc --prune=now, store with A and B (one run)" 0.5
  time_row S8.cow S8.git "S8 replay ${#STREES[@]} releases, sum of commit times" 0.6
  time_row S8gc.cow S8gc.git "S8 gc --prune=now (one run)" —
  time_row S8gc.cow S8gcaggr.git "S8 cow gc vs git gc --aggressive (one run)" —
  time_row S9quiet.cow S9quiet.git "S9 one-file commit, quiet (small tree)" —
  time_row S9noisy.cow S9noisy.git "S9 one-file commit right after another program wrote $(fmt_bytes $NOISE_FILES) files" —
  time_row R1.cow R1.git "R1 commit one $BIG_SIZE file (one run)" —
  if [[ -n ${T[S9quiet.cow]:-} && -n ${T[S9noisy.cow]:-} ]]; then
    local tool q n rt shown=(cow git)
    ((BASE)) && shown=(cow base git)
    echo
    echo "| S9: one-file commit after $(fmt_bytes $NOISE_FILES) writes / quiet | after (median s) | quiet (median s) | ratio | target | met? |"
    echo "|---|---|---|---|---|---|"
    for tool in "${shown[@]}"; do
      [[ -n ${T[S9quiet.$tool]:-} && -n ${T[S9noisy.$tool]:-} ]] || continue
      # shellcheck disable=SC2086
      q=$(median ${T[S9quiet.$tool]}) n=$(median ${T[S9noisy.$tool]})
      rt=$(ratio "$n" "$q")
      if [[ $tool != git ]]; then
        printf '| %s | %s | %s | %s | ≤ 1.2 | %s |\n' "$tool" "$(fmt_s "$n")" "$(fmt_s "$q")" "$rt" "$(met "$rt" 1.2)"
      else
        printf '| %s | %s | %s | %s | — | — |\n' "$tool" "$(fmt_s "$n")" "$(fmt_s "$q")" "$rt"
      fi
    done
  fi
  if [[ -n ${BYTES[S7pre.cow]:-}${BYTES[S8pre.cow]:-} ]]; then
    echo
    if ((BASE)); then
      echo "| store: bytes of the objects directory (du -sb) | cow | base | cow/base | git | cow/git | target | met? | on disk (du -s) cow / base / git |"
      echo "|---|---|---|---|---|---|---|---|---|"
    else
      echo "| store: bytes of the objects directory (du -sb) | cow | git | cow/git | target | met? | on disk (du -s) cow / git |"
      echo "|---|---|---|---|---|---|---|"
    fi
    size_row S7pre.cow S7pre.git "S7 A and B, before gc (cow packs, git loose)" —
    size_row S7post.cow S7post.git "S7 A and B, after gc --prune=now" 0.8
    size_row S8pre.cow S8pre.git "S8 ${#STREES[@]} releases, before gc" —
    size_row S8post.cow S8post.git "S8 after gc (git gc --prune=now)" 0.8
    size_row S8post.cow S8postaggr.git "S8 after gc (git gc --aggressive --prune=now)" 0.8
  fi
  if [[ -n ${M[S1.cow]:-}${M[R1.cow]:-} ]]; then
    echo
    if ((BASE)); then
      echo "| peak RSS target | cow | base | target | met? |"
      echo "|---|---|---|---|---|"
    else
      echo "| peak RSS target | cow | target | met? |"
      echo "|---|---|---|---|"
    fi
    rss_row S1.cow "S1 first snapshot of A" 300
    rss_row R1.cow "R1 commit one $BIG_SIZE file" 100
  fi
  echo
  echo "Wall time is the median of the runs; peak RSS the largest of the runs (GNU time %M; for"
  echo "\`sh -c\` chains, the largest single process). S7's store also holds the S2/S3 commits"
  echo "(a few KB). S6 runs on the stores as the replay left them (before S8's gc)."
  if ((BASE)); then
    echo "base is cow built at \`$BASE_REV\` ($BASE_SHORT), run exactly as cow is; cow/base is cow's"
    echo "median over base's (stores: bytes over bytes), marked ! when cow is more than"
    echo "$BASE_MARGIN% slower (larger) than base."
  fi
  if ((${#CHECKS[@]})); then
    echo
    echo "Checks:"
    for s in "${CHECKS[@]}"; do echo "- $s"; done
  fi
  if ((${#WARNINGS[@]})); then
    echo
    echo "Warnings:"
    for s in "${WARNINGS[@]}"; do echo "- $s"; done
  fi
}

# ------------------------------------------------------------------ run
if sel S1 || sel S2 || sel S3 || sel S4 || sel S5 || sel S7; then
  copy_kernel_a
  if sel S1; then s1; fi
  if sel S2; then s2; fi
  if sel S3; then s3; fi
  if sel S4; then s4; fi
  if sel S5; then s5; fi
  if sel S7; then s7; fi
fi
if sel S8; then s8; fi
if sel S6; then s6; fi
if sel S8; then s8gc; fi
if sel S9; then s9; fi
if sel R1; then r1; fi
log "done"
report
exit
}
