#!/bin/sh
# record_itest.sh: integration tests of the front of recording, `hksim
# record` (cli/cmd_record.c, cli/record_runtime.c) and the output naming of
# the recorder (recorder/rec_config.c): exact -o names and derived names,
# relative -o with a child that changes directory, signals passed on,
# launchers followed, runtime switches, and every refusal (one line, the
# documented exit code, the program not run).
#   record_itest.sh CASE HKSIM LIBHKREC VICTIM_DIR
# Exit 0 pass, 1 fail, 77 skipped (ctest SKIP_RETURN_CODE).
. "$(dirname "$0")/../lib.sh"
CASE=$1 HKSIM=$2 LIB=$3 VD=$4
SRC=${HKSIM_SRC:-$(dirname "$0")/../..}
hk_tmpdir record_itest
W=$T
export HKSIM_RECORDER="$LIB" TMPDIR="$W/tmp"
mkdir "$W/tmp"
fail() { echo "FAIL [$CASE]: $*"; [ -f "$W/err" ] && sed 's/^/  stderr: /' "$W/err"; exit 1; }
# one_line RC WANT PATTERN: exit code and exactly one stderr line matching.
one_line() {
  [ "$1" -eq "$2" ] || fail "exit code $1, want $2"
  [ "$(wc -l < "$W/err")" -eq 1 ] || fail "want one line on stderr"
  grep -q -- "$3" "$W/err" || fail "message does not match '$3'"
}
no_debris() {
  [ -z "$(ls -A "$W/tmp")" ] || fail "temporary files left: $(ls "$W/tmp")"
}
cd "$W" || exit 1

case $CASE in
exact)
  # The program's trace is exactly FILE; the forked child and its exec'd
  # image get STEM.PID.hkt and STEM.PID.1.hkt; every path is printed.
  "$HKSIM" record -o t.hkt -- "$VD/v_procs" "$W/r" forkexec 2> err; rc=$?
  [ $rc -eq 0 ] || fail "exit code $rc"
  [ -f t.hkt ] || fail "t.hkt not written"
  n=$(ls t.*.hkt | wc -l)
  [ "$n" -eq 2 ] || fail "want 2 derived files, got: $(ls)"
  ls t.*.1.hkt > /dev/null 2>&1 || fail "no exec'd image file STEM.PID.1.hkt: $(ls)"
  for f in t.hkt t.*.hkt; do
    grep -q "^hksim record: $f: " err || fail "$f not printed"
  done
  grep -q '^hksim record: 3 files' err || fail "summary"
  "$HKSIM" trace info t.hkt | grep -q 'v_procs' || fail "t.hkt is not the program's trace"
  no_debris
  # An existing FILE is refused before the program runs, and kept.
  sum=$(cksum < t.hkt)
  "$HKSIM" record -o t.hkt -- sh -c 'touch ran' 2> err; rc=$?
  one_line $rc 1 'hksim: t.hkt: file exists (--force replaces it)'
  [ ! -e ran ] || fail "the program ran"
  [ "$(cksum < t.hkt)" = "$sum" ] || fail "t.hkt changed"
  # --force replaces it.
  "$HKSIM" record --force -o t.hkt -- "$VD/v_ops" "$W/r2" return 0 2> err; rc=$?
  [ $rc -eq 0 ] || fail "--force: exit code $rc"
  "$HKSIM" trace info t.hkt | grep -q 'v_ops' || fail "--force did not replace t.hkt"
  # Without -o: ./hkrec.PID.hkt, no exact name.
  mkdir d && (cd d && "$HKSIM" record -- "$VD/v_ops" "$W/r3" return 0 2> ../err) || fail "no -o"
  [ "$(ls d)" != "" ] && ls d/hkrec.*.hkt > /dev/null || fail "no -o: $(ls d)" ;;
