#!/bin/sh
# test_validate_cli.sh: `hksim validate` end to end (integration test).
# Validates the multi-threaded producer/consumer victim against glibc,
# mimalloc and hakmem (2 rounds): live_runs rows with their measures, the
# recording stored once and shared by both sides, the fidelity views. Then
# the views on a hand-made database whose Kendall's tau and delta_error
# are known, and the bad cases (usage errors write nothing; a missing
# library or command fails with one line, exit 1).
. "$(dirname "$0")/../lib.sh"
H=${HKSIM_BUILD:?}/bin/hksim
V=${HKSIM_BUILD}/tests/recorder/victims/v_threads
hk_tmpdir validate
export GLIBC_TUNABLES=glibc.rtld.optional_static_tls=65536
q() { sqlite3 "$1" "$2"; }

M=mimalloc
"$H" gen mixed -o "$T/m.hkt" >/dev/null
"$H" replay "$T/m.hkt" --db "$T/probe.db" --backend mimalloc --quiet >/dev/null 2>&1 || M=glibc
[ -x "$V" ] || { echo "skip - no victim $V"; exit 0; }

"$H" validate --db "$T/v.db" --repeat 2 --backend glibc,$M,hakmem --trace "$T/keep.hkt" \
  -- "$V" "$T/ranges" >"$T/out" 2>"$T/err"
check "validate exit" "$?" 0
D="$T/v.db"
if [ "$M" = mimalloc ]; then NB=3; else NB=2; fi
check "live runs done" "$(q "$D" "SELECT COUNT(*) FROM live_runs WHERE status='done'")" $((NB * 2))
check "replay runs done" "$(q "$D" "SELECT COUNT(*) FROM runs WHERE status='done'")" $((NB * 2))
check "one trace" "$(q "$D" "SELECT COUNT(*) FROM traces")" 1
# --threads auto (the default) on the multi-thread recording: threaded on
# glibc and mimalloc, serial on hakmem (its decisions are per op).
check "default --threads auto: threaded except hakmem" \
  "$(q "$D" "SELECT group_concat(b || '=' || t, ' ') FROM (SELECT backend AS b, MIN(replay_threads > 1) || MAX(replay_threads > 1) AS t FROM runs WHERE status = 'done' GROUP BY backend ORDER BY backend)")" \
  "$(if [ "$M" = mimalloc ]; then echo "glibc=11 hakmem=00 mimalloc=11"; else echo "glibc=11 hakmem=00"; fi)"
check "live rows point at it" "$(q "$D" "SELECT COUNT(*) FROM live_runs WHERE trace_id = (SELECT trace_id FROM traces)")" $((NB * 2))
check "measures present and positive" \
  "$(q "$D" "SELECT COUNT(*) FROM live_runs WHERE wall_ns > 0 AND user_ns + sys_ns > 0 AND max_rss_bytes > 1000000 AND minor_faults > 0")" $((NB * 2))
check "rounds interleaved: round 0 of every back end before round 1" \
  "$(q "$D" "SELECT MAX(live_id) FILTER (WHERE repeat = 0) < MIN(live_id) FILTER (WHERE repeat = 1) FROM live_runs")" 1
check "glibc runs plain, the others preloaded" \
  "$(q "$D" "SELECT SUM(backend='glibc' AND preload IS NULL) + SUM(backend<>'glibc' AND preload LIKE '/%.so%') FROM live_runs")" $((NB * 2))
check "hakmem live with its policy" \
  "$(q "$D" "SELECT COUNT(*) FROM live_runs WHERE backend='hakmem' AND policy='static' AND preload LIKE '%libhakmem.so'")" 2
check "recording kept" "$("$H" trace verify "$T/keep.hkt" >/dev/null 2>&1; echo $?)" 0
check "replay loop CPU time stored" "$(q "$D" "SELECT COUNT(*) FROM runs WHERE status='done' AND loop_cpu_ns > 0")" $((NB * 2))
check "one replay thread: loop CPU time within its wall time" \
  "$(q "$D" "SELECT COUNT(*) FROM runs WHERE status='done' AND replay_threads = 1 AND loop_cpu_ns <= total_ns * 1.05 + 2000000")" \
  "$(q "$D" "SELECT COUNT(*) FROM runs WHERE status='done' AND replay_threads = 1")"
