# hksim_pandas.py: the fast path from a results database to pandas (see
# analysis/README.md). run_latencies loads one run's timed ops without the
# op_latency view, which unpacks the 4096-op JSON chunks of run_op_chunk
# row by row in SQL: here numpy parses the chunks' arrays as one text, and
# trace_op's columns come back as one comma-separated text each.
# bench/bench_pandas.py measures it beside the view.
import numpy as np
import pandas as pd


def run_latencies(con, run_id):
    """One run's timed ops as a DataFrame: seq, kind (categorical), size,
    site, latency_ns; the rows of op_latency for that run, in seq order."""
    # Latencies: the chunks' JSON arrays parsed as one text by numpy
    # (null, an op not timed, becomes NaN).
    k0s, everys, counts, texts = [], [], [], []
    for k0, every, text in con.execute(
            "SELECT k0, every, latencies FROM run_op_chunk WHERE run_id = ?"
            " ORDER BY k0", (run_id,)):
        body = text.strip()[1:-1].strip()
        if not body:
            continue
        k0s.append(k0)
        everys.append(every)
        counts.append(body.count(",") + 1)
        texts.append(body)
    if not texts:
        return pd.DataFrame(columns=["seq", "kind", "size", "site",
                                     "latency_ns"])
    ns = np.fromstring(",".join(texts).replace("null", "nan"), sep=",")
    counts = np.array(counts)
    if ns.size != counts.sum():
        raise ValueError(f"run {run_id}: run_op_chunk holds malformed arrays")
    first = np.repeat(np.array(k0s) - np.cumsum(counts) + counts, counts)
    seq = (first + np.arange(ns.size)) * np.repeat(np.array(everys), counts)
    # The ops: one comma-separated text per column of trace_op.
    kind, size, site = (np.fromstring(c or "", dtype=np.int64, sep=",")
                        for c in con.execute(
        "SELECT group_concat(kind), group_concat(size), group_concat(site)"
        " FROM (SELECT kind, size, site FROM trace_op WHERE trace_id ="
        " (SELECT trace_id FROM runs WHERE run_id = ?) ORDER BY seq)",
        (run_id,)).fetchone())
    names = dict(con.execute("SELECT kind, name FROM op_kinds"))
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
