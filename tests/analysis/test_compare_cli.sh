#!/bin/sh
# test_compare_cli.sh HKSIM: hksim compare end to end on a generated and
# replayed database: the printed comparison, and every refusal as exit 1
# (2 for usage) with one line on stderr naming what is wrong.
. "$(dirname "$0")/../lib.sh"
hksim=$1
hk_tmpdir compare-cli
tmp=$T

check_exit 2 "no --db" "$hksim" compare glibc mimalloc
one_line "--db DB is required"
check_exit 2 "one configuration" "$hksim" compare --db x.db glibc
one_line "want two configurations"
check_exit 2 "bad configuration" "$hksim" compare --db x.db glibc/ mimalloc
one_line "bad configuration 'glibc/'"
check_exit 2 "unknown option" "$hksim" compare --db x.db --bogus glibc mimalloc
check_exit 0 "help" "$hksim" compare --help
grep -q 'usage: hksim compare --db DB A B' "$tmp/out" || { echo "FAIL: help"; fails=$((fails + 1)); }
grep -q -- '--trace T' "$tmp/out" || { echo "FAIL: help lists --trace"; fails=$((fails + 1)); }
check_exit 1 "missing db" "$hksim" compare --db "$tmp/none.db" glibc mimalloc
one_line "none.db: No such file"

"$hksim" gen json -o "$tmp/j.hkt" --scale 2 >/dev/null || fails=$((fails + 1))
"$hksim" replay "$tmp/j.hkt" --db "$tmp/r3.db" --backend glibc,null,hakmem \
  --policy elo,static --repeat 3 --per-op none --touch none --quiet >/dev/null 2>&1 || {
  echo "FAIL: replay"; fails=$((fails + 1)); }
# null (an empty loop) against glibc. Which way the verdict goes is the
# machine's (a loaded machine can blur even this pair): the figures
# themselves are checked by test_analysis_compare; here the shape.
check_exit 0 "compare" "$hksim" compare --db "$tmp/r3.db" null glibc
grep -q '^j.hkt (4000 ops, touch/per-op none/none): null against glibc, 3 and 3 repeats' \
  "$tmp/out" || { echo "FAIL: heading"; cat "$tmp/out"; fails=$((fails + 1)); }
grep -q '^  null   ns/op [0-9.]* \[[-0-9.]*, [0-9.]*\]  sd [0-9.]*$' "$tmp/out" ||
  { echo "FAIL: side line"; cat "$tmp/out"; fails=$((fails + 1)); }
grep -q 'null / glibc = [0-9.]* \[[0-9.]*, [0-9.]*\] (ratio of geometric means, 95% CI)' \
  "$tmp/out" || { echo "FAIL: ratio"; cat "$tmp/out"; fails=$((fails + 1)); }
grep -q 'Welch t = .*permutation p = [0-9.e-]* (exact, 20 splits; smallest possible 0.1)' \
  "$tmp/out" || { echo "FAIL: tests"; cat "$tmp/out"; fails=$((fails + 1)); }
grep -q -e '=> null is faster than glibc' -e '=> null is slower than glibc' \
  -e '=> the data do not separate null and glibc' "$tmp/out" ||
  { echo "FAIL: verdict"; cat "$tmp/out"; fails=$((fails + 1)); }
grep -q 'no permutation test can reach 0.05' "$tmp/out" || { echo "FAIL: perm note"; fails=$((fails + 1)); }
# operands after the options, policies named
check_exit 0 "policies" "$hksim" compare hakmem/elo --db "$tmp/r3.db" hakmem/static --trace j.hkt
grep -q 'hakmem/elo / hakmem/static = ' "$tmp/out" || { echo "FAIL: policies"; cat "$tmp/out"; fails=$((fails + 1)); }
check_exit 1 "ambiguous policy" "$hksim" compare --db "$tmp/r3.db" hakmem glibc
one_line "hakmem was replayed under several policies (elo, static)"
check_exit 1 "unknown backend" "$hksim" compare --db "$tmp/r3.db" tcmalloc glibc
one_line "no runs of back end 'tcmalloc' in this database (back ends: glibc, hakmem, null)"
check_exit 1 "unknown policy" "$hksim" compare --db "$tmp/r3.db" hakmem/ucb1 glibc
one_line "no runs of 'hakmem/ucb1'"
check_exit 1 "policy on glibc" "$hksim" compare --db "$tmp/r3.db" glibc/elo null
one_line "glibc has no policy"
check_exit 1 "unknown trace" "$hksim" compare --db "$tmp/r3.db" glibc null --trace x.hkt
one_line "no trace 'x.hkt' in this database (traces: j.hkt)"

# two repeats: refused, one line, exit 1
"$hksim" replay "$tmp/j.hkt" --db "$tmp/r2.db" --backend glibc,null \
  --repeat 2 --per-op none --quiet >/dev/null 2>&1 || { echo "FAIL: replay 2"; fails=$((fails + 1)); }
check_exit 1 "two repeats" "$hksim" compare --db "$tmp/r2.db" glibc null
one_line "glibc has 2 done repeats on j.hkt; a comparison needs at least 3"
[ -s "$tmp/out" ] && { echo "FAIL: refused comparison printed"; cat "$tmp/out"; fails=$((fails + 1)); }
hk_done
