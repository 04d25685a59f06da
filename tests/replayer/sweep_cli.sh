#!/bin/sh
# sweep_cli.sh: hksim sweep plan and run without Slurm (integration test).
# The plan's files (plan.json with content hashes, a job array of N tasks, a
# merge after it), its shards run one by one and merged equal to --local,
# prepared programs cached by content hash, and every bad input refused
# with one line naming the file and what is wrong.
. "$(dirname "$0")/../lib.sh"
H=${HKSIM_BUILD:?}/bin/hksim
hk_tmpdir sweep
export GLIBC_TUNABLES=glibc.rtld.optional_static_tls=65536
RUNS="SELECT t.content_hash, r.backend, COALESCE(r.policy, '-'), r.seed, r.repeat, r.digest
      FROM runs r JOIN traces t USING (trace_id) WHERE r.status = 'done' ORDER BY 1, 2, 3, 4, 5"

"$H" gen mixed -o "$T/m.hkt" --seed 4 >/dev/null || bad "gen"
cp "${HKSIM_TEST_DATA:?}/golden-v3.hkt" "$T/g.hkt"
cat >"$T/s.json" <<'J'
{"name": "t", "traces": ["m.hkt", "g.hkt"], "backends": ["hakmem", "null"],
 "policies": ["static", "elo"], "seeds": [1, 2], "repeats": 2,
 "options": ["--per-op", "none", "--quiet"], "shards": 3,
 "slurm": {"partition": "short", "time": "00:10:00", "mem": "2G"}}
J
"$H" sweep plan "$T/s.json" -o "$T/p" >"$T/out" 2>"$T/err"
check "plan exit" "$?" 0
grep -q "24 run(s) in 3 shard(s)" "$T/out" && ok "plan counts runs" || bad "plan: $(cat "$T/out")"
hashes=$(python3 -c "import json; print(' '.join(t['content_hash'] for t in json.load(open('$T/p/plan.json'))['traces']))")
grep -q '^#SBATCH --array=0-2$' "$T/p/sweep.sbatch" && ok "array of 3 tasks" || bad "array: $(cat "$T/p/sweep.sbatch")"
grep -q 'sweep run .*/plan.json'"'"' --shard "$SLURM_ARRAY_TASK_ID"' "$T/p/sweep.sbatch" && ok "task runs its shard" || bad "task line"
grep -q '^#SBATCH --mem=2G$' "$T/p/sweep.sbatch" && grep -q '^#SBATCH --partition=short$' "$T/p/sweep.sbatch" \
  && ok "slurm settings" || bad "slurm settings"
grep -q "merge '$T/p/merged.db' '$T/p/shard-0.db' '$T/p/shard-1.db' '$T/p/shard-2.db'" "$T/p/merge.sbatch" \
  && ok "merge job" || bad "merge job: $(cat "$T/p/merge.sbatch")"
grep -q 'dependency=afterok:\$array merge.sbatch' "$T/p/submit.sh" && ok "merge after the array" || bad "submit.sh"

for i in 0 1 2; do
  "$H" sweep run "$T/p/plan.json" --shard $i >/dev/null 2>"$T/err" || bad "shard $i: $(cat "$T/err")"
done
"$H" merge "$T/p/merged.db" "$T/p"/shard-*.db --quiet || bad "merge"
"$H" sweep run "$T/p/plan.json" --local >/dev/null 2>"$T/err" || bad "local: $(cat "$T/err")"
check "local runs" "$(sqlite3 "$T/p/serial.db" "SELECT COUNT(*) FROM runs WHERE status = 'done'")" 24
check "plan names the traces by content hash" "$hashes" \
  "$(sqlite3 "$T/p/serial.db" "SELECT group_concat(content_hash, ' ') FROM (SELECT content_hash FROM traces ORDER BY name DESC)")"