check "fidelity by metric: wall and cpu rows" "$(q "$D" "SELECT group_concat(metric || '=' || n) FROM (SELECT metric, COUNT(*) AS n FROM fidelity_by_metric GROUP BY metric ORDER BY metric)")" "cpu=$NB,wall=$NB"
check "fidelity rows" "$(q "$D" "SELECT COUNT(*) FROM fidelity WHERE live_runs = 2 AND replay_runs = 2")" $NB
check "fidelity ranks are 1..n" "$(q "$D" "SELECT group_concat(live_rank) || '/' || SUM(replay_rank) FROM (SELECT * FROM fidelity ORDER BY live_rank)")" \
  "$(if [ $NB = 3 ]; then echo "1,2,3/6"; else echo "1,2/3"; fi)"
check "fidelity CI brackets the median" \
  "$(q "$D" "SELECT COUNT(*) FROM fidelity WHERE live_ci_lo <= live_wall_s AND live_wall_s <= live_ci_hi AND replay_ci_lo <= replay_ns AND replay_ns <= replay_ci_hi")" $NB
check "summary row" "$(q "$D" "SELECT backends || ':' || (kendall_tau BETWEEN -1 AND 1) FROM fidelity_summary")" "$NB:1"
grep -q "Kendall's tau" "$T/out" || bad "validate prints the summary"
grep -q "^wall times, $NB back ends: Kendall's tau .*live runs separate [0-9]* pairs: tau-b " "$T/out" || bad "validate prints tau-b: $(cat "$T/out")"
grep -q "^CPU times, $NB back ends: Kendall's tau " "$T/out" || bad "validate prints the CPU-time summary: $(cat "$T/out")"
for c in trace backend policy live_runs live_wall_s live_ci_lo live_ci_hi \
  replay_runs replay_ns replay_ci_lo replay_ci_hi live_rank replay_rank; do
  [ "$(q "$D" "SELECT COUNT(*) FROM pragma_table_info('fidelity') WHERE name='$c'")" = 1 ] || bad "fidelity has no column $c"
done
for c in trace backends kendall_tau kendall_tau_b live_separated_pairs somers_d delta_error; do
  [ "$(q "$D" "SELECT COUNT(*) FROM pragma_table_info('fidelity_summary') WHERE name='$c'")" = 1 ] || bad "fidelity_summary has no column $c"
done
ok "view columns checked"
"$H" report --db "$D" --no-symbolize >"$T/rep" 2>&1
check "report exit" "$?" 0
check "report: fidelity rows and summary" "$(grep -c "^| keep.hkt | " "$T/rep")" $((NB + 1))
grep -q "^### Fidelity summary" "$T/rep" || bad "report: no fidelity summary"

# The views on known numbers: live glibc 2.0 s, mimalloc 1.0, jemalloc
# 1.5, tcmalloc 1.01 (4 runs each, spread +-1%: the 95% CI of 4 runs is
# [min, max]); replays 1100, 100, 700, 90 ms. Live order mi < tc < je <
# glibc; replay tc < mi < je < glibc: one discordant pair of 6, tau =
# (5 - 1) / 6. The live CIs of mimalloc and tcmalloc overlap: that pair is
# a live tie, the other 5 are separated and concordant: tau-b =
# 5 / sqrt(5 * 6) = 0.9129, Somers' d = 5 / 5. delta_error (absolute
# differences, seconds) over the back ends whose CI does not overlap
# mimalloc's (glibc, jemalloc; not tcmalloc): glibc replay 1.0 s against
# live 1.0 s: 0; jemalloc 0.6 s against 0.5 s: 0.2; mean 0.1. (As ratios,
# glibc 11x against 2x and jemalloc 7x against 1.5x, it would be 10.)
K="$T/k.db"
"$H" replay "$T/m.hkt" --db "$K" --backend null --quiet --per-op none >/dev/null 2>&1
q "$K" "DELETE FROM runs;
WITH b(name, live, rep) AS (VALUES ('glibc', 2.0, 300e6), ('mimalloc', 1.0, 100e6),
  ('jemalloc', 1.5, 160e6), ('tcmalloc', 1.01, 90e6)),
