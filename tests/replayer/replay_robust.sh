#!/bin/sh
# replay_robust.sh: hksim replay under hostile or unlucky conditions
# (integration test, issue 10): the memory cap (--mem-limit), concurrent
# sessions sharing one database, a damaged prepared-program cache, SIGINT
# and SIGTERM to a session, a write error while storing a run; control
# characters in a trace's strings; a foreign database given to report.
# Traces are hand-made by tests/traces/mktrace.
. "$(dirname "$0")/../lib.sh"
H=${HKSIM_BUILD:?}/bin/hksim
MK=$HKSIM_BUILD/tests/traces/mktrace
hk_tmpdir robust
export GLIBC_TUNABLES=glibc.rtld.optional_static_tls=65536
export HKSIM_CACHE_DIR="$T/default-cache"

# ---- memory cap --------------------------------------------------------
# One successful malloc(64 GiB): refused before any run, quickly, naming
# both figures; nothing is run (the OOM killer fired here before).
"$MK" "$T/big.hkt" m:68719476736 f:0 || bad "mktrace big"
t0=$(date +%s)
"$H" replay "$T/big.hkt" --db "$T/m.db" --backend null,glibc --quiet >/dev/null 2>"$T/err"
check "64 GiB trace: exit 1" "$?" 1
check "64 GiB trace: refused within 5 s" "$(( $(date +%s) - t0 < 5 ))" 1
has "64 GiB trace: names its need" "needs 64.0 GiB" "$T/err"
has "64 GiB trace: names the default cap" "more than --mem-limit .* the default: half of" "$T/err"
check "64 GiB trace: one line" "$(wc -l <"$T/err")" 1
check "64 GiB trace: no run stored" "$(sqlite3 "$T/m.db" 'SELECT COUNT(*) FROM runs')" 0
# A 1 TiB calloc under --touch check (the null back end spun for minutes).
"$MK" "$T/tera.hkt" c:1024:1073741824 f:0 || bad "mktrace tera"
t0=$(date +%s)
"$H" replay "$T/tera.hkt" --db "$T/m.db" --backend null --touch check --quiet >/dev/null 2>"$T/err"
check "1 TiB calloc: exit 1" "$?" 1
check "1 TiB calloc: refused within 5 s" "$(( $(date +%s) - t0 < 5 ))" 1
has "1 TiB calloc: names its need" "needs 1.0 TiB" "$T/err"
# An explicit cap below the trace's peak: both figures named.
"$MK" "$T/mid.hkt" m:104857600 f:0 || bad "mktrace mid"
"$H" replay "$T/mid.hkt" --db "$T/m.db" --backend glibc --mem-limit 64M --quiet >/dev/null 2>"$T/err"
check "100 MiB trace under 64M: exit 1" "$?" 1
has "100 MiB trace under 64M: both figures" "peak live bytes 100.0 MiB plus the harness), more than --mem-limit 64.0 MiB: not replayed" "$T/err"
"$H" replay "$T/mid.hkt" --db "$T/m.db" --backend glibc --mem-limit 1G --quiet >/dev/null 2>"$T/err"
check "100 MiB trace under 1G: runs" "$?" 0
# A run that crosses the cap anyway: the trace's peak live bytes (24 MiB
# plus the harness) pass the check before the run, but a realloc that
# moves holds the old block and the new one at once: 20 + 24 MiB live in
# the null back end, which cannot grow a block that is not its last. The
# run fails with the cap in its stored error, not "killed by signal 9";
# the next run (glibc grows the mapping with mremap) goes on.
"$MK" "$T/grow.hkt" m:20971520 m:16 r:0:25165824 f:0 f:1 || bad "mktrace grow"
"$H" replay "$T/grow.hkt" --db "$T/m.db" --backend null,glibc --mem-limit 32M --quiet >/dev/null 2>"$T/err"
check "crossing the cap: exit 1" "$?" 1
check "crossing the cap: null failed, glibc done" \
  "$(sqlite3 "$T/m.db" "SELECT group_concat(backend || ':' || status, ' ') FROM (SELECT * FROM runs WHERE trace_id = (SELECT trace_id FROM traces WHERE name = 'grow.hkt') ORDER BY run_id)")" \
  "null:failed glibc:done"
