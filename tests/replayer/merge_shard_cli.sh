#!/bin/sh
# merge_shard_cli.sh: --shard I/N and hksim merge end to end (integration
# test). Three shards of a run matrix, merged, must hold exactly the runs of
# one serial session (by trace content hash, back end, policy, seed, repeat
# and digest) with every per-run and per-trace table complete; merging a
# shard again adds nothing; a database of another schema version, garbage,
# a missing file and bad --shard values are refused with the output intact.
. "$(dirname "$0")/../lib.sh"
H=${HKSIM_BUILD:?}/bin/hksim
hk_tmpdir merge
export GLIBC_TUNABLES=glibc.rtld.optional_static_tls=65536
# The view trace_op (and op_latency over it) needs hksim's SQLite module.
q() { sqlite3 -cmd ".load $HKSIM_BUILD/analysis/hksim_sqlite" "$1" "$2"; }
RUNS="SELECT t.content_hash, r.backend, COALESCE(r.policy, '-'), r.seed, r.repeat, r.digest
      FROM runs r JOIN traces t USING (trace_id) WHERE r.status = 'done' ORDER BY 1, 2, 3, 4, 5"

"$H" gen mixed -o "$T/a.hkt" --seed 1 >/dev/null || bad "gen mixed"
"$H" gen json -o "$T/b.hkt" --seed 2 --scale 2 >/dev/null || bad "gen json"
M="$T/a.hkt $T/b.hkt --backend hakmem,glibc,null --policy static,ucb1 --repeat 2 --seed 7 --quiet --no-cache --per-op sample:4"
"$H" replay $M --db "$T/serial.db" >/dev/null 2>"$T/err" || bad "serial replay: $(cat "$T/err")"
check "serial runs" "$(q "$T/serial.db" "SELECT COUNT(*) FROM runs WHERE status='done'")" 16
check "serial runs have no shard" "$(q "$T/serial.db" "SELECT COUNT(*) FROM runs WHERE shard IS NOT NULL")" 0
for i in 0 1 2; do
  "$H" replay $M --db "$T/s$i.db" --shard $i/3 >/dev/null 2>"$T/err" || bad "shard $i/3: $(cat "$T/err")"
  n=$(q "$T/s$i.db" "SELECT COUNT(*) FROM runs")
  [ "$n" -ge 5 ] && [ "$n" -le 6 ] && ok "shard $i/3 holds $n runs (balanced)" || bad "shard $i/3 holds $n runs"
  check "shard $i column" "$(q "$T/s$i.db" "SELECT DISTINCT shard FROM run_summary")" "$i/3"
  check "shard $i host column" "$(q "$T/s$i.db" "SELECT COUNT(*) FROM run_summary WHERE host IS NULL OR host = ''")" 0
done
# The same shard made twice is the same set of runs (a deterministic split).
"$H" replay $M --db "$T/s1b.db" --shard 1/3 >/dev/null 2>&1
check "split is deterministic" "$(q "$T/s1b.db" "$RUNS" | md5sum)" "$(q "$T/s1.db" "$RUNS" | md5sum)"

"$H" merge "$T/m.db" "$T/s0.db" "$T/s1.db" "$T/s2.db" >"$T/out" 2>"$T/err"
check "merge exit" "$?" 0
check "merge: no progress line off a terminal" "$(wc -c <"$T/err")" 0
check "merged runs = serial runs" "$(q "$T/m.db" "$RUNS" | md5sum)" "$(q "$T/serial.db" "$RUNS" | md5sum)"
check "merged: run ids renumbered 1..16" "$(q "$T/m.db" "SELECT MIN(run_id) || '-' || MAX(run_id) || '-' || COUNT(DISTINCT run_uuid) FROM runs")" "1-16-16"
check "traces once by content hash" "$(q "$T/m.db" "SELECT COUNT(*) FROM traces")" 2
for t in trace_op trace_op_chunk sites threads modules run_op_chunk rss_timeline policy_events run_site; do
  check "table $t complete" "$(q "$T/m.db" "SELECT COUNT(*) FROM $t")" "$(q "$T/serial.db" "SELECT COUNT(*) FROM $t")"
