#!/usr/bin/env bash
# The main job end to end, from a fresh clone on Debian 12: installs what
# is missing (scripts/install-deps.sh, as root or through sudo), builds
# (scripts/build.sh), then records a real program (python3 building and
# serialising JSON) under the LD_PRELOAD recorder, replays the trace and
# hakmem's vm scenario against hakmem (static and elo policies), mimalloc
# and glibc into a SQLite database, and prints the comparison.
# Usage: scripts/demo.sh [--quick] [OUTDIR]     (default: out/demo)
#   --quick   a small workload (a few seconds; the docs test uses it)
#   HKSIM=PATH in the environment: use that hksim (no install, no build)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
items=60000 scale=10
if [ "${1:-}" = "--quick" ]; then items=3000 scale=1; shift; fi
case "${1:-}" in -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
out="${1:-$root/out/demo}"
hksim="${HKSIM:-}"
if [ -z "$hksim" ]; then
  echo "== packages (scripts/install-deps.sh installs what is missing)"
  "$root/scripts/install-deps.sh"
  echo "== build (build/)"
  "$root/scripts/build.sh" > /dev/null
  hksim="$root/build/bin/hksim"
fi
mkdir -p "$out"
rm -f "$out"/py*.hkt "$out"/vm.hkt "$out/results.db"*

# hksim record follows launchers (pyenv shims, env) to python itself and
# sets PYTHONMALLOC=malloc for it, saying so.
echo "== 1. record: python3 builds and serialises a JSON document"
"$hksim" record -o "$out/py.hkt" -- python3 -c '
import json, sys
n = int(sys.argv[1])
doc = [{"id": i, "name": "item%d" % i, "tags": ["a"] * (i % 7), "v": i * 0.5}
       for i in range(n)]
s = json.dumps(doc)
print("python3: serialised", len(s), "bytes")' "$items"

echo; echo "== 2. the trace"
"$hksim" trace info "$out/py.hkt"

echo; echo "== 3. replay: hakmem (static, elo), mimalloc, glibc; plus the vm scenario"
"$hksim" gen vm -o "$out/vm.hkt" --scale "$scale" > /dev/null
"$hksim" replay "$out/py.hkt" "$out/vm.hkt" --db "$out/results.db" \
    --backend hakmem,mimalloc,glibc --policy static,elo --seed 1

echo; echo "== 4. comparison"
"$hksim" report --db "$out/results.db"
echo; echo "database: $out/results.db (try: sqlite3 $out/results.db 'select * from run_summary')"
