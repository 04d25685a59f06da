#!/usr/bin/env python3
"""bench_unwind_ab.py: two builds of the recorder (libhkrec.so) side by
side on one program, at several depths, interleaved: each round runs the
program plain, then with A's and B's recorder at each depth, and prints per
(recorder, depth) the median over rounds of the CPU time (user + system of
the program) and of the wall time over the plain run's of the same round,
with their ranges. Made to measure a change of stack capture (issue 14
item 7: the CFI walker against libunwind). Not a test.
  bench/bench_unwind_ab.py LIB_A LIB_B ROUNDS DEPTHS -- CMD [ARGS...]
  e.g. bench/bench_unwind_ab.py old/libhkrec.so build/lib/libhkrec.so 5 1,16 \\
         -- python3 tests/recorder/workloads/json_work.py 60000
A "<" FILE argument gives the program FILE as standard input.
"""
import glob, os, statistics, subprocess, sys, tempfile, time

if len(sys.argv) < 7 or sys.argv[5] != "--":
    sys.exit("usage: bench_unwind_ab.py LIB_A LIB_B ROUNDS DEPTHS -- CMD [ARGS...]")
lib_a, lib_b, rounds, depths = sys.argv[1:5]
cmd = sys.argv[6:]
stdin = None
if "<" in cmd:
    i = cmd.index("<")
    stdin, cmd = cmd[i + 1], cmd[:i]
for lib in (lib_a, lib_b):
    if not os.path.exists(lib):
        sys.exit("bench_unwind_ab.py: %s: no such file" % lib)
w = tempfile.mkdtemp(prefix="bench_unwind_ab.")
modes = [("plain", None, None)]
for d in depths.split(","):
    modes += [("A d" + d, lib_a, d), ("B d" + d, lib_b, d)]
cpu = {m: [] for m, _, _ in modes}
wall = {m: [] for m, _, _ in modes}
for r in range(int(rounds)):
    for m, lib, d in modes:
        for f in glob.glob(w + "/t*"):
            os.unlink(f)
        env = dict(os.environ)
        if lib:
            env.update({"LD_PRELOAD": lib, "HKREC_OUT": w + "/t",
                        "HKREC_DEPTH": d})
        fin = open(stdin) if stdin else subprocess.DEVNULL
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdin=fin, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        _, st, ru = os.wait4(p.pid, 0)
        wall[m].append(time.perf_counter() - t0)
        cpu[m].append(ru.ru_utime + ru.ru_stime)
        if stdin:
            fin.close()
for f in glob.glob(w + "/t*"):
    os.unlink(f)
os.rmdir(w)
print("A = %s\nB = %s\nload average at the end: %s" %
      (lib_a, lib_b, open("/proc/loadavg").read().split()[0]))
print("%-8s %9s %13s %9s %13s" % ("mode", "cpu", "cpu_range", "wall", "wall_range"))
print("%-8s %8.2fs %13s %8.2fs %13s" % ("plain", statistics.median(cpu["plain"]), "-",
                                         statistics.median(wall["plain"]), "-"))
for m, lib, d in modes[1:]:
    rc = sorted(a / b for a, b in zip(cpu[m], cpu["plain"]))
    rw = sorted(a / b for a, b in zip(wall[m], wall["plain"]))
    print("%-8s %8.2fx %13s %8.2fx %13s" % (
        m, statistics.median(rc), "%.2f-%.2f" % (rc[0], rc[-1]),
        statistics.median(rw), "%.2f-%.2f" % (rw[0], rw[-1])))
print("cpu, wall: median over %s interleaved rounds of (with recorder) /"
      " (plain, same round)" % rounds)
