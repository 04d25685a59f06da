#!/bin/sh
# bench_recorder.sh: slowdown of real programs under the recorder
# (libhkrec.so) against no recorder and against heaptrack, measured side
# by side in one run: the sqlite3 workload, the python3 workload
# (PYTHONMALLOC=malloc) and bench_recorder (4 threads, mixed sizes, 20%
# cross-thread frees); at depth 1, the default depth and 32. Also bytes
# per event and the recorder's peak memory (max RSS with it minus without).
# Not a test: prints a table, never fails on the machine's speed.
#   bench/bench_recorder.sh BUILD_DIR [REPEATS]
set -u
B=${1:?usage: bench_recorder.sh BUILD_DIR [REPEATS]}
R=${2:-3}
SRC=$(cd "$(dirname "$0")/.." && pwd)
LIB=$B/lib/libhkrec.so
CHECK=$B/tests/recorder/rec_check
STRESS=$B/bench/bench_recorder
W=$(mktemp -d /tmp/bench_rec.XXXXXX)
trap 'rm -rf "$W"' EXIT
PY=$(command -v python3)
command -v pyenv > /dev/null 2>&1 && PY=$(pyenv which python3 2>/dev/null || echo "$PY")
HT=$(command -v heaptrack || true)

# run MODE CMD...: best wall time of R runs and max RSS (KiB) of the last,
# printed as "secs rss"; MODE: none, rec (default depth), rec1, rec8,
# rec32, heaptrack.
run() {
  mode=$1; shift
  "$PY" - "$R" "$mode" "$LIB" "$W" "$@" <<'PYEOF'
import os, resource, subprocess, sys, time, glob
reps, mode, lib, w = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
cmd = sys.argv[5:]
stdin = None
if "<" in cmd:
    i = cmd.index("<"); stdin = cmd[i + 1]; cmd = cmd[:i]
best, rss = 1e9, 0
for r in range(reps):
    for f in glob.glob(w + "/t.*") + glob.glob(w + "/ht.*"):
        os.unlink(f)
    env = dict(os.environ)
    c = list(cmd)
    if mode.startswith("rec"):
        env["LD_PRELOAD"] = lib
        env["HKREC_OUT"] = w + "/t"
        if mode == "rec1": env["HKREC_DEPTH"] = "1"
        if mode == "rec8": env["HKREC_DEPTH"] = "8"
        if mode == "rec32": env["HKREC_DEPTH"] = "32"
    elif mode == "heaptrack":
        c = ["heaptrack", "-o", w + "/ht"] + c
    fin = open(stdin) if stdin else subprocess.DEVNULL
    t0 = time.perf_counter()
    p = subprocess.Popen(c, env=env, stdin=fin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, st, ru = os.wait4(p.pid, 0)
    t = time.perf_counter() - t0
    best = min(best, t)
    rss = ru.ru_maxrss
print("%.4f %d" % (best, rss))
PYEOF
}

bpe() { # bytes per event of the largest trace written
  f=$(ls -S "$W"/t.*.hkt 2>/dev/null | head -1)
  [ -n "$f" ] && "$CHECK" "$f" | sed -n 's/^bytes_per_event=//p' || echo "-"
}
evs() {
  f=$(ls -S "$W"/t.*.hkt 2>/dev/null | head -1)
  [ -n "$f" ] && "$CHECK" "$f" | sed -n 's/^events=//p' || echo "-"
}

printf '%-10s %9s %14s %12s %12s %12s %10s %10s %12s\n' workload base_s "depth1(dflt)" depth8 depth32 heaptrack B/event events rec_peak_KiB
bench() {
  name=$1; shift
  set -- "$@"
  base=$(run none "$@"); bt=${base% *}; brss=${base#* }
  rd=$(run rec "$@"); r1=${rd% *}; rdrss=${rd#* }
  b=$(bpe); e=$(evs)
  r8=$(run rec8 "$@"); rdt=${r8% *}
  r32=$(run rec32 "$@"); r32=${r32% *}
  if [ -n "$HT" ]; then h=$(run heaptrack "$@"); h=${h% *}; else h=; fi
  ratio() { awk -v a="$1" -v b="$bt" 'BEGIN { if (a == "") print "-"; else printf "%.2fx", a / b }'; }
  printf '%-10s %9.3f %14s %12s %12s %12s %10s %10s %12s\n' "$name" "$bt" \
    "$(ratio "$r1")" "$(ratio "$rdt")" "$(ratio "$r32")" "$(ratio "$h")" "$b" "$e" \
    "$((rdrss - brss))"
}

export PYTHONMALLOC=malloc
bench sqlite3 sqlite3 :memory: "<" "$SRC/tests/recorder/workloads/sqlite.sql"
bench python3 "$PY" "$SRC/tests/recorder/workloads/json_work.py" 60000
[ -x "$STRESS" ] && bench stress4t "$STRESS" 1000000
echo "ratios: wall time / base (best of $R); rec_peak_KiB: max RSS with the"
echo "recorder at the default depth (1) minus without; B/event at the default."
echo "reproduce: bench/bench_recorder.sh $B $R"