check "crossing the cap: stored error" \
  "$(sqlite3 "$T/m.db" "SELECT error FROM runs WHERE backend = 'null' AND status = 'failed'")" \
  "out of memory under --mem-limit 32.0 MiB: realloc of 24.0 MiB at op 2 refused with 20.0 MiB live"
check "crossing the cap: the trace stored, its peak live under the cap" \
  "$(sqlite3 "$T/m.db" "SELECT ops, peak_live_bytes < 32 * 1048576 FROM traces WHERE name = 'grow.hkt'")" "5|1"
"$H" replay "$T/grow.hkt" --db "$T/m.db" --backend null --mem-limit none --quiet >/dev/null 2>"$T/err"
check "--mem-limit none: the same run is done" "$?" 0
# Allocating far more than the cap over a run while holding little: the
# null back end reuses freed blocks, so 1000 x (malloc 1 MiB, free), 1000
# MiB in all, and mir (256 KiB blocks, 5 GiB in all) replay under 32M.
"$MK" "$T/loop1000.hkt" loop:1000:1048576 || bad "mktrace loop1000"
"$MK" "$T/loop.hkt" loop:100:1048576 || bad "mktrace loop"
"$H" gen mir -o "$T/mir.hkt" --scale 200 >/dev/null || bad "gen mir"
"$H" replay "$T/loop1000.hkt" "$T/mir.hkt" --db "$T/m.db" --backend null --mem-limit 32M --quiet >/dev/null 2>"$T/err"
check "1000 MiB allocated, 1 MiB live, under 32M: done" "$?" 0
check "... both runs done, no refused allocation" \
  "$(sqlite3 "$T/m.db" "SELECT group_concat(status || ':' || alloc_failures, ' ') FROM (SELECT * FROM runs WHERE backend = 'null' AND trace_id IN (SELECT trace_id FROM traces WHERE name IN ('loop1000.hkt', 'mir.hkt')) ORDER BY run_id)")" \
  "done:0 done:0"
for v in 0 -1 12Q abc ""; do
  "$H" replay "$T/loop.hkt" --db "$T/m.db" --mem-limit "$v" --quiet >/dev/null 2>"$T/err"
  check "--mem-limit '$v' is a usage error" "$?" 2
done
"$H" replay "$T/loop.hkt" --db "$T/m.db" --mem-limit >/dev/null 2>"$T/err"
check "--mem-limit without a value: exit 2" "$?" 2

# ---- concurrent sessions -----------------------------------------------
# Three sessions store the same (large enough) trace into one new database
# at once: all succeed, every run is stored once, repeat numbers differ.
"$H" gen mixed -o "$T/mixed.hkt" --scale 5 >/dev/null || bad "gen mixed"
pids=""
for i in 1 2 3; do
  "$H" replay "$T/mixed.hkt" --db "$T/c.db" --backend null,glibc --per-op none \
    --no-cache --quiet >"$T/c$i.out" 2>"$T/c$i.err" &
  pids="$pids $!"
done
st=0
for p in $pids; do wait "$p" || st=$((st + 1)); done
check "concurrent sessions: all exit 0" "$st" 0
check "concurrent sessions: no errors" "$(cat "$T"/c?.err)" ""
check "concurrent sessions: trace stored once" "$(sqlite3 "$T/c.db" 'SELECT COUNT(*) FROM traces')" 1
check "concurrent sessions: 6 runs done" "$(sqlite3 "$T/c.db" "SELECT COUNT(*) FROM runs WHERE status = 'done'")" 6
check "concurrent sessions: repeats unique per back end" \
  "$(sqlite3 "$T/c.db" "SELECT COUNT(DISTINCT backend || '/' || repeat) FROM runs")" 6
