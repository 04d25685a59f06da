#!/bin/sh
# rec_hostile.sh: integration tests of the recorder against programs that
# treat it roughly (issue 10): fds closed or reused under it, crashes in
# the allocator, SIGTERM to busy threads, cross-thread frees under load.
#   rec_hostile.sh CASE LIBHKREC REC_CHECK VICTIM_DIR HKSIM
# Exit 0 pass, 1 fail, 77 skipped (ctest SKIP_RETURN_CODE).
. "$(dirname "$0")/../lib.sh"
CASE=$1 LIB=$2 CHECK=$3 VD=$4 HKSIM=${5:-}
hk_tmpdir rec_hostile
W=$T
fail() { echo "FAIL [$CASE]: $*"; exit 1; }
check() { "$CHECK" "$@" > "$W/check.out" || { cat "$W/check.out"; fail "rec_check $*"; }; }
one_file() {
  set -- "$W"/t.*.hkt
  [ $# -eq 1 ] && [ -f "$1" ] || fail "want one trace file, got: $*"
  T=$1
}
# The program's own file holds exactly its 50 bytes.
own_bytes() {
  [ "$(wc -c < "$W/own")" -eq 50 ] || fail "the program's file has $(wc -c < "$W/own") bytes, want its 50"
  grep -q "^the program's own fifty bytes" "$W/own" || fail "the program's file lost its bytes"
}

case $CASE in
closefds|closefds_chunk|dup2|dup2_chunk|closefds_raw|dup2_raw)
  # closefds: the victim closes 3..1023 and opens its own file (which gets
  # a low number); dup2: it puts its file on the trace fd's number. With
  # _chunk, small chunks make the recorder write before and after.
  # closefds runs with a limit of 1024 fds, so that the loop covers the
  # trace's high fd too. The recorder's close and dup2 hooks keep the fd:
  # close answers EBADF, dup2 first moves the trace to another high
  # number, so the writer never has to reopen (reopened=0). _raw: the
  # same through syscall(2), which no hook sees: the writer's fstat check
  # finds the fd closed or replaced and reopens the trace (reopened>=1).
  M=${CASE%_chunk}; M=${M%_raw}; E=; R=0
  [ "${CASE%_chunk}" != "$CASE" ] && E="HKREC_CHUNK=1024"
  [ "${CASE%_raw}" != "$CASE" ] && R=1
  if [ "$M" = closefds ]; then ulimit -n 1024 || exit 77; fi
  env $E HKREC_OUT="$W/t" LD_PRELOAD="$LIB" "$VD/v_hostile" "$W/r" "$CASE" "$W/own" > "$W/out" \
    || fail "victim failed"
  own_bytes
  one_file
  if [ $R = 1 ]; then reop="--expect-ge reopened=1"; else reop="--expect reopened=0"; fi
  check "$T" --ranges "$W/r" --expect status=0 --expect summary=1 \
    --expect hostile_alloc:malloc=20000 --expect-ge free=20000 --prepare \
    --expect unmatched_frees=0 $reop
  if [ -n "$HKSIM" ]; then
    "$HKSIM" trace verify "$T" > /dev/null || fail "verify"
    if [ $R = 1 ]; then
      "$HKSIM" trace info "$T" | grep -q '^trace fd   closed or replaced' || fail "info does not show the reopen"
    fi
  fi
  if [ "$M" = dup2 ]; then
    # The trace fd was moved high, clear of the program's low numbers.
    fd=$(sed -n 's/^trace fd //p' "$W/out")
    [ "${fd:-0}" -ge 64 ] || fail "trace fd $fd is not high"
  fi ;;
