#!/bin/sh
# bench/fidelity.sh [OUTDIR]: does replay predict live runs? For each of a
# set of allocation-heavy public programs from Debian: python3 (JSON),
# sqlite3, perl (hashes and sort), perl with 2 ithreads (perl-thr), python3
# with 2 producer and 2 consumer threads handing records over a queue, so
# every record is freed by a thread other than the one that made it
# (py-queue), a threaded key-value server on 127.0.0.1
# (bench/fidelity_server.c, 4 workers, 100,000 requests from its own
# client, which runs unrecorded beside every live and recorded run), and
# on request gcc's cc1 on 1500 generated functions (slow live), runs
# `hksim validate` (records once, replays, runs live REPEAT rounds
# interleaved across BACKENDS) and prints the fidelity table and Kendall's
# tau per program, then the average tau and delta_error per replay
# configuration. Each configuration after the first replays the same
# recording against the same live runs (a copy of the database with its
# replay runs replaced). Not a test: nothing gates on the numbers.
#   env: HKSIM (default build/bin/hksim), REPEAT (3), BACKENDS
#        (glibc,mimalloc,jemalloc,tcmalloc), PROGRAMS (names to run),
#        CONFIGS (replay configurations, ';'-separated replay flags, or
#        a preset: main = --threads serial and --threads recorded (the
#        default for a multi-thread recording), the two that matter;
#        all = main and both with --gaps 256K, the default),
#        METRICS (wall cpu: the measures tabled).
# Recordings and live runs are made once per OUTDIR (NAME.db, NAME.hkt);
# running again with the same OUTDIR and other CONFIGS replays only. The
# threaded configuration reuses validate's replays: validate's --threads
# is the default, auto, which is --threads recorded wherever recorded
# applies (a one-thread recording, or hakmem, replays serially either way);
# the serial configuration passes --threads serial.
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
H=${HKSIM:-$HERE/build/bin/hksim}
OUT=${1:-$(mktemp -d /tmp/hksim-fidelity.XXXXXX)}
REPEAT=${REPEAT:-3}
BACKENDS=${BACKENDS:-glibc,mimalloc,jemalloc,tcmalloc}
# xz -T2 and zstd -T2 (the multi-threaded programs of the first two rounds)
# make about 300 allocations: the allocator does not matter to them live.
PROGRAMS=${PROGRAMS:-python3 sqlite3 perl perl-thr py-queue server-4w}
VFLAGS="--touch pages --per-op none" # validate's replay flags
SERIAL="--threads serial $VFLAGS"
THREADED="--threads recorded $VFLAGS" # what validate's replays are
MAIN="$SERIAL;$THREADED"
CONFIGS=${CONFIGS:-all}
case $CONFIGS in
main) CONFIGS=$MAIN ;;
all) CONFIGS="$MAIN;--threads serial --gaps 256K $VFLAGS;--threads recorded --gaps 256K $VFLAGS" ;;
esac
T0=$(date +%s)
SRV=${SRV:-$(dirname "$H")/../bench/fidelity_server}
# Below the ephemeral range (32768-60999), which the client's own sockets use.
PORT=${PORT:-$((20000 + $$ % 10000))}
mkdir -p "$OUT"
export GLIBC_TUNABLES=glibc.rtld.optional_static_tls=65536

# Inputs, made once: 4.3 MB of compressible text for the compressors, a
# generated C file for cc1.
D="$OUT/inputs"
mkdir -p "$D"
if [ ! -s "$D/text" ]; then
  /usr/bin/python3 -c '
import random
r = random.Random(7)
words = ["alloc%d" % i for i in range(3000)]
with open("'"$D"'/text", "w") as f:
    for i in range(150000):
        f.write(" ".join(r.choice(words) for _ in range(3)) + "\n")'
fi
if [ ! -s "$D/cc1.i" ]; then # 1500 small functions: cc1's trees and RTL
  /usr/bin/python3 -c '
