-- size_class_latency.sql: latency percentiles by size class and op kind,
-- per configuration (the first repeat of each), to see where a back end
-- pays: small objects, the BigCache range (>= 512 KiB), or the mmap range.
-- Each run's ops are read once (about 0.4 s of CPU per 430k ops); filter
-- on run_id to read fewer runs.
-- Usage (op_latency and size_class_latency need hksim's SQLite module):
--   sqlite3 -cmd ".load build/analysis/hksim_sqlite" results.db \
--     < analysis/queries/size_class_latency.sql
.headers on
.mode column
SELECT l.trace, l.label, l.kind, l.size_class, l.ops, l.p50_ns, l.p95_ns,
       l.p99_ns, printf('%.1f', l.mean_ns) AS mean_ns, l.max_ns
FROM size_class_latency l
WHERE l.run_id IN (SELECT MIN(run_id) FROM runs WHERE status = 'done'
                   GROUP BY trace_id, backend, policy)
ORDER BY l.trace, l.class, l.kind, l.p50_ns;
