#!/bin/sh
# replay_cli.sh: hksim replay end to end (integration test). Generates
# traces, replays them into one database, and checks the command-line and
# results contracts: determinism through stored digests, every run_summary
# column, exit codes 1 (garbage trace, unwritable or newer database) and 2
# (unknown back end or policy) with the database intact after each, and a
# back end crashing mid-run (HKSIM_TEST_CRASH_AFTER) failing only its run.
. "$(dirname "$0")/../lib.sh"
H=${HKSIM_BUILD:?}/bin/hksim
hk_tmpdir replay
export GLIBC_TUNABLES=glibc.rtld.optional_static_tls=65536
# The view trace_op (and op_latency over it) needs hksim's SQLite module.
q() { sqlite3 -cmd ".load $HKSIM_BUILD/analysis/hksim_sqlite" "$T/r.db" "$1"; }
intact() {
  check "$1: integrity_check" "$(q 'PRAGMA integrity_check')" ok
  check "$1: earlier runs still there" "$(q "SELECT COUNT(*) FROM runs WHERE status='done'")" "$DONE"
}

"$H" gen mixed -o "$T/mixed.hkt" --seed 3 >/dev/null || bad "gen mixed"
"$H" gen threads -o "$T/threads.hkt" --seed 3 >/dev/null || bad "gen threads"
# mimalloc is dlopen()ed with RTLD_DEEPBIND, which sanitizer builds refuse:
# there it is reported unavailable, and glibc stands in for it below.
M=mimalloc
"$H" replay "$T/mixed.hkt" --db "$T/probe.db" --backend mimalloc --quiet >/dev/null 2>&1 || M=glibc

# Two identical hakmem replays and one with another policy, plus glibc twice.
"$H" replay "$T/mixed.hkt" --db "$T/r.db" --backend hakmem,glibc \
  --policy static,ucb1 --repeat 2 --quiet >"$T/out" 2>"$T/err"
check "replay exit" "$?" 0
check "runs done" "$(q "SELECT COUNT(*) FROM runs WHERE status='done'")" 6
check "same digest twice (hakmem/static)" \
  "$(q "SELECT COUNT(DISTINCT digest) FROM runs WHERE backend='hakmem' AND policy='static'")" 1
check "same digest twice (glibc)" \
  "$(q "SELECT COUNT(DISTINCT digest) FROM runs WHERE backend='glibc'")" 1
check "same counts twice (hakmem/static)" \
  "$(q "SELECT COUNT(DISTINCT ops || '/' || cache_hits || '/' || cache_misses || '/' || peak_live_bytes) FROM runs WHERE backend='hakmem' AND policy='static'")" 1
check "another policy changes the digest" \
  "$(q "SELECT COUNT(DISTINCT digest) FROM runs WHERE backend='hakmem'")" 2
check "one trace stored once" "$(q 'SELECT COUNT(*) FROM traces')" 1
check "op_latency rows = timed ops" \
  "$(q 'SELECT (SELECT COUNT(*) FROM op_latency) = (SELECT SUM(ops_timed) FROM runs)')" 1
check "policies only on hakmem" "$(q "SELECT COUNT(*) FROM runs WHERE backend='glibc' AND policy IS NOT NULL")" 0
for c in run_id trace backend policy seed status ops median_ns p95_ns p99_ns \
  total_ns mmap_calls munmap_calls madvise_calls page_faults peak_rss_bytes \
  cache_hits cache_misses hit_rate digest; do
  n=$(q "SELECT COUNT(*) FROM pragma_table_info('run_summary') WHERE name='$c'")
  [ "$n" = 1 ] || bad "run_summary has no column $c"
done
ok "run_summary columns checked"
check "hakmem runs have a hit rate or none, never a NULL cache count" \
  "$(q "SELECT COUNT(*) FROM run_summary WHERE backend='hakmem' AND cache_hits IS NULL")" 0
check "total_ns positive" "$(q "SELECT COUNT(*) FROM runs WHERE total_ns <= 0")" 0

# Appending: a second trace and the multi-thread path, sampled latencies.
"$H" replay "$T/threads.hkt" "$T/mixed.hkt" --db "$T/r.db" --backend $M,null \
  --per-op sample:10 --touch check --quiet >/dev/null 2>"$T/err"