check "concurrent sessions: repeats 0,1,2" \
  "$(sqlite3 "$T/c.db" "SELECT group_concat(repeat) FROM (SELECT repeat FROM runs WHERE backend = 'null' ORDER BY repeat)")" "0,1,2"

# ---- cache integrity ---------------------------------------------------
# Single-bit flips anywhere in a cached program (header, ops, caller
# table): the program is rebuilt with a one-line notice, and the run has
# the clean run's digest and op count.
"$H" gen mixed -o "$T/small.hkt" >/dev/null
C="$T/cache"
"$H" replay "$T/small.hkt" --db "$T/k.db" --backend hakmem --cache-dir "$C" --quiet >/dev/null 2>&1
clean=$(sqlite3 "$T/k.db" "SELECT ops || ' ' || digest FROM runs")
f=$(ls "$C"/*.hkp)
size=$(stat -c %s "$f")
for off in 9 40 200 700 5000 $((size / 2)) $((size - 3)); do
  python3 -c "import sys
p, o = sys.argv[1], int(sys.argv[2])
b = bytearray(open(p, 'rb').read()); b[o] ^= 0x10; open(p, 'wb').write(b)" "$f" "$off"
  "$H" replay "$T/small.hkt" --db "$T/k.db" --backend hakmem --cache-dir "$C" --quiet >/dev/null 2>"$T/err"
  check "cache bit flip at $off: exit 0" "$?" 0
  check "cache bit flip at $off: same ops and digest" \
    "$(sqlite3 "$T/k.db" "SELECT ops || ' ' || digest FROM runs ORDER BY run_id DESC LIMIT 1")" "$clean"
  has "cache bit flip at $off: notice" "rebuilding" "$T/err"
  check "cache bit flip at $off: one line" "$(wc -l <"$T/err")" 1
done
"$H" replay "$T/small.hkt" --db "$T/k.db" --backend hakmem --cache-dir "$C" --quiet >/dev/null 2>"$T/err"
check "rebuilt cache is used silently" "$(cat "$T/err")" ""

# ---- interruption ------------------------------------------------------
# SIGINT or SIGTERM while a run is in progress: that run is stored failed
# ("interrupted by SIGINT"), no other run starts, the temporary directory
# is removed, exit 130 / 143. Runs are 400 x memset of 16 MiB (seconds).
"$MK" "$T/long.hkt" loop:400:16777216 || bad "mktrace long"
for sig in INT TERM; do
  mkdir -p "$T/tmp$sig"
  TMPDIR="$T/tmp$sig" "$H" replay "$T/long.hkt" --db "$T/i$sig.db" --backend glibc \
    --touch full --per-op none --repeat 50 --quiet >/dev/null 2>"$T/err" &
  pid=$!
  n=0
  until [ "$(sqlite3 "$T/i$sig.db" "SELECT COUNT(*) FROM runs WHERE status = 'running'" 2>/dev/null)" = 1 ] || [ $n -ge 400 ]; do
    sleep 0.05; n=$((n + 1))
  done
  kill -$sig $pid
  wait $pid
  rc=$?
  want=130; [ $sig = TERM ] && want=143
  check "SIG$sig: exit $want" "$rc" "$want"
  check "SIG$sig: the run stored failed, none running, none after" \
    "$(sqlite3 "$T/i$sig.db" "SELECT group_concat(status || ':' || COALESCE(error, '')) FROM runs")" \
    "failed:interrupted by SIG$sig"
  has "SIG$sig: one line says so" "interrupted by SIG$sig: run 1 stored as failed" "$T/err"
  check "SIG$sig: temporary directory removed" "$(ls -A "$T/tmp$sig")" ""
done

# ---- a write error while storing a run ---------------------------------
# A file-size limit (EFBIG) stands in for a full disk: the stored error is
# SQLite's own, read before the ROLLBACK (it was "cannot rollback - no
# transaction is active"), and the run ends failed, not running.
# 100 KB: room for the child's result (40 KB), not for the run's rows.
# ulimit -f counts 512-byte blocks in dash, 1024 in bash: probe which.
(trap '' XFSZ; ulimit -f 1; head -c 1000 /dev/zero >"$T/probe" 2>/dev/null)
blocks=$((102400 / $(stat -c %s "$T/probe")))
"$H" replay "$T/small.hkt" --db "$T/f.db" --backend null --per-op none --quiet >/dev/null 2>&1
(trap '' XFSZ; ulimit -f $blocks; "$H" replay "$T/small.hkt" --db "$T/f.db" --backend glibc --per-op all --quiet >/dev/null 2>"$T/err")
check "write error: exit 1" "$?" 1
has "write error: the real message" "storing run 2: disk I/O error" "$T/err"
if grep -q "cannot rollback" "$T/err"; then bad "write error: rollback's message shown"; else ok "write error: not rollback's message"; fi
check "write error: run failed with it" \
  "$(sqlite3 "$T/f.db" "SELECT status || ':' || error FROM runs WHERE run_id = 2")" \
  "failed:storing the run: disk I/O error"

# ---- hostile strings and foreign databases -----------------------------
# Control characters in a trace's exe, thread name and module path are
# escaped by dump, info (text and JSON) and report: no forged event line,
# no terminal escape reaches the output.
ESC=$(printf '\033')
"$MK" "$T/ctl.hkt" 'exe=evil\nt=9 th=0 malloc size=1 ptr=0x1 site=1\e[31m' \
  'tname=t\rX' 'module=/lib/a\x07b.so' m:64 f:0 || bad "mktrace ctl"
"$H" trace dump "$T/ctl.hkt" >"$T/out" 2>&1
check "dump: only the two real event lines" "$(grep -c '^t=' "$T/out")" 2
check "dump: no escape byte" "$(grep -c "$ESC" "$T/out")" 0
hasf "dump: exe shown escaped" 'exe=evil\nt=9 th=0 malloc size=1 ptr=0x1 site=1\x1b[31m' "$T/out"
hasf "dump: thread name escaped" 'name=t\rX' "$T/out"
hasf "dump: module path escaped" 'path=/lib/a\x07b.so' "$T/out"
"$H" trace info "$T/ctl.hkt" >"$T/out" 2>&1
check "info: no escape byte, no forged line" "$(grep -c -e "$ESC" -e '^t=9' "$T/out")" 0
"$H" trace info "$T/ctl.hkt" --json >"$T/out" 2>&1
check "info --json: exe round-trips" "$(python3 -c "import json,sys; print(repr(json.load(open(sys.argv[1]))['exe']))" "$T/out")" \
  "'evil\\nt=9 th=0 malloc size=1 ptr=0x1 site=1\\x1b[31m'"
"$H" replay "$T/ctl.hkt" --db "$T/ctl.db" --backend null --quiet >/dev/null 2>&1
for f in md csv tex; do
  "$H" report --db "$T/ctl.db" --format $f >"$T/out" 2>&1
  check "report --format $f: no escape byte, no forged line" "$(grep -c -e "$ESC" -e '^t=9' "$T/out")" 0
done
# A foreign database with tables named runs and traces: refused, unchanged.
sqlite3 "$T/foreign.db" "CREATE TABLE traces(a); CREATE TABLE runs(b); INSERT INTO runs VALUES (1)"
cp "$T/foreign.db" "$T/foreign.orig"
"$H" report --db "$T/foreign.db" >/dev/null 2>"$T/err"
check "foreign database: exit 1" "$?" 1
has "foreign database: says so" "not a hakmem-sim results database" "$T/err"
cmp -s "$T/foreign.db" "$T/foreign.orig" && ok "foreign database: byte for byte unchanged" \
  || bad "foreign database: modified ($(sqlite3 "$T/foreign.db" 'SELECT COUNT(*) FROM sqlite_master') objects)"

# ---- prepare cost, said before preparing --------------------------------
# 1.2 M identical events zstd-compress to a few KB: counted before prepare
# and refused in one line naming the figures and the override, quickly,
# with nothing prepared or run; --max-expansion none replays it.
"$MK" "$T/bomb.hkt" loop:600000:64 || bad "mktrace bomb"
mkdir -p "$T/bomb-cache"
start=$(date +%s)
"$H" replay "$T/bomb.hkt" --db "$T/bomb.db" --backend null --cache-dir "$T/bomb-cache" --quiet >/dev/null 2>"$T/err"
check "bomb: exit 1" "$?" 1
check "bomb: one line" "$(wc -l <"$T/err")" 1
has "bomb: names the figures" "bytes decode to 1200000 events ([0-9]* per byte, over --max-expansion 64" "$T/err"
has "bomb: names the cost" "about 36.6 MiB of prepared program" "$T/err"
has "bomb: names the override" "(--max-expansion none replays it)" "$T/err"
check "bomb: nothing prepared" "$(ls "$T/bomb-cache" | wc -l)" 0
[ -e "$T/bomb.db" ] && bad "bomb: a database was created" || ok "bomb: no database created"
[ $(( $(date +%s) - start )) -le 5 ] && ok "bomb: refused quickly" || bad "bomb: refusal took over 5 s"
"$H" replay "$T/bomb.hkt" --db "$T/bomb.db" --backend null --cache-dir "$T/bomb-cache" --per-op none --max-expansion none --quiet >/dev/null 2>"$T/err"
check "bomb with --max-expansion none: exit 0" "$?" 0
check "bomb with --max-expansion none: its ops run" \
  "$(sqlite3 "$T/bomb.db" "SELECT status, ops FROM runs" | tr '|' ' ')" "done 1200000"
"$H" replay "$T/bomb.hkt" --db "$T/bomb.db" --backend null --max-expansion 0 >/dev/null 2>"$T/err"
check "--max-expansion 0: usage error" "$?" 2
"$H" replay "$T/bomb.hkt" --db "$T/bomb.db" --backend null --max-expansion 5x >/dev/null 2>"$T/err"
check "--max-expansion 5x: usage error" "$?" 2
has "--max-expansion 5x: says so" "bad --max-expansion '5x'" "$T/err"
# The cost is said (on stderr) with --progress, before preparing.
"$H" replay "$T/loop.hkt" --db "$T/bomb.db" --backend null --per-op none --progress >/dev/null 2>"$T/err"
has "cost said with --progress" "loop.hkt: 200 events: about 6.2 KiB of prepared program" "$T/err"

# ---- progress of the long steps (common/hk_progress) -----------------------
# With --progress: prepare and store name their phase and end with their
# count; without a terminal and without --progress: not a byte of it.
"$H" replay "$T/loop.hkt" --db "$T/prog.db" --backend null --per-op none --progress --no-cache >/dev/null 2>"$T/err"
has "--progress: prepare's end line" "loop.hkt: preparing 200 ops in [0-9.]* s" "$T/err"
has "--progress: store's end line" "loop.hkt: storing 200 ops in [0-9.]* s" "$T/err"
"$H" replay "$T/loop.hkt" --db "$T/prog2.db" --backend null --per-op none --no-cache >/dev/null 2>"$T/err"
check "no terminal, no --progress: no progress output" "$(grep -c 'preparing\|storing\|ETA' "$T/err")" 0

# ---- crafted headers -----------------------------------------------------
# Header fields readers use as a unit, a divisor or a bound are refused in
# one line naming the field, exit 1, by every command; replay creates no
# database for them.
hdr_case() { # NAME EXPECTED-TEXT MKTRACE-HEADER-WORDS...
  name=$1 want=$2; shift 2
  "$MK" "$T/h-$name.hkt" "$@" m:64 f:0 || { bad "mktrace $name"; return; }
  for cmd in info verify dump; do
    "$H" trace $cmd "$T/h-$name.hkt" >/dev/null 2>"$T/err"
    check "header $name: trace $cmd exit 1" "$?" 1
    check "header $name: trace $cmd one line" "$(wc -l <"$T/err")" 1
    hasf "header $name: trace $cmd names the field" "$want" "$T/err"
  done
  "$H" replay "$T/h-$name.hkt" --db "$T/h-$name.db" --backend null --quiet >/dev/null 2>"$T/err"
  check "header $name: replay exit 1" "$?" 1
  hasf "header $name: replay names the field" "$want" "$T/err"
  [ -e "$T/h-$name.db" ] && bad "header $name: replay created a database" || ok "header $name: no database"
}
hdr_case hz0 "tick_hz is 0" clock=2 tick_hz=0
hdr_case hz0mono "tick_hz is 0" clock=1 tick_hz=0
hdr_case clock0 "unknown clock 0" clock=0
hdr_case clock9 "unknown clock 9" clock=9
hdr_case depth "stack depth 1000000 is over the maximum of 64" depth=1000000
hdr_case monohz "tick_hz 5 for a monotonic clock" clock=1 tick_hz=5
hdr_case tscslow "tick_hz 10 for the tsc clock is out of range" clock=2 tick_hz=10
hdr_case tscfast "tick_hz 18446744073709551615 for the tsc clock is out of range" \
  clock=2 tick_hz=18446744073709551615
# The edges that are valid still read.
"$MK" "$T/h-ok.hkt" clock=2 tick_hz=1000000 depth=64 m:64 f:0 || bad "mktrace h-ok"
"$H" trace verify "$T/h-ok.hkt" >/dev/null 2>"$T/err"
check "header at the edges (1 MHz tsc, depth 64): verify exit 0" "$?" 0

# ---- small ones ----------------------------------------------------------
: >"$T/empty.hkt"
head -c 30 "$T/small.hkt" >"$T/cut.hkt"
for cmd in info verify dump; do
  "$H" trace $cmd "$T/empty.hkt" >/dev/null 2>"$T/err"
  check "empty file: trace $cmd exit 1" "$?" 1
  has "empty file: trace $cmd names it" "empty file, not a trace" "$T/err"
  "$H" trace $cmd "$T/cut.hkt" >/dev/null 2>"$T/err"
  has "cut header: trace $cmd names it" "file ends inside the trace header, after 30 bytes" "$T/err"
done
"$H" replay "$T/empty.hkt" --db "$T/s.db" --quiet >/dev/null 2>"$T/err"
has "empty file: replay names it" "empty file, not a trace" "$T/err"
# A trace cut inside its first events chunk: nothing to replay, an error.
head -c 3000 "$T/small.hkt" >"$T/trunc.hkt"
"$H" trace verify "$T/trunc.hkt" >/dev/null 2>"$T/err"
check "verify: 'bytes readable' said once" "$(grep -o 'bytes readable' "$T/err" | wc -l)" 1
"$H" replay "$T/trunc.hkt" --db "$T/s.db" --backend null --quiet >/dev/null 2>"$T/err"
check "no readable op: exit 1" "$?" 1
has "no readable op: says so" "no readable op before it: not replayed" "$T/err"
# Cut later: the readable part replays, done, with the damage noted.
"$H" gen mixed -o "$T/big-mixed.hkt" --scale 20 >/dev/null # 4 events chunks
size=$(stat -c %s "$T/big-mixed.hkt")
head -c $((size * 2 / 3)) "$T/big-mixed.hkt" >"$T/part.hkt"
"$H" replay "$T/part.hkt" --db "$T/s.db" --backend null --per-op none --quiet >/dev/null 2>"$T/err"
check "part of a trace: exit 0" "$?" 0
has "part of a trace: damage noted" "trace damaged from offset [0-9]*: only the [0-9]* ops before it replayed" "$T/err"
check "part of a trace: run done with some ops" \
  "$(sqlite3 "$T/s.db" "SELECT r.status, r.ops > 0, t.damaged FROM runs r JOIN traces t USING (trace_id)" | tr '|' ' ')" "done 1 1"
# Each run of it carries the warning: stored (runs.warning, run_summary)
# and printed after the run, once per run.
"$H" replay "$T/part.hkt" --db "$T/part.db" --backend null,glibc --per-op none --quiet >/dev/null 2>"$T/err"
check "part of a trace: a warning line per run" "$(grep -c "^hksim: part.hkt: run [0-9]* (.*): warning: trace damaged from offset" "$T/err")" 2
check "part of a trace: warning stored with each run" \
  "$(sqlite3 "$T/part.db" "SELECT COUNT(*) FROM run_summary WHERE status = 'done' AND warning LIKE 'trace damaged from offset %: only the ' || ops || ' ops before it replayed'")" 2
check "a whole trace: no warning" "$(sqlite3 "$T/bomb.db" "SELECT COUNT(*) FROM runs WHERE warning IS NOT NULL")" 0
# Cut exactly before its end-of-trace summary (a recording killed between
# chunks): every chunk is whole, yet the runs say the end is missing.
python3 - "$T/big-mixed.hkt" "$T/nosum.hkt" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
off = 16 + struct.unpack_from("<I", b, 12)[0] + 8
last = off
while off < len(b):
    last = off
    off += 24 + struct.unpack_from("<I", b, off + 8)[0]
assert b[last + 4] == 5, "last chunk is not the summary"
open(sys.argv[2], "wb").write(b[:last])
PY
"$H" replay "$T/nosum.hkt" --db "$T/part.db" --backend null --per-op none --quiet >/dev/null 2>"$T/err"
check "no summary: exit 0" "$?" 0
has "no summary: warning printed" "run [0-9]* (null): warning: trace has no end-of-trace summary (the recording was cut short)" "$T/err"
check "no summary: warning stored" \
  "$(sqlite3 "$T/part.db" "SELECT COUNT(*) FROM runs r JOIN traces t USING (trace_id) WHERE t.name = 'nosum.hkt' AND r.warning LIKE 'trace has no end-of-trace summary%'")" 1
# gen never replaces a file silently.
cp "$T/small.hkt" "$T/keep.hkt"
"$H" gen json -o "$T/keep.hkt" >/dev/null 2>"$T/err"
check "gen onto an existing file: exit 1" "$?" 1
has "gen onto an existing file: says so" "file exists (--force replaces it)" "$T/err"
cmp -s "$T/small.hkt" "$T/keep.hkt" && ok "gen: the file is kept" || bad "gen: the file was replaced"
"$H" gen json -o "$T/keep.hkt" --force >/dev/null 2>"$T/err"
check "gen --force replaces it" "$?" 0
"$H" report --db >/dev/null 2>"$T/err"
check "report --db without a value: exit 2" "$?" 2
has "report --db without a value: says so" "needs a value" "$T/err"
"$H" replay "$T/small.hkt" --db "$T/s.db" --backend "" --quiet >/dev/null 2>"$T/err"
check "--backend '': exit 2" "$?" 2
"$H" replay "$T/small.hkt" --db "$T/s.db" --backend glibc --policy elo --per-op none --quiet >/dev/null 2>"$T/err"
check "--policy with glibc only: runs" "$?" 0
has "--policy with glibc only: warns" "policy applies to hakmem only" "$T/err"

hk_done
