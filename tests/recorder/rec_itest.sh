#!/bin/sh
# rec_itest.sh: integration tests of the recorder (ctest, label
# integration). Runs victim programs and real programs under libhkrec.so
# and checks the traces with rec_check (exact counts at known sites,
# unmatched frees, verification) and heaptrack's count where installed.
#   rec_itest.sh CASE LIBHKREC REC_CHECK VICTIM_DIR [HKSIM]
# Exit 0 pass, 1 fail, 77 skipped (ctest SKIP_RETURN_CODE).
. "$(dirname "$0")/../lib.sh"
CASE=$1 LIB=$2 CHECK=$3 VD=$4 HKSIM=${5:-}
SRC=${HKSIM_SRC:-$(dirname "$0")/../..}
hk_tmpdir rec_itest
W=$T
fail() { echo "FAIL [$CASE]: $*"; exit 1; }
rec() { HKREC_OUT="$W/t" LD_PRELOAD="$LIB" "$@"; }
# check FILE ARGS...: rec_check must pass.
check() { "$CHECK" "$@" > "$W/check.out" || { cat "$W/check.out"; fail "rec_check $*"; }; }
one_file() {
  set -- "$W"/t.*.hkt
  [ $# -eq 1 ] && [ -f "$1" ] || fail "want one trace file, got: $*"
  T=$1
}
OPS="--expect malloc:malloc=100 --expect calloc:calloc=50 --expect realloc:realloc=30
     --expect reallocarray:reallocarray=10 --expect posix_memalign:posix_memalign=7
     --expect aligned_alloc:aligned_alloc=6 --expect memalign:memalign=5
     --expect valloc:valloc=4 --expect pvalloc:pvalloc=3 --expect fail:malloc=1
     --expect early:calloc=3 --expect-ge free=180 --expect-ge failed=1
     --expect status=0 --prepare --expect unmatched_frees=0"

case $CASE in
ops|ops_depth1|ops_depth32)
  D=8; [ $CASE = ops_depth1 ] && D=1; [ $CASE = ops_depth32 ] && D=32
  HKREC_DEPTH=$D rec "$VD/v_ops" "$W/r" return 7; rc=$?
  [ $rc -eq 7 ] || fail "exit code $rc, want 7"
  one_file; check "$T" --ranges "$W/r" $OPS --expect-ge max_depth=1 ;;
exit|_exit)
  rec "$VD/v_ops" "$W/r" $CASE 4; rc=$?
  [ $rc -eq 4 ] || fail "exit code $rc, want 4"
  one_file; check "$T" --ranges "$W/r" $OPS ;;
abort)
  rec "$VD/v_ops" "$W/r" abort 2>/dev/null; rc=$?
  [ $rc -eq 134 ] || fail "exit code $rc, want 134 (SIGABRT)"
  one_file; check "$T" --ranges "$W/r" $OPS ;;
threads)
  # Every free crosses threads; at the default HKREC_TS_EVERY (16) most
  # events carry estimated times and prepare's repair puts frees after
  # their allocations (order_fixups counts it: hundreds in 60,000 here).
  # The program has no unmatched free or double allocation: any prepare
  # gives must be one its repair reports as a dead end (order_unresolved:
  # docs/recorder.md "Time"; 34 of 800 runs under 2 CPU hogs gave some).
  # With every event stamped (HKREC_TS_EVERY=1) there is nothing to
  # repair: exactly 0 of each.
  HKREC_TS_EVERY=1 rec "$VD/v_threads" "$W/r" || fail "victim failed"
  one_file
  check "$T" --prepare --expect unmatched_frees=0 --expect double_allocs=0 \
    --expect order_unresolved=0 --expect order_fixups=0
  rm -f "$T"
  rec "$VD/v_threads" "$W/r" || fail "victim failed"
  one_file
  check "$T" --ranges "$W/r" --prepare --expect status=0 \
    --expect produce:malloc=60000 --expect-ge free=60000 \
    --expect-ge threads=6 --expect-ge order_fixups=1
  v() { sed -n "s/^$1=//p" "$W/check.out"; }
  U=$(v order_unresolved)
  [ -n "$U" ] || fail "rec_check printed no order_unresolved"
  [ "$(v unmatched_frees)" -le "$U" ] && [ "$(v double_allocs)" -le "$U" ] ||
    fail "unmatched_frees=$(v unmatched_frees) double_allocs=$(v double_allocs), order_unresolved=$U" ;;
