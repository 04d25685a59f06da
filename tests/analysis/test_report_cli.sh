#!/bin/sh
# test_report_cli.sh HKSIM SRCDIR: hksim report / symbolize end to end:
# exit codes and one-line errors, a real generated + replayed database in
# every format, plots with and without gnuplot, and the paper queries
# through the plain sqlite3 shell.
. "$(dirname "$0")/../lib.sh"
hksim=$1
src=$2
hk_tmpdir report-cli
tmp=$T

check_exit 2 "no --db" "$hksim" report
check_exit 2 "bad format" "$hksim" report --db x.db --format html
one_line "bad --format"
check_exit 2 "stray argument" "$hksim" report --db x.db extra
check_exit 2 "--plot-backend without --out" "$hksim" report --db x.db --plot-backend glibc
one_line "plot-backend goes with --out"
check_exit 2 "empty --plot-backend" "$hksim" report --db x.db --out d --plot-backend ,
one_line "bad --plot-backend ','"
check_exit 1 "missing db" "$hksim" report --db "$tmp/none.db"
one_line "none.db: No such file"
echo "not a database, only text, long enough to be looked at by SQLite ........" > "$tmp/junk.db"
check_exit 1 "not sqlite" "$hksim" report --db "$tmp/junk.db"
one_line "not a hakmem-sim results database"

