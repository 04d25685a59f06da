#!/usr/bin/env bash
# cluster-demo.sh OUTDIR: a real Slurm on this machine. Starts a single-node
# cluster (munge, slurmctld, slurmd, a generated slurm.conf in a temporary
# directory), plans the demo sweep (a golden recorded trace and a generated
# scenario, 2 back ends, 2 policies, 2 repeats: 16 runs in 4 shards), runs
# it as a job array with a dependent merge into OUTDIR/merged.db, runs the
# same plan serially into OUTDIR/serial.db, and exits 0 only if both hold
# the same runs (trace content hash, back end, policy, seed, repeat,
# digest). Every daemon it started is stopped by pid, whatever happens.
# Needs root (it installs slurm-wlm and munge when missing). HKSIM names the
# hksim binary (default: build/bin/hksim). See docs/cluster.md.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
H=${HKSIM:-$root/build/bin/hksim}
[ -x "$H" ] || { echo "cluster-demo: no hksim at $H (build first, or set HKSIM)" >&2; exit 1; }
H=$(realpath "$H")
mkdir -p "$1"
OUT=$(realpath "$1")
rm -f "$OUT"/*.db "$OUT"/*.db-wal "$OUT"/*.db-shm "$OUT"/*.db-hkstore
say() { printf 'cluster-demo: %s\n' "$*"; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    slurm-wlm munge >/dev/null
fi
[ "$(id -u)" -eq 0 ] || { echo "cluster-demo: run as root (slurmd runs jobs as their user)" >&2; exit 1; }

W=$(mktemp -d /tmp/hksim-slurm.XXXXXX)
chmod 755 "$W"
pids=()
cleanup() {
  rc=$?
  set +e
  [ -n "${SLURM_CONF:-}" ] && scancel --quiet -u root 2>/dev/null
  # Daemons in the reverse order of their start, each by its pid.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    p=${pids[$i]}
    kill -TERM "$p" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null && say "pid $p did not stop on TERM: killed"
    wait "$p" 2>/dev/null
  done
  [ ${#pids[@]} -gt 0 ] && say "stopped pids ${pids[*]}"
  rm -rf "$W"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# munge, on a socket of its own (any system munged is left alone).
mkdir -p "$W/munge"
chown munge:munge "$W/munge"
chmod 755 "$W/munge"
setpriv --reuid=munge --regid=munge --clear-groups -- munged -F \
  --socket="$W/munge/munge.socket" --pid-file="$W/munge/munged.pid" \
  --seed-file="$W/munge/seed" --log-file="$W/munge/munged.log" 2>"$W/munged.err" &
pids+=($!)
for _ in $(seq 50); do [ -S "$W/munge/munge.socket" ] && break; sleep 0.1; done
munge -S "$W/munge/munge.socket" -n | unmunge -S "$W/munge/munge.socket" >/dev/null \
  || { cat "$W/munged.err" "$W/munge/munged.log" >&2; say "munge does not work"; exit 1; }

host=$(hostname -s)
node=$(slurmd -C | head -1)
mkdir -p "$W/state" "$W/spool"
cat >"$W/slurm.conf" <<EOF
ClusterName=hksimdemo
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$W/munge/munge.socket
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$W/jobcomp.txt
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/slurmctld.log
SlurmdLogFile=$W/slurmd.log
MinJobAge=300
$node State=UNKNOWN
PartitionName=demo Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$W/slurm.conf
slurmctld -D -c -f "$SLURM_CONF" >"$W/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$W/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  sinfo -h -o %t 2>/dev/null | grep -q idle && break
  sleep 0.2
done
sinfo -h -o %t 2>/dev/null | grep -q idle || {
  tail -20 "$W/slurmctld.log" "$W/slurmd.log" >&2; say "the node did not come up"; exit 1; }
say "single-node cluster up: $(sinfo -h -o '%P %D %t %c CPUs %m MB')"

# The demo sweep: a recorded (golden) trace and a generated scenario.
"$H" gen mixed -o "$OUT/mixed.hkt" --seed 5 --force >/dev/null
cp "$root/tests/data/golden-v3.hkt" "$OUT/golden-v3.hkt"
cat >"$OUT/sweep.json" <<'EOF'
{
  "name": "demo",
  "traces": ["golden-v3.hkt", "mixed.hkt"],
  "backends": ["hakmem", "glibc", "null"],
  "policies": ["static", "ucb1"],
  "seeds": [1],
  "repeats": 2,
  "options": ["--per-op", "sample:16", "--quiet"],
  "shards": 4,
  "slurm": {"partition": "demo", "time": "00:05:00", "mem": "1G"}
}
EOF
"$H" sweep plan "$OUT/sweep.json" -o "$OUT"
ids=$(sh "$OUT/submit.sh")
say "submitted: $ids"
array=$(echo "$ids" | awk '{print $2}')
merge=$(echo "$ids" | awk '{print $4}')
deadline=$((SECONDS + 120))
while squeue -h -j "$array,$merge" 2>/dev/null | grep -q .; do
  if squeue -h -j "$merge" -o %r 2>/dev/null | grep -q DependencyNeverSatisfied; then
    say "a shard failed: the merge will never run"; break
  fi
  [ $SECONDS -lt $deadline ] || { say "jobs still queued after 120 s"; break; }
  sleep 0.5
done
echo "--- job completion records (sacct -c, jobcomp/filetxt; no slurmdbd here)"
sacct -c -f "$W/jobcomp.txt" --format=JobID,JobName%18,Partition,State,ExitCode,NodeList,Start,End 2>&1 \
  | grep -v "Unknown type Array" || true
echo "--- the same records with their array task ids"
awk '{ o = ""; for (i = 1; i <= NF; i++) if ($i ~ /^(JobId|JobName|ArrayJobId|ArrayTaskId|JobState|ExitCode|StartTime|EndTime)=/) o = o " " $i; print o }' \
  "$W/jobcomp.txt" 2>/dev/null || true
done_tasks=$(grep -c "JobState=COMPLETED" "$W/jobcomp.txt" 2>/dev/null || true)
[ "$done_tasks" = 5 ] || { say "$done_tasks of 5 jobs (4 shards, 1 merge) COMPLETED"; exit 1; }
for f in "$OUT"/logs/*.out; do [ -s "$f" ] && { echo "--- $f"; tail -5 "$f"; }; done
[ -f "$OUT/merged.db" ] || { say "no merged.db: the array or the merge failed"; exit 1; }

# The same plan, serially on this machine.
"$H" sweep run "$OUT/plan.json" --local --db "$OUT/serial.db" >/dev/null
Q="SELECT t.content_hash, r.backend, COALESCE(r.policy, '-'), r.seed, r.repeat, r.digest
   FROM runs r JOIN traces t USING (trace_id) WHERE r.status = 'done' ORDER BY 1, 2, 3, 4, 5"
sqlite3 "$OUT/merged.db" "$Q" >"$OUT/merged.runs"
sqlite3 "$OUT/serial.db" "$Q" >"$OUT/serial.runs"
n=$(wc -l <"$OUT/serial.runs")
echo "--- runs by shard in merged.db"
sqlite3 -header -column "$OUT/merged.db" \
  "SELECT shard, host, COUNT(*) AS runs, SUM(ops) AS ops FROM run_summary GROUP BY shard"
if [ "$n" -ge 16 ] && diff "$OUT/serial.runs" "$OUT/merged.runs" >"$OUT/runs.diff"; then
  say "merged.db and serial.db hold the same $n runs (trace hash, back end, policy, seed, repeat, digest)"
  exit 0
fi
say "merged.db and serial.db differ ($n serial runs):"
head -20 "$OUT/runs.diff" >&2
exit 1