with open("'"$D"'/cc1.i", "w") as f:
    for i in range(1500):
        f.write("struct s%d { int a[%d]; double d; struct s%d *next; };\n" % (i, 1 + i % 9, i))
        f.write("int f%d(struct s%d *p, int n) { int t = 0; for (int k = 0; k < n; k++) {"
                " switch ((k * %d) & 7) { case 0: t += p->a[0] * k; break; case 1: t ^= k << 2; break;"
                " case 2: t -= (int)p->d; break; default: t += k %% 7; } p = p->next ? p->next : p; }"
                " return t + %d; }\n" % (i, i, i + 1, i))'
fi
cat >"$D/work.pl" <<'PL'
my %h; my @a;
for my $i (1 .. 300000) { $h{"k$i"} = [$i, "v" x ($i % 40)]; push @a, "s$i" x 3; }
for my $i (1 .. 300000) { delete $h{"k$i"} if $i % 3 == 0; }
my $s = join(",", sort @a[0 .. 50000]); print length($s), " ", scalar(keys %h), "\n";
PL
# perl-thr: the same kind of work in 2 ithreads (each an interpreter of
# its own, allocating through the one malloc).
cat >"$D/thr.pl" <<'PL'
use threads;
sub work { my ($k) = @_; my %h; my @a;
  for my $i (1 .. 120000) { $h{"k$k.$i"} = [$i, "v" x ($i % 40)]; push @a, "s$i" x 3; }
  for my $i (1 .. 120000) { delete $h{"k$k.$i"} if $i % 3 == 0; }
  my $s = join(",", sort @a[0 .. 30000]); return length($s) + scalar(keys %h); }
my @t = map { threads->create(\&work, $_) } 1 .. 2;
my $t = 0; $t += $_->join() for @t; print "$t\n";
PL
# py-queue: records made by 2 producer threads, indexed and dropped by 2
# consumer threads (every record freed on another thread than made it).
cat >"$D/handoff.py" <<'PY'
import threading, queue, sys
N = int(sys.argv[1])
q = queue.Queue(maxsize=256)
def produce(k):
    for i in range(N):
        q.put({"id": i, "k": k, "name": "item-%d-%d" % (k, i),
               "tags": [str(j) for j in range(i % 8)], "v": (i * 1.5, str(i))})
    q.put(None)
def consume(out):
    idx = {}
    while True:
        r = q.get()
        if r is None:
            break
        idx[r["name"]] = (r["tags"], r["v"])
        if len(idx) > 5000:
            idx = {k: v for k, v in list(idx.items())[2500:]}
    out.append(len(idx))
out = []
ts = [threading.Thread(target=produce, args=(k,)) for k in range(2)] + \
     [threading.Thread(target=consume, args=(out,)) for _ in range(2)]