k(i, f) AS (VALUES (0, 0.99), (1, 1.0), (2, 1.0), (3, 1.01))
INSERT INTO live_runs(trace_id, backend, repeat, command, status, wall_ns, started_at)
SELECT 1, name, i, 'x', 'done', CAST(live * f * 1e9 AS INTEGER), 'now' FROM b, k;
WITH b(name, rep) AS (VALUES ('glibc', 1100e6), ('mimalloc', 100e6),
  ('jemalloc', 700e6), ('tcmalloc', 90e6)),
k(i, f) AS (VALUES (0, 0.99), (1, 1.0), (2, 1.0), (3, 1.01))
INSERT INTO runs(trace_id, backend, seed, repeat, touch, per_op, status, started_at, total_ns)
SELECT 1, name, 1, i, 'none', 'none', 'done', 'now', CAST(rep * f AS INTEGER) FROM b, k;
INSERT INTO live_runs(trace_id, backend, repeat, command, status, error, started_at)
VALUES (1, 'glibc', 9, 'x', 'failed', 'exited with status 1', 'now');"
check "known medians" "$(q "$K" "SELECT group_concat(backend || '=' || round(live_wall_s, 3) || '/' || round(replay_ns / 1e6), ' ') FROM fidelity")" \
  "mimalloc=1.0/100.0 tcmalloc=1.01/90.0 jemalloc=1.5/700.0 glibc=2.0/1100.0"
check "failed live runs left out" "$(q "$K" "SELECT live_runs FROM fidelity WHERE backend='glibc'")" 4
check "known ranks" "$(q "$K" "SELECT group_concat(live_rank || replay_rank, ' ') FROM fidelity")" "12 21 33 44"
check "known tau" "$(q "$K" "SELECT round(kendall_tau, 4) FROM fidelity_summary")" 0.6667
check "known tau-b, separated pairs, Somers' d" \
  "$(q "$K" "SELECT round(kendall_tau_b, 4) || ' ' || live_separated_pairs || ' ' || round(somers_d, 4) FROM fidelity_summary")" "0.9129 5 1.0"
check "significance" "$(q "$K" "SELECT group_concat(backend || '=' || significant, ' ') FROM (SELECT * FROM fidelity_delta ORDER BY backend)")" \
  "glibc=1 jemalloc=1 tcmalloc=0"
check "differences in seconds and as ratios" \
  "$(q "$K" "SELECT group_concat(backend || '=' || round(live_delta_s, 2) || '/' || round(replay_delta_s, 2) || '/' || round(live_ratio, 2) || '/' || round(replay_ratio, 2), ' ') FROM (SELECT * FROM fidelity_delta ORDER BY backend)")" \
  "glibc=1.0/1.0/1.0/10.0 jemalloc=0.5/0.6/0.5/6.0 tcmalloc=0.01/-0.01/0.01/-0.1"
check "known delta_error" "$(q "$K" "SELECT round(delta_error, 4) FROM fidelity_summary")" 0.1
# CPU time: live user + system = half the wall time (user 0.4, system
# 0.1), the replay loop's CPU = its wall time. glibc: live +0.5 s,
# replayed +1.0 s: error 1.0; jemalloc +0.25 s against +0.6 s: 1.4; mean
# 1.2. Same orders and ties as the wall times.
q "$K" "UPDATE live_runs SET user_ns = wall_ns * 4 / 10, sys_ns = wall_ns / 10 WHERE status = 'done';
UPDATE runs SET loop_cpu_ns = total_ns"
check "cpu metric: the wall views unchanged" "$(q "$K" "SELECT round(delta_error, 4) FROM fidelity_summary")" 0.1
check "cpu metric: medians" "$(q "$K" "SELECT group_concat(backend || '=' || round(live_s, 3) || '/' || round(replay_ns / 1e6), ' ') FROM fidelity_by_metric WHERE metric = 'cpu'")" \
  "mimalloc=0.5/100.0 tcmalloc=0.505/90.0 jemalloc=0.75/700.0 glibc=1.0/1100.0"
