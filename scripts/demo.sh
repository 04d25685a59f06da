#!/usr/bin/env bash
# The main job end to end: record a real program (python3 building and
# serialising JSON) under the LD_PRELOAD recorder, replay the trace against
# hakmem (static and elo policies), mimalloc and glibc into a SQLite
# database, and print the comparison. Also replays hakmem's vm scenario.
# Usage: scripts/demo.sh [OUTDIR]     (default: out/demo)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/out/demo}"
hksim="$root/build/bin/hksim"
[ -x "$hksim" ] || { echo "demo: build first: scripts/build.sh" >&2; exit 1; }
mkdir -p "$out"
rm -f "$out"/py*.hkt "$out/results.db"*

# Debian's python3 itself, not a wrapper script (pyenv shims are bash
# scripts: each of their processes would get a trace of its own).
py=/usr/bin/python3; [ -x "$py" ] || py=$(command -v python3)
echo "== 1. record: python3 builds and serialises a JSON document"
PYTHONMALLOC=malloc "$hksim" record -o "$out/py.hkt" -- "$py" -c '
import json
doc = [{"id": i, "name": "item%d" % i, "tags": ["a"] * (i % 7), "v": i * 0.5}
       for i in range(60000)]
s = json.dumps(doc)
print("python3: serialised", len(s), "bytes")'
trace=$(ls -S "$out"/py*.hkt | head -n 1)   # the largest: python itself

echo; echo "== 2. the trace"
"$hksim" trace info "$trace"

echo; echo "== 3. replay: hakmem (static, elo), mimalloc, glibc; plus the vm scenario"
"$hksim" gen vm -o "$out/vm.hkt" --scale 10 >/dev/null
"$hksim" replay "$trace" "$out/vm.hkt" --db "$out/results.db" \
    --backend hakmem,mimalloc,glibc --policy static,elo --seed 1

echo; echo "== 4. comparison"
"$hksim" report --db "$out/results.db"
echo; echo "database: $out/results.db (try: sqlite3 $out/results.db 'select * from run_summary')"
