# tests/lib.sh: the preamble the shell tests share. Sourced first thing:
#   . "$(dirname "$0")/../lib.sh"
# Two styles of test use it:
#  - tallying (goes on after a failure, counts, ends with hk_done):
#    ok WHAT, bad WHAT, check WHAT GOT WANT, has WHAT REGEX FILE,
#    hasf WHAT TEXT FILE, check_exit WANT_RC WHAT CMD... (stdout and
#    stderr in $T/out and $T/err), one_line TEXT ($T/err is exactly one
#    line holding TEXT);
#  - stopping (the recorder's case scripts): their own fail, which exits.
# Both make their scratch directory with hk_tmpdir.

set -u
fails=0

# hk_tmpdir NAME: a fresh directory $T (/tmp/hksim-NAME.XXXXXX), removed
# at exit however the test ends (made writable first: some tests take the
# write bit away to provoke errors).
hk_tmpdir() {
  T=$(mktemp -d "${TMPDIR:-/tmp}/hksim-$1.XXXXXX") || {
    echo "FAIL - cannot make a temporary directory"
    exit 1
  }
  trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
}

ok() { echo "ok - $1"; }
bad() { echo "FAIL - $1"; fails=$((fails + 1)); }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi; }
has() { if grep -q -- "$2" "$3"; then ok "$1"; else bad "$1: no '$2' in: $(cat "$3")"; fi; }
hasf() { if grep -qF -- "$2" "$3"; then ok "$1"; else bad "$1: no such text in: $(cat "$3")"; fi; }

check_exit() {
  _want=$1 _what=$2
  shift 2
  "$@" > "$T/out" 2> "$T/err"
  _rc=$?
  if [ "$_rc" != "$_want" ]; then
    bad "$_what: exit $_rc, want $_want"
    cat "$T/out" "$T/err"
  fi
}
one_line() {
  if [ "$(wc -l < "$T/err")" != 1 ] || ! grep -q -- "$1" "$T/err"; then
    bad "want one line with '$1', got:"
    cat "$T/err"
  fi
}

# Ends a tallying test: the count, and its exit status.
hk_done() {
  echo "$fails failure(s)"
  [ "$fails" -eq 0 ] && exit 0
  exit 1
}