launchers)
  # The first process execs (env): the program's image is FILE, the
  # launcher's trace is dropped, or kept with --keep-launchers as
  # STEM.PID.hkt (the same pid as FILE's image).
  "$HKSIM" record -o t.hkt -- env A=1 "$VD/v_procs" "$W/r" fork 2> err; rc=$?
  [ $rc -eq 0 ] || fail "exit code $rc"
  "$HKSIM" trace info t.hkt | grep -q 'v_procs' || fail "t.hkt is not the program"
  [ "$(ls t.*.hkt | wc -l)" -eq 1 ] || fail "want the child's file only: $(ls)"
  "$HKSIM" record --keep-launchers -o k.hkt -- env A=1 "$VD/v_procs" "$W/r" fork 2> err; rc=$?
  [ $rc -eq 0 ] || fail "--keep-launchers: exit code $rc"
  grep -q 'launcher /usr/bin/env\|launcher .*/env' err || fail "launcher not printed"
  [ "$(ls k.*.hkt | wc -l)" -eq 2 ] || fail "want launcher + child: $(ls)"
  # Processes that record no allocation leave no file and are not
  # reported as incomplete.
  "$HKSIM" record -o s.hkt -- sh -c '/bin/true; /bin/true; :' 2> err; rc=$?
  [ $rc -eq 0 ] || fail "empty images: exit code $rc"
  grep -q 'recorded no allocation: no file kept' err || fail "empty images not reported"
  ls s.*.hkt > /dev/null 2>&1 && fail "a file of an empty image was kept: $(ls)"
  grep -q INCOMPLETE err && fail "reported incomplete"
  no_debris ;;
chdir)
  # A relative -o is made absolute: a child that changes directory writes
  # its trace beside the others, and record exits 0.
  mkdir sub
  "$HKSIM" record -o rel.hkt -- sh -c "cd sub && '$VD/v_ops' '$W/r' return 0; true" 2> err; rc=$?
  [ $rc -eq 0 ] || fail "exit code $rc"
  [ -f rel.hkt ] || fail "rel.hkt not written"
  [ "$(ls rel.*.hkt | wc -l)" -eq 1 ] || fail "child's trace not beside rel.hkt: $(ls)"
  [ -z "$(ls sub)" ] || fail "traces written into sub/: $(ls sub)"
  grep -q "No such file" err && fail "a path was not found" ;;
dir)
  # -o DIR/: every trace in DIR as hkrec.PID.hkt; the library does the same
  # for HKREC_OUT=DIR/ (never hidden .PID.hkt files).
  mkdir out out2
  "$HKSIM" record -o out/ -- "$VD/v_ops" "$W/r" return 0 2> err || fail "-o out/"
  ls out/hkrec.*.hkt > /dev/null 2>&1 || fail "-o out/: $(ls -A out)"
  HKREC_OUT="$W/out2/" LD_PRELOAD="$LIB" "$VD/v_ops" "$W/r" return 0 || fail "HKREC_OUT=DIR/"
  ls out2/hkrec.*.hkt > /dev/null 2>&1 || fail "HKREC_OUT=DIR/: $(ls -A out2)"
  ls -A out2 | grep -q '^\.' && fail "hidden files" ;;
