#!/bin/sh
# bench_recorder.sh: slowdown of real programs under the recorder
# (libhkrec.so) against no recorder and against heaptrack, measured side
# by side in one run. Tables (BENCH_REC_SET: "issue", the default,
# "floor", "interp", "depth", or "all"):
#  issue: issue 15's table at the default depth: sqlite3, python3
#    (PYTHONMALLOC=malloc), perl on an allocation-dense script (Debian's
#    perl uses the system malloc), bench_rec_dense's small-block program
#    (one thread, tens of millions of events per second), the 4-thread
#    stress, and bench_rec_dense's fixed-duration server (4 threads): for
#    that one the ratio is of THROUGHPUT (ops/s without / ops/s with),
#    since its wall time is fixed. Beside each: CPU ratio, heaptrack,
#    bytes/event and the recorder's own counters from the trace summary
#    (`hksim trace info --json`): the program threads' time in the hooks,
#    their time waiting on backpressure, the writer's busy time and the
#    share of events in fast-coded chunks.
#    Then bench_rec_parts (each part of the hook and the writer), the
#    floor table and the interp table.
#  floor: the small-block program, the server and perl plain, under an
#    interposer that records nothing (libbench_passthru.so), under the
#    recorder with HKREC_DISCARD=1 (the hooks' whole work, the events
#    dropped unread) and under the recorder: what the interposition, the
#    hooks and the writer each add, in wall time (throughput for the
#    server) and, for the small-block program, in its thread's own CPU.
#  interp: sparse stamps (HKREC_TS_EVERY) against true times: python3,
#    the stress and the server recorded with every event stamped, the
#    stamps the recorder would not take at N = 4, 16, 64 dropped and
#    interpolated by the reader (bench_rec_interp): error median, p99 and
#    max, cross-thread neighbours inverted, cross-thread frees placed
#    before their allocation.
#  depth: the recorder at depth 1 (the default), 8, 16 and 32 on sqlite3,
#    python3 and the stress; bytes per event, the recorder's peak memory
#    (max RSS with it minus without) and its CPU time relative to none.
#
# The machine is shared and noisy, and a program's own run time drifts:
# every round runs each mode once, in turn, and a mode's ratio is the
# median over rounds of its time divided by the no-recorder time of the
# same round. Not a test: prints a table, never fails on the machine's
# speed.
#   bench/bench_recorder.sh BUILD_DIR [ROUNDS]
# BENCH_REC_MODES="rec rec8 rec16" measures only those modes (faster);
# BENCH_REC_HT=0 leaves heaptrack out; BENCH_REC_ENV="HKREC_X=1 ..." adds
# variables to the recorded runs (A/B of a setting).
set -u
B=${1:?usage: bench_recorder.sh BUILD_DIR [ROUNDS]}
R=${2:-5}
SET=${BENCH_REC_SET:-issue}
SRC=$(cd "$(dirname "$0")/.." && pwd)
LIB=$B/lib/libhkrec.so
CHECK=$B/tests/recorder/rec_check
STRESS=$B/bench/bench_recorder
DENSE=$B/bench/bench_rec_dense
HKSIM=$B/bin/hksim
W=$(mktemp -d /tmp/bench_rec.XXXXXX)
trap 'rm -rf "$W"' EXIT
PY=$(command -v python3)
command -v pyenv > /dev/null 2>&1 && PY=$(pyenv which python3 2>/dev/null || echo "$PY")
HT=$(command -v heaptrack || true)
[ "${BENCH_REC_HT:-1}" = 0 ] && HT=
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