race_close_range|race_closefrom|race_dup2)
  # One thread closes every fd from 3 up and opens 40 files of its own (or
  # dup2s a file onto the trace's number), 300 times, while another
  # allocates: with small chunks the writer checks and writes all along.
  # A limit of 64 fds puts the trace at 32, inside the numbers the
  # program's 40 files take: without the hooks its files got trace chunks
  # whenever a close and an open fell between the writer's check and its
  # write, and every round made the writer reopen. Each file must hold
  # exactly what the program wrote (the victim reads each back), the trace
  # verifies, and the writer never reopened.
  ulimit -n 64 || exit 77
  mkdir "$W/own.d"
  HKREC_CHUNK=256 HKREC_OUT="$W/t" LD_PRELOAD="$LIB" "$VD/v_hostile" "$W/r" $CASE "$W/own.d" \
    > "$W/out" 2> "$W/err" || { cat "$W/err"; fail "victim failed: a file of the program was written to"; }
  one_file
  check "$T" --ranges "$W/r" --expect status=0 --expect summary=1 --expect reopened=0 \
    --expect-ge hostile_alloc:malloc=1000 --prepare --expect unmatched_frees=0
  for f in "$W"/own.d/f*; do
    [ "$(wc -c < "$f")" -eq 64 ] || fail "$f has $(wc -c < "$f") bytes, want 64"
  done
  if [ -n "$HKSIM" ]; then "$HKSIM" trace verify "$T" > /dev/null || fail "verify"; fi
  sed -n 's/^\(events\|reopened\)=/&/p' "$W/check.out" ;;
doublefree|segvfree)
  # A crash inside free: the last-gasp flush writes what was buffered, and
  # the program still dies by its signal.
  want=134 sig=6 n=20001; [ $CASE = segvfree ] && want=139 sig=11 n=20000
  HKREC_OUT="$W/t" LD_PRELOAD="$LIB" "$VD/v_hostile" "$W/r" $CASE 2> "$W/err"; rc=$?
  [ $rc -eq $want ] || { cat "$W/err"; fail "exit status $rc, want $want"; }
  one_file
  check "$T" --ranges "$W/r" --expect status=0 --expect summary=1 \
    --expect end_signal=$sig --expect hostile_alloc:malloc=$n \
    --expect-ge free=19000 --prepare --expect unmatched_frees=0
  if [ -n "$HKSIM" ]; then
    "$HKSIM" trace verify "$T" > /dev/null || fail "verify"
    "$HKSIM" trace info "$T" | grep -q "^ended      by signal $sig" || fail "info does not name signal $sig"
  fi ;;
handler)
  # The program's own SIGTERM handler, installed after recording started,
  # is called (the recorder stays first and chains); nothing is flushed
  # early and the program goes on to exit 0.
  HKREC_OUT="$W/t" LD_PRELOAD="$LIB" "$VD/v_hostile" "$W/r" handler; rc=$?
  [ $rc -eq 0 ] || fail "exit status $rc, want 0"
  one_file
  check "$T" --ranges "$W/r" --expect status=0 --expect summary=1 --expect end_signal=0 \
    --expect hostile_alloc:malloc=20100 ;;
sigint)
  HKREC_OUT="$W/t" LD_PRELOAD="$LIB" "$VD/v_hostile" "$W/r" sigint; rc=$?
  [ $rc -eq 130 ] || fail "exit status $rc, want 130 (SIGINT)"
  one_file
  check "$T" --ranges "$W/r" --expect status=0 --expect summary=1 --expect end_signal=2 \
    --expect hostile_alloc:malloc=20000 ;;
sigterm4)
  # SIGTERM to 4 busy threads after 0.3 s, 5 times: every trace ends with
  # its summary and verifies; the program dies by SIGTERM.
  for i in 1 2 3 4 5; do
    rm -f "$W"/t.*.hkt
    HKREC_OUT="$W/t" LD_PRELOAD="$LIB" "$VD/v_hostile" "$W/r" busy4 & pid=$!
    sleep 0.3
    kill -TERM $pid
    wait $pid; rc=$?
    [ $rc -eq 143 ] || fail "run $i: exit status $rc, want 143 (SIGTERM)"
    one_file
    check "$T" --expect status=0 --expect summary=1 --expect end_signal=15 \
      --expect-ge allocs=1000 --prepare --expect double_allocs=0
    if [ -n "$HKSIM" ]; then "$HKSIM" trace verify "$T" > /dev/null || fail "run $i: verify"; fi
    sed -n 's/^\(events\|dropped\)=/run '$i' &/p' "$W/check.out"
  done ;;