refuse)
  # Each refusal: one line, its exit code, the program not run.
  "$HKSIM" record -o t.hkt -- /tmp 2> err; one_line $? 126 'hksim: /tmp: is a directory, not a program'
  "$HKSIM" record -o t.hkt -- no-such-program-hksim 2> err; one_line $? 127 'command not found'
  "$HKSIM" record -o t.hkt -- ./nothere 2> err; one_line $? 127 'no such file'
  printf 'x' > noexec; chmod 644 noexec
  "$HKSIM" record -o t.hkt -- ./noexec 2> err; one_line $? 126 'not executable'
  printf 'garbage\n' > junk; chmod 755 junk   # no #!, not ELF: exec fails
  "$HKSIM" record -o t.hkt -- ./junk 2> err; one_line $? 126 'cannot run it'
  "$HKSIM" record -o /nonexistent-dir/t.hkt -- sh -c 'touch ran' 2> err
  one_line $? 1 'hksim: /nonexistent-dir: output directory: No such file'
  "$HKSIM" record -o /dev/null/t.hkt -- sh -c 'touch ran' 2> err
  one_line $? 1 'output directory is not a directory'
  mkdir adir
  "$HKSIM" record -o adir -- sh -c 'touch ran' 2> err; one_line $? 1 'is a directory (write -o adir/'
  long=$(printf '%01100d' 0)
  "$HKSIM" record -o "$long" -- sh -c 'touch ran' 2> err; one_line $? 2 'output path too long'
  "$HKSIM" record -o 2> err; one_line $? 2 'needs a value'
  "$HKSIM" record --depth 0 -- true 2> err; one_line $? 2 'depth'
  "$HKSIM" record --bogus -- true 2> err; one_line $? 2 "unknown option '--bogus'"
  "$HKSIM" record 2> err; one_line $? 2 'no command to run'
  if [ "$(id -u)" -ne 0 ]; then
    mkdir ro && chmod 555 ro
    "$HKSIM" record -o ro/t.hkt -- sh -c 'touch ran' 2> err; one_line $? 1 'output directory is not writable'
  fi
  [ ! -e ran ] || fail "the program ran"
  ls ./*.hkt > /dev/null 2>&1 && fail "a trace was written: $(ls)"
  no_debris
  # The library itself refuses an over-long HKREC_OUT in one line and
  # writes nothing (no fallback to ./hkrec.PID.hkt).
  HKREC_OUT="$W/$long$long" LD_PRELOAD="$LIB" "$VD/v_ops" "$W/r" return 7 2> err; rc=$?
  one_line $rc 7 '^hkrec: HKREC_OUT is longer than 1023 bytes; the program runs unrecorded$'
  ls ./*.hkt > /dev/null 2>&1 && fail "fell back to another name: $(ls)"
  true ;;
signals)
  # SIGTERM and SIGINT sent to hksim record (not to its process group) are
  # passed on: the program dies of them, the exit code says so, no
  # temporary file is left, and it does not wait for the program's 30 s.
  command -v timeout > /dev/null || exit 77
  for s in TERM:143 INT:130 HUP:129; do
    sig=${s%%:*} want=${s#*:}
    t0=$(date +%s)
    timeout --foreground --preserve-status -s "$sig" 1 "$HKSIM" record -o "$sig.hkt" -- sleep 30 2> err; rc=$?
    t1=$(date +%s)
    [ $rc -eq "$want" ] || fail "SIG$sig: exit code $rc, want $want"
    [ $((t1 - t0)) -lt 15 ] || fail "SIG$sig: not passed on (took $((t1 - t0)) s)"
    grep -q "program exit $want" err || fail "SIG$sig: summary"
    no_debris
  done ;;
argv)
  # --argv asks the library for argv and the environment (HKREC_ARGV=1);
  # without it HKREC_ARGV=0, even when the caller exported 1.
  "$HKSIM" record -o a.hkt --argv -- sh -c 'echo "$HKREC_ARGV" > v' 2> err || fail "--argv"
  [ "$(cat v)" = 1 ] || fail "--argv: HKREC_ARGV=$(cat v)"
  HKREC_ARGV=1 "$HKSIM" record -o b.hkt -- sh -c 'echo "$HKREC_ARGV" > v' 2> err || fail "no --argv"
  [ "$(cat v)" = 0 ] || fail "without --argv: HKREC_ARGV=$(cat v)"
  "$HKSIM" record --help | grep -q -- '--argv' || fail "--argv not in --help" ;;
env)
  # The environment is recorded only with --argv (the allocation-related
  # allow-list) or --env (names the user adds); never HKREC_*, never a
  # variable outside the list; shown by trace info, stored by replay.
  MALLOC_ARENA_MAX=2 SECRET_TOKEN=hunter2 MY_SETTING=x \
    "$HKSIM" record -o a.hkt --argv -- "$VD/v_procs" "$W/r" child 2> err || fail "--argv"
  [ "$(stat -c %a a.hkt)" = 600 ] || fail "a.hkt mode $(stat -c %a a.hkt)"
  "$HKSIM" trace info a.hkt > info 2> err || fail "info a.hkt"
  grep -q "^argv       $VD/v_procs $W/r child\$" info || fail "no argv line: $(cat info)"
  grep -q "^env        .*MALLOC_ARENA_MAX=2\$\|^           MALLOC_ARENA_MAX=2\$" info || fail "MALLOC_ARENA_MAX not shown: $(cat info)"
  grep -aq "hunter2\|SECRET_TOKEN\|MY_SETTING\|HKREC_" a.hkt && fail "a variable outside the allow-list is in the trace"
  "$HKSIM" trace info a.hkt --json > j || fail "info --json"
  python3 - j "$VD/v_procs" <<'PY' || fail "info --json argv/env"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["argv"][0] == sys.argv[2] and d["argv"][-1] == "child", d["argv"]
assert d["env"]["MALLOC_ARENA_MAX"] == "2", d["env"]
assert not [k for k in d["env"] if k.startswith(("SECRET", "MY_", "HKREC_"))], d["env"]
PY
  # --env adds names (a prefix here); the command line stays out.
  SECRET_TOKEN=hunter2 MY_SETTING=x MY_OTHER='a b' \
    "$HKSIM" record -o b.hkt --env 'MY_*' -- "$VD/v_procs" "$W/r" child 2> err || fail "--env"
  "$HKSIM" trace info b.hkt > info || fail "info b.hkt"
  grep -q "^argv" info && fail "argv recorded without --argv"
  grep -q "MY_SETTING=x\$" info && grep -q "MY_OTHER=a b\$" info || fail "--env MY_* not shown: $(cat info)"
  grep -aq "hunter2" b.hkt && fail "SECRET_TOKEN recorded with --env MY_*"
  "$HKSIM" replay b.hkt --db e.db --backend null --per-op none --quiet > /dev/null 2> err || fail "replay b.hkt"
  [ "$(sqlite3 e.db "SELECT env LIKE '%MY_OTHER=a b%' AND env LIKE '%MY_SETTING=x%' AND env NOT LIKE '%hunter2%' FROM traces")" = 1 ] \
    || fail "traces.env: $(sqlite3 e.db 'SELECT env FROM traces')"
  # Neither: no environment at all.
  MALLOC_ARENA_MAX=2 "$HKSIM" record -o c.hkt -- "$VD/v_procs" "$W/r" child 2> err || fail "plain"
  "$HKSIM" trace info c.hkt > info || fail "info c.hkt"
  grep -q "^env\|^argv" info && fail "env or argv recorded without --argv/--env: $(cat info)"
  grep -aq "MALLOC_ARENA_MAX" c.hkt && fail "environment in c.hkt"
  # A bad pattern: a usage error, the program not run.
  "$HKSIM" record -o d.hkt --env 'A=B' -- "$VD/v_procs" "$W/r" child 2> err; one_line $? 2 "bad --env 'A=B'"
  [ -e d.hkt ] && fail "program ran after a bad --env"
  "$HKSIM" record --help | grep -q -- '--env LIST' || fail "--env not in --help" ;;
python)
  # CPython behind launchers (env, a shell wrapper that execs python3) is
  # recognised: PYTHONMALLOC=malloc is set and said; one file, the
  # python's; a user's own PYTHONMALLOC is kept. The switch matters: the
  # same run with --no-runtime-env records far fewer events.
  command -v python3 > /dev/null || exit 77
  WL="$SRC/tests/recorder/workloads/json_work.py"
  printf '#!/bin/sh\n# a wrapper, as pyenv shims are\nexport X=1\nexec python3 "$@"\n' > shim
  chmod 755 shim
  events() { sed -n "s/^hksim record: $1: \([0-9]*\) events.*/\1/p" err; }
  for how in env shim; do
    if [ $how = env ]; then set -- env python3; else set -- ./shim; fi
    env -u PYTHONMALLOC "$HKSIM" record -o "$how.hkt" -- "$@" "$WL" 2000 > /dev/null 2> err \
      || fail "$how: exit code $?"
    grep -q '^hksim record: CPython (.*): setting PYTHONMALLOC=malloc' err || fail "$how: no PYTHONMALLOC line"
    grep -q INCOMPLETE err && fail "$how: incomplete"
    [ "$(ls "$how".*.hkt 2> /dev/null | wc -l)" -eq 0 ] || fail "$how: extra files: $(ls)"
    with=$(events "$how.hkt")
    env -u PYTHONMALLOC "$HKSIM" record --no-runtime-env -o "n$how.hkt" -- "$@" "$WL" 2000 > /dev/null 2> err \
      || fail "$how --no-runtime-env"
    grep -q PYTHONMALLOC err && fail "--no-runtime-env still set it"
    without=$(events "n$how.hkt")
    echo "$how: $with events with PYTHONMALLOC=malloc, $without without"
    [ "$with" -gt $((without * 5)) ] || fail "$how: $with events vs $without without the switch"
  done
  PYTHONMALLOC=pymalloc "$HKSIM" record -o u.hkt -- env python3 -c 'pass' 2> err || fail "user's PYTHONMALLOC"
  grep -q 'PYTHONMALLOC=pymalloc kept as you set it' err || fail "user's PYTHONMALLOC not kept"
  # A python3 the command line does not show (a shell runs it as a child,
  # not by exec): the recorder finds CPython in the process before main,
  # sets the switch there, and hksim record says so after the run; with
  # --no-runtime-env, or the user's own PYTHONMALLOC, it does not.
  pyev() { sed -n "s/^hksim record: .*: \([0-9]*\) events.*python[^,]*, pid [0-9]*\]$/\1/p" err | sort -n | tail -1; }
  mkdir sh && cd sh
  env -u PYTHONMALLOC "$HKSIM" record --argv -o r.hkt -- sh -c "python3 '$WL' 2000 > /dev/null; true" 2> err \
    || fail "sh -c python3: exit code $?"
  grep -q '^hksim record: CPython found at run time in 1 process (.*python.*, pid [0-9]*): the recorder set PYTHONMALLOC=malloc in it' err \
    || fail "no run-time PYTHONMALLOC line: $(cat err)"
  with=$(pyev)
  # The recorded environment (--argv) is what python ran with.
  pyt=$(sed -n "s/^hksim record: \(.*\): $with events.*python.*/\1/p" err)
  "$HKSIM" trace info "$pyt" | grep -q 'PYTHONMALLOC=malloc' || fail "recorded env of $pyt: $("$HKSIM" trace info "$pyt")"
  env -u PYTHONMALLOC "$HKSIM" record --no-runtime-env -o n.hkt -- sh -c "python3 '$WL' 2000 > /dev/null; true" 2> err \
    || fail "sh -c python3 --no-runtime-env"
  grep -q PYTHONMALLOC err && fail "--no-runtime-env: the recorder still set it: $(cat err)"
  without=$(pyev)
  PYTHONMALLOC=pymalloc "$HKSIM" record -o u.hkt -- sh -c "python3 '$WL' 2000 > /dev/null; true" 2> err \
    || fail "sh -c python3, user's PYTHONMALLOC"
  grep -q PYTHONMALLOC err && fail "user's PYTHONMALLOC: the recorder set it: $(cat err)"
  mine=$(pyev)
  echo "sh -c python3: $with events with the recorder's switch, $without without, $mine with the user's pymalloc"
  [ -n "$with" ] && [ -n "$without" ] && [ -n "$mine" ] || fail "python's trace not found"
  [ "$with" -gt $((without * 5)) ] || fail "sh -c: $with events vs $without without the switch"
  [ "$mine" -lt $((with / 5)) ] || fail "user's pymalloc: $mine events vs $with with malloc"
  cd ..
  no_debris ;;
firsthour)
  # The newcomer's sequence (issue 17): the name given to -o is the name
  # trace info and replay take; a replay of a file that is not there (or
  # not a trace) fails in one line and leaves no database behind.
  "$HKSIM" record -o py.hkt -- "$VD/v_ops" "$W/r" return 0 2> err || fail "record"
  "$HKSIM" trace info py.hkt > info || fail "trace info py.hkt"
  "$HKSIM" replay py.hkt --db results.db --backend null --quiet 2> err || fail "replay py.hkt"
  [ -f results.db ] || fail "no results.db"
  "$HKSIM" replay nothere.hkt --db fresh.db --backend null 2> err
  one_line $? 1 'hksim: nothere.hkt: No such file or directory'
  [ ! -e fresh.db ] || fail "a failed replay created fresh.db"
  printf 'not a trace\n' > junk.hkt
  "$HKSIM" replay junk.hkt --db fresh.db --backend null 2> err
  one_line $? 1 'hksim: junk.hkt: not a hakmem-sim trace'
  [ ! -e fresh.db ] || fail "a failed replay created fresh.db" ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
echo "PASS [$CASE]"