# issue_row NAME KIND CMD...: one row of the issue table. KIND: wall (ratio
# of wall times) or tput (the program prints "ops_per_s X"; ratio of
# throughput without over with).
issue_row() {
  name=$1; kind=$2; shift 2
  "$PY" - "$R" "$LIB" "$W" "$HKSIM" "$name" "$kind" "${HT:-}" "$@" <<'PYEOF'
import json, os, shutil, statistics, subprocess, sys, time, glob
reps, lib, w, hksim, name, kind, ht = sys.argv[1:8]
reps = int(reps)
cmd = sys.argv[8:]
stdin = None
if "<" in cmd:
    i = cmd.index("<"); stdin = cmd[i + 1]; cmd = cmd[:i]
modes = ["none", "rec"] + (["heaptrack"] if ht else [])
extra = dict(kv.split("=", 1) for kv in os.environ.get("BENCH_REC_ENV", "").split())
val = {m: [] for m in modes}   # wall s, or ops/s
cpu = {m: [] for m in modes}
keep = []
for r in range(reps):
    for mode in modes:
        for f in glob.glob(w + "/t.*") + glob.glob(w + "/ht.*"): os.unlink(f)
        env = dict(os.environ)
        c = list(cmd)
        if mode == "rec":
            env.update(extra)
            env["LD_PRELOAD"] = lib
            env["HKREC_OUT"] = w + "/t"
        elif mode == "heaptrack":
            c = ["heaptrack", "-o", w + "/ht"] + c
        fin = open(stdin) if stdin else subprocess.DEVNULL
        out = open(w + "/out", "w")
        t0 = time.perf_counter()
        p = subprocess.Popen(c, env=env, stdin=fin, stdout=out,
                             stderr=subprocess.DEVNULL)
        _, st, ru = os.wait4(p.pid, 0)
        el = time.perf_counter() - t0
        out.close()
        if kind == "tput":
            ops = [l.split()[1] for l in open(w + "/out") if l.startswith("ops_per_s")]
            val[mode].append(float(ops[-1]) if ops else float("nan"))
        else:
            val[mode].append(el)
        cpu[mode].append(ru.ru_utime + ru.ru_stime)
        if mode == "rec":
            big = max(glob.glob(w + "/t.*.hkt"), key=os.path.getsize, default=None)
            if big:
                j = subprocess.run([hksim, "trace", "info", "--json", big],
                                   capture_output=True, text=True).stdout
                try: keep.append(json.loads(j))
                except ValueError: pass
def ratios(m, series):
    if kind == "tput" and series is val:
        return sorted(b / a for a, b in zip(series[m], series["none"]))
    return sorted(a / b for a, b in zip(series[m], series["none"]))
def med(m, series):
    return statistics.median(ratios(m, series)) if m in series else float("nan")
rs = ratios("rec", val)
def g(k):
    v = [d.get(k, 0) for d in keep]
    return statistics.median(v) if v else 0
ev = g("events")
fast = 100.0 * g("events_fast") / ev if ev else 0
stored = 100.0 * g("events_stored") / ev if ev else 0
wns = statistics.median(d["writer_ns"] / d["events"] for d in keep if d.get("events")) if keep else 0
base = statistics.median(val["none"])
print("%-9s %5s %10s %6.2fx %11s %6.2fx %9s %6.2f %9.1fM %7.2f %7.2f %7.2f %7.1f %5.0f%% %5.0f%%" % (
    name, kind, ("%.1fM/s" % (base / 1e6)) if kind == "tput" else "%.2fs" % base,
    med("rec", val), "%.2f-%.2f" % (rs[0], rs[-1]), med("rec", cpu),
    "%.2fx" % med("heaptrack", val) if "heaptrack" in val else "-",
    g("bytes_per_event"), ev / 1e6, g("hook_ns") / 1e9, g("wait_ns") / 1e9,
    g("writer_ns") / 1e9, wns, fast, stored))
PYEOF
}

if [ "$SET" = issue ] || [ "$SET" = all ]; then
printf '%-9s %5s %10s %7s %11s %7s %9s %6s %10s %7s %7s %7s %7s %6s %6s\n' workload kind base \
  rec rec_range rec_cpu heaptrack B/ev events hook_s wait_s writer_s wns/ev fast stored
issue_row sqlite3 wall sqlite3 :memory: -cmd ".parameter set @n 200000" "<" "$SRC/tests/recorder/workloads/sqlite.sql"
issue_row python3 wall "$PY" "$SRC/tests/recorder/workloads/json_work.py" 60000
issue_row perl wall perl "$SRC/bench/workloads/perl_dense.pl"
[ -x "$DENSE" ] && issue_row small wall "$DENSE" small 10000000
[ -x "$STRESS" ] && issue_row stress4t wall "$STRESS" 1000000
[ -x "$DENSE" ] && issue_row server4t tput "$DENSE" server 2 4
echo "base: median without the recorder (wall s; tput: ops/s). rec, heaptrack:"
echo "median over $R interleaved rounds of with/without of the same round (wall"
echo "time; tput rows: throughput without/with, the loss factor); rec_range:"
echo "lowest-highest; rec_cpu: user+system CPU with/without. From the recorded"
echo "runs' summaries (median): hook_s, program threads' time in the recorder's"
echo "hooks (sampled 1 in 256 events, plus every handoff); wait_s, their time"
echo "blocked on backpressure; writer_s, the writer thread's busy time (CPU);"
echo "wns/ev, that per event, ns; fast, events in fast-coded chunks; stored,"
echo "of all events those in chunks stored uncompressed while a program thread"
echo "waited (docs/recorder.md, \"Keeping up\")."
echo "reproduce: BENCH_REC_SET=$SET bench/bench_recorder.sh $B $R"
PARTS=$B/bench/bench_rec_parts
if [ -x "$PARTS" ]; then
  echo
  echo "what each part of the hook and of the writer costs (thread CPU time):"
  "$PARTS" 5 4
