#!/bin/sh
# timing_cli.sh: what hksim replay measures and stores per op (integration
# test): frees carry the freed block's size into trace_op, op_latency and
# size_class_latency; the span modes --per-op batch:K and --per-op
# iteration store one measurement per span in run_span and summarise them
# in runs; their bad uses are refused in one line.
. "$(dirname "$0")/../lib.sh"
H=${HKSIM_BUILD:?}/bin/hksim
hk_tmpdir timing
# trace_op and the views over it need hksim's SQLite module.
q() { sqlite3 -cmd ".load $HKSIM_BUILD/analysis/hksim_sqlite" "$1" "$2"; }

"$H" gen mixed -o "$T/mixed.hkt" --seed 3 >/dev/null || bad "gen mixed"

# ---- frees carry the freed block's size (issue 12 item 4) ----
"$H" replay "$T/mixed.hkt" --db "$T/a.db" --backend glibc --quiet >/dev/null 2>&1 ||
  bad "replay --per-op all"
check "no free of size 0" \
  "$(q "$T/a.db" "SELECT COUNT(*) FROM trace_op WHERE kind = 5 AND size = 0")" 0
check "each free has its block's size" "$(q "$T/a.db" "SELECT COUNT(*) FROM trace_op f
  WHERE f.kind = 5 AND f.size <> (SELECT a.size FROM trace_op a
  WHERE a.trace_id = f.trace_id AND a.slot = f.slot AND a.seq < f.seq
  ORDER BY a.seq DESC LIMIT 1)")" 0
# mixed frees everything it allocates: the free rows of size_class_latency
# are the malloc rows, class by class (8 classes, 16 B to 2 MiB)
check "free size classes" "$(q "$T/a.db" "SELECT COUNT(*) || ' ' ||
  group_concat(size_class || ':' || ops, ' ') FROM (SELECT size_class, ops
  FROM size_class_latency WHERE kind = 'free' ORDER BY class)")" \
  "8 16 B:16 32 B:250 64 B:490 128 B:1066 256 B:2178 64 KiB:1000 256 KiB:100 2 MiB:10"
check "frees split like mallocs" "$(q "$T/a.db" "SELECT COUNT(*) FROM
  size_class_latency f JOIN size_class_latency m ON m.run_id = f.run_id
  AND m.class = f.class AND m.kind = 'malloc' AND m.ops = f.ops
  WHERE f.kind = 'free'")" 8
check "op_latency free sizes" "$(q "$T/a.db" "SELECT SUM(size) FROM op_latency
  WHERE kind = 'free'")" "$(q "$T/a.db" "SELECT SUM(size) FROM op_latency
  WHERE kind = 'malloc'")"

# ---- --per-op batch:K and --per-op iteration (issue 12 items 1, 6) ----
MK=$HKSIM_BUILD/tests/traces/mktrace
"$MK" "$T/t1.hkt" m:16 m:32 m:48 m:64 m:80 m:96 f:0 f:1 f:2 f:3 f:4 f:5 || bad mktrace
"$MK" "$T/t2.hkt" loop:3:4096 || bad mktrace
# a realloc batch whose second realloc shrinks the block the first grew:
# the first one's deferred touch must be cut to the block's new size
"$MK" "$T/t3.hkt" m:100 r:0:8192 r:0:16 f:0 || bad mktrace
B="$T/b.db"
"$H" replay "$T/t1.hkt" "$T/t3.hkt" --db "$B" --backend glibc --per-op batch:4 \
  --touch full --quiet >/dev/null 2>&1 || bad "replay batch:4"
"$H" replay "$T/t2.hkt" "$T/t1.hkt" --db "$B" --backend glibc \
  --per-op iteration --quiet >/dev/null 2>&1 || bad "replay iteration"
