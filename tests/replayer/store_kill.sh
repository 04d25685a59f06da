#!/bin/sh
# store_kill.sh: a trace is stored in transactions of bounded size (issue
# 16 item 4: the WAL holds one of them, not the whole trace), so a session
# can die between two of them. Killed by SIGKILL after some of its chunks
# are committed (HKSIM_TEST_STORE_KILL, replayer/README.md), it leaves the
# database readable and whole: earlier runs intact, no half trace in
# traces, views, report or merge; the next replay of the trace deletes
# what was left and stores it whole, the same bytes as a store that never
# died. Then three sessions store one trace in small transactions at once.
. "$(dirname "$0")/../lib.sh"
H=${HKSIM_BUILD:?}/bin/hksim
hk_tmpdir storekill
export GLIBC_TUNABLES=glibc.rtld.optional_static_tls=65536
DB=$T/k.db
q() { sqlite3 "$1" "$2"; }

"$H" gen mixed -o "$T/small.hkt" --seed 1 >/dev/null || bad "gen small"
# 1 M ops: 16 chunks of 65536.
"$H" gen mixed -o "$T/big.hkt" --seed 2 --scale 100 >/dev/null || bad "gen big"
"$H" replay "$T/small.hkt" --db "$DB" --backend glibc --per-op none \
  --no-cache --quiet >/dev/null 2>"$T/err" || bad "first replay: $(cat "$T/err")"
RUNS="SELECT group_concat(run_id || ':' || backend || ':' || status || ':' || digest, ' ') FROM (SELECT * FROM runs ORDER BY run_id)"
before=$(q "$DB" "$RUNS")

# ---- the WAL holds one transaction, not the store ------------------------
# 1 M ops of the threads scenario (0.36 MB chunks), killed once 12 chunks
# are committed one a transaction: the WAL (read before any sqlite3, whose
# last close checkpoints and removes it) is under 6 chunks, not 12 (the
# session's first writes, the schema's views, take about 0.8 MB of it).
"$H" gen threads -o "$T/thr.hkt" --seed 2 --scale 6 >/dev/null || bad "gen threads"
HKSIM_TEST_STORE_TXN=1 HKSIM_TEST_STORE_KILL=12 "$H" replay "$T/thr.hkt" \
  --db "$T/w.db" --backend glibc --per-op none --no-cache --quiet >/dev/null 2>&1
check "WAL: died by SIGKILL" "$?" 137
wal=$(stat -c %s "$T/w.db-wal")
chunks=$(q "$T/w.db" 'SELECT COUNT(*) || " " || MAX(length(ops)) FROM trace_op_chunk')
check "WAL: 12 chunks committed" "${chunks% *}" 12
check "WAL: $wal bytes, under 6 chunks of ${chunks#* }" "$(( wal < 6 * ${chunks#* } ))" 1

# ---- killed after 5 of 16 chunks are committed -------------------------
HKSIM_TEST_STORE_TXN=1 HKSIM_TEST_STORE_KILL=5 "$H" replay "$T/big.hkt" \
  --db "$DB" --backend glibc --per-op none --no-cache --quiet >/dev/null 2>&1
check "killed store: died by SIGKILL" "$?" 137
check "killed store: integrity" "$(q "$DB" 'PRAGMA integrity_check')" ok
check "killed store: earlier runs intact" "$(q "$DB" "$RUNS")" "$before"
check "killed store: not in traces" "$(q "$DB" 'SELECT COUNT(*) FROM traces')" 1
check "killed store: its claim is left" \
  "$(q "$DB" 'SELECT stored FROM trace_store')" 327680
check "killed store: 5 chunks left, under no trace" \
  "$(q "$DB" 'SELECT COUNT(*) FROM trace_op_chunk WHERE trace_id NOT IN (SELECT trace_id FROM traces)')" 5
check "killed store: the trace_op view holds the small trace's ops only" \
  "$(sqlite3 -cmd ".load $HKSIM_BUILD/analysis/hksim_sqlite" "$DB" \
     'SELECT COUNT(*) = (SELECT SUM(ops) FROM traces) FROM trace_op')" 1