check "two seeds" "$(sqlite3 "$T/p/serial.db" "SELECT group_concat(seed) FROM (SELECT DISTINCT seed FROM runs ORDER BY seed)")" "1,2"
check "shards merged = local" "$(sqlite3 "$T/p/merged.db" "$RUNS" | md5sum)" "$(sqlite3 "$T/p/serial.db" "$RUNS" | md5sum)"
check "programs cached by content hash" "$(ls "$T/p/cache" | grep -c '^[0-9a-f]\{16\}\.hkp$')" 2
check "no partial cache files" "$(ls "$T/p/cache" | grep -c part)" 0

# A multi-thread trace with no --threads in the plan's options: --threads
# auto replays glibc threaded in every shard and in --local alike, with the
# digests of a serial replay (the Slurm demo compares merged and serial
# databases by digest; scripts/cluster-demo.sh).
"$H" gen threads -o "$T/th.hkt" --seed 4 >/dev/null || bad "gen threads"
cat >"$T/st.json" <<'J'
{"name": "th", "traces": ["th.hkt"], "backends": ["glibc", "null"],
 "repeats": 2, "options": ["--per-op", "none", "--quiet"], "shards": 2}
J
"$H" sweep plan "$T/st.json" -o "$T/pt" >/dev/null 2>"$T/err" || bad "threads plan: $(cat "$T/err")"
for i in 0 1; do
  "$H" sweep run "$T/pt/plan.json" --shard $i >/dev/null 2>"$T/err" || bad "threads shard $i: $(cat "$T/err")"
done
"$H" merge "$T/pt/merged.db" "$T/pt"/shard-*.db --quiet || bad "threads merge"
"$H" sweep run "$T/pt/plan.json" --local >/dev/null 2>"$T/err" || bad "threads local: $(cat "$T/err")"
THR="SELECT backend || '=' || replay_threads FROM runs WHERE status = 'done' ORDER BY backend, repeat"
check "threads: glibc threaded, null serial, in the shards" \
  "$(sqlite3 "$T/pt/merged.db" "$THR" | tr '\n' ' ')" "glibc=4 glibc=4 null=1 null=1 "
check "threads: the same in --local" "$(sqlite3 "$T/pt/serial.db" "$THR" | tr '\n' ' ')" "glibc=4 glibc=4 null=1 null=1 "
check "threads: shards merged = local" "$(sqlite3 "$T/pt/merged.db" "$RUNS" | md5sum)" "$(sqlite3 "$T/pt/serial.db" "$RUNS" | md5sum)"
"$H" replay "$T/th.hkt" --db "$T/pt/ser.db" --backend glibc,null --threads serial --per-op none \
  --cache-dir "$T/pt/cache" --quiet >/dev/null 2>&1 || bad "threads serial replay"
check "threads: one digest a back end, threaded and serial" \
  "$(sqlite3 "$T/pt/ser.db" "ATTACH '$T/pt/serial.db' AS s; SELECT group_concat(n, ' ') FROM (SELECT backend, COUNT(*) || ':' || COUNT(DISTINCT digest) AS n FROM (SELECT backend, digest FROM runs UNION ALL SELECT backend, digest FROM s.runs) GROUP BY backend ORDER BY backend)")" "3:1 3:1"

