# hksim_pandas.py: the fast path from a results database to pandas (see
# analysis/README.md). run_latencies loads one run's timed ops without the
# op_latency view, which unpacks the 4096-op JSON chunks of run_op_chunk
# row by row in SQL: here numpy parses the chunks' arrays as one text, and
# the trace's ops are decoded from their chunks (trace_op_chunk, zstd via
# ctypes, columns via numpy) without the SQLite module the view trace_op
# needs. bench/bench_pandas.py measures it beside the view.
import ctypes
import ctypes.util

import numpy as np
import pandas as pd

# The columns of a trace_op_chunk blob, in order (docs/schema.md, "Trace
# ops"; common/hk_opchunk.c writes them).
_COLS = ("kind", "size", "site", "thread", "slot", "align_log2", "flags",
         "time_ns")
_zstd = None


def _libzstd():
    global _zstd
    if _zstd is None:
        lib = ctypes.CDLL(ctypes.util.find_library("zstd") or "libzstd.so.1")
        lib.ZSTD_decompress.restype = ctypes.c_size_t
        lib.ZSTD_decompress.argtypes = [ctypes.c_void_p, ctypes.c_size_t,
                                        ctypes.c_char_p, ctypes.c_size_t]
        lib.ZSTD_isError.restype = ctypes.c_uint
        lib.ZSTD_isError.argtypes = [ctypes.c_size_t]
        _zstd = lib
    return _zstd


def _unzigzag(u):
    u = u.astype(np.uint64)
    return (u >> np.uint64(1)).astype(np.int64) ^ -(u & np.uint64(1)).astype(np.int64)


def _columns(blob, want=_COLS):
    """The columns named in want of one trace_op_chunk blob, as numpy arrays
    of their stored widths (slot and time_ns not yet undone from deltas).
    Raises ValueError naming the damage for a blob that is cut or altered."""
    b = bytes(blob)
    if len(b) < 32 or b[:4] != b"HKOC":
        raise ValueError("not an op chunk (no HKOC header)")
    if b[4] != 1:
        raise ValueError(f"op chunk version {b[4]}, this reader reads 1")
    n = int.from_bytes(b[8:12], "little")
    widths = list(b[12:20])
    t0 = int.from_bytes(b[20:28], "little")
    raw = int.from_bytes(b[28:32], "little")
    if (n == 0 or n > 65536 or any(w not in (0, 1, 2, 4, 8) for w in widths)
            or sum(widths) * n != raw):
        raise ValueError("op chunk header damaged")
    z = _libzstd()
    dst = ctypes.create_string_buffer(max(raw, 1))
    got = z.ZSTD_decompress(dst, raw, b[32:], len(b) - 32)
    if z.ZSTD_isError(got) or got != raw:
        raise ValueError("op chunk payload damaged (zstd)")
    buf, off, cols = dst.raw, 0, {}
    for name, w in zip(_COLS, widths):
        if name in want:
            cols[name] = (np.zeros(n, dtype=np.uint8) if w == 0 else
                          np.frombuffer(buf, dtype=f"<u{w}", count=n,
                                        offset=off))
        off += w * n
    return n, t0, cols


def decode_chunk(blob):
    """One trace_op_chunk blob as a dict of numpy columns (kind, size, site,
    thread, slot (4294967295: no object), align_log2, flags, time_ns). Raises
    ValueError naming the damage for a blob that is cut or altered."""
    n, t0, cols = _columns(blob)
    cols = {k: v.astype(np.uint64) for k, v in cols.items()}
    # slot + 1 as zigzag 32-bit deltas; time as zigzag deltas from t0
    cols["slot"] = (np.cumsum(_unzigzag(cols["slot"])) - 1) & 0xffffffff
    cols["time_ns"] = t0 + np.cumsum(_unzigzag(cols["time_ns"]))
    for name in ("kind", "size", "site", "thread", "align_log2", "flags"):
        cols[name] = cols[name].astype(np.int64)
    return cols


