#!/usr/bin/env python3
"""bench_rec_ab.py: an interleaved A/B of one recorder setting on one
program: each round runs the program plain, with VAR=A and with VAR=B (in
that order), and prints per setting the median over rounds of the
slowdown against the plain run of the same round (wall time, or for a
program that prints `ops_per_s X`, plain throughput over recorded), its
range, and from the trace's summary (`hksim trace info --json`): bytes per
event, backpressure wait, writer CPU (and per event), the share of
fast-coded events and of events stored uncompressed; for a program that
prints `thread_cpu_s X` (bench_rec_dense small), also the median ratio of
that thread's own CPU time, which a writer thread is not in. VAR may be
LD_PRELOAD, A and B two builds' libhkrec.so (an A/B of two versions).
Not a test.
  bench/bench_rec_ab.py BUILD ROUNDS VAR A B -- CMD [ARGS...]
  e.g. bench/bench_rec_ab.py build 3 HKREC_FAST 0 1 -- build/bench/bench_rec_dense small 10000000
"""
import glob, json, os, statistics, subprocess, sys, tempfile, time
if len(sys.argv) < 8 or sys.argv[6] != "--":
    sys.exit("usage: bench_rec_ab.py BUILD ROUNDS VAR A B -- CMD [ARGS...]")
build, rounds, var, a, b = sys.argv[1:6]
cmd = sys.argv[7:]
print("load average: %.2f %.2f %.2f" % os.getloadavg())
lib = os.path.join(build, "lib", "libhkrec.so")
hksim = os.path.join(build, "bin", "hksim")
w = tempfile.mkdtemp(prefix="bench_rec_ab.")
modes = [("plain", None), (var + "=" + a, a), (var + "=" + b, b)]
val = {m: [] for m, _ in modes}
info = {m: [] for m, _ in modes}
thr = {m: [] for m, _ in modes}   # the program thread's CPU s, if printed
tput = False
for r in range(int(rounds)):
    for m, v in modes:
        for f in glob.glob(w + "/t.*"):
            os.unlink(f)
        env = dict(os.environ)
        if v is not None:
            env.update({"LD_PRELOAD": lib, "HKREC_OUT": w + "/t", var: v})
        t0 = time.perf_counter()
        out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout.decode()
        el = time.perf_counter() - t0
        ops = [l.split()[1] for l in out.splitlines() if l.startswith("ops_per_s")]
        tput = bool(ops)
        val[m].append(float(ops[-1]) if ops else el)
        tc = [l.split()[1] for l in out.splitlines() if l.startswith("thread_cpu_s")]
        if tc:
            thr[m].append(float(tc[-1]))
        if v is not None:
            big = max(glob.glob(w + "/t.*.hkt"), key=os.path.getsize)
            d = json.loads(subprocess.run([hksim, "trace", "info", "--json", big],
                                          capture_output=True, text=True).stdout)
            ev = max(d["events"], 1)
            info[m].append((d["bytes_per_event"], d["wait_ns"] / 1e9,
                            d["writer_ns"] / 1e9, d["events_fast"] / ev,
                            d["writer_ns"] / ev if d["events"] else 0.0,
                            d.get("events_stored", 0) / ev))
for m, v in modes[1:]:
    rs = sorted((p / x) if tput else (x / p) for p, x in zip(val["plain"], val[m]))
    med = lambda i: statistics.median(t[i] for t in info[m])
    print("%-16s %6.2fx%s (%.2f-%.2f)  B/ev %.2f  wait %.2f s  writer CPU %.2f s"
          " (%.1f ns/event)  fast %.0f%%  stored %.0f%%"
          % (m, statistics.median(rs), " lower tput" if tput else "", rs[0], rs[-1],
             med(0), med(1), med(2), med(4), 100 * med(3), 100 * med(5)))
    if thr[m] and len(thr[m]) == len(thr["plain"]):
        ts = sorted(x / p for p, x in zip(thr["plain"], thr[m]))
        print("%-16s thread CPU %.2fx (%.2f-%.2f)" % ("", statistics.median(ts), ts[0], ts[-1]))
print("plain median: %.4g %s" % (statistics.median(val["plain"]), "ops/s" if tput else "s"))
for f in glob.glob(w + "/t.*"):
    os.unlink(f)
os.rmdir(w)