done
check "op_latency over the merge" "$(q "$T/m.db" "SELECT COUNT(*), SUM(latency_ns IS NOT NULL) FROM op_latency")" \
  "$(q "$T/m.db" "SELECT SUM(ops_timed), SUM(ops_timed) FROM runs")"
check "op_latency row count as serial" "$(q "$T/m.db" "SELECT COUNT(*) FROM op_latency")" "$(q "$T/serial.db" "SELECT COUNT(*) FROM op_latency")"
check "run_summary shards" "$(q "$T/m.db" "SELECT group_concat(shard) FROM (SELECT DISTINCT shard FROM run_summary ORDER BY shard)")" "0/3,1/3,2/3"
check "policy_events follow their runs" \
  "$(q "$T/m.db" "SELECT COUNT(*) FROM policy_events p JOIN runs r USING (run_id) WHERE r.backend = 'hakmem'")" \
  "$(q "$T/serial.db" "SELECT COUNT(*) FROM policy_events")"
"$H" report --db "$T/m.db" >"$T/report" 2>"$T/err"
check "report on the merged database" "$?" 0

# Idempotent: a shard merged again, and the whole set again, add nothing.
sum() { q "$T/m.db" "SELECT (SELECT COUNT(*) FROM runs) || '/' || (SELECT COUNT(*) FROM run_op_chunk) || '/' || (SELECT COUNT(*) FROM policy_events) || '/' || (SELECT COUNT(*) FROM sites) || '/' || (SELECT COUNT(*) FROM trace_op) || '/' || (SELECT COUNT(*) FROM size_classes)"; }
before=$(sum)
"$H" merge "$T/m.db" "$T/s1.db" >"$T/out" 2>&1
check "merge again exit" "$?" 0
grep -q "0 run(s) added, 5 already there\|0 run(s) added, 6 already there" "$T/out" && ok "merge again says nothing added" || bad "merge again: $(cat "$T/out")"
"$H" merge "$T/m.db" "$T/s0.db" "$T/s1.db" "$T/s2.db" --quiet >/dev/null 2>&1
check "merging twice adds nothing" "$(sum)" "$before"
# A merged database merges like any other (identity is carried along).
"$H" merge "$T/m2.db" "$T/m.db" "$T/s2.db" --quiet 2>/dev/null
check "merge of a merge" "$(q "$T/m2.db" "$RUNS" | md5sum)" "$(q "$T/serial.db" "$RUNS" | md5sum)"

# Live runs (hksim validate) are observations of a trace, not data derived
# from it: every input's are kept, also for a trace the output already has.
cp "$T/s0.db" "$T/l0.db"; cp "$T/s1.db" "$T/l1.db"
LIVE="INSERT INTO live_runs(trace_id, backend, repeat, command, status, wall_ns, started_at)
      SELECT trace_id, 'glibc', %d, 'prog', 'done', %d, '2026-11-27T00:00:00Z' FROM traces WHERE name = 'a.hkt'"
q "$T/l0.db" "$(printf "$LIVE" 0 1000)"
q "$T/l0.db" "$(printf "$LIVE" 1 1100)"
q "$T/l1.db" "$(printf "$LIVE" 2 1200)"
"$H" merge "$T/ml.db" "$T/l0.db" "$T/l1.db" --quiet >/dev/null 2>&1
check "live runs of a trace already merged are kept" "$(q "$T/ml.db" "SELECT COUNT(*), SUM(wall_ns) FROM live_runs")" "3|3300"
"$H" merge "$T/ml.db" "$T/l1.db" "$T/l0.db" --quiet >/dev/null 2>&1
check "live runs merged twice: nothing added" "$(q "$T/ml.db" "SELECT COUNT(*) FROM live_runs")" 3

