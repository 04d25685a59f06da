#!/bin/sh
# lifecycle_cli.sh: the lifecycle on the trace's own clock and the oracle,
# end to end (integration test). gen shift with --policy evo and
# evo.freeze_after=0 freezes at least twice and re-learns at least once;
# started frozen (evo.mode=frozen, balanced mode's default) it re-learns
# and freezes again; the default 180 s of the trace's time is never reached
# by this trace (a 71 ms program); durations are stored with their units;
# a duration without a unit, a bad arm list fail in one line (exit 2) with
# the database intact; the timeline is sampled every timeline.every
# decisions; --policy oracle is deterministic, and policy_regret gives it
# regret 0 and ucb1 a regret below static's on mir.
. "$(dirname "$0")/../lib.sh"
H=${HKSIM_BUILD:?}/bin/hksim
hk_tmpdir lifecycle
export GLIBC_TUNABLES=glibc.rtld.optional_static_tls=65536
q() { sqlite3 "$T/r.db" "$1"; }
R() { "$H" replay "$@" --db "$T/r.db" --backend hakmem --quiet --no-cache \
        --per-op none >/dev/null 2>"$T/err"; }

"$H" gen shift -o "$T/shift.hkt" >/dev/null || bad "gen shift"
"$H" gen mir -o "$T/mir.hkt" >/dev/null || bad "gen mir"
"$H" gen mixed -o "$T/mixed.hkt" >/dev/null || bad "gen mixed"

R "$T/shift.hkt" --policy evo --hakmem evo.freeze_after=0
check "evo on shift: exit" "$?" 0
check "evo, freeze_after=0: >= 2 freezes, >= 1 re-learn" \
  "$(q "SELECT freezes >= 2 AND relearns >= 1 FROM lifecycle_summary WHERE run_id = 1")" 1
check "the configuration stores the duration" \
  "$(q "SELECT instr(hakmem_config, 'evo.freeze_after=0' || char(10)) > 0 AND instr(hakmem_config, 'evo.mode=auto') > 0 FROM runs WHERE run_id = 1")" 1

R "$T/shift.hkt" --policy evo --hakmem evo.freeze_after=0 --hakmem evo.mode=frozen
check "evo started frozen: exit" "$?" 0
check "started frozen: re-learns on the shift, then freezes again" \
  "$(q "SELECT relearns >= 1 AND freezes >= 1 AND final_mode <> 'LEARN' FROM lifecycle_summary WHERE run_id = 2")" 1

R "$T/shift.hkt" --policy evo
check "evo with the defaults: exit" "$?" 0
check "180 s of trace time are never reached by a 71 ms program: no freeze" \
  "$(q "SELECT freezes FROM lifecycle_summary WHERE run_id = 3")" 0
check "the default is stored as 180s" \
  "$(q "SELECT instr(hakmem_config, 'evo.freeze_after=180s') > 0 AND instr(hakmem_config, 'ucb1.cooldown=180s') > 0 AND instr(hakmem_config, 'evo.window=2s') > 0 FROM runs WHERE run_id = 3")" 1

before=$(q "SELECT COUNT(*) FROM runs")
R "$T/shift.hkt" --policy evo --hakmem evo.freeze_after=180
check "a duration without a unit: exit 2" "$?" 2
check "... one line naming the setting" \
  "$(wc -l <"$T/err" | tr -d ' ')-$(grep -c "evo.freeze_after=180" "$T/err")" 1-1
R "$T/shift.hkt" --policy oracle --hakmem oracle.arms=64K::1M
check "a bad arm list: exit 2" "$?" 2
check "... one line naming the setting" \
  "$(wc -l <"$T/err" | tr -d ' ')-$(grep -c "oracle.arms" "$T/err")" 1-1
check "nothing stored by the refusals" "$(q "SELECT COUNT(*) FROM runs")" "$before"

# timeline sampling: every 100 decisions against none beyond RSS samples
R "$T/mixed.hkt" --policy ucb1 --hakmem timeline.every=100
check "timeline.every=100: exit" "$?" 0
R "$T/mixed.hkt" --policy ucb1 --hakmem timeline.every=0 --rss-every 1000000
check "timeline.every=0: exit" "$?" 0
check "a sample every 100 decisions (>= 51 for 5,110 allocations)" \
  "$(q "SELECT COUNT(DISTINCT op_seq) >= 51 FROM policy_events WHERE run_id = 4")" 1
check "timeline.every=0: only the RSS samples (first, last)" \
  "$(q "SELECT COUNT(DISTINCT op_seq) FROM policy_events WHERE run_id = 5")" 2
check "per-site ucb1 arms in site_arms" \
  "$(q "SELECT COUNT(DISTINCT site) >= 4 FROM site_arms WHERE run_id = 4")" 1

# the oracle and regret on mir
R "$T/mir.hkt" --policy static,ucb1,oracle
check "mir static, ucb1, oracle: exit" "$?" 0
R "$T/mir.hkt" --policy oracle --seed 2
check "oracle again, another seed: exit" "$?" 0
check "the oracle is deterministic (one digest, one model time)" \
  "$(q "SELECT COUNT(DISTINCT digest) || '-' || COUNT(DISTINCT model_ns) FROM runs WHERE policy = 'oracle'")" 1-1
check "policy_regret: the oracle's regret is 0" \
  "$(q "SELECT MAX(ABS(regret)) FROM policy_regret WHERE policy = 'oracle'")" 0.0
check "policy_regret: ucb1 below static on mir" \
  "$(q "SELECT (SELECT regret FROM policy_regret WHERE policy = 'ucb1' AND trace = 'mir.hkt') < (SELECT regret FROM policy_regret WHERE policy = 'static' AND trace = 'mir.hkt')")" 1
check "policy_regret: static on mir is worse than the oracle" \
  "$(q "SELECT regret > 0.5 FROM policy_regret WHERE policy = 'static'")" 1
check "no regret row without an oracle run (mixed, shift)" \
  "$(q "SELECT COUNT(*) FROM policy_regret WHERE trace <> 'mir.hkt'")" 0

hk_done
