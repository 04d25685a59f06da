#!/bin/sh
# docs_blocks.sh: runs every ```sh block of README.md and analysis/README.md
# as written, in order, in one temporary directory holding what
# `scripts/demo.sh --quick` produced (results.db) and a small script.py,
# with hksim on PATH and the repository's analysis/ and scripts/ linked in;
# then the ```python blocks, with the first python3 that has pandas (none:
# they are skipped, and said so). A block preceded by a line
# "<!-- docs-test: skip: WHY -->" is not run; WHY is printed.
#   docs_blocks.sh HKSIM SRC
# Exit 0 pass, 1 a block failed (its text and output are printed).
. "$(dirname "$0")/../lib.sh"
HKSIM=$1 SRC=$2
hk_tmpdir docs_blocks
W=$T
fail() { echo "FAIL: $*"; exit 1; }

# The blocks: W/blocks/NN.LANG, with NN.src naming file and line.
mkdir "$W/blocks" "$W/bin" "$W/run"
for doc in README.md analysis/README.md; do
  awk -v doc="$doc" -v dir="$W/blocks" -v nb="$(ls "$W/blocks" | grep -c '\.src$')" '
    function flush() { close(out) }
    /^```(sh|python)[ \t]*$/ && !inb {
      inb = 1; lang = substr($0, 4); sub(/[ \t]+$/, "", lang)
      n = nb + (++k)
      name = sprintf("%s/%03d", dir, n)
      out = name "." lang
      printf "%s:%d%s\n", doc, NR, (skip != "" ? "\tskip: " skip : "") > (name ".src")
      close(name ".src")
      printf "" > out
      next
    }
    /^```/ && inb { inb = 0; flush(); skip = ""; next }
    inb { print > out; next }
    /^<!-- docs-test: skip:/ {
      skip = $0; sub(/^<!-- docs-test: skip: */, "", skip); sub(/ *-->.*$/, "", skip); next
    }
    /[^ \t]/ { skip = "" }
  ' "$SRC/$doc" || fail "cannot read $doc"
done
nblocks=$(ls "$W/blocks" | grep -c '\.src$')
[ "$nblocks" -ge 4 ] || fail "found only $nblocks blocks"

# What the demo produces (its quick variant), with this build's hksim.
ln -s "$HKSIM" "$W/bin/hksim"
PATH="$W/bin:$PATH"; export PATH
t0=$(date +%s)
HKSIM="$HKSIM" "$SRC/scripts/demo.sh" --quick "$W/demo" > "$W/demo.log" 2>&1 \
  || { tail -30 "$W/demo.log"; fail "scripts/demo.sh --quick"; }
echo "demo --quick: $(($(date +%s) - t0)) s"
cp "$W/demo/results.db" "$W/run/"
ln -s "$SRC/analysis" "$W/run/analysis"
ln -s "$SRC/scripts" "$W/run/scripts"
cat > "$W/run/script.py" <<'EOF'
import json
doc = [{"id": i, "name": "item%d" % i, "tags": ["a"] * (i % 7)} for i in range(2000)]
print(len(json.dumps(doc)))
EOF

PY=
for p in python3 /usr/bin/python3; do
  if command -v "$p" > /dev/null && "$p" -c 'import pandas' 2> /dev/null; then PY=$p; break; fi
done

ran=0 skipped=0
for src in "$W"/blocks/*.src; do
  b=${src%.src}
  where=$(cut -f1 "$src")
  if grep -q "$(printf '\t')skip: " "$src"; then
    echo "skip $where: $(cut -f2- "$src" | sed 's/^skip: //')"
    skipped=$((skipped + 1)); continue
  fi
  if [ -f "$b.sh" ]; then
    run="bash -e -o pipefail $b.sh"
  else
    if [ -z "$PY" ]; then
      echo "skip $where: pandas is not installed"; skipped=$((skipped + 1)); continue
    fi
    run="$PY $b.python"
  fi
  t0=$(date +%s)
  (cd "$W/run" && MPLBACKEND=Agg $run) > "$W/out" 2>&1 || {
    echo "---- block $where:"; cat "$b".sh "$b".python 2> /dev/null
    echo "---- output:"; tail -40 "$W/out"; fail "block at $where"; }
  echo "ok   $where ($(($(date +%s) - t0)) s)"
  ran=$((ran + 1))
done
echo "docs blocks: $ran run, $skipped skipped"

# The fast path of analysis/README.md gives exactly op_latency's rows.
if [ -n "$PY" ]; then
  (cd "$W/run" && "$PY" - <<'EOF'
import os, sqlite3, sys
import pandas as pd
sys.path.insert(0, "analysis")
from hksim_pandas import run_latencies
con = sqlite3.connect("results.db")
# op_latency reads the ops through hksim's SQLite module.
con.enable_load_extension(True)
con.load_extension(os.environ["HKSIM_BUILD"] + "/analysis/hksim_sqlite")
n = 0
for (run,) in con.execute("SELECT run_id FROM runs WHERE status = 'done'"):
    a = run_latencies(con, run)
    b = pd.read_sql("SELECT seq, kind, size, site, latency_ns FROM op_latency"
                    " WHERE run_id = ? ORDER BY seq", con, params=(run,))
    assert len(a) == len(b) and len(a) > 0, (run, len(a), len(b))
    for c in ("seq", "size", "site", "latency_ns"):
        assert (a[c].values == b[c].values).all(), (run, c)
    assert (a.kind.astype(str).values == b.kind.values).all(), run
    n += 1
assert n >= 8, n
print("run_latencies == op_latency for", n, "runs")
EOF
  ) || fail "run_latencies differs from op_latency"
fi

# phase67.sh --help is its header comment, nothing of the script after it.
"$SRC/scripts/phase67.sh" --help > "$W/help" || fail "phase67.sh --help exit code"
grep -q 'set -eu' "$W/help" && fail "phase67.sh --help prints 'set -eu'"
grep -q '^usage: scripts/phase67.sh' "$W/help" || fail "phase67.sh --help: no usage line"
echo "PASS"