def trace_ops(con, trace_id):
    """A trace's ops, decoded from trace_op_chunk: a DataFrame with the
    columns of the view trace_op (seq, kind, size, site, thread, slot,
    align, flags, time_ns), in seq order."""
    parts, k0s = [], []
    for k0, blob in con.execute(
            "SELECT k0, ops FROM trace_op_chunk WHERE trace_id = ?"
            " ORDER BY k0", (trace_id,)):
        parts.append(decode_chunk(blob))
        k0s.append(k0)
    if not parts:
        return pd.DataFrame(columns=["seq", "kind", "size", "site", "thread",
                                     "slot", "align", "flags", "time_ns"])
    cat = {c: np.concatenate([p[c] for p in parts]) for c in _COLS}
    seq = np.concatenate([k0 + np.arange(p["kind"].size)
                          for k0, p in zip(k0s, parts)])
    align = np.where(cat["align_log2"] > 0,
                     np.left_shift(1, cat["align_log2"]), 0)
    return pd.DataFrame({"seq": seq, "kind": cat["kind"], "size": cat["size"],
                         "site": cat["site"], "thread": cat["thread"],
                         "slot": cat["slot"], "align": align,
                         "flags": cat["flags"], "time_ns": cat["time_ns"]})


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
    body = ",".join(texts)
    del texts
    # Every op timed (--per-op all): integers parsed as such; else null
    # (an op not timed) as NaN, dropped below.
    untimed = "null" in body
    ns = (np.fromstring(body.replace("null", "nan"), sep=",") if untimed
          else np.fromstring(body, dtype=np.int64, sep=","))
    del body
    counts = np.array(counts)
    if ns.size != counts.sum():
        raise ValueError(f"run {run_id}: run_op_chunk holds malformed arrays")
    if (all(e == 1 for e in everys) and
            all(k0s[i + 1] == k0s[i] + counts[i] for i in range(len(k0s) - 1))):
        # every op timed, chunks back to back (--per-op all): a range
        seq = np.arange(k0s[0], k0s[0] + ns.size, dtype=np.int64)
    else:
        first = np.repeat(np.array(k0s) - np.cumsum(counts) + counts, counts)
        seq = ((first + np.arange(ns.size)) *
               np.repeat(np.array(everys), counts))
    # The ops: only kind, size and site decoded from the trace's chunks,
    # each straight into one array (a DataFrame of every column of
    # trace_ops, then its consolidation, cost 10 times the CPU and 0.5 GB
    # for 3.2 M ops; bench/bench_pandas.py).
    (trace_id,) = con.execute("SELECT trace_id FROM runs WHERE run_id = ?",
                              (run_id,)).fetchone()
    (nops,) = con.execute("SELECT COALESCE(MAX(k0 + n), 0) FROM"
                          " trace_op_chunk WHERE trace_id = ?",
                          (trace_id,)).fetchone()
    kind = np.zeros(nops, dtype=np.uint8)
    size = np.zeros(nops, dtype=np.int64)
    site = np.zeros(nops, dtype=np.int64)
    for k0, blob in con.execute(
            "SELECT k0, ops FROM trace_op_chunk WHERE trace_id = ?",
            (trace_id,)):
        n, _, c = _columns(blob, ("kind", "size", "site"))
        kind[k0:k0 + n] = c["kind"]
        size[k0:k0 + n] = c["size"]
        site[k0:k0 + n] = c["site"]
    names = dict(con.execute("SELECT kind, name FROM op_kinds"))
    timed = seq < nops
    if untimed:
        timed &= ~np.isnan(ns)
    if not timed.all():
        seq, ns = seq[timed], ns[timed]
    # Every op of the trace, in order: its columns as they are, no gather.
    whole = seq.size == nops and (nops == 0 or (seq[0] == 0 and
                                                seq[-1] == nops - 1))
    pick = (lambda a: a) if whole else (lambda a: a[seq])
    labels = [names.get(k, str(k)) for k in range(int(kind.max(initial=0)) + 1)]
    # copy=False: the arrays become the frame's columns as they are; the
    # default stacks the int64 columns into one block (a copy of each:
    # 15 s of the wall time for 3.2 M ops on a loaded machine).
    return pd.DataFrame({
        "seq": seq,
        "kind": pd.Categorical.from_codes(pick(kind), categories=labels),
        "size": pick(size),
        "site": pick(site),
        "latency_ns": ns.astype(np.int64, copy=False),
    }, copy=False)