late)
  # Calls a thread makes after its last key destructor (glibc frees its
  # dlerror buffer then) go to the session's late state, not lost: with
  # them dropped, the addresses they freed looked live and 96 of main's
  # later allocations were double allocations.
  [ -n "$HKSIM" ] || exit 77
  HKREC_OUT="$W/t" LD_PRELOAD="$LIB" "$VD/v_hostile" "$W/r" late || fail "victim failed"
  one_file
  "$HKSIM" trace info "$T" --json > "$W/info" || fail "info"
  for k in unmatched_frees double_allocs dropped; do
    grep -q "\"$k\":0[,}]" "$W/info" || fail "$k: $(grep -o "\"$k\":[0-9]*" "$W/info")"
  done
  "$HKSIM" trace dump "$T" > "$W/dump" || fail "dump"
  # main, the 50 threads, and the late state (tid 0) if glibc freed
  # anything after their destructors (it does: the dlerror buffers).
  grep -q '^thread [0-9]* tid=0 .*name=late: calls of exited threads$' "$W/dump" \
    || fail "no late state: $(grep '^thread' "$W/dump" | tail -3)"
  grep -q '"threads":52,' "$W/info" || fail "$(grep -o '"threads":[0-9]*' "$W/info") threads, want 52" ;;
cross64)
  # Causality under load: 64 threads, half the frees crossing threads, 6
  # runs: no free may be stamped before the allocation it frees (prepare
  # would see an unmatched free, then a double allocation). Two runs each
  # with every event stamped (HKREC_TS_EVERY=1), the default (one stamp in
  # 16: the rest interpolated, order repaired by prepare) and one in 1024.
  [ -n "$HKSIM" ] || exit 77
  i=0
  for ts in 1 16 1024 1 16 1024; do
    i=$((i + 1))
    rm -f "$W"/t.*.hkt
    HKREC_TS_EVERY=$ts HKREC_OUT="$W/t" LD_PRELOAD="$LIB" "$VD/v_hostile" "$W/r" cross64 || fail "run $i: victim failed"
    one_file
    # Sparse stamps say so in the header (flags 0x8) and mark events EST.
    "$HKSIM" trace dump "$T" > "$W/dump" || fail "run $i: dump"
    est=$(grep -c ' EST$' "$W/dump")
    if [ "$ts" = 1 ]; then
      grep -q '^header flags=0x0 ' "$W/dump" && [ "$est" = 0 ] || fail "run $i: HKREC_TS_EVERY=1 gave $est estimated times"
    else
      grep -q '^header flags=0x8 ' "$W/dump" && [ "$est" -gt 0 ] || fail "run $i: HKREC_TS_EVERY=$ts: no estimated times"
    fi
    "$HKSIM" trace info "$T" --json > "$W/info" || fail "run $i: info"
    grep -q '"unmatched_frees":0,' "$W/info" && grep -q '"double_allocs":0,' "$W/info" \
      || fail "run $i: $(grep -o '"unmatched_frees":[0-9]*,"double_allocs":[0-9]*' "$W/info")"
    grep -q '"threads":65,' "$W/info" || fail "run $i: $(grep -o '"threads":[0-9]*' "$W/info") threads, want 65"
  done ;;
joined)
  # Thread end times: the joined thread's entry says when it ended (before
  # main's 50 ms sleep), main's says it ran to the end of the recording.
  [ -n "$HKSIM" ] || exit 77
  HKREC_OUT="$W/t" LD_PRELOAD="$LIB" "$VD/v_hostile" "$W/r" joined || fail "victim failed"
  one_file
  check "$T" --expect status=0 --expect threads=2
  "$HKSIM" trace dump "$T" > "$W/dump" || fail "dump"
  # The last entry of each index wins.
  awk '/^thread / { split($2, a, " "); idx = $2; for (i = 3; i <= NF; i++) { split($i, kv, "="); v[idx, kv[1]] = kv[2] } }
       /^summary / { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "end") end = kv[2] } }
       END {
         if (v[0, "end"] == 0 || v[1, "end"] == 0) { print "end=0: main " v[0, "end"] ", thread " v[1, "end"]; exit 1 }
         if (!(v[1, "end"] >= v[1, "start"])) { print "thread 1 ends before it starts"; exit 1 }
         if (!(v[1, "end"] < v[0, "end"])) { print "thread 1 (joined) does not end before main"; exit 1 }
         if (!(v[0, "end"] <= end)) { print "main ends after the recording"; exit 1 }
       }' "$W/dump" || { grep '^thread\|^summary' "$W/dump"; fail "thread end times"; }
  "$HKSIM" trace info "$T" --json > "$W/info" || fail "info"
  grep -q '"threads":2,' "$W/info" || fail "info counts $(grep -o '"threads":[0-9]*' "$W/info") threads, want 2" ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
echo "PASS [$CASE]"
