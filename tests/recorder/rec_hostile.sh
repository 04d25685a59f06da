#!/bin/sh
# rec_hostile.sh: integration tests of the recorder against programs that
# treat it roughly (issue 10): fds closed or reused under it, crashes in
# the allocator, SIGTERM to busy threads, cross-thread frees under load.
#   rec_hostile.sh CASE LIBHKREC REC_CHECK VICTIM_DIR HKSIM
# Exit 0 pass, 1 fail, 77 skipped (ctest SKIP_RETURN_CODE).
set -u
CASE=$1 LIB=$2 CHECK=$3 VD=$4 HKSIM=${5:-}
W=$(mktemp -d /tmp/rec_hostile.XXXXXX)
trap 'rm -rf "$W"' EXIT
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
closefds|closefds_chunk|dup2|dup2_chunk)
  # closefds: the victim closes 3..1023 and opens its own file (which gets
  # a low number); dup2: it puts its file on the trace fd's number. With
  # _chunk, small chunks make the recorder write before and after.
  # closefds runs with a limit of 1024 fds, so that the loop closes the
  # trace's high fd too and the recorder must reopen its file.
  M=${CASE%_chunk}; E=
  [ "$M" != "$CASE" ] && E="HKREC_CHUNK=1024"
  if [ "$M" = closefds ]; then ulimit -n 1024 || exit 77; fi
  env $E HKREC_OUT="$W/t" LD_PRELOAD="$LIB" "$VD/v_hostile" "$W/r" "$M" "$W/own" > "$W/out" \
    || fail "victim failed"
  own_bytes
  one_file
  check "$T" --ranges "$W/r" --expect status=0 --expect summary=1 \
    --expect hostile_alloc:malloc=20000 --expect-ge free=20000 --prepare \
    --expect unmatched_frees=0 --expect-ge reopened=1
  if [ -n "$HKSIM" ]; then
    "$HKSIM" trace verify "$T" > /dev/null || fail "verify"
    "$HKSIM" trace info "$T" | grep -q '^trace fd   closed or replaced' || fail "info does not show the reopen"
  fi
  if [ "$M" = dup2 ]; then
    # The trace fd was moved high, clear of the program's low numbers.
    fd=$(sed -n 's/^trace fd //p' "$W/out")
    [ "${fd:-0}" -ge 64 ] || fail "trace fd $fd is not high"
  fi ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
echo "PASS [$CASE]"