backpressure|sync_writer)
  # 8 threads on tiny buffers: with 2 buffers per thread they keep waiting
  # for the writer thread (or, sync_writer, write inline). Exact counts, no
  # unmatched free (per-thread order kept), the writer is not a thread.
  # With the writer thread, threads that wait make it store chunks
  # uncompressed (HKREC_STORE=1, the default); inline, nothing is behind.
  if [ $CASE = backpressure ]; then
    E="HKREC_BLOCK=16 HKREC_BUFFERS=2"; X="--expect-ge chunks_stored=1"
  else
    E="HKREC_BLOCK=64 HKREC_WRITER=0"; X="--expect chunks_stored=0"
  fi
  env $E HKREC_OUT="$W/t" LD_PRELOAD="$LIB" "$VD/v_stress" "$W/r" hammer || fail "victim failed"
  one_file
  check "$T" --ranges "$W/r" --prepare --expect status=0 \
    --expect hammer:malloc=160000 --expect-ge free=160000 $X \
    --expect unmatched_frees=0 --expect double_allocs=0 --expect threads=9 ;;
fast)
  # HKREC_FAST=2: every events chunk coded fast (pointer deltas, zstd -1),
  # as when the writer is behind. Exact counts and pairing as coded in
  # full; the summary counts every event as fast and carries the hook
  # sampling and the writer's time; `hksim trace compact` recodes it in
  # full to the same events, no larger.
  HKREC_FAST=2 rec "$VD/v_stress" "$W/r" hammer || fail "victim failed"
  one_file
  check "$T" --ranges "$W/r" --prepare --expect status=0 \
    --expect hammer:malloc=160000 --expect-ge free=160000 \
    --expect unmatched_frees=0 --expect double_allocs=0 \
    --expect-ge chunks_fast=8 --expect-ge hook_samples=100 \
    --expect-ge hook_ns=1 --expect-ge writer_ns=1
  ev=$(sed -n 's/^events=//p' "$W/check.out")
  fe=$(sed -n 's/^events_fast=//p' "$W/check.out")
  [ "$ev" = "$fe" ] || fail "events_fast $fe, want every event ($ev)"
  [ -n "$HKSIM" ] || exit 0
  "$HKSIM" trace compact "$T" "$W/c.hkt" > /dev/null || fail "compact"
  check "$W/c.hkt" --expect status=0 --expect chunks_fast=0 --expect events_fast=0 \
    --expect events="$ev" --expect-ge hook_samples=100
  # The same events (chunks of different threads may interleave otherwise:
  # compare each thread's events in order).
  "$HKSIM" trace dump "$T" | grep '^t=' | sort -s -k2,2 > "$W/a.txt"
  "$HKSIM" trace dump "$W/c.hkt" | grep '^t=' | sort -s -k2,2 > "$W/b.txt"
  cmp -s "$W/a.txt" "$W/b.txt" || fail "compacted trace's events differ"
  [ "$(stat -c %s "$W/c.hkt")" -le "$(stat -c %s "$T")" ] || fail "compact made it larger"
  # HKREC_FAST=3: every chunk fast and stored uncompressed, counted as
  # such; compact recodes it to the same events.
  rm -f "$W"/t.*
  HKREC_FAST=3 rec "$VD/v_stress" "$W/r" hammer || fail "victim failed"
  one_file
  check "$T" --ranges "$W/r" --prepare --expect status=0 \
    --expect hammer:malloc=160000 --expect unmatched_frees=0
  ev=$(sed -n 's/^events=//p' "$W/check.out")
  se=$(sed -n 's/^events_stored=//p' "$W/check.out")
  [ "$ev" = "$se" ] || fail "events_stored $se, want every event ($ev)"
  "$HKSIM" trace info "$T" | grep -q "chunks stored uncompressed.*, $ev events" \
    || fail "trace info does not show the stored chunks"
  "$HKSIM" trace info --json "$T" | grep -q "\"events_stored\":$ev[,}]" \
    || fail "trace info --json: events_stored is not $ev"
  "$HKSIM" trace compact "$T" "$W/d.hkt" > /dev/null || fail "compact stored"
  "$HKSIM" trace dump "$T" | grep '^t=' | sort -s -k2,2 > "$W/a.txt"
  "$HKSIM" trace dump "$W/d.hkt" | grep '^t=' | sort -s -k2,2 > "$W/b.txt"
  cmp -s "$W/a.txt" "$W/b.txt" || fail "compacted stored trace's events differ"
  ;;
