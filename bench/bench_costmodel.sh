#!/bin/sh
# bench_costmodel.sh: validates hakmem's cost model (docs/hakmem.md) against
# the kernel. Calibrates this machine, replays gen mixed --scale 5, sites,
# mir and vm --scale 10 on the hakmem back end with static thresholds
# 64 KiB, 256 KiB, 1 MiB and 4 MiB, R repeats each (repeats interleaved:
# the whole matrix once per round), then prints modelled against measured
# side by side and the two acceptance figures:
#   1. runs whose modelled page faults are within 25% of measured;
#   2. pairs of configurations (same trace) whose median measured total
#      time differs by >= 30%, ordered the same way by model_ns.
# Usage: bench/bench_costmodel.sh [BUILD_DIR] [REPEATS] [OUTDIR]
# REUSE=1 only reprints the figures of an existing OUTDIR/costmodel.db.
# SYNC=1 replays with --hakmem cost.libc_sync=1 (the libc model follows
# the real glibc's mmap-or-heap choices; not deterministic, docs/hakmem.md).
# Not a test: it prints, it never fails on the figures.
set -eu
B=${1:-build}
R=${2:-3}
R0=$R
O=${3:-$(mktemp -d /tmp/hksim-costmodel.XXXXXX)}
H=$B/bin/hksim
mkdir -p "$O"
DB=$O/costmodel.db
if [ "${REUSE:-0}" = 1 ] && [ -f "$DB" ]; then R=0; else
rm -f "$DB"
"$H" gen mixed -o "$O/mixed.hkt" --scale 5 >/dev/null
"$H" gen sites -o "$O/sites.hkt" >/dev/null
"$H" gen mir -o "$O/mir.hkt" >/dev/null
"$H" gen vm -o "$O/vm.hkt" --scale 10 >/dev/null
"$H" calibrate --db "$DB" --name bench --quiet
r=0
while [ "$r" -lt "$R" ]; do
  for t in 64K 256K 1M 4M; do
    "$H" replay "$O/mixed.hkt" "$O/sites.hkt" "$O/mir.hkt" "$O/vm.hkt" \
      --db "$DB" --backend hakmem --policy static --calibration bench \
      --hakmem static.threshold=$t ${SYNC:+--hakmem cost.libc_sync=$SYNC} \
      --per-op none --quiet >/dev/null
  done
  r=$((r + 1))
done
fi
q() { sqlite3 -header -column "$DB" "$1"; }
echo "# calibration"
sqlite3 "$DB" "SELECT settings FROM calibrations WHERE name='bench'"
cat >"$O/cfg.sql" <<'SQL'
CREATE TEMP VIEW cm AS
SELECT run_id, trace,
       CAST(substr(hakmem_config, instr(hakmem_config, 'static.threshold=') + 17,
            instr(substr(hakmem_config, instr(hakmem_config, 'static.threshold=') + 17), char(10)) - 1)
            AS INTEGER) / 1024 AS thr_kib,
       total_ns, page_faults, model_page_faults, model_ns,
       mmap_calls + munmap_calls + madvise_calls AS syscalls, model_syscalls
FROM run_summary WHERE backend = 'hakmem' AND status = 'done';
CREATE TEMP TABLE cfgs AS
WITH r AS (SELECT trace, thr_kib, total_ns, model_ns,
                  ROW_NUMBER() OVER (PARTITION BY trace, thr_kib ORDER BY total_ns) AS rn,
                  COUNT(*) OVER (PARTITION BY trace, thr_kib) AS n
           FROM cm)
SELECT trace, thr_kib, MIN(model_ns) AS model_ns, MAX(n) AS n,
       AVG(CASE WHEN rn IN ((n + 1) / 2, (n + 2) / 2) THEN total_ns END) AS med_ns,
       MIN(total_ns) AS min_ns, MAX(total_ns) AS max_ns
FROM r GROUP BY trace, thr_kib;
SQL
echo
echo "# per configuration: median measured total (min..max over repeats) beside the model"
sqlite3 -header -column "$DB" ".read $O/cfg.sql" "SELECT c.trace, c.thr_kib, c.n AS runs,
  printf('%.2f', c.med_ns / 1e6) AS meas_ms,
  printf('%.2f..%.2f', c.min_ns / 1e6, c.max_ns / 1e6) AS spread_ms,
  printf('%.2f', c.model_ns / 1e6) AS model_ms,
  (SELECT CAST(AVG(page_faults) AS INT) FROM cm WHERE cm.trace = c.trace AND cm.thr_kib = c.thr_kib) AS faults,
  (SELECT MIN(model_page_faults) FROM cm WHERE cm.trace = c.trace AND cm.thr_kib = c.thr_kib) AS model_faults,
  (SELECT CAST(AVG(syscalls) AS INT) FROM cm WHERE cm.trace = c.trace AND cm.thr_kib = c.thr_kib) AS sys,
  (SELECT MIN(model_syscalls) FROM cm WHERE cm.trace = c.trace AND cm.thr_kib = c.thr_kib) AS model_sys
  FROM cfgs c ORDER BY c.trace, c.thr_kib"
echo
echo "# figure 1: modelled page faults within 25% of measured (target >= 90% of runs)"
sqlite3 "$DB" ".read $O/cfg.sql" "SELECT printf('%d of %d runs (%.1f%%)', SUM(ok), COUNT(*), 100.0 * SUM(ok) / COUNT(*))
  FROM (SELECT ABS(model_page_faults - page_faults) <= 0.25 * page_faults AS ok FROM cm)"
echo "  runs outside:"
sqlite3 "$DB" ".read $O/cfg.sql" "SELECT '    ' || trace || ' ' || thr_kib || ' KiB: model ' || model_page_faults || ', measured ' || page_faults
  FROM cm WHERE ABS(model_page_faults - page_faults) > 0.25 * page_faults"
echo
echo "# figure 2: pairs (same trace) with median measured totals >= 30% apart, ordered alike by the model (target >= 80%)"
sqlite3 "$DB" ".read $O/cfg.sql" "SELECT printf('%d of %d pairs (%.1f%%)', SUM(ok), COUNT(*), 100.0 * SUM(ok) / COUNT(*))
  FROM (SELECT (a.med_ns < b.med_ns) = (a.model_ns < b.model_ns) AS ok
        FROM cfgs a JOIN cfgs b ON a.trace = b.trace AND a.thr_kib < b.thr_kib
        WHERE MAX(a.med_ns, b.med_ns) >= 1.3 * MIN(a.med_ns, b.med_ns))"
echo "  pairs ordered differently:"
sqlite3 "$DB" ".read $O/cfg.sql" "SELECT '    ' || a.trace || ' ' || a.thr_kib || ' vs ' || b.thr_kib || ' KiB: measured '
  || printf('%.2f/%.2f ms', a.med_ns / 1e6, b.med_ns / 1e6) || ', model ' || printf('%.2f/%.2f ms', a.model_ns / 1e6, b.model_ns / 1e6)
  FROM cfgs a JOIN cfgs b ON a.trace = b.trace AND a.thr_kib < b.thr_kib
  WHERE MAX(a.med_ns, b.med_ns) >= 1.3 * MIN(a.med_ns, b.med_ns)
    AND (a.med_ns < b.med_ns) != (a.model_ns < b.model_ns)"
echo
echo "results: $DB (reproduce: ${SYNC:+SYNC=$SYNC }bench/bench_costmodel.sh $B $R0 $O)"
