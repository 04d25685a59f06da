#!/usr/bin/env bash
# Integration test of `hksim trace` and `hksim gen`: exit codes (0 ok,
# 1 damaged input, 2 usage), one-line errors naming the file, the JSON keys of
# DESIGN.md, and the golden dump of a committed trace.
# Usage: test_trace_cli.sh HKSIM DATA_DIR
set -u
hksim="$1"; data="$2"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0; passes=0
ok()   { passes=$((passes + 1)); }
bad()  { echo "FAIL: $*"; fails=$((fails + 1)); }
# expect CODE CMD...: runs CMD, checks its exit code and that stderr is at
# most one line (and names the file when it fails).
expect() {
  local want="$1"; shift
  "$@" >"$tmp/out" 2>"$tmp/err"; local got=$?
  if [ "$got" != "$want" ]; then bad "exit $got, wanted $want: $*"; cat "$tmp/err"; return; fi
  local lines; lines=$(wc -l <"$tmp/err")
  if [ "$lines" -gt 1 ]; then bad "stderr has $lines lines: $*"; cat "$tmp/err"; return; fi
  if grep -qi 'segmentation\|abort\|sanitizer' "$tmp/err"; then bad "crash: $*"; return; fi
  ok
}

# Generate and inspect.
expect 0 "$hksim" gen json -o "$tmp/j.hkt"
expect 0 "$hksim" gen sites -o "$tmp/s.hkt" --seed 3 --scale 0.5
expect 0 "$hksim" trace verify "$tmp/s.hkt"
expect 0 "$hksim" trace info "$tmp/s.hkt"
expect 0 "$hksim" trace info "$tmp/s.hkt" --json
cp "$tmp/out" "$tmp/json-after"
# getopt_long: the flag before the file, and --help anywhere, alike.
expect 0 "$hksim" trace info --json "$tmp/s.hkt"
cmp -s "$tmp/out" "$tmp/json-after" && ok || bad "trace info --json FILE differs from FILE --json"
expect 2 "$hksim" trace dump --json "$tmp/s.hkt"
grep -q "unknown option '--json'" "$tmp/err" && ok || bad "dump --json: $(cat "$tmp/err")"
expect 0 "$hksim" trace info "$tmp/s.hkt" --help
grep -q '^usage: hksim trace' "$tmp/out" && ok || bad "trace info FILE --help"
cp "$tmp/json-after" "$tmp/out"
python3 - "$tmp/out" <<'PY' && ok || bad "info --json keys"
import json, sys
d = json.load(open(sys.argv[1]))
need = ["events", "counts", "threads", "sites", "unmatched_frees", "live_at_exit",
        "peak_live_bytes", "bytes_per_event"]
ops = ["malloc", "calloc", "realloc", "reallocarray", "free", "posix_memalign",
       "aligned_alloc", "memalign", "valloc", "pvalloc"]
missing = [k for k in need if k not in d] + [k for k in ops if k not in d["counts"]]
assert not missing, missing
assert d["events"] == sum(d["counts"].values()), "counts do not add up"
assert d["unmatched_frees"] == 0 and d["complete"] is True
assert d["reopened"] == 0 and d["end_signal"] == 0, (d["reopened"], d["end_signal"])
PY
expect 0 "$hksim" trace dump "$tmp/j.hkt"
[ "$(grep -c ' malloc ' "$tmp/out")" = 1000 ] && ok || bad "dump: 1000 malloc lines"

# Golden: committed traces of each format version and their expected dumps
# (a reader keeps reading every older version).
for v in 1 2 3 4 5; do
  expect 0 "$hksim" trace dump "$data/golden-v$v.hkt"
  if diff -u "$data/golden-v$v.dump" "$tmp/out" >"$tmp/diff"; then ok; else bad "golden v$v dump differs"; head -20 "$tmp/diff"; fi
done

# A sparse-stamp trace whose held events wait on each other (a dead end of
# prepare's order repair, test_prepare's test_sparse_dead_end): info says
# the double allocation is one (docs/recorder.md "Time"); the golden v5
# trace has none and says nothing.
expect 0 "$hksim" trace info "$data/sparse-dead-end.hkt"
grep -q '^pairing    0 unmatched frees, 1 double allocations (1 dead ends of the cross-thread order repair)$' "$tmp/out" && ok || bad "info: dead end: $(grep pairing "$tmp/out")"
expect 0 "$hksim" trace info "$data/sparse-dead-end.hkt" --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert (d["order_unresolved"], d["double_allocs"]) == (1, 1), d' "$tmp/out" && ok || bad "info --json: order_unresolved"
expect 0 "$hksim" trace info "$data/golden-v5.hkt"
grep -q '^pairing .*allocations$' "$tmp/out" && ok || bad "info: golden v5 names a dead end"