check "append exit" "$?" 0
check "two traces" "$(q 'SELECT COUNT(*) FROM traces')" 2
check "sampled rows" "$(q "SELECT COUNT(*) FROM run_op o JOIN runs r USING(run_id) WHERE r.per_op='sample:10' AND o.seq % 10 != 0")" 0
DONE=$(q "SELECT COUNT(*) FROM runs WHERE status='done'")

# Garbage trace: exit 1, one line naming the file, database intact.
head -c 5000 /dev/urandom >"$T/garbage.hkt"
"$H" replay "$T/garbage.hkt" --db "$T/r.db" --backend glibc --quiet >/dev/null 2>"$T/err"
check "garbage trace exit" "$?" 1
grep -q "garbage.hkt" "$T/err" && ok "error names the file" || bad "error names the file: $(cat "$T/err")"
check "garbage trace: one line" "$(wc -l <"$T/err")" 1
intact "garbage trace"

# Unknown back end or policy: exit 2, nothing written.
before=$(q 'SELECT COUNT(*) FROM runs')
"$H" replay "$T/mixed.hkt" --db "$T/r.db" --backend glibc,nosuch --quiet >/dev/null 2>"$T/err"
check "unknown back end exit" "$?" 2
"$H" replay "$T/mixed.hkt" --db "$T/r.db" --backend hakmem --policy nosuch --quiet >/dev/null 2>"$T/err"
check "unknown policy exit" "$?" 2
"$H" replay "$T/mixed.hkt" --db "$T/new.db" --backend nosuch --quiet >/dev/null 2>&1
[ -e "$T/new.db" ] && bad "usage error created a database" || ok "usage error writes nothing"
check "no run added" "$(q 'SELECT COUNT(*) FROM runs')" "$before"
intact "unknown names"

# Unwritable database paths: exit 1.
"$H" replay "$T/mixed.hkt" --db /dev/null/x.db --backend glibc --quiet >/dev/null 2>"$T/err"
check "unwritable db exit" "$?" 1
"$H" replay "$T/mixed.hkt" --db "$T" --backend glibc --quiet >/dev/null 2>"$T/err"
check "directory as db exit" "$?" 1
intact "unwritable db"

# An older database (schema version 1) is refused and left as it was.
sqlite3 "$T/older.db" "CREATE TABLE traces(x); CREATE TABLE runs(y); PRAGMA user_version = 1"
"$H" replay "$T/mixed.hkt" --db "$T/older.db" --backend glibc --quiet >/dev/null 2>"$T/err"
check "older database: exit 1" "$?" 1
grep -q "version 1 is older than this program's 4" "$T/err" && ok "older database named" || bad "older database named: $(cat "$T/err")"
check "older database untouched" "$(sqlite3 "$T/older.db" "SELECT COUNT(*) FROM sqlite_schema")" 2

# A newer database is refused, naming both versions.
cp "$T/r.db" "$T/newer.db"
sqlite3 "$T/newer.db" "PRAGMA user_version = 99"
"$H" replay "$T/mixed.hkt" --db "$T/newer.db" --backend glibc --quiet >/dev/null 2>"$T/err"
check "newer schema exit" "$?" 1
grep -q "99" "$T/err" && grep -q "newer" "$T/err" && ok "names the versions" || bad "names the versions: $(cat "$T/err")"

# A back end crashing mid-run: that run failed with the reason, the next
# runs done.
HKSIM_TEST_CRASH_AFTER=50 HKSIM_TEST_CRASH_BACKEND=null \
  "$H" replay "$T/mixed.hkt" --db "$T/r.db" --backend glibc,null,$M --quiet >/dev/null 2>"$T/err"
check "crash exit" "$?" 1
last=$(q "SELECT backend || ':' || status FROM runs WHERE run_id > (SELECT MAX(run_id) - 3 FROM runs) ORDER BY run_id" | tr '\n' ' ')
check "crash: failed run between done runs" "$last" "glibc:done null:failed $M:done "
q "SELECT error FROM runs WHERE backend='null' AND status='failed'" | grep -q "signal 11" \
  && ok "crash reason stored" || bad "crash reason stored"