for t in ts: t.start()
for t in ts: t.join()
print(sum(out))
PY
CC1=$(ls /usr/lib/gcc/x86_64-linux-gnu/*/cc1 2>/dev/null | tail -1)

# name|stdin|command
progs() {
  cat <<EOP
python3||/usr/bin/python3 $HERE/tests/recorder/workloads/json_work.py 30000
sqlite3|$HERE/tests/recorder/workloads/sqlite.sql|/usr/bin/sqlite3 -cmd .parameter\\ set\\ @n\\ 40000 :memory:
perl||/usr/bin/perl $D/work.pl
cc1||$CC1 -quiet -O2 $D/cc1.i -o /dev/null
perl-thr||/usr/bin/perl $D/thr.pl
py-queue||/usr/bin/python3 $D/handoff.py 25000
server-4w||$SRV serve $PORT 4 100000
EOP
}

run_one() { # name stdin command...
  name=$1 in=$2
  shift 2
  db="$OUT/$name.db"
  [ -s "$db" ] && return 0
  set -- "$@"
  cpid=
  case $name in server*) # its client, unrecorded, for every run in turn
    "$SRV" client "$PORT" 4 3600 >/dev/null 2>&1 &
    cpid=$! ;;
  esac
  if [ -n "$in" ]; then
    "$H" validate --db "$db" --repeat "$REPEAT" --backend "$BACKENDS" \
      --trace "$OUT/$name.hkt" --stdin "$in" -- "$@" >"$OUT/$name.log" 2>&1
  else
    "$H" validate --db "$db" --repeat "$REPEAT" --backend "$BACKENDS" \
      --trace "$OUT/$name.hkt" -- "$@" >"$OUT/$name.log" 2>&1
  fi
  rc=$?
  [ -n "$cpid" ] && kill "$cpid" 2>/dev/null
  echo "$name: validate exit $rc ($(grep -c '^live' "$OUT/$name.log") live runs)" >&2
}

progs | while IFS='|' read -r name in cmd; do
  case " $PROGRAMS " in *" $name "*) ;; *) continue ;; esac
  # shellcheck disable=SC2086
  eval "run_one \"$name\" \"$in\" $cmd"
done

# A configuration's databases are named by its flags (cksum), not by its
# place in CONFIGS: a later run with another CONFIGS list must neither
# reuse a database replayed with other flags nor print it under these.
cfg_id() { printf '%s' "$1" | cksum | cut -d' ' -f1; }

# Replay configurations: the threaded one is the one validate made, when
# validate's default was auto (a database of an older hksim, whose default
# was serial, has no threaded run of a multi-thread recording: the
# configuration is then replayed afresh).
echo "$CONFIGS" | tr ';' '\n' | while read -r flags; do
  i=$(cfg_id "$flags")
  for name in $PROGRAMS; do
    [ -s "$OUT/$name.db" ] || continue
    db="$OUT/$name.c$i.db"
    if [ ! -s "$db" ] && [ "$flags" = "$THREADED" ] &&
      [ "$(sqlite3 "$OUT/$name.db" "SELECT (SELECT COUNT(*) FROM threads) <= 1
          OR EXISTS (SELECT 1 FROM runs WHERE replay_threads > 1)")" = 1 ]; then
      cp "$OUT/$name.db" "$db" # validate replayed with these flags
    elif [ ! -s "$db" ]; then
      # A fresh database (this program's schema), the live runs copied in
      # by the trace's content hash.
      # shellcheck disable=SC2086
      "$H" replay "$OUT/$name.hkt" --db "$db" --backend "$BACKENDS" \
        --repeat "$REPEAT" --quiet $flags >/dev/null 2>"$OUT/$name.c$i.err"
      sqlite3 "$db" "ATTACH '$OUT/$name.db' AS o;
        INSERT INTO live_runs(trace_id, backend, policy, repeat, command,
          preload, status, exit_code, error, wall_ns, user_ns, sys_ns,
          max_rss_bytes, minor_faults, major_faults, started_at, host)
        SELECT t.trace_id, l.backend, l.policy, l.repeat, l.command, l.preload,
          l.status, l.exit_code, l.error, l.wall_ns, l.user_ns, l.sys_ns,
          l.max_rss_bytes, l.minor_faults, l.major_faults, l.started_at, l.host
        FROM o.live_runs l JOIN o.traces ot ON ot.trace_id = l.trace_id
        JOIN traces t ON t.content_hash = ot.content_hash"
    fi
  done
done

# Tables per configuration and measure: wall (a live run's wall time
# against the replay loop's) and cpu (user + system time against the
# loop's CPU time; docs/backends.md).
echo "$CONFIGS" | tr ';' '\n' | while read -r flags; do
  i=$(cfg_id "$flags")
  for metric in ${METRICS:-wall cpu}; do
  echo
  echo "## replay $flags: $metric times"
  echo
  echo "| program | back end | live s [95% CI] | replay ms [95% CI] | live rank | replay rank | live - mimalloc s | replay - mimalloc s | outside live CI |"
  echo "|---|---|---|---|---:|---:|---:|---:|---|"
  for name in $PROGRAMS; do
    [ -s "$OUT/$name.c$i.db" ] || continue
    sqlite3 -separator ' | ' "$OUT/$name.c$i.db" "SELECT '| $name', f.backend,
      printf('%.3f [%.3f, %.3f]', f.live_s, f.live_ci_lo, f.live_ci_hi),
      printf('%.1f [%.1f, %.1f]', f.replay_ns/1e6, f.replay_ci_lo/1e6, f.replay_ci_hi/1e6),
      f.live_rank, f.replay_rank,
      CASE WHEN d.live_delta_s IS NULL THEN '' ELSE printf('%+.3f', d.live_delta_s) END,
      CASE WHEN d.replay_delta_s IS NULL THEN '' ELSE printf('%+.3f', d.replay_delta_s) END,
      CASE d.significant WHEN 1 THEN 'yes' WHEN 0 THEN 'no' ELSE '' END || ' |'
      FROM fidelity_by_metric f LEFT JOIN fidelity_delta_by_metric d
        ON d.metric = f.metric AND d.trace_id = f.trace_id
       AND d.backend = f.backend AND d.policy IS f.policy
      WHERE f.metric = '$metric' ORDER BY f.live_rank, f.backend"
  done
  echo
  echo "| program | back ends | Kendall's tau | tau-b (live ties) | pairs live separates | Somers' d | delta_error (significant back ends) |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for name in $PROGRAMS; do
    [ -s "$OUT/$name.c$i.db" ] || continue
    sqlite3 -separator ' | ' "$OUT/$name.c$i.db" "SELECT '| $name', backends,
      printf('%.2f', kendall_tau),
      CASE WHEN kendall_tau_b IS NULL THEN 'n/a' ELSE printf('%.2f', kendall_tau_b) END,
      live_separated_pairs,
      CASE WHEN somers_d IS NULL THEN 'n/a' ELSE printf('%.2f', somers_d) END,
      CASE WHEN delta_error IS NULL THEN 'n/a (no significant live difference)'
           ELSE printf('%.0f%%', 100 * delta_error) END || ' |'
      FROM fidelity_summary_by_metric WHERE metric = '$metric'"
  done
  # Averages over programs (tau-b and Somers' d over the programs where
  # live runs separate at least one pair).
  tau=0 n=0 de=0 nd=0 tb=0 nb=0 sd=0
  for name in $PROGRAMS; do
    [ -s "$OUT/$name.c$i.db" ] || continue
    set -- $(sqlite3 -separator ' ' "$OUT/$name.c$i.db" "SELECT COALESCE(kendall_tau, 'x'), COALESCE(delta_error, 'x'), COALESCE(kendall_tau_b, 'x'), COALESCE(somers_d, 'x') FROM fidelity_summary_by_metric WHERE metric = '$metric'")
    [ "${1:-x}" != x ] && tau=$(echo "$tau + $1" | bc -l) && n=$((n + 1))
    [ "${2:-x}" != x ] && de=$(echo "$de + $2" | bc -l) && nd=$((nd + 1))
    [ "${3:-x}" != x ] && tb=$(echo "$tb + $3" | bc -l) && sd=$(echo "$sd + $4" | bc -l) && nb=$((nb + 1))
  done
  [ $n -gt 0 ] && printf '\naverage Kendall tau %.2f over %d programs' "$(echo "$tau / $n" | bc -l)" $n
  [ $nb -gt 0 ] && printf '; average tau-b %.2f, Somers d %.2f over %d programs with separated pairs' "$(echo "$tb / $nb" | bc -l)" "$(echo "$sd / $nb" | bc -l)" $nb
  [ $nd -gt 0 ] && printf '; mean delta_error %.0f%% over %d programs' "$(echo "100 * $de / $nd" | bc -l)" $nd
  echo
  done
done
echo
echo "databases and recordings in $OUT ($(($(date +%s) - T0)) s, REPEAT=$REPEAT, load now $(cut -d' ' -f1 /proc/loadavg))"
