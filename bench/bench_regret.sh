#!/bin/sh
# bench_regret.sh: how good is each learner, against the best fixed arm per
# site in hindsight (docs/hakmem.md, "Oracle and regret"). Replays gen mir,
# mixed and sites on the hakmem back end with static, ucb1, elo, evo and
# oracle, for seeds 1..S (elo and evo explore with the seed; the others
# decide the same for every seed), interleaved, and prints per (trace,
# learner) the regret of the policy_regret view (model_ns / oracle_ns - 1;
# median, min and max over the seeds) beside the measured loop time over
# the oracle's. Two oracles: UCB1's six arms
# (64K..2M, the default) and a wide set 64K..32M that holds ELO's range;
# regret is taken against each. The measured ratio is the learner's median
# loop time over the oracle runs' median (noisy on a loaded machine; the
# regret is the model's and does not depend on the load).
# Usage: bench/bench_regret.sh [BUILD_DIR] [SEEDS] [OUTDIR]
# REUSE=1 only reprints the figures of an existing OUTDIR/regret.db.
# Not a test: it prints, it never fails on the figures.
set -eu
B=${1:-build}
S=${2:-3}
O=${3:-$(mktemp -d /tmp/hksim-regret.XXXXXX)}
H=$B/bin/hksim
mkdir -p "$O"
DB=$O/regret.db
WIDE=64K:128K:256K:512K:1M:2M:4M:8M:16M:32M
if [ "${REUSE:-0}" != 1 ] || [ ! -f "$DB" ]; then
rm -f "$DB"
for t in mir mixed sites; do "$H" gen $t -o "$O/$t.hkt" --force >/dev/null; done
T="$O/mir.hkt $O/mixed.hkt $O/sites.hkt"
run() { echo "+ hksim replay $* --db $DB --backend hakmem --per-op none" >&2
        "$H" replay "$@" --db "$DB" --backend hakmem --per-op none --quiet >/dev/null; }
s=1
while [ "$s" -le "$S" ]; do
  # shellcheck disable=SC2086
  run $T --policy static,ucb1,elo,evo,oracle --seed $s
  # shellcheck disable=SC2086
  [ "$s" = 1 ] && run $T --policy oracle --seed 1 --hakmem oracle.arms=$WIDE
  s=$((s + 1))
done
fi
cat <<SQL | sqlite3 -header -column "$DB"
-- the oracles: one row per trace and arm set (deterministic: one value)
SELECT t.name AS trace,
       CASE WHEN instr(r.hakmem_config, 'oracle.arms=65536:131072:262144:524288:1048576:2097152' || char(10)) > 0
            THEN 'ucb1 arms' ELSE 'wide arms' END AS oracle,
       MIN(r.model_ns) / 1e6 AS model_ms, COUNT(DISTINCT r.digest) AS digests
FROM runs r JOIN traces t USING (trace_id)
WHERE r.policy = 'oracle' AND r.status = 'done' GROUP BY 1, 2 ORDER BY 1, 2;
SQL
echo
echo "# regret against the oracle over UCB1's six arms, and against the better"
echo "# of the two oracles (policy_regret takes the least oracle model time)"
cat <<SQL | sqlite3 -header -column "$DB"
WITH narrow AS (
  SELECT r.trace_id, MIN(r.model_ns) AS ns FROM runs r
  WHERE r.policy = 'oracle' AND r.status = 'done'
    AND instr(r.hakmem_config, 'oracle.arms=65536:131072:262144:524288:1048576:2097152' || char(10)) > 0
  GROUP BY r.trace_id),
ot AS (
  SELECT trace_id, total_ns,
         ROW_NUMBER() OVER (PARTITION BY trace_id ORDER BY total_ns) AS k,
         COUNT(*) OVER (PARTITION BY trace_id) AS n
  FROM runs WHERE policy = 'oracle' AND status = 'done'),
oracle_time AS (
  SELECT trace_id, AVG(total_ns) AS ns FROM ot
  WHERE k IN ((n + 1) / 2, (n + 2) / 2) GROUP BY trace_id),
x AS (
  SELECT p.trace, p.policy, p.seed, p.regret,
         r.model_ns / n.ns - 1 AS regret_ucb1_arms,
         r.total_ns AS total_ns, ot.ns AS oracle_time_ns,
         ROW_NUMBER() OVER (PARTITION BY p.trace, p.policy ORDER BY r.total_ns) AS kt,
         ROW_NUMBER() OVER (PARTITION BY p.trace, p.policy ORDER BY p.regret) AS k,
         COUNT(*) OVER (PARTITION BY p.trace, p.policy) AS n
  FROM policy_regret p JOIN runs r ON r.run_id = p.run_id
  JOIN narrow n ON n.trace_id = r.trace_id
  JOIN oracle_time ot ON ot.trace_id = r.trace_id
  WHERE p.policy <> 'oracle')
SELECT trace, policy, MAX(n) AS seeds,
       printf('%.3f', AVG(CASE WHEN k IN ((n + 1) / 2, (n + 2) / 2) THEN regret_ucb1_arms END)) AS regret_ucb1_arms,
       printf('%.3f', AVG(CASE WHEN k IN ((n + 1) / 2, (n + 2) / 2) THEN regret END)) AS regret_median,
       printf('%.3f..%.3f', MIN(regret), MAX(regret)) AS regret_range,
       printf('%.2f', AVG(CASE WHEN kt IN ((n + 1) / 2, (n + 2) / 2) THEN total_ns END)
                      / MAX(oracle_time_ns)) AS measured_vs_oracle
FROM x GROUP BY trace, policy
ORDER BY trace, CASE policy WHEN 'static' THEN 0 WHEN 'ucb1' THEN 1
                            WHEN 'elo' THEN 2 ELSE 3 END;
SQL
echo
echo "# reproduce: bench/bench_regret.sh $B $S $O   (database: $DB)"