check "failed run has no latency rows" \
  "$(q "SELECT COUNT(*) FROM run_op WHERE run_id IN (SELECT run_id FROM runs WHERE status='failed')")" 0
DONE=$((DONE + 2))
intact "crash"

# A back end that is not installed is reported, not skipped: under a
# sanitizer build jemalloc cannot load; otherwise it must run.
"$H" replay "$T/mixed.hkt" --db "$T/r.db" --backend jemalloc,tcmalloc --quiet >/dev/null 2>"$T/err"
rc=$?
check "jemalloc/tcmalloc stored" "$(q "SELECT COUNT(*) FROM runs WHERE backend IN ('jemalloc','tcmalloc')")" 2
if [ $rc -ne 0 ]; then
  q "SELECT error FROM runs WHERE status='failed' AND backend IN ('jemalloc','tcmalloc')" | grep -q "not available" \
    && ok "unavailable back end says so" || bad "unavailable back end says so"
fi

# Per-site BigCache outcomes (run_site) add up to the run's totals, and the
# hit-rate timeline is filled, for hakmem on a many-sites trace.
"$H" gen sites -o "$T/sites.hkt" --seed 2 --scale 0.3 >/dev/null
"$H" replay "$T/sites.hkt" --db "$T/s.db" --backend hakmem --policy static --quiet >/dev/null 2>&1
check "run_site sums = run totals" "$(sqlite3 "$T/s.db" "SELECT (SELECT SUM(cache_hits) || '/' || SUM(cache_misses) FROM run_site) = (SELECT cache_hits || '/' || cache_misses FROM runs)")" 1
check "run_site has hits" "$(sqlite3 "$T/s.db" "SELECT SUM(cache_hits) > 0 FROM run_site")" 1
check "hit_rate_timeline filled, ends at the last op" "$(sqlite3 "$T/s.db" "SELECT COUNT(*) > 2 AND MAX(op_seq) = (SELECT ops FROM runs) FROM hit_rate_timeline")" 1

# A recorded failed allocation (the golden trace has one) is skipped, not
# taken for a malformed program.
"$H" replay "${HKSIM_TEST_DATA:?}/golden-v1.hkt" --db "$T/g.db" --backend hakmem,glibc --quiet >/dev/null 2>"$T/err"
check "trace with a failed allocation replays" "$?" 0
check "its runs are done" "$(sqlite3 "$T/g.db" "SELECT group_concat(status) FROM runs")" "done,done"