check "cpu metric: tau, tau-b, pairs, Somers' d, delta_error" \
  "$(q "$K" "SELECT round(kendall_tau, 4) || ' ' || round(kendall_tau_b, 4) || ' ' || live_separated_pairs || ' ' || round(somers_d, 4) || ' ' || round(delta_error, 4) FROM fidelity_summary_by_metric WHERE metric = 'cpu'")" \
  "0.6667 0.9129 5 1.0 1.2"
# jemalloc replayed slower than glibc: the separated pair (jemalloc, glibc)
# is now discordant. tau = (4 - 2) / 6; tau-b = (4 - 1) / sqrt(30) =
# 0.5477; Somers' d = 3 / 5; jemalloc's error |1.1 - 0.5| / 0.5 = 1.2,
# mean (0 + 1.2) / 2.
q "$K" "UPDATE runs SET total_ns = total_ns * 12 / 7 WHERE backend = 'jemalloc'"
check "the cpu metric does not follow the wall times" "$(q "$K" "SELECT round(kendall_tau, 4) FROM fidelity_summary_by_metric WHERE metric = 'cpu'")" 0.6667
check "discordant separated pair: tau, tau-b, pairs, Somers' d, delta_error" \
  "$(q "$K" "SELECT round(kendall_tau, 4) || ' ' || round(kendall_tau_b, 4) || ' ' || live_separated_pairs || ' ' || round(somers_d, 4) || ' ' || round(delta_error, 4) FROM fidelity_summary")" \
  "0.3333 0.5477 5 0.6 0.6"
# Every live CI overlapping: no separated pair, tau-b and Somers' d NULL,
# tau-a still the coin toss it is.
q "$K" "UPDATE live_runs SET wall_ns = 1000000000 + repeat WHERE status = 'done'"
check "no separated pair" \
  "$(q "$K" "SELECT live_separated_pairs || ':' || COALESCE(kendall_tau_b, 'null') || ':' || COALESCE(somers_d, 'null') || ':' || COALESCE(delta_error, 'null') FROM fidelity_summary")" \
  "0:null:null:null"

# Bad cases.
N=$(q "$D" "SELECT COUNT(*) FROM live_runs")
for args in "--backend nosuch" "--backend null" "--policy nosuch --backend hakmem" \
  "--repeat 0" "--backend so:" "--threads bogus"; do
  # shellcheck disable=SC2086
  "$H" validate --db "$D" $args -- "$V" "$T/ranges" >/dev/null 2>"$T/err"
  check "'$args': usage error" "$?" 2
  [ "$(wc -l <"$T/err")" -ge 1 ] || bad "'$args': no message"
done
"$H" validate -- "$V" >/dev/null 2>&1; check "no --db: usage" "$?" 2
"$H" replay "$T/m.hkt" --db "$D" --threads bogus >/dev/null 2>&1; check "replay --threads bogus: usage" "$?" 2
"$H" validate --db "$D" >/dev/null 2>&1; check "no command: usage" "$?" 2
check "usage errors ran nothing" "$(q "$D" "SELECT COUNT(*) FROM live_runs")" "$N"
"$H" validate --db "$D" --repeat 1 -- "$T/no-such-program" >/dev/null 2>"$T/err"
check "missing command: exit 1" "$?" 1
grep -q "no-such-program: no such file" "$T/err" || bad "missing command: message: $(cat "$T/err")"
check "missing command: one line, nothing recorded" "$(wc -l < "$T/err")" 1
"$H" validate --db "$D" --repeat 1 --backend "glibc,so:$T/missing.so" -- "$V" "$T/ranges" >/dev/null 2>"$T/err"
check "missing library: exit 1" "$?" 1
check "missing library: live run stored failed with the reason" \
  "$(q "$D" "SELECT status || ':' || (error LIKE '%missing.so%not found%') FROM live_runs WHERE backend='so:$T/missing.so'")" "failed:1"
check "missing library: the glibc live run still done" \
  "$(q "$D" "SELECT COUNT(*) FROM live_runs WHERE backend='glibc' AND status='done'")" 3
check "database intact" "$(q "$D" "PRAGMA integrity_check")" ok

hk_done
