#!/bin/sh
# timing_cli.sh: what hksim replay measures and stores per op (integration
# test): frees carry the freed block's size into trace_op, op_latency and
# size_class_latency; the span modes --per-op batch:K and --per-op
# iteration store one measurement per span in run_span and summarise them
# in runs; their bad uses are refused in one line.
set -u
H=${HKSIM_BUILD:?}/bin/hksim
T=$(mktemp -d /tmp/hksim-timing-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok - $1"; }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi; }
q() { sqlite3 "$1" "$2"; }

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

echo "$fails failures"
[ "$fails" = 0 ]
