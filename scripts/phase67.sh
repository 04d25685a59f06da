#!/bin/sh
# phase67.sh: compare with hakmem's published Phase 6.7 table (vm, 2 MiB)
# and its json and mir figures, from scratch, on the published metric:
# generate the scenarios, replay them against mimalloc, jemalloc,
# hakmem-evolving (hakmem + elo), hakmem-baseline (hakmem + static) and
# glibc with --per-op iteration (each allocate + touch + free of the
# harness loop timed as one measurement, as the published figures were),
# then print per allocator the measured median ns per iteration beside the
# published one, the rank agreement of the two orders (Kendall's tau) per
# scenario, and what differs (machine, kernel, metric).
#
# usage: scripts/phase67.sh [--hksim PATH] [--out DIR] [--scale K]
#                           [--repeat N] [--seed N] [--touch MODE]
#   --out DIR   where traces, results.db, report.md and plots/ go
#               (default: ./phase67)
#   --scale K   passed to `hksim gen` for every scenario (default 50:
#               vm 500 iterations of 2 MiB, json 50,000 of 64 KiB,
#               mir 5,000 of 256 KiB)
#   --repeat N  runs per configuration, interleaved; tables show medians
#               over repeats (default 5)
#   --touch MODE  what each iteration writes to its block (default pages:
#               one byte a page; full: every byte)
# The comparison is also `hksim report --db DIR/results.db --published`
# and `sqlite3 DIR/results.db < analysis/queries/phase67.sql`.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
hksim=""
out=phase67
scale=50
repeat=5
seed=1
touch=pages
while [ $# -gt 0 ]; do
  case "$1" in
    --hksim) hksim=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --touch) touch=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) echo "phase67.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$hksim" ]; then
  for b in "$here"/build*/bin/hksim; do
    if [ -x "$b" ]; then hksim=$b; break; fi
  done
fi
if [ -z "$hksim" ] || [ ! -x "$hksim" ]; then
  echo "phase67.sh: no hksim binary (build first, or pass --hksim PATH)" >&2
  exit 1
fi

mkdir -p "$out"
db=$out/results.db
rm -f "$db" "$db-wal" "$db-shm"
for s in vm json mir; do
  "$hksim" gen "$s" -o "$out/$s.hkt" --scale "$scale" --seed "$seed" >&2
done
"$hksim" replay "$out/vm.hkt" "$out/json.hkt" "$out/mir.hkt" --db "$db" \
  --backend mimalloc,jemalloc,hakmem,glibc --policy elo,static \
  --repeat "$repeat" --seed "$seed" --touch "$touch" --per-op iteration \
  --quiet >&2
"$hksim" report --db "$db" --out "$out/plots" > "$out/report.md"
"$hksim" report --db "$db" --published --no-symbolize > "$out/published.md"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
{
  cat "$out/published.md"
  cat <<EOF

### What differs from the published figures

- Metric: the same unit, ns per allocate + touch + free iteration of the
  harness loop, median over the loop's iterations (median over $repeat
  repeats), timed by rdtsc around each iteration; the published figures'
  timer and touch are hakmem's harness's own. Here the touch is
  --touch $touch, and each run is a fresh replay process whose program is
  a recorded op stream (the harness ran the loop directly).
- hakmem: here hakmem-sim's hakmem core (in-process, its policies steered
  by a cost model), not the published hakmem build.
- Machine: ${cpu:-unknown CPU}, $(getconf _NPROCESSORS_ONLN) CPUs, load
  $(cut -d' ' -f1 /proc/loadavg) when this ran; the published machine
  is not named in hakmem's documents.
- Kernel: $(uname -sr); page-fault and madvise costs, which dominate the
  2 MiB vm loop, depend on it (and on transparent huge pages:
  $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)).
EOF
} > "$out/published.tmp"
mv "$out/published.tmp" "$out/published.md"
cat "$out/published.md"
echo "phase67.sh: $db, $out/report.md, $out/published.md, $out/plots/" >&2