spans() { q "$B" "SELECT r.status || ' ' || r.spans || ' ' || r.ops_timed || ' '
  || COALESCE((SELECT group_concat(seq || ':' || ops, ' ') FROM run_span s
  WHERE s.run_id = r.run_id), '-') FROM runs r WHERE r.run_id = $1"; }
# up to 4 ops of one kind a batch: 4 + 2 mallocs, 4 + 2 frees
check "batch spans" "$(spans 1)" "done 4 12 0:4 4:2 6:4 10:2"
check "realloc batch" "$(spans 2)" "done 3 4 0:1 1:2 3:1"
check "iterations" "$(spans 3)" "done 3 6 0:2 2:2 4:2"
# t1 frees nothing right after its allocation: no iteration to time
check "no iterations" "$(spans 4)" "done 0 0 -"
check "batch per_op" "$(q "$B" "SELECT per_op FROM runs WHERE run_id = 1")" "batch:4"
check "iteration per_op" "$(q "$B" "SELECT per_op FROM runs WHERE run_id = 3")" iteration
check "spans are not op latencies" "$(q "$B" "SELECT COUNT(*) FROM run_op_chunk")" 0
check "span_latency kinds" "$(q "$B" "SELECT group_concat(kind || '/' || ops, ' ')
  FROM span_latency WHERE run_id = 1")" "malloc/4 malloc/2 free/4 free/2"
check "percentiles over spans" "$(q "$B" "SELECT COUNT(*) FROM runs WHERE run_id IN
  (1, 2, 3) AND median_ns > 0 AND p99_ns >= median_ns")" 3
check "iteration median is a span's ns" "$(q "$B" "SELECT COUNT(*) FROM runs r
  WHERE run_id = 3 AND CAST(ROUND(median_ns) AS INTEGER) IN
  (SELECT ns FROM run_span WHERE run_id = 3)")" 1
# the same decisions whatever the timing mode
"$H" replay "$T/t1.hkt" --db "$B" --backend glibc --per-op all --quiet >/dev/null 2>&1
check "digest independent of the mode" "$(q "$B" "SELECT COUNT(DISTINCT digest)
  FROM runs r JOIN traces t USING (trace_id) WHERE t.name = 't1.hkt'")" 1
# --touch check keeps its checks inside the batch, and they pass
"$H" replay "$T/mixed.hkt" --db "$B" --backend glibc --per-op batch:8 \
  --touch check --quiet >/dev/null 2>&1 || bad "batch:8 --touch check"
check "batch covers every op" "$(q "$B" "SELECT ops_timed = ops AND
  (SELECT SUM(ops) FROM run_span s WHERE s.run_id = r.run_id) = ops AND
  (SELECT MAX(ops) FROM run_span s WHERE s.run_id = r.run_id) <= 8
  FROM runs r WHERE per_op = 'batch:8'")" 1
# the report says percentiles are over spans, and bounds batch figures by
# the timer's resolution over the ops per batch
"$H" report --db "$B" --no-sites > "$T/report.md" 2>/dev/null || bad "report"
grep -q 't1.hkt.*runs with --per-op .*percentiles over spans' "$T/report.md" ||
  bad "report caption: spans"
check "csv resolution bound of a batch run" "$("$H" report --db "$B" --format csv |
  awk -F, '$1 == "t2.hkt" { print ($13 != "") }')" 1

# ---- bad uses: one line, exit 2 ----
for v in batch:1 batch:x batch:65537 batch: iterations; do
  "$H" replay "$T/t1.hkt" --db "$T/x.db" --per-op "$v" >/dev/null 2>"$T/err"
  check "--per-op $v: exit" "$?" 2
  check "--per-op $v: one line" "$(grep -c "bad --per-op '$v'" "$T/err")" 1
done
"$H" replay "$T/t1.hkt" --db "$T/x.db" --per-op iteration --threads recorded \
  >/dev/null 2>"$T/err"
check "iteration with --threads recorded: exit" "$?" 2
check "iteration with --threads recorded: message" \
  "$(grep -c 'not with --threads recorded' "$T/err")" 1
[ -e "$T/x.db" ] && bad "a refused replay created its database"

hk_done