fi
fi
if [ "$SET" = issue ] || [ "$SET" = floor ] || [ "$SET" = all ]; then
# The program side's floor: each program plain, under an interposer that
# records nothing (bench_passthru.c), under libhkrec.so with
# HKREC_DISCARD=1 (the hooks' whole work, every buffer dropped unread by
# the writer) and under libhkrec.so. The steps between them are what the
# interposition, the hooks and the writer (coding, and its contention with
# the program for the machine) each cost.
PASS=$B/bench/libbench_passthru.so
floor_row() {
  name=$1; kind=$2; shift 2
  "$PY" - "$R" "$LIB" "$PASS" "$W" "$name" "$kind" "$@" <<'PYEOF'
import glob, os, statistics, subprocess, sys, time
reps, lib, passthru, w, name, kind = sys.argv[1:7]
cmd = sys.argv[7:]
modes = {"none": {}, "passthru": {"LD_PRELOAD": passthru},
         "discard": {"LD_PRELOAD": lib, "HKREC_OUT": w + "/f",
                     "HKREC_DISCARD": "1"},
         "rec": {"LD_PRELOAD": lib, "HKREC_OUT": w + "/f"}}
val = {m: [] for m in modes}   # wall s, or ops/s
thr = {m: [] for m in modes}   # the program's thread CPU s, when printed
for r in range(int(reps)):
    for m, e in modes.items():
        for f in glob.glob(w + "/f.*"): os.unlink(f)
        env = dict(os.environ); env.update(e)
        t0 = time.perf_counter()
        out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout.decode()
        el = time.perf_counter() - t0
        kv = dict(l.split(None, 1) for l in out.splitlines() if " " in l)
        val[m].append(float(kv["ops_per_s"]) if kind == "tput" else el)
        if "thread_cpu_s" in kv: thr[m].append(float(kv["thread_cpu_s"]))
def col(series, m, tput):
    if len(series[m]) != len(series["none"]) or not series[m]: return "%16s" % "-"
    rs = sorted((b / a) if tput else (a / b) for a, b in zip(series[m], series["none"]))
    return "%5.2fx %4.2f-%5.2f" % (statistics.median(rs), rs[0], rs[-1])
base = statistics.median(val["none"])
print("%-9s %5s %9s %s %s %s   %s %s %s" % (
    name, kind, ("%.1fM/s" % (base / 1e6)) if kind == "tput" else "%.3fs" % base,
    col(val, "passthru", kind == "tput"), col(val, "discard", kind == "tput"),
    col(val, "rec", kind == "tput"), col(thr, "passthru", 0),
    col(thr, "discard", 0), col(thr, "rec", 0)))
PYEOF
}
if [ -f "$PASS" ] && [ -x "$DENSE" ]; then
  echo
  echo "the program side's floor: an interposer that records nothing (passthru), the"
  echo "hooks with every buffer dropped unread (HKREC_DISCARD=1), the recorder (rec):"
  printf '%-9s %5s %9s %16s %16s %16s   %16s %16s %16s\n' workload kind base \
    passthru discard rec thr_passthru thr_discard thr_rec
  floor_row small wall "$DENSE" small 10000000
  floor_row server4t tput "$DENSE" server 2 4
  floor_row perl wall perl "$SRC/bench/workloads/perl_dense.pl"
  echo "each: median over $R interleaved rounds of with/without of the same round"
  echo "(wall time; tput: throughput without/with), lowest-highest beside it;"
  echo "thr_*: the same for the program thread's own CPU time (the small-block"
  echo "program prints it; a writer thread is not in it)."
  echo "reproduce: BENCH_REC_SET=floor bench/bench_recorder.sh $B $R"
fi
fi
if [ "$SET" = issue ] || [ "$SET" = interp ] || [ "$SET" = all ]; then
# Sparse stamps against true ones: each program recorded with every event
# stamped, then the stamps the recorder would not take at N dropped and
# interpolated (bench_rec_interp, rec_sparse_eval).
INTERP=$B/bench/bench_rec_interp
interp() {
  name=$1; shift
  rm -f "$W"/i.*
  HKREC_TS_EVERY=1 HKREC_OUT="$W/i" LD_PRELOAD="$LIB" "$@" > /dev/null 2>&1
  big=$(ls -S "$W"/i.*.hkt 2> /dev/null | head -n 1)
  [ -n "$big" ] || { echo "interp: $name left no trace" >&2; return; }
  echo; echo "$name:"
  "$INTERP" "$big" 4 16 64 | tail -n +2
  rm -f "$W"/i.*
}
if [ -x "$INTERP" ]; then
  echo
  echo "sparse stamps' interpolated times against true ones (HKREC_TS_EVERY=1 recordings):"
  interp python3 "$PY" "$SRC/tests/recorder/workloads/json_work.py" 60000
  [ -x "$STRESS" ] && interp stress4t "$STRESS" 1000000
  [ -x "$DENSE" ] && interp server4t "$DENSE" server 2 4
  echo "reproduce: BENCH_REC_SET=interp bench/bench_recorder.sh $B"
fi
fi
[ "$SET" = depth ] || [ "$SET" = all ] || exit 0
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
