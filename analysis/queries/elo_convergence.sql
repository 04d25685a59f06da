-- elo_convergence.sql: how quickly ELO converges. Per run with ELO ratings:
-- the strategy leading at the end, the op from which it led for good (as
-- an op index and a fraction of the run), how often the lead changed; then
-- the final leaderboard (as hak_shutdown prints it).
-- Usage: sqlite3 results.db < analysis/queries/elo_convergence.sql
.headers on
.mode column
SELECT run_id, trace, label, repeat, final_strategy, converged_seq, ops,
       printf('%.1f%%', converged_fraction * 100.0) AS converged_at,
       leader_changes, snapshots
FROM elo_convergence ORDER BY trace, label, repeat;

-- Over repeats: median-free summary (min / avg / max of the fraction).
SELECT trace, label, COUNT(*) AS runs,
       printf('%.1f%%', MIN(converged_fraction) * 100) AS earliest,
       printf('%.1f%%', AVG(converged_fraction) * 100) AS mean,
       printf('%.1f%%', MAX(converged_fraction) * 100) AS latest,
       group_concat(DISTINCT final_strategy) AS final_strategies
FROM elo_convergence GROUP BY trace, label ORDER BY trace, label;

SELECT run_id, trace, label, rank, strategy, printf('%.1f', rating) AS rating,
       pulls, alive, chosen
FROM elo_leaderboard ORDER BY run_id, rank, arm;