# The prepared-program cache: a second replay maps the cached program (same
# digest), a damaged cache file is rebuilt, --no-cache writes none.
C="$T/cache"
"$H" replay "$T/mixed.hkt" --db "$T/c.db" --backend hakmem --cache-dir "$C" --quiet >/dev/null 2>&1
check "cache: one program kept" "$(ls "$C" | grep -c '\.hkp$')" 1
"$H" replay "$T/mixed.hkt" --db "$T/c.db" --backend hakmem --cache-dir "$C" --quiet >/dev/null 2>&1
check "cache: reused, same digest" "$(sqlite3 "$T/c.db" "SELECT COUNT(DISTINCT digest) || '/' || COUNT(*) FROM runs WHERE status='done'")" "1/2"
for f in "$C"/*.hkp; do head -c 1000 "$f" >"$f.cut" && mv "$f.cut" "$f"; done
"$H" replay "$T/mixed.hkt" --db "$T/c.db" --backend hakmem --cache-dir "$C" --quiet >/dev/null 2>&1
check "cache: damaged program rebuilt" "$(sqlite3 "$T/c.db" "SELECT COUNT(DISTINCT digest) || '/' || COUNT(*) FROM runs WHERE status='done'")" "1/3"
check "cache: rebuilt file is whole" "$(find "$C" -name '*.hkp' -size +100k | wc -l)" 1
rm -rf "$C"
"$H" replay "$T/mixed.hkt" --db "$T/c.db" --backend hakmem --cache-dir "$C" --no-cache --quiet >/dev/null 2>&1
check "--no-cache keeps nothing" "$(ls "$C" 2>/dev/null | wc -l)" 0

# Honest measurement (issue 12). Repeats interleave: with --repeat 2 over
# two configurations, each repeat runs both before the next begins; a
# second invocation numbers its repeats on from the first's (issue 17).
"$H" replay "$T/mixed.hkt" --db "$T/i.db" --backend glibc,hakmem --repeat 2 \
  --per-op none --quiet >/dev/null 2>&1
iq() { sqlite3 "$T/i.db" "$1"; }
check "interleaved: repeat 0 first for both" \
  "$(iq "SELECT group_concat(repeat, '') FROM (SELECT repeat FROM runs ORDER BY run_id)")" "0011"
check "interleaved: both configurations in each repeat" \
  "$(iq "SELECT COUNT(DISTINCT backend) FROM runs WHERE run_id <= 2")" 2
"$H" replay "$T/mixed.hkt" --db "$T/i.db" --backend glibc --repeat 2 \
  --per-op none --quiet >/dev/null 2>&1
check "repeats continue across invocations" \
  "$(iq "SELECT group_concat(repeat) FROM (SELECT repeat FROM runs WHERE backend='glibc' ORDER BY run_id)")" "0,1,2,3"
"$H" replay "$T/mixed.hkt" --db "$T/i.db" --backend glibc --seed 9 \
  --per-op none --quiet >/dev/null 2>&1
check "another seed is another configuration" \
  "$(iq "SELECT repeat FROM runs WHERE seed = 9")" 0
# The timer's resolution (least positive step between reads), the load and
# CPU count are stored with each run.
check "timer resolution stored, below 1 us" \
  "$(iq "SELECT COUNT(*) FROM run_summary WHERE timer_resolution_ns > 0 AND timer_resolution_ns < 1000")" 7
check "load and CPUs stored" \
  "$(iq "SELECT COUNT(*) FROM run_summary WHERE load_avg >= 0 AND cpus >= 1")" 7
iq "SELECT timer_method FROM runs LIMIT 1" | grep -q "resolution [0-9]* ticks" \
  && ok "timer_method names the resolution" || bad "timer_method names the resolution"
check "config_summary has a CI over 4 repeats" \
  "$(iq "SELECT total_ns_ci_lo <= total_ns_mean AND total_ns_mean <= total_ns_ci_hi FROM config_summary WHERE backend='glibc'")" 1
# 'all' leaves the null back end out; --help says what null is.
"$H" replay --help | grep -q "measures the harness" && ok "help describes null" || bad "help describes null"
"$H" gen mixed -o "$T/tiny.hkt" --seed 1 --scale 0.05 >/dev/null
"$H" replay "$T/tiny.hkt" --db "$T/all.db" --backend all --per-op none --quiet >/dev/null 2>&1
check "'all' has no null" "$(sqlite3 "$T/all.db" "SELECT COUNT(*) FROM runs WHERE backend='null'")" 0
check "'all' has glibc" "$(sqlite3 "$T/all.db" "SELECT COUNT(*) FROM runs WHERE backend='glibc'")" 1
# Net memory: 1 M ops of json (one live 64 KiB block) map a 32 MB program;
# the allocator's peak RSS leaves it out.
"$H" gen json -o "$T/json.hkt" --scale 500 >/dev/null
"$H" replay "$T/json.hkt" --db "$T/m.db" --backend glibc,$M --per-op none \
  --no-cache --quiet >/dev/null 2>&1
check "net peak RSS under 16 MiB (json 1 M ops)" \
  "$(sqlite3 "$T/m.db" "SELECT COUNT(*) FROM runs WHERE status='done' AND peak_rss_bytes < 16777216")" 2
check "gross peak RSS holds the harness" \
  "$(sqlite3 "$T/m.db" "SELECT COUNT(*) FROM runs WHERE peak_rss_gross_bytes > 32000000")" 2

# Per-thread rows (run_thread): serial and threaded replay of the 4-thread
# trace give one row per recorded thread with the same per-thread digests;
# edges/blocked/wall_ns only for the threaded run.
for m in serial recorded; do
  "$H" replay "$T/threads.hkt" --db "$T/th.db" --backend glibc --threads $m \
    --per-op none --quiet >/dev/null 2>&1 || bad "replay --threads $m"
done
tq() { sqlite3 "$T/th.db" "$1"; }
check "run_thread: 4 rows a run" \
  "$(tq "SELECT COUNT(*) FROM run_thread GROUP BY run_id" | sort -u)" 4
check "run_thread: per-thread digests equal serial/threaded" \
  "$(tq "SELECT COUNT(DISTINCT digest) FROM run_thread GROUP BY thread" | sort -u)" 1
check "run_thread: four distinct digests" \
  "$(tq "SELECT COUNT(DISTINCT digest) FROM run_thread")" 4
check "run_thread: ops add up to the run's" \
  "$(tq "SELECT COUNT(*) FROM runs r WHERE ops = (SELECT SUM(ops) FROM run_thread t WHERE t.run_id = r.run_id)")" 2
check "run_thread: edges only threaded" \
  "$(tq "SELECT r.replay_threads, SUM(t.edges > 0), COUNT(t.wall_ns) FROM run_thread t JOIN runs r USING (run_id) GROUP BY r.run_id ORDER BY 1" | tr '\n' ' ')" \
  "1||0 4|4|4 "

# --threads auto, the default: a multi-thread trace replays threaded on the
# back ends that take calls from several threads (glibc: 4 threads), serially
# on hakmem and null; a one-thread trace serially; with --per-op iteration
# serially without a word (an explicit --threads recorded is refused, in
# timing_cli.sh). Each run line says how it replayed, as stored, and the
# report names the back ends replayed threaded.
"$H" replay "$T/threads.hkt" "$T/mixed.hkt" --db "$T/auto.db" --backend glibc,hakmem,null \
  --per-op none >"$T/aout" 2>"$T/aerr"
check "auto: exit" "$?" 0
aq() { sqlite3 "$T/auto.db" "$1"; }
check "auto: replay_threads per trace and back end" \
  "$(aq "SELECT group_concat(t.name || ':' || r.backend || '=' || r.replay_threads, ' ') FROM (SELECT * FROM runs ORDER BY backend) r JOIN traces t USING (trace_id) WHERE r.status = 'done' GROUP BY t.name ORDER BY t.name" | tr '\n' ' ')" \
  "mixed.hkt:glibc=1 mixed.hkt:hakmem=1 mixed.hkt:null=1 threads.hkt:glibc=4 threads.hkt:hakmem=1 threads.hkt:null=1 "
check "auto: the threaded run has its waits in run_thread" \
  "$(aq "SELECT COUNT(t.wall_ns) FROM run_thread t JOIN runs r USING (run_id) WHERE r.backend = 'glibc' AND r.replay_threads = 4")" 4
check "auto: run lines say threads 4 once, serial five times" \
  "$(grep -c '^run .* digest [0-9a-f]*  threads 4$' "$T/aout") $(grep -c '^run .* digest [0-9a-f]*  serial$' "$T/aout")" "1 5"
check "auto: the threaded glibc run's line" \
  "$(grep -c '^run .*threads\.hkt *glibc .* threads 4$' "$T/aout")" 1
check "auto: threaded digest = serial digest" \
  "$(sqlite3 "$T/th.db" "SELECT digest FROM runs WHERE replay_threads = 1")" \
  "$(aq "SELECT r.digest FROM runs r JOIN traces t USING (trace_id) WHERE t.name = 'threads.hkt' AND r.backend = 'glibc'")"
"$H" report --db "$T/auto.db" --no-sites >"$T/areport" 2>/dev/null || bad "auto: report"
check "auto: report names the threaded back end of threads.hkt" \
  "$(grep -c '^### threads\.hkt .*; threaded replay (4 threads): glibc$' "$T/areport")" 1
check "auto: report says nothing of threads for mixed.hkt" \
  "$(grep '^### mixed\.hkt' "$T/areport" | grep -c 'threaded')" 0
"$H" replay "$T/threads.hkt" --db "$T/auto.db" --backend glibc --threads serial \
  --per-op none --quiet >/dev/null 2>&1 || bad "auto: --threads serial"
"$H" report --db "$T/auto.db" --no-sites >"$T/areport" 2>/dev/null || bad "auto: report 2"
check "auto: report says when serial and threaded runs share a row" \
  "$(grep -c '^### threads\.hkt .*: glibc (with serial runs in the same rows)$' "$T/areport")" 1
"$H" replay "$T/threads.hkt" --db "$T/auto2.db" --backend glibc --per-op iteration \
  --quiet >/dev/null 2>"$T/aerr"
check "auto + --per-op iteration: exit" "$?" 0
check "auto + --per-op iteration: serial, silently" \
  "$(sqlite3 "$T/auto2.db" "SELECT replay_threads FROM runs WHERE status = 'done'") $(wc -c <"$T/aerr")" "1 0"
"$H" replay "$T/threads.hkt" --db "$T/auto2.db" --backend glibc --threads recorded \
  --per-op batch:8 --quiet >/dev/null 2>"$T/aerr"
check "--threads recorded --per-op batch:8: exit" "$?" 2
check "--threads recorded --per-op batch:8: one line" \
  "$(grep -c 'batch:K .*not with --threads recorded' "$T/aerr") $(wc -l <"$T/aerr")" "1 1"
"$H" replay "$T/threads.hkt" --db "$T/auto3.db" --threads parallel >/dev/null 2>"$T/aerr"
check "--threads parallel: exit" "$?" 2
check "--threads parallel: message" "$(grep -c "bad --threads 'parallel' (auto, serial or recorded)" "$T/aerr")" 1
check "--threads parallel: nothing written" "$(test -e "$T/auto3.db" && echo yes || echo no)" no

# --gaps: a bad argument is a usage error naming it, nothing written.
"$H" replay "$T/threads.hkt" --db "$T/gaps.db" --gaps 12X >/dev/null 2>"$T/gerr"
check "--gaps 12X exit" "$?" 2
check "--gaps 12X message" "$(grep -c "bad --gaps '12X'" "$T/gerr")" 1
check "--gaps 12X wrote nothing" "$(test -e "$T/gaps.db" && echo yes || echo no)" no
"$H" replay "$T/threads.hkt" --db "$T/gaps.db" --backend glibc --gaps 64K:0.5 \
  --per-op none --quiet >/dev/null 2>&1
check "--gaps 64K:0.5 run done" \
  "$(sqlite3 "$T/gaps.db" "SELECT status, options LIKE '%--gaps 64K:0.5%' FROM runs")" "done|1"

# A median below 3 timer steps prints as the bound "< X ns" (X: 3 times the
# stored resolution, rounded up, as hksim report), never as a figure; one
# at or above it prints as measured. Either way the line must match the
# stored values, so the check holds whichever the machine gives.
"$H" replay "$T/mixed.hkt" --db "$T/bound.db" --backend glibc,null --quiet >"$T/bout" 2>/dev/null
check "bound replay exit" "$?" 0
for row in $(sqlite3 "$T/bound.db" "SELECT run_id || ':' || (median_ns < 3 * timer_resolution_ns) || ':' ||
    CAST(3 * timer_resolution_ns + 0.999 AS INTEGER) || ':' || printf('%.1f', median_ns) FROM run_summary"); do
  id=${row%%:*}; rest=${row#*:}; below=${rest%%:*}; rest=${rest#*:}; b=${rest%%:*}; med=${rest#*:}
  line=$(grep "^run $id " "$T/bout")
  if [ "$below" = 1 ]; then want="median *< $b ns"; else want="median *$med ns"; fi
  echo "$line" | grep -q "$want" && ok "run $id median printed as '$want'" || bad "run $id: '$line' lacks '$want'"
done
check "bound: two run lines" "$(grep -c '^run ' "$T/bout")" 2

# A database an older build wrote keeps that build's views under CREATE
# VIEW IF NOT EXISTS: the next replay into it replaces them with this
# build's, and leaves a view of the user's own alone.
sqlite3 "$T/bound.db" "DROP VIEW run_summary; CREATE VIEW run_summary AS SELECT 1 AS stale;
  CREATE VIEW my_view AS SELECT run_id FROM runs" || bad "making a stale view"
"$H" replay "$T/mixed.hkt" --db "$T/bound.db" --backend null --quiet >/dev/null 2>&1
check "stale view: replay exit" "$?" 0
check "stale view replaced: run_summary has a row per run" \
  "$(sqlite3 "$T/bound.db" "SELECT (SELECT COUNT(*) FROM run_summary) = (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM runs)")" "1|3"
check "the user's own view kept" "$(sqlite3 "$T/bound.db" "SELECT COUNT(*) FROM my_view")" 3

# traces.order_unresolved: the dead ends of the sparse-stamp order repair
# (sparse-dead-end.hkt has one). A database made before the column gets
# it when a replay opens it, NULL for the rows stored before, and merges
# either way.
"$H" replay "$HKSIM_TEST_DATA/sparse-dead-end.hkt" --db "$T/ou.db" --backend null --quiet >/dev/null 2>&1
check "order_unresolved: replay exit" "$?" 0
check "order_unresolved stored" \
  "$(sqlite3 "$T/ou.db" "SELECT order_unresolved || '/' || (order_fixups >= 1) FROM traces")" "1/1"
# The schema as it was before the column (its lines taken out of
# schema.sql), with one trace row of its own.
sed -e '/^  order_unresolved/,/database made before it/d' \
  -e 's/^\(  env  *TEXT\),/\1/' "$(dirname "$0")/../../analysis/schema.sql" > "$T/old.sql"
sqlite3 "$T/old.db" < "$T/old.sql" || bad "making an older database"
sqlite3 "$T/old.db" "INSERT INTO traces(content_hash, name, path, added_at)
  VALUES ('00000000000000aa', 'old.hkt', 'old.hkt', '2026-11-01 00:00:00')" || bad "an older row"
check "older database: no order_unresolved column" \
  "$(sqlite3 "$T/old.db" "SELECT COUNT(*) FROM pragma_table_info('traces') WHERE name = 'order_unresolved'")" 0
cp "$T/old.db" "$T/old-src.db"
"$H" replay "$HKSIM_TEST_DATA/sparse-dead-end.hkt" --db "$T/old.db" --backend null --quiet >/dev/null 2>&1
check "order_unresolved: replay into an older database, exit" "$?" 0
check "order_unresolved: added to the older database, NULL before" \
  "$(sqlite3 "$T/old.db" "SELECT group_concat(COALESCE(order_unresolved, 'null'), ',') FROM (SELECT order_unresolved FROM traces ORDER BY trace_id)")" "null,1"
"$H" merge "$T/merged.db" "$T/old-src.db" "$T/ou.db" --quiet >/dev/null 2>&1
check "order_unresolved: merge of an older and a newer database, exit" "$?" 0
check "order_unresolved: merged" \
  "$(sqlite3 "$T/merged.db" "SELECT group_concat(COALESCE(order_unresolved, 'null'), ',') FROM (SELECT order_unresolved FROM traces ORDER BY trace_id)")" "null,1"

# The options are parsed by getopt_long: --opt=value, options before or
# after the traces, "--" ending the options, one line for an unknown
# option or a missing value, exit 2 and nothing written.
"$H" replay --db="$T/opt.db" --quiet --backend=null "$T/mixed.hkt" >/dev/null 2>&1
check "getopt: --db=DB, options first, exit" "$?" 0
"$H" replay "$T/mixed.hkt" --db "$T/opt.db" -q --backend null -- "$T/threads.hkt" >/dev/null 2>&1
check "getopt: traces on both sides of the options and after --, exit" "$?" 0
check "getopt: two traces, three runs" \
  "$(sqlite3 "$T/opt.db" "SELECT COUNT(DISTINCT trace_id) || '/' || COUNT(*) FROM runs WHERE status='done'")" "2/3"
"$H" replay "$T/mixed.hkt" --db "$T/opt.db" --bogus >/dev/null 2>"$T/err"
check "getopt: unknown option exit" "$?" 2
check "getopt: unknown option named" "$(grep -c "unknown option '--bogus'" "$T/err")" 1
"$H" replay "$T/mixed.hkt" --db "$T/opt.db" --backend >/dev/null 2>"$T/err"
check "getopt: missing value exit" "$?" 2
check "getopt: missing value named" "$(grep -c -- "--backend needs a value" "$T/err")" 1
check "getopt: refused calls wrote nothing" \
  "$(sqlite3 "$T/opt.db" "SELECT COUNT(*) FROM runs")" 3

hk_done
