#!/usr/bin/env bash
# Regenerates the seed corpora in fuzz/seeds/ from files cow itself writes in a
# temporary repository: packs and their indexes (whole records, block members and
# blocks, deltas by id and by index position, a dictionary), loose objects, tree and
# commit content, the stat cache, the directory cache and config files.
#
# Usage: fuzz/gen-seeds.sh [path/to/cow]   (default: target/debug/cow, built if missing)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cow=${1:-$root/target/debug/cow}
[ -x "$cow" ] || (cd "$root" && cargo build --bin cow)
seeds=$root/fuzz/seeds
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

export COW_AUTHOR_NAME="A U Thor" COW_AUTHOR_EMAIL=author@example.com COW_AUTHOR_DATE="1700000000 +0130"
run() { (cd "$tmp/w" && "$cow" "$@" >/dev/null); }
mkdir -p "$tmp/w/d/e"
cd "$tmp/w"
# The layout of the harness's fixture (fuzz/harness.rs), so directory cache records
# name the same directories.
printf 'one\n' > a.txt
printf 'two\n' > d/b.txt
printf 'three\n' > d/e/c.txt
ln -s a.txt link
"$cow" init >/dev/null
run commit -m first
for f in "$seeds"/{loose,tree,commit,index,dircache,config,pack,revision}; do rm -rf "$f"; mkdir -p "$f"; done

# Loose objects, and their content without the header for the tree and commit targets.
python3 - "$tmp/w/.cow/objects" "$seeds" <<'PY'
import os, subprocess, sys
objects, seeds = sys.argv[1], sys.argv[2]
for fan in sorted(os.listdir(objects)):
    if len(fan) != 2:
        continue
    for rest in sorted(os.listdir(os.path.join(objects, fan))):
        path = os.path.join(objects, fan, rest)
        raw = open(path, 'rb').read()
        full = subprocess.run(['zstd', '-dc'], input=raw, capture_output=True, check=True).stdout
        kind = full.split(b' ', 1)[0].decode()
        content = full[full.index(b'\0') + 1:]
        open(os.path.join(seeds, 'loose', kind + '-' + (fan + rest)[:12]), 'wb').write(raw)
        if kind in ('tree', 'commit'):
            open(os.path.join(seeds, kind, (fan + rest)[:12]), 'wb').write(content)
PY

# A commit with extra headers and a multi-line message, and a merge.
tree=$(printf '' | "$cow" rev-parse HEAD^{tree})
head=$("$cow" rev-parse HEAD)
printf 'tree %s\nparent %s\nparent %s\nauthor A U Thor <a@example.com> 1700000000 +0130\ncommitter C O Mitter <c@example.com> 1700000001 -0700\nencoding UTF-8\nx-extra line\n continued\n\nsubject\n\nbody é\n' \
  "$tree" "$head" "$head" > "$seeds/commit/merge-extra-headers"
printf 'tree %s\nauthor  <> 0 +0000\ncommitter  <> -1 -0000\n\n' "$tree" > "$seeds/commit/empty-identity"

# History for gc: versions of a file (deltas), many small files (blocks, dictionary).
for i in 1 2 3 4; do
  python3 -c "import sys; sys.stdout.write(''.join('line %d of the big file, version %d\n' % (j, ($i if j % 17 == 0 else 0)) for j in range(120)))" > big.txt
  run commit -m "version $i"
done
mkdir -p many
for i in $(seq 1 40); do printf 'fn item_%d() -> u32 { %d }\n' "$i" "$i" > "many/f$i.rs"; done
run commit -m many
run branch feature
run tag v1 HEAD~2
run gc --prune=now

# Packs: `u32 LE idx length ++ idx ++ pack`, and the pack the idx target opens.
python3 - "$tmp/w/.cow/objects/pack" "$seeds" <<'PY'
import os, struct, sys
packdir, seeds = sys.argv[1], sys.argv[2]
for f in sorted(os.listdir(packdir)):
    if f.endswith('.idx'):
        idx = open(os.path.join(packdir, f), 'rb').read()
        pack = open(os.path.join(packdir, f[:-4] + '.pack'), 'rb').read()
        open(os.path.join(seeds, 'pack', 'gc'), 'wb').write(struct.pack('<I', len(idx)) + idx + pack)
        open(os.path.join(seeds, 'idx.pack'), 'wb').write(pack)
        os.makedirs(os.path.join(seeds, 'idx'), exist_ok=True)
        open(os.path.join(seeds, 'idx', 'gc'), 'wb').write(idx)
PY