discard)
  # HKREC_DISCARD=1 (bench_recorder.sh's floor table): the hooks run in
  # full, the writer drops each buffer unread. The trace has its tables
  # and summary, no events, and counts every event the recording of the
  # same run makes in dropped; the recorder says so once on stderr, and
  # trace info shows it.
  rec "$VD/v_stress" "$W/r" hammer || fail "victim failed"
  one_file
  check "$T" --ranges "$W/r" --expect hammer:malloc=160000 --expect dropped=0
  ev=$(sed -n 's/^events=//p' "$W/check.out")
  rm -f "$W"/t.*
  HKREC_DISCARD=1 rec "$VD/v_stress" "$W/r" hammer 2> "$W/err" || fail "victim failed (discard)"
  one_file
  check "$T" --expect events=0 --expect dropped="$ev" --expect summary=1 \
    --expect-ge hook_samples=100
  [ "$(grep -c 'HKREC_DISCARD=1: the events are dropped unread' "$W/err")" = 1 ] \
    || { cat "$W/err"; fail "no single stderr line for HKREC_DISCARD"; }
  [ -n "$HKSIM" ] || exit 0
  "$HKSIM" trace info "$T" | grep -q "^dropped    $ev events not in the trace" \
    || fail "trace info does not show the dropped events"
  "$HKSIM" trace info --json "$T" | grep -q "\"dropped\":$ev[,}]" \
    || fail "trace info --json: dropped is not $ev"
  ;;
fork_busy)
  # fork from a thread while 4 others fill buffers for a busy writer: the
  # children (which die by alarm if they hang) record their own files.
  # It once failed 11 of 300 runs at load 7-10 (unmatched_frees=1): see
  # fork_cache, which makes that case happen every time.
  TO=; command -v timeout > /dev/null && TO="timeout 100"
  $TO env HKREC_BLOCK=64 HKREC_BUFFERS=2 HKREC_OUT="$W/t" LD_PRELOAD="$LIB" "$VD/v_stress" "$W/r" fork \
    || fail "victim failed (a child hung or died)"
  n=0 parent=0 child=0
  for f in "$W"/t.*.hkt; do
    n=$((n + 1))
    "$CHECK" "$f" --ranges "$W/r" --expect status=0 --prepare --expect unmatched_frees=0 > "$W/o" \
      || { cat "$W/o"; fail "$f not clean"; }
    grep -q '^hammer:malloc=80000$' "$W/o" && parent=$((parent + 1))
    grep -q '^child:malloc=100$' "$W/o" && child=$((child + 1))
  done
  [ $n -eq 21 ] && [ $parent -eq 1 ] && [ $child -eq 20 ] || fail "files=$n parent=$parent child=$child" ;;
fork_cache)
  # The writer is joined by a fork, then the program's own threads reuse
  # or trim glibc's stack cache. With glibc's stacks for the writer, the
  # dtv glibc calloc'd for it under the recorder's guard (not recorded)
  # was freed by the program's pthread_join (recorded): unmatched_frees=1
  # in 10 of 10 runs. The writer's own stack (rec_core.c ensure_writer)
  # keeps glibc from caching it.
  HKREC_BLOCK=64 rec "$VD/v_stress" "$W/r" fork_cache || fail "victim failed"
  n=0
  for f in "$W"/t.*.hkt; do
    "$CHECK" "$f" --ranges "$W/r" --expect status=0 --prepare --expect unmatched_frees=0 \
      --expect double_allocs=0 > "$W/o" || { cat "$W/o"; fail "$f not clean"; }
    grep -q '^worker:malloc=12$' "$W/o" && n=$((n + 1))
  done
  [ $n -eq 1 ] || fail "no parent trace with worker:malloc=12" ;;
fork|forkexec|spawn|vfork)
  rec "$VD/v_procs" "$W/r" $CASE || fail "victim failed"
  n=0 parent=0 child=0 exec=0
  for f in "$W"/t.*.hkt; do
    n=$((n + 1))
    "$CHECK" "$f" --ranges "$W/r" --expect status=0 > "$W/o" || { cat "$W/o"; fail "$f not clean"; }
    grep -q '^parent:malloc=15$' "$W/o" && parent=$((parent + 1))
    grep -q '^child:malloc=20$' "$W/o" && child=$((child + 1))
    if [ -f "$W/r.exec" ]; then
      "$CHECK" "$f" --ranges "$W/r.exec" | grep -q '^exec:malloc=30$' && exec=$((exec + 1))
    fi
  done
  case $CASE in
  fork) [ $n -eq 2 ] && [ $parent -eq 1 ] && [ $child -eq 1 ] ;;
  forkexec) [ $n -eq 3 ] && [ $parent -eq 1 ] && [ $child -eq 1 ] && [ $exec -eq 1 ] ;;
  spawn|vfork) [ $n -eq 2 ] && [ $parent -eq 1 ] && [ $exec -eq 1 ] ;;
  esac || fail "files=$n parent=$parent child=$child exec=$exec" ;;
dlopen)
  rec "$VD/v_dlopen" "$W/r" "$VD/libv_plug.so" || fail "victim failed"
  one_file
  check "$T" --ranges "$W/r" --expect plug:malloc=25 --module libv_plug.so \
    --expect status=0 --prepare --expect unmatched_frees=0 ;;
