# hksim_pandas.py: the fast path from a results database to pandas (see
# analysis/README.md). run_latencies loads one run's timed ops without the
# op_latency view, which unpacks the 4096-op JSON chunks of run_op_chunk
# row by row in SQL: here each chunk is decoded whole (json.loads) and
# trace_op's columns come back as one JSON array each.
# bench/bench_pandas.py measures it beside the view.
import json

import numpy as np
import pandas as pd


def run_latencies(con, run_id):
    """One run's timed ops as a DataFrame: seq, kind (categorical), size,
    site, latency_ns; the rows of op_latency for that run, in seq order."""
    seqs, lats = [], []
    for k0, every, text in con.execute(
            "SELECT k0, every, latencies FROM run_op_chunk WHERE run_id = ?"
            " ORDER BY k0", (run_id,)):
        a = np.array(json.loads(text), dtype=float)  # null (not timed): NaN
        seqs.append((k0 + np.arange(a.size)) * every)
        lats.append(a)
    if not seqs:
        return pd.DataFrame(columns=["seq", "kind", "size", "site",
                                     "latency_ns"])
    kind, size, site = (np.array(json.loads(c), dtype=np.int64)
                        for c in con.execute(
        "SELECT json_group_array(kind), json_group_array(size),"
        " json_group_array(site) FROM (SELECT kind, size, site FROM trace_op"
        " WHERE trace_id = (SELECT trace_id FROM runs WHERE run_id = ?)"
        " ORDER BY seq)", (run_id,)).fetchone())
    names = dict(con.execute("SELECT kind, name FROM op_kinds"))
    seq = np.concatenate(seqs)
    ns = np.concatenate(lats)
    timed = ~np.isnan(ns) & (seq < kind.size)
    seq, ns = seq[timed], ns[timed]
    labels = [names.get(k, str(k)) for k in range(int(kind.max()) + 1)]
    return pd.DataFrame({
        "seq": seq,
        "kind": pd.Categorical.from_codes(kind[seq], categories=labels),
        "size": size[seq],
        "site": site[seq],
        "latency_ns": ns.astype(np.int64),
    })