# compact: a new file with the same events (golden traces of every
# version, recoded to the current one); refuses an existing OUT, a
# damaged or cut IN (removing nothing, creating nothing) and a missing OUT.
for v in 1 4 5; do
  expect 0 "$hksim" trace compact "$data/golden-v$v.hkt" "$tmp/c$v.hkt"
  "$hksim" trace dump "$data/golden-v$v.hkt" | grep '^t=' | sort -s -k2,2 >"$tmp/a"
  "$hksim" trace dump "$tmp/c$v.hkt" | grep '^t=' | sort -s -k2,2 >"$tmp/b"
  [ -s "$tmp/a" ] && cmp -s "$tmp/a" "$tmp/b" && ok || bad "compact v$v: events differ"
  expect 0 "$hksim" trace verify "$tmp/c$v.hkt"
done
"$hksim" trace dump "$tmp/c1.hkt" | head -1 | grep -q 'format version 5' && ok || bad "compact: not version 5"
expect 1 "$hksim" trace compact "$data/golden-v4.hkt" "$tmp/c4.hkt"
grep -q "c4.hkt.*exists" "$tmp/err" && ok || bad "compact: names the existing OUT"
expect 2 "$hksim" trace compact "$data/golden-v4.hkt"

# Damaged input: exit 1, one line naming the file, never a crash.
size=$(stat -c %s "$tmp/s.hkt")
head -c $((size / 2)) "$tmp/s.hkt" >"$tmp/cut.hkt"
expect 1 "$hksim" trace verify "$tmp/cut.hkt"
grep -q "cut.hkt" "$tmp/err" && grep -q "offset" "$tmp/err" && ok || bad "verify names file and offset"
expect 1 "$hksim" trace info "$tmp/cut.hkt"
expect 1 "$hksim" trace dump "$tmp/cut.hkt"
expect 1 "$hksim" trace compact "$tmp/cut.hkt" "$tmp/cutc.hkt"
grep -q "cut.hkt" "$tmp/err" && [ ! -e "$tmp/cutc.hkt" ] && ok || bad "compact of a cut trace: names it, writes nothing"
head -c 100000 /dev/urandom >"$tmp/rand.hkt"
expect 1 "$hksim" trace verify "$tmp/rand.hkt"
expect 1 "$hksim" trace info "$tmp/rand.hkt" --json
: >"$tmp/empty.hkt"
expect 1 "$hksim" trace verify "$tmp/empty.hkt"
expect 1 "$hksim" trace info "$tmp/missing.hkt"
grep -q "missing.hkt" "$tmp/err" && ok || bad "missing file named"
# A flipped byte in the middle: detected, not decoded as nonsense.
cp "$tmp/s.hkt" "$tmp/flip.hkt"
printf '\xff' | dd of="$tmp/flip.hkt" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect 1 "$hksim" trace verify "$tmp/flip.hkt"
# A newer format version: refused, naming both versions.
cp "$tmp/j.hkt" "$tmp/new.hkt"
printf '\x07\x00\x00\x00' | dd of="$tmp/new.hkt" bs=1 seek=8 conv=notrunc 2>/dev/null
expect 1 "$hksim" trace info "$tmp/new.hkt"
grep -q "version 7" "$tmp/err" && grep -q "up to 5" "$tmp/err" && ok || bad "newer version message: $(cat "$tmp/err")"

# The fuzzers' seed traces stay valid for this reader (a seed the reader
# refuses would only fuzz the refusal): every fuzz_replay seed verifies.
seeds=0
for f in "$data/../fuzz/corpus/fuzz_replay/"*; do
  seeds=$((seeds + 1)); expect 0 "$hksim" trace verify "$f"
done
[ "$seeds" -ge 10 ] && ok || bad "only $seeds fuzz_replay seeds found"

# Usage errors: exit 2.
expect 2 "$hksim"
expect 2 "$hksim" nosuchcommand
expect 2 "$hksim" trace
expect 2 "$hksim" trace frobnicate "$tmp/j.hkt"
expect 2 "$hksim" trace info
expect 2 "$hksim" trace info "$tmp/j.hkt" --bogus
expect 2 "$hksim" gen nosuchscenario -o "$tmp/x.hkt"
expect 2 "$hksim" gen json
expect 2 "$hksim" gen json -o "$tmp/x.hkt" --scale -1
expect 2 "$hksim" gen json -o "$tmp/x.hkt" --seed abc
expect 1 "$hksim" gen json -o /nonexistent-dir/x.hkt
expect 0 "$hksim" trace --help
expect 0 "$hksim" gen --help
expect 0 "$hksim" --help

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
