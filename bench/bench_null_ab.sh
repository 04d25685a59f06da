#!/bin/sh
# bench_null_ab.sh: the null back end's cost per op, two hksim builds side
# by side (e.g. before and after a change to replayer/rpl_be_null.c):
# hksim replay --backend null --per-op none --touch none --mem-limit none
# on generated shift, mixed, mir and sites traces, the builds alternating
# in each round (the first build first in odd rounds), ROUNDS rounds
# (default 5). Prints per trace the loop's wall and CPU ns/op (median
# [min-max]), the ratio B/A of the medians, peak RSS, and the load.
# Not a test: prints numbers, gates nothing.
#   usage: bench/bench_null_ab.sh OLD/bin/hksim NEW/bin/hksim [ROUNDS]
# e.g.    git worktree add /tmp/old HEAD~1 && (cd /tmp/old && cmake -S . -B b
#         -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build b -j2 --target hksim)
#         bench/bench_null_ab.sh /tmp/old/b/bin/hksim build/bin/hksim 7
set -eu
[ $# -ge 2 ] || { echo "usage: $0 OLD_HKSIM NEW_HKSIM [ROUNDS]" >&2; exit 2; }
A=$1 B=$2 R=${3:-5}
for h in "$A" "$B"; do
  [ -x "$h" ] || { echo "$0: $h: not an executable" >&2; exit 2; }
done
T=$(mktemp -d /tmp/bench_null_ab.XXXXXX)
trap 'rm -rf "$T"' EXIT
export HKSIM_CACHE_DIR="$T/cache"
"$B" gen shift -o "$T/shift.hkt" --scale 2 >/dev/null
"$B" gen mixed -o "$T/mixed.hkt" --scale 40 >/dev/null
"$B" gen mir -o "$T/mir.hkt" --scale 2000 >/dev/null
"$B" gen sites -o "$T/sites.hkt" --scale 4 >/dev/null
loads=""
for r in $(seq 1 "$R"); do
  if [ $((r % 2)) = 1 ]; then order="a b"; else order="b a"; fi
  for w in $order; do
    if [ $w = a ]; then h=$A; else h=$B; fi
    "$h" replay "$T/shift.hkt" "$T/mixed.hkt" "$T/mir.hkt" "$T/sites.hkt" \
      --db "$T/$w.db" --backend null --per-op none --touch none \
      --mem-limit none --quiet >/dev/null 2>>"$T/err" ||
      { echo "$0: $h replay failed:" >&2; tail -3 "$T/err" >&2; exit 1; }
  done
  loads="$loads $(cut -d' ' -f1 /proc/loadavg)"
done
echo "A = $A"
echo "B = $B"
echo "$R rounds, interleaved; load average (1 min) after each round:$loads"
python3 - "$T/a.db" "$T/b.db" <<'PY'
import sqlite3, statistics as st, sys
res = {}
for w, path in zip("ab", sys.argv[1:]):
    q = ("SELECT t.name, r.ops, r.total_ns, r.loop_cpu_ns, r.peak_rss_bytes "
         "FROM runs r JOIN traces t USING (trace_id) WHERE r.status = 'done' "
         "ORDER BY r.run_id")
    for name, ops, wall, cpu, rss in sqlite3.connect(path).execute(q):
        res.setdefault(name, {}).setdefault(w, []).append(
            (wall / ops, (cpu or 0) / ops, (rss or 0) / 2**20))
def m(v): return f"{st.median(v):8.1f} [{min(v):.1f}-{max(v):.1f}]"
print(f"{'trace':10} {'wall ns/op A':>24} {'wall ns/op B':>24} {'B/A':>5}"
      f" {'CPU ns/op A':>24} {'CPU ns/op B':>24} {'B/A':>5}"
      f" {'RSS MiB A':>9} {'RSS MiB B':>9}")
for name, d in res.items():
    if len(d) < 2: continue
    a, b = d["a"], d["b"]
    wa, wb = [x[0] for x in a], [x[0] for x in b]
    ca, cb = [x[1] for x in a], [x[1] for x in b]
    print(f"{name:10} {m(wa):>24} {m(wb):>24} {st.median(wb)/st.median(wa):5.2f}"
          f" {m(ca):>24} {m(cb):>24} {st.median(cb)/max(st.median(ca),1e-9):5.2f}"
          f" {st.median([x[2] for x in a]):9.1f} {st.median([x[2] for x in b]):9.1f}")
PY