# A commit of 32+ new objects writes a pack without blocks or deltas.
mkdir -p wide
for i in $(seq 1 40); do printf 'wide %d\n' "$i" > "wide/w$i"; done
run commit -m wide
python3 - "$tmp/w/.cow/objects/pack" "$seeds" <<'PY'
import os, struct, sys
packdir, seeds = sys.argv[1], sys.argv[2]
gc = open(os.path.join(seeds, 'idx.pack'), 'rb').read()
for f in sorted(os.listdir(packdir)):
    if f.endswith('.idx'):
        idx = open(os.path.join(packdir, f), 'rb').read()
        pack = open(os.path.join(packdir, f[:-4] + '.pack'), 'rb').read()
        if pack != gc:
            open(os.path.join(seeds, 'pack', 'commit'), 'wb').write(struct.pack('<I', len(idx)) + idx + pack)
PY

# A pack cow's commands write only in larger repositories, made by hand: a dictionary
# record, a record compressed with it, a delta whose base is named by id, and a block
# of two members.
python3 - "$seeds" <<'PY'
import hashlib, os, struct, subprocess, sys, tempfile
seeds = sys.argv[1]
def varint(n):
    out = b''
    while n >= 0x80:
        out += bytes([(n & 0x7f) | 0x80]); n >>= 7
    return out + bytes([n])
def zstd(data, dictionary=None):
    with tempfile.NamedTemporaryFile() as d:
        args = ['zstd', '-q', '-c', '-3']
        if dictionary is not None:
            d.write(dictionary); d.flush(); args += ['-D', d.name]
        return subprocess.run(args, input=data, capture_output=True, check=True).stdout
def oid(kind, data):
    return hashlib.sha256(b'%s %d\0' % (kind, len(data)) + data).digest()
dictionary = b'fn main() { println!("hello, world"); }\n' * 4
a = b'fn main() { println!("hello, world"); } // a\n' * 3
b = a + b'// and one more line\n'
m1, m2 = b'first member\n', b'second member\n'
pack = bytearray(b'CWPACK\0\x01')
pack += bytes([5]) + varint(len(dictionary)) + dictionary
offsets = {}
offsets[oid(b'blob', a)] = len(pack)
frame = zstd(a, dictionary)
pack += bytes([0x41]) + varint(len(a)) + varint(len(frame)) + frame
offsets[oid(b'blob', b)] = len(pack)
frame = zstd(b, a)
pack += bytes([0x81]) + varint(len(b)) + oid(b'blob', a) + varint(len(frame)) + frame
block_at = len(pack)
frame = zstd(m1 + m2)
pack += bytes([6]) + varint(len(m1 + m2)) + varint(len(frame)) + frame
for start, m in ((0, m1), (len(m1), m2)):
    offsets[oid(b'blob', m)] = len(pack)
    pack += bytes([0x21]) + varint(len(m)) + varint(len(pack) - block_at) + varint(start)
pack += hashlib.sha256(pack).digest()
ids = sorted(offsets)
fanout = [sum(1 for i in ids if i[0] <= b) for b in range(256)]
idx = b'CWIDX\0\0\x01' + b''.join(struct.pack('>I', n) for n in fanout) + b''.join(ids)
idx += b''.join(struct.pack('>Q', offsets[i]) for i in ids) + pack[-32:]
idx += hashlib.sha256(idx).digest()
open(os.path.join(seeds, 'pack', 'dictionary-delta-by-id-block'), 'wb').write(struct.pack('<I', len(idx)) + idx + bytes(pack))
PY

# The stat cache and directory cache, without their SHA-256 trailers (the harness
# appends a valid one), and config files.
run status
head -c -32 .cow/index > "$seeds/index/after-status"
head -c -32 .cow/dircache > "$seeds/dircache/after-status"
rm -rf wide many big.txt
run status
head -c -32 .cow/dircache > "$seeds/dircache/fixture-layout"
cp .cow/config "$seeds/config/init"
printf '[core]\n\trepositoryformatversion = 0\n\tcompression = 9\n[user]\n\tname = A U Thor\n\temail = a@example.com\n# comment\n; another\n[User]\nNAME = second = value\n' > "$seeds/config/full"

# Revisions, one per file.
i=0
for r in HEAD @ HEAD~1 HEAD^ 'HEAD^2' 'HEAD^0' 'main~2^{tree}' 'HEAD^{commit}' 'v1^{}' 'HEAD^{object}' \
         'HEAD:d/e/c.txt' 'HEAD:' 'feature:a.txt' 'refs/heads/main' 'tags/v1' "${head:0:8}" "$head" \
         "$tree:d" 'HEAD~1^{tree}:d/b.txt' 'HEAD^{blob}' 'main^{tree}é' 'HEAD@{0}' ':/msg' 'HEAD~99999999999999999999'; do
  printf '%s' "$r" > "$seeds/revision/$i"; i=$((i + 1))
done
du -sh "$seeds"/*
