-- winner_per_trace.sql: which configuration wins on which trace, and by
-- how much. For every trace: the fastest (lowest median of per-run median
-- ns per op), the runner-up, the margin between them, and where mimalloc
-- and the two hakmem configurations stand. Medians over repeats.
-- Usage: sqlite3 results.db < analysis/queries/winner_per_trace.sql
-- (needs analysis/views.sql applied: hksim report does it once).
.headers on
.mode column
WITH ranked AS (
  SELECT trace, label, backend, policy, runs, median_ns, vs_mimalloc_pct,
         RANK() OVER (PARTITION BY trace_id ORDER BY median_ns) AS place,
         LEAD(median_ns) OVER (PARTITION BY trace_id ORDER BY median_ns)
           AS next_ns,
         LEAD(label) OVER (PARTITION BY trace_id ORDER BY median_ns)
           AS runner_up
  FROM vs_mimalloc WHERE median_ns IS NOT NULL)
SELECT trace, label AS winner, median_ns, runner_up, next_ns AS runner_up_ns,
       printf('%.1f%%', (next_ns / median_ns - 1.0) * 100.0) AS margin,
       printf('%+.1f%%', vs_mimalloc_pct) AS winner_vs_mimalloc, runs
FROM ranked WHERE place = 1 ORDER BY trace;

-- Every configuration, ranked within its trace.
SELECT trace, RANK() OVER (PARTITION BY trace_id ORDER BY median_ns) AS place,
       label, median_ns, p99_ns, printf('%+.1f%%', vs_mimalloc_pct) AS vs_mimalloc,
       printf('%.2f', p99_ratio) AS p99_ratio, page_faults,
       printf('%.2f', rss_ratio) AS rss_ratio
FROM vs_mimalloc WHERE median_ns IS NOT NULL
ORDER BY trace, place;
