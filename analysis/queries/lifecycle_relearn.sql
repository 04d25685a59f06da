-- lifecycle_relearn.sql: how often the lifecycle (evo: LEARN / FROZEN /
-- CANARY) re-learns. Per run: its exact counters at the end (freezes,
-- re-learns, canaries, rollbacks, promotions) and re-learns per million
-- ops; then every mode change seen between snapshots, with its reason.
-- Runs with policy evo only (hksim replay --policy evo).
-- Usage: sqlite3 results.db < analysis/queries/lifecycle_relearn.sql
.headers on
.mode column
SELECT run_id, trace, label, repeat, ops, final_mode, windows, freezes,
       relearns, canaries, rollbacks, promotions,
       printf('%.2f', relearns_per_mop) AS relearns_per_mop, transitions_seen
FROM lifecycle_summary ORDER BY trace, label, repeat;

SELECT run_id, trace, op_seq, from_name, to_name, reason_name
FROM lifecycle_transitions ORDER BY run_id, op_seq;

-- Why it re-learned: transitions into LEARN by reason.
SELECT trace, label, reason_name, COUNT(*) AS relearns_seen
FROM lifecycle_transitions WHERE to_name = 'LEARN'
GROUP BY trace, label, reason_name ORDER BY trace, label, relearns_seen DESC;