"$H" report --db "$DB" >"$T/out" 2>"$T/err"
check "killed store: report exits 0" "$?" 0
check "killed store: report names only the small trace" \
  "$(grep -c 'big.hkt' "$T/out")" 0
"$H" merge "$T/m.db" "$DB" >/dev/null 2>"$T/err"
check "killed store: merge exits 0" "$?" 0
check "killed store: merge takes the whole trace only" \
  "$(q "$T/m.db" 'SELECT COUNT(*) FROM traces; SELECT COUNT(*) FROM trace_store; SELECT COUNT(*) FROM trace_op_chunk WHERE trace_id NOT IN (SELECT trace_id FROM traces)' | tr '\n' ' ')" \
  "1 0 0 "

# ---- the next replay stores it whole -----------------------------------
"$H" replay "$T/big.hkt" --db "$DB" --backend glibc --per-op none --no-cache \
  --quiet >/dev/null 2>"$T/err"
check "next replay: exit 0" "$?" 0
check "next replay: no error" "$(cat "$T/err")" ""
check "next replay: two traces, no claim left" \
  "$(q "$DB" 'SELECT COUNT(*) FROM traces; SELECT COUNT(*) FROM trace_store' | tr '\n' ' ')" "2 0 "
check "next replay: every chunk under its trace" \
  "$(q "$DB" 'SELECT COUNT(*) FROM trace_op_chunk WHERE trace_id NOT IN (SELECT trace_id FROM traces)')" 0
check "next replay: 16 chunks holding every op" \
  "$(q "$DB" "SELECT COUNT(*) || ' ' || SUM(c.n) || ' ' || t.ops FROM trace_op_chunk c JOIN traces t USING (trace_id) WHERE t.name = 'big.hkt'")" \
  "16 1022000 1022000"
check "next replay: earlier runs intact" \
  "$(q "$DB" "$RUNS" | cut -c1-${#before})" "$before"
check "next replay: its run done" \
  "$(q "$DB" "SELECT status FROM runs r JOIN traces t USING (trace_id) WHERE t.name = 'big.hkt'")" done
# The same bytes as a store that never died, in one database of its own.
"$H" replay "$T/big.hkt" --db "$T/clean.db" --backend glibc --per-op none \
  --no-cache --quiet >/dev/null 2>&1 || bad "clean replay"
CH="SELECT group_concat(c.k0 || ':' || c.n || ':' || hex(sha3(c.ops)), ' ') FROM (SELECT * FROM trace_op_chunk ORDER BY k0) c JOIN traces t USING (trace_id) WHERE t.name = 'big.hkt'"
ST="SELECT group_concat(site || ':' || allocs || ':' || bytes, ' ') FROM (SELECT * FROM sites s JOIN traces t USING (trace_id) WHERE t.name = 'big.hkt' ORDER BY site)"
check "next replay: chunks as a store that never died" "$(q "$DB" "$CH")" "$(q "$T/clean.db" "$CH")"
check "next replay: sites as a store that never died" "$(q "$DB" "$ST")" "$(q "$T/clean.db" "$ST")"

# ---- three sessions, small transactions, one trace -----------------------
pids=""
for i in 1 2 3; do
  HKSIM_TEST_STORE_TXN=1 "$H" replay "$T/big.hkt" --db "$T/c.db" --backend glibc \
    --per-op none --no-cache --quiet >/dev/null 2>"$T/c$i.err" &
  pids="$pids $!"
done
st=0
for p in $pids; do wait "$p" || st=$((st + 1)); done
check "3 sessions: all exit 0" "$st" 0
check "3 sessions: no errors" "$(cat "$T"/c?.err)" ""
check "3 sessions: stored once, whole, no claim left" \
  "$(q "$T/c.db" 'SELECT COUNT(*) FROM traces; SELECT COUNT(*) || SUM(n) FROM trace_op_chunk; SELECT COUNT(*) FROM trace_store' | tr '\n' ' ')" \
  "1 161022000 0 "
check "3 sessions: 3 runs done" \
  "$(q "$T/c.db" "SELECT COUNT(*) FROM runs WHERE status = 'done'")" 3
check "3 sessions: chunks as one session's" "$(q "$T/c.db" "$CH")" "$(q "$T/clean.db" "$CH")"
hk_done