# Trace ops: an input expanded (trace_op a table), an output expanded, and
# an input of the row-per-op layout (no chunks) merge like the others.
OPS="SELECT trace_id, COUNT(*), SUM(size), SUM(slot), SUM(time_ns) FROM trace_op GROUP BY 1 ORDER BY 1"
cp "$T/s0.db" "$T/x0.db"
"$H" expand --db "$T/x0.db" >/dev/null 2>"$T/err" || bad "expand: $(cat "$T/err")"
"$H" merge "$T/xm.db" "$T/x0.db" "$T/s1.db" "$T/s2.db" --quiet >/dev/null 2>"$T/err"
check "merge of an expanded input" "$?" 0
check "  its ops" "$(q "$T/xm.db" "$OPS" | md5sum)" "$(q "$T/m.db" "$OPS" | md5sum)"
"$H" merge "$T/xo.db" "$T/s0.db" --quiet >/dev/null 2>&1
"$H" expand --db "$T/xo.db" >/dev/null 2>&1
"$H" merge "$T/xo.db" "$T/s1.db" "$T/s2.db" --quiet >/dev/null 2>"$T/err"
check "merge into an expanded output" "$?" 0
check "  its trace_op is a table with every op" "$(sqlite3 "$T/xo.db" "$OPS" | md5sum)" "$(q "$T/m.db" "$OPS" | md5sum)"
cp "$T/s1.db" "$T/old.db"
q "$T/old.db" "DROP VIEW trace_op; CREATE TABLE trace_op AS SELECT trace_id, seq, kind, size, site, thread, slot, align, flags
  FROM hksim_trace_op; DELETE FROM trace_op_chunk"
check "  (a row-layout database made)" "$(sqlite3 "$T/old.db" "SELECT COUNT(*) FROM trace_op_chunk; SELECT COUNT(*) > 0 FROM trace_op")" "0
1"
"$H" merge "$T/om.db" "$T/old.db" --quiet >/dev/null 2>"$T/err"
check "merge of a row-layout input" "$?" 0
check "  its ops coded into chunks" "$(q "$T/om.db" "SELECT COUNT(*), SUM(size), SUM(slot) FROM trace_op")" \
  "$(q "$T/s1.db" "SELECT COUNT(*), SUM(size), SUM(slot) FROM trace_op")"

# Refusals: the output is left as it was.
cp "$T/s0.db" "$T/old.db"
q "$T/old.db" "PRAGMA user_version = 2" >/dev/null
"$H" merge "$T/m.db" "$T/s2.db" "$T/old.db" >/dev/null 2>"$T/err"
check "mixed schema versions exit" "$?" 1
grep -q "old.db: schema version 2, but this program writes version 4" "$T/err" && ok "refusal names file and versions" || bad "refusal: $(cat "$T/err")"
check "refusal: one line" "$(wc -l <"$T/err")" 1
check "refusal: output intact" "$(sum)" "$before"
head -c 3000 /dev/urandom >"$T/garbage.db"
"$H" merge "$T/m.db" "$T/garbage.db" >/dev/null 2>"$T/err"
check "garbage input exit" "$?" 1
grep -q "garbage.db" "$T/err" && ok "garbage named" || bad "garbage: $(cat "$T/err")"
"$H" merge "$T/m.db" "$T/nosuch.db" >/dev/null 2>"$T/err"
check "missing input exit" "$?" 1
[ -e "$T/nosuch.db" ] && bad "a missing input was created" || ok "a missing input is not created"
"$H" merge "$T/m.db" "$T/m.db" >/dev/null 2>"$T/err"
check "output as input exit" "$?" 2
"$H" merge "$T/m.db" >/dev/null 2>"$T/err"
check "no input exit" "$?" 2
check "after refusals: output intact" "$(sum)" "$before"
check "after refusals: integrity" "$(q "$T/m.db" "PRAGMA integrity_check")" ok
for s in 3/3 1/0 x 1 -1/2 1/2/3; do
  "$H" replay "$T/a.hkt" --db "$T/x.db" --backend null --shard "$s" >/dev/null 2>"$T/err"
  check "bad --shard '$s' exit" "$?" 2
done
[ -e "$T/x.db" ] && bad "bad --shard wrote a database" || ok "bad --shard writes nothing"

# --progress: the phase and the count, ending in the final line.
"$H" merge "$T/mp.db" "$T/s0.db" "$T/s1.db" "$T/s2.db" --progress >/dev/null 2>"$T/err"
check "merge --progress exit" "$?" 0
tr '\r' '\n' <"$T/err" | grep -q "mp.db: merging 3 databases in " && ok "merge progress line" || bad "merge progress: $(cat "$T/err")"

hk_done
