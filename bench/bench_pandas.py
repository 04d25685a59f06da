#!/usr/bin/env python3
# bench_pandas.py: loading one run's per-op latencies into pandas, the
# fast path of analysis/README.md (analysis/hksim_pandas.py run_latencies)
# beside the op_latency view (json_each per row), interleaved and
# repeated; prints wall and CPU seconds and their ratios.
#   bench/bench_pandas.py DB [RUN_ID] [REPEATS]   (default: the largest run, 3)
#   (HKSIM_SQLITE=path/to/hksim_sqlite when the build is not build/)
#   bench/bench_pandas.py DB [RUN_ID] [REPEATS] --no-view   (the fast path alone)
# Measured 2026-11-27 23:00 UTC (3,223,322 ops of the demo's python3 trace
# replayed on glibc; 2 cores shared with other jobs, load average 25-27;
# 5 repeats, interleaved with the previous run_latencies):
#   run_latencies           wall median 4.16 s (2.55-5.57), CPU median 0.26 s (0.24-0.41)
#   previous run_latencies  wall median 39.17 s (33.97-57.19), CPU median 2.49 s (1.87-3.15)
# The previous version built a DataFrame of every trace_op column and let
# pandas stack the int64 columns into one block (copies; most of its time
# was page faults and waiting for the CPU, not Python).
import os, sqlite3, statistics, sys, time
import pandas as pd
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "analysis"))
from hksim_pandas import run_latencies  # noqa: E402


def view(con, run_id):
    return pd.read_sql("SELECT * FROM op_latency WHERE run_id = ?", con,
                       params=(run_id,))


def main():
    no_view = "--no-view" in sys.argv
    if no_view:
        sys.argv.remove("--no-view")
    con = sqlite3.connect(sys.argv[1])
    # The view trace_op under op_latency needs hksim's SQLite module
    # (docs/schema.md, "Trace ops"); run_latencies does not.
    ext = os.environ.get("HKSIM_SQLITE", os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "build", "analysis",
        "hksim_sqlite"))
    con.enable_load_extension(True)
    con.load_extension(ext)
    run = int(sys.argv[2]) if len(sys.argv) > 2 else con.execute(
        "SELECT run_id FROM runs ORDER BY ops DESC LIMIT 1").fetchone()[0]
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    fns = (("run_latencies", run_latencies),) if no_view else (
        ("run_latencies", run_latencies), ("op_latency view", view))
    # Wall time, and CPU time of this process (SQLite runs in it too): on
    # a loaded machine the second is the steadier figure.
    t = {name: ([], []) for name, _ in fns}
    for i in range(reps):
        # interleaved, the order alternating between repeats
        for name, f in (fns if i % 2 == 0 else fns[::-1]):
            w0, c0 = time.perf_counter(), time.process_time()
            df = f(con, run)
            t[name][0].append(time.perf_counter() - w0)
            t[name][1].append(time.process_time() - c0)
            rows = len(df)
    for name, (w, c) in t.items():
        print(f"{name:16s} run {run}: {rows} rows, wall median {statistics.median(w):.2f} s"
              f" (min {min(w):.2f}, max {max(w):.2f}), CPU median {statistics.median(c):.2f} s"
              f" (min {min(c):.2f}, max {max(c):.2f}), {len(w)} repeats")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if no_view:
        return
    med = {n: (statistics.median(w), statistics.median(c)) for n, (w, c) in t.items()}
    print(f"ratio view / fast path: wall {med['op_latency view'][0] / med['run_latencies'][0]:.1f}x,"
          f" CPU {med['op_latency view'][1] / med['run_latencies'][1]:.1f}x")


if __name__ == "__main__":
    main()