# a real database: generate and replay (skipped if replay is unavailable)
"$hksim" gen vm -o "$tmp/vm.hkt" >/dev/null || fails=$((fails + 1))
if "$hksim" replay "$tmp/vm.hkt" --db "$tmp/r.db" --backend mimalloc,hakmem,glibc \
     --policy elo,static --quiet >/dev/null 2>"$tmp/replay.err"; then
  check_exit 0 "report md" "$hksim" report --db "$tmp/r.db"
  grep -q '^| hakmem | elo |' "$tmp/out" || { echo "FAIL: md row"; cat "$tmp/out"; fails=$((fails + 1)); }
  check_exit 0 "report csv" "$hksim" report --db "$tmp/r.db" --format csv
  head -1 "$tmp/out" | grep -q '^trace,backend,policy,runs' || { echo "FAIL: csv header"; fails=$((fails + 1)); }
  [ "$(wc -l < "$tmp/out")" = 5 ] || { echo "FAIL: csv rows"; cat "$tmp/out"; fails=$((fails + 1)); }
  check_exit 0 "report tex" "$hksim" report --db "$tmp/r.db" --format tex
  grep -q 'begin{tabular}' "$tmp/out" || { echo "FAIL: tex"; fails=$((fails + 1)); }
  check_exit 0 "published" "$hksim" report --db "$tmp/r.db" --published
  grep -q 'hakmem-evolving | vm.hkt' "$tmp/out" || { echo "FAIL: published"; cat "$tmp/out"; fails=$((fails + 1)); }
  check_exit 0 "symbolize" "$hksim" symbolize --db "$tmp/r.db" --force
  grep -q '1 traces symbolized' "$tmp/out" || { echo "FAIL: symbolize"; cat "$tmp/out"; fails=$((fails + 1)); }
  # progress (common/hk_progress): off a terminal only with --progress, on
  # stderr, per phase its end line; --quiet (or no terminal): not a byte
  [ -s "$tmp/err" ] && { echo "FAIL: symbolize off a terminal wrote progress"; cat "$tmp/err"; fails=$((fails + 1)); }
  check_exit 0 "symbolize --progress" "$hksim" symbolize --db "$tmp/r.db" --force --progress
  tr '\r' '\n' < "$tmp/err" | grep -q 'vm.hkt: symbolizing [0-9]* addresses in [0-9.]* s' ||
    { echo "FAIL: symbolize progress: symbolizing"; cat "$tmp/err"; fails=$((fails + 1)); }
  tr '\r' '\n' < "$tmp/err" | grep -q 'vm.hkt: attributing 20 ops in [0-9.]* s' ||
    { echo "FAIL: symbolize progress: attributing"; cat "$tmp/err"; fails=$((fails + 1)); }
  grep -q "$(printf '\r')" "$tmp/out" && { echo "FAIL: progress on stdout"; fails=$((fails + 1)); }
  check_exit 0 "symbolize --progress --quiet" "$hksim" symbolize --db "$tmp/r.db" --force --progress --quiet
  [ -s "$tmp/err" ] && { echo "FAIL: --quiet wrote progress"; cat "$tmp/err"; fails=$((fails + 1)); }
  if command -v sqlite3 >/dev/null 2>&1; then
    # report symbolizes a trace not yet done: its progress lines end
    # before the first table line (stdout and stderr in one file here)
    cp "$tmp/r.db" "$tmp/p.db"
    sqlite3 "$tmp/p.db" 'DELETE FROM symbols'
    "$hksim" report --db "$tmp/p.db" --no-sites --progress >"$tmp/both" 2>&1 ||
      { echo "FAIL: report --progress exit"; fails=$((fails + 1)); }
    tr '\r' '\n' < "$tmp/both" > "$tmp/both.n"
    a=$(grep -n 'vm.hkt: attributing 20 ops in' "$tmp/both.n" | cut -d: -f1)
    t=$(grep -n '^| ' "$tmp/both.n" | head -1 | cut -d: -f1)
    [ -n "$a" ] && [ -n "$t" ] && [ "$a" -lt "$t" ] ||
      { echo "FAIL: report progress before the tables ($a, $t)"; cat "$tmp/both"; fails=$((fails + 1)); }
    grep '^| ' "$tmp/both" | grep -q "$(printf '\r')" &&
      { echo "FAIL: a table line shares a progress line"; fails=$((fails + 1)); }
    sqlite3 "$tmp/p.db" 'DELETE FROM symbols'
    check_exit 0 "report, no terminal" "$hksim" report --db "$tmp/p.db" --no-sites
    [ -s "$tmp/err" ] && { echo "FAIL: report off a terminal wrote progress"; cat "$tmp/err"; fails=$((fails + 1)); }
  fi
  # gnuplot missing: tables still print, one line, exit 0
  HKSIM_GNUPLOT=/nonexistent/gnuplot check_exit 0 "no gnuplot" \
    "$hksim" report --db "$tmp/r.db" --out "$tmp/plots0"
  one_line "gnuplot not found.*plots skipped"
  grep -q '^| mimalloc |' "$tmp/out" || { echo "FAIL: tables without gnuplot"; fails=$((fails + 1)); }
  if command -v gnuplot >/dev/null 2>&1; then
    check_exit 0 "plots" "$hksim" report --db "$tmp/r.db" --out "$tmp/plots"
    grep -q "plotting" "$tmp/err" && { echo "FAIL: plot progress off a terminal"; cat "$tmp/err"; fails=$((fails + 1)); }
    check_exit 0 "plots --progress" "$hksim" report --db "$tmp/r.db" --out "$tmp/plots" --progress
    # vm: 4 configurations (4 reads), their learning plots (arms and elo
    # for hakmem+elo and hakmem+static: 4), the 6 plots of the trace
    tr '\r' '\n' < "$tmp/err" | grep -q "plots: plotting 14 steps in [0-9.]* s" ||
      { echo "FAIL: plot progress"; cat "$tmp/err"; fails=$((fails + 1)); }
    grep -q "plotting" "$tmp/out" && { echo "FAIL: plot progress on stdout"; fails=$((fails + 1)); }
    for f in cdf-vm.hkt.svg cdf-vm.hkt.png ccdf-vm.hkt.svg ccdf-vm.hkt.png \
             bars-vm.hkt.png bars-vm.hkt.gp sizes-vm.hkt.dat; do
      [ -s "$tmp/plots/$f" ] || { echo "FAIL: plot $f"; ls "$tmp/plots"; fails=$((fails + 1)); }
    done
    if echo 'print GPVAL_TERMINALS' | gnuplot 2>&1 | grep -q pdfcairo; then
      [ -s "$tmp/plots/cdf-vm.hkt.pdf" ] || { echo "FAIL: no PDF"; fails=$((fails + 1)); }
      grep -q "plots (SVG, PNG, PDF)" "$tmp/err" || { echo "FAIL: PDF not said"; cat "$tmp/err"; fails=$((fails + 1)); }
    fi
    # vm: one 2 MiB size class and 2 RSS samples a run (20 ops): no curve
    # of 3 points, so both plots are skipped, and said
    for f in sizes-vm.hkt.png rss-vm.hkt.png; do
      [ ! -e "$tmp/plots/$f" ] || { echo "FAIL: $f drawn"; fails=$((fails + 1)); }
    done
    grep -q "sizes-vm.hkt skipped: no curve has 3 points or more (at most 1)" "$tmp/err" ||
      { echo "FAIL: sizes skip not said"; cat "$tmp/err"; fails=$((fails + 1)); }
    grep -q "rss-vm.hkt skipped: no curve has 3 points or more (at most 2)" "$tmp/err" ||
      { echo "FAIL: rss skip not said"; cat "$tmp/err"; fails=$((fails + 1)); }
  fi
  # the paper queries, through the sqlite3 shell with hksim's module (the
  # ops of op_latency come through it)
  if command -v sqlite3 >/dev/null 2>&1; then
    for q in "$src"/analysis/queries/*.sql; do
      if ! sqlite3 -bail -cmd ".load $HKSIM_BUILD/analysis/hksim_sqlite" \
          "$tmp/r.db" < "$q" >/dev/null 2>"$tmp/qerr"; then
        echo "FAIL: $q"; cat "$tmp/qerr"; fails=$((fails + 1))
      fi
    done
    sqlite3 "$tmp/r.db" 'PRAGMA user_version = 99'
    check_exit 1 "newer schema" "$hksim" report --db "$tmp/r.db"
    one_line "version 99 is newer than this program's"
  fi
else
  echo "note: hksim replay unavailable, real-database checks skipped:"
  cat "$tmp/replay.err"
fi
hk_done