# Bad input: exit 1 (file) or 2 (usage), one line naming the file.
err1() { # NAME WANT-IN-MESSAGE JSON
  printf '%s' "$3" >"$T/bad.json"
  "$H" sweep plan "$T/bad.json" -o "$T/q" >/dev/null 2>"$T/err"
  rc=$?
  if [ $rc = 1 ] && grep -q "bad.json: .*$2" "$T/err" && [ "$(wc -l <"$T/err")" = 1 ]; then ok "$1"; else bad "$1: rc $rc, $(cat "$T/err")"; fi
}
err1 "not JSON" "not valid JSON" '{"traces": ['
err1 "unknown key" "unknown key 'shard'" '{"traces": ["m.hkt"], "backends": ["null"], "shard": 2}'
err1 "unknown back end" "unknown back end 'nosuch'" '{"traces": ["m.hkt"], "backends": ["nosuch"]}'
err1 "unknown policy" "unknown policy 'nosuch'" '{"traces": ["m.hkt"], "backends": ["hakmem"], "policies": ["nosuch"]}'
err1 "missing trace" "trace 'gone.hkt'" '{"traces": ["gone.hkt"], "backends": ["null"]}'
err1 "no back ends" "'backends' is missing" '{"traces": ["m.hkt"]}'
err1 "repeats type" "'repeats' must be an integer" '{"traces": ["m.hkt"], "backends": ["null"], "repeats": "2"}'
err1 "shards range" "'shards' must be in 1..65536" '{"traces": ["m.hkt"], "backends": ["null"], "shards": 0}'
err1 "bad --threads in options" "'options': --threads wants auto, serial or recorded, not 'all'" '{"traces": ["m.hkt"], "backends": ["null"], "options": ["--threads", "all"]}'
err1 "--threads last in options" "'options': --threads wants auto, serial or recorded$" '{"traces": ["m.hkt"], "backends": ["null"], "options": ["--threads"]}'
err1 "option the plan sets" "may not hold --shard" '{"traces": ["m.hkt"], "backends": ["null"], "options": ["--shard", "0/2"]}'
err1 "slurm key" "unknown key 'nodes' in 'slurm'" '{"traces": ["m.hkt"], "backends": ["null"], "slurm": {"nodes": 2}}'
head -c 2000 /dev/urandom >"$T/g2.hkt"
err1 "garbage trace" "trace 'g2.hkt'" '{"traces": ["g2.hkt"], "backends": ["null"]}'
"$H" sweep plan "$T/nosuch.json" -o "$T/q" >/dev/null 2>"$T/err"
check "missing description exit" "$?" 1
"$H" sweep plan "$T/s.json" >/dev/null 2>&1
check "plan without -o exit" "$?" 2
"$H" sweep run "$T/p/plan.json" >/dev/null 2>&1
check "run without --shard or --local exit" "$?" 2
"$H" sweep run "$T/p/plan.json" --shard 3 >/dev/null 2>&1
check "run --shard out of range exit" "$?" 2
"$H" sweep nosuch >/dev/null 2>&1
check "unknown sweep command exit" "$?" 2
# A trace that changed since the plan is refused before anything runs.
"$H" gen mixed -o "$T/m.hkt" --seed 5 --force >/dev/null
"$H" sweep run "$T/p/plan.json" --shard 0 --db "$T/changed.db" >/dev/null 2>"$T/err"
check "changed trace exit" "$?" 1
grep -q "m.hkt: content hash .* but the plan says" "$T/err" && ok "changed trace named" || bad "changed: $(cat "$T/err")"
[ -e "$T/changed.db" ] && bad "changed trace wrote a database" || ok "changed trace writes nothing"
sed 's/"plan_version":1/"plan_version":9/' "$T/p/plan.json" >"$T/p9.json"
"$H" sweep run "$T/p9.json" --local >/dev/null 2>"$T/err"
check "newer plan exit" "$?" 1
grep -q "plan version 9, this program reads version 1" "$T/err" && ok "plan version named" || bad "plan version: $(cat "$T/err")"

# A progress line for each phase before the runs (hash, prepare, store).
"$H" replay "$T/g.hkt" --db "$T/pr.db" --backend null --no-cache --progress >/dev/null 2>"$T/err"
n=$(sqlite3 "$T/pr.db" "SELECT ops FROM traces")
for ph in "hashed in" "preparing $n ops in" "storing $n ops in"; do
  tr '\r' '\n' <"$T/err" | grep -q "g.hkt: $ph" && ok "progress line: $ph" || bad "no progress line '$ph': $(cat "$T/err")"
done
"$H" replay "$T/g.hkt" --db "$T/pr2.db" --backend null --no-cache --quiet >/dev/null 2>"$T/err"
check "--quiet: no phase lines" "$(wc -c <"$T/err")" 0

hk_done
