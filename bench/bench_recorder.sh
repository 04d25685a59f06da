#!/bin/sh
# bench_recorder.sh: slowdown of real programs under the recorder
# (libhkrec.so) against no recorder and against heaptrack, measured side
# by side in one run: the sqlite3 workload, the python3 workload
# (PYTHONMALLOC=malloc) and bench_recorder (4 threads, mixed sizes, 20%
# cross-thread frees); at depth 1 (the default), 8, 16 and 32. Also bytes per
# event, the recorder's peak memory (max RSS with it minus without) and its
# CPU time relative to no recorder.
#
# The machine is shared and noisy, and a program's own run time drifts:
# every round runs each mode once, in turn, and a mode's ratio is the
# median over rounds of its time divided by the no-recorder time of the
# same round. Not a test: prints a table, never fails on the machine's
# speed.
#   bench/bench_recorder.sh BUILD_DIR [ROUNDS]
# BENCH_REC_MODES="rec rec8 rec16" measures only those modes (faster).
set -u
B=${1:?usage: bench_recorder.sh BUILD_DIR [ROUNDS]}
R=${2:-5}
SRC=$(cd "$(dirname "$0")/.." && pwd)
LIB=$B/lib/libhkrec.so
CHECK=$B/tests/recorder/rec_check
STRESS=$B/bench/bench_recorder
W=$(mktemp -d /tmp/bench_rec.XXXXXX)
trap 'rm -rf "$W"' EXIT
PY=$(command -v python3)
command -v pyenv > /dev/null 2>&1 && PY=$(pyenv which python3 2>/dev/null || echo "$PY")
HT=$(command -v heaptrack || true)
export PYTHONMALLOC=malloc

# bench NAME CMD...: one table row ("<" FILE in CMD: stdin from FILE). The
# python below runs the rounds; the trace of the last default-depth run is
# left in $W/keep for bytes/event.
bench() {
  name=$1; shift
  "$PY" - "$R" "$LIB" "$W" "$CHECK" "$name" "${HT:-}" "$@" <<'PYEOF'
import os, shutil, statistics, subprocess, sys, time, glob
reps, lib, w, check, name, ht = sys.argv[1:7]
reps = int(reps)
cmd = sys.argv[7:]
stdin = None
if "<" in cmd:
    i = cmd.index("<"); stdin = cmd[i + 1]; cmd = cmd[:i]
modes = ["none", "rec", "rec8", "rec16", "rec32"] + (["heaptrack"] if ht else [])
if os.environ.get("BENCH_REC_MODES"):  # e.g. "rec rec8 rec16": a subset
    modes = ["none"] + os.environ["BENCH_REC_MODES"].split()
wall = {m: [] for m in modes}
cpu = {m: [] for m in modes}
rss = {m: 0 for m in modes}
def clean():
    for f in glob.glob(w + "/t.*") + glob.glob(w + "/ht.*"):
        os.unlink(f)
for r in range(reps):
    for mode in modes:
        clean()
        env = dict(os.environ)
        c = list(cmd)
        if mode.startswith("rec"):
            env["LD_PRELOAD"] = lib
            env["HKREC_OUT"] = w + "/t"
            if mode != "rec": env["HKREC_DEPTH"] = mode[3:]
        elif mode == "heaptrack":
            c = ["heaptrack", "-o", w + "/ht"] + c
        fin = open(stdin) if stdin else subprocess.DEVNULL
        t0 = time.perf_counter()
        p = subprocess.Popen(c, env=env, stdin=fin, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        _, st, ru = os.wait4(p.pid, 0)
        wall[mode].append(time.perf_counter() - t0)
        cpu[mode].append(ru.ru_utime + ru.ru_stime)
        rss[mode] = max(rss[mode], ru.ru_maxrss)
        if mode == "rec":
            os.makedirs(w + "/keep", exist_ok=True)
            for f in glob.glob(w + "/keep/*"): os.unlink(f)
            for f in glob.glob(w + "/t.*.hkt"): shutil.copy(f, w + "/keep/")
def ratio(m, series):
    if m not in series: return float("nan")
    return statistics.median(a / b for a, b in zip(series[m], series["none"]))
def spread(m):
    rs = sorted(a / b for a, b in zip(wall[m], wall["none"]))
    return "%.2f-%.2f" % (rs[0], rs[-1])
big = max(glob.glob(w + "/keep/*.hkt"), key=os.path.getsize, default=None)
bpe, evs = "-", "-"
if big:
    out = subprocess.run([check, big], capture_output=True, text=True).stdout
    kv = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
    bpe, evs = kv.get("bytes_per_event", "-"), kv.get("events", "-")
print("%-9s %7.3f %6.2fx %11s %7.2fx %7.2fx %7.2fx %9s %7.2fx %7.2fx %7.2fx %7s %9s %8d" % (
    name, statistics.median(wall["none"]), ratio("rec", wall), spread("rec"),
    ratio("rec8", wall), ratio("rec16", wall), ratio("rec32", wall),
    "%.2fx" % ratio("heaptrack", wall) if "heaptrack" in wall else "-",
    ratio("rec", cpu), ratio("rec8", cpu), ratio("rec16", cpu), bpe, evs,
    rss["rec"] - rss["none"]))
PYEOF
}

printf '%-9s %7s %7s %11s %8s %8s %8s %9s %8s %8s %8s %7s %9s %8s\n' workload base_s \
  depth1 d1_range depth8 depth16 depth32 heaptrack d1_cpu d8_cpu d16_cpu B/ev events rss_KiB
# sqlite3 at 10 times the tests' size (200,000 rows): at the default 20,000
# a run takes 0.06 s and its ratios are mostly process start-up noise.
bench sqlite3 sqlite3 :memory: -cmd ".parameter set @n 200000" "<" "$SRC/tests/recorder/workloads/sqlite.sql"
bench python3 "$PY" "$SRC/tests/recorder/workloads/json_work.py" 60000
[ -x "$STRESS" ] && bench stress4t "$STRESS" 1000000
echo "base_s: median wall time without the recorder. depth1 (the default),"
echo "depth8, depth16, depth32, heaptrack: median over $R rounds of wall time / base"
echo "of the same round; d1_range: lowest and highest of those ratios;"
echo "d1_cpu, d8_cpu, d16_cpu: the same for user+system CPU time (steadier"
echo "than wall time on a loaded machine); B/ev: bytes per event of"
echo "the default-depth trace; rss_KiB: max RSS at the default depth minus"
echo "without (highest over rounds)."
echo "reproduce: bench/bench_recorder.sh $B $R"
