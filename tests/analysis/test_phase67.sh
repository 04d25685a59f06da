#!/bin/sh
# test_phase67.sh HKSIM SRCDIR: scripts/phase67.sh end to end at a tiny
# scale: runs made with --per-op iteration, the measured figure beside the
# published one per allocator, Kendall's tau per scenario and the note of
# what differs.
. "$(dirname "$0")/../lib.sh"
hksim=$1
src=$2
hk_tmpdir phase67
tmp=$T
# mimalloc and jemalloc are dlopen()ed with RTLD_DEEPBIND, which sanitizer
# builds refuse: the comparison needs all five allocators.
"$hksim" gen json -o "$tmp/probe.hkt" --scale 0.01 >/dev/null 2>&1
if ! "$hksim" replay "$tmp/probe.hkt" --db "$tmp/probe.db" --backend mimalloc,jemalloc \
     --quiet >/dev/null 2>&1; then
  echo "skip: mimalloc or jemalloc not loadable in this build"
  exit 0
fi
HKSIM_GNUPLOT=/nonexistent/gnuplot "$src/scripts/phase67.sh" --hksim "$hksim" \
  --out "$tmp/p" --scale 0.05 --repeat 1 > "$tmp/out" 2> "$tmp/err" ||
  { bad "phase67.sh exit"; cat "$tmp/err"; }
db=$tmp/p/results.db
[ "$(sqlite3 "$db" "SELECT COUNT(*) FROM runs WHERE per_op = 'iteration' AND status = 'done'")" = 15 ] ||
  bad "15 done runs with --per-op iteration"
[ "$(sqlite3 "$db" "SELECT COUNT(*) FROM run_span")" -gt 0 ] || bad "no iterations stored"
for s in vm json mir; do
  grep -q "^$s.hkt: rank agreement with the published order, Kendall's tau -\{0,1\}[0-9]\.[0-9][0-9] over 5 allocators (measured ns per alloc + touch + free iteration, the published metric)" \
    "$tmp/out" || bad "tau line for $s"
done
# the tau printed is the view's
want=$(sqlite3 "$db" "SELECT printf('%.2f', kendall_tau) FROM published_rank_agreement WHERE scenario = 'vm'")
grep -q "^vm.hkt: .*Kendall's tau $want over" "$tmp/out" || bad "vm tau $want"
grep -q '^| hakmem-evolving | vm.hkt | ' "$tmp/out" || bad "per allocator row"
grep -q '^### What differs from the published figures' "$tmp/out" || bad "note heading"
grep -q "^- Kernel: $(uname -s)" "$tmp/out" || bad "kernel in the note"
grep -q '^- Machine: ' "$tmp/out" || bad "machine in the note"
grep -q '^- Metric: ' "$tmp/out" || bad "metric in the note"
cmp -s "$tmp/out" "$tmp/p/published.md" || bad "published.md is what was printed"
hk_done
