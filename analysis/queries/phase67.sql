-- phase67.sql: hakmem's published tables (Phase 6.7 vm, json, mir; see
-- analysis/published.sql) beside what this database measured on traces of
-- the same scenarios (hksim gen vm|json|mir; scripts/phase67.sh makes
-- one). Measured figures are medians over repeats; vs mimalloc is against
-- mimalloc on the same trace.
-- Usage: sqlite3 results.db < analysis/queries/phase67.sql
.headers on
.mode column
SELECT scenario, allocator, trace, printf('%.0f', median_ns) AS median_ns,
       printf('%+.1f%%', vs_mimalloc_pct) AS vs_mimalloc,
       CAST(page_faults AS INTEGER) AS page_faults, syscalls,
       printf('%.0f', pub_median_ns) AS pub_median_ns,
       COALESCE(printf('%+.1f%%', pub_vs_mimalloc_pct), '-') AS pub_vs_mimalloc,
       COALESCE(pub_page_faults, '-') AS pub_faults,
       COALESCE(pub_syscalls, '-') AS pub_syscalls
FROM published_comparison
ORDER BY scenario = 'json', scenario = 'mir', scenario, trace, ord;

-- Do the rankings agree? Rank of each allocator, measured and published,
-- then Kendall's tau per scenario (published_rank_agreement). The
-- published figures are ns per alloc + touch + free iteration: only runs
-- made with --per-op iteration (measured_per_op) measure the same thing.
SELECT scenario, trace, allocator, measured_per_op,
       RANK() OVER (PARTITION BY scenario, trace ORDER BY median_ns) AS measured_rank,
       RANK() OVER (PARTITION BY scenario, trace ORDER BY pub_median_ns) AS published_rank
FROM published_comparison WHERE median_ns IS NOT NULL
ORDER BY scenario, trace, measured_rank;

SELECT scenario, trace, allocators, concordant, discordant,
       printf('%.2f', kendall_tau) AS kendall_tau, measured_per_op
FROM published_rank_agreement;
