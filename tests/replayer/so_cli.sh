#!/bin/sh
# so_cli.sh: the library back end `--backend so:PATH[:prefix=P]` end to end
# (integration test): Debian's jemalloc and mimalloc loaded by path, a
# prefixed API (mi_), the stored path, build id and version, the decision
# digest equal to every other back end's without decisions, and the bad
# cases: a missing library and one that defines no malloc fail their run
# with the reason (exit 1, the other runs kept); a malformed name is a
# usage error (exit 2) that writes nothing.
. "$(dirname "$0")/../lib.sh"
H=${HKSIM_BUILD:?}/bin/hksim
hk_tmpdir so
q() { sqlite3 "$T/r.db" "$1"; }

"$H" gen mixed -o "$T/m.hkt" --seed 3 >/dev/null || bad "gen mixed"
MI=$(ls /usr/lib/*/libmimalloc.so.2 /usr/lib/libmimalloc.so.2 2>/dev/null | head -1)
JE=$(ls /usr/lib/*/libjemalloc.so.2 /usr/lib/libjemalloc.so.2 2>/dev/null | head -1)
if [ -z "$MI" ] || [ -z "$JE" ]; then
  echo "skip - libmimalloc.so.2 or libjemalloc.so.2 not installed"; exit 0
fi
if ! "$H" replay "$T/m.hkt" --db "$T/probe.db" --backend "so:$MI" --quiet \
    --per-op none >/dev/null 2>"$T/err"; then
  if grep -q sanitizer "$T/err"; then echo "skip - sanitizer build"; exit 0; fi
  bad "probe: $(cat "$T/err")"
fi

"$H" replay "$T/m.hkt" --db "$T/r.db" --backend "so:$JE,so:$MI,so:$MI:prefix=mi_,glibc" \
  --per-op sample:16 --quiet >"$T/out" 2>"$T/err"
check "so runs exit" "$?" 0
check "so runs done" "$(q "SELECT COUNT(*) FROM runs WHERE status='done' AND backend LIKE 'so:%'")" 3
check "backend stored as given" "$(q "SELECT COUNT(*) FROM runs WHERE backend='so:$JE'")" 1
check "jemalloc version and build id stored" \
  "$(q "SELECT backend_version GLOB 'jemalloc 5*(/*libjemalloc.so.2, build-id [0-9a-f]*)' FROM runs WHERE backend='so:$JE'")" 1
check "mimalloc version via prefix" \
  "$(q "SELECT backend_version GLOB 'mimalloc 2*libmimalloc.so.2*' FROM runs WHERE backend='so:$MI:prefix=mi_'")" 1
check "build id is 40 hex digits" \
  "$(q "SELECT length(substr(backend_version, instr(backend_version, 'build-id ') + 9, 40)) FROM runs WHERE backend='so:$MI'")" 40
check "one digest for the three libraries (no decisions)" \
  "$(q "SELECT COUNT(DISTINCT digest) FROM runs WHERE backend LIKE 'so:%'")" 1
check "same ops as glibc" "$(q "SELECT COUNT(DISTINCT ops) FROM runs")" 1
check "latencies were timed" "$(q "SELECT MIN(ops_timed) > 0 FROM runs")" 1

DONE=$(q "SELECT COUNT(*) FROM runs")
"$H" replay "$T/m.hkt" --db "$T/r.db" --backend "so:$T/missing.so,glibc" --quiet \
  >/dev/null 2>"$T/err"
check "missing library: exit 1" "$?" 1
grep -q "so:$T/missing.so failed to start: .*missing.so" "$T/err" || bad "missing library: message: $(cat "$T/err")"
check "missing library: run stored failed with the reason" \
  "$(q "SELECT status || ':' || (error LIKE '%missing.so%') FROM runs WHERE backend='so:$T/missing.so'")" "failed:1"
check "missing library: the glibc run still done" \
  "$(q "SELECT COUNT(*) FROM runs WHERE status='done'")" $((DONE + 1))

Z=$(ls /usr/lib/*/libz.so.1 /lib/*/libz.so.1 2>/dev/null | head -1)
if [ -n "$Z" ]; then
  "$H" replay "$T/m.hkt" --db "$T/r.db" --backend "so:$Z" --quiet >/dev/null 2>"$T/err"
  check "no malloc in the library: exit 1" "$?" 1
  grep -q "does not define malloc" "$T/err" || bad "no malloc: message: $(cat "$T/err")"
fi

N=$(q "SELECT COUNT(*) FROM runs")
for spec in "so:" "so" "so:$MI:prefix=" "so:$MI:prefix=a-b"; do
  "$H" replay "$T/m.hkt" --db "$T/r.db" --backend "$spec" --quiet >/dev/null 2>"$T/err"
  check "'$spec': usage error" "$?" 2
  grep -q "bad back end" "$T/err" || bad "'$spec': message: $(cat "$T/err")"
done
check "usage errors wrote nothing" "$(q "SELECT COUNT(*) FROM runs")" "$N"

hk_done
