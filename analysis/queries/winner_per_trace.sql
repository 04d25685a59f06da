-- winner_per_trace.sql: which configuration wins on which trace, and by
-- how much. Configurations are compared on total loop time per op (the
-- median over repeats of total_ns / ops, with its 95% CI), the metric the
-- timer resolves; per-op medians sit at the timer's resolution and are
-- not used to rank. The null back end (the harness alone) is left out.
-- A runner-up whose CI overlaps the winner's is "tied": the data do not
-- separate them. `hksim compare --db DB A B` tests a pair. Runs timed in
-- different --per-op modes are ranked apart (per_op), like with like.
-- Usage: sqlite3 results.db < analysis/queries/winner_per_trace.sql
-- (needs analysis/views.sql applied: hksim report does it once).
.headers on
.mode column
WITH r AS (
  SELECT trace, trace_id, per_op, label, runs, ns_per_op, ns_per_op_ci_lo,
         ns_per_op_ci_hi, vs_mimalloc_pct, place, tied,
         LEAD(ns_per_op) OVER (PARTITION BY trace_id, per_op
                               ORDER BY ns_per_op) AS next_ns,
         LEAD(label) OVER (PARTITION BY trace_id, per_op
                           ORDER BY ns_per_op) AS runner_up,
         LEAD(tied) OVER (PARTITION BY trace_id, per_op
                          ORDER BY ns_per_op) AS runner_up_tied
  FROM config_rank)
SELECT trace, per_op, label AS winner,
       printf('%.1f', ns_per_op) AS ns_per_op,
       COALESCE(printf('%.1f..%.1f', ns_per_op_ci_lo, ns_per_op_ci_hi), '-')
         AS ci95,
       runner_up, printf('%.1f', next_ns) AS runner_up_ns_per_op,
       printf('%.1f%%', (next_ns / ns_per_op - 1.0) * 100.0) AS margin,
       CASE WHEN runner_up_tied THEN 'tied' ELSE 'separated' END AS verdict,
       COALESCE(printf('%+.1f%%', vs_mimalloc_pct), '-') AS winner_vs_mimalloc,
       runs
FROM r WHERE place = 1 ORDER BY trace, per_op;

-- Every configuration, ranked within its trace and per-op mode.
SELECT trace, per_op, place, label, printf('%.1f', ns_per_op) AS ns_per_op,
       COALESCE(printf('%.1f..%.1f', ns_per_op_ci_lo, ns_per_op_ci_hi), '-')
         AS ci95,
       CASE WHEN tied THEN 'tied' ELSE '' END AS tied_with_best,
       COALESCE(printf('%+.1f%%', vs_mimalloc_pct), '-') AS vs_mimalloc,
       page_faults, printf('%.2f', rss_ratio) AS rss_ratio, runs
FROM config_rank ORDER BY trace, per_op, place;
