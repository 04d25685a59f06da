#!/usr/bin/env python3
# bench_pandas.py: loading one run's per-op latencies into pandas, the
# fast path of analysis/README.md (run_latencies: JSON chunks decoded whole,
# trace_op read as one JSON array per column) beside the op_latency view
# (json_each per row), interleaved and repeated; prints seconds and ratio.
#   bench/bench_pandas.py DB [RUN_ID] [REPEATS]   (default: the largest run, 3)
import os, sqlite3, statistics, sys, time
import pandas as pd
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "analysis"))
from hksim_pandas import run_latencies  # noqa: E402


def view(con, run_id):
    return pd.read_sql("SELECT * FROM op_latency WHERE run_id = ?", con,
                       params=(run_id,))


def main():
    con = sqlite3.connect(sys.argv[1])
    run = int(sys.argv[2]) if len(sys.argv) > 2 else con.execute(
        "SELECT run_id FROM runs ORDER BY ops DESC LIMIT 1").fetchone()[0]
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    t = {"run_latencies": [], "op_latency view": []}
    for _ in range(reps):
        for name, f in (("run_latencies", run_latencies), ("op_latency view", view)):
            t0 = time.perf_counter()
            df = f(con, run)
            t[name].append(time.perf_counter() - t0)
            rows = len(df)
    fast, slow = statistics.median(t["run_latencies"]), statistics.median(t["op_latency view"])
    for name, v in t.items():
        print(f"{name:16s} run {run}: {rows} rows, median {statistics.median(v):.2f} s"
              f" (min {min(v):.2f}, max {max(v):.2f}, {len(v)} repeats)")
    print(f"ratio view / fast path: {slow / fast:.1f}x")


if __name__ == "__main__":
    main()