cxx|cxx_depth1)
  D=8; [ $CASE = cxx_depth1 ] && D=1
  HKREC_DEPTH=$D rec "$VD/v_cxx" "$W/r" || fail "victim failed"
  one_file
  check "$T" --ranges "$W/r" --expect cxx_new:malloc=60 --expect status=0 \
    --prepare --expect unmatched_frees=0 ;;
unwritable)
  HKREC_OUT=/nonexistent-dir/sub/t LD_PRELOAD="$LIB" "$VD/v_ops" "$W/r" return 7 2> "$W/err"; rc=$?
  [ $rc -eq 7 ] || fail "exit code $rc, want 7"
  [ "$(wc -l < "$W/err")" -eq 1 ] || { cat "$W/err"; fail "want one line on stderr"; }
  grep -q '^hkrec: cannot record to /nonexistent-dir/sub/t' "$W/err" || fail "message: $(cat "$W/err")" ;;
record)
  [ -x "$HKSIM" ] || exit 77
  HKSIM_RECORDER="$LIB" "$HKSIM" record -o "$W/t" --depth 4 -- "$VD/v_procs" "$W/r" forkexec 2> "$W/err"; rc=$?
  [ $rc -eq 0 ] || { cat "$W/err"; fail "exit code $rc"; }
  grep -q '^hksim record: 3 files' "$W/err" || { cat "$W/err"; fail "summary"; }
  HKSIM_RECORDER="$LIB" "$HKSIM" record -o "$W/u" -- "$VD/v_ops" "$W/r" return 9 2> "$W/err"; rc=$?
  [ $rc -eq 9 ] || fail "exit code $rc, want the program's 9" ;;
record_refuse)
  [ -x "$HKSIM" ] || exit 77
  SUID=$(ls /usr/bin/passwd /bin/su /usr/bin/su 2>/dev/null | head -1)
  if [ -n "$SUID" ] && [ -u "$SUID" ]; then
    HKSIM_RECORDER="$LIB" "$HKSIM" record -o "$W/t" -- "$SUID" --help > /dev/null 2> "$W/err"; rc=$?
    [ $rc -eq 1 ] && grep -q 'setuid' "$W/err" || fail "setuid: rc=$rc $(cat "$W/err")"
  fi
  if [ -x "$VD/v_static" ]; then
    HKSIM_RECORDER="$LIB" "$HKSIM" record -o "$W/t" -- "$VD/v_static" 2> "$W/err"; rc=$?
    [ $rc -eq 1 ] && grep -q 'statically linked' "$W/err" || fail "static: rc=$rc $(cat "$W/err")"
  fi
  ls "$W"/t.*.hkt > /dev/null 2>&1 && fail "a trace was written" ;;
sqlite)
  command -v sqlite3 > /dev/null || exit 77
  rec sqlite3 :memory: < "$SRC/tests/recorder/workloads/sqlite.sql" > /dev/null || fail "sqlite3 failed"
  one_file
  check "$T" --expect status=0 --expect-ge allocs=100000 --prepare --expect unmatched_frees=0 ;;
python)
  PY=$(command -v python3) || exit 77
  command -v pyenv > /dev/null && PY=$(pyenv which python3 2>/dev/null || echo "$PY")
  PYTHONMALLOC=malloc rec "$PY" "$SRC/tests/recorder/workloads/json_work.py" 5000 > /dev/null || fail "python3 failed"
  for f in "$W"/t.*.hkt; do check "$f" --expect status=0; done
  one_file
  check "$T" --expect status=0 --expect-ge allocs=100000 --prepare --expect unmatched_frees=0 ;;
heaptrack)
  command -v heaptrack > /dev/null && command -v heaptrack_print > /dev/null && command -v sqlite3 > /dev/null || exit 77
  rec sqlite3 :memory: < "$SRC/tests/recorder/workloads/sqlite.sql" > /dev/null || fail "sqlite3 failed"
  one_file
  ours=$("$CHECK" "$T" | sed -n 's/^allocs=//p')
  heaptrack -o "$W/ht" sqlite3 :memory: < "$SRC/tests/recorder/workloads/sqlite.sql" > /dev/null 2>&1 || fail "heaptrack failed"
  theirs=$(heaptrack_print -f "$W"/ht.* 2>/dev/null | sed -n 's/^calls to allocation functions: \([0-9]*\).*/\1/p')
  [ -n "$theirs" ] && [ -n "$ours" ] || fail "no counts (ours=$ours heaptrack=$theirs)"
  echo "allocation calls: recorder $ours, heaptrack $theirs"
  awk -v a="$ours" -v b="$theirs" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d * 1000 <= b) }' \
    || fail "recorder $ours vs heaptrack $theirs differ by more than 0.1%" ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
echo "PASS [$CASE]"
